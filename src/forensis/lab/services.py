"""Service requests: the laboratory's units of work. Issue-level workflow (assignment, review) builds here."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from forensis.accounts.models import User
from forensis.audit.services import record

from .models import Discipline, ServiceRequest


@transaction.atomic
def create_service_request(
    actor: User, case, discipline: Discipline, items: Iterable, *, requested_at
) -> ServiceRequest:
    request = ServiceRequest.objects.create(
        case=case, discipline=discipline, requested_at=requested_at, received_month=case.received_month
    )
    items = list(items)
    request.items.set(items)
    record(
        "request.created",
        actor=actor,
        obj=request,
        after={"discipline": discipline.code, "items": [item.label for item in items]},
    )
    return request
