"""Items brought over from an old system (``forensis import-legacy``): created or corrected in bulk, each with
exactly one custody event "Migrated — last known location", hash-chained like every other ledger entry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from forensis.accounts.models import User
from forensis.audit.chain import GENESIS_HASH, link_hash
from forensis.audit.services import record
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


def migration_custody_text(source: str, location: str, as_of: datetime | None) -> dict[str, str]:
    """The wording of a migrated item's one custody event: where the old system last had it, and no more."""
    if location:
        place = _("last known location: %(location)s") % {"location": location}
    else:
        place = _("last known location: unknown")
    if as_of:
        note = _("Brought over from %(source)s. The old system recorded this location as of %(date)s.") % {
            "source": source,
            "date": timezone.localtime(as_of).date().isoformat(),
        }
    else:
        note = _(
            "Brought over from %(source)s. The old system recorded no custody history; the date of this "
            "event is the item's receipt."
        ) % {"source": source}
    return {"location": place[:500], "note": note, "name": _("Legacy records (%(source)s)") % {"source": source}}


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
        if data.type not in ItemType.values or (data.amount_unit and data.amount_unit not in AmountUnit.values):
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
    items = []
    for data in records:
        number = last_numbers.get(data.case_id, 0) + 1
        last_numbers[data.case_id] = number
        occurred_at = (data.location_as_of or data.received_at).astimezone(UTC)
        items.append(
            Item(
                case_id=data.case_id,
                number=number,
                label=item_label(lab_numbers[data.case_id], number),
                type=data.type,
                description=data.description,
                quantity=data.quantity,
                biological=data.type in BIOLOGICAL_TYPES,
                seal_number=data.seal_number,
                received_at=data.received_at,
                amount_received=data.amount,
                amount_remaining=data.amount,
                amount_unit=data.amount_unit if data.amount is not None else "",
                last_moved_at=occurred_at,
                custody_sequence=1,
                legacy_source=source,
                legacy_id=data.legacy_id,
                import_batch=batch,
            )
        )
    Item.objects.bulk_create(items, batch_size=500)
    events = []
    for data, item in zip(records, items, strict=True):
        text = migration_custody_text(source, data.location, data.location_as_of)
        event = CustodyEvent(
            item=item,
            sequence=1,
            occurred_at=item.last_moved_at,
            released_by=None,
            released_by_name=text["name"],
            received_by=None,
            received_by_name=text["name"],
            storage_location=None,
            location=text["location"],
            purpose=Purpose.MIGRATED,
            seal_number=data.seal_number,
            note=text["note"],
            prev_hash=GENESIS_HASH,
        )
        event.hash = link_hash({name: getattr(event, name) for name in HASHED_FIELDS}, event.prev_hash)
        events.append(event)
    CustodyEvent.objects.bulk_create(events, batch_size=500)
    return {item.legacy_id: item.pk for item in items}


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
    for name, (_before, after) in changed.items():
        setattr(item, name, after)
    item.biological = item.biological or item.type in BIOLOGICAL_TYPES
    item.import_batch = batch
    item.save(update_fields=[*changed, "amount_remaining", "biological", "import_batch"])
    record(
        "legacy.corrected",
        actor=actor,
        obj=item,
        before={name: values[0] for name, values in changed.items()},
        after={name: values[1] for name, values in changed.items()},
        reason=_("Corrected by import %(batch)s from %(source)s")
        % {"batch": batch.number, "source": batch.source_name},
    )
    return None
