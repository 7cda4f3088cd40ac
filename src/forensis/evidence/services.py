"""The chain of custody: creating items and appending custody events. The only code that writes them."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from forensis.accounts.models import User
from forensis.audit.chain import GENESIS_HASH, ChainReport, link_hash, stream, verify_links
from forensis.audit.services import record

from .models import CustodyEvent, Item

#: The fields of a custody event that go into its hash (ASTM E1492: who, to whom, when, what, where).
HASHED_FIELDS = (
    "item_id",
    "sequence",
    "occurred_at",
    "released_by_id",
    "released_by_name",
    "received_by_id",
    "received_by_name",
    "location",
    "purpose",
    "seal_number",
    "seal_status",
    "condition",
    "witness_name",
    "note",
    "acknowledged_by_releaser",
    "acknowledged_by_receiver",
)


def item_label(lab_number: str, number: int, sub_number: int | None = None) -> str:
    label = f"{lab_number}/{number:02d}"
    return f"{label}.{sub_number}" if sub_number else label


@transaction.atomic
def create_item(actor: User, case, *, received_at, **fields) -> Item:
    """A new top-level item of ``case`` with the next free number."""
    last = Item.objects.select_for_update().filter(case=case, sub_number__isnull=True).order_by("-number").first()
    number = (last.number if last else 0) + 1
    item = Item.objects.create(
        case=case, number=number, label=item_label(case.lab_number, number), received_at=received_at, **fields
    )
    record(
        "item.created",
        actor=actor,
        obj=item,
        after={"label": item.label, "type": item.type, "description": item.description},
    )
    return item


@transaction.atomic
def append_custody_event(
    item: Item,
    *,
    released_by: User | None,
    received_by: User | None,
    purpose: str,
    released_by_name: str = "",
    received_by_name: str = "",
    occurred_at=None,
    **details,
) -> CustodyEvent:
    """Append one event to ``item``'s ledger, chained to the one before it.

    The item's row lock serialises concurrent appends to the same item, so each event has exactly one
    predecessor; appends to different items do not wait for each other.
    """
    Item.objects.select_for_update().filter(pk=item.pk).first()
    last = CustodyEvent.objects.filter(item=item).order_by("-sequence").values("sequence", "hash").first()
    event = CustodyEvent(
        item=item,
        sequence=(last["sequence"] if last else 0) + 1,
        occurred_at=occurred_at or timezone.now(),
        released_by=released_by,
        released_by_name=released_by_name
        or (released_by.get_full_name() or released_by.username if released_by else ""),
        received_by=received_by,
        received_by_name=received_by_name
        or (received_by.get_full_name() or received_by.username if received_by else ""),
        purpose=purpose,
        prev_hash=last["hash"] if last else GENESIS_HASH,
        **details,
    )
    event.hash = link_hash({name: getattr(event, name) for name in HASHED_FIELDS}, event.prev_hash)
    event.save()
    return event


def verify_item_chain(item: Item) -> ChainReport:
    rows = stream(CustodyEvent.objects.filter(item=item).order_by("sequence"), HASHED_FIELDS)
    return verify_links(rows, HASHED_FIELDS)
