"""Who may open each page of Forensis, and who may post to it: every route of the URLconf, every role.

The routes are read from the resolver (``web_routes``); ``access_matrix.TABLE`` has a row for each non-API route,
and a route without a row — or a row without a route — fails ``test_every_route_has_a_row`` by name. The API's
routes are ``tests.api.test_scoping``'s, whose table must name each of them.

For each route (one test each), every caller GETs it, and POSTs it when the view takes POST: the outcome must be
the table's. A refused POST must write nothing (no row of any table, the audit log's included); an allowed one,
even empty, must not fail (a form error, a page, or a redirect). Another agency's officer and prosecutor must get
the same answer for agency A's record as for a record that does not exist, and no page a caller may open shows
the lab number or reference of a record the caller may not see. Each request is undone afterwards, so every
request meets the same world.
"""

from __future__ import annotations

import pytest
from django.db.models import Model
from django.test import override_settings

from forensis.cases.models import Case
from forensis.deaths.models import DeathInvestigation
from forensis.evidence.models import Item
from forensis.intake.models import Submission
from forensis.lab.models import ServiceRequest
from forensis.reports.models import Report
from tests.api.test_scoping import ROUTES as API_ROUTES
from tests.api.test_scoping import api_routes
from tests.security.access_matrix import (
    ALLOWED,
    ANONYMOUS,
    API_NAMESPACE,
    CALLERS,
    CASE,
    DEATH,
    ITEM,
    OTHER_AGENCY,
    REPORT,
    REQUEST,
    SUBMISSION,
    TABLE,
    ask,
    expected_text,
    matches,
    missing_url,
    module_world,
    outcome,
    sees,
    text_of,
    url,
    web_routes,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory, laboratory_signing_key):
    yield from module_world(django_db_blocker, tmp_path_factory.mktemp("access-matrix"))


# --- every route is in a table ---------------------------------------------------------------------------------


def test_every_route_has_a_row():
    routes = {name: pattern for name, pattern in web_routes().items() if not name.startswith(API_NAMESPACE)}
    missing = {name: routes[name] for name in sorted(set(routes) - set(TABLE))}
    assert not missing, f"routes without a row in access_matrix.TABLE (say who may open them): {missing}"
    stale = sorted(set(TABLE) - set(routes))
    assert not stale, f"access_matrix.TABLE has rows for routes the URLconf no longer has: {stale}"


def test_every_api_route_is_in_the_api_scoping_table():
    """The API is checked by tests/api/test_scoping.py; the resolver's /api/v1/ routes must all be in its table
    (its own walk reads ``forensis.api.urls``; this one the whole URLconf, so an API route mounted elsewhere
    counts too)."""
    resolved = {name.removeprefix(API_NAMESPACE) for name in web_routes() if name.startswith(API_NAMESPACE)}
    assert resolved == set(api_routes()), "the URLconf's api: routes differ from forensis.api.urls'"
    missing = sorted(resolved - set(API_ROUTES))
    assert not missing, f"/api/v1/ routes missing from tests/api/test_scoping.py ROUTES: {missing}"
    stale = sorted(set(API_ROUTES) - resolved)
    assert not stale, f"tests/api/test_scoping.py ROUTES names routes the API no longer has: {stale}"


# --- the world is what the table assumes ------------------------------------------------------------------------


def test_the_world_is_what_the_table_assumes(world):
    """The records the routes are asked about, and whose of them each caller sees through ``visible_to``."""
    assert world.draft.status == "draft" and world.submitted.status == "submitted"
    assert world.received.status == "received" and world.received.case == world.case
    assert world.transfer.status == "pending"
    assert (world.transfer.released_by, world.transfer.received_by) == (
        world.users["evidence_custodian"],
        world.users["analyst"],
    )
    assert world.in_progress.assigned_to == world.users["analyst"] == world.worksheet.analyst
    assert world.death.case.agency == world.police_a and world.death.pathologist == world.users["medical_examiner"]
    assert world.case.contacts.filter(agency=world.prosecutors).exists()
    assert world.death.case.contacts.filter(agency=world.prosecutors).exists()
    records: dict[str, tuple[type[Model], Model]] = {
        CASE: (Case, world.case),
        REPORT: (Report, world.report),
        DEATH: (DeathInvestigation, world.death),
        ITEM: (Item, world.item),
        REQUEST: (ServiceRequest, world.released),
        SUBMISSION: (Submission, world.draft),
    }
    wrong = []
    for caller in CALLERS:
        if caller == ANONYMOUS:
            continue
        user = world.users[caller]
        for scope, (model, record) in records.items():
            found = model.objects.visible_to(user).filter(pk=record.pk).exists()
            if found != sees(caller, scope):
                wrong.append(f"{caller} {'sees' if found else 'does not see'} agency A's {scope}")
    assert not wrong, "scoping differs from docs/security.md: " + "; ".join(wrong)


# --- the matrix ---------------------------------------------------------------------------------------------------


def _leaks(world, caller: str, response) -> list[str]:
    if response.status_code != 200 or not response.get("Content-Type", "").startswith(("text/", "application/json")):
        return []
    text = text_of(response)
    return [marker for marker in world.hidden.get(caller, []) if marker in text]


def _describe(response) -> str:
    where = f" → {response['Location']}" if response.has_header("Location") else ""
    failure = f" ({response.exc_info[1]!r})" if getattr(response, "exc_info", None) else ""
    return f"{response.status_code}{where}{failure}"


@pytest.mark.parametrize("name", sorted(TABLE))
def test_access(world, name):
    route = TABLE[name]
    target, missing = url(world, name), missing_url(world, name)
    body = route.body(world) if route.post is not None or route.public else {}
    methods = ["get", *(["post"] if route.post is not None else [])]
    problems: list[str] = []
    with override_settings(MEDIA_ROOT=world.media):
        for caller in CALLERS:
            client = world.clients[caller]
            for method in methods:
                expected = route.expect(caller, method)
                refused = not matches(expected, ALLOWED)
                response = ask(client, method, target, body if method == "post" else None, counted=refused)
                got = outcome(response)
                said = f"{caller}: {method.upper()} {target}"
                if not matches(expected, got):
                    problems.append(f"{said} → {got} [{_describe(response)}], expected {expected_text(expected)}")
                elif refused and response.writes:
                    problems.append(f"{said} was refused ({got}) but wrote {response.writes}")
                elif got == ALLOWED and (leaked := _leaks(world, caller, response)):
                    problems.append(f"{said} shows {leaked}, which {caller} may not see")
                if caller in OTHER_AGENCY and missing and got != ALLOWED:
                    unknown = outcome(ask(client, method, missing, body if method == "post" else None))
                    if unknown != got:
                        problems.append(f"{said} → {got}, but {unknown} for a record that does not exist")
    assert not problems, f"{name}:\n" + "\n".join(problems)
