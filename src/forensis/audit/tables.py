import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent


class AuditEventTable(tables.Table):
    id = tables.Column(verbose_name="#")
    occurred_at = tables.DateTimeColumn(format="Y-m-d H:i:s")
    outcome = tables.TemplateColumn(template_name="audit/_outcome_badge.html")
    object_repr = tables.Column(verbose_name=_("Object"))
    changes = tables.TemplateColumn(template_name="audit/_changes.html", verbose_name=_("Changes"), orderable=False)

    class Meta:
        model = AuditEvent
        fields = (
            "id",
            "occurred_at",
            "actor_username",
            "actor_agency",
            "action",
            "outcome",
            "object_type",
            "object_repr",
            "changes",
            "reason",
            "source",
        )
        attrs = {"class": "table table-sm table-hover align-middle small"}
