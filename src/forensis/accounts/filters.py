import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from forensis.core.forms import BootstrapForm

from .models import Agency, AgencyType, User
from .roles import Role


class AgencyFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search")
    type = django_filters.ChoiceFilter(choices=AgencyType.choices, label=_("Type"))
    is_active = django_filters.BooleanFilter(label=_("Active"))

    class Meta:
        form = BootstrapForm
        model = Agency
        fields = ["q", "type", "district", "is_active"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(code__icontains=value))


class UserFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search")
    role = django_filters.ChoiceFilter(choices=Role.choices, label=_("Role"), field_name="groups__name")
    is_active = django_filters.BooleanFilter(label=_("Active"))

    class Meta:
        form = BootstrapForm
        model = User
        fields = ["q", "agency", "role", "is_active"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        self.filters["agency"].queryset = Agency.objects.visible_to(request.user if request else None)

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(username__icontains=value)
            | Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(email__icontains=value)
        )
