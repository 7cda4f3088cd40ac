"""Demonstration data for the evidence store, made through the same services the screens use."""

from __future__ import annotations

from forensis.accounts.models import User

from . import services
from .models import FINAL_STATUSES, Item, LocationKind, StorageLocation


def seed_storage(custodian: User) -> dict[str, StorageLocation]:
    """A storage tree — Main building › Evidence store › Cabinet A › Shelf 1 › Box 1 and Box 2, and a restricted
    Drug vault in the store that only ``custodian`` may fill — and the received items ``custodian`` holds at
    reception put in Box 1. Returns the locations by name."""

    def place(name: str, kind: str, parent: StorageLocation | None = None, **fields) -> StorageLocation:
        return services.save_location(custodian, None, name=name, kind=kind, parent=parent, **fields)

    building = place("Main building", LocationKind.BUILDING)
    store = place("Evidence store", LocationKind.ROOM, building)
    cabinet = place("Cabinet A", LocationKind.UNIT, store)
    shelf = place("Shelf 1", LocationKind.SHELF, cabinet)
    box_1 = place("Box 1", LocationKind.BOX, shelf, capacity=50)
    box_2 = place("Box 2", LocationKind.BOX, shelf, capacity=50)
    vault = services.save_location(
        custodian,
        None,
        authorized_users=[custodian],
        name="Drug vault",
        kind=LocationKind.UNIT,
        parent=store,
        restricted=True,
    )
    at_reception = (
        Item.objects.filter(holder=custodian, location__isnull=True, legal_hold=False)
        .exclude(status__in=FINAL_STATUSES)
        .order_by("pk")
    )
    if at_reception:
        services.move_items(custodian, list(at_reception), box_1, note="Put away after receipt")
    return {location.name: location for location in (building, store, cabinet, shelf, box_1, box_2, vault)}


#: Bodies the demo morgue's cold room holds at most.
MORGUE_CAPACITY = 12


def seed_morgue(custodian: User) -> dict[str, StorageLocation]:
    """The medical examiner's office: building "Medical Examiner's Office" › room "Morgue cold room" (capacity
    ``MORGUE_CAPACITY`` items: bodies, and the samples taken from them while they wait for the laboratory).
    Returns the locations by name; each has its own scannable barcode (``LOC…``), like every location."""
    office = services.save_location(custodian, None, name="Medical Examiner's Office", kind=LocationKind.BUILDING)
    cold_room = services.save_location(
        custodian, None, name="Morgue cold room", kind=LocationKind.ROOM, parent=office, capacity=MORGUE_CAPACITY
    )
    return {location.name: location for location in (office, cold_room)}
