"""The body's custody at the morgue: received from whoever holds it, and released to a funeral home or family.

Both go through the evidence ledger (``evidence.services.append_custody_event``): the body is an item whose chain
runs scene → morgue → release, each link acknowledged by both sides. Receiving the body requests the autopsy.
"""

from __future__ import annotations

from collections import defaultdict

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from forensis.accounts.models import User
from forensis.accounts.services import require_permission
from forensis.audit.services import record
from forensis.evidence import services as evidence_services
from forensis.evidence.models import CustodyEvent, Item, ItemStatus, Purpose, StorageLocation
from forensis.lab import services as lab_services
from forensis.lab.models import Discipline, RequestStatus, ServiceRequest

from .models import BodyReceiver, BodyRelease, DeathInvestigation
from .services import assign_pathologist, autopsy_request

#: Request stages in which the pathologist has not yet signed the autopsy.
_AUTOPSY_UNSIGNED = (RequestStatus.REQUESTED, RequestStatus.ASSIGNED, RequestStatus.IN_PROGRESS)


@transaction.atomic
def receive_body(
    actor: User,
    investigation: DeathInvestigation,
    *,
    handed_over_by: User,
    confirmed_in_person: bool,
    location: StorageLocation,
    seal_status: str = "",
    condition: str = "",
    note: str = "",
) -> ServiceRequest:
    """The morgue takes the body from the person who brought it; the autopsy is requested (and assigned).

    ``confirmed_in_person``: the person handing over re-entered their password at the morgue (the view checked
    it), so both sides acknowledge the transfer as it is written.
    """
    require_permission(actor, "deaths.receive_body")
    investigation = DeathInvestigation.objects.select_for_update().get(pk=investigation.pk)
    body = evidence_services.locked_items([investigation.body])[0]
    if autopsy_request(investigation) is not None:
        raise ValidationError(
            _("The body of %(number)s was already received at the morgue.") % {"number": investigation.number}
        )
    problem = evidence_services.movement_problem(body)
    if problem:
        raise ValidationError(problem)
    if body.holder_id != handed_over_by.pk:
        raise ValidationError(
            {
                "handed_over_by": _("The body is held by %(holder)s: they must hand it over.")
                % {"holder": body.holder_name}
            }
        )
    if not confirmed_in_person:
        raise ValidationError({"password": _("The person handing over the body must confirm with their password.")})
    if handed_over_by.pk == actor.pk:
        raise ValidationError({"handed_over_by": _("You already hold the body; another person receives it.")})
    evidence_services.check_location(location, actor, 1)
    now = timezone.now()
    evidence_services.append_custody_event(
        body,
        released_by=handed_over_by,
        received_by=actor,
        purpose=Purpose.RECEIPT,
        occurred_at=now,
        storage_location=location,
        seal_number=body.seal_number,
        seal_status=seal_status,
        condition=condition.strip(),
        note=note.strip(),
        acknowledged_by_releaser=True,
        acknowledged_by_receiver=True,
    )
    if condition.strip() and not body.condition_at_receipt:
        Item.objects.filter(pk=body.pk).update(condition_at_receipt=condition.strip())
    pathology = Discipline.objects.get(code=lab_services.AUTOPSY_DISCIPLINE)
    request = lab_services.create_service_request(actor, investigation.case, pathology, [body], requested_at=now)
    if investigation.pathologist is not None:
        assign_pathologist(actor, request, investigation.pathologist, permission="deaths.receive_body")
        request.refresh_from_db()
    record(
        "death.body_received",
        actor=actor,
        obj=investigation,
        after={"body": body.label, "from": handed_over_by.username, "location": location.path},
    )
    return request


def release_problem(investigation: DeathInvestigation) -> str | None:
    """Why the body may not leave the morgue yet, or None: it must be in, and its autopsy signed."""
    request = autopsy_request(investigation)
    if request is None:
        return _("The body has not been received at the morgue.")
    # Signed once is enough: an amendment reopening a released autopsy does not hold the body back.
    if request.status in _AUTOPSY_UNSIGNED and not request.reports.exists():
        return _("The autopsy is not signed yet: the body stays until the pathologist signs it.")
    return None


@transaction.atomic
def release_body(
    actor: User,
    investigation: DeathInvestigation,
    *,
    receiver_kind: str,
    receiver_name: str,
    identity_document: str,
    acknowledged: bool,
    organisation: str = "",
    relationship: str = "",
    note: str = "",
) -> BodyRelease:
    """Release the body to a funeral home or the family, once the pathologist has signed the autopsy.

    ``acknowledged``: the person collecting signed the printed release form. A body is released once.
    """
    require_permission(actor, "deaths.release_body")
    investigation = DeathInvestigation.objects.select_for_update().get(pk=investigation.pk)
    if not DeathInvestigation.objects.visible_to(actor).filter(pk=investigation.pk).exists():
        raise PermissionDenied
    existing = BodyRelease.objects.filter(investigation=investigation).first()
    if existing is not None:
        raise ValidationError(
            _("The body of %(number)s was already released to %(person)s on %(date)s.")
            % {
                "number": investigation.number,
                "person": existing.receiver_name,
                "date": timezone.localtime(existing.released_at).strftime("%Y-%m-%d %H:%M"),
            }
        )
    errors: dict[str, list[str]] = defaultdict(list)
    if receiver_kind not in BodyReceiver.values:
        errors["receiver_kind"].append(_("Choose a funeral home or the family."))
    if not receiver_name.strip():
        errors["receiver_name"].append(_("Give the name of the person collecting the body."))
    if not identity_document.strip():
        errors["identity_document"].append(_("Record the identity document of the person collecting the body."))
    if receiver_kind == BodyReceiver.FUNERAL_HOME and not organisation.strip():
        errors["organisation"].append(_("Name the funeral home."))
    if receiver_kind == BodyReceiver.FAMILY and not relationship.strip():
        errors["relationship"].append(_("Give their relationship to the deceased."))
    if not acknowledged:
        errors["acknowledged"].append(_("The person collecting must sign the release form first."))
    if errors:
        raise ValidationError(dict(errors))
    problem = release_problem(investigation)
    if problem:
        raise ValidationError(problem)
    body = evidence_services.locked_items([investigation.body])[0]
    evidence_services.check_handling(actor, [body])
    receiver = receiver_name.strip()
    via = organisation.strip() if receiver_kind == BodyReceiver.FUNERAL_HOME else relationship.strip()
    event: CustodyEvent = evidence_services.append_custody_event(
        body,
        released_by=actor,
        received_by=None,
        received_by_name=f"{receiver} ({via})",
        purpose=Purpose.BODY_RELEASE,
        location=via,
        note="; ".join(part for part in (_("ID: %(doc)s") % {"doc": identity_document.strip()}, note.strip()) if part),
        acknowledged_by_releaser=True,
        acknowledged_by_receiver=True,
    )
    Item.objects.filter(pk=body.pk).update(status=ItemStatus.RELEASED)
    release = BodyRelease.objects.create(
        investigation=investigation,
        custody_event=event,
        receiver_kind=receiver_kind,
        receiver_name=receiver,
        organisation=organisation.strip(),
        relationship=relationship.strip(),
        identity_document=identity_document.strip(),
        released_by=actor,
        released_at=event.occurred_at,
    )
    record(
        "death.body_released",
        actor=actor,
        obj=investigation,
        after={"body": body.label, "to": receiver, "kind": receiver_kind, "via": via},
    )
    return release
