import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from .models import Report


class ReportTable(tables.Table):
    number = tables.Column(linkify=("reports:detail", {"number": tables.A("number")}))
    kind = tables.Column(verbose_name=_("Kind"))
    case = tables.Column(verbose_name=_("Lab case"), accessor="case__lab_number")
    agency_case_number = tables.Column(verbose_name=_("Agency case"), accessor="case__agency_case_number")
    agency = tables.Column(verbose_name=_("Agency"), accessor="case__agency__name")
    discipline = tables.Column(verbose_name=_("Discipline"), accessor="request__discipline__name", default="—")
    latest_version = tables.TemplateColumn(
        '{% load i18n %}v{{ value }}{% if value > 1 %} <span class="badge text-bg-warning">{% translate "amended" %}'
        "</span>{% endif %}",
        verbose_name=_("Version"),
    )
    latest_issued = tables.DateTimeColumn(verbose_name=_("Issued"), format="Y-m-d H:i")

    class Meta:
        model = Report
        fields = (
            "number",
            "kind",
            "case",
            "agency_case_number",
            "agency",
            "discipline",
            "latest_version",
            "latest_issued",
        )
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "report-table"}
