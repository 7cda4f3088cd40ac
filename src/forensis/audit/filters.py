import django_filters
from django.utils.translation import gettext_lazy as _

from forensis.core.forms import BootstrapForm

from .models import AuditEvent, Outcome


class AuditEventFilter(django_filters.FilterSet):
    actor_username = django_filters.CharFilter(label=_("User"), lookup_expr="iexact")
    action = django_filters.CharFilter(label=_("Action starts with"), lookup_expr="startswith")
    object_type = django_filters.CharFilter(label=_("Object type"), lookup_expr="iexact")
    object_id = django_filters.CharFilter(label=_("Object id"))
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices, label=_("Outcome"))
    since = django_filters.DateFilter(
        field_name="occurred_at",
        lookup_expr="date__gte",
        label=_("From"),
        widget=django_filters.widgets.forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        field_name="occurred_at",
        lookup_expr="date__lte",
        label=_("To"),
        widget=django_filters.widgets.forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        form = BootstrapForm
        model = AuditEvent
        fields = ["actor_username", "action", "object_type", "object_id", "outcome", "since", "until"]
