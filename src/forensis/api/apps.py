from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "forensis.api"
    label = "api"
    verbose_name = _("Interagency exchange (API)")

    def ready(self) -> None:
        from . import schema  # noqa: F401 (registers the schema extensions)
