"""The custody ledger: append-only on both engines, and every edit made behind the triggers is found by
``verify_ledger`` and ``forensis custody verify``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from forensis.accounts.roles import Role
from forensis.audit.chain import link_hash, record_hasher
from forensis.core import append_only
from forensis.evidence import services as evidence_services
from forensis.evidence.models import CustodyEvent, Item, Purpose
from forensis.evidence.services import HASHED_FIELDS, hand_over, verify_ledger
from forensis.intake import services as intake
from forensis.intake.services import ItemCheck, ItemData
from forensis.lab.models import Discipline

TABLE = "evidence_custodyevent"


def receive_case(officer, custodian, agency_case_number: str, descriptions: list[str]) -> list[Item]:
    """A case received at the laboratory through the intake services: one receipt event per item."""
    serology = Discipline.objects.get(code="serology")
    submission = intake.create_submission(officer)
    intake.update_submission(
        officer,
        submission,
        fields={
            "agency_case_number": agency_case_number,
            "offence_codes": ["0201"],
            "incident_at": timezone.now() - timedelta(days=1),
            "district": "BZ",
        },
        people=[],
        items=[
            ItemData({"type": "clothing", "description": d, "seal_number": f"S-{d[:3]}"}, [serology])
            for d in descriptions
        ],
    )
    intake.submit_submission(officer, submission)
    case = intake.receive_submission(
        custodian,
        submission,
        handed_over_by=officer,
        checks={listed.pk: ItemCheck() for listed in submission.items.all()},
    )
    return list(Item.objects.filter(case=case).order_by("number"))


@pytest.fixture
def custodian(make_user):
    return make_user(Role.EVIDENCE_CUSTODIAN, username="custodian", first_name="Carla", last_name="Castillo")


@pytest.fixture
def analyst(make_user):
    return make_user(Role.ANALYST, username="analyst", first_name="José", last_name="Peña")


@pytest.fixture
def items(officer, custodian, analyst):
    """Two items of one case; the first goes to the analyst and back, so its ledger has three events."""
    items = receive_case(officer, custodian, "BZ-CR-2026-0101", ["Blue T-shirt", "Swab, café stain"])
    hand_over(custodian, items[:1], analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=True, note="Serology")
    hand_over(analyst, items[:1], custodian, purpose=Purpose.STORAGE, confirmed_in_person=True, witness_name="Ana")
    return [Item.objects.get(pk=item.pk) for item in items]


def events_of(item: Item) -> list[CustodyEvent]:
    return list(CustodyEvent.objects.filter(item=item).order_by("sequence"))


def test_ledger_is_chained_and_verifies(items, capsys):
    first = events_of(items[0])
    assert [e.sequence for e in first] == [1, 2, 3]
    assert first[0].prev_hash == "0" * 64 and first[1].prev_hash == first[0].hash
    report = verify_ledger()
    assert report.intact and (report.items, report.events) == (2, 4)
    call_command("custody", "verify")
    assert "Custody ledger intact: 4 events of 2 items verified." in capsys.readouterr().out


# --- the triggers ---------------------------------------------------------------------------------


def ledger_triggers() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE])
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [TABLE])
        return {name for (name,) in cursor.fetchall()}


def test_the_migrated_ledger_table_has_its_triggers(db):
    """On SQLite a migration that rebuilds the table (AlterField, AddField of a foreign key) drops them."""
    expected = {"sqlite": {"no_update", "no_delete"}, "postgresql": {"no_change", "no_truncate"}}[connection.vendor]
    assert ledger_triggers() == {f"{TABLE}_{name}" for name in expected}


@pytest.mark.parametrize(
    "sql", [f"UPDATE {TABLE} SET received_by_name = 'Someone else'", f"DELETE FROM {TABLE}"], ids=["update", "delete"]
)
def test_raw_update_and_delete_are_rejected(items, sql):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert CustodyEvent.objects.count() == 4
    assert not CustodyEvent.objects.filter(received_by_name="Someone else").exists()


def test_orm_update_and_delete_are_rejected(items):
    event = events_of(items[0])[1]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        CustodyEvent.objects.filter(pk=event.pk).update(note="rewritten")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        CustodyEvent.objects.filter(pk=event.pk).delete()
    assert CustodyEvent.objects.get(pk=event.pk).note == "Serology"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's (SQLite has none)")
def test_truncate_is_rejected_on_postgresql(items):
    with connection.cursor() as cursor:  # run the deferred foreign-key checks, or TRUNCATE refuses for them
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {TABLE} CASCADE")
    assert CustodyEvent.objects.count() == 4


# --- edits behind the triggers --------------------------------------------------------------------


@pytest.fixture
def triggers_dropped(db):
    append_only.remove(connection, TABLE)
    yield
    append_only.install(connection, TABLE)


def raw(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_an_edited_event_is_caught(items, triggers_dropped):
    middle = events_of(items[0])[1]
    raw(f"UPDATE {TABLE} SET received_by_name = %s WHERE id = %s", ["Someone else", middle.pk])

    report = verify_ledger()
    assert report.problems == [f"{items[0].label}: event 2 was changed after it was written"]
    assert report.events == 4
    with pytest.raises(CommandError, match=r"(?s)BROKEN: 1 problem.*event 2 was changed after it was written"):
        call_command("custody", "verify")


def test_an_edited_time_is_caught(items, triggers_dropped):
    first = events_of(items[1])[0]
    raw(f"UPDATE {TABLE} SET occurred_at = %s WHERE id = %s", [first.occurred_at - timedelta(hours=2), first.pk])
    assert verify_ledger().problems == [f"{items[1].label}: event 1 was changed after it was written"]


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(items, triggers_dropped):
    middle = events_of(items[0])[1]
    middle.received_by_name = "Someone else"
    forged = link_hash({name: getattr(middle, name) for name in HASHED_FIELDS}, middle.prev_hash)
    raw(f"UPDATE {TABLE} SET received_by_name = %s, hash = %s WHERE id = %s", ["Someone else", forged, middle.pk])

    assert verify_ledger().problems == [f"{items[0].label}: event 3 does not link to the event before it"]


def test_a_deleted_middle_event_is_caught(items, triggers_dropped):
    middle = events_of(items[0])[1]
    raw(f"DELETE FROM {TABLE} WHERE id = %s", [middle.pk])

    report = verify_ledger()
    assert report.problems == [f"{items[0].label}: event 3 follows event 1 (an event is missing or repeated)"]
    with pytest.raises(CommandError, match="event 3 follows event 1"):
        call_command("custody", "verify")


def test_case_option_verifies_only_that_case(items, officer, custodian, triggers_dropped, capsys):
    other = receive_case(officer, custodian, "BZ-CR-2026-0202", ["Knife"])[0]
    raw(f"UPDATE {TABLE} SET note = %s WHERE item_id = %s", ["forged", items[1].pk])

    call_command("custody", "verify", "--case", other.case.lab_number)
    assert "intact: 1 events of 1 items" in capsys.readouterr().out
    assert verify_ledger(CustodyEvent.objects.filter(item__case=other.case)).intact
    with pytest.raises(CommandError, match=items[1].label):
        call_command("custody", "verify", "--case", items[0].case.lab_number)
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("custody", "verify")
    with pytest.raises(CommandError, match="No case NOPE"):
        call_command("custody", "verify", "--case", "NOPE")


# --- the fast hash path ---------------------------------------------------------------------------


SAMPLES = [
    "",
    "plain",
    'quote " backslash \\ slash /',
    "line\nbreak\ttab\r\x00\x1f control",
    "José Peña › Bóveda “A” — ñandú 🧪",
    "\u2028\u2029 separators",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_record_hasher_writes_the_same_hash_as_link_hash(text):
    names = ("zeta", "alpha", "moment", "when", "count", "flag", "nothing", "amount", "text", "day")
    values = [
        text,
        -42,
        datetime(2026, 3, 1, 14, 5, 9, 120, tzinfo=UTC),
        datetime(2026, 3, 1, 8, 5, tzinfo=timezone.get_fixed_timezone(-360)),
        2**70,
        False,
        None,
        Decimal("12.5000"),
        text[::-1],
        date(2026, 3, 1),
    ]
    expected = link_hash(dict(zip(names, values, strict=True)), "ab" * 32)
    assert record_hasher(names)(values, "ab" * 32) == expected


def test_record_hasher_matches_every_stored_event(items):
    hasher = record_hasher(HASHED_FIELDS)
    rows = CustodyEvent.objects.values_list("prev_hash", "hash", *HASHED_FIELDS)
    assert [hasher(row[2:], row[0]) for row in rows] == [row[1] for row in rows]


def test_a_fast_path_mismatch_is_rechecked_before_it_is_reported(items, monkeypatch):
    monkeypatch.setattr(evidence_services, "record_hasher", lambda names: lambda values, prev: "not a hash")
    assert verify_ledger().intact


def test_verify_streams_in_chunks(items):
    report = verify_ledger(chunk_size=1)
    assert report.intact and report.events == 4
