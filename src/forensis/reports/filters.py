import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from forensis.core.filters import date_filter
from forensis.core.forms import BootstrapForm
from forensis.lab.models import Discipline

from .models import Report, ReportKind


class ReportFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search")
    kind = django_filters.ChoiceFilter(choices=ReportKind.choices, label=_("Kind"))
    discipline = django_filters.ModelChoiceFilter(
        field_name="request__discipline", queryset=Discipline.objects.all(), label=_("Discipline")
    )
    since = date_filter("latest_issued", "gte", _("Issued from"))
    until = date_filter("latest_issued", "lte", pgettext_lazy("end of a date range", "to"))

    class Meta:
        model = Report
        form = BootstrapForm
        fields = ["q", "kind", "discipline", "since", "until"]

    def search(self, queryset, name, value):
        """Report number, lab case number or agency case number."""
        value = value.strip()
        return queryset.filter(
            Q(number__icontains=value)
            | Q(case__lab_number__icontains=value)
            | Q(case__agency_case_number__icontains=value)
        )
