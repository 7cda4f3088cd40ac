"""In-app notifications, also sent by e-mail to users who have an address."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from .models import Notification

logger = logging.getLogger(__name__)


def notify(user, message: str, url: str = "") -> Notification:
    notification = Notification.objects.create(recipient=user, message=message[:500], url=url)
    if user.email:
        # After commit: a failed receipt must not have sent mail, and a slow mail server must not hold locks.
        transaction.on_commit(lambda: _send(user.email, message, url))
    return notification


def mark_all_read(user) -> int:
    """The user read their notifications (their own only); returns how many were unread."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())


def _send(address: str, message: str, url: str) -> None:
    try:
        link = f"{settings.FORENSIS_BASE_URL}{url}" if url else ""
        send_mail("Forensis", f"{message}\n\n{link}".strip(), None, [address])
    except OSError:
        logger.exception("Could not e-mail a notification to %s", address)
