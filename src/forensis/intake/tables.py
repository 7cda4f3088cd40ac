import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from .models import Submission


class SubmissionTable(tables.Table):
    reference = tables.Column(linkify=("intake:detail", {"reference": tables.A("reference")}))
    status = tables.TemplateColumn(
        '{% include "intake/_status_badge.html" with status=record.status label=record.get_status_display %}',
        verbose_name=_("Status"),
    )
    case = tables.Column(verbose_name=_("Lab case"), accessor="case__lab_number", default="—")
    submitted_at = tables.DateTimeColumn(format="Y-m-d H:i", default="—")

    class Meta:
        model = Submission
        fields = (
            "reference",
            "agency_case_number",
            "status",
            "case",
            "agency",
            "submitting_officer",
            "created_at",
            "submitted_at",
        )
        attrs = {"class": "table table-sm table-hover align-middle"}
