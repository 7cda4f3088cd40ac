import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from forensis.audit.models import AuditEvent
from forensis.audit.services import record, verify_chain
from forensis.core import append_only

TABLE = "audit_auditevent"


@pytest.fixture
def events(db):
    return [record("test.event", object_type="thing", object_id=i, after={"n": i, "text": "ñandú"}) for i in range(5)]


def test_events_are_chained(events):
    assert events[0].prev_hash == "0" * 64
    for earlier, later in zip(events, events[1:], strict=False):
        assert later.prev_hash == earlier.hash
    report = verify_chain()
    assert report.intact and report.checked == 5


@pytest.mark.parametrize("sql", [f"UPDATE {TABLE} SET action = 'forged'", f"DELETE FROM {TABLE}"])
def test_raw_update_and_delete_are_rejected(events, sql):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert AuditEvent.objects.filter(action="test.event").count() == 5


def test_orm_update_is_rejected(events):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=events[2].pk).update(reason="rewritten")


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_truncate_is_rejected_on_postgresql(events):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {TABLE}")


@pytest.fixture
def triggers_dropped(db):
    append_only.remove(connection, TABLE)
    yield
    append_only.install(connection, TABLE)


def test_verify_names_an_edit_made_behind_the_triggers(events, triggers_dropped):
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET after = %s WHERE id = %s", ['{"n": 99}', events[2].pk])
    report = verify_chain()
    assert not report.intact
    assert report.broken_id == events[2].pk
    assert "changed" in report.problem
    with pytest.raises(CommandError, match=f"BROKEN at event #{events[2].pk}"):
        call_command("audit", "verify")


def test_verify_names_a_removed_event(events, triggers_dropped):
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [events[1].pk])
    report = verify_chain()
    assert report.broken_id == events[2].pk
    assert "removed or inserted" in report.problem


def test_verify_command_reports_intact_chain(events, capsys):
    call_command("audit", "verify")
    assert "intact: 5 events" in capsys.readouterr().out


def test_record_keeps_actor_details(admin_user):
    event = record("thing.done", actor=admin_user, obj=admin_user.agency, reason="because")
    assert event.actor_username == "admin"
    assert event.actor_roles == "administrator"
    assert event.actor_agency == "LAB"
    assert event.object_type == "accounts.agency"
    assert event.object_id == str(admin_user.agency.pk)
