"""The access matrix of the web pages: every route of the URLconf, who may open it and who may post to it.

``web_routes`` walks the resolver (every pattern, with its namespace); ``TABLE`` says, for each non-API route,
how to build its URL from the fixture world (``World``) and who may GET and POST it. The expected answer of each
caller is worked out from the roles' permissions (``forensis.accounts.roles.PERMISSION_ROLES``: the one table of
who may do what) and from whose records the caller may see (docs/security.md, "Agency scoping"), never from
what the views happen to answer. The REST API (``/api/v1/``) has its own table, ``tests.api.test_scoping.ROUTES``.

The callers: one person of each of the 11 roles (laboratory staff in the laboratory — they see every agency's
records, so they are never "another agency"; the officer in police agency A, which owns every case below; the
prosecutor in the prosecutions office named as contact of A's reported case and of A's death; the statistician
in the crime observatory), an officer and a prosecutor of police agency B (another agency), and an anonymous
visitor.

Outcomes: ``allowed`` (2xx, 400 — a form error, access was granted —, or a redirect that is not to the
sign-in page), ``403``, ``404``, ``405`` (a POST-only address opened with GET) and ``login`` (the redirect to
the sign-in page, with ``next``). ``mfa`` (sent to the second factor) and ``500`` are never expected.
"""

from __future__ import annotations

import copy
import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from forensis.accounts import services as account_services
from forensis.accounts.models import AgencyType, User
from forensis.accounts.roles import OUTSIDE_ROLES, PERMISSION_ROLES, Role
from forensis.api import tokens
from forensis.api.models import Access, Resource
from forensis.cases.models import Case
from forensis.deaths import body_custody
from forensis.deaths import services as death_services
from forensis.evidence import disposition, outsourcing
from forensis.evidence import services as evidence_services
from forensis.evidence.models import LocationKind, Purpose, RetentionRule
from forensis.intake import services as intake_services
from forensis.intake.models import Kit, Submission
from forensis.lab import services as lab_services
from forensis.lab.models import Discipline, Method
from forensis.legacy.models import BatchStatus, ImportBatch
from forensis.reports import services as report_services
from forensis.reports.models import ContactRole, Report
from forensis.statistics import opendata
from forensis.statistics.dashboards import DASHBOARDS
from tests.evidence.conftest import receive_case
from tests.intake.conftest import CASE_FIELDS, item
from tests.lab import test_review_services as review_tests

PASSWORD = "Correct-horse-battery-9"
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- the outcomes --------------------------------------------------------------------------------------------

ALLOWED, FORBIDDEN, NOT_FOUND, NOT_ALLOWED, LOGIN = "allowed", "403", "404", "405", "login"
#: A caller without the permission asking for a record it may not see: 403 (the permission decorator answers
#: before the record is looked up) or 404 both say nothing about the record; that the answer is the same as for
#: a record that does not exist is checked separately (``missing_url``).
DENIED = frozenset({FORBIDDEN, NOT_FOUND})


def outcome(response) -> str:
    """What a response means for access: one of the outcomes above, ``mfa``, or the status code."""
    status = response.status_code
    if status in (301, 302, 303, 307, 308):
        target = urlsplit(response["Location"])
        if target.path == reverse(settings.LOGIN_URL) and "next" in parse_qs(target.query):
            return LOGIN
        if target.path.startswith("/accounts/mfa/"):
            return "mfa"
        return ALLOWED
    if 200 <= status < 300 or status == 400:
        return ALLOWED
    return str(status)


# --- the callers ---------------------------------------------------------------------------------------------

#: The laboratory's roles: every role a person may hold but the outside ones (``roles.OUTSIDE_ROLES``).
LAB_ROLES = tuple(role for role in Role if role not in OUTSIDE_ROLES and role != Role.PARTNER_SYSTEM)
PERSON_ROLES = (*LAB_ROLES, Role.AGENCY_OFFICER, Role.PROSECUTOR, Role.STATISTICIAN)
OTHER_OFFICER, OTHER_PROSECUTOR, ANONYMOUS = "other_officer", "other_prosecutor", "anonymous"
#: Every caller: the 11 person roles, another agency's officer and prosecutor, and nobody signed in.
CALLERS = (*(role.value for role in PERSON_ROLES), OTHER_OFFICER, OTHER_PROSECUTOR, ANONYMOUS)
OTHER_AGENCY = (OTHER_OFFICER, OTHER_PROSECUTOR)
#: The role each caller holds.
CALLER_ROLE = {
    **{role.value: role for role in PERSON_ROLES},
    OTHER_OFFICER: Role.AGENCY_OFFICER,
    OTHER_PROSECUTOR: Role.PROSECUTOR,
}
assert set(PERSON_ROLES) == set(Role) - {Role.PARTNER_SYSTEM}, "a role was added: give it a caller"

# --- whose records a caller sees (docs/security.md, "Agency scoping") ---------------------------------------

#: Kinds of record of agency A. CASE-like records are shared with the agencies named as contacts of the case
#: (the prosecutor sees the case, its reports and its death record); the others only with A itself.
CASE, REPORT, DEATH, ITEM, REQUEST, SUBMISSION = "case", "report", "death", "item", "request", "submission"
SHARED_WITH_CONTACTS = {CASE, REPORT, DEATH}


def sees(caller: str, scope: str) -> bool:
    """May ``caller`` see agency A's record of kind ``scope`` ("" for the laboratory's own records)?"""
    if caller == ANONYMOUS:
        return False
    if not scope or caller in {role.value for role in LAB_ROLES}:
        return True
    if caller == Role.AGENCY_OFFICER:
        return True
    if caller == Role.PROSECUTOR:
        return scope in SHARED_WITH_CONTACTS
    return False  # the statistician (aggregates only) and agency B


# --- the table -----------------------------------------------------------------------------------------------


def holders(*permissions: str) -> frozenset[str]:
    """The roles holding at least one of ``permissions`` (from ``PERMISSION_ROLES``, the single table)."""
    return frozenset(role.value for permission in permissions for role in PERMISSION_ROLES[permission])


EVERYONE = frozenset(role.value for role in PERSON_ROLES)


@dataclass(frozen=True)
class Rule:
    """Who may do something on a route: the roles with the permission, then (for a record of agency A) the
    callers who see it, then any narrower condition (``only``: e.g. the analyst the request is assigned to),
    whose refusal is ``only_refusal``."""

    roles: frozenset[str]
    scope: str = ""
    only: frozenset[str] | None = None
    only_refusal: str = FORBIDDEN
    #: A role whose refusal differs from ``only_refusal`` (role → outcome).
    but: tuple[tuple[str, str], ...] = ()

    def expect(self, caller: str) -> str | frozenset[str]:
        if caller == ANONYMOUS:
            return LOGIN
        role = CALLER_ROLE[caller].value
        visible = sees(caller, self.scope)
        if role not in self.roles:
            return FORBIDDEN if visible else DENIED
        if not visible:
            return NOT_FOUND
        if self.only is not None and role not in self.only:
            return dict(self.but).get(role, self.only_refusal)
        return ALLOWED


@dataclass(frozen=True)
class Route:
    """A row of the table. ``post`` None: the view does not take POST. ``post_only``: GET answers 405 to whoever
    would be allowed to POST. ``public``: why anyone, signed in or not, may use it (then ``get``/``post`` are
    not used)."""

    get: Rule | None = None
    post: Rule | None = None
    kwargs: Callable[[World], dict] | None = None
    #: The smallest POST that is not refused for its shape (an empty form unless the view needs an action).
    body: Callable[[World], dict] = lambda world: {}
    post_only: bool = False
    public: str = ""

    def expect(self, caller: str, method: str) -> str | frozenset[str]:
        if self.public:
            if method == "get" and self.post_only:
                return NOT_ALLOWED
            return ALLOWED
        rule = self.post if method == "post" else self.get
        if method == "get" and self.post_only:
            # require_POST: 405 for whoever passes the checks before it; the refusals otherwise (or 405 too, when
            # require_POST comes first: it says nothing about who asks)
            refused = self.post.expect(caller)
            if refused == ALLOWED:
                return NOT_ALLOWED
            return frozenset({NOT_ALLOWED}) | (refused if isinstance(refused, frozenset) else {refused})
        return rule.expect(caller)


def on(scope: str, roles: frozenset[str], **more) -> Rule:
    return Rule(roles, scope=scope, **more)


def signed_in() -> Rule:
    return Rule(EVERYONE)


def perm(*permissions: str, scope: str = "", **more) -> Rule:
    return Rule(holders(*permissions), scope=scope, **more)


def both(rule: Rule, **more) -> dict:
    """The same rule for GET and POST."""
    return {"get": rule, "post": rule, **more}


# The kinds of record and the permissions the views check, by route (namespace:name). Reading a page and
# changing through it are separate rules where the roles differ.
V_CASE, V_ITEM, V_REQUEST = "cases.view_case", "evidence.view_item", "lab.view_servicerequest"
V_SUBMISSION, ADD_SUBMISSION, RECEIVE = "intake.view_submission", "intake.add_submission", "intake.receive_submission"
V_DEATH, V_REPORT, V_STATS = "deaths.view_deathinvestigation", "reports.view_report", "statistics.view_statistics"
EXAMINE, REVIEW, RELEASE = "lab.perform_examination", "lab.review_request", "lab.release_request"
CATALOGUE, IMPORT = "lab.manage_catalogue", "legacy.run_import"

ANALYST = frozenset({Role.ANALYST.value})
MEDICAL_EXAMINER = frozenset({Role.MEDICAL_EXAMINER.value})


def catalogue(kwarg: Callable[[World], dict] | None = None) -> dict:
    return both(perm(CATALOGUE), kwargs=kwarg)


TABLE: dict[str, Route] = {
    # --- public ---------------------------------------------------------------------------------------------
    "accounts:login": Route(
        public="the sign-in page (a signed-in user is sent on to the home page)", post=Rule(EVERYONE)
    ),
    "accounts:logout": Route(
        public="signing out (POST only): harmless for anyone", post=Rule(EVERYONE), post_only=True
    ),
    "reports:verify": Route(
        public="anyone holding a report PDF may check it was issued unchanged; shows no case data",
        post=Rule(EVERYONE),
    ),
    "reports:verify_link": Route(
        public="the address in a report's QR code: number, issue date and status only",
        kwargs=lambda w: {"number": w.report.number, "fingerprint": w.fingerprint},
    ),
    "set_language": Route(public="the language switch (before and after signing in)", post=Rule(EVERYONE)),
    "healthz": Route(public="the load balancer's health check: database reachable, migrations applied"),
    "statistics:index": Route(public="a plain redirect to the policy dashboard, which checks access itself"),
    # --- the user's own pages ----------------------------------------------------------------------------
    "core:home": Route(get=signed_in()),
    "core:notifications": Route(**both(signed_in())),
    "accounts:mfa_verify": Route(**both(signed_in())),
    "accounts:mfa_enrol": Route(**both(signed_in())),
    "accounts:change_password": Route(**both(signed_in())),
    # --- administration -----------------------------------------------------------------------------------
    "accounts:agency_list": Route(get=perm("accounts.view_agency")),
    "accounts:agency_new": Route(**both(perm("accounts.manage_agencies"))),
    "accounts:agency_edit": Route(**both(perm("accounts.manage_agencies")), kwargs=lambda w: {"pk": w.police_a.pk}),
    "accounts:agency_set_active": Route(
        post=perm("accounts.manage_agencies"), post_only=True, kwargs=lambda w: {"pk": w.police_a.pk}
    ),
    "accounts:user_list": Route(get=perm("accounts.view_user")),
    "accounts:user_new": Route(**both(perm("accounts.manage_users"))),
    "accounts:user_edit": Route(**both(perm("accounts.manage_users")), kwargs=lambda w: {"pk": w.user_of_a.pk}),
    "accounts:user_set_password": Route(
        post=perm("accounts.manage_users"), post_only=True, kwargs=lambda w: {"pk": w.user_of_a.pk}
    ),
    "accounts:user_action": Route(
        post=perm("accounts.manage_users"),
        post_only=True,
        kwargs=lambda w: {"pk": w.user_of_a.pk, "action": "unlock"},
    ),
    "audit:event_list": Route(get=perm("audit.view_auditevent")),
    "audit:event_export": Route(get=perm("audit.view_auditevent")),
    "api_tokens:token_list": Route(get=perm("api.view_partnertoken")),
    "api_tokens:token_issue": Route(**both(perm("api.manage_partnertoken"))),
    "api_tokens:token_detail": Route(get=perm("api.view_partnertoken"), kwargs=lambda w: {"name": w.token_name}),
    "api_tokens:token_revoke": Route(
        post=perm("api.manage_partnertoken"), post_only=True, kwargs=lambda w: {"name": w.token_name}
    ),
    # --- intake ---------------------------------------------------------------------------------------------
    "intake:list": Route(get=perm(V_SUBMISSION)),
    "intake:new": Route(**both(perm(ADD_SUBMISSION))),
    "intake:detail": Route(get=perm(V_SUBMISSION, scope=SUBMISSION), kwargs=lambda w: {"reference": w.draft.reference}),
    "intake:edit": Route(
        **both(perm(ADD_SUBMISSION, scope=SUBMISSION)), kwargs=lambda w: {"reference": w.draft.reference}
    ),
    "intake:submit": Route(
        post=perm(ADD_SUBMISSION, scope=SUBMISSION), post_only=True, kwargs=lambda w: {"reference": w.draft.reference}
    ),
    "intake:form_pdf": Route(
        get=perm(V_SUBMISSION, scope=SUBMISSION), kwargs=lambda w: {"reference": w.submitted.reference}
    ),
    "intake:receipt_pdf": Route(
        get=perm(V_SUBMISSION, scope=SUBMISSION), kwargs=lambda w: {"reference": w.received.reference}
    ),
    "intake:kits": Route(get=perm("intake.manage_kits")),
    "intake:kit_new": Route(**both(perm("intake.manage_kits"))),
    "intake:kit_edit": Route(**both(perm("intake.manage_kits")), kwargs=lambda w: {"pk": w.kit.pk}),
    "intake:reception": Route(get=perm(RECEIVE)),
    "intake:walk_in": Route(**both(perm(RECEIVE))),
    "intake:receive": Route(
        **both(perm(RECEIVE, scope=SUBMISSION)), kwargs=lambda w: {"reference": w.submitted.reference}
    ),
    # --- cases ----------------------------------------------------------------------------------------------
    "cases:detail": Route(get=perm(V_CASE, scope=CASE), kwargs=lambda w: {"lab_number": w.case.lab_number}),
    "cases:labels": Route(get=perm(V_CASE, scope=CASE), kwargs=lambda w: {"lab_number": w.case.lab_number}),
    "cases:custody_report": Route(get=perm(V_CASE, scope=CASE), kwargs=lambda w: {"lab_number": w.case.lab_number}),
    "reports:case_contacts": Route(
        get=perm(V_CASE, scope=CASE),
        post=perm("reports.add_casecontact", scope=CASE),
        kwargs=lambda w: {"lab_number": w.case.lab_number},
    ),
    "reports:discovery": Route(
        get=perm("reports.download_discovery", scope=CASE), kwargs=lambda w: {"lab_number": w.case.lab_number}
    ),
    # --- evidence and custody -------------------------------------------------------------------------------
    "evidence:my_custody": Route(get=perm(V_ITEM)),
    "evidence:scan": Route(**both(perm(V_ITEM))),
    # The overdue list names people holding items (a supervisor's list); the gap check reads the ledger.
    "evidence:overdue": Route(get=perm("evidence.move_item", "accounts.view_user")),
    "evidence:gap_check": Route(get=perm("audit.view_auditevent", "accounts.view_user")),
    # Only the two people of a hand-over may act on it; to anyone else it does not exist. The receiver accepts
    # it; the custodian who offered it may cancel it, not accept it.
    "evidence:transfer_action": Route(
        post=perm(
            V_ITEM, scope=ITEM, only=ANALYST, only_refusal=NOT_FOUND, but=((Role.EVIDENCE_CUSTODIAN.value, FORBIDDEN),)
        ),
        post_only=True,
        kwargs=lambda w: {"pk": w.transfer.pk, "action": "accept"},
    ),
    "evidence:locations": Route(get=perm(V_ITEM)),
    "evidence:location_new": Route(**both(perm("evidence.manage_locations"))),
    "evidence:location": Route(get=perm(V_ITEM), kwargs=lambda w: {"code": w.location.code}),
    "evidence:location_edit": Route(
        **both(perm("evidence.manage_locations")), kwargs=lambda w: {"code": w.location.code}
    ),
    "evidence:location_label": Route(get=perm(V_ITEM), kwargs=lambda w: {"code": w.location.code}),
    # Officers follow their agency's items (read); the item's actions each need their own permission: recording
    # an amount (a complete one, so that the service is asked) needs evidence.move_item.
    "evidence:item": Route(
        get=perm(V_CASE, scope=ITEM),
        post=perm("evidence.move_item", scope=ITEM),
        kwargs=lambda w: {"label": w.item.label},
        body=lambda w: {"action": "amount", "amount-amount": "5", "amount-unit": "mL", "amount-reason": "Weighed"},
    ),
    "evidence:return": Route(**both(perm("evidence.dispose_item"))),
    "evidence:destroy": Route(**both(perm("evidence.dispose_item"))),
    "evidence:destructions": Route(get=perm("evidence.dispose_item")),
    "evidence:destruction": Route(
        get=perm("evidence.dispose_item", scope=ITEM), kwargs=lambda w: {"reference": w.destruction.reference}
    ),
    "evidence:destruction_pdf": Route(
        get=perm("evidence.dispose_item", scope=ITEM), kwargs=lambda w: {"reference": w.destruction.reference}
    ),
    # Custodians read the retention rules; managers and administrators also change them.
    "evidence:retention_rules": Route(get=perm("evidence.dispose_item", "evidence.change_retentionrule")),
    "evidence:retention_rule_new": Route(**both(perm("evidence.change_retentionrule"))),
    "evidence:retention_rule": Route(
        **both(perm("evidence.change_retentionrule")), kwargs=lambda w: {"pk": w.retention_rule.pk}
    ),
    "evidence:shipments": Route(get=perm("evidence.manage_shipments")),
    "evidence:shipment_new": Route(**both(perm("evidence.manage_shipments"))),
    "evidence:shipment": Route(
        **both(perm("evidence.manage_shipments", scope=ITEM)), kwargs=lambda w: {"reference": w.shipment.reference}
    ),
    "evidence:shipment_manifest": Route(
        get=perm("evidence.manage_shipments", scope=ITEM), kwargs=lambda w: {"reference": w.shipment.reference}
    ),
    "evidence:shipment_result": Route(
        get=perm("evidence.manage_shipments", scope=ITEM),
        kwargs=lambda w: {"reference": w.shipment.reference, "pk": w.shipment_result.pk},
    ),
    # --- the laboratory -------------------------------------------------------------------------------------
    "lab:triage": Route(
        **both(perm("lab.assign_request")), body=lambda w: {"action": "assign", "request": w.requested.pk}
    ),
    "lab:disciplines": Route(**catalogue()),
    "lab:discipline": Route(**catalogue(lambda w: {"pk": w.discipline.pk})),
    "lab:methods": Route(**catalogue()),
    "lab:method": Route(**catalogue(lambda w: {"pk": w.lab.method.pk})),
    "lab:instruments": Route(**catalogue()),
    "lab:instrument": Route(**catalogue(lambda w: {"pk": w.lab.instrument.pk})),
    "lab:reagent_lots": Route(**catalogue()),
    "lab:reagent_lot": Route(**catalogue(lambda w: {"pk": w.lab.lot.pk})),
    "lab:checklists": Route(**catalogue()),
    "lab:checklist": Route(**catalogue(lambda w: {"pk": w.question.pk})),
    "lab:authorizations": Route(**catalogue()),
    "lab:worklist": Route(get=perm(EXAMINE)),
    # The examination is the assigned analyst's alone (the other examiners, too, get 403).
    "lab:examination": Route(
        **both(perm(EXAMINE, scope=REQUEST, only=ANALYST)), kwargs=lambda w: {"pk": w.in_progress.pk}
    ),
    "lab:attachment": Route(
        get=perm(V_REQUEST, scope=REQUEST),
        kwargs=lambda w: {"pk": w.in_progress.pk, "attachment_pk": w.attachment.pk},
    ),
    "lab:worksheet_new": Route(post=perm(EXAMINE), post_only=True),
    # A worksheet is its analyst's alone.
    "lab:worksheet": Route(
        **both(perm(EXAMINE, scope=REQUEST, only=ANALYST)), kwargs=lambda w: {"reference": w.worksheet.reference}
    ),
    "lab:request": Route(get=perm(V_REQUEST, scope=REQUEST), kwargs=lambda w: {"pk": w.released.pk}),
    "lab:review": Route(**both(perm(REVIEW, scope=REQUEST)), kwargs=lambda w: {"pk": w.released.pk}),
    "lab:release": Route(**both(perm(RELEASE, scope=REQUEST)), kwargs=lambda w: {"pk": w.released.pk}),
    "lab:reviews": Route(get=perm(REVIEW, RELEASE)),
    # --- reports --------------------------------------------------------------------------------------------
    "reports:list": Route(get=perm(V_REPORT)),
    "reports:detail": Route(get=perm(V_REPORT, scope=REPORT), kwargs=lambda w: {"number": w.report.number}),
    "reports:pdf": Route(get=perm(V_REPORT, scope=REPORT), kwargs=lambda w: {"number": w.report.number, "version": 1}),
    "reports:amend": Route(
        post=perm("reports.amend_report", scope=REPORT), post_only=True, kwargs=lambda w: {"number": w.report.number}
    ),
    # --- deaths ---------------------------------------------------------------------------------------------
    "deaths:list": Route(get=perm(V_DEATH)),
    "deaths:pending": Route(get=perm(V_DEATH)),
    "deaths:new": Route(**both(perm("deaths.add_deathinvestigation"))),
    "deaths:detail": Route(get=perm(V_DEATH, scope=DEATH), kwargs=lambda w: {"number": w.death.number}),
    "deaths:edit": Route(
        **both(on(DEATH, holders(V_DEATH) & holders("deaths.change_deathinvestigation"))),
        kwargs=lambda w: {"number": w.death.number},
    ),
    # Blank until the body is released: for the morgue staff who release it.
    "deaths:release_form": Route(
        get=on(DEATH, holders(V_DEATH) & holders("deaths.release_body")), kwargs=lambda w: {"number": w.death.number}
    ),
    "deaths:receive": Route(
        **both(on(DEATH, holders(V_DEATH) & holders("deaths.receive_body"))),
        kwargs=lambda w: {"number": w.death.number},
    ),
    "deaths:release": Route(
        **both(on(DEATH, holders(V_DEATH) & holders("deaths.release_body"))),
        kwargs=lambda w: {"number": w.death.number},
    ),
    # Everyone who reads the death reads its autopsy; only the pathologist it is assigned to records it.
    "deaths:autopsy": Route(
        get=perm(V_DEATH, scope=DEATH),
        post=perm(V_DEATH, scope=DEATH, only=MEDICAL_EXAMINER),
        kwargs=lambda w: {"number": w.death.number},
    ),
    # --- legacy data ----------------------------------------------------------------------------------------
    "legacy:list": Route(get=perm(IMPORT)),
    "legacy:new": Route(**both(perm(IMPORT))),
    "legacy:detail": Route(get=perm(IMPORT), kwargs=lambda w: {"number": w.batch.number}),
    "legacy:progress": Route(get=perm(IMPORT), kwargs=lambda w: {"number": w.batch.number}),
    "legacy:repeat": Route(post=perm(IMPORT), post_only=True, kwargs=lambda w: {"number": w.batch.number}),
    "legacy:report": Route(get=perm(IMPORT), kwargs=lambda w: {"number": w.batch.number, "name": "summary.txt"}),
    "legacy:correct": Route(
        **both(perm("legacy.correct_migrated", scope=CASE)), kwargs=lambda w: {"kind": "case", "pk": w.migrated.pk}
    ),
    # --- statistics (aggregates: no record of any agency) ----------------------------------------------------
    "statistics:policy": Route(get=perm(V_STATS)),
    "statistics:management": Route(get=perm(V_STATS)),
    "statistics:bulletin": Route(get=perm(V_STATS)),
    "statistics:reconciliation": Route(**both(perm(V_STATS))),
    "statistics:population": Route(get=perm(V_STATS), post=perm("statistics.change_population")),
    "statistics:open_data": Route(get=perm(V_STATS)),
    "statistics:open_data_file": Route(get=perm(V_STATS), kwargs=lambda w: {"name": w.open_data_table, "fmt": "csv"}),
    "statistics:export": Route(
        get=perm(V_STATS), kwargs=lambda w: {"key": "policy", "figure": w.policy_figure, "fmt": "csv"}
    ),
}

#: URL arguments that do not name a record (the rest are changed to name one that does not exist).
NOT_A_RECORD = {"action", "version", "kind", "fmt", "key", "figure"}


def url(world: World, name: str) -> str:
    route = TABLE[name]
    return reverse(name, kwargs=route.kwargs(world) if route.kwargs else None)


def missing_url(world: World, name: str) -> str | None:
    """The route's address naming records that do not exist (None for a route without a record)."""
    route = TABLE[name]
    if route.kwargs is None:
        return None
    kwargs = {
        key: value if key in NOT_A_RECORD else (value + 10**6 if isinstance(value, int) else f"{value}9")
        for key, value in route.kwargs(world).items()
    }
    return reverse(name, kwargs=kwargs)


# --- the routes ----------------------------------------------------------------------------------------------


def web_routes() -> dict[str, str]:
    """Every route of the URLconf, ``namespace:name`` → its pattern, read from the resolver (the API's included)."""
    found: dict[str, str] = {}

    def walk(patterns, prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = ":".join(filter(None, [namespace, pattern.namespace])) if pattern.namespace else namespace
                walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern):
                where = prefix + str(pattern.pattern)
                name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
                found[name or f"<unnamed {where}>"] = where

    walk(get_resolver().url_patterns, "", "")
    return found


API_NAMESPACE = "api:"


def posting_routes() -> list[str]:
    """The routes that take POST, from the table (the CSRF test uses this list)."""
    return sorted(name for name, route in TABLE.items() if route.post is not None)


# --- what a refused request must leave as it was -------------------------------------------------------------

#: Tables a request may write without changing anything of the laboratory's (the session, sign-in attempts).
NOT_DOMAIN = ("django_session", "axes_")


@functools.cache
def _counting(database: str) -> tuple[list[str], str]:
    """The tables counted in ``database`` and the one query that counts them (the tables do not change)."""
    tables = sorted(
        name
        for name in connection.introspection.django_table_names(only_existing=True, include_views=False)
        if not name.startswith(NOT_DOMAIN)
    )
    quote = connection.ops.quote_name
    return tables, "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote(table)})" for table in tables)


def row_counts() -> dict[str, int]:
    """The number of rows of every table (the audit log's included), in one query."""
    tables, query = _counting(connection.settings_dict["NAME"])
    with connection.cursor() as cursor:
        cursor.execute(query)
        return dict(zip(tables, cursor.fetchone(), strict=True))


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {table: (before[table], after[table]) for table in before if before[table] != after[table]}


def ask(
    client: Client,
    method: str,
    target: str,
    data: Any = None,
    *,
    counted: bool = False,
    cookies: dict[str, str] | None = None,
    **extra,
):
    """One request whose effects are undone afterwards (a savepoint rolled back, the client's cookies restored),
    so that every request meets the same world. ``cookies``: set for this request only. With ``counted``: also
    the tables it changed."""
    kept = copy.deepcopy(client.cookies)
    for key, value in (cookies or {}).items():
        client.cookies[key] = value
    with transaction.atomic():
        before = row_counts() if counted else None
        response = getattr(client, method)(target, data or {}, **extra)
        if getattr(response, "streaming", False):
            # Read inside the savepoint; reading to the end closes the response the test client's way (never
            # response.close() again: that would let request_finished close the database connection).
            response.body = b"".join(response.streaming_content)
        else:
            response.content  # noqa: B018 (rendered inside the savepoint)
        writes = changed(before, row_counts()) if counted else {}
        transaction.set_rollback(True)
    client.cookies = kept
    response.writes = writes
    return response


def text_of(response) -> str:
    body = response.body if getattr(response, "streaming", False) else response.content
    return body.decode("utf-8", "replace")


# --- the world -----------------------------------------------------------------------------------------------


@dataclass
class World:
    laboratory: Any
    police_a: Any
    police_b: Any
    prosecutors: Any
    users: dict[str, User]
    lab: review_tests.Lab
    case: Case
    item: Any
    report: Report
    fingerprint: str
    released: Any
    draft: Submission
    submitted: Submission
    received: Submission
    kit: Kit
    location: Any
    transfer: Any
    destruction: Any
    shipment: Any
    shipment_result: Any
    retention_rule: Any
    requested: Any
    in_progress: Any
    attachment: Any
    worksheet: Any
    discipline: Discipline
    question: Any
    death: Any
    migrated: Case
    batch: ImportBatch
    token_name: str
    open_data_table: str
    policy_figure: str
    case_b: Case
    #: What each caller must never find on a page it may open (lab numbers and references of others' records).
    hidden: dict[str, list[str]] = field(default_factory=dict)
    media: Path | None = None
    clients: dict[str, Client] = field(default_factory=dict)

    @property
    def user_of_a(self) -> User:
        return self.users[Role.AGENCY_OFFICER]


_names = itertools.count(1)


def build_world(media: Path) -> World:
    """Agency A's casework at every stage, made through the services (the steps' actors as in the app tests)."""
    lab_agency = account_services.create_agency(
        None, code="LAB", name="Forensic Laboratory", type=AgencyType.LABORATORY
    )
    police_a = account_services.create_agency(
        None, code="POL-A", name="Police A", type=AgencyType.POLICE, district="BZ"
    )
    police_b = account_services.create_agency(
        None, code="POL-B", name="Police B", type=AgencyType.POLICE, district="CY"
    )
    prosecutors = account_services.create_agency(
        None, code="ODPP", name="Public Prosecutions", type=AgencyType.PROSECUTOR
    )
    observatory = account_services.create_agency(
        None, code="OBS", name="Crime Observatory", type=AgencyType.OBSERVATORY
    )
    agency_of = {
        Role.AGENCY_OFFICER: police_a,
        Role.PROSECUTOR: prosecutors,
        Role.STATISTICIAN: observatory,
    }
    made: dict[str, User] = {}

    def make_user(role, agency=None, **fields) -> User:
        """``tests.conftest.make_user``'s signature, for ``review_tests.Lab``."""
        user = account_services.create_user(
            None,
            username=fields.pop("username", f"{role}{next(_names)}"),
            password=PASSWORD,
            agency=agency or lab_agency,
            roles=[role],
            **fields,
        )
        made.setdefault(Role(role).value, user)
        return user

    officer = make_user(Role.AGENCY_OFFICER, agency=police_a, username="officer")
    for role in PERSON_ROLES:
        if role.value not in made and role not in (
            Role.LAB_MANAGER,
            Role.ANALYST,
            Role.REVIEWER,
            Role.EVIDENCE_CUSTODIAN,
        ):
            make_user(role, agency=agency_of.get(role), username=role.value, first_name=role.label, last_name="Test")
    lab = review_tests.Lab(make_user, officer)  # the manager, analyst, reviewer and custodian; a toxicology case
    users = dict(made)
    users[OTHER_OFFICER] = make_user(Role.AGENCY_OFFICER, agency=police_b, username="officer.b")
    users[OTHER_PROSECUTOR] = make_user(Role.PROSECUTOR, agency=police_b, username="prosecutor.b")
    manager, custodian, analyst = lab.manager, lab.custodian, lab.analyst
    examiner, scenetech, admin = (
        users[Role.MEDICAL_EXAMINER],
        users[Role.SCENE_TECHNICIAN],
        users[Role.ADMINISTRATOR],
    )

    # The released toxicology report of A's case; the prosecutions office is named as its contact.
    lab.administratively_reviewed()
    lab_services.release(manager, lab.request, reauthenticated=True)
    released = lab.reload()
    report = Report.objects.get(request=released)
    case = released.case
    report_services.add_case_contact(
        officer, case, role=ContactRole.PROSECUTOR, agency=prosecutors, name="Paula Reyes", email="p@odpp.bz"
    )
    version = report.current_version
    fingerprint = version.content_hash

    # Submissions: a draft, one submitted and waiting at reception, and the received one of the case.
    draft = intake_services.create_submission(
        officer, people=[], items=[item()], **{**CASE_FIELDS, "incident_at": timezone.now() - timedelta(days=1)}
    )
    submitted = intake_services.create_submission(
        officer,
        people=[],
        items=[item("Knife", seal="S-9")],
        **{**CASE_FIELDS, "agency_case_number": "BZ-CR-2026-0043", "incident_at": timezone.now() - timedelta(days=1)},
    )
    submitted = intake_services.submit_submission(officer, submitted)
    received = Submission.objects.get(case=case)

    # Evidence: a storage location, a hand-over waiting for the analyst, destroyed drugs, a DNA shipment.
    location = evidence_services.save_location(
        manager, None, code="SHELF-A1", name="Evidence store, shelf A1", kind=LocationKind.SHELF
    )
    handed = receive_case(officer, custodian, agency_case_number="BZ-CR-2026-0050")
    transfer = evidence_services.hand_over(
        custodian, handed, analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=False, note="For serology"
    )
    drugs = receive_case(
        officer,
        custodian,
        offences=("06012",),
        items=(("seized_drugs", "Plastic bag, white powder", False), ("seized_drugs", "Ten small packets", False)),
        agency_case_number="BZ-DR-2026-0051",
    )
    destruction = disposition.destroy_items(custodian, drugs, analyst, method="Incineration")
    dna = receive_case(officer, custodian, discipline="dna", agency_case_number="BZ-CR-2026-0052")
    shipment = outsourcing.prepare_shipment(custodian, dna, laboratory="Bode Technology")
    outsourcing.ship(custodian, shipment, tracking_number="1Z999")
    shipment = type(shipment).objects.get(pk=shipment.pk)
    shipment_result = outsourcing.attach_result(custodian, shipment, SimpleUploadedFile("profiles.csv", b"a,b\n1,2\n"))
    requested = dna[0].requests.get()

    # A toxicology request the analyst runs on a worksheet, with a file attached.
    waiting = review_tests.receive_toxicology_case(officer, custodian, "CY-TR-2026-0300")
    lab_services.assign(manager, waiting, analyst)
    worksheet = lab_services.create_worksheet(
        analyst, [waiting], method=lab.method, instrument=lab.instrument, reagent_lots=[lab.lot]
    )
    in_progress = type(waiting).objects.get(pk=waiting.pk)
    attachment = lab_services.attach_file(analyst, in_progress, SimpleUploadedFile("chromatogram.txt", b"peaks"))

    # A death on A's case: logged at the scene, the body received at the morgue, the autopsy assigned.
    death = _death(manager, examiner, scenetech, police_a)
    report_services.add_case_contact(
        officer, death.case, role=ContactRole.PROSECUTOR, agency=prosecutors, name="Paula Reyes", email="p@odpp.bz"
    )

    # A case migrated from the old database, and an import batch with its report files.
    migrated = Case.objects.create(
        lab_number="OLD-2019-0042",
        agency=police_a,
        agency_case_number="OLD/42",
        received_at=timezone.now() - timedelta(days=2500),
        district="BZ",
        created_by=admin,
        legacy_source="oldlims",
        legacy_id="42",
    )
    report_dir = media / "legacy-reports"
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "summary.txt").write_text("Imported 1 case.\n")
    batch = ImportBatch.objects.create(
        number="IMP-2026-00001",
        source_name="oldlims",
        mapping_name="mapping.toml",
        started_by=admin,
        status=BatchStatus.COMPLETED,
        report_dir=str(report_dir),
        finished_at=timezone.now(),
    )

    token = tokens.issue_token(
        admin,
        name="partner-a",
        agency=police_a,
        resources=list(Resource.values),
        access=Access.READ,
        expires_at=timezone.now() + timedelta(days=30),
    )
    # Agency B's own case: what A's officer and the prosecutor must not find anywhere.
    case_b = receive_case(users[OTHER_OFFICER], custodian, agency_case_number="CY-CR-2026-0900")[0].case

    world = World(
        laboratory=lab_agency,
        police_a=police_a,
        police_b=police_b,
        prosecutors=prosecutors,
        users=users,
        lab=lab,
        case=case,
        item=lab.item,
        report=report,
        fingerprint=fingerprint,
        released=released,
        draft=draft,
        submitted=submitted,
        received=received,
        kit=Kit.objects.order_by("pk").first(),
        location=location,
        transfer=transfer,
        destruction=destruction,
        shipment=shipment,
        shipment_result=shipment_result,
        retention_rule=RetentionRule.objects.order_by("pk").first(),
        requested=requested,
        in_progress=in_progress,
        attachment=attachment,
        worksheet=worksheet,
        discipline=lab.toxicology,
        question=lab.questions[review_tests.TECHNICAL][0],
        death=death,
        migrated=migrated,
        batch=batch,
        token_name=token.token.name,
        open_data_table=opendata.tables()[0].name,
        policy_figure=next(key for builder in DASHBOARDS["policy"].sections for key in builder.figure_keys),
        case_b=case_b,
    )
    a_cases = list(Case.objects.filter(agency=police_a).values_list("lab_number", flat=True))
    a_submissions = [draft.reference, submitted.reference]
    unshared = list(
        Case.objects.filter(agency=police_a).exclude(contacts__agency=prosecutors).values_list("lab_number", flat=True)
    )
    for caller in (OTHER_OFFICER, OTHER_PROSECUTOR, Role.STATISTICIAN.value):
        world.hidden[caller] = a_cases + a_submissions + ([] if caller in OTHER_AGENCY else [case_b.lab_number])
    world.hidden[Role.AGENCY_OFFICER.value] = [case_b.lab_number]
    world.hidden[Role.PROSECUTOR.value] = [case_b.lab_number, *unshared, *a_submissions]
    return world


def _death(manager, examiner, scenetech, police):
    pathology = Discipline.objects.get(code="pathology")
    today = timezone.localdate()
    lab_services.grant_authorization(
        manager, examiner, pathology, valid_from=today - timedelta(days=30), valid_until=today + timedelta(days=365)
    )
    lab_services.save_catalogue_entry(
        manager,
        Method,
        discipline=pathology,
        code="PATH-AUTOPSY",
        name="Medicolegal autopsy",
        version="1.0",
        effective_from=today - timedelta(days=400),
    )
    cold_room = evidence_services.save_location(
        manager, None, code="MORGUE-CR1", name="Morgue cold room 1", kind=LocationKind.ROOM
    )
    now = timezone.now()
    investigation = death_services.log_death(
        scenetech,
        agency=police,
        agency_case_number="BZ-HOM-2026-0042",
        offence_codes=["0101"],
        identified=True,
        decedent_name="Jane Roe",
        sex="F",
        age=27,
        pregnancy="no",
        death_at=now - timedelta(hours=10),
        district="BZ",
        death_place="Lake Independence, Belize City",
        discovered_at=now - timedelta(hours=8),
        pathologist=examiner,
        relationship="intimate_partner",
        prior_violence="yes",
    )
    body_custody.receive_body(
        examiner,
        investigation,
        handed_over_by=scenetech,
        confirmed_in_person=True,
        location=cold_room,
        seal_status="intact",
        condition="Body bag sealed, tag legible",
    )
    return type(investigation).objects.get(pk=investigation.pk)


def verified_client(user: User | None, **options) -> Client:
    """A browser signed in as ``user`` past the second factor, as after a real sign-in (an authenticator and the
    device in the session), without the demo setting that defers MFA; ``None``: nobody signed in."""
    client = Client(raise_request_exception=False, **options)
    if user is not None:
        device, _ = TOTPDevice.objects.get_or_create(user=user, name="phone", defaults={"confirmed": True})
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


def clients(world: World, **options) -> dict[str, Client]:
    made = {caller: verified_client(world.users[caller], **options) for caller in CALLERS if caller != ANONYMOUS}
    made[ANONYMOUS] = verified_client(None, **options)
    return made


def expected_text(expected: str | frozenset[str]) -> str:
    return expected if isinstance(expected, str) else " or ".join(sorted(expected))


def matches(expected: str | frozenset[str], got: str) -> bool:
    return got in expected if isinstance(expected, frozenset) else got == expected


# --- the world, once per test module -------------------------------------------------------------------------


def module_world(django_db_blocker, media: Path, **client_options):
    """Build the world (and a verified browser per caller, made with ``client_options``) in a transaction that
    stays open for the whole module and is rolled back after it; each test then runs in a savepoint of its own
    (pytest-django's ``db``)."""
    overrides = override_settings(
        MEDIA_ROOT=media,
        PASSWORD_HASHERS=FAST_HASHERS,
        TASKS={"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}},
    )
    overrides.enable()
    try:
        with django_db_blocker.unblock():
            atomic = transaction.atomic()
            atomic.__enter__()
            try:
                world = build_world(media)
                world.media = media
                world.clients = clients(world, **client_options)
            except BaseException as exc:
                atomic.__exit__(type(exc), exc, exc.__traceback__)
                raise
        yield world
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
    finally:
        overrides.disable()
