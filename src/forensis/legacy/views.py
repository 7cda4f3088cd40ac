"""The administrator's import pages: the list of imports, a new import (upload and queue), and one import's page
with its progress, summary, reconciliation, rejected rows and report files.

Only holders of ``legacy.run_import`` (administrators) open them; everyone else gets a 403. Nothing here writes a
model: ``legacy.services.queue_import`` and ``repeat_import`` store and queue, the background worker imports
(``legacy.tasks``), and their refusals are shown on the form or as a message.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh
from django_tables2 import RequestConfig

from forensis.core.services import call_with_form_errors

from . import services
from .filters import BatchFilter, RejectionFilter
from .forms import ImportForm
from .models import BatchStatus, Entity, ImportBatch
from .reports import COUNT_COLUMNS, reason_label
from .tables import BatchTable, RejectionTable, dry_run_badge, status_badge

RUN_IMPORT = "legacy.run_import"
#: The files an import writes into its report folder; nothing else there is ever served.
REPORT_FILES = ("summary.txt", "rejections.csv", "reconciliation.csv")
UNFINISHED = (BatchStatus.QUEUED, BatchStatus.RUNNING)
#: What the progress bar says the worker is doing.
STAGE_LABELS = {
    "cases": gettext_lazy("Reading the cases"),
    "people": gettext_lazy("Reading the people"),
    "items": gettext_lazy("Reading the items"),
    "results": gettext_lazy("Reading the results"),
    "locations": gettext_lazy("Reading the locations"),
    "saving": gettext_lazy("Saving the cases"),
}
COUNT_LABELS = {
    "read": gettext_lazy("Read"),
    "created": gettext_lazy("Created"),
    "updated": gettext_lazy("Updated"),
    "unchanged": gettext_lazy("Unchanged"),
    "rejected": gettext_lazy("Rejected"),
    "collapsed": gettext_lazy("Duplicates collapsed"),
    "skipped": gettext_lazy("Skipped (limit)"),
}


def _batch(number: str) -> ImportBatch:
    return get_object_or_404(ImportBatch.objects.select_related("started_by"), number=number)


def _entity_label(entity: str) -> str:
    return Entity(entity).label if entity in Entity.values else entity


# --- the list and a new import -----------------------------------------------------------------------------


@login_required
@permission_required(RUN_IMPORT, raise_exception=True)
def batch_list(request):
    batches = BatchFilter(request.GET, queryset=ImportBatch.objects.select_related("started_by"))
    table = BatchTable(batches.qs)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    return render(request, "legacy/batch_list.html", {"filter": batches, "table": table})


@login_required
@permission_required(RUN_IMPORT, raise_exception=True)
def batch_new(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        batch = call_with_form_errors(
            form,
            services.queue_import,
            request.user,
            mapping_file=form.cleaned_data["mapping_file"],
            source_files=form.cleaned_data["source_files"],
            dry_run=form.dry_run,
            limit=form.cleaned_data["limit"],
        )
        if batch is not None:
            messages.success(
                request,
                (_("Dry run %(number)s queued.") if batch.dry_run else _("Import %(number)s queued."))
                % {"number": batch.number},
            )
            return redirect("legacy:detail", number=batch.number)
    return render(request, "legacy/batch_new.html", {"form": form})


# --- one import ----------------------------------------------------------------------------------------------


def progress_context(batch: ImportBatch) -> dict:
    """What the progress bar shows: the stage in words, rows done of the total, and the percentage."""
    progress = batch.progress or {}
    stage, done, total = progress.get("stage", ""), progress.get("done") or 0, progress.get("total")
    return {
        "batch": batch,
        "finished": batch.status not in UNFINISHED,
        "queued": batch.status == BatchStatus.QUEUED,
        "status_badge": status_badge(batch.status),
        "stage": STAGE_LABELS.get(stage, stage),
        "done": done,
        "total": total,
        "percent": min(100, done * 100 // total) if total else None,
    }


def summary_context(batch: ImportBatch) -> dict:
    """The finished import's numbers, from ``ImportBatch.counts``, arranged for the tables of its page."""
    counts = batch.counts or {}
    entities = counts.get("entities", {})
    summary = [
        {"label": _entity_label(entity), "values": [values.get(name, 0) for name in COUNT_COLUMNS]}
        for entity, values in entities.items()
    ]
    totals = counts.get("totals", {})
    reasons = sorted(
        (
            {
                "entity": entity,
                "entity_label": _entity_label(entity),
                "code": code,
                "label": reason_label(code),
                "count": count,
            }
            for entity, values in entities.items()
            for code, count in values.get("reasons", {}).items()
        ),
        key=lambda reason: -reason["count"],
    )
    reconciliation = []
    lines = counts.get("reconciliation", [])
    for entity in dict.fromkeys(line["entity"] for line in lines):
        years = [line for line in lines if line["entity"] == entity]
        names = ("source_rows", "imported", "rejected", "collapsed", "skipped")
        total = {name: sum(line[name] for line in years) for name in names}
        total["explained"] = total["source_rows"] == sum(total[name] for name in names[1:])
        reconciliation.append({"entity": entity, "label": _entity_label(entity), "years": years, "total": total})
    return {
        "count_labels": [COUNT_LABELS[name] for name in COUNT_COLUMNS],
        "summary": summary,
        "totals": [totals.get(name, 0) for name in COUNT_COLUMNS] if totals else [],
        "reasons": reasons,
        "reconciliation": reconciliation,
        "balances": all(line["explained"] for line in lines),
    }


@login_required
@permission_required(RUN_IMPORT, raise_exception=True)
def batch_detail(request, number: str):
    batch = _batch(number)
    context = progress_context(batch)
    context["dry_run_badge"] = dry_run_badge(batch.dry_run)
    from_page = bool(batch.upload_dir)
    context["may_import_for_real"] = from_page and batch.dry_run and batch.status == BatchStatus.COMPLETED
    context["may_run_again"] = from_page and context["finished"]
    if context["finished"]:
        context.update(summary_context(batch))
        report_dir = Path(batch.report_dir) if batch.report_dir else None
        context["report_files"] = [name for name in REPORT_FILES if report_dir and (report_dir / name).is_file()]
        rejections = RejectionFilter(request.GET, batch=batch)
        table = RejectionTable(rejections.qs)
        RequestConfig(request, paginate={"per_page": 50}).configure(table)
        context.update(
            {"rejection_filter": rejections, "rejection_table": table, "has_rejections": batch.rejections.exists()}
        )
    return render(request, "legacy/batch_detail.html", context)


@login_required
@permission_required(RUN_IMPORT, raise_exception=True)
def batch_progress(request, number: str):
    """The progress bar alone, polled by the page every 2 s while the import is queued or running; when it has
    finished, an htmx request reloads the whole page (which then shows the summary and no longer polls)."""
    batch = _batch(number)
    if batch.status not in UNFINISHED and request.htmx:
        return HttpResponseClientRefresh()
    return render(request, "legacy/_progress.html", progress_context(batch))


@login_required
@permission_required(RUN_IMPORT, raise_exception=True)
@require_POST
def batch_repeat(request, number: str):
    """ "Import for real" after a dry run (``mode=import``), or "Run again" as it was run (``mode=again``)."""
    batch = _batch(number)
    mode = request.POST.get("mode")
    if mode not in ("import", "again"):
        messages.error(request, _("Choose what to run."))
        return redirect("legacy:detail", number=batch.number)
    dry_run = False if mode == "import" else batch.dry_run
    try:
        repeated = services.repeat_import(request.user, batch, dry_run=dry_run)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("legacy:detail", number=batch.number)
    messages.success(
        request,
        (_("Dry run %(number)s queued.") if repeated.dry_run else _("Import %(number)s queued."))
        % {"number": repeated.number},
    )
    return redirect("legacy:detail", number=repeated.number)


@login_required
@permission_required(RUN_IMPORT, raise_exception=True)
def report_file(request, number: str, name: str):
    """One of the import's report files, as an attachment; only the names an import writes are served."""
    batch = _batch(number)
    if name not in REPORT_FILES or not batch.report_dir:
        raise Http404
    file_path = Path(batch.report_dir) / name
    if not file_path.is_file():
        raise Http404
    return FileResponse(file_path.open("rb"), as_attachment=True, filename=f"{batch.number}-{name}")
