import django_filters
from django.utils.translation import gettext_lazy as _

from forensis.core.filters import date_filter
from forensis.core.forms import BootstrapForm

from .models import AuditEvent, Outcome


class AuditEventFilter(django_filters.FilterSet):
    actor_username = django_filters.CharFilter(label=_("User"), lookup_expr="iexact")
    action = django_filters.CharFilter(label=_("Action starts with"), lookup_expr="startswith")
    object_type = django_filters.CharFilter(label=_("Object type"), lookup_expr="iexact")
    object_id = django_filters.CharFilter(label=_("Object id"))
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices, label=_("Outcome"))
    since = date_filter("occurred_at", "gte", _("From"))
    until = date_filter("occurred_at", "lte", _("To"))

    class Meta:
        form = BootstrapForm
        model = AuditEvent
        fields = ["actor_username", "action", "object_type", "object_id", "outcome", "since", "until"]
