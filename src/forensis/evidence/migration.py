"""Items brought over from an old system (``forensis import-legacy``): created or corrected in bulk, each with
exactly one custody event "Migrated — last known location", hash-chained like every other ledger entry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from forensis.accounts.models import User
from forensis.audit.chain import GENESIS_HASH, record_hasher
from forensis.audit.services import record
from forensis.core.bulk import insert_rows
from forensis.core.corrections import apply_correction
from forensis.core.models import MigrationOutcome, in_chunks, migrated_objects

from .models import (
    AmountUnit,
    CustodyEvent,
    Item,
    ItemType,
    Purpose,
)
from .services import HASHED_FIELDS, item_label

# --- migration from an old system (forensis import-legacy) -----------------------------------------


@dataclass
class MigratedItem:
    """An item as the legacy importer read and validated it, with its last known location (if the old system
    recorded one). ``case_id`` is the Forensis key of its (already migrated) case."""

    legacy_id: str
    case_id: int
    type: str
    description: str
    received_at: datetime
    quantity: int = 1
    seal_number: str = ""
    amount: Decimal | None = None
    amount_unit: str = ""
    location: str = ""
    location_as_of: datetime | None = None


#: The fields of an item a re-import may correct; its number, label and ledger are never rewritten.
ITEM_CORRECTABLE = ("type", "description", "quantity", "seal_number", "amount_received", "amount_unit", "received_at")
#: Item types that are biological material by definition.
BIOLOGICAL_TYPES = frozenset({ItemType.BLOOD, ItemType.SWAB, ItemType.BODY})
# The codes Forensis knows (``Choices.values`` builds a new list on every use).
_ITEM_TYPES, _AMOUNT_UNITS = frozenset(ItemType.values), frozenset(AmountUnit.values)
#: The fields a migrated item is created with, in the order ``_create_migrated_items`` gives their values.
MIGRATED_ITEM_FIELDS = (
    "case",
    "number",
    "label",
    "type",
    "description",
    "quantity",
    "biological",
    "seal_number",
    "received_at",
    "amount_received",
    "amount_remaining",
    "amount_unit",
    "last_moved_at",
    "custody_sequence",
    "legacy_source",
    "legacy_id",
    "import_batch",
)


def migration_custody_text(source: str) -> Callable[[str, datetime | None], tuple[str, str, str]]:
    """The wording of a migrated item's one custody event — where the old system last had it, and no more — as a
    function of that place and its date, giving (who released and received it, location, note). The sentences
    are translated once, not once per item."""
    name = _("Legacy records (%(source)s)") % {"source": source}
    place = _("last known location: %(location)s")
    unknown_place = _("last known location: unknown")
    dated = _("Brought over from %(source)s. The old system recorded this location as of %(date)s.")
    undated = _(
        "Brought over from %(source)s. The old system recorded no custody history; the date of this "
        "event is the item's receipt."
    ) % {"source": source}
    zone = timezone.get_default_timezone()

    def wording(location: str, as_of: datetime | None) -> tuple[str, str, str]:
        where = place % {"location": location} if location else unknown_place
        note = dated % {"source": source, "date": as_of.astimezone(zone).date().isoformat()} if as_of else undated
        return name, where[:500], note

    return wording


@transaction.atomic
def migrate_items(actor: User, batch, items: Sequence[MigratedItem]) -> MigrationOutcome:
    """Create or correct items brought over from an old system, in bulk.

    A new item gets the next free number of its case and exactly one custody event, purpose
    ``MIGRATED`` ("Migrated — last known location"): released and received by nobody, named after the
    legacy records, its location the old system's text (or unknown), never a storage location of this
    laboratory, and chained exactly as ``append_custody_event`` chains a first event. The item's holder
    stays empty. A correction changes the item's fields (audited), never its number or its ledger.
    """
    source = batch.source_name
    outcome = MigrationOutcome()
    for data in items:
        if data.type not in _ITEM_TYPES or (data.amount_unit and data.amount_unit not in _AMOUNT_UNITS):
            raise ValidationError(_("Unknown item type or unit for item %(key)s.") % {"key": data.legacy_id})
    existing = migrated_objects(Item.objects.all(), source, [data.legacy_id for data in items])
    new = []
    for data in items:
        item = existing.get(data.legacy_id)
        if item is None:
            new.append(data)
        elif item.case_id != data.case_id:
            outcome.refused[data.legacy_id] = _(
                "this item belongs to another case in Forensis (%(label)s); an import does not move items between cases"
            ) % {"label": item.label}
        else:
            refusal = _correct_item(actor, batch, item, data)
            if refusal:
                outcome.refused[data.legacy_id] = refusal
            elif refusal is None:
                outcome.updated[data.legacy_id] = item.pk
            else:
                outcome.unchanged[data.legacy_id] = item.pk
    if new:
        outcome.created = _create_migrated_items(batch, new)
        record(
            "legacy.imported",
            actor=actor,
            obj=batch,
            after={
                "batch": batch.number,
                "source": source,
                "entity": "items",
                "legacy_ids": [data.legacy_id for data in new],
            },
        )
    return outcome


def _create_migrated_items(batch, records: Sequence[MigratedItem]) -> dict[str, int]:
    from forensis.cases.models import Case

    source = batch.source_name
    case_ids = sorted({data.case_id for data in records})
    lab_numbers, last_numbers = {}, {}
    for chunk in in_chunks(case_ids):
        lab_numbers.update(Case.objects.filter(pk__in=chunk).values_list("pk", "lab_number"))
        last_numbers.update(
            Item.objects.filter(case_id__in=chunk, sub_number__isnull=True)
            .values("case_id")
            .annotate(last=Max("number"))
            .values_list("case_id", "last")
        )
    items, moved_at = [], []
    for data in records:
        number = last_numbers.get(data.case_id, 0) + 1
        last_numbers[data.case_id] = number
        moved_at.append((data.location_as_of or data.received_at).astimezone(UTC))
        items.append(
            (
                data.case_id,
                number,
                item_label(lab_numbers[data.case_id], number),
                data.type,
                data.description,
                data.quantity,
                data.type in BIOLOGICAL_TYPES,
                data.seal_number,
                data.received_at,
                data.amount,
                data.amount,
                data.amount_unit if data.amount is not None else "",
                moved_at[-1],
                1,
                source,
                data.legacy_id,
                batch.pk,
            )
        )
    pks = insert_rows(Item, MIGRATED_ITEM_FIELDS, items)
    # The one event of each item, chained as ``append_custody_event`` chains a first event (HASHED_FIELDS order).
    wording, hash_event = migration_custody_text(source), record_hasher(HASHED_FIELDS)
    events = []
    for data, pk, occurred_at in zip(records, pks, moved_at, strict=True):
        name, location, note = wording(data.location, data.location_as_of)
        event = {
            "item_id": pk,
            "sequence": 1,
            "occurred_at": occurred_at,
            "released_by_id": None,
            "released_by_name": name,
            "received_by_id": None,
            "received_by_name": name,
            "storage_location_id": None,
            "location": location,
            "purpose": Purpose.MIGRATED.value,
            "seal_number": data.seal_number,
            "seal_status": "",
            "condition": "",
            "witness_name": "",
            "note": note,
            "acknowledged_by_releaser": False,
            "acknowledged_by_receiver": False,
        }
        values = tuple(event[name] for name in HASHED_FIELDS)
        events.append((*values, GENESIS_HASH, hash_event(values, GENESIS_HASH)))
    insert_rows(CustodyEvent, (*HASHED_FIELDS, "prev_hash", "hash"), events, keys=False)
    return {data.legacy_id: pk for data, pk in zip(records, pks, strict=True)}


def _correct_item(actor: User, batch, item: Item, data: MigratedItem) -> str | bool | None:
    """Correct ``item`` from ``data``: None when corrected, False when nothing differed, else why not."""
    wanted = {
        "type": data.type,
        "description": data.description,
        "quantity": data.quantity,
        "seal_number": data.seal_number,
        "amount_received": data.amount,
        "amount_unit": data.amount_unit if data.amount is not None else "",
        "received_at": data.received_at,
    }
    changed = {name: (getattr(item, name), value) for name, value in wanted.items() if getattr(item, name) != value}
    if not changed:
        return False
    if "amount_received" in changed:
        used = (
            item.amount_received - item.amount_remaining
            if item.amount_received is not None and item.amount_remaining is not None
            else Decimal(0)
        )
        if used and (data.amount is None or used > data.amount):
            return _("%(used)s %(unit)s of this item were consumed in Forensis; its amount cannot become %(new)s") % {
                "used": used,
                "unit": item.amount_unit,
                "new": data.amount if data.amount is not None else _("empty"),
            }
        item.amount_remaining = data.amount - used if data.amount is not None else None
    item.biological = item.biological or data.type in BIOLOGICAL_TYPES
    item.import_batch = batch
    reason = _("Corrected by import %(batch)s from %(source)s") % {"batch": batch.number, "source": batch.source_name}
    apply_correction(actor, item, changed, reason=reason, also_save=["amount_remaining", "biological", "import_batch"])
    return None
