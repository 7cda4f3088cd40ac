from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

#: Pages a signed-in user who still owes the second factor may open. The enrolment page is open only to a
#: user with no authenticator yet (the view sends anyone else to verification).
_OPEN_PATHS = ("/accounts/login/", "/accounts/logout/", "/accounts/mfa/", "/i18n/", "/static/", "/healthz")


class MFARequiredMiddleware:
    """A signed-in user reaches no page until they pass their second factor.

    A user with an authenticator must always enter a code. A user without one is sent to enrol when MFA is
    required for them, except with ``FORENSIS_DEFER_MFA_ENROLMENT`` (demo only, never in production).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and not user.is_verified() and not request.path.startswith(_OPEN_PATHS):
            if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
                query = urlencode({"next": request.get_full_path()})
                return redirect(f"{reverse('accounts:mfa_verify')}?{query}")
            if user.mfa_required and not settings.FORENSIS_DEFER_MFA_ENROLMENT:
                return redirect("accounts:mfa_enrol")
        return self.get_response(request)
