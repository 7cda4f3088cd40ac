"""The legacy import as background work: the administrator's page queues it, the worker runs it."""

from __future__ import annotations

from pathlib import Path

from django_tasks import task

from . import services
from .mapping import MappingError, load_mapping
from .models import BatchStatus, ImportBatch
from .pipeline import run_import
from .sources import SourceError


@task()
def run_queued_import(batch_id: int) -> str:
    """Run the import the page queued as batch ``batch_id``; its outcome (or error) is kept on the batch."""
    batch = ImportBatch.objects.select_related("started_by").get(pk=batch_id)
    if batch.status != BatchStatus.QUEUED:
        return batch.status  # taken already (a task run twice never imports twice)
    try:
        mapping = load_mapping(Path(batch.upload_dir) / batch.mapping_name)
        run_import(mapping, actor=batch.started_by, dry_run=batch.dry_run, limit=batch.limit, queued=batch)
    except (MappingError, SourceError) as exc:
        # run_import has marked its batch failed with the error; a mapping that no longer loads never got there.
        batch.refresh_from_db()
        if batch.status == BatchStatus.QUEUED:
            error = "\n".join(exc.problems) if isinstance(exc, MappingError) else str(exc)
            services.finish_batch(batch.started_by, batch, status=BatchStatus.FAILED, counts={}, error=error)
    batch.refresh_from_db()
    return batch.status
