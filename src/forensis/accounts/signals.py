"""Sign-ins, failed sign-ins, sign-outs and lockouts go to the audit log from day one."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from forensis.audit.models import Outcome
from forensis.audit.services import record


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs):
    record("auth.login", actor=user, obj=user)


@receiver(user_logged_out)
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        record("auth.logout", actor=user, obj=user)


@receiver(user_login_failed)
def audit_login_failed(sender, credentials, request=None, **kwargs):
    record("auth.login_failed", actor_username=str(credentials.get("username", "")), outcome=Outcome.FAILURE)


@receiver(user_locked_out)
def audit_lockout(sender, request, username, ip_address, **kwargs):
    record(
        "auth.locked_out",
        actor_username=str(username or ""),
        outcome=Outcome.DENIED,
        reason=f"Too many failed sign-ins from {ip_address}",
    )
