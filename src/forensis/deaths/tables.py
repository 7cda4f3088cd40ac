from __future__ import annotations

import django_tables2 as tables
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .filters import STAGE_LABELS
from .models import DeathInvestigation, Manner

#: Bootstrap badge classes of each manner of death and each stage.
MANNER_BADGES = {
    Manner.HOMICIDE: "text-bg-danger",
    Manner.SUICIDE: "text-bg-warning",
    Manner.ACCIDENT: "text-bg-info",
    Manner.NATURAL: "text-bg-success",
    Manner.UNDETERMINED: "text-bg-secondary",
    Manner.PENDING: "text-bg-light border",
}
STAGE_BADGES = {
    "logged": "text-bg-secondary",
    "received": "text-bg-info",
    "autopsy": "text-bg-primary",
    "review": "text-bg-warning",
    "reported": "text-bg-success",
    "released": "text-bg-dark",
}


def manner_badge(manner: str | None):
    """The manner of the autopsy record; "Pending investigation" while none is recorded."""
    manner = manner or Manner.PENDING
    return format_html(
        '<span class="badge {}" data-testid="manner-badge" data-manner="{}">{}</span>',
        MANNER_BADGES.get(manner, "text-bg-light border"),
        manner,
        Manner(manner).label,
    )


def stage_badge(stage: str):
    return format_html(
        '<span class="badge {}" data-testid="stage-badge" data-stage="{}">{}</span>',
        STAGE_BADGES.get(stage, "text-bg-secondary"),
        stage,
        STAGE_LABELS.get(stage, stage),
    )


class DeathTable(tables.Table):
    number = tables.Column(
        verbose_name=_("Number"),
        linkify=("deaths:detail", {"number": tables.A("number")}),
        attrs={"td": {"class": "text-nowrap"}},
    )
    decedent = tables.Column(verbose_name=_("Deceased"), empty_values=(), order_by=("decedent_name", "tag_number"))
    sex = tables.Column(verbose_name=_("Sex"))
    age = tables.Column(verbose_name=_("Age"), accessor="age_shown", order_by=("age", "age_min"), default="—")
    district = tables.Column(verbose_name=_("District"))
    month = tables.Column(verbose_name=_("Month"), attrs={"td": {"class": "text-nowrap"}})
    manner = tables.Column(verbose_name=_("Manner"), accessor="autopsy__manner", empty_values=(), default=None)
    stage = tables.Column(verbose_name=_("Stage"))
    pathologist = tables.Column(
        verbose_name=_("Pathologist"), order_by=("pathologist__last_name", "pathologist__first_name"), default="—"
    )

    class Meta:
        model = DeathInvestigation
        fields = ("number", "decedent", "sex", "age", "district", "month", "manner", "stage", "pathologist")
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "death-table"}
        row_attrs = {"data-testid": "death-row", "data-number": lambda record: record.number}
        empty_text = _("No death investigation matches.")

    def render_decedent(self, record):
        return record.decedent

    def render_manner(self, record):
        autopsy = getattr(record, "autopsy", None)
        return manner_badge(autopsy.manner if autopsy else None)

    def render_stage(self, value):
        return stage_badge(value)


class PendingTable(tables.Table):
    """Deaths whose manner is still pending, oldest first, with how long they have waited."""

    number = tables.Column(
        verbose_name=_("Number"),
        linkify=("deaths:detail", {"number": tables.A("number")}),
        attrs={"td": {"class": "text-nowrap"}},
    )
    decedent = tables.Column(verbose_name=_("Deceased"), empty_values=())
    district = tables.Column(verbose_name=_("District"))
    logged_at = tables.DateTimeColumn(
        verbose_name=_("Logged"), format="Y-m-d H:i", attrs={"td": {"class": "text-nowrap"}}
    )
    days = tables.Column(
        verbose_name=_("Days since logged"), accessor="logged_at", attrs={"cell": {"class": "text-end"}}
    )
    stage = tables.Column(verbose_name=_("Stage"))
    pathologist = tables.Column(verbose_name=_("Pathologist"), default="—")

    class Meta:
        model = DeathInvestigation
        fields = ("number", "decedent", "district", "logged_at", "days", "stage", "pathologist")
        orderable = False
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "pending-table"}
        row_attrs = {"data-testid": "pending-row", "data-number": lambda record: record.number}
        empty_text = _("No death is waiting for its manner to be determined.")

    def render_decedent(self, record):
        return record.decedent

    def render_days(self, value):
        return format_html('<span data-testid="days-pending">{}</span>', (timezone.now() - value).days)

    def render_stage(self, value):
        return stage_badge(value)
