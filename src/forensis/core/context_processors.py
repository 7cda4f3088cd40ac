from django.conf import settings

from .models import Notification
from .navigation import menu_for


def navigation(request):
    """The menu and the unread-notification count, computed once per request: django-tables2 renders every
    ``TemplateColumn`` cell with the request's context processors, so a worklist of 100 rows would otherwise count
    the notifications and build the menu some 300 times."""
    cached = getattr(request, "_forensis_navigation", None)
    if cached is not None:
        return cached
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    context = {
        "unread_notifications": Notification.objects.filter(recipient=user, read_at__isnull=True).count()
        if signed_in
        else 0,
        "menu": menu_for(user, request.path) if signed_in else [],
        "lab_name": settings.FORENSIS_LAB_NAME,
        "mfa_deferred": settings.FORENSIS_DEFER_MFA_ENROLMENT,
    }
    request._forensis_navigation = context
    return context
