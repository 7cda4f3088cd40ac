"""Writing to and checking the audit log. Every domain service function calls ``record``."""

from __future__ import annotations

from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from .chain import GENESIS_HASH, ChainReport, json_safe, link_hash, stream, verify_links
from .context import current_source
from .models import AuditEvent, Outcome

#: The fields that go into an event's hash, in the order they are stored.
HASHED_FIELDS = (
    "occurred_at",
    "actor_id",
    "actor_username",
    "actor_roles",
    "actor_agency",
    "action",
    "outcome",
    "object_type",
    "object_id",
    "object_repr",
    "before",
    "after",
    "reason",
    "source",
)

# A fixed key for PostgreSQL's advisory lock that serialises appends to the chain.
_CHAIN_LOCK_KEY = 0x466F72656E736973  # "Forensis"


def lock_chain_head() -> None:
    """Make appends one at a time so no two events claim the same predecessor.

    The change feed (``forensis.api.feed``) takes the same lock, so its entries are numbered in commit order.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: the connection begins IMMEDIATE
    transactions (settings), which already hold the database's single write lock.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])


def record(
    action: str,
    *,
    actor=None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    object_repr: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    outcome: str = Outcome.SUCCESS,
    actor_username: str = "",
) -> AuditEvent:
    """Append one event to the audit log, inside the caller's transaction if there is one."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    fields = {
        "actor_id": actor.pk if authenticated else None,
        "actor_username": actor.get_username() if authenticated else actor_username[:150],
        "actor_roles": ",".join(actor.role_codes) if authenticated else "",
        "actor_agency": actor.agency.code if authenticated and actor.agency_id else "",
        "action": action,
        "outcome": outcome,
        "object_type": object_type,
        "object_id": str(object_id),
        "object_repr": object_repr[:200],
        "before": json_safe(before),
        "after": json_safe(after),
        "reason": reason,
        "source": current_source(),
    }
    with transaction.atomic():
        lock_chain_head()
        prev_hash = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS_HASH
        fields["occurred_at"] = timezone.now()
        event_hash = link_hash({name: fields[name] for name in HASHED_FIELDS}, prev_hash)
        return AuditEvent.objects.create(prev_hash=prev_hash, hash=event_hash, **fields)


def record_read(
    user, action: str, *, obj: models.Model | None = None, object_type: str = "", after: dict[str, Any] | None = None
) -> None:
    """Log what a person outside the laboratory read of case data (CJIS 5.4.1.1): a page, a list with its
    filters, a printout. Laboratory staff's reads are not logged; what they change is."""
    if not user.is_laboratory_staff:
        record(action, actor=user, obj=obj, object_type=object_type, after=after)


def verify_chain() -> ChainReport:
    """Recompute every event's hash in order and name the first broken link, if any."""
    return verify_links(stream(AuditEvent.objects.all(), HASHED_FIELDS), HASHED_FIELDS)
