import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from forensis.core.filters import date_filter
from forensis.core.forms import BootstrapForm

from .models import Submission, SubmissionStatus


class SubmissionFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search")
    status = django_filters.ChoiceFilter(choices=SubmissionStatus.choices, label=_("Status"))
    since = date_filter("created_at", "gte", _("From"))
    until = date_filter("created_at", "lte", _("To"))

    class Meta:
        model = Submission
        form = BootstrapForm
        fields = ["q", "status", "since", "until"]

    def search(self, queryset, name, value):
        """Submission number, agency case number, lab case number or a person's name."""
        value = value.strip()
        return queryset.filter(
            Q(reference__icontains=value)
            | Q(agency_case_number__icontains=value)
            | Q(case__lab_number__icontains=value)
            | Q(people__name__icontains=value)
        ).distinct()
