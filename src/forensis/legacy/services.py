"""The legacy app's own writes: import batches, rejections, fingerprints and legacy results.

Cases, people and items are written by their owning apps (``cases.services.migrate_cases``,
``evidence.migration.migrate_items``); the import's save phase (``legacy.saving``) calls them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from forensis.accounts.models import User
from forensis.audit.services import record
from forensis.core.bulk import insert_rows
from forensis.core.corrections import apply_correction
from forensis.core.models import MigrationOutcome, in_chunks, migrated_objects, yearly_number

from .models import BatchStatus, ImportBatch, LegacyRecord, LegacyResult, Rejection

# --- batches --------------------------------------------------------------------------------------


def _process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def mark_interrupted() -> list[str]:
    """Batches "running" whose process is gone were killed (or the machine stopped): mark them interrupted.

    Each chunk of an import commits on its own, so what such a run saved is whole; running the same import
    again completes it. Imports run on the machine that serves Forensis, so a process number that no longer
    exists here means the run died. Returns the numbers of the batches marked.
    """
    running = ImportBatch.objects.filter(status=BatchStatus.RUNNING).values_list("number", "pid")
    numbers = [number for number, pid in running if not _process_alive(pid)]
    if numbers:
        ImportBatch.objects.filter(number__in=numbers).update(
            status=BatchStatus.INTERRUPTED,
            error=_("The import process stopped before it finished (found running at the start of a later import)."),
        )
        for number in numbers:
            record("legacy.import_interrupted", object_type="legacy.importbatch", object_repr=number)
    return numbers


def check_may_import(actor: User) -> None:
    """Administrators hold ``legacy.run_import`` (accounts.roles); superusers hold every permission."""
    if not (actor.is_active and actor.has_perm("legacy.run_import")):
        raise PermissionDenied(_("Only an administrator may import legacy data."))


@transaction.atomic
def start_batch(
    actor: User,
    *,
    source_name: str,
    mapping_name: str,
    mapping_text: str,
    dry_run: bool = False,
    limit: int | None = None,
    queued: ImportBatch | None = None,
) -> ImportBatch:
    """Open the batch of a run starting now in this process (or take over ``queued``, a batch the page queued)."""
    now = timezone.now()
    if queued is not None:
        batch = queued
        batch.status, batch.started_at, batch.pid, batch.progress = BatchStatus.RUNNING, now, os.getpid(), {}
        batch.save(update_fields=["status", "started_at", "pid", "progress"])
    else:
        batch = ImportBatch.objects.create(
            number=yearly_number("IMP", "legacy-import", now),
            source_name=source_name,
            mapping_name=mapping_name,
            mapping_text=mapping_text,
            started_by=actor,
            started_at=now,
            dry_run=dry_run,
            limit=limit,
            pid=os.getpid(),
        )
    record(
        "legacy.import_started",
        actor=actor,
        obj=batch,
        after={"source": source_name, "mapping": mapping_name, "dry_run": dry_run, "limit": limit},
    )
    return batch


def record_progress(batch: ImportBatch, stage: str, done: int, total: int | None) -> None:
    """How far a running import is, for its page (bookkeeping, not audited: the start and the end are)."""
    batch.progress = {"stage": stage, "done": done, "total": total}
    ImportBatch.objects.filter(pk=batch.pk).update(progress=batch.progress)


# --- imports started from the page --------------------------------------------------------------------

UPLOADS_FOLDER = "legacy-uploads"


def queue_import(
    actor: User,
    *,
    mapping_file: UploadedFile,
    source_files: Sequence[UploadedFile],
    dry_run: bool,
    limit: int | None = None,
) -> ImportBatch:
    """Store an uploaded mapping and its source files, check the mapping, and queue the import for the worker.

    The source files go where the mapping's ``source.path`` says, relative to the mapping (the folder of a
    CSV source, or the file itself), so a mapping written for the command line is uploaded unchanged. A
    mapping with problems, a source file it does not name, or a SQLite URL (a file on the server) is refused
    with a ValidationError and nothing is kept.
    """
    check_may_import(actor)
    if limit is not None and limit < 1:
        raise ValidationError({"limit": _("The limit must be 1 or more.")})
    names = [_safe_name(upload.name) for upload in [mapping_file, *source_files]]
    if len(set(names)) != len(names):
        raise ValidationError({"source_files": _("Two uploaded files have the same name.")})
    total = sum(upload.size or 0 for upload in [mapping_file, *source_files])
    if total > settings.FORENSIS_LEGACY_UPLOAD_MB * 1024 * 1024:
        raise ValidationError(
            _("The files weigh more than %(limit)s MB together.") % {"limit": settings.FORENSIS_LEGACY_UPLOAD_MB}
        )
    folder = Path(settings.DATA_DIR) / UPLOADS_FOLDER / uuid.uuid4().hex
    try:
        mapping = _store_upload(folder, mapping_file, names[0], source_files, names[1:])
        batch = _queue(actor, mapping, folder, dry_run=dry_run, limit=limit)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return batch


def _safe_name(name: str) -> str:
    safe = get_valid_filename(Path(name or "").name)
    if safe in ("", ".", ".."):
        raise ValidationError(_("An uploaded file has no usable name."))
    return safe


def _store_upload(
    folder: Path, mapping_file: UploadedFile, mapping_name: str, source_files: Sequence[UploadedFile], names: list[str]
):
    from .mapping import MappingError, load_mapping

    folder.mkdir(parents=True)
    mapping_path = folder / mapping_name
    _write(mapping_file, mapping_path)
    try:
        mapping = load_mapping(mapping_path)
    except MappingError as exc:
        raise ValidationError({"mapping_file": [*exc.problems]}) from None
    source = mapping.source
    if source.kind == "sql":
        if (source.url or "").lower().startswith("sqlite"):
            raise ValidationError(
                {
                    "mapping_file": _(
                        "A SQLite database is uploaded as a file (kind = 'sqlite' with its path), not named by a URL."
                    )
                }
            )
        if source_files:
            raise ValidationError({"source_files": _("The mapping reads a database server; it needs no files.")})
        return mapping
    target = source.path.resolve()
    if not target.is_relative_to(folder.resolve()):
        raise ValidationError(
            {"mapping_file": _("source.path must stay beside the mapping file (no '..' or absolute paths).")}
        )
    if source.kind == "csv":
        files_folder, expected = target, None
    else:
        files_folder, expected = target.parent, target.name
    if not source_files:
        raise ValidationError({"source_files": _("Upload the source files the mapping reads.")})
    if expected is not None and names != [expected]:
        raise ValidationError(
            {"source_files": _("The mapping reads one file, %(name)s: upload that file alone.") % {"name": expected}}
        )
    files_folder.mkdir(parents=True, exist_ok=True)
    for upload, name in zip(source_files, names, strict=True):
        _write(upload, files_folder / name)
    return mapping


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _write(upload: UploadedFile, path: Path) -> None:
    with path.open("wb") as file:
        for chunk in upload.chunks():
            file.write(chunk)


def repeat_import(actor: User, batch: ImportBatch, *, dry_run: bool) -> ImportBatch:
    """Queue the import of ``batch``'s uploaded files again: typically for real after a dry run looked right.

    The mapping is loaded again, so one edited on the server since is checked before anything runs.
    """
    from .mapping import MappingError, load_mapping

    check_may_import(actor)
    if not batch.upload_dir:
        raise ValidationError(_("This import was run from the command line; run it there again."))
    if batch.status in (BatchStatus.QUEUED, BatchStatus.RUNNING):
        raise ValidationError(_("This import has not finished yet."))
    try:
        mapping = load_mapping(Path(batch.upload_dir) / batch.mapping_name)
    except MappingError as exc:
        raise ValidationError(exc.problems) from None
    return _queue(actor, mapping, Path(batch.upload_dir), dry_run=dry_run, limit=batch.limit)


@transaction.atomic
def _queue(actor: User, mapping, folder: Path, *, dry_run: bool, limit: int | None) -> ImportBatch:
    from .tasks import run_queued_import

    now = timezone.now()
    batch = ImportBatch.objects.create(
        number=yearly_number("IMP", "legacy-import", now),
        source_name=mapping.source.name,
        mapping_name=mapping.path.name,
        mapping_text=read_text(mapping.path),
        started_by=actor,
        started_at=now,
        status=BatchStatus.QUEUED,
        dry_run=dry_run,
        limit=limit,
        upload_dir=str(folder),
    )
    record(
        "legacy.import_queued",
        actor=actor,
        obj=batch,
        after={"source": batch.source_name, "mapping": batch.mapping_name, "dry_run": dry_run, "limit": limit},
    )
    transaction.on_commit(lambda: run_queued_import.enqueue(batch.pk))
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
        # The bookkeeping of an import must not cost as much as the records it keeps track of.
        fields = ("legacy_source", "entity", "legacy_id", "fingerprint", "batch", "object_pk")
        insert_rows(LegacyRecord, fields, new, keys=False)
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
#: The fields a legacy result is created with, in the order ``migrate_results`` gives their values.
MIGRATED_RESULT_FIELDS = (
    "case",
    "item",
    "discipline",
    "result",
    "value",
    "unit",
    "reported_at",
    "analyst",
    "legacy_source",
    "legacy_id",
    "import_batch",
)


@transaction.atomic
def migrate_results(actor: User, batch: ImportBatch, results: Sequence[MigratedResult]) -> MigrationOutcome:
    """Create or correct legacy results in bulk: kept as recorded, never turned into requests or examinations."""
    outcome = MigrationOutcome()
    existing = migrated_objects(LegacyResult.objects.all(), batch.source_name, [data.legacy_id for data in results])
    new: list[MigratedResult] = []
    for data in results:
        if not data.result:
            raise ValidationError(_("Result %(key)s has no text.") % {"key": data.legacy_id})
        found = existing.get(data.legacy_id)
        if found is None:
            new.append(data)
        elif found.item_id != data.item_id:
            outcome.refused[data.legacy_id] = _(
                "this result belongs to another item in Forensis; an import does not move results between items"
            )
        elif _correct_result(actor, batch, found, data):
            outcome.updated[data.legacy_id] = found.pk
        else:
            outcome.unchanged[data.legacy_id] = found.pk
    if new:
        pks = insert_rows(
            LegacyResult,
            MIGRATED_RESULT_FIELDS,
            [
                (data.case_id, data.item_id, data.discipline_id, data.result, data.value, data.unit)
                + (data.reported_at, data.analyst, batch.source_name, data.legacy_id, batch.pk)
                for data in new
            ],
        )
        outcome.created = {data.legacy_id: pk for data, pk in zip(new, pks, strict=True)}
        record(
            "legacy.imported",
            actor=actor,
            obj=batch,
            after={
                "batch": batch.number,
                "source": batch.source_name,
                "entity": "results",
                "legacy_ids": [data.legacy_id for data in new],
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
    found.import_batch = batch
    reason = _("Corrected by import %(batch)s from %(source)s") % {"batch": batch.number, "source": batch.source_name}
    apply_correction(actor, found, changed, reason=reason, also_save=["import_batch"])
    return True
