"""Auditors search the audit log and export it as CSV that can be re-verified outside Forensis."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest
from django.urls import reverse

from forensis.accounts.roles import OUTSIDE_ROLES, Role
from forensis.audit.chain import GENESIS_HASH, link_hash
from forensis.audit.models import AuditEvent
from forensis.audit.services import HASHED_FIELDS, record

EXPORT = reverse("audit:event_export")


@pytest.fixture
def auditor(make_user):
    return make_user(Role.AUDITOR, username="auditor")


@pytest.fixture
def events(db):
    return [
        record("case.viewed", object_type="cases.case", object_id=1, after={"n": 1, "text": "ñandú"}),
        record("custody.transferred", object_type="evidence.item", object_id=2, reason='=HYPERLINK("http://x")'),
        record("case.viewed", object_type="cases.case", object_id=3, before={"a": [1, 2]}),
    ]


def _rows(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _hashed_fields(row: dict[str, str]) -> dict:
    """An exported row read back into the values the chain hashed."""
    fields = {}
    for name in HASHED_FIELDS:
        value = row[name]
        if name == "occurred_at":
            value = datetime.fromisoformat(value)
        elif name == "actor_id":
            value = int(value) if value else None
        elif name in ("before", "after"):
            value = json.loads(value) if value else None
        elif value.startswith("'="):
            value = value[1:]
        fields[name] = value
    return fields


def test_the_whole_export_re_verifies_outside_forensis(client_for, auditor, events):
    response = client_for(auditor).get(EXPORT)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="forensis-audit-')
    rows = _rows(response)
    exported = [row for row in rows if int(row["id"]) <= events[-1].pk]
    assert [int(row["id"]) for row in exported] == sorted(
        AuditEvent.objects.filter(pk__lte=events[-1].pk).values_list("id", flat=True)
    )
    previous = GENESIS_HASH
    for row in exported:
        assert row["prev_hash"] == previous
        assert link_hash(_hashed_fields(row), previous) == row["hash"]
        previous = row["hash"]


def test_filters_select_the_events_and_a_formula_is_defused(client_for, auditor, events):
    rows = _rows(client_for(auditor).get(EXPORT, {"action": "custody."}))
    assert [row["action"] for row in rows] == ["custody.transferred"]
    assert rows[0]["reason"] == '\'=HYPERLINK("http://x")'
    rows = _rows(client_for(auditor).get(EXPORT, {"object_type": "cases.case", "object_id": "3"}))
    assert [json.loads(row["before"]) for row in rows] == [{"a": [1, 2]}]


def test_exporting_is_itself_recorded_with_the_filters(client_for, auditor, events):
    client_for(auditor).get(EXPORT, {"action": "case."})
    exported = AuditEvent.objects.filter(action="audit.exported").get()
    assert exported.actor == auditor
    assert exported.after == {"action": "case."}


def test_a_bad_filter_is_named_and_nothing_is_exported(client_for, auditor, events):
    response = client_for(auditor).get(EXPORT, {"since": "last tuesday", "outcome": "maybe"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "From" in text and "Outcome" in text
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_the_list_links_to_the_export_with_its_filters(client_for, auditor, events):
    page = client_for(auditor).get(reverse("audit:event_list"), {"action": "case."}).content.decode()
    assert f'href="{EXPORT}?action=case."' in page


#: Every role a person can hold but the two that read the audit log (partner accounts cannot sign in).
OTHER_ROLES = [role for role in Role if role not in (Role.ADMINISTRATOR, Role.AUDITOR, Role.PARTNER_SYSTEM)]


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_only_auditors_and_administrators_export(client_for, make_user, police, role, events):
    user = make_user(role, agency=police if role in OUTSIDE_ROLES else None)
    response = client_for(user).get(EXPORT)
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_anonymous_is_sent_to_sign_in(client, events):
    response = client.get(EXPORT)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
