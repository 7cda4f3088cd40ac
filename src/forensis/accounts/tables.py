import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from .models import Agency, User


class AgencyTable(tables.Table):
    name = tables.Column(linkify=("accounts:agency_edit", {"pk": tables.A("pk")}))
    is_active = tables.BooleanColumn(verbose_name=_("Active"))

    class Meta:
        model = Agency
        fields = ("code", "name", "type", "district", "email", "is_active")
        attrs = {"class": "table table-sm table-hover align-middle"}


class UserTable(tables.Table):
    username = tables.Column(linkify=("accounts:user_edit", {"pk": tables.A("pk")}))
    name = tables.Column(verbose_name=_("Name"), accessor="get_full_name", order_by=("last_name", "first_name"))
    roles = tables.TemplateColumn(template_name="accounts/_role_badges.html", verbose_name=_("Roles"), orderable=False)
    is_active = tables.BooleanColumn(verbose_name=_("Active"))
    last_login = tables.DateTimeColumn(verbose_name=_("Last sign-in"))

    class Meta:
        model = User
        fields = ("username", "name", "agency", "roles", "is_active", "last_login")
        attrs = {"class": "table table-sm table-hover align-middle"}
