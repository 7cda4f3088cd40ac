"""The legacy import on the shipped sample: exact, repeatable, provenance kept, reconciled, never inventing custody."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from forensis.cases.models import Case, Person
from forensis.evidence.models import CustodyEvent, Item, Purpose
from forensis.evidence.services import gap_check, verify_ledger
from forensis.legacy.mapping import load_mapping
from forensis.legacy.models import BatchStatus, ImportBatch, LegacyRecord, LegacyResult, Rejection
from forensis.legacy.pipeline import run_import

from .conftest import SAMPLE, edit_csv

SOURCE = "sample-access-export"
BELIZE = ZoneInfo("America/Belize")
#: What the sample must give (data/README.txt): Forensis records per entity.
EXPECTED = {"cases": 16, "people": 18, "items": 41, "results": 18, "locations": 34}
#: Every rejection of the sample: (source, row, column, kind), and a part of its reason.
EXPECTED_REJECTIONS = {
    ("cases.csv", 7, "DateRecd", "invalid_received_at"): "'31/02/2019' is not a date",
    ("cases.csv", 11, "DateRecd", "invalid_received_at"): "'12/08/2091' is in the future",
    ("cases.csv", 12, "District", "invalid_district"): "'Burrell Boom' is not in the map 'districts'",
    ("cases.csv", 17, "CaseID", "conflicting_duplicate"): "conflicting duplicate of key 1016: rows 17, 22",
    ("cases.csv", 22, "CaseID", "conflicting_duplicate"): "conflicting duplicate of key 1016: rows 17, 22",
    ("people.csv", 9, "CaseID", "orphan"): "orphan: its case 1006 was rejected",
    ("people.csv", 21, "CaseID", "orphan"): "orphan: its case 1016 was rejected",
    ("exhibits.csv", 14, "CaseID", "orphan"): "orphan: its case 1006 was rejected",
    ("exhibits.csv", 30, "ExhibitID", "missing_key"): "missing key",
    ("exhibits.csv", 46, "CaseID", "orphan"): "orphan: there is no case 1099 in the source",
    ("exhibits.csv", 47, "CaseID", "orphan"): "orphan: its case 1011 was rejected",
    ("exhibits.csv", 48, "CaseID", "orphan"): "orphan: its case 1016 was rejected",
    ("results.csv", 19, "ExhibitID", "missing_item"): "its item E013 was rejected",
    ("results.csv", 20, "ExhibitID", "missing_item"): "its item E039 was rejected",
    ("results.csv", 21, "ExhibitID", "missing_item"): "there is no item E099 in the source",
    ("locations.csv", 12, "ExhibitID", "missing_item"): "its item E013 was rejected",
}

pytestmark = pytest.mark.django_db


def run(mapping, actor, tmp_path, name="report", **options):
    return run_import(mapping, actor=actor, report_dir=tmp_path / name, **options)


def counts():
    return {
        "cases": Case.objects.filter(legacy_source=SOURCE).count(),
        "people": Person.objects.filter(legacy_source=SOURCE).count(),
        "items": Item.objects.filter(legacy_source=SOURCE).count(),
        "results": LegacyResult.objects.filter(legacy_source=SOURCE).count(),
        "locations": LegacyRecord.objects.filter(legacy_source=SOURCE, entity="locations").count(),
    }


def dump() -> list:
    """Every migrated record as plain values, without database keys or batches (a canonical end state)."""
    cases = [
        (c.legacy_id, c.lab_number, c.agency.code, c.received_at, c.received_month, c.agency_case_number, c.district)
        + (c.incident_at, c.town, c.narrative, tuple(c.offences.values_list("code", flat=True)))
        for c in Case.objects.filter(legacy_source=SOURCE).order_by("legacy_id")
    ]
    people = list(
        Person.objects.filter(legacy_source=SOURCE)
        .order_by("legacy_id")
        .values_list("legacy_id", "case__legacy_id", "role", "name", "sex", "age")
    )
    items = list(
        Item.objects.filter(legacy_source=SOURCE)
        .order_by("legacy_id")
        .values_list(
            "legacy_id", "case__legacy_id", "label", "type", "description", "quantity", "seal_number", "received_at"
        )
    )
    amounts = list(
        Item.objects.filter(legacy_source=SOURCE)
        .order_by("legacy_id")
        .values_list("amount_received", "amount_remaining", "amount_unit", "biological", "holder", "location")
    )
    events = list(
        CustodyEvent.objects.filter(item__legacy_source=SOURCE)
        .order_by("item__legacy_id", "sequence")
        .values_list(
            "item__legacy_id",
            "sequence",
            "occurred_at",
            "purpose",
            "released_by_name",
            "received_by_name",
            "location",
            "note",
        )
    )
    results = list(
        LegacyResult.objects.filter(legacy_source=SOURCE)
        .order_by("legacy_id")
        .values_list("legacy_id", "item__legacy_id", "discipline__code", "result", "value", "unit", "reported_at")
    )
    fingerprints = list(
        LegacyRecord.objects.filter(legacy_source=SOURCE)
        .order_by("entity", "legacy_id")
        .values_list("entity", "legacy_id", "fingerprint")
    )
    return [cases, people, items, amounts, events, results, fingerprints]


# --- every valid row arrives, exactly once, with its provenance ------------------------------------------


def test_every_valid_row_arrives_exactly_once_with_provenance(importer, sample_mapping, tmp_path):
    batch = run(sample_mapping, importer, tmp_path)

    assert batch.status == BatchStatus.COMPLETED
    assert batch.number.startswith("IMP-")
    assert counts() == EXPECTED
    for model in (Case, Person, Item, LegacyResult):
        rows = model.objects.filter(legacy_source=SOURCE)
        assert not rows.filter(legacy_id="").exists()
        assert set(rows.values_list("import_batch", flat=True)) == {batch.pk}
    assert sorted(Case.objects.filter(legacy_source=SOURCE).values_list("legacy_id", flat=True)) == [
        "1001", "1002", "1003", "1004", "1005", "1007", "1008", "1009",
        "1012", "1013", "1014", "1015", "1017", "1018", "1019", "1020",
    ]  # fmt: skip
    entities = batch.counts["entities"]
    assert {name: entities[name]["created"] for name in EXPECTED} == EXPECTED
    assert entities["cases"]["collapsed"] == 1 and entities["items"]["collapsed"] == 1
    assert entities["cases"]["read"] == 22 and entities["items"]["read"] == 47


def test_values_are_transformed_as_the_mapping_says(importer, sample_mapping, tmp_path):
    run(sample_mapping, importer, tmp_path)

    first = Case.objects.get(legacy_source=SOURCE, legacy_id="1001")
    assert (first.lab_number, first.agency.code, first.district) == ("FSL-2018-0001", "BPD-BZ", "BZ")
    assert first.received_at == datetime(2018, 3, 14, tzinfo=BELIZE)
    assert first.received_month == "2018-03"
    assert Case.objects.get(legacy_id="1002").lab_number == "FSL-2018-0002"  # " FSL-2018-0002 " trimmed
    assert Case.objects.get(legacy_id="1004").received_at == datetime(2018, 9, 30, 10, 15, tzinfo=BELIZE)
    assert list(Case.objects.get(legacy_id="1008").offences.values_list("code", flat=True)) == ["0101", "09011"]
    assert Case.objects.get(legacy_id="1005").narrative == "Break-in; blood on the window frame."
    assert Person.objects.get(legacy_id="P004").name == "Rosa Méndez"  # cp1252
    assert Person.objects.get(legacy_id="P002").sex == "U"
    assert Person.objects.get(legacy_id="P016").role == "reference"

    labels = list(Item.objects.filter(case=first).order_by("number").values_list("legacy_id", "label"))
    assert labels == [
        ("E001", "FSL-2018-0001/01"),
        ("E002", "FSL-2018-0001/02"),
        ("E003", "FSL-2018-0001/03"),
        ("E004", "FSL-2018-0001/04"),
        ("E043", "FSL-2018-0001/05"),
    ]
    powder = Item.objects.get(legacy_id="E014")
    assert (powder.type, powder.amount_received, powder.amount_unit) == ("seized_drugs", Decimal("1.02"), "kg")
    assert Item.objects.get(legacy_id="E005").amount_received == Decimal("28.4")
    assert Item.objects.get(legacy_id="E001").received_at == first.received_at  # the case's date
    assert Item.objects.get(legacy_id="E003").received_at == datetime(2018, 3, 15, tzinfo=BELIZE)
    assert Item.objects.get(legacy_id="E006").biological
    ethanol = LegacyResult.objects.get(legacy_id="R011")
    assert (ethanol.discipline.code, ethanol.value, ethanol.unit) == ("toxicology", Decimal("0.12"), "g/100 mL")
    assert ethanol.reported_at == datetime(2020, 7, 2, tzinfo=BELIZE)
    assert (ethanol.item.legacy_id, ethanol.case.legacy_id, ethanol.analyst) == ("E025", "1013", "K. Arzu")


# --- every defect is rejected with its reason ------------------------------------------------------------


def test_each_defect_is_rejected_with_its_reason(importer, sample_mapping, tmp_path):
    batch = run(sample_mapping, importer, tmp_path)

    stored = {(r.source_table, r.row_number, r.column, r.code): r.reason for r in Rejection.objects.filter(batch=batch)}
    assert stored.keys() == EXPECTED_REJECTIONS.keys()
    for key, reason in EXPECTED_REJECTIONS.items():
        assert reason in stored[key], (key, stored[key])

    with (tmp_path / "report" / "rejections.csv").open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.DictReader(file))
    assert {(r["source"], int(r["row"]), r["column"], r["kind"]) for r in rows} == EXPECTED_REJECTIONS.keys()
    impossible = next(r for r in rows if r["row"] == "7" and r["source"] == "cases.csv")
    assert impossible["value"] == "31/02/2019"
    assert list(rows[0]) == ["source", "row", "column", "value", "reason", "entity", "legacy_id", "kind"]
    summary = (tmp_path / "report" / "summary.txt").read_text()
    assert "conflicting duplicate" in summary and "orphan" in summary


def test_a_lab_number_already_used_in_forensis_is_rejected(importer, sample_mapping, tmp_path, sample_agencies):
    Case.objects.create(
        lab_number="FSL-2022-0002",
        agency=sample_agencies["BPD-CY"],
        agency_case_number="X",
        received_at=datetime(2022, 3, 1, tzinfo=BELIZE),
        received_month="2022-03",
        created_by=importer,
    )
    batch = run(sample_mapping, importer, tmp_path)

    rejection = Rejection.objects.get(batch=batch, code="lab_number_in_use")
    assert (rejection.legacy_id, rejection.row_number, rejection.column) == ("1020", 23, "CaseNo")
    assert "already used in Forensis by a case opened in Forensis" in rejection.reason
    assert not Case.objects.filter(legacy_id="1020").exists()
    orphans = Rejection.objects.filter(batch=batch, code="orphan", value="1020")
    assert sorted(orphans.values_list("legacy_id", flat=True)) == ["E037", "E038", "E045", "P019"]
    assert all(line["explained"] for line in batch.counts["reconciliation"])


# --- repeatable ----------------------------------------------------------------------------------------


def test_a_second_run_changes_nothing(importer, sample_mapping, tmp_path):
    run(sample_mapping, importer, tmp_path, "first")
    before, state = counts(), dump()
    audit_events = AuditEvent.objects.count()

    second = run(sample_mapping, importer, tmp_path, "second")

    entities = second.counts["entities"]
    assert {name: entities[name]["created"] for name in EXPECTED} == dict.fromkeys(EXPECTED, 0)
    assert {name: entities[name]["updated"] for name in EXPECTED} == dict.fromkeys(EXPECTED, 0)
    assert {name: entities[name]["unchanged"] for name in EXPECTED} == EXPECTED
    assert counts() == before and dump() == state
    new_events = AuditEvent.objects.order_by("pk")[audit_events:]
    assert [event.action for event in new_events] == ["legacy.import_started", "legacy.import_completed"]
    assert not AuditEvent.objects.filter(action="legacy.corrected").exists()


def test_a_rerun_after_a_correction_updates_only_what_changed(importer, sample_copy, tmp_path):
    mapping = load_mapping(sample_copy / "mapping.toml")
    first = run(mapping, importer, tmp_path, "first")
    jacket = Item.objects.get(legacy_source=SOURCE, legacy_id="E026")
    label, events = jacket.label, list(jacket.custody_events.values_list("hash", flat=True))
    others = [row for row in dump()[2] if row[0] != "E026"]

    edit_csv(sample_copy / "data" / "exhibits.csv", "Black jacket", "Black leather jacket")
    second = run(mapping, importer, tmp_path, "second")

    items = second.counts["entities"]["items"]
    assert (items["created"], items["updated"], items["unchanged"]) == (0, 1, EXPECTED["items"] - 1)
    for entity in ("cases", "people", "results", "locations"):
        assert second.counts["entities"][entity]["updated"] == 0
    jacket.refresh_from_db()
    assert jacket.description == "Black leather jacket"
    assert (jacket.label, jacket.import_batch_id) == (label, second.pk)
    assert list(jacket.custody_events.values_list("hash", flat=True)) == events  # the ledger is never rewritten
    assert [row for row in dump()[2] if row[0] != "E026"] == others
    correction = AuditEvent.objects.get(action="legacy.corrected")
    assert (correction.object_type, correction.object_id) == ("evidence.item", str(jacket.pk))
    assert correction.before == {"description": "Black jacket"}
    assert correction.after == {"description": "Black leather jacket"}
    assert second.number in correction.reason
    assert Item.objects.filter(legacy_source=SOURCE).exclude(pk=jacket.pk).filter(import_batch=first).count() == 40

    third = run(mapping, importer, tmp_path, "third")
    assert third.counts["totals"]["updated"] == 0
    assert AuditEvent.objects.filter(action="legacy.corrected").count() == 1


def test_a_changed_location_is_rejected_not_written_into_the_ledger(importer, sample_copy, tmp_path):
    mapping = load_mapping(sample_copy / "mapping.toml")
    run(mapping, importer, tmp_path, "first")
    edit_csv(sample_copy / "data" / "locations.csv", "L014;1007;E014;Drug vault;", "L014;1007;E014;Drug safe 2;")

    second = run(mapping, importer, tmp_path, "second")

    rejection = Rejection.objects.get(batch=second, legacy_id="L014")
    assert rejection.code == "ledger_not_rewritten"
    event = CustodyEvent.objects.get(item__legacy_id="E014")
    assert event.location == "last known location: Drug vault"
    assert all(line["explained"] for line in second.counts["reconciliation"])


def test_an_import_killed_half_way_and_run_again_ends_as_an_uninterrupted_one(importer, sample_mapping, tmp_path):
    with transaction.atomic():
        run(sample_mapping, importer, tmp_path, "whole", chunk_size=5)
        uninterrupted = dump()
        transaction.set_rollback(True)
    assert not Case.objects.filter(legacy_source=SOURCE).exists()

    class Killed(Exception):
        pass

    def kill(index, saved):
        raise Killed

    with pytest.raises(Killed):
        run(sample_mapping, importer, tmp_path, "killed", chunk_size=5, after_chunk=kill)
    assert Case.objects.filter(legacy_source=SOURCE).count() == 5  # the first chunk committed, whole
    killed = ImportBatch.objects.get(status=BatchStatus.FAILED)
    # kill -9 leaves no time to write anything: the batch stays "running", its process gone.
    ImportBatch.objects.filter(pk=killed.pk).update(status=BatchStatus.RUNNING, error="", pid=2**22 + 12345)

    again = run(sample_mapping, importer, tmp_path, "again", chunk_size=5)

    killed.refresh_from_db()
    assert killed.status == BatchStatus.INTERRUPTED
    assert again.status == BatchStatus.COMPLETED
    assert again.counts["entities"]["cases"]["unchanged"] == 5
    assert again.counts["entities"]["cases"]["created"] == EXPECTED["cases"] - 5
    assert dump() == uninterrupted
    assert verify_ledger().intact and gap_check() == []


# --- reports ---------------------------------------------------------------------------------------------


def test_the_reconciliation_balances_per_entity_and_year(importer, sample_mapping, tmp_path):
    run(sample_mapping, importer, tmp_path)

    with (tmp_path / "report" / "reconciliation.csv").open(encoding="utf-8-sig", newline="") as file:
        lines = list(csv.DictReader(file))
    assert lines
    for line in lines:
        numbers = [int(line[name]) for name in ("imported", "rejected", "duplicates_collapsed", "skipped_by_limit")]
        assert int(line["rows_in_source"]) == sum(numbers), line
        assert line["difference_explained"] == "yes"
    totals = {line["entity"]: line for line in lines if line["year"] == "all"}
    assert {entity: int(line["imported"]) for entity, line in totals.items()} == EXPECTED
    assert (totals["cases"]["rows_in_source"], totals["cases"]["rejected"]) == ("22", "5")
    cases_2021 = next(line for line in lines if line["entity"] == "cases" and line["year"] == "2021")
    assert [cases_2021[name] for name in ("rows_in_source", "imported", "rejected", "duplicates_collapsed")] == [
        "6",
        "3",
        "2",
        "1",
    ]
    unknown = next(line for line in lines if line["entity"] == "cases" and line["year"] == "unknown")
    assert (unknown["rows_in_source"], unknown["rejected"]) == ("2", "2")  # the impossible and the future date


# --- custody: one migrated event, never an invented history ----------------------------------------------


def test_migrated_items_have_exactly_one_migrated_custody_event(importer, sample_mapping, tmp_path):
    run(sample_mapping, importer, tmp_path)

    items = Item.objects.filter(legacy_source=SOURCE)
    assert CustodyEvent.objects.filter(item__in=items).count() == items.count() == EXPECTED["items"]
    for item in items.prefetch_related("custody_events"):
        (event,) = item.custody_events.all()
        assert (event.sequence, event.purpose) == (1, Purpose.MIGRATED)
        assert (event.released_by_id, event.received_by_id, event.storage_location_id) == (None, None, None)
        assert event.released_by_name == f"Legacy records ({SOURCE})"
        assert (item.holder_id, item.location_id, item.custody_sequence) == (None, None, 1)
    vault = CustodyEvent.objects.get(item__legacy_id="E014")
    assert vault.location == "last known location: Drug vault"
    dated = CustodyEvent.objects.get(item__legacy_id="E005")
    assert dated.occurred_at == datetime(2018, 5, 21, tzinfo=BELIZE)  # "as of" 21/05/2018
    unknown = CustodyEvent.objects.get(item__legacy_id="E009")
    assert unknown.location == "last known location: unknown"
    assert unknown.occurred_at == Item.objects.get(legacy_id="E009").received_at
    assert "no custody history" in unknown.note
    report = verify_ledger()
    assert report.intact and report.events == EXPECTED["items"]
    assert gap_check() == []


# --- dry run, limit, scoping -----------------------------------------------------------------------------


def test_a_dry_run_saves_nothing(importer, sample_mapping, tmp_path):
    batch = run(sample_mapping, importer, tmp_path, dry_run=True)

    assert counts() == dict.fromkeys(EXPECTED, 0)
    assert not CustodyEvent.objects.exists() and not LegacyRecord.objects.exists()
    assert not AuditEvent.objects.filter(action__in=["legacy.imported", "legacy.corrected"]).exists()
    assert batch.dry_run and batch.status == BatchStatus.COMPLETED
    assert {name: batch.counts["entities"][name]["created"] for name in EXPECTED} == EXPECTED
    assert Rejection.objects.filter(batch=batch).count() == len(EXPECTED_REJECTIONS)
    assert all(line["explained"] for line in batch.counts["reconciliation"])
    assert "DRY RUN" in (tmp_path / "report" / "summary.txt").read_text()


def test_a_limited_run_imports_the_first_cases_and_skips_the_rest(importer, sample_mapping, tmp_path):
    batch = run(sample_mapping, importer, tmp_path, limit=3)

    assert sorted(Case.objects.values_list("legacy_id", flat=True)) == ["1001", "1002", "1003"]
    assert Item.objects.count() == 5 + 1 + 3
    assert batch.counts["entities"]["cases"]["skipped"] == 22 - 3
    assert all(line["explained"] for line in batch.counts["reconciliation"])


def test_migrated_cases_are_scoped_to_their_agency(importer, sample_mapping, tmp_path, make_user, sample_agencies):
    run(sample_mapping, importer, tmp_path)
    belize = make_user(Role.AGENCY_OFFICER, agency=sample_agencies["BPD-BZ"])
    cayo = make_user(Role.AGENCY_OFFICER, agency=sample_agencies["BPD-CY"])

    assert Case.objects.visible_to(belize).filter(legacy_id="1001").exists()
    assert not Case.objects.visible_to(cayo).filter(legacy_id="1001").exists()
    assert Case.objects.visible_to(cayo).filter(legacy_id="1002").exists()
    assert not Case.objects.visible_to(belize).filter(legacy_id="1002").exists()
    assert not LegacyResult.objects.visible_to(cayo).filter(legacy_id="R001").exists()
    assert set(Case.objects.visible_to(importer).values_list("legacy_id", flat=True)) >= {"1001", "1002"}


# --- the command -----------------------------------------------------------------------------------------


def test_only_an_administrator_may_import(make_user, sample_agencies, sample_mapping, tmp_path):
    custodian = make_user(Role.EVIDENCE_CUSTODIAN)
    with pytest.raises(PermissionDenied):
        run(sample_mapping, custodian, tmp_path)
    assert not ImportBatch.objects.exists()


def test_the_command_prints_the_summary(importer, tmp_path):
    out = StringIO()
    call_command(
        "import_legacy",
        "--mapping",
        str(SAMPLE / "mapping.toml"),
        "--dry-run",
        "--report",
        str(tmp_path / "cli"),
        stdout=out,
    )
    text = out.getvalue()
    assert "DRY RUN" in text and "cases" in text and str(tmp_path / "cli") in text
    assert (tmp_path / "cli" / "rejections.csv").exists()
    assert ImportBatch.objects.get().started_by == importer


def test_the_command_explains_a_bad_mapping(importer, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[source]\nname = "x"\nkind = "csv"\npath = "nowhere"\n')
    with pytest.raises(CommandError, match="mapping file has problems"):
        call_command("import_legacy", "--mapping", str(bad))


def test_the_command_explains_an_unreadable_source(importer, sample_copy):
    (sample_copy / "data" / "people.csv").unlink()
    with pytest.raises(CommandError, match="source cannot be read"):
        call_command("import_legacy", "--mapping", str(Path(sample_copy) / "mapping.toml"))
    assert ImportBatch.objects.get().status == BatchStatus.FAILED


def test_codes_forensis_does_not_know_are_rejected(importer, sample_copy, tmp_path):
    """The mapping may send a text to a code that is not Forensis's: each kind is caught with its reason."""
    mapping_file = sample_copy / "mapping.toml"
    text = mapping_file.read_text()
    for old, new in [
        ('"Cayo Police" = "BPD-CY"', '"Cayo Police" = "BPD-XX"'),  # agency
        ('"Firearm possession" = "09011"', '"Firearm possession" = "9999"'),  # ICCS
        ('"Knife" = "other"', '"Knife" = "blade"'),  # item type
        ('"Toxicology" = "toxicology"', '"Toxicology" = "tox"'),  # discipline
        ('"?" = "U"', '"?" = "X"'),  # sex
        ('"Ref. sample" = "reference"', '"Ref. sample" = "witness"'),  # role
        ('"Belize Dist." = "BZ"', '"Belize Dist." = "BD"'),  # district
    ]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    mapping_file.write_text(text)
    data = sample_copy / "data"
    edit_csv(data / "results.csv", "R001;1001;E001", "R001;1002;E001")  # an item of another case
    edit_csv(data / "cases.csv", "1019;FSL-2022-0001", "1019;FSL-2020-0003")  # one lab number, two cases
    edit_csv(data / "cases.csv", "1009;FSL-2019-0005", "1009;FSL/2019/0005")  # a number unfit for labels

    batch = run(load_mapping(mapping_file), importer, tmp_path)

    found = {(r.legacy_id, r.code): r for r in Rejection.objects.filter(batch=batch)}
    expected = {
        ("1002", "unknown_agency"): "BPD-XX is not a known agency code",
        ("1009", "lab_number_unusable"): "FSL/2019/0005 has characters",
        ("1003", "unknown_district"): "BD is not a known district code",
        ("1008", "unknown_offence"): "9999 is not a known ICCS offence code",
        ("E031", "unknown_item_type"): "blade is not a known item type",
        ("R011", "unknown_discipline"): "tox is not a known discipline",
        ("P002", "unknown_sex"): "X is not a known sex",
        ("P016", "unknown_role"): "witness is not a known role",
        ("R001", "item_of_other_case"): "its item E001 belongs to case 1001, not to case 1002",
        ("1013", "lab_number_duplicate"): "FSL-2020-0003 is used by several cases of the source (keys 1013, 1019)",
        ("1019", "lab_number_duplicate"): "FSL-2020-0003 is used by several cases of the source (keys 1013, 1019)",
    }
    for key, reason in expected.items():
        assert key in found, key
        assert reason in found[key].reason, (key, found[key].reason)
    assert found[("1002", "unknown_agency")].column == "Agency"
    assert found[("1002", "unknown_agency")].value == "Cayo Police"
    assert not Case.objects.filter(legacy_id__in=["1002", "1003", "1008", "1009", "1013", "1019"]).exists()
    assert all(line["explained"] for line in batch.counts["reconciliation"])


def test_creations_are_audited_once_per_chunk_and_entity(importer, sample_mapping, tmp_path):
    batch = run(sample_mapping, importer, tmp_path, chunk_size=5)

    imported = AuditEvent.objects.filter(action="legacy.imported")
    by_entity: dict[str, list[str]] = {}
    for event in imported:
        assert event.after["batch"] == batch.number and event.actor_username == "importer"
        by_entity.setdefault(event.after["entity"], []).extend(event.after["legacy_ids"])
    assert imported.filter(after__entity="cases").count() == 4  # 16 cases in chunks of 5
    assert {entity: len(ids) for entity, ids in by_entity.items()} == {
        "cases": 16,
        "people": 18,
        "items": 41,
        "results": 18,
    }
    assert len(set(by_entity["items"])) == 41


def test_the_progress_line_rewrites_itself():
    from forensis.legacy.management.commands.import_legacy import ProgressLine

    out = StringIO()
    line = ProgressLine(out)
    line("cases", 1234, 30000)
    line("saving", 5, None)
    line.end()
    first = "cases 1,234 / 30,000 (4%)"
    assert out.getvalue() == f"\r{first}\r{'saving 5'.ljust(len(first))}\n"
