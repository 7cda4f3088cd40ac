"""Shipments of items to an external laboratory (casework DNA), their results and turnaround."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from forensis.accounts.models import User
from forensis.accounts.services import require_permission
from forensis.audit.services import record
from forensis.core.files import store_upload
from forensis.core.models import yearly_number

from .models import Item, ItemStatus, Purpose, Shipment, ShipmentResult, ShipmentStatus
from .services import append_custody_event, check_handling, locked_items

#: Largest results file accepted (instrument exports and PDF reports are far smaller).
MAX_RESULT_BYTES = 50 * 1024 * 1024


def _transition(shipment: Shipment, expected: str) -> Shipment:
    shipment = Shipment.objects.select_for_update().get(pk=shipment.pk)
    if shipment.status != expected:
        raise ValidationError(
            _("Shipment %(ref)s is %(status)s.")
            % {"ref": shipment.reference, "status": shipment.get_status_display().lower()}
        )
    return shipment


def days_out(shipment: Shipment, *, now=None) -> int | None:
    """Whole days the items have been away: the turnaround once returned, the days so far while out."""
    if shipment.shipped_at is None:
        return None
    return ((shipment.returned_at or now or timezone.now()) - shipment.shipped_at).days


def _check_not_in_open_shipment(items: list[Item]) -> None:
    """An item belongs to one open shipment at a time (a second manifest would list it twice)."""
    taken = (
        Shipment.items.through.objects.filter(item__in=items)
        .exclude(shipment__status=ShipmentStatus.RETURNED)
        .order_by("item__label")
        .values_list("item__label", "shipment__reference")
    )
    if taken:
        raise ValidationError(
            [_("Item %(label)s is already in shipment %(ref)s.") % {"label": label, "ref": ref} for label, ref in taken]
        )


@transaction.atomic
def prepare_shipment(actor: User, items: Iterable[Item], *, laboratory: str, rush: bool = False) -> Shipment:
    require_permission(actor, "evidence.manage_shipments")
    if not laboratory.strip():
        raise ValidationError({"laboratory": _("Name the external laboratory.")})
    locked = locked_items(items)
    check_handling(actor, locked)
    _check_not_in_open_shipment(locked)
    shipment = Shipment.objects.create(
        reference=yearly_number("OUT", "shipment", timezone.now()),
        laboratory=laboratory.strip(),
        rush=rush,
        created_by=actor,
    )
    shipment.items.set(locked)
    record(
        "shipment.prepared",
        actor=actor,
        obj=shipment,
        after={"items": [i.label for i in locked], "laboratory": shipment.laboratory, "rush": rush},
    )
    return shipment


@transaction.atomic
def ship(actor: User, shipment: Shipment, *, tracking_number: str = "") -> Shipment:
    """The courier takes the sealed package: each item's custody passes to the external laboratory."""
    require_permission(actor, "evidence.manage_shipments")
    shipment = _transition(shipment, ShipmentStatus.PREPARED)
    locked = locked_items(shipment.items.all())
    check_handling(actor, locked)
    now = timezone.now()
    for item in locked:
        append_custody_event(
            item,
            released_by=actor,
            received_by=None,
            received_by_name=shipment.laboratory,
            purpose=Purpose.OUTSOURCING,
            occurred_at=now,
            location=shipment.laboratory,
            note=f"{shipment.reference} {tracking_number}".strip(),
            acknowledged_by_releaser=True,
        )
        Item.objects.filter(pk=item.pk).update(status=ItemStatus.OUTSOURCED)
    shipment.status, shipment.shipped_at, shipment.tracking_number = ShipmentStatus.SHIPPED, now, tracking_number
    shipment.save(update_fields=["status", "shipped_at", "tracking_number"])
    record("shipment.shipped", actor=actor, obj=shipment, after={"tracking_number": tracking_number})
    return shipment


@transaction.atomic
def confirm_arrival(actor: User, shipment: Shipment, *, received_at) -> Shipment:
    """The external laboratory confirmed it received the package (date from its acknowledgement)."""
    require_permission(actor, "evidence.manage_shipments")
    shipment = _transition(shipment, ShipmentStatus.SHIPPED)
    if received_at < shipment.shipped_at or received_at > timezone.now():
        raise ValidationError({"received_at": _("The arrival must be between shipping and now.")})
    shipment.status, shipment.received_at = ShipmentStatus.AT_LABORATORY, received_at
    shipment.save(update_fields=["status", "received_at"])
    record("shipment.arrived", actor=actor, obj=shipment, after={"received_at": received_at})
    return shipment


@transaction.atomic
def receive_back(actor: User, shipment: Shipment, *, condition: str = "") -> Shipment:
    """The items come back: custody passes from the external laboratory to the custodian."""
    require_permission(actor, "evidence.manage_shipments")
    shipment = _transition(shipment, ShipmentStatus.AT_LABORATORY)
    now = timezone.now()
    for item in locked_items(shipment.items.all()):
        append_custody_event(
            item,
            released_by=None,
            released_by_name=shipment.laboratory,
            received_by=actor,
            purpose=Purpose.RECEIPT,
            occurred_at=now,
            condition=condition,
            note=shipment.reference,
            acknowledged_by_receiver=True,
        )
        Item.objects.filter(pk=item.pk).update(status=ItemStatus.IN_CUSTODY)
    shipment.status, shipment.returned_at = ShipmentStatus.RETURNED, now
    shipment.save(update_fields=["status", "returned_at"])
    record("shipment.returned", actor=actor, obj=shipment, after={"turnaround_days": shipment.turnaround_days})
    return shipment


@transaction.atomic
def attach_result(actor: User, shipment: Shipment, upload: UploadedFile) -> ShipmentResult:
    """Store the external laboratory's results file with its SHA-256."""
    require_permission(actor, "evidence.manage_shipments")
    if shipment.status == ShipmentStatus.PREPARED:
        raise ValidationError(_("Results can only be attached to a shipment that was sent."))
    result = store_upload(
        ShipmentResult(shipment=shipment, uploaded_by=actor),
        upload,
        stem=shipment.reference,
        max_bytes=MAX_RESULT_BYTES,
    )
    record(
        "shipment.result_attached",
        actor=actor,
        obj=shipment,
        after={"file": result.original_name, "sha256": result.sha256, "size": result.size},
    )
    return result
