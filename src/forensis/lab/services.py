"""Laboratory casework: service requests and their one explicit state machine.

requested → assigned → in progress → draft complete → technically reviewed → administratively reviewed → released,
with send-backs from either review to "in progress" and cancellation from any open stage. Every transition is a
function here: it checks who may do it and the ISO/IEC 17025 rules (authorised analyst, calibrated instrument,
unexpired reagents, reviewer never the author), keeps the stage's timestamp, and writes the audit log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from forensis.accounts.models import User
from forensis.accounts.services import require_permission
from forensis.api.feed import publish
from forensis.api.models import Topic
from forensis.audit.services import record
from forensis.core.files import store_upload
from forensis.core.models import yearly_number

from .models import (
    OPEN_STATUSES,
    Attachment,
    Authorization,
    ChecklistQuestion,
    Discipline,
    Examination,
    Instrument,
    Method,
    ReagentLot,
    RequestStatus,
    RequestTransition,
    Result,
    Review,
    ReviewStage,
    ServiceRequest,
    Signature,
    SignatureMeaning,
    Worksheet,
)
from .results import validate_result

MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024

#: The timestamp each stage sets, in order; a send-back clears those after "started".
#: The discipline whose examination is an autopsy: its record is ``deaths.AutopsyRecord``, not per-item results.
AUTOPSY_DISCIPLINE = "pathology"

STAGE_TIMESTAMPS = (
    "assigned_at",
    "started_at",
    "draft_completed_at",
    "technical_reviewed_at",
    "administrative_reviewed_at",
    "released_at",
)


def _locked(request: ServiceRequest, *allowed: str) -> ServiceRequest:
    # Lock the request row only: locking its discipline and case too made it wait, against the audit chain's lock,
    # on a reception inserting a request of the same discipline (a deadlock on PostgreSQL).
    request = (
        ServiceRequest.objects.select_for_update(of=("self",)).select_related("discipline", "case").get(pk=request.pk)
    )
    if allowed and request.status not in allowed:
        raise ValidationError(
            _("Request %(request)s is %(status)s; this step is not possible now.")
            % {"request": request, "status": request.get_status_display().lower()}
        )
    return request


def _move(
    actor: User, request: ServiceRequest, to: str, *, reason: str = "", stamp: str = "", **changes: Any
) -> ServiceRequest:
    now = timezone.now()
    before = request.status
    request.status = to
    if stamp:
        setattr(request, stamp, now)
        if stamp == "released_at":  # statistics group released work by the month of release
            request.released_month = timezone.localtime(now).strftime("%Y-%m")
    for name, value in changes.items():
        setattr(request, name, value)
    request.save()
    RequestTransition.objects.create(
        request=request, from_status=before, to_status=to, actor=actor, at=now, reason=reason
    )
    record(
        f"request.{to}",
        actor=actor,
        obj=request,
        before={"status": before},
        after={"status": to, **{k: getattr(v, "pk", v) for k, v in changes.items()}},
        reason=reason,
    )
    _publish_status(request, before)
    return request


def _publish_status(request: ServiceRequest, before: str | None) -> None:
    """The change feed's entry for a request's new status (partners follow their cases' progress by it)."""
    publish(
        Topic.REQUEST_STATUS,
        request.case,
        request=request.pk,
        discipline=request.discipline.code,
        from_status=before,
        status=request.status,
    )


# --- catalogue rules -----------------------------------------------------------------------------


def authorization_problem(
    user: User, discipline: Discipline, method: Method | None = None, *, on: date | None = None
) -> str | None:
    """Why ``user`` may not do this work today, or None (a missing or expired competency blocks it)."""
    on = on or timezone.localdate()
    valid = Authorization.objects.filter(
        user=user, discipline=discipline, revoked_at__isnull=True, valid_from__lte=on, valid_until__gte=on
    )
    if method is not None:
        valid = valid.filter(Q(method__isnull=True) | Q(method=method))
    if valid.exists():
        return None
    expired = (
        Authorization.objects.filter(user=user, discipline=discipline, valid_until__lt=on)
        .order_by("-valid_until")
        .first()
    )
    if expired:
        return _("%(person)s's authorisation for %(discipline)s expired on %(date)s.") % {
            "person": str(user),
            "discipline": discipline,
            "date": expired.valid_until,
        }
    return _("%(person)s is not authorised for %(discipline)s%(method)s.") % {
        "person": str(user),
        "discipline": discipline,
        "method": f" ({method})" if method else "",
    }


def instrument_problem(instrument: Instrument, *, on: date | None = None) -> str | None:
    on = on or timezone.localdate()
    if not instrument.is_active:
        return _("%(instrument)s is out of service.") % {"instrument": instrument}
    if instrument.calibration_due < on:
        return _("%(instrument)s is out of calibration since %(date)s.") % {
            "instrument": instrument,
            "date": instrument.calibration_due,
        }
    return None


def lot_problem(lot: ReagentLot, *, on: date | None = None) -> str | None:
    on = on or timezone.localdate()
    if lot.expiry < on:
        return _("%(lot)s expired on %(date)s.") % {"lot": lot, "date": lot.expiry}
    return None


def open_workload() -> dict[int, int]:
    """Requests per analyst that are assigned or in progress (their open bench work), for the triage board."""
    rows = (
        ServiceRequest.objects.filter(
            status__in=[RequestStatus.ASSIGNED, RequestStatus.IN_PROGRESS], assigned_to__isnull=False
        )
        .values("assigned_to")
        .annotate(n=Count("pk"))
    )
    return {row["assigned_to"]: row["n"] for row in rows}


def authorized_analysts(discipline: Discipline):
    today = timezone.localdate()
    return User.objects.filter(
        is_active=True,
        authorizations__discipline=discipline,
        authorizations__revoked_at__isnull=True,
        authorizations__valid_from__lte=today,
        authorizations__valid_until__gte=today,
    ).distinct()


# --- requests ------------------------------------------------------------------------------------


@transaction.atomic
def create_service_request(
    actor: User, case, discipline: Discipline, items: Iterable, *, requested_at, parent: ServiceRequest | None = None
) -> ServiceRequest:
    request = ServiceRequest.objects.create(
        case=case, discipline=discipline, requested_at=requested_at, received_month=case.received_month, parent=parent
    )
    items = list(items)
    request.items.set(items)
    record(
        "request.created",
        actor=actor,
        obj=request,
        after={
            "discipline": discipline.code,
            "items": [item.label for item in items],
            "parent": parent.pk if parent else None,
        },
    )
    _publish_status(request, None)
    return request


@transaction.atomic
def raise_child_request(actor: User, parent: ServiceRequest, discipline: Discipline, items: Iterable) -> ServiceRequest:
    """A follow-up request from an examination (e.g. a DNA swab taken off a firearm)."""
    if parent.assigned_to_id != actor.pk and not actor.has_perm("lab.assign_request"):
        raise PermissionDenied
    if parent.status not in OPEN_STATUSES:
        raise ValidationError(
            _("Request %(request)s is %(status)s: raise a follow-up from open work only.")
            % {"request": parent, "status": parent.get_status_display().lower()}
        )
    items = list(items)
    if not items or any(item.case_id != parent.case_id for item in items):
        raise ValidationError(_("Choose items of case %(case)s.") % {"case": parent.case.lab_number})
    child = create_service_request(actor, parent.case, discipline, items, requested_at=timezone.now(), parent=parent)
    ServiceRequest.objects.filter(pk=child.pk).update(priority=parent.priority, court_date=parent.court_date)
    child.priority, child.court_date = parent.priority, parent.court_date
    return child


@transaction.atomic
def set_priority(actor: User, request: ServiceRequest, *, priority: int, court_date: date | None) -> ServiceRequest:
    require_permission(actor, "lab.assign_request")
    request = _locked(request, *OPEN_STATUSES)
    before = {"priority": request.priority, "court_date": request.court_date}
    request.priority, request.court_date = priority, court_date
    request.full_clean(exclude=["items"])
    request.save(update_fields=["priority", "court_date"])
    record(
        "request.prioritised",
        actor=actor,
        obj=request,
        before=before,
        after={"priority": priority, "court_date": court_date},
    )
    return request


@transaction.atomic
def assign(
    actor: User, request: ServiceRequest, analyst: User, *, permission: str = "lab.assign_request"
) -> ServiceRequest:
    """Assign (or reassign before work starts) to an analyst authorised for the discipline.

    ``permission``: what entitles ``actor`` to decide; a lab manager assigns, and the medical examiner's office
    names the pathologist of its autopsies (``deaths.services``).
    """
    require_permission(actor, permission)
    request = _locked(request, RequestStatus.REQUESTED, RequestStatus.ASSIGNED)
    if not analyst.is_active or not analyst.has_perm("lab.perform_examination"):
        raise ValidationError({"analyst": _("%(person)s does not perform examinations.") % {"person": str(analyst)}})
    problem = authorization_problem(analyst, request.discipline)
    if problem:
        raise ValidationError({"analyst": problem})
    return _move(actor, request, RequestStatus.ASSIGNED, stamp="assigned_at", assigned_to=analyst)


@transaction.atomic
def cancel(actor: User, request: ServiceRequest, reason: str) -> ServiceRequest:
    require_permission(actor, "lab.assign_request")
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for cancelling.")})
    request = _locked(request, *OPEN_STATUSES)
    return _move(
        actor,
        request,
        RequestStatus.CANCELLED,
        reason=reason.strip(),
        stamp="cancelled_at",
        cancel_reason=reason.strip(),
    )


# --- examination ---------------------------------------------------------------------------------


def _check_examination_setup(
    analyst: User,
    discipline: Discipline,
    method: Method,
    instrument: Instrument | None,
    lots: list[ReagentLot],
    *,
    already_used: Examination | None = None,
) -> None:
    """Method, instrument and lots must fit the discipline and be usable today.

    With ``already_used`` only what changes is checked: an instrument whose calibration lapsed, or a lot that
    expired, after the work started stays on the record of what was used (editing the notes must not force a
    false record).
    """
    problems = []
    if already_used is None or method.pk != already_used.method_id:
        if method.discipline_id != discipline.pk or not method.is_active:
            problems.append(
                _("%(method)s is not an active method of %(discipline)s.")
                % {"method": method, "discipline": discipline}
            )
        elif problem := authorization_problem(analyst, discipline, method):
            problems.append(problem)
    if instrument is not None and (already_used is None or instrument.pk != already_used.instrument_id):
        if instrument.discipline_id not in (None, discipline.pk):
            problems.append(
                _("%(instrument)s is not an instrument of %(discipline)s.")
                % {"instrument": instrument, "discipline": discipline}
            )
        elif problem := instrument_problem(instrument):
            problems.append(problem)
    used_lots = set(already_used.reagent_lots.values_list("pk", flat=True)) if already_used else set()
    for lot in lots:
        if lot.pk in used_lots:
            continue
        if lot.discipline_id not in (None, discipline.pk):
            problems.append(_("%(lot)s is not a reagent of %(discipline)s.") % {"lot": lot, "discipline": discipline})
        elif problem := lot_problem(lot):
            problems.append(problem)
    if problems:
        raise ValidationError(problems)


def _check_analyst(actor: User, request: ServiceRequest) -> None:
    if request.assigned_to_id != actor.pk:
        raise PermissionDenied(_("Only the assigned analyst may do this."))


def work_in_progress(actor: User, request: ServiceRequest) -> ServiceRequest:
    """The request, locked, for its analyst to change the work: only while it is in progress."""
    request = _locked(request, RequestStatus.IN_PROGRESS)
    _check_analyst(actor, request)
    return request


def was_reviewed(request: ServiceRequest) -> bool:
    """Has a reviewer approved or signed this work? From then on a change needs a reason (a new version)."""
    return (
        request.reviews.filter(approved=True).exists()
        or request.signatures.filter(
            meaning__in=[SignatureMeaning.TECHNICALLY_REVIEWED, SignatureMeaning.ADMINISTRATIVELY_REVIEWED]
        ).exists()
    )


@transaction.atomic
def start_examination(
    actor: User,
    request: ServiceRequest,
    *,
    method: Method,
    instrument: Instrument | None = None,
    reagent_lots: Iterable[ReagentLot] = (),
    notes: str = "",
    deviations: str = "",
    worksheet: Worksheet | None = None,
) -> Examination:
    require_permission(actor, "lab.perform_examination")
    request = _locked(request, RequestStatus.ASSIGNED)
    _check_analyst(actor, request)
    lots = list(reagent_lots)
    _check_examination_setup(actor, request.discipline, method, instrument, lots)
    examination = Examination.objects.create(
        request=request,
        analyst=actor,
        method=method,
        instrument=instrument,
        notes=notes,
        deviations=deviations.strip(),
        started_at=timezone.now(),
        worksheet=worksheet,
    )
    examination.reagent_lots.set(lots)
    _move(actor, request, RequestStatus.IN_PROGRESS, stamp="started_at")
    return examination


@transaction.atomic
def update_examination(
    actor: User,
    request: ServiceRequest,
    *,
    method: Method,
    instrument: Instrument | None,
    reagent_lots: Iterable[ReagentLot],
    notes: str,
    deviations: str = "",
) -> Examination:
    """Change the method, instrument, lots, notes or deviations while the work is in progress (audited)."""
    request = work_in_progress(actor, request)
    lots = list(reagent_lots)
    examination = request.examination
    _check_examination_setup(actor, request.discipline, method, instrument, lots, already_used=examination)
    before = _examination_snapshot(examination)
    examination.method, examination.instrument, examination.notes = method, instrument, notes
    examination.deviations = deviations.strip()
    examination.save()
    examination.reagent_lots.set(lots)
    after = _examination_snapshot(examination)
    if after != before:
        record("examination.updated", actor=actor, obj=examination, before=before, after=after)
    return examination


def _examination_snapshot(examination: Examination) -> dict[str, Any]:
    return {
        "method": str(examination.method),
        "instrument": str(examination.instrument or ""),
        "reagent_lots": sorted(str(lot) for lot in examination.reagent_lots.all()),
        "notes": examination.notes,
        "deviations": examination.deviations,
    }


@transaction.atomic
def record_result(actor: User, request: ServiceRequest, item, data: dict[str, Any], *, reason: str = "") -> Result:
    """Record (or correct) the result for one item.

    Before any review the current result is replaced (its earlier value stays in the audit log). Once a
    reviewer has signed, a change is a new version that supersedes the old one and needs a reason.
    """
    request = work_in_progress(actor, request)
    if not request.items.filter(pk=item.pk).exists():
        raise ValidationError(_("%(item)s is not part of this request.") % {"item": item})
    cleaned = validate_result(request.discipline.code, data)
    examination = request.examination
    current = Result.objects.select_for_update().filter(examination=examination, item=item, is_current=True).first()
    reviewed = was_reviewed(request)
    now = timezone.now()
    if current is not None and current.data == cleaned:
        return current
    if current is not None and reviewed:
        if not reason.strip():
            raise ValidationError({"reason": _("This result was reviewed: give the reason for the new version.")})
        Result.objects.filter(pk=current.pk).update(is_current=False)
        result = Result.objects.create(
            examination=examination,
            item=item,
            data=cleaned,
            version=current.version + 1,
            supersedes=current,
            change_reason=reason.strip(),
            recorded_by=actor,
            recorded_at=now,
        )
    elif current is not None:
        before = current.data
        current.data, current.recorded_at, current.change_reason = cleaned, now, reason.strip()
        current.save(update_fields=["data", "recorded_at", "change_reason"])
        record("result.updated", actor=actor, obj=current, before=before, after=cleaned, reason=reason)
        return current
    else:
        result = Result.objects.create(
            examination=examination, item=item, data=cleaned, recorded_by=actor, recorded_at=now
        )
    record(
        "result.recorded",
        actor=actor,
        obj=result,
        before=current.data if current else None,
        after=cleaned,
        reason=reason,
    )
    return result


@transaction.atomic
def attach_file(actor: User, request: ServiceRequest, upload: UploadedFile) -> Attachment:
    request = work_in_progress(actor, request)
    attachment = store_upload(
        Attachment(examination=request.examination, uploaded_by=actor),
        upload,
        stem=str(request.pk),
        max_bytes=MAX_ATTACHMENT_BYTES,
    )
    record(
        "examination.file_attached",
        actor=actor,
        obj=request,
        after={"file": attachment.original_name, "sha256": attachment.sha256, "size": attachment.size},
    )
    return attachment


# --- signatures and reviews ----------------------------------------------------------------------


def content_hash(request: ServiceRequest) -> str:
    """SHA-256 of what is signed: the request, its examination set-up and its current results."""
    examination = getattr(request, "examination", None)
    payload = {
        "request": request.pk,
        "case": request.case.lab_number,
        "discipline": request.discipline.code,
        "items": sorted(request.items.values_list("label", flat=True)),
        "examination": _examination_snapshot(examination) if examination else None,
        "results": [
            {"item": r.item.label, "version": r.version, "data": r.data}
            for r in Result.objects.filter(examination=examination, is_current=True).select_related("item")
        ]
        if examination
        else [],
        "attachments": sorted(examination.attachments.values_list("sha256", flat=True)) if examination else [],
        # An autopsy's findings, cause of death and manner are what its pathologist and reviewers sign.
        "autopsy": autopsy.snapshot() if (autopsy := getattr(examination, "autopsy", None)) else None,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _sign(request: ServiceRequest, signer: User, meaning: str) -> Signature:
    return Signature.objects.create(
        request=request,
        meaning=meaning,
        signer=signer,
        signer_name=str(signer)[: Signature._meta.get_field("signer_name").max_length],
        signed_at=timezone.now(),
        content_hash=content_hash(request),
    )


def _check_signer(signer: User, reauthenticated: bool) -> None:
    if not reauthenticated:
        raise ValidationError({"password": _("Enter your password to sign.")})


@transaction.atomic
def complete_draft(actor: User, request: ServiceRequest, *, reauthenticated: bool) -> ServiceRequest:
    """The analyst signs the draft as its author; it goes to technical review."""
    request = work_in_progress(actor, request)
    _check_signer(actor, reauthenticated)
    problems = draft_problems(request)
    if problems:
        raise ValidationError(problems)
    _sign(request, actor, SignatureMeaning.AUTHORED)
    return _move(actor, request, RequestStatus.DRAFT_COMPLETE, stamp="draft_completed_at")


def draft_problems(request: ServiceRequest) -> list[str]:
    """What is missing before the analyst may sign the draft: a result for every item, or the autopsy record."""
    if request.discipline.code == AUTOPSY_DISCIPLINE:
        autopsy = getattr(request.examination, "autopsy", None)
        return autopsy.completion_problems() if autopsy else [_("Record the autopsy first.")]
    items_without_result = request.items.exclude(
        results__examination=request.examination, results__is_current=True
    ).values_list("label", flat=True)
    if items_without_result:
        return [_("Record a result for every item first: %(labels)s.") % {"labels": ", ".join(items_without_result)}]
    return []


def checklist_for(request: ServiceRequest, stage: str):
    return ChecklistQuestion.objects.filter(
        Q(discipline__isnull=True) | Q(discipline=request.discipline), stage=stage, is_active=True
    )


def review_problem(reviewer: User, request: ServiceRequest, stage: str) -> str | None:
    """Why ``reviewer`` may not review this request at this stage, or None."""
    if not reviewer.has_perm("lab.review_request"):
        return _("You do not review requests.")
    if reviewer.pk == request.assigned_to_id:
        return _("You are the analyst of this request; another person must review it.")
    if stage == ReviewStage.TECHNICAL:
        return authorization_problem(reviewer, request.discipline)
    technical = request.reviews.filter(stage=ReviewStage.TECHNICAL, approved=True).order_by("-reviewed_at").first()
    if technical and technical.reviewer_id == reviewer.pk:
        return _("You did the technical review; the administrative review needs a different person.")
    return None


@transaction.atomic
def review(
    actor: User,
    request: ServiceRequest,
    *,
    stage: str,
    approve: bool,
    reason: str = "",
    checklist: dict[str, bool] | None = None,
    reauthenticated: bool = False,
) -> Review:
    """Approve (an electronic signature) or send back to the analyst (a reason)."""
    expected = RequestStatus.DRAFT_COMPLETE if stage == ReviewStage.TECHNICAL else RequestStatus.TECHNICAL_REVIEW
    request = _locked(request, expected)
    problem = review_problem(actor, request, stage)
    if problem:
        raise PermissionDenied(problem)
    checklist = {str(k): bool(v) for k, v in (checklist or {}).items()}
    now = timezone.now()
    if approve:
        _check_signer(actor, reauthenticated)
        questions = list(checklist_for(request, stage))
        unanswered = [q.text for q in questions if not checklist.get(str(q.pk))]
        if unanswered:
            raise ValidationError({"checklist": [_("Confirm: %(question)s") % {"question": q} for q in unanswered]})
        meaning = (
            SignatureMeaning.TECHNICALLY_REVIEWED
            if stage == ReviewStage.TECHNICAL
            else SignatureMeaning.ADMINISTRATIVELY_REVIEWED
        )
        decision = Review.objects.create(
            request=request,
            stage=stage,
            reviewer=actor,
            approved=True,
            reason=reason,
            checklist=checklist,
            signature=_sign(request, actor, meaning),
            reviewed_at=now,
        )
        if stage == ReviewStage.TECHNICAL:
            _move(actor, request, RequestStatus.TECHNICAL_REVIEW, stamp="technical_reviewed_at")
        else:
            _move(actor, request, RequestStatus.ADMINISTRATIVE_REVIEW, stamp="administrative_reviewed_at")
        return decision
    if not reason.strip():
        raise ValidationError({"reason": _("Say what the analyst must correct.")})
    decision = Review.objects.create(
        request=request,
        stage=stage,
        reviewer=actor,
        approved=False,
        reason=reason.strip(),
        checklist=checklist,
        reviewed_at=now,
    )
    _move(
        actor,
        request,
        RequestStatus.IN_PROGRESS,
        reason=reason.strip(),
        draft_completed_at=None,
        technical_reviewed_at=None,
        administrative_reviewed_at=None,
    )
    return decision


@transaction.atomic
def release(actor: User, request: ServiceRequest, *, reauthenticated: bool) -> ServiceRequest:
    """Release a request whose technical and administrative reviews are both approved, and issue its report.

    The report (or, after an amendment, its next version) is rendered, signed and stored in the same
    transaction: a request is never released without its report, nor a report issued for unreleased work.
    """
    from forensis.reports.services import issue_report

    require_permission(actor, "lab.release_request")
    request = ServiceRequest.objects.select_for_update().get(pk=request.pk)
    # Only approvals of the latest draft count: an approval given before a send-back is for other content.
    approved = set(
        request.reviews.filter(
            approved=True, reviewed_at__gte=request.draft_completed_at or timezone.now()
        ).values_list("stage", flat=True)
    )
    if request.status != RequestStatus.ADMINISTRATIVE_REVIEW or approved != {
        ReviewStage.TECHNICAL,
        ReviewStage.ADMINISTRATIVE,
    }:
        missing = [str(label) for stage, label in ReviewStage.choices if stage not in approved]
        raise ValidationError(
            _("Request %(request)s cannot be released: missing %(missing)s.")
            % {"request": request, "missing": ", ".join(missing) or request.get_status_display()}
        )
    _check_signer(actor, reauthenticated)
    signed = content_hash(request)
    last = request.signatures.exclude(meaning=SignatureMeaning.RELEASED).order_by("-signed_at").first()
    if last is None or last.content_hash != signed:
        raise ValidationError(_("The results changed after the reviews were signed; they must be reviewed again."))
    _sign(request, actor, SignatureMeaning.RELEASED)
    # A re-release after an amendment stamps the stages again, so they stay in order; the first release's date
    # is kept as the report's ``created_at`` (version 1's issue time).
    request = _move(actor, request, RequestStatus.RELEASED, stamp="released_at")
    issue_report(actor, request)
    return request


@transaction.atomic
def reopen_for_amendment(actor: User, request: ServiceRequest, reason: str) -> ServiceRequest:
    """Send released work back to its analyst so an amended report can be issued (``reports.services``)."""
    require_permission(actor, "reports.amend_report")
    request = _locked(request, RequestStatus.RELEASED)
    return _move(
        actor,
        request,
        RequestStatus.IN_PROGRESS,
        reason=reason,
        draft_completed_at=None,
        technical_reviewed_at=None,
        administrative_reviewed_at=None,
    )


# --- batches -------------------------------------------------------------------------------------


@transaction.atomic
def create_worksheet(
    actor: User,
    requests: Iterable[ServiceRequest],
    *,
    method: Method,
    instrument: Instrument | None = None,
    reagent_lots: Iterable[ReagentLot] = (),
) -> Worksheet:
    """Start several assigned requests of one discipline together, on one method, instrument and lots."""
    require_permission(actor, "lab.perform_examination")
    requests = list(requests)
    disciplines = {r.discipline_id for r in requests}
    if not requests or len(disciplines) != 1:
        raise ValidationError(_("Choose requests of one discipline."))
    lots = list(reagent_lots)
    worksheet = Worksheet.objects.create(
        reference=yearly_number("WS", "worksheet", timezone.now()), discipline_id=disciplines.pop(), analyst=actor
    )
    for request in requests:
        start_examination(actor, request, method=method, instrument=instrument, reagent_lots=lots, worksheet=worksheet)
    record("worksheet.created", actor=actor, obj=worksheet, after={"requests": [r.pk for r in requests]})
    return worksheet


# --- the catalogue (methods, instruments, reagent lots, checklists, authorisations) ---------------

CATALOGUE_FIELDS = {
    Discipline: ("code", "name", "outsourced", "is_active"),
    Method: ("discipline", "code", "name", "version", "effective_from", "is_active"),
    Instrument: ("name", "serial_number", "discipline", "calibration_due", "maintenance_due", "is_active"),
    ReagentLot: ("reagent", "lot_number", "expiry", "discipline"),
    ChecklistQuestion: ("stage", "discipline", "text", "is_active"),
}


def _catalogue_snapshot(entry, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(getattr(entry, name), "pk", getattr(entry, name)) for name in names}


@transaction.atomic
def save_catalogue_entry(actor: User, model: type, entry=None, **fields: Any):
    """Create or change a method version, instrument, reagent lot or checklist question (audited).

    Entries are never deleted: retire a method version or an instrument with ``is_active=False`` so the
    examinations that used them keep pointing at what was used.
    """
    require_permission(actor, "lab.manage_catalogue")
    names = CATALOGUE_FIELDS[model]
    before = _catalogue_snapshot(entry, names) if entry is not None else None
    entry = entry or model()
    for name in names:
        if name in fields:
            setattr(entry, name, fields[name])
    entry.full_clean()
    entry.save()
    after = _catalogue_snapshot(entry, names)
    if after != before:
        record(
            f"{model._meta.model_name}.{'created' if before is None else 'updated'}",
            actor=actor,
            obj=entry,
            before=before,
            after=after,
        )
    return entry


@transaction.atomic
def grant_authorization(
    actor: User,
    user: User,
    discipline: Discipline,
    *,
    valid_from: date,
    valid_until: date,
    method: Method | None = None,
) -> Authorization:
    require_permission(actor, "lab.manage_catalogue")
    if not user.is_laboratory_staff:
        raise ValidationError({"user": _("Only laboratory staff can be authorised.")})
    if method is not None and method.discipline_id != discipline.pk:
        raise ValidationError({"method": _("The method must belong to %(discipline)s.") % {"discipline": discipline}})
    if valid_until < valid_from:
        raise ValidationError({"valid_until": _("The authorisation must end after it starts.")})
    authorization = Authorization.objects.create(
        user=user,
        discipline=discipline,
        method=method,
        valid_from=valid_from,
        valid_until=valid_until,
        granted_by=actor,
    )
    record(
        "authorization.granted",
        actor=actor,
        obj=user,
        after={
            "discipline": discipline.code,
            "method": str(method or ""),
            "valid_from": valid_from,
            "valid_until": valid_until,
        },
    )
    return authorization


@transaction.atomic
def revoke_authorization(actor: User, authorization: Authorization, reason: str) -> Authorization:
    require_permission(actor, "lab.manage_catalogue")
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for revoking.")})
    authorization = Authorization.objects.select_for_update().get(pk=authorization.pk)
    if authorization.revoked_at is None:
        authorization.revoked_at = timezone.now()
        authorization.save(update_fields=["revoked_at"])
        record(
            "authorization.revoked",
            actor=actor,
            obj=authorization.user,
            after={"discipline": authorization.discipline.code},
            reason=reason,
        )
    return authorization
