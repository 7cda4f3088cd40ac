from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeathsConfig(AppConfig):
    name = "forensis.deaths"
    label = "deaths"
    verbose_name = _("Death investigations")
