from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "forensis.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import roles, signals  # noqa: F401  (connects the login/lockout audit receivers)

        # Not limited to this app: it must run once every app's permissions exist (the last emission).
        post_migrate.connect(roles.sync_roles_after_migrate, dispatch_uid="forensis_sync_roles")
