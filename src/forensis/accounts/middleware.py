from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

#: Pages a signed-in user who still owes the second factor may open. The enrolment page is open only to a
#: user with no authenticator yet (the view sends anyone else to verification). The API answers for itself
#: (``forensis.api.authentication``): JSON, never a redirect.
_OPEN_PATHS = ("/accounts/login/", "/accounts/logout/", "/accounts/mfa/", "/i18n/", "/static/", "/healthz", "/api/")


def has_authenticator(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def owes_second_factor(user) -> bool:
    """Signed in with a password, and the second factor is still to pass (or, where required, to enrol)."""
    if not user.is_authenticated or user.is_verified():
        return False
    if has_authenticator(user):
        return True
    return user.mfa_required and not settings.FORENSIS_DEFER_MFA_ENROLMENT


class MFARequiredMiddleware:
    """A signed-in user reaches no page until they pass their second factor.

    A user with an authenticator must always enter a code. A user without one is sent to enrol when MFA is
    required for them, except with ``FORENSIS_DEFER_MFA_ENROLMENT`` (demo only, never in production).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(_OPEN_PATHS) and owes_second_factor(request.user):
            if has_authenticator(request.user):
                query = urlencode({"next": request.get_full_path()})
                return redirect(f"{reverse('accounts:mfa_verify')}?{query}")
            return redirect("accounts:mfa_enrol")
        return self.get_response(request)
