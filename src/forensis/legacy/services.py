"""The legacy app's own writes: import batches, rejections, fingerprints and legacy results.

Cases, people and items are written by their owning apps (``cases.services.migrate_cases``,
``evidence.migration.migrate_items``); the pipeline (``legacy.pipeline``) calls them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from forensis.accounts.models import User
from forensis.audit.services import record
from forensis.core.models import MigrationOutcome, in_chunks, migrated_objects, yearly_number

from .models import BatchStatus, ImportBatch, LegacyRecord, LegacyResult, Rejection

# --- batches --------------------------------------------------------------------------------------


def mark_interrupted(source_name: str | None = None) -> list[str]:
    """Batches still "running" belong to a process that died (killed, power cut): mark them interrupted.

    Each chunk of an import commits on its own, so what such a run saved is whole; running the same import
    again completes it. Returns the numbers of the batches marked.
    """
    stale = ImportBatch.objects.filter(status=BatchStatus.RUNNING)
    if source_name:
        stale = stale.filter(source_name=source_name)
    numbers = list(stale.values_list("number", flat=True))
    if numbers:
        ImportBatch.objects.filter(number__in=numbers).update(
            status=BatchStatus.INTERRUPTED,
            error=_("The import process stopped before it finished (found running at the start of a later import)."),
        )
        for number in numbers:
            record("legacy.import_interrupted", object_type="legacy.importbatch", object_repr=number)
    return numbers


@transaction.atomic
def start_batch(
    actor: User,
    *,
    source_name: str,
    mapping_name: str,
    mapping_text: str,
    dry_run: bool = False,
    limit: int | None = None,
) -> ImportBatch:
    now = timezone.now()
    batch = ImportBatch.objects.create(
        number=yearly_number("IMP", "legacy-import", now),
        source_name=source_name,
        mapping_name=mapping_name,
        mapping_text=mapping_text,
        started_by=actor,
        started_at=now,
        dry_run=dry_run,
        limit=limit,
    )
    record(
        "legacy.import_started",
        actor=actor,
        obj=batch,
        after={"source": source_name, "mapping": mapping_name, "dry_run": dry_run, "limit": limit},
    )
    return batch


@transaction.atomic
def finish_batch(
    actor: User, batch: ImportBatch, *, status: str, counts: dict, report_dir: str = "", error: str = ""
) -> ImportBatch:
    batch.status, batch.counts, batch.report_dir, batch.error = status, counts, report_dir, error
    batch.finished_at = timezone.now()
    batch.save(update_fields=["status", "counts", "report_dir", "error", "finished_at"])
    record(
        f"legacy.import_{status}",
        actor=actor,
        obj=batch,
        after={"status": status, "totals": counts.get("totals", {}), "error": error[:500]},
    )
    return batch


def save_rejections(batch: ImportBatch, rejections: Iterable[Rejection]) -> None:
    Rejection.objects.bulk_create([_for_batch(batch, rejection) for rejection in rejections], batch_size=1000)


def _for_batch(batch: ImportBatch, rejection: Rejection) -> Rejection:
    rejection.batch = batch
    rejection.value = rejection.value[:2000]
    rejection.reason = rejection.reason[:500]
    return rejection


# --- fingerprints ---------------------------------------------------------------------------------


class Known(NamedTuple):
    """A legacy record's last import, as ``fingerprints`` reads it."""

    id: int
    fingerprint: str
    object_pk: int


def fingerprints(source: str, entity: str, legacy_ids: Sequence[str]) -> dict[str, Known]:
    """The last imported fingerprint of each of these records, by legacy ID (absent: never imported)."""
    found = {}
    for chunk in in_chunks(sorted(set(legacy_ids))):
        rows = LegacyRecord.objects.filter(legacy_source=source, entity=entity, legacy_id__in=chunk).values_list(
            "legacy_id", "pk", "fingerprint", "object_pk"
        )
        found.update({legacy_id: Known(pk, value, object_pk) for legacy_id, pk, value, object_pk in rows})
    return found


def save_fingerprints(
    batch: ImportBatch,
    entity: str,
    saved: dict[str, tuple[str, int]],
    known: dict[str, Known],
) -> None:
    """Remember what was brought over: ``saved`` maps legacy ID → (fingerprint, Forensis key)."""
    new, changed = [], []
    for legacy_id, (fingerprint, object_pk) in saved.items():
        last = known.get(legacy_id)
        if last is None:
            new.append((batch.source_name, entity, legacy_id, fingerprint, batch.pk, object_pk))
        elif (last.fingerprint, last.object_pk) != (fingerprint, object_pk):
            changed.append(LegacyRecord(pk=last.id, fingerprint=fingerprint, object_pk=object_pk, batch=batch))
    if new:
        # One prepared INSERT run for every row: the bookkeeping of an import must not cost as much as the
        # records it keeps track of (bulk_create builds a model instance per row and, on SQLite, splits the
        # rows into statements of 999 parameters).
        quote = connection.ops.quote_name
        columns = ("legacy_source", "entity", "legacy_id", "fingerprint", "batch_id", "object_pk")
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {quote(LegacyRecord._meta.db_table)} ({', '.join(map(quote, columns))}) "  # noqa: S608
                f"VALUES ({', '.join(['%s'] * len(columns))})",
                new,
            )
    LegacyRecord.objects.bulk_update(changed, ["fingerprint", "object_pk", "batch"], batch_size=500)


# --- results --------------------------------------------------------------------------------------


@dataclass
class MigratedResult:
    """A result as the old system recorded it; ``item_id``/``case_id``/``discipline_id`` are Forensis keys."""

    legacy_id: str
    case_id: int
    item_id: int
    discipline_id: int
    result: str
    value: Decimal | None = None
    unit: str = ""
    reported_at: datetime | None = None
    analyst: str = ""


RESULT_CORRECTABLE = ("discipline_id", "result", "value", "unit", "reported_at", "analyst")


@transaction.atomic
def migrate_results(actor: User, batch: ImportBatch, results: Sequence[MigratedResult]) -> MigrationOutcome:
    """Create or correct legacy results in bulk: kept as recorded, never turned into requests or examinations."""
    outcome = MigrationOutcome()
    existing = migrated_objects(LegacyResult.objects.all(), batch.source_name, [data.legacy_id for data in results])
    new = []
    for data in results:
        if not data.result:
            raise ValidationError(_("Result %(key)s has no text.") % {"key": data.legacy_id})
        found = existing.get(data.legacy_id)
        if found is None:
            new.append(
                LegacyResult(
                    case_id=data.case_id,
                    item_id=data.item_id,
                    discipline_id=data.discipline_id,
                    result=data.result,
                    value=data.value,
                    unit=data.unit,
                    reported_at=data.reported_at,
                    analyst=data.analyst,
                    legacy_source=batch.source_name,
                    legacy_id=data.legacy_id,
                    import_batch=batch,
                )
            )
        elif found.item_id != data.item_id:
            outcome.refused[data.legacy_id] = _(
                "this result belongs to another item in Forensis; an import does not move results between items"
            )
        elif _correct_result(actor, batch, found, data):
            outcome.updated[data.legacy_id] = found.pk
        else:
            outcome.unchanged[data.legacy_id] = found.pk
    LegacyResult.objects.bulk_create(new, batch_size=500)
    outcome.created = {result.legacy_id: result.pk for result in new}
    if new:
        record(
            "legacy.imported",
            actor=actor,
            obj=batch,
            after={
                "batch": batch.number,
                "source": batch.source_name,
                "entity": "results",
                "legacy_ids": [result.legacy_id for result in new],
            },
        )
    return outcome


def _correct_result(actor: User, batch: ImportBatch, found: LegacyResult, data: MigratedResult) -> bool:
    changed = {
        name: (getattr(found, name), getattr(data, name))
        for name in RESULT_CORRECTABLE
        if getattr(found, name) != getattr(data, name)
    }
    if not changed:
        return False
    for name, (_before, after) in changed.items():
        setattr(found, name, after)
    found.import_batch = batch
    found.save(update_fields=[*changed, "import_batch"])
    record(
        "legacy.corrected",
        actor=actor,
        object_type="legacy.legacyresult",
        object_id=found.pk,
        object_repr=f"{batch.source_name}:{found.legacy_id}",
        before={name: values[0] for name, values in changed.items()},
        after={name: values[1] for name, values in changed.items()},
        reason=_("Corrected by import %(batch)s from %(source)s")
        % {"batch": batch.number, "source": batch.source_name},
    )
    return True
