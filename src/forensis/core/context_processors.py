from django.conf import settings

from .models import Notification
from .navigation import menu_for


def navigation(request):
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    return {
        "unread_notifications": Notification.objects.filter(recipient=user, read_at__isnull=True).count()
        if signed_in
        else 0,
        "menu": menu_for(user, request.path) if signed_in else [],
        "lab_name": settings.FORENSIS_LAB_NAME,
        "mfa_deferred": settings.FORENSIS_DEFER_MFA_ENROLMENT,
    }
