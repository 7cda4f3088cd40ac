"""The legacy import: read every entity of the old database, validate, then save case by case in chunks.

Two phases, each in its own module, sharing one ``records.ImportState``:

1. **Read and validate** (``reading``): each entity in turn (cases, people, items, results, locations); every row
   is read with the mapping (``transforms.read_record``) and checked against Forensis (``validation``: agency,
   district, ICCS, item type, discipline, … exist; lengths fit); identical rows of one key collapse, different rows
   of one key are all rejected; a child whose case (or item) is missing or rejected is rejected as an orphan. What
   is kept of each accepted record is its canonical JSON text (in a temporary file), its row numbers, its year and
   its parent's key (``records.HeldRecords``).
2. **Save** (``saving``) the accepted cases in chunks (``chunk_size`` cases with all their people, items, results
   and locations per transaction, so a case never arrives in part and a killed import keeps every chunk it
   finished). A record whose fingerprint (SHA-256 of its canonical JSON) equals the one of its last import is left
   alone; a new one is created in bulk by the owning app's service; a changed one is corrected by it, audited
   before/after. Nothing is deleted.

Then the control of the data (``reconciliation``) and the reports (``reports``). A dry run does all of it inside
transactions that are rolled back, so it reports exactly what a real run would create, correct and reject.
"""

from __future__ import annotations

from pathlib import Path
from time import monotonic

from django.conf import settings

from forensis.accounts.models import User
from forensis.legacy.mapping import Mapping
from forensis.legacy.sources import open_source

from . import services
from .models import BatchStatus, ImportBatch
from .reading import read
from .reconciliation import reconcile
from .records import AfterChunk, ImportState, Progress
from .reports import write_reports
from .saving import save


def run_import(
    mapping: Mapping,
    *,
    actor: User,
    dry_run: bool = False,
    limit: int | None = None,
    report_dir: str | Path | None = None,
    progress: Progress | None = None,
    chunk_size: int = 500,
    after_chunk: AfterChunk | None = None,
    queued: ImportBatch | None = None,
) -> ImportBatch:
    """Import what ``mapping`` describes; returns the finished batch (its ``counts`` hold the summary).

    ``progress(stage, done, total)`` is called as rows are read and cases saved; ``after_chunk(index, cases
    saved)`` after each chunk has committed (tests use it to stop an import half way). ``queued`` is the batch
    the administrator's page queued for this run (its progress is then stored on it). MappingError and
    SourceError from the mapping or the source propagate, as does any other error, after the batch is marked
    failed; a batch still "running" from a process that was killed is marked interrupted first.
    """
    services.check_may_import(actor)
    services.mark_interrupted()
    batch = services.start_batch(
        actor,
        source_name=mapping.source.name,
        mapping_name=mapping.path.name,
        mapping_text=services.read_text(mapping.path),
        dry_run=dry_run,
        limit=limit,
        queued=queued,
    )
    if queued is not None:
        progress = _stored_progress(batch, progress)
    state = ImportState(mapping, batch, actor, dry_run=dry_run, limit=limit, chunk_size=chunk_size, progress=progress)
    try:
        with open_source(mapping.source) as source:
            read(state, source)
        save(state, after_chunk)
        reconciliation = reconcile(state)
    except BaseException as exc:
        status = BatchStatus.INTERRUPTED if isinstance(exc, KeyboardInterrupt) else BatchStatus.FAILED
        services.save_rejections(batch, state.rejections)
        services.finish_batch(actor, batch, status=status, counts=state.counts(), error=str(exc) or repr(exc))
        raise
    finally:
        state.held.close()
    folder = Path(report_dir) if report_dir else Path(settings.DATA_DIR) / "legacy-reports" / batch.number
    counts = state.counts(reconciliation)
    services.save_rejections(batch, state.rejections)
    batch.counts = counts
    write_reports(batch, state.rejections, reconciliation, folder)
    return services.finish_batch(actor, batch, status=BatchStatus.COMPLETED, counts=counts, report_dir=str(folder))


def _stored_progress(batch: ImportBatch, also: Progress | None) -> Progress:
    """Progress kept on the batch for its page: at most one write a second, and always the last of a stage."""
    last = {"at": 0.0}

    def report(stage: str, done: int, total: int | None) -> None:
        now = monotonic()
        if now - last["at"] >= 1 or done == total:
            last["at"] = now
            services.record_progress(batch, stage, done, total)
        if also:
            also(stage, done, total)

    return report
