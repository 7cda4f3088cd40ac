"""Custody services: moves, hand-overs, transfers, sub-items, amounts and the gap check."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from forensis.accounts.roles import Role
from forensis.evidence import services
from forensis.evidence.demo import seed_storage
from forensis.evidence.models import (
    CustodyEvent,
    Item,
    ItemType,
    LocationKind,
    Purpose,
    StorageLocation,
    Transfer,
    TransferStatus,
)
from forensis.intake import services as intake
from forensis.lab.models import Discipline


def receive_case(officer, custodian, *descriptions: str, agency_case_number: str = "BZ-CR-2026-0042") -> list[Item]:
    """A case received at the laboratory through the intake services; its items, held by ``custodian``."""
    serology = list(Discipline.objects.filter(code="serology"))
    submission = intake.create_submission(officer)
    intake.update_submission(
        officer,
        submission,
        fields={
            "agency_case_number": agency_case_number,
            "offence_codes": ["0101"],
            "district": "BZ",
            "town": "Belize City",
            "incident_at": timezone.now() - timedelta(days=1),
        },
        people=[],
        items=[
            intake.ItemData({"type": "clothing", "description": d, "quantity": 1, "seal_number": f"S-{n}"}, serology)
            for n, d in enumerate(descriptions or ("Blue T-shirt", "Swab from door handle"), start=1)
        ],
    )
    submission = intake.submit_submission(officer, submission)
    checks = {i.pk: intake.ItemCheck() for i in submission.items.all()}
    case = intake.receive_submission(custodian, submission, checks=checks, handed_over_by=officer)
    return list(case.items.order_by("number"))


@pytest.fixture
def custodian(make_user):
    return make_user(Role.EVIDENCE_CUSTODIAN, username="custodian", first_name="Carla", last_name="Pook")


@pytest.fixture
def analyst(make_user):
    return make_user(Role.ANALYST, username="analyst", first_name="Andre", last_name="Flowers")


@pytest.fixture
def items(officer, custodian):
    return receive_case(officer, custodian)


@pytest.fixture
def box(custodian):
    return services.save_location(custodian, None, name="Box 1", kind=LocationKind.BOX, capacity=10)


def fresh(item: Item) -> Item:
    return Item.objects.get(pk=item.pk)


def events_of(item: Item) -> list[CustodyEvent]:
    return list(CustodyEvent.objects.filter(item=item).order_by("sequence"))


# --- moves ------------------------------------------------------------------------------------------


def test_move_puts_every_item_in_the_location_with_one_event_each(custodian, items, box):
    events = services.move_items(custodian, items, box, seal_number="T-9", condition="Dry", witness_name="R. Cal")
    assert len(events) == 2
    for item in items:
        item = fresh(item)
        assert (item.holder, item.location, item.custody_sequence) == (custodian, box, 2)
        last = events_of(item)[-1]
        assert (last.purpose, last.storage_location, last.location) == (Purpose.STORAGE, box, "Box 1")
        assert (last.seal_number, last.condition, last.witness_name) == ("T-9", "Dry", "R. Cal")
        assert last.prev_hash == events_of(item)[0].hash
    assert services.verify_ledger().intact
    assert services.gap_check() == []


def test_only_custodians_move_items_into_storage(analyst, custodian, items, box):
    with pytest.raises(PermissionDenied):
        services.move_items(analyst, items, box)
    assert CustodyEvent.objects.count() == 2


def test_a_move_based_on_a_stale_scan_is_refused_and_nothing_is_written(custodian, items, box, make_user):
    seen = {item.pk: item.custody_sequence for item in items}
    other_box = services.save_location(custodian, None, name="Box 2", kind=LocationKind.BOX)
    services.move_items(custodian, [items[0]], other_box)  # someone moved item 1 after the scan
    with pytest.raises(ValidationError, match="after you scanned it"):
        services.move_items(custodian, items, box, expected_sequences=seen)
    assert fresh(items[0]).location == other_box and fresh(items[1]).location is None
    assert CustodyEvent.objects.count() == 3


def test_restricted_location_takes_only_its_authorised_custodians(custodian, make_user, items):
    vault = services.save_location(
        custodian, None, name="Drug vault", kind=LocationKind.UNIT, restricted=True, authorized_users=[custodian]
    )
    stranger = make_user(Role.EVIDENCE_CUSTODIAN, first_name="Other", last_name="Keeper")
    services.move_items(custodian, [items[0]], services.save_location(custodian, None, name="Shelf", kind="shelf"))
    with pytest.raises(ValidationError, match="Other Keeper is not one of its authorised custodians"):
        services.move_items(stranger, [items[0]], vault)
    services.move_items(custodian, items, vault)
    assert {fresh(i).location for i in items} == {vault}


def test_capacity_is_never_exceeded(custodian, items):
    small = services.save_location(custodian, None, name="Envelope box", kind=LocationKind.BOX, capacity=1)
    with pytest.raises(ValidationError, match="holds at most 1 items; it has 0"):
        services.move_items(custodian, items, small)
    assert Item.objects.filter(location=small).count() == 0
    services.move_items(custodian, [items[0]], small)
    services.move_items(custodian, [items[0]], small)  # already inside: does not count twice


def test_items_on_legal_hold_or_destroyed_do_not_move(custodian, items, box):
    services.set_legal_hold(custodian, items[0], True, "Court order 12/2026")
    with pytest.raises(ValidationError, match=r"on legal hold \(Court order 12/2026\)"):
        services.move_items(custodian, items, box)
    assert CustodyEvent.objects.count() == 2
    Item.objects.filter(pk=items[1].pk).update(status="destroyed")
    with pytest.raises(ValidationError, match="can no longer be moved"):
        services.move_items(custodian, [items[1]], box)
    services.set_legal_hold(custodian, items[0], False, "Order lifted")
    services.move_items(custodian, [items[0]], box)


def test_nobody_handles_an_item_someone_else_holds(custodian, analyst, items, make_user):
    services.hand_over(custodian, [items[0]], analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=True)
    other = make_user(Role.ANALYST, first_name="Rita", last_name="Lee")
    with pytest.raises(ValidationError, match="held by Andre Flowers: they must hand it over"):
        services.hand_over(other, [items[0]], custodian, purpose=Purpose.STORAGE, confirmed_in_person=True)


# --- hand-overs -------------------------------------------------------------------------------------


def test_hand_over_in_person_writes_the_events_at_once(custodian, analyst, items, box):
    services.move_items(custodian, items, box)
    events = services.hand_over(
        custodian,
        items,
        analyst,
        purpose=Purpose.ANALYSIS,
        confirmed_in_person=True,
        witness_name="Rosa Cal",
        seal_number="S-1",
        condition="Sealed, dry",
        note="For serology",
    )
    assert len(events) == 2 and not Transfer.objects.exists()
    item = fresh(items[0])
    assert (item.holder, item.location, item.holder_name) == (analyst, None, "Andre Flowers")
    event = events_of(item)[-1]
    assert (event.released_by, event.received_by, event.purpose) == (custodian, analyst, Purpose.ANALYSIS)
    assert (event.witness_name, event.seal_number, event.condition, event.note) == (
        "Rosa Cal",
        "S-1",
        "Sealed, dry",
        "For serology",
    )


def test_hand_over_to_the_queue_leaves_the_items_with_the_releaser(custodian, analyst, items):
    transfer = services.hand_over(custodian, items, analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=False)
    assert transfer.status == TransferStatus.PENDING and set(transfer.items.all()) == set(items)
    assert {fresh(i).holder for i in items} == {custodian} and CustodyEvent.objects.count() == 2
    with pytest.raises(ValidationError, match="Already offered to someone and not yet accepted"):
        services.hand_over(custodian, [items[0]], analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=False)


def test_hand_over_refuses_outsiders_and_oneself(custodian, officer, items):
    with pytest.raises(ValidationError, match="cannot receive evidence inside the laboratory"):
        services.hand_over(custodian, items, officer, purpose=Purpose.RETURN, confirmed_in_person=True)
    with pytest.raises(ValidationError, match="You already hold these items"):
        services.hand_over(custodian, items, custodian, purpose=Purpose.STORAGE, confirmed_in_person=True)


def test_accepting_a_transfer_moves_the_items(custodian, analyst, items):
    transfer = services.hand_over(custodian, items, analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=False)
    with pytest.raises(PermissionDenied):
        services.accept_transfer(custodian, transfer)
    events = services.accept_transfer(analyst, transfer)
    assert [e.sequence for e in events] == [2, 2]
    assert {fresh(i).holder for i in items} == {analyst}
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.ACCEPTED and transfer.resolved_at
    with pytest.raises(ValidationError, match="no longer pending"):
        services.accept_transfer(analyst, transfer)


def test_declined_or_cancelled_transfers_change_nothing(custodian, analyst, items):
    offer = services.hand_over(custodian, items, analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=False)
    with pytest.raises(PermissionDenied):
        services.close_transfer(custodian, offer, decline=True)  # only the receiver declines
    assert services.close_transfer(analyst, offer, decline=True).status == TransferStatus.DECLINED
    again = services.hand_over(custodian, items, analyst, purpose=Purpose.COURT, confirmed_in_person=False)
    with pytest.raises(PermissionDenied):
        services.close_transfer(analyst, again, decline=False)  # only the releaser cancels
    assert services.close_transfer(custodian, again, decline=False).status == TransferStatus.CANCELLED
    with pytest.raises(ValidationError, match="no longer pending"):
        services.accept_transfer(analyst, again)
    assert {fresh(i).holder for i in items} == {custodian} and CustodyEvent.objects.count() == 2


def test_a_transfer_whose_items_may_no_longer_move_cannot_be_accepted(custodian, analyst, items):
    offer = services.hand_over(custodian, [items[0]], analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=False)
    services.set_legal_hold(custodian, items[0], True, "Court order")
    with pytest.raises(ValidationError, match="no longer with Carla Pook"):
        services.accept_transfer(analyst, offer)
    assert fresh(items[0]).holder == custodian
    assert Transfer.objects.get().status == TransferStatus.PENDING


def test_another_custodian_may_hand_over_what_sits_in_the_store(custodian, analyst, items, box, make_user):
    services.move_items(custodian, items, box)
    colleague = make_user(Role.EVIDENCE_CUSTODIAN, first_name="Second", last_name="Shift")
    offer = services.hand_over(colleague, items, analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=False)
    services.accept_transfer(analyst, offer)
    event = events_of(items[0])[-1]
    assert (event.released_by, event.received_by) == (colleague, analyst)
    assert services.gap_check() == []


# --- sub-items and amounts --------------------------------------------------------------------------


def test_derived_sub_item_has_its_own_number_and_a_ledger_starting_with_the_derivation(custodian, items, box):
    services.move_items(custodian, [items[0]], box)
    child = services.derive_sub_item(
        custodian, items[0], type=ItemType.SWAB, description="Swab of stain", reason="Stain on left cuff for DNA"
    )
    assert child.label == f"{items[0].label}.1" and child.case == items[0].case and child.parent == items[0]
    [first] = events_of(child)
    assert (first.sequence, first.purpose, first.received_by, first.storage_location) == (
        1,
        Purpose.DERIVATION,
        custodian,
        box,
    )
    assert first.note == "Stain on left cuff for DNA"
    second = services.derive_sub_item(custodian, items[0], type=ItemType.CLOTHING, description="Cutting", reason="x")
    assert second.label == f"{items[0].label}.2"
    with pytest.raises(ValidationError) as exc:
        services.derive_sub_item(custodian, items[0], type=ItemType.SWAB, description="Swab", reason="  ")
    assert "reason" in exc.value.message_dict
    assert services.gap_check() == []


def test_amount_is_recorded_once_and_corrected_only_with_a_reason(custodian, items):
    item = services.record_amount(custodian, items[0], Decimal("12.5"), "g")
    assert (item.amount_received, item.amount_remaining, item.amount_unit) == (Decimal("12.5"), Decimal("12.5"), "g")
    with pytest.raises(ValidationError) as exc:
        services.record_amount(custodian, items[0], Decimal("12.4"), "g")
    assert "reason" in exc.value.message_dict
    item = services.record_amount(custodian, items[0], Decimal("12.4"), "g", reason="Scale recalibrated")
    assert item.amount_received == Decimal("12.4")
    with pytest.raises(ValidationError) as exc:
        services.record_amount(custodian, items[0], Decimal("0"), "g", reason="zero")
    assert "amount" in exc.value.message_dict


def test_consumption_stays_within_the_remainder_and_the_unit(custodian, analyst, items):
    services.record_amount(custodian, items[0], Decimal("10"), "g")
    with pytest.raises(ValidationError, match="only consume from an item you hold"):
        services.consume(analyst, items[0], Decimal("1"), "g", reason="GC-MS")
    services.hand_over(custodian, [items[0]], analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=True)
    with pytest.raises(ValidationError) as exc:
        services.consume(analyst, items[0], Decimal("1"), "mg", reason="GC-MS")
    assert "unit" in exc.value.message_dict
    for wrong in (Decimal("0"), Decimal("10.0001")):
        with pytest.raises(ValidationError) as exc:
            services.consume(analyst, items[0], wrong, "g", reason="GC-MS")
        assert "amount" in exc.value.message_dict
    services.consume(analyst, items[0], Decimal("2.25"), "g", reason="GC-MS")
    services.consume(analyst, items[0], Decimal("7.75"), "g", reason="Colour test")
    assert fresh(items[0]).amount_remaining == Decimal("0")
    with pytest.raises(ValidationError, match="already been consumed"):
        services.record_amount(custodian, items[0], Decimal("5"), "g", reason="Re-weighed")


def test_legal_hold_needs_the_dispose_permission_and_a_reason(custodian, analyst, items):
    with pytest.raises(PermissionDenied):
        services.set_legal_hold(analyst, items[0], True, "Appeal")
    with pytest.raises(ValidationError):
        services.set_legal_hold(custodian, items[0], True, " ")
    assert services.set_legal_hold(custodian, items[0], True, "Appeal").legal_hold


# --- checks and demo --------------------------------------------------------------------------------


def test_gap_check_finds_a_holder_changed_behind_the_ledger(custodian, analyst, items):
    assert services.gap_check() == []
    Item.objects.filter(pk=items[0].pk).update(holder=analyst)
    problems = services.gap_check()
    assert problems == [
        f"{items[0].label}: its recorded holder or place differs from its last custody event.",
    ]


def test_gap_check_finds_an_item_without_events(custodian, items):
    item = services.create_item(
        custodian, items[0].case, received_at=timezone.now(), type=ItemType.OTHER, description="Forgotten"
    )
    assert services.gap_check() == [f"{item.label} has no custody events."]


def test_seed_storage_builds_the_tree_and_puts_received_items_in_box_1(custodian, items):
    locations = seed_storage(custodian)
    box_1 = locations["Box 1"]
    assert box_1.path == "Main building › Evidence store › Cabinet A › Shelf 1 › Box 1"
    assert locations["Box 2"].parent == box_1.parent
    vault = locations["Drug vault"]
    assert vault.restricted and list(vault.authorized_users.all()) == [custodian]
    assert {fresh(i).location for i in items} == {box_1}
    assert StorageLocation.objects.count() == 7 and services.gap_check() == []
