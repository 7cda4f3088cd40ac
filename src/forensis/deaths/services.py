"""Death investigations: logging a death, correcting the record, the autopsy record and the samples taken at it.

Every change here is audited and validated as a whole before anything is written. The body's custody at the morgue
(receipt and release) is ``deaths.body_custody``. The autopsy is the pathology request's examination, so starting,
signing, reviewing, releasing and amending it are ``lab.services`` and ``reports.services`` functions, and its
samples' tests are child requests of it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from forensis.accounts.models import Agency, AgencyType, User
from forensis.accounts.services import require_permission
from forensis.api.feed import publish
from forensis.api.models import Topic
from forensis.audit.services import record
from forensis.cases import services as case_services
from forensis.core import iccs, icd10
from forensis.core.models import yearly_number
from forensis.evidence import services as evidence_services
from forensis.evidence.models import ItemType, Purpose, SealStatus
from forensis.lab import services as lab_services
from forensis.lab.models import Discipline, RequestStatus, ServiceRequest

from .models import (
    MAX_AGE,
    AgeGroup,
    AutopsyRecord,
    AutopsyType,
    DeathInvestigation,
    Manner,
    Pregnancy,
    age_group_of,
)

#: The fields of an investigation a person writes (decedent, when and where, who, and the framework's context).
INVESTIGATION_FIELDS = (
    "identified",
    "decedent_name",
    "tag_number",
    "sex",
    "age",
    "age_min",
    "age_max",
    "nationality",
    "pregnancy",
    "death_at",
    "death_time_estimated",
    "district",
    "death_place",
    "discovered_at",
    "discovery_place",
    "scene_technician",
    "pathologist",
    "relationship",
    "perpetrator_sex",
    "prior_violence",
    "sexual_violence",
    "mutilation",
    "body_disposed_in_public",
    "illegal_exploitation",
    "deprived_of_liberty",
    "sex_work",
    "gender_hate_motive",
    "circumstances",
)


def _number(moment: datetime) -> str:
    return yearly_number(f"{settings.FORENSIS_CASE_PREFIX}-ME", "death", moment)


def _local_date(moment: datetime | None) -> date | None:
    return timezone.localtime(moment).date() if moment else None


def _snapshot(investigation: DeathInvestigation) -> dict[str, Any]:
    values = {}
    for name in INVESTIGATION_FIELDS:
        value = getattr(investigation, name)
        values[name] = getattr(value, "username", value)
    return values


# --- rules ----------------------------------------------------------------------------------------


def _age_group(investigation: DeathInvestigation) -> str:
    if investigation.age is not None:
        return age_group_of(investigation.age)
    if investigation.age_min is not None and investigation.age_max is not None:
        lower, upper = age_group_of(investigation.age_min), age_group_of(investigation.age_max)
        return lower if lower == upper else AgeGroup.UNKNOWN
    return AgeGroup.UNKNOWN


#: The people named on a death record, and the role each must hold when named.
NAMED_PEOPLE = (("pathologist", "medical_examiner"), ("scene_technician", "scene_technician"))


def _validate(
    investigation: DeathInvestigation, *, named: tuple[str, ...] = ("pathologist", "scene_technician")
) -> None:
    """Every rule of a death record, all problems at once (nothing is saved while one remains).

    ``named``: the people fields to check for their role; a correction checks only the people it changes, so a
    record whose pathologist has since left can still be corrected.
    """
    errors: dict[str, list[str]] = defaultdict(list)
    now = timezone.now()
    if investigation.identified and not investigation.decedent_name.strip():
        errors["decedent_name"].append(_("Give the name of the deceased, or mark them unidentified."))
    if not investigation.identified and not investigation.tag_number.strip():
        errors["tag_number"].append(_("An unidentified body needs its tag number."))
    for name in ("age", "age_min", "age_max"):
        value = getattr(investigation, name)
        if value is not None and not 0 <= value <= MAX_AGE:
            errors[name].append(_("An age must be between 0 and %(max)s years.") % {"max": MAX_AGE})
    if investigation.age is not None and (investigation.age_min is not None or investigation.age_max is not None):
        errors["age"].append(_("Give either the age or an estimated range, not both."))
    if (
        investigation.age_min is not None
        and investigation.age_max is not None
        and investigation.age_min > investigation.age_max
    ):
        errors["age_max"].append(_("The estimated age range ends before it starts."))
    if investigation.discovered_at and investigation.discovered_at > now:
        errors["discovered_at"].append(_("The date of discovery is in the future."))
    if investigation.death_at:
        if investigation.death_at > now:
            errors["death_at"].append(_("The date of death is in the future."))
        elif investigation.discovered_at and investigation.death_at > investigation.discovered_at:
            errors["death_at"].append(_("The death cannot come after the body was discovered."))
        autopsy = getattr(investigation, "autopsy", None) if investigation.pk else None
        death_day = _local_date(investigation.death_at)
        if autopsy is not None and death_day and death_day > autopsy.performed_on:
            errors["death_at"].append(
                _("The date of death cannot come after the autopsy (%(date)s).") % {"date": autopsy.performed_on}
            )
    if investigation.pregnancy in (Pregnancy.PREGNANT, Pregnancy.POSTPARTUM) and investigation.sex == "M":
        errors["pregnancy"].append(_("A pregnancy status applies to women and girls only."))
    for name, role in NAMED_PEOPLE:
        person = getattr(investigation, name) if name in named else None
        if person is not None and (not person.is_active or not person.has_role(role)):
            errors[name].append(_("%(person)s does not hold that role.") % {"person": person})
    try:
        investigation.full_clean(exclude=["case", "body", "logged_by", "logged_at", "month", "number"])
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors[field].extend(m for m in messages if m not in errors[field])
    if errors:
        raise ValidationError(dict(errors))


def _derive(investigation: DeathInvestigation) -> None:
    investigation.decedent_name = investigation.decedent_name.strip() if investigation.identified else ""
    investigation.tag_number = investigation.tag_number.strip()
    investigation.age_group = _age_group(investigation)
    investigation.month = case_services.lab_month(investigation.death_at or investigation.discovered_at)


def visible_investigations(user: User) -> QuerySet[DeathInvestigation]:
    return DeathInvestigation.objects.visible_to(user).select_related("case", "case__agency", "body")


def autopsy_request(investigation: DeathInvestigation) -> ServiceRequest | None:
    """The pathology request on the body (created when the body is received at the morgue)."""
    return (
        ServiceRequest.objects.filter(items=investigation.body, discipline__code=lab_services.AUTOPSY_DISCIPLINE)
        .exclude(status=RequestStatus.CANCELLED)
        .select_related("discipline", "case", "assigned_to")
        .first()
    )


def pending_manner(user: User) -> QuerySet[DeathInvestigation]:
    """Deaths whose manner is still pending investigation (or not yet recorded), oldest first: for follow-up."""
    return (
        visible_investigations(user)
        .filter(Q(autopsy__isnull=True) | Q(autopsy__manner=Manner.PENDING))
        .order_by("logged_at", "pk")
    )


# --- logging a death ------------------------------------------------------------------------------


@transaction.atomic
def log_death(
    actor: User,
    *,
    agency: Agency,
    agency_case_number: str,
    offence_codes: list[str] | tuple[str, ...] = (),
    body_seal_number: str = "",
    **fields: Any,
) -> DeathInvestigation:
    """Open a death investigation under the police case, and take the body into custody at the scene.

    The police case is the agency's case number: an existing laboratory case with that number is linked (the
    same killing may already have evidence at the laboratory), otherwise a case is opened. The body becomes an
    item of that case whose ledger starts with the person who logged the death taking it from the scene.
    """
    require_permission(actor, "deaths.add_deathinvestigation")
    unknown_fields = set(fields) - set(INVESTIGATION_FIELDS)
    if unknown_fields:
        raise ValueError(f"Unknown death investigation fields: {sorted(unknown_fields)}")
    errors: dict[str, list[str]] = defaultdict(list)
    if agency.type != AgencyType.POLICE or not agency.is_active:
        errors["agency"].append(_("Choose an active police agency."))
    if not agency_case_number.strip():
        errors["agency_case_number"].append(_("Give the police case number."))
    unknown = [code for code in offence_codes if not iccs.is_known(code)]
    if unknown:
        errors["offence_codes"].append(_("Unknown ICCS offence code: %(codes)s.") % {"codes": ", ".join(unknown)})
    now = timezone.now()
    investigation = DeathInvestigation(logged_by=actor, logged_at=now, **fields)
    if investigation.scene_technician is None and actor.has_role("scene_technician"):
        investigation.scene_technician = actor
    try:
        _validate(investigation)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors[field].extend(messages)
    if errors:
        raise ValidationError(dict(errors))
    _derive(investigation)
    case = case_services.matching_cases(agency, agency_case_number).order_by("received_at", "pk").first()
    new_case = case is None
    if new_case:
        case = case_services.open_case(
            actor,
            agency=agency,
            agency_case_number=agency_case_number,
            received_at=now,
            incident_at=investigation.death_at,
            district=investigation.district,
            address=investigation.death_place,
        )
    case_services.add_offences(case, list(offence_codes))
    investigation.case = case
    investigation.number = _number(now)
    place = investigation.discovery_place or investigation.death_place
    body = evidence_services.create_item(
        actor,
        case,
        received_at=now,
        type=ItemType.BODY,
        description=_("Body of %(person)s") % {"person": investigation.decedent},
        biological=True,
        seal_number=body_seal_number.strip(),
        collected_by=evidence_services.person_name(actor),
        collected_at=investigation.discovered_at,
        collected_place=place,
    )
    investigation.body = body
    investigation.save()
    evidence_services.append_custody_event(
        body,
        released_by=None,
        released_by_name=_("Scene"),
        received_by=actor,
        purpose=Purpose.SCENE,
        occurred_at=now,
        location=place,
        seal_number=body.seal_number,
        seal_status=SealStatus.INTACT if body.seal_number else SealStatus.NONE,
        acknowledged_by_receiver=True,
    )
    record(
        "death.logged",
        actor=actor,
        obj=investigation,
        after={"number": investigation.number, "case": case.lab_number, "body": body.label, **_snapshot(investigation)},
    )
    publish(Topic.CASE_RECEIVED, case, new_case=new_case, death_investigation=investigation.number, items=[body.label])
    return investigation


@transaction.atomic
def update_investigation(
    actor: User, investigation: DeathInvestigation, *, reason: str = "", **fields: Any
) -> DeathInvestigation:
    """Correct or complete the record (a later identification, the framework's context, the pathologist).

    Once the autopsy report is out, a change needs a reason: the report keeps what it said, and the record
    says why it now differs.
    """
    require_permission(actor, "deaths.change_deathinvestigation")
    investigation = DeathInvestigation.objects.select_for_update().get(pk=investigation.pk)
    if not DeathInvestigation.objects.visible_to(actor).filter(pk=investigation.pk).exists():
        raise PermissionDenied
    unknown_fields = set(fields) - set(INVESTIGATION_FIELDS)
    if unknown_fields:
        raise ValueError(f"Unknown death investigation fields: {sorted(unknown_fields)}")
    before = _snapshot(investigation)
    for name, value in fields.items():
        setattr(investigation, name, value)
    after = _snapshot(investigation)
    _validate(investigation, named=tuple(name for name, _role in NAMED_PEOPLE if after[name] != before[name]))
    if after == before:
        return investigation
    request = autopsy_request(investigation)
    if request is not None and request.reports.exists() and not reason.strip():
        raise ValidationError({"reason": _("The autopsy report was released: give the reason for the change.")})
    _derive(investigation)
    investigation.save()
    changed = {name for name in after if after[name] != before[name]}
    if "pathologist" in changed and investigation.pathologist and request is not None:
        assign_pathologist(actor, request, investigation.pathologist, permission="deaths.change_deathinvestigation")
    record(
        "death.updated",
        actor=actor,
        obj=investigation,
        before={name: before[name] for name in changed},
        after={name: after[name] for name in changed},
        reason=reason.strip(),
    )
    return investigation


def assign_pathologist(actor: User, request: ServiceRequest, pathologist: User, *, permission: str) -> None:
    """Give the autopsy to the named pathologist while it has not started (afterwards a manager reassigns)."""
    if request.status in (RequestStatus.REQUESTED, RequestStatus.ASSIGNED) and request.assigned_to_id != pathologist.pk:
        lab_services.assign(actor, request, pathologist, permission=permission)


# --- the autopsy ----------------------------------------------------------------------------------


def _clean_autopsy(investigation: DeathInvestigation, fields: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = defaultdict(list)
    cleaned = dict(fields)
    for _line, _text, code_field in AutopsyRecord.CAUSE_CHAIN:
        try:
            cleaned[code_field] = icd10.clean(fields.get(code_field) or "")
        except ValidationError as exc:
            errors[code_field].extend(exc.messages)
    for _line, text_field, code_field in AutopsyRecord.CAUSE_CHAIN:
        cleaned[text_field] = (fields.get(text_field) or "").strip()
        if cleaned.get(code_field) and not cleaned[text_field]:
            errors[text_field].append(_("Describe the cause in words as well as its code."))
    if fields.get("type") not in AutopsyType.values:
        errors["type"].append(_("Choose a full autopsy or an external examination."))
    manner = fields.get("manner") or Manner.PENDING
    cleaned["manner"] = manner
    if manner not in Manner.values:
        errors["manner"].append(_("Choose a manner of death."))
    cleaned["mechanism"] = fields.get("mechanism") or ""
    if manner == Manner.HOMICIDE and not cleaned["mechanism"]:
        errors["mechanism"].append(_("A homicide needs its mechanism (firearm, sharp object, …)."))
    performed_on = fields.get("performed_on")
    if performed_on is None:
        errors["performed_on"].append(_("Give the date of the autopsy."))
    else:
        if performed_on > timezone.localdate():
            errors["performed_on"].append(_("The date of the autopsy is in the future."))
        death_day = _local_date(investigation.death_at)
        if death_day and performed_on < death_day:
            errors["performed_on"].append(
                _("The autopsy cannot come before the death (%(date)s).") % {"date": death_day}
            )
    cleaned["findings"] = (fields.get("findings") or "").strip()
    cleaned["contributing_conditions"] = (fields.get("contributing_conditions") or "").strip()
    if errors:
        raise ValidationError(dict(errors))
    return cleaned


@transaction.atomic
def record_autopsy(actor: User, investigation: DeathInvestigation, *, reason: str = "", **fields: Any) -> AutopsyRecord:
    """Record (or correct) the autopsy while the pathology request is in progress with its pathologist.

    Before any review the record is corrected in place (the audit log keeps each earlier value). After a
    reviewer signed, or after release (an amendment reopened it), a change needs a reason, like a result.
    """
    unknown_fields = set(fields) - set(AutopsyRecord.FIELDS)
    if unknown_fields:
        raise ValueError(f"Unknown autopsy fields: {sorted(unknown_fields)}")
    request = autopsy_request(investigation)
    if request is None:
        raise ValidationError(_("The body has not been received at the morgue."))
    request = lab_services.work_in_progress(actor, request)
    cleaned = _clean_autopsy(investigation, fields)
    autopsy = AutopsyRecord.objects.select_for_update().filter(investigation=investigation).first()
    before = autopsy.snapshot() if autopsy else None
    if autopsy is None:
        autopsy = AutopsyRecord(investigation=investigation, examination=request.examination)
    for name, value in cleaned.items():
        setattr(autopsy, name, value)
    after = autopsy.snapshot()
    if before == after:
        return autopsy
    if before is not None and (lab_services.was_reviewed(request) or request.reports.exists()) and not reason.strip():
        raise ValidationError({"reason": _("This autopsy was reviewed: give the reason for the change.")})
    autopsy.recorded_at = timezone.now()
    autopsy.full_clean(exclude=["investigation", "examination"])
    autopsy.save()
    changed = [name for name in after if before is None or after[name] != before[name]]
    record(
        "autopsy.recorded" if before is None else "autopsy.updated",
        actor=actor,
        obj=investigation,
        before={name: before[name] for name in changed} if before else None,
        after={name: after[name] for name in changed},
        reason=reason.strip(),
    )
    return autopsy


@transaction.atomic
def take_sample(
    actor: User,
    investigation: DeathInvestigation,
    *,
    discipline: Discipline,
    type: str,
    description: str,
) -> ServiceRequest:
    """A sample taken at autopsy (femoral blood, tissue) and the request for its test, raised from the autopsy.

    The sample is a sub-item of the body held by the pathologist; its request (toxicology, histopathology, …)
    is a child of the autopsy request and follows the casework workflow; its result appears in the death record.
    """
    request = autopsy_request(investigation)
    if request is None:
        raise ValidationError(_("The body has not been received at the morgue."))
    request = lab_services.work_in_progress(actor, request)
    if discipline.code == lab_services.AUTOPSY_DISCIPLINE or not discipline.is_active:
        raise ValidationError({"discipline": _("Choose the laboratory section that will test the sample.")})
    sample = evidence_services.derive_sub_item(
        actor,
        investigation.body,
        type=type,
        description=description,
        reason=_("Taken at autopsy %(number)s for %(discipline)s")
        % {"number": investigation.number, "discipline": discipline},
    )
    return lab_services.raise_child_request(actor, request, discipline, [sample])


def ancillary_requests(investigation: DeathInvestigation) -> QuerySet[ServiceRequest]:
    """The tests raised from the autopsy (toxicology, histopathology, …), with what they found."""
    request = autopsy_request(investigation)
    if request is None:
        return ServiceRequest.objects.none()
    return (
        ServiceRequest.objects.filter(parent=request)
        .select_related("discipline", "assigned_to")
        .prefetch_related("items", "reports")
        .order_by("requested_at", "pk")
    )
