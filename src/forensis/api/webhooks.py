"""Webhooks: each feed entry POSTed to the partner's address, signed, and retried with backoff until it lands.

The body is the feed entry (``feed.entry``). ``X-Forensis-Signature: t=<unix time>,v1=<hex>`` where
``hex = HMAC-SHA256(secret, "<t>." + body)``; a receiver recomputes it and rejects a stale ``t``. A failed
delivery is retried 1 min, 5 min, 30 min, 2 h and 12 h later, then given up (the feed still has the entry).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from datetime import timedelta

from django.db.models import Min, Q
from django.utils import timezone
from django_tasks import task
from rest_framework.renderers import JSONRenderer

from .feed import entry
from .models import DeliveryStatus, WebhookDelivery

#: Seconds to wait after the 1st, 2nd, … failed attempt; after the last, the delivery is given up.
BACKOFF_S = (60, 300, 1800, 7200, 43200)
TIMEOUT_S = 10
#: How long a worker holds a delivery it is sending, so that another worker leaves it alone.
LEASE = timedelta(seconds=TIMEOUT_S * 3)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _send(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST one entry; (HTTP status or None, error text)."""
    subscription, change = delivery.subscription, delivery.change
    body = JSONRenderer().render(entry(change))  # rendered as the feed renders it (times to the microsecond)
    request = urllib.request.Request(  # noqa: S310 (http or https only: the model's validator)
        subscription.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Forensis-Webhooks/1",
            "X-Forensis-Topic": change.topic,
            "X-Forensis-Cursor": str(change.pk),
            "X-Forensis-Delivery": str(delivery.pk),
            "X-Forensis-Signature": signature(subscription.secret, int(time.time()), body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 (as above)
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return None, str(getattr(exc, "reason", exc))[:500]


def attempt(delivery: WebhookDelivery) -> WebhookDelivery:
    """One attempt; the delivery is marked delivered, scheduled for its next try, or given up."""
    status, error = _send(delivery)
    delivery.attempts += 1
    delivery.last_status_code, delivery.last_error = status, error
    now = timezone.now()
    if status is not None and 200 <= status < 300:
        delivery.status, delivery.delivered_at, delivery.last_error = DeliveryStatus.DELIVERED, now, ""
    elif delivery.attempts > len(BACKOFF_S):
        delivery.status = DeliveryStatus.FAILED
    else:
        delivery.next_attempt_at = now + timedelta(seconds=BACKOFF_S[delivery.attempts - 1])
    delivery.save()
    return delivery


def _give_up_unwanted(now) -> None:
    """Pending deliveries of a webhook switched off, or of a token revoked or expired, are never sent."""
    WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).filter(
        Q(subscription__is_active=False)
        | Q(subscription__token__revoked_at__isnull=False)
        | Q(subscription__token__expires_at__lte=now)
    ).update(status=DeliveryStatus.FAILED, last_error="Not sent: the token was revoked or expired, or the webhook off.")


def deliver_due_webhooks(*, limit: int = 200) -> int:
    """Attempt every pending delivery whose time has come (oldest first); how many were attempted."""
    attempted, now = 0, timezone.now()
    _give_up_unwanted(now)
    due = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    for delivery in due.select_related("subscription", "change__case", "change__agency").order_by("pk")[:limit]:
        # Claim it: only the worker whose update matches sends it.
        claimed = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=DeliveryStatus.PENDING, next_attempt_at=delivery.next_attempt_at
        ).update(next_attempt_at=timezone.now() + LEASE)
        if claimed:
            attempt(delivery)
            attempted += 1
    return attempted


def next_retry_at():
    return WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).aggregate(at=Min("next_attempt_at"))["at"]


@task()
def deliver_due_webhooks_task() -> int:
    """Deliver what is due, then queue itself for the next retry (where the task backend can defer)."""
    attempted = deliver_due_webhooks()
    retry_at = next_retry_at()
    backend = deliver_due_webhooks_task.get_backend()
    if retry_at is not None and retry_at > timezone.now() and backend.supports_defer:
        deliver_due_webhooks_task.using(run_after=retry_at).enqueue()
    return attempted
