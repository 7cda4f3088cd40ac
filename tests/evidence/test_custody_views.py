"""Custody screens: who may open them, the scanning workbench, transfers, locations and item pages."""

from __future__ import annotations

import html
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from forensis.evidence import services
from forensis.evidence.models import (
    CustodyEvent,
    Item,
    LocationKind,
    Purpose,
    StorageLocation,
    Transfer,
    TransferStatus,
)
from tests.conftest import PASSWORD
from tests.evidence.test_custody_services import receive_case

SCAN = reverse("evidence:scan")
MINE = reverse("evidence:my_custody")


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


def text(response) -> str:
    return html.unescape(response.content.decode())


def scan(client: Client, code: str, **details):
    return client.post(SCAN, {"action": "scan", "code": code, "purpose": Purpose.STORAGE, **details}, follow=True)


def hand_over(client: Client, how: str, password: str = "", purpose: str = Purpose.ANALYSIS, **fields):
    data = {"action": "hand_over", "how": how, "handover-purpose": purpose, "handover-receiver_password": password}
    data.update({f"handover-{k}": v for k, v in fields.items()})
    return client.post(SCAN, data, follow=True)


def batch_of(client: Client) -> list[int]:
    return [entry[0] for entry in client.session.get("custody_batch", [])]


def fresh(item: Item) -> Item:
    return Item.objects.get(pk=item.pk)


# --- who may open what ------------------------------------------------------------------------------

PAGES = {
    "my_custody": lambda ctx: reverse("evidence:my_custody"),
    "scan": lambda ctx: reverse("evidence:scan"),
    "locations": lambda ctx: reverse("evidence:locations"),
    "location": lambda ctx: reverse("evidence:location", args=[ctx["box"].code]),
    "location_label": lambda ctx: reverse("evidence:location_label", args=[ctx["box"].code]),
    "location_new": lambda ctx: reverse("evidence:location_new"),
    "location_edit": lambda ctx: reverse("evidence:location_edit", args=[ctx["box"].code]),
    "item": lambda ctx: reverse("evidence:item", args=[ctx["items"][0].label]),
    "overdue": lambda ctx: reverse("evidence:overdue"),
    "gap_check": lambda ctx: reverse("evidence:gap_check"),
}
LAB = [Role.ANALYST, Role.EVIDENCE_CUSTODIAN, Role.LAB_MANAGER, Role.AUDITOR, Role.REVIEWER]
ALLOWED = {
    "my_custody": LAB,
    "scan": LAB,
    "locations": LAB,
    "location": LAB,
    "location_label": LAB,
    "location_new": [Role.EVIDENCE_CUSTODIAN, Role.LAB_MANAGER, Role.ADMINISTRATOR],
    "location_edit": [Role.EVIDENCE_CUSTODIAN, Role.LAB_MANAGER, Role.ADMINISTRATOR],
    "item": [*LAB, Role.AGENCY_OFFICER],
    "overdue": [Role.EVIDENCE_CUSTODIAN, Role.LAB_MANAGER, Role.ADMINISTRATOR, Role.AUDITOR],
    "gap_check": [Role.LAB_MANAGER, Role.AUDITOR, Role.ADMINISTRATOR],
}
ROLES = [Role.ANALYST, Role.EVIDENCE_CUSTODIAN, Role.LAB_MANAGER, Role.AUDITOR, Role.AGENCY_OFFICER, Role.STATISTICIAN]


@pytest.mark.parametrize("page", PAGES)
def test_each_page_opens_for_its_roles_and_is_forbidden_to_the_others(page, make_user, client_for, items, box, police):
    url = PAGES[page]({"items": items, "box": box})
    for role in ROLES:
        user = make_user(role, agency=police if role == Role.AGENCY_OFFICER else None)
        status = client_for(user).get(url).status_code
        assert status == (200 if role in ALLOWED[page] else 403), (page, role, status)


def test_another_agencys_officer_gets_404_on_the_item_and_the_own_officer_is_logged(
    client_for, items, officer, other_officer
):
    url = reverse("evidence:item", args=[items[0].label])
    assert client_for(other_officer).get(url).status_code == 404
    response = client_for(officer).get(url)
    assert response.status_code == 200 and items[0].label in text(response)
    assert AuditEvent.objects.filter(action="item.viewed", actor=officer).count() == 1
    assert "derive-form" not in text(response) and "hold-form" not in text(response)


def test_unknown_location_and_item_are_404(client_for, custodian):
    client = client_for(custodian)
    assert client.get(reverse("evidence:location", args=["LOC99999"])).status_code == 404
    assert client.get(reverse("evidence:item", args=["NOPE-2026-00001/01"])).status_code == 404


# --- the scanning workbench -------------------------------------------------------------------------


def test_scanned_items_join_the_batch_with_their_holder_and_place(client_for, custodian, items):
    client = client_for(custodian)
    response = scan(client, items[0].label)
    assert f"Added {items[0].label}: held by Carla Pook, in hand." in text(response)
    scan(client, items[1].label.lower())  # a typed number in lower case is found too
    response = scan(client, items[0].label)
    assert f"{items[0].label} is already in the batch." in text(response)
    assert batch_of(client) == [items[0].pk, items[1].pk]
    page = text(client.get(SCAN))
    assert page.count('data-testid="batch-item"') == 2 and "Blue T-shirt" in page and "autofocus" in page


def test_an_unknown_barcode_is_explained_and_not_added(client_for, custodian, items):
    client = client_for(custodian)
    response = scan(client, "XYZ-123")
    assert "Nothing is known by the code XYZ-123" in text(response)
    assert batch_of(client) == []
    response = scan(client, "  ")
    assert "Scan a barcode or type a number first." in text(response)


def test_custodian_moves_the_batch_into_a_box_by_scanning_its_barcode(client_for, custodian, items, box):
    client = client_for(custodian)
    for item in items:
        scan(client, item.label)
    response = scan(client, box.code.lower(), seal_number="T-1", condition="Intact", witness_name="R. Cal")
    assert "Moved 2 item(s) to Box 1." in text(response)
    assert batch_of(client) == []
    for item in items:
        item = fresh(item)
        assert (item.location, item.holder) == (box, custodian)
        event = item.custody_events.order_by("sequence").last()
        assert (event.seal_number, event.condition, event.witness_name, event.purpose) == (
            "T-1",
            "Intact",
            "R. Cal",
            Purpose.STORAGE,
        )
    contents = text(client.get(reverse("evidence:location", args=[box.code])))
    assert items[0].label in contents and items[1].label in contents


def test_a_location_scanned_before_any_item_moves_nothing(client_for, custodian, box):
    response = scan(client_for(custodian), box.code)
    assert "Scan the items first, then the location they go to." in text(response)


def test_an_analyst_cannot_put_items_in_storage(client_for, custodian, analyst, items, box):
    services.hand_over(custodian, items, analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=True)
    client = client_for(analyst)
    scan(client, items[0].label)
    response = scan(client, box.code)
    assert "You do not have permission to do this." in text(response)
    assert fresh(items[0]).location is None and batch_of(client) == [items[0].pk]


def test_an_item_on_legal_hold_is_refused_and_nothing_is_written(client_for, custodian, items, box):
    services.set_legal_hold(custodian, items[0], True, "Court order 7/2026")
    client = client_for(custodian)
    response = scan(client, items[0].label)
    assert f"Item {items[0].label} is on legal hold (Court order 7/2026)." in text(response)
    assert batch_of(client) == []
    # placed on hold after it was scanned: the move is refused as a whole
    services.set_legal_hold(custodian, items[0], False, "Lifted")
    scan(client, items[0].label)
    scan(client, items[1].label)
    services.set_legal_hold(custodian, items[0], True, "Court order 8/2026")
    before = CustodyEvent.objects.count()
    response = scan(client, box.code)
    assert "is on legal hold (Court order 8/2026)" in text(response)
    assert CustodyEvent.objects.count() == before
    assert fresh(items[1]).location is None and len(batch_of(client)) == 2


def test_a_restricted_location_refuses_an_unauthorised_custodian(client_for, custodian, make_user, items):
    keeper = make_user(Role.EVIDENCE_CUSTODIAN, first_name="Vera", last_name="Vault")
    vault = services.save_location(
        keeper, None, name="Drug vault", kind=LocationKind.UNIT, restricted=True, authorized_users=[keeper]
    )
    client = client_for(custodian)
    scan(client, items[0].label)
    response = scan(client, vault.code)
    assert "Drug vault is restricted: Carla Pook is not one of its authorised custodians." in text(response)
    assert fresh(items[0]).location is None and CustodyEvent.objects.count() == 2


def test_a_full_box_refuses_the_batch(client_for, custodian, items):
    small = services.save_location(custodian, None, name="Small box", kind=LocationKind.BOX, capacity=1)
    client = client_for(custodian)
    for item in items:
        scan(client, item.label)
    response = scan(client, small.code)
    assert "Small box holds at most 1 items; it has 0." in text(response)
    assert not Item.objects.filter(location=small).exists()


def test_a_move_after_someone_else_moved_an_item_asks_to_scan_it_again(client_for, custodian, items, box):
    client = client_for(custodian)
    scan(client, items[0].label)
    elsewhere = services.save_location(custodian, None, name="Shelf 9", kind=LocationKind.SHELF)
    services.move_items(custodian, [items[0]], elsewhere)  # another desk moved it meanwhile
    assert "Moved since you scanned it" in text(client.get(SCAN))
    response = scan(client, box.code)
    assert "was moved by Carla Pook" in text(response) and "Scan it again." in text(response)
    assert fresh(items[0]).location == elsewhere
    scan(client, items[0].label)  # scanning again refreshes what was seen
    scan(client, box.code)
    assert fresh(items[0]).location == box


def test_clear_and_remove_empty_the_batch(client_for, custodian, items):
    client = client_for(custodian)
    for item in items:
        scan(client, item.label)
    client.post(SCAN, {"remove": str(items[0].pk)})
    assert batch_of(client) == [items[1].pk]
    response = client.post(SCAN, {"action": "clear"}, follow=True)
    assert batch_of(client) == [] and "The batch is empty." in text(response)


def test_hand_over_confirmed_with_the_receivers_password_at_the_desk(client_for, custodian, analyst, items):
    client = client_for(custodian)
    for item in items:
        scan(client, item.label)
    response = scan(client, "@Analyst")
    assert "Handing the batch to Andre Flowers" in text(response)
    assert 'data-testid="hand-over-form"' in text(response)
    response = hand_over(client, "in_person", "wrong-password")
    assert "The password of Andre Flowers is not correct." in text(response)
    response = hand_over(client, "in_person", "")
    assert "Andre Flowers types their password here to confirm" in text(response)
    assert CustodyEvent.objects.count() == 2
    response = hand_over(client, "in_person", PASSWORD, witness_name="Rosa Cal", seal_number="S-1", note="DNA")
    assert "Andre Flowers now holds 2 item(s)." in text(response)
    assert batch_of(client) == [] and "custody_receiver" not in client.session
    event = fresh(items[0]).custody_events.order_by("sequence").last()
    assert (event.released_by, event.received_by, event.purpose) == (custodian, analyst, Purpose.ANALYSIS)
    assert (event.witness_name, event.seal_number, event.note) == ("Rosa Cal", "S-1", "DNA")
    assert {fresh(i).holder for i in items} == {analyst}


def test_a_staff_badge_chooses_the_receiver(client_for, custodian, make_user, items):
    make_user(Role.ANALYST, first_name="Bea", last_name="Badge", badge_number="B-0042")
    client = client_for(custodian)
    scan(client, items[0].label)
    response = scan(client, "b-0042")
    assert "Handing the batch to Bea Badge" in text(response)


def test_choosing_a_person_needs_items_and_someone_from_the_laboratory(client_for, custodian, officer, items):
    client = client_for(custodian)
    assert "Scan the items first, then the person" in text(scan(client, "@analyst.nobody"))
    scan(client, items[0].label)
    assert "No person is known as @nobody" in text(scan(client, "@nobody"))
    assert "Omar" not in text(scan(client, "@officer"))
    assert "cannot receive evidence inside the laboratory" in text(scan(client, "@officer"))
    assert "custody_receiver" not in client.session


def test_hand_over_to_the_queue_then_the_analyst_accepts(client_for, custodian, analyst, items):
    client = client_for(custodian)
    for item in items:
        scan(client, item.label)
    scan(client, "@analyst")
    response = hand_over(client, "queue", seal_number="S-7", condition="Sealed", note="Urgent")
    assert "Offered 2 item(s) to Andre Flowers. They stay with you until Andre Flowers accepts them." in text(response)
    transfer = Transfer.objects.get()
    assert (
        transfer.status == TransferStatus.PENDING and transfer.note == "Urgent · Seal number: S-7 · Condition: Sealed"
    )
    assert {fresh(i).holder for i in items} == {custodian}
    assert 'data-testid="cancel-transfer"' in text(client.get(MINE))

    receiver = client_for(analyst)
    queue = text(receiver.get(MINE))
    assert 'data-testid="accept-transfer"' in queue and items[0].label in queue and "You hold no evidence." in queue
    assert "Carla Pook is handing you 2 item(s) for Analysis" in " ".join(queue.replace("</strong>", "").split())
    response = receiver.post(reverse("evidence:transfer_action", args=[transfer.pk, "accept"]), follow=True)
    assert "You now hold 2 item(s) from Carla Pook." in text(response)
    assert {fresh(i).holder for i in items} == {analyst}
    assert 'data-testid="held-items"' in text(response) and items[1].label in text(response)
    assert fresh(items[0]).custody_events.order_by("sequence").last().note == transfer.note


def test_declined_and_cancelled_transfers_leave_the_items_with_the_releaser(
    client_for, custodian, analyst, items, make_user
):
    offer = services.hand_over(custodian, items, analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=False)
    stranger = client_for(make_user(Role.ANALYST))
    assert stranger.post(reverse("evidence:transfer_action", args=[offer.pk, "accept"])).status_code == 404
    assert client_for(analyst).get(reverse("evidence:transfer_action", args=[offer.pk, "accept"])).status_code == 405
    response = client_for(analyst).post(reverse("evidence:transfer_action", args=[offer.pk, "decline"]), follow=True)
    assert "Declined: the items stay with Carla Pook." in text(response)
    again = services.hand_over(custodian, items, analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=False)
    response = client_for(custodian).post(reverse("evidence:transfer_action", args=[again.pk, "cancel"]), follow=True)
    assert "Hand-over cancelled" in text(response)
    response = client_for(analyst).post(reverse("evidence:transfer_action", args=[again.pk, "accept"]), follow=True)
    assert "This hand-over is no longer pending (cancelled)." in text(response)
    assert {fresh(i).holder for i in items} == {custodian} and CustodyEvent.objects.count() == 2


def test_an_item_offered_and_not_accepted_cannot_be_offered_again(client_for, custodian, analyst, items):
    services.hand_over(custodian, [items[0]], analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=False)
    client = client_for(custodian)
    scan(client, items[0].label)
    scan(client, "@analyst")
    response = hand_over(client, "queue")
    assert "Already offered to someone and not yet accepted" in text(response)
    assert Transfer.objects.count() == 1 and batch_of(client) == [items[0].pk]


# --- locations --------------------------------------------------------------------------------------


def test_custodian_creates_a_tree_of_locations_and_sees_counts(client_for, custodian, items):
    client = client_for(custodian)
    response = client.post(
        reverse("evidence:location_new"), {"name": "Store", "kind": "room", "is_active": "on"}, follow=True
    )
    store = StorageLocation.objects.get(name="Store")
    assert store.code.startswith("LOC") and "Store saved" in text(response)
    client.post(
        reverse("evidence:location_new"),
        {"name": "Box A", "kind": "box", "parent": store.pk, "capacity": "4", "is_active": "on"},
    )
    box = StorageLocation.objects.get(name="Box A")
    assert box.path == "Store › Box A"
    services.move_items(custodian, items, box)
    tree = text(client.get(reverse("evidence:locations")))
    assert tree.index("Store") < tree.index("Box A") and "2 of 4" in tree
    assert 'data-testid="capacity-bar"' in tree
    assert "?parent=" in text(client.get(reverse("evidence:location", args=[store.code])))
    assert client.get(reverse("evidence:location_new") + f"?parent={store.code}").status_code == 200
    client.post(
        reverse("evidence:location_edit", args=[store.code]),
        {"name": "Evidence store", "kind": "room", "is_active": "on"},
    )
    assert StorageLocation.objects.get(pk=box.pk).path == "Evidence store › Box A"


def test_a_restricted_location_needs_authorised_custodians(client_for, custodian, make_user):
    client = client_for(custodian)
    data = {"name": "Drug vault", "kind": "unit", "restricted": "on", "is_active": "on"}
    response = client.post(reverse("evidence:location_new"), data)
    assert "Name at least one custodian for a restricted location." in text(response)
    assert not StorageLocation.objects.exists()
    client.post(reverse("evidence:location_new"), {**data, "authorized_users": [custodian.pk]})
    vault = StorageLocation.objects.get()
    assert vault.restricted and list(vault.authorized_users.all()) == [custodian]
    page = text(client.get(reverse("evidence:locations")))
    assert 'data-testid="restricted-badge"' in page


def test_a_location_cannot_go_inside_itself(client_for, custodian):
    outer = services.save_location(custodian, None, name="Outer", kind=LocationKind.ROOM)
    inner = services.save_location(custodian, None, name="Inner", kind=LocationKind.UNIT, parent=outer)
    response = client_for(custodian).post(
        reverse("evidence:location_edit", args=[outer.code]), {"name": "Outer", "kind": "room", "parent": inner.pk}
    )
    assert response.status_code == 200 and "A location cannot be inside itself." in text(response)
    assert ">Outer › Inner<" not in text(
        client_for(custodian).get(reverse("evidence:location_edit", args=[outer.code]))
    )
    assert ">Outer › Inner<" in text(client_for(custodian).get(reverse("evidence:location_new")))
    assert StorageLocation.objects.get(pk=outer.pk).parent is None


def test_location_label_carries_the_barcode(client_for, custodian, box):
    page = text(client_for(custodian).get(reverse("evidence:location_label", args=[box.code])))
    assert "<svg" in page and box.code in page


# --- the item page ----------------------------------------------------------------------------------


def test_item_page_shows_the_whole_ledger_and_the_legal_hold(client_for, custodian, analyst, items, box):
    services.move_items(custodian, [items[0]], box, seal_number="T-4")
    services.hand_over(custodian, [items[0]], analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=True)
    services.set_legal_hold(custodian, items[0], True, "Court order 3/2026")
    page = text(client_for(analyst).get(reverse("evidence:item", args=[items[0].label])))
    assert page.count('data-testid="ledger-row"') == 3
    for expected in ("Receipt at the laboratory", "Storage", "Analysis", "T-4", "Box 1", "Court order 3/2026"):
        assert expected in page
    assert 'data-testid="legal-hold-banner"' in page
    event = CustodyEvent.objects.filter(item=items[0]).last()
    assert event.hash[:12] in page and event.hash not in page.replace(f'title="{event.hash}"', "")


def test_custodian_derives_a_sub_item_from_the_item_page(client_for, custodian, items):
    client = client_for(custodian)
    url = reverse("evidence:item", args=[items[0].label])
    data = {"action": "derive", "derive-derivation": "swab", "derive-description": "stain", "derive-quantity": "1"}
    response = client.post(url, data)
    assert response.status_code == 200 and "This field is required." in text(response)  # the reason
    response = client.post(url, {**data, "derive-reason": "Stain on the collar for DNA"}, follow=True)
    child = Item.objects.get(parent=items[0])
    assert child.label == f"{items[0].label}.1" and child.type == "swab" and child.description == "Swab: stain"
    assert response.redirect_chain[-1][0] == reverse("evidence:item", args=[child.label])
    page = text(response)
    assert "Sub-item derived" in page and f"Sub-item {child.label} derived from {items[0].label}." in page
    assert child.label in text(client.get(url))


def test_amounts_are_recorded_and_corrected_with_a_reason(client_for, custodian, analyst, items):
    client = client_for(custodian)
    url = reverse("evidence:item", args=[items[0].label])
    client.post(url, {"action": "amount", "amount-amount": "12.5", "amount-unit": "g"})
    assert fresh(items[0]).amount_received == Decimal("12.5")
    response = client.post(url, {"action": "amount", "amount-amount": "12.3", "amount-unit": "g"})
    assert "give the reason for the correction" in text(response)
    client.post(url, {"action": "amount", "amount-amount": "12.3", "amount-unit": "g", "amount-reason": "Re-weighed"})
    assert fresh(items[0]).amount_received == Decimal("12.3")
    services.hand_over(custodian, [items[0]], analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=True)
    lab = client_for(analyst)
    response = lab.post(url, {"action": "consume", "consume-amount": "20", "consume-unit": "g", "consume-reason": "x"})
    assert "Enter an amount between 0 and the 12.3000 g that remain." in text(response)
    lab.post(url, {"action": "consume", "consume-amount": "0.3", "consume-unit": "g", "consume-reason": "GC-MS"})
    page = text(lab.get(url))
    assert "12.3 g" in page and "12 g" in page and "GC-MS" in page


def test_legal_hold_from_the_item_page_needs_the_dispose_permission(client_for, custodian, analyst, items):
    url = reverse("evidence:item", args=[items[0].label])
    data = {"action": "hold", "hold-reason": "Appeal pending"}
    assert client_for(analyst).post(url, data).status_code == 403
    response = client_for(custodian).post(url, data, follow=True)
    assert "Legal hold placed." in text(response) and fresh(items[0]).legal_hold
    client_for(custodian).post(url, {"action": "hold", "hold-reason": "Appeal decided"})
    assert not fresh(items[0]).legal_hold


def test_outside_officers_cannot_act_on_items(client_for, officer, items):
    url = reverse("evidence:item", args=[items[0].label])
    assert client_for(officer).post(url, {"action": "hold", "hold-reason": "x"}).status_code == 403


# --- oversight --------------------------------------------------------------------------------------


def test_overdue_lists_items_out_of_the_store_longer_than_n_days(client_for, custodian, analyst, items, box):
    services.hand_over(custodian, [items[0]], analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=True)
    services.move_items(custodian, [items[1]], box)
    Item.objects.filter(pk=items[0].pk).update(last_moved_at=timezone.now() - timedelta(days=20))
    client = client_for(custodian)
    page = text(client.get(reverse("evidence:overdue")))
    assert items[0].label in page and "Andre Flowers" in page and items[1].label not in page
    assert ">20<" in page.replace(" ", "")
    assert items[0].label not in text(client.get(reverse("evidence:overdue") + "?days=30"))
    assert client.get(reverse("evidence:overdue") + "?days=-3").status_code == 200


def test_gap_check_reports_nothing_or_the_inconsistent_item(client_for, make_user, items, analyst):
    client = client_for(make_user(Role.AUDITOR))
    page = text(client.get(reverse("evidence:gap_check")))
    assert 'data-testid="gap-ok"' in page and "2 items checked, 2 custody events recomputed." in " ".join(page.split())
    Item.objects.filter(pk=items[1].pk).update(holder=analyst)
    page = text(client.get(reverse("evidence:gap_check")))
    assert f"{items[1].label}: its recorded holder or place differs from its last custody event." in page
    assert 'data-testid="gap-ok"' in text(client.get(reverse("evidence:gap_check") + "?case=NOPE"))
