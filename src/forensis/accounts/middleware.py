from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

#: Pages a signed-in user who still owes the second factor may open.
_OPEN_PATHS = ("/accounts/", "/i18n/", "/static/", "/healthz")


class MFARequiredMiddleware:
    """A user who must use MFA reaches no page until verified (or enrolled, if they have no device).

    With ``FORENSIS_DEFER_MFA_ENROLMENT`` (demo only, never in production) a user with no device yet
    may go on; a user who has enrolled must always verify.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(_OPEN_PATHS)
            and user.mfa_required
            and not user.is_verified()
        ):
            from django_otp import devices_for_user

            if any(True for _device in devices_for_user(user, confirmed=True)):
                query = urlencode({"next": request.get_full_path()})
                return redirect(f"{reverse('accounts:mfa_verify')}?{query}")
            if not settings.FORENSIS_DEFER_MFA_ENROLMENT:
                return redirect("accounts:mfa_enrol")
        return self.get_response(request)
