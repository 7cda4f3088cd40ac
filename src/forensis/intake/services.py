"""Intake: pre-logging a submission, correcting it, submitting it, and receiving it at the laboratory.

``receive_submission`` is the moment the laboratory takes custody: it opens (or extends) the case, numbers
the items, records each item's first custody event (officer → custodian), creates one service request per
requested discipline, and notifies the officer — all in one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from forensis.accounts.models import User
from forensis.accounts.roles import Role
from forensis.accounts.services import require_permission
from forensis.api.feed import publish
from forensis.api.models import Topic
from forensis.audit.services import record
from forensis.cases import services as case_services
from forensis.cases.models import Case, Incident, Person
from forensis.core import iccs
from forensis.core.models import yearly_number
from forensis.core.notifications import notify
from forensis.evidence import services as evidence_services
from forensis.evidence.models import ItemType, Purpose, SealStatus
from forensis.lab.services import create_service_request

from .models import Kit, Presence, Submission, SubmissionItem, SubmissionStatus

SUBMISSION_FIELDS = (
    "agency_case_number",
    "offence_codes",
    "incident_at",
    "district",
    "town",
    "address",
    "latitude",
    "longitude",
    "narrative",
)
PERSON_FIELDS = ("role", "name", "sex", "age", "date_of_birth", "relationship_to_victim")
ITEM_FIELDS = (
    "type",
    "description",
    "quantity",
    "packaging",
    "seal_number",
    "collected_by",
    "collected_at",
    "collected_place",
    "biological",
)
SUBMITTING_ROLES = (Role.AGENCY_OFFICER, Role.SCENE_TECHNICIAN)


@dataclass
class ItemData:
    """One item as entered on the form: its fields and the disciplines asked to examine it."""

    fields: dict[str, Any]
    disciplines: list = field(default_factory=list)


# --- kits ----------------------------------------------------------------------------------------

KIT_FIELDS = ("name", "description", "is_active")
KIT_ITEM_FIELDS = ("type", "description", "quantity", "packaging", "biological")


def _kit_snapshot(kit: Kit) -> dict[str, Any]:
    return {
        **{name: getattr(kit, name) for name in KIT_FIELDS},
        "items": [
            {**{n: getattr(i, n) for n in KIT_ITEM_FIELDS}, "disciplines": sorted(d.code for d in i.disciplines.all())}
            for i in kit.items.all()
        ],
    }


@transaction.atomic
def save_kit(actor: User, kit: Kit | None, *, fields: dict[str, Any], items: list[ItemData]) -> Kit:
    """Create a kit or replace an existing kit's details and items (submissions made from it keep theirs)."""
    require_permission(actor, "intake.manage_kits")
    if not items:
        raise ValidationError({"items": [_("A kit needs at least one item.")]})
    _validate_items(items, for_submit=True)
    before = _kit_snapshot(kit) if kit else None
    kit = kit or Kit()
    for name in KIT_FIELDS:
        if name in fields:
            setattr(kit, name, fields[name])
    kit.full_clean()
    kit.save()
    kit.items.all().delete()
    for data in items:
        kit_item = kit.items.create(**{k: v for k, v in data.fields.items() if k in KIT_ITEM_FIELDS})
        kit_item.disciplines.set(data.disciplines)
    after = _kit_snapshot(kit)
    if after != before:
        record("kit.created" if before is None else "kit.updated", actor=actor, obj=kit, before=before, after=after)
    return kit


# --- pre-log -------------------------------------------------------------------------------------


def _check_can_edit(actor: User, submission: Submission) -> None:
    """Officers edit their agency's drafts; once submitted, only the laboratory corrects (audited)."""
    if submission.status == SubmissionStatus.RECEIVED:
        raise ValidationError(
            _("Submission %(ref)s has been received; it can no longer be changed.") % {"ref": submission.reference}
        )
    if actor.has_perm("intake.receive_submission"):
        return
    if not Submission.objects.visible_to(actor).filter(pk=submission.pk).exists():
        raise PermissionDenied
    if submission.status != SubmissionStatus.DRAFT:
        raise ValidationError(
            _(
                "This submission has been submitted and can no longer be changed by the agency. "
                "Ask the laboratory's evidence reception to correct it."
            )
        )


def _snapshot(submission: Submission) -> dict[str, Any]:
    return {
        **{name: getattr(submission, name) for name in SUBMISSION_FIELDS},
        "people": [{name: getattr(p, name) for name in PERSON_FIELDS} for p in submission.people.all()],
        "items": [
            {
                **{name: getattr(i, name) for name in ITEM_FIELDS},
                "disciplines": sorted(d.code for d in i.disciplines.all()),
            }
            for i in submission.items.all()
        ],
    }


@transaction.atomic
def create_submission(
    actor: User,
    *,
    kit: Kit | None = None,
    agency=None,
    submitting_officer: User | None = None,
    people: list[dict[str, Any]] | None = None,
    items: list[ItemData] | None = None,
    **fields: Any,
) -> Submission:
    """A new draft. Officers create for their own agency; a custodian enters a walk-in for the officer present.

    The draft starts with ``people`` and ``items`` when given (the API sends them at once), else with the kit's
    items, if a kit was chosen.
    """
    require_permission(actor, "intake.add_submission")
    _validate_submission_fields(fields)
    if items is not None:
        _validate_items(items, for_submit=False)
    walk_in = actor.has_perm("intake.receive_submission") and submitting_officer is not None
    if walk_in:
        if not submitting_officer.has_role(*SUBMITTING_ROLES) or not submitting_officer.is_active:
            raise ValidationError({"submitting_officer": _("Choose an active officer of the submitting agency.")})
        agency = submitting_officer.agency
    else:
        agency, submitting_officer = actor.agency, actor
    now = timezone.now()
    submission = Submission(
        reference=yearly_number("SUB", "submission", now),
        agency=agency,
        created_by=actor,
        submitting_officer=submitting_officer,
        walk_in=walk_in,
        kit=kit,
        **{k: v for k, v in fields.items() if k in SUBMISSION_FIELDS},
    )
    submission.full_clean()
    submission.save()
    if people is not None or items is not None:
        _replace_people_and_items(submission, people or [], items or [])
    elif kit is not None:
        for position, kit_item in enumerate(kit.items.all(), start=1):
            item = submission.items.create(
                position=position,
                type=kit_item.type,
                description=kit_item.description,
                quantity=kit_item.quantity,
                packaging=kit_item.packaging,
                biological=kit_item.biological,
            )
            item.disciplines.set(kit_item.disciplines.all())
    record("submission.created", actor=actor, obj=submission, after=_snapshot(submission))
    return submission


def _validate_submission_fields(fields: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = defaultdict(list)
    unknown = [code for code in fields.get("offence_codes") or [] if not iccs.is_known(code)]
    if unknown:
        errors["offence_codes"].append(_("Unknown ICCS offence code: %(codes)s.") % {"codes": ", ".join(unknown)})
    incident_at = fields.get("incident_at")
    if incident_at and incident_at > timezone.now():
        errors["incident_at"].append(_("The incident date and time is in the future."))
    if errors:
        raise ValidationError(dict(errors))


def _validate_items(items: list[ItemData], *, for_submit: bool) -> None:
    errors = []
    seen_seals: dict[str, int] = {}
    now = timezone.now()
    for position, item in enumerate(items, start=1):
        seal = (item.fields.get("seal_number") or "").strip().upper()
        if seal:
            if seal in seen_seals:
                errors.append(
                    _("Item %(n)s: seal number %(seal)s is already used by item %(other)s.")
                    % {"n": position, "seal": seal, "other": seen_seals[seal]}
                )
            seen_seals[seal] = position
        if item.fields.get("type") == ItemType.BODY:
            errors.append(_("Item %(n)s: a body is logged as a death investigation, not submitted.") % {"n": position})
        collected_at = item.fields.get("collected_at")
        if collected_at and collected_at > now:
            errors.append(_("Item %(n)s: the collection time is in the future.") % {"n": position})
        if for_submit and not item.disciplines:
            errors.append(
                _("Item %(n)s (%(description)s): choose at least one requested examination.")
                % {"n": position, "description": item.fields.get("description", "")}
            )
    if errors:
        raise ValidationError({"items": errors})


@transaction.atomic
def update_submission(
    actor: User,
    submission: Submission,
    *,
    fields: dict[str, Any],
    people: list[dict[str, Any]],
    items: list[ItemData],
    reason: str = "",
) -> Submission:
    """Replace a submission's details, people and items with what the form holds.

    A correction by the laboratory after submission needs a reason, and is audited with before and after.
    """
    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    _check_can_edit(actor, submission)
    if submission.status != SubmissionStatus.DRAFT and not reason.strip():
        raise ValidationError({"reason": _("Give the reason for correcting a submitted submission.")})
    _validate_submission_fields(fields)
    _validate_items(items, for_submit=submission.status != SubmissionStatus.DRAFT)
    before = _snapshot(submission)
    for name in SUBMISSION_FIELDS:
        if name in fields:
            setattr(submission, name, fields[name])
    submission.full_clean()
    submission.save()
    _replace_people_and_items(submission, people, items)
    after = _snapshot(submission)
    if after != before:
        action = "submission.updated" if submission.status == SubmissionStatus.DRAFT else "submission.corrected"
        record(action, actor=actor, obj=submission, before=before, after=after, reason=reason)
    return submission


def _replace_people_and_items(submission: Submission, people: list[dict[str, Any]], items: list[ItemData]) -> None:
    submission.people.all().delete()
    for person in people:
        person = Person(submission=submission, **{k: v for k, v in person.items() if k in PERSON_FIELDS})
        person.full_clean(exclude=["submission", "case"])
        person.save()
    submission.items.all().delete()
    for position, data in enumerate(items, start=1):
        item = SubmissionItem(
            submission=submission, position=position, **{k: v for k, v in data.fields.items() if k in ITEM_FIELDS}
        )
        item.seal_number = item.seal_number.strip()
        item.full_clean(exclude=["submission", "item"])
        item.save()
        item.disciplines.set(data.disciplines)


def _item_data(item: SubmissionItem) -> ItemData:
    return ItemData({name: getattr(item, name) for name in ITEM_FIELDS}, list(item.disciplines.all()))


def submission_problems(submission: Submission) -> list[str]:
    """What still stops a draft from being submitted, in words for the officer."""
    problems = []
    if not submission.agency_case_number.strip():
        problems.append(_("Enter the agency case number."))
    if not submission.offence_codes:
        problems.append(_("Choose at least one offence."))
    if not submission.incident_at:
        problems.append(_("Enter the incident date and time."))
    if not submission.district:
        problems.append(_("Choose the district of the incident."))
    items = list(submission.items.prefetch_related("disciplines"))
    if not items:
        problems.append(_("Add at least one item."))
    try:
        _validate_items([_item_data(i) for i in items], for_submit=True)
    except ValidationError as exc:
        problems.extend(exc.message_dict["items"])
    try:
        _validate_submission_fields({"offence_codes": submission.offence_codes, "incident_at": submission.incident_at})
    except ValidationError as exc:
        problems.extend(message for messages in exc.message_dict.values() for message in messages)
    return problems


@transaction.atomic
def submit_submission(actor: User, submission: Submission) -> Submission:
    """The officer sends the pre-log to the laboratory; from now on only the laboratory may correct it."""
    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    _check_can_edit(actor, submission)
    if submission.status != SubmissionStatus.DRAFT:
        raise ValidationError(_("Submission %(ref)s has already been submitted.") % {"ref": submission.reference})
    problems = submission_problems(submission)
    if problems:
        raise ValidationError(problems)
    submission.status = SubmissionStatus.SUBMITTED
    submission.submitted_at = timezone.now()
    submission.save(update_fields=["status", "submitted_at", "updated_at"])
    record("submission.submitted", actor=actor, obj=submission, after={"status": submission.status})
    return submission


def related_by_agency_case_number(submission: Submission):
    """Other submissions and cases of the same agency under the same agency case number (warned, and linked)."""
    number = submission.agency_case_number.strip()
    if not number:
        return Submission.objects.none(), Case.objects.none()
    others = Submission.objects.filter(agency=submission.agency, agency_case_number__iexact=number).exclude(
        pk=submission.pk
    )
    return others, case_services.matching_cases(submission.agency, number).exclude(pk=submission.case_id)


# --- reception ------------------------------------------------------------------------------------


@dataclass
class ItemCheck:
    """What the custodian found for one listed item at the counter."""

    presence: str = Presence.PRESENT
    seal_status: str = SealStatus.INTACT
    condition: str = ""
    deviation_note: str = ""


def _validate_checks(items: list[SubmissionItem], checks: dict[int, ItemCheck]) -> None:
    errors = []
    for item in items:
        check = checks.get(item.pk)
        if check is None:
            errors.append(
                _("Item %(n)s: record whether it is present and the state of its seal.") % {"n": item.position}
            )
            continue
        if check.presence not in Presence.values or check.seal_status not in SealStatus.values:
            errors.append(_("Item %(n)s: choose a valid presence and seal state.") % {"n": item.position})
        deviates = check.presence == Presence.MISSING or check.seal_status == SealStatus.BROKEN
        if deviates and not check.deviation_note.strip():
            errors.append(_("Item %(n)s: describe the deviation (missing item or broken seal).") % {"n": item.position})
    if errors:
        raise ValidationError({"checks": errors})


@transaction.atomic
def receive_submission(
    actor: User,
    submission: Submission,
    *,
    checks: dict[int, ItemCheck],
    handed_over_by: User,
    attach_to: Case | None = None,
    extra_items: list[ItemData] | None = None,
) -> Case:
    """Take custody of a submission's items. ``handed_over_by`` has confirmed with their password at the counter.

    Refuses a second receipt (naming the case the first one created), an officer of another agency, and a
    case of another agency or agency case number to attach to. Nothing is written unless all succeeds.
    """
    require_permission(actor, "intake.receive_submission")
    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    if submission.status == SubmissionStatus.RECEIVED:
        raise ValidationError(
            _("Submission %(ref)s was already received as case %(case)s.")
            % {"ref": submission.reference, "case": submission.case.lab_number}
        )
    if submission.status == SubmissionStatus.DRAFT and not submission.walk_in:
        raise ValidationError(
            _("Submission %(ref)s is still a draft: the agency has not submitted it.") % {"ref": submission.reference}
        )
    if handed_over_by.agency_id != submission.agency_id or not handed_over_by.is_active:
        raise ValidationError(
            {
                "officer": _("The person handing over must be an active member of %(agency)s.")
                % {"agency": submission.agency.name}
            }
        )
    problems = submission_problems(submission)
    if problems:
        raise ValidationError(problems)
    items = list(submission.items.prefetch_related("disciplines"))
    _validate_checks(items, checks)
    extra_items = extra_items or []
    _validate_items([_item_data(i) for i in items] + extra_items, for_submit=False)
    if (
        attach_to is not None
        and not case_services.matching_cases(submission.agency, submission.agency_case_number)
        .filter(pk=attach_to.pk)
        .exists()
    ):
        raise ValidationError(
            {
                "attach_to": _("Case %(case)s is not a case of this agency under agency case number %(number)s.")
                % {"case": attach_to.lab_number, "number": submission.agency_case_number}
            }
        )

    now = timezone.now()
    case = attach_to or case_services.open_case(
        actor,
        agency=submission.agency,
        agency_case_number=submission.agency_case_number,
        received_at=now,
        **{name: getattr(submission, name) for name in Incident.FIELDS},
    )
    case_services.add_offences(case, submission.offence_codes)
    Person.objects.filter(submission=submission).update(case=case)

    for data in extra_items:
        position = len(items) + 1
        extra = SubmissionItem.objects.create(
            submission=submission,
            position=position,
            presence=Presence.EXTRA,
            **{k: v for k, v in data.fields.items() if k in ITEM_FIELDS},
        )
        extra.disciplines.set(data.disciplines)
        items.append(extra)
        checks[extra.pk] = ItemCheck(
            presence=Presence.EXTRA,
            seal_status=data.fields.get("seal_status") or SealStatus.NONE,
            deviation_note=_("Item not on the submission list."),
        )

    by_discipline = defaultdict(list)
    for listed in items:
        check = checks[listed.pk]
        listed.presence, listed.seal_status = check.presence, check.seal_status
        listed.condition, listed.deviation_note = check.condition.strip(), check.deviation_note.strip()
        if listed.presence != Presence.MISSING:
            listed.item = _take_custody(actor, case, listed, handed_over_by, now)
            for discipline in listed.disciplines.all():
                by_discipline[discipline].append(listed.item)
        listed.save()
    submission.status = SubmissionStatus.RECEIVED
    submission.case, submission.received_at, submission.received_by = case, now, actor
    submission.receipt_number = yearly_number("RCT", "receipt", now)
    submission.save()
    deviations = [i for i in items if i.deviation]
    record(
        "submission.received",
        actor=actor,
        obj=submission,
        after={
            "case": case.lab_number,
            "receipt": submission.receipt_number,
            "handed_over_by": handed_over_by.username,
            "items": [i.item.label for i in items if i.item_id],
            "deviations": [
                {"item": i.position, "presence": i.presence, "seal": i.seal_status, "note": i.deviation_note}
                for i in deviations
            ],
        },
    )
    publish(
        Topic.CASE_RECEIVED,
        case,
        new_case=attach_to is None,
        submission=submission.reference,
        receipt=submission.receipt_number,
        agency_case_number=case.agency_case_number,
        items=[i.item.label for i in items if i.item_id],
        deviations=len(deviations),
    )
    # After the case's own entry, so a partner following the feed learns of the case before its requests.
    for discipline, discipline_items in by_discipline.items():
        create_service_request(actor, case, discipline, discipline_items, requested_at=now)
    _notify_received(submission, case, deviations)
    return case


def _take_custody(actor: User, case: Case, listed: SubmissionItem, handed_over_by: User, now) -> Any:
    item = evidence_services.create_item(
        actor,
        case,
        received_at=now,
        type=listed.type,
        description=listed.description,
        quantity=listed.quantity,
        packaging=listed.packaging,
        seal_number=listed.seal_number,
        collected_by=listed.collected_by,
        collected_at=listed.collected_at,
        collected_place=listed.collected_place,
        biological=listed.biological,
        condition_at_receipt=listed.condition,
    )
    evidence_services.append_custody_event(
        item,
        released_by=handed_over_by,
        received_by=actor,
        purpose=Purpose.RECEIPT,
        occurred_at=now,
        location=_("Evidence reception"),
        seal_number=listed.seal_number,
        seal_status=listed.seal_status,
        condition=listed.condition,
        note=listed.deviation_note,
        acknowledged_by_releaser=True,
        acknowledged_by_receiver=True,
    )
    return item


def _notify_received(submission: Submission, case: Case, deviations: list[SubmissionItem]) -> None:
    url = reverse("intake:detail", args=[submission.reference])
    notify(
        submission.submitting_officer,
        _("Submission %(ref)s was received by the laboratory as case %(case)s.")
        % {"ref": submission.reference, "case": case.lab_number},
        url,
    )
    if deviations:
        notify(
            submission.submitting_officer,
            _("Deviations were recorded at receipt of %(ref)s: %(count)s item(s). See the submission.")
            % {"ref": submission.reference, "count": len(deviations)},
            url,
        )
