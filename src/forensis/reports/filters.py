import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from forensis.core.forms import BootstrapForm
from forensis.lab.models import Discipline

from .models import Report


class ReportFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search")
    discipline = django_filters.ModelChoiceFilter(
        field_name="request__discipline", queryset=Discipline.objects.all(), label=_("Discipline")
    )
    since = django_filters.DateFilter(
        field_name="latest_issued",
        lookup_expr="date__gte",
        label=_("Issued from"),
        widget=django_filters.widgets.forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        field_name="latest_issued",
        lookup_expr="date__lte",
        label=_("to"),
        widget=django_filters.widgets.forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = Report
        form = BootstrapForm
        fields = ["q", "discipline", "since", "until"]

    def search(self, queryset, name, value):
        """Report number, lab case number or agency case number."""
        value = value.strip()
        return queryset.filter(
            Q(number__icontains=value)
            | Q(case__lab_number__icontains=value)
            | Q(case__agency_case_number__icontains=value)
        )
