"""Reads of case data by people outside the laboratory are logged (CJIS 5.4.1.1; ARCHITECTURE.md, Integrity).

Generated from the access matrix: every page an officer or a prosecutor may open (``access_matrix.TABLE`` says
``allowed``) must write an audit event naming that person, unless it is listed in ``NO_CASE_DATA`` with the
reason it shows nothing of a case. A new page an outside user may open therefore fails here until it either
logs the read or is listed with its reason.
"""

from __future__ import annotations

import pytest
from django.test import override_settings

from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from tests.security.access_matrix import ALLOWED, TABLE, ask, matches, module_world, url

pytestmark = pytest.mark.django_db

OUTSIDE_CALLERS = (Role.AGENCY_OFFICER.value, Role.PROSECUTOR.value)

#: Pages an outside user may open that show no case data, and why.
NO_CASE_DATA = {
    "core:home": "the start page: links and the user's own counts",
    "core:notifications": "the user's own notifications (a link to a report, whose opening is logged)",
    "accounts:mfa_verify": "the second sign-in step",
    "accounts:mfa_enrol": "setting up the authenticator",
    "accounts:change_password": "the user's own password",
    "accounts:login": "public",
    "accounts:logout": "signing out (itself an audit event)",
    "reports:verify": "public: checks a report's hash, shows no content",
    "reports:verify_link": "public: checks a report's hash, shows no content",
    "set_language": "the language switch",
    "healthz": "the health check",
    "statistics:index": "a redirect",
    "intake:new": "an empty submission form",
    "intake:kits": "the catalogue of collection kits",
    "evidence:locations": "the laboratory's storage locations (no case data)",
    "evidence:location": "a storage location (no case data)",
    "evidence:location_label": "a storage location's label",
}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory, laboratory_signing_key):
    yield from module_world(django_db_blocker, tmp_path_factory.mktemp("read-logging"))


def _readable_by_outside_users() -> list[tuple[str, str]]:
    return sorted(
        (name, caller)
        for name, route in TABLE.items()
        for caller in OUTSIDE_CALLERS
        if name not in NO_CASE_DATA and not route.post_only and matches(route.expect(caller, "get"), ALLOWED)
    )


def test_the_exemptions_name_real_routes():
    assert not set(NO_CASE_DATA) - set(TABLE)


@pytest.mark.parametrize(("name", "caller"), _readable_by_outside_users())
def test_an_outside_users_read_is_logged(world, name, caller):
    user = world.users[caller]
    seen = AuditEvent.objects.filter(actor=user).count()
    with override_settings(MEDIA_ROOT=world.media):
        response = ask(world.clients[caller], "get", url(world, name), counted=True)
        assert response.status_code == 200, f"{caller}: GET {name} → {response.status_code}"
    written = response.writes.get("audit_auditevent")
    assert written and written[1] > written[0], f"{caller} opened {name} and no audit event was written"
    assert AuditEvent.objects.filter(actor=user).count() == seen  # the request was undone, as the matrix does
