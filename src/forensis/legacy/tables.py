"""The tables of the import pages: the batches, and the rejected rows of one batch."""

from __future__ import annotations

import django_tables2 as tables
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import BatchStatus, ImportBatch, Rejection
from .reports import reason_label

STATUS_BADGES = {
    BatchStatus.QUEUED: "text-bg-secondary",
    BatchStatus.RUNNING: "text-bg-primary",
    BatchStatus.COMPLETED: "text-bg-success",
    BatchStatus.FAILED: "text-bg-danger",
    BatchStatus.INTERRUPTED: "text-bg-warning",
}
#: The totals shown in the list, in the order of the summary.
TOTALS = (
    ("read", _("Read")),
    ("created", _("Created")),
    ("updated", _("Updated")),
    ("unchanged", _("Unchanged")),
    ("rejected", _("Rejected")),
)


def status_badge(status: str):
    return format_html(
        '<span class="badge {}" data-testid="status-badge" data-status="{}">{}</span>',
        STATUS_BADGES.get(status, "text-bg-secondary"),
        status,
        BatchStatus(status).label if status in BatchStatus.values else status,
    )


def dry_run_badge(dry_run: bool):
    if dry_run:
        return format_html('<span class="badge text-bg-info" data-testid="dry-run-badge">{}</span>', _("Dry run"))
    return format_html('<span class="badge text-bg-light border" data-testid="import-badge">{}</span>', _("Import"))


def _total_column(name: str, label) -> tables.Column:
    return tables.Column(
        verbose_name=label,
        accessor=f"counts__totals__{name}",
        order_by=(f"counts__totals__{name}",),
        default="—",
        attrs={"cell": {"class": "text-end"}},
    )


class BatchTable(tables.Table):
    """The imports, newest first; the source's column also names the mapping, the status's also says whether it
    was a dry run (the table stays readable at the width of a laptop)."""

    number = tables.Column(
        verbose_name=_("Number"),
        linkify=("legacy:detail", {"number": tables.A("number")}),
        attrs={"td": {"class": "text-nowrap"}},
    )
    source_name = tables.Column(verbose_name=_("Source and mapping"))
    started_by = tables.Column(
        verbose_name=_("Started by"), order_by=("started_by__username",), attrs={"td": {"class": "text-nowrap"}}
    )
    started_at = tables.DateTimeColumn(
        verbose_name=_("Started"), format="Y-m-d H:i", attrs={"td": {"class": "text-nowrap"}}
    )
    finished_at = tables.Column(verbose_name=_("Finished"), default="—", attrs={"td": {"class": "text-nowrap"}})
    status = tables.Column(verbose_name=_("Status"), attrs={"td": {"class": "text-nowrap"}})
    read = _total_column(*TOTALS[0])
    created = _total_column(*TOTALS[1])
    updated = _total_column(*TOTALS[2])
    unchanged = _total_column(*TOTALS[3])
    rejected = _total_column(*TOTALS[4])

    class Meta:
        model = ImportBatch
        fields = (
            "number",
            "source_name",
            "started_by",
            "started_at",
            "finished_at",
            "status",
            "read",
            "created",
            "updated",
            "unchanged",
            "rejected",
        )
        attrs = {"class": "table table-sm table-hover align-middle small", "data-testid": "batch-table"}
        row_attrs = {"data-testid": "batch-row", "data-number": lambda record: record.number}
        empty_text = _("No import yet.")

    def render_source_name(self, value, record):
        return format_html('{}<div class="text-muted text-break">{}</div>', value, record.mapping_name)

    def render_started_by(self, value):
        return value.get_full_name() or value.get_username()

    def render_finished_at(self, value, record):
        """The time alone when the import ended on the day it started (in the laboratory's time zone)."""
        finished, started = timezone.localtime(value), timezone.localtime(record.started_at)
        return date_format(finished, "H:i" if finished.date() == started.date() else "Y-m-d H:i")

    def render_status(self, record):
        # Not ``value``: for a field with choices django-tables2 passes the display text.
        return format_html("{} {}", status_badge(record.status), dry_run_badge(record.dry_run))


class RejectionTable(tables.Table):
    source_table = tables.Column(verbose_name=_("Source"))
    row_number = tables.Column(verbose_name=_("Row"), attrs={"cell": {"class": "text-end"}}, default="—")
    entity = tables.Column(verbose_name=_("Kind of record"))
    legacy_id = tables.Column(verbose_name=_("Legacy ID"), default="—")
    column = tables.Column(verbose_name=_("Column"), default="—")
    value = tables.Column(verbose_name=_("Value"), default="", attrs={"td": {"class": "text-break"}})
    reason = tables.Column(verbose_name=_("Reason"), attrs={"td": {"class": "text-break"}})

    class Meta:
        model = Rejection
        fields = ("source_table", "row_number", "entity", "legacy_id", "column", "value", "reason")
        attrs = {"class": "table table-sm table-hover align-middle small", "data-testid": "rejection-table"}
        row_attrs = {"data-testid": "rejection-row", "data-code": lambda record: record.code}
        empty_text = _("No rejected row matches.")

    def render_value(self, value):
        shown = value if len(value) <= 80 else value[:79] + "…"
        return format_html('<code title="{}">{}</code>', value, shown)

    def render_reason(self, value, record):
        label = reason_label(record.code)
        if label == value:
            return value
        return format_html('{}<div class="text-muted">{}</div>', value, label)
