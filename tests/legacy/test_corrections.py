"""Migrated records are read-only; they change only through an audited correction (re-import or by hand)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from forensis.cases.models import Case, Person
from forensis.core.corrections import MigratedRecordReadOnly, correct_migrated
from forensis.evidence.models import Item
from forensis.evidence.services import record_amount, set_legal_hold
from forensis.legacy.models import LegacyResult
from forensis.legacy.pipeline import run_import

pytestmark = pytest.mark.django_db
BELIZE = ZoneInfo("America/Belize")


@pytest.fixture
def imported(importer, sample_mapping, tmp_path):
    return run_import(sample_mapping, actor=importer, report_dir=tmp_path / "report")


@pytest.fixture
def case(imported):
    return Case.objects.filter(legacy_source="sample-access-export").order_by("legacy_id").first()


@pytest.fixture
def corrector(make_user):
    return make_user(Role.LAB_MANAGER, username="corrector")


# --- read-only --------------------------------------------------------------------------------------------


def test_a_migrated_record_refuses_a_plain_save_of_its_imported_fields(case):
    narrative = case.narrative
    case.narrative = "rewritten"
    with pytest.raises(MigratedRecordReadOnly, match="audited correction"):
        case.save()
    with pytest.raises(MigratedRecordReadOnly):
        case.save(update_fields=["narrative"])
    case.refresh_from_db()
    assert case.narrative == narrative


@pytest.mark.parametrize("model", [Person, Item, LegacyResult])
def test_every_kind_of_migrated_record_is_read_only(imported, model):
    obj = model.objects.filter(legacy_source="sample-access-export").first()
    name = {Person: "name", Item: "description", LegacyResult: "result"}[model]
    setattr(obj, name, "changed by hand")
    with pytest.raises(MigratedRecordReadOnly):
        obj.save(update_fields=[name])


def test_work_done_in_forensis_on_a_migrated_item_goes_on(imported, make_user):
    item = Item.objects.filter(legacy_source="sample-access-export", amount_received__isnull=True).first()
    custodian = make_user(Role.EVIDENCE_CUSTODIAN)
    set_legal_hold(custodian, item, True, "Court order 12/2026")
    record_amount(custodian, item, Decimal("12.5"), "g")
    item.refresh_from_db()
    assert item.legal_hold and item.amount_received == Decimal("12.5")


def test_a_record_made_in_forensis_saves_as_before(imported, case):
    case.legacy_id = ""  # as if made here: the guard looks at the record's own provenance
    case.narrative = "free to change"
    Case.objects.filter(pk=case.pk).update(legacy_id="")
    case.save(update_fields=["narrative"])
    case.refresh_from_db()
    assert case.narrative == "free to change"


# --- corrections by hand ----------------------------------------------------------------------------------


def test_a_correction_by_hand_is_applied_and_audited_with_its_reason(case, corrector):
    before = case.narrative
    assert correct_migrated(corrector, case, {"narrative": "Corrected narrative"}, reason="Typo in the old register")
    case.refresh_from_db()
    assert case.narrative == "Corrected narrative"
    event = AuditEvent.objects.filter(action="legacy.corrected", object_id=str(case.pk)).latest("pk")
    assert event.before == {"narrative": before}
    assert event.after == {"narrative": "Corrected narrative"}
    assert event.reason == "Typo in the old register"
    assert event.actor_username == "corrector"


def test_correcting_the_date_of_receipt_moves_the_stored_month(case, corrector):
    moment = datetime(2017, 3, 4, 10, 0, tzinfo=BELIZE)
    correct_migrated(corrector, case, {"received_at": moment}, reason="Date typed wrong in 2017")
    case.refresh_from_db()
    assert (case.received_at, case.received_month) == (moment, "2017-03")


def test_nothing_differing_changes_nothing_and_writes_no_event(case, corrector):
    events = AuditEvent.objects.count()
    assert correct_migrated(corrector, case, {"town": case.town}, reason="checked") is False
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    ("changes", "reason", "words"),
    [
        ({"narrative": "x"}, "  ", "Say why"),
        ({"lab_number": "X-1"}, "renumber", "cannot be corrected"),
        ({"district": "XX"}, "wrong district", "not a valid choice"),
    ],
)
def test_a_bad_correction_is_refused_and_changes_nothing(case, corrector, changes, reason, words):
    snapshot = Case.objects.filter(pk=case.pk).values().get()
    with pytest.raises(ValidationError, match=words):
        correct_migrated(corrector, case, changes, reason=reason)
    assert Case.objects.filter(pk=case.pk).values().get() == snapshot


def test_only_holders_of_the_permission_may_correct(case, make_user):
    analyst = make_user(Role.ANALYST)
    with pytest.raises(PermissionDenied):
        correct_migrated(analyst, case, {"narrative": "x"}, reason="because")


def test_a_record_made_in_forensis_is_not_corrected_this_way(imported, corrector, officer):
    person = Person.objects.filter(legacy_id="").first() or Person.objects.create(
        case=Case.objects.first(), role="victim", name="Made here"
    )
    with pytest.raises(ValidationError, match="made in Forensis"):
        correct_migrated(corrector, person, {"name": "x"}, reason="because")


def test_a_correction_by_hand_survives_a_re_import_of_the_unchanged_source(
    case, corrector, importer, sample_mapping, tmp_path
):
    correct_migrated(corrector, case, {"town": "Corrected Town"}, reason="Confirmed with the police")
    again = run_import(sample_mapping, actor=importer, report_dir=tmp_path / "again")
    case.refresh_from_db()
    assert case.town == "Corrected Town"
    assert again.counts["entities"]["cases"]["updated"] == 0
