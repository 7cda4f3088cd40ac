"""The change feed: what partners follow — cases received, request status, reports released, items returned.

Service functions call ``publish`` inside their transaction. Entries are numbered under the audit chain's lock
(a PostgreSQL advisory lock held to commit; on SQLite the single writer), so numbers follow commit order and a
partner that reads ``after=N`` never later finds an entry numbered N or below it has not seen.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from forensis.audit.chain import json_safe
from forensis.audit.services import lock_chain_head

from .models import Change, DeliveryStatus, Resource, WebhookDelivery, WebhookSubscription


def publish(topic: str, case, **data: Any) -> Change:
    """Append one entry for ``case`` (whose agency, and the agencies it is shared with, will see it)."""
    with transaction.atomic():
        lock_chain_head()
        change = Change.objects.create(
            occurred_at=timezone.now(), topic=topic, agency_id=case.agency_id, case=case, data=json_safe(data)
        )
        _queue_webhooks(change)
    return change


def _queue_webhooks(change: Change) -> None:
    subscriptions = WebhookSubscription.objects.filter(
        is_active=True, token__revoked_at__isnull=True, token__expires_at__gt=change.occurred_at
    ).select_related("token__user__agency")
    queued = False
    for subscription in subscriptions:
        token = subscription.token
        if change.topic not in subscription.topics or not token.allows(Resource.FEED):
            continue
        if not Change.objects.visible_to(token.user).filter(pk=change.pk).exists():
            continue
        WebhookDelivery.objects.create(
            subscription=subscription, change=change, status=DeliveryStatus.PENDING, next_attempt_at=change.occurred_at
        )
        queued = True
    if queued:
        from .webhooks import deliver_due_webhooks_task

        transaction.on_commit(lambda: deliver_due_webhooks_task.enqueue())


def entry(change: Change) -> dict[str, Any]:
    """One feed entry as the API and webhooks send it."""
    return {
        "cursor": str(change.pk),
        "topic": change.topic,
        "occurred_at": change.occurred_at,
        "case": change.case.lab_number,
        "agency": change.agency.code,
        "data": change.data,
    }
