from django.conf import settings

from .navigation import menu_for


def navigation(request):
    user = getattr(request, "user", None)
    return {
        "menu": menu_for(user, request.path) if user is not None and user.is_authenticated else [],
        "lab_name": settings.FORENSIS_LAB_NAME,
        "mfa_deferred": settings.FORENSIS_DEFER_MFA_ENROLMENT,
    }
