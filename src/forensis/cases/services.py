"""Opening cases and numbering them, and bringing cases over from an old system."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from forensis.accounts.models import Agency, User
from forensis.audit.services import record
from forensis.core import iccs
from forensis.core.bulk import insert_rows
from forensis.core.corrections import apply_correction
from forensis.core.models import MigrationOutcome, migrated_objects, yearly_number
from forensis.core.vocabulary import District, Sex

from .models import Case, CaseOffence, Person, PersonRole


def lab_month(moment) -> str:
    """'YYYY-MM' of a moment in the laboratory's time zone (what statistics group by)."""
    return timezone.localtime(moment).strftime("%Y-%m")


def matching_cases(agency: Agency, agency_case_number: str):
    """Cases of the same agency under the same agency case number (offered at receipt, never merged silently)."""
    return Case.objects.filter(agency=agency, agency_case_number__iexact=agency_case_number.strip())


@transaction.atomic
def open_case(actor: User, *, agency: Agency, agency_case_number: str, received_at, **fields) -> Case:
    case = Case.objects.create(
        lab_number=yearly_number(settings.FORENSIS_CASE_PREFIX, "case", received_at),
        agency=agency,
        agency_case_number=agency_case_number.strip(),
        received_at=received_at,
        received_month=lab_month(received_at),
        created_by=actor,
        **fields,
    )
    record(
        "case.opened",
        actor=actor,
        obj=case,
        after={"lab_number": case.lab_number, "agency": agency.code, "agency_case_number": agency_case_number},
    )
    return case


def add_offences(case: Case, codes: list[str]) -> None:
    for code in codes:
        if iccs.is_known(code):
            CaseOffence.objects.get_or_create(case=case, code=code)


# --- migration from an old system (forensis import-legacy) ---------------------------------------------


@dataclass
class MigratedCase:
    """A case as the legacy importer read and validated it (codes already checked against Forensis)."""

    legacy_id: str
    lab_number: str
    agency_id: int
    received_at: datetime
    agency_case_number: str = ""
    district: str = ""
    offences: list[str] = dc_field(default_factory=list)
    incident_at: datetime | None = None
    town: str = ""
    narrative: str = ""


@dataclass
class MigratedPerson:
    legacy_id: str
    case_legacy_id: str
    role: str
    name: str
    sex: str = Sex.UNKNOWN
    age: int | None = None


#: The fields of a case a re-import may correct (the lab number is printed on labels: never changed).
CASE_CORRECTABLE = ("agency_id", "agency_case_number", "received_at", "district", "incident_at", "town", "narrative")
PERSON_CORRECTABLE = ("role", "name", "sex", "age")
#: The fields a migrated case and person are created with, in the order ``migrate_cases`` gives their values.
MIGRATED_CASE_FIELDS = (
    "lab_number",
    "agency",
    "agency_case_number",
    "received_at",
    "received_month",
    "created_by",
    "district",
    "incident_at",
    "town",
    "narrative",
    "legacy_source",
    "legacy_id",
    "import_batch",
)
MIGRATED_PERSON_FIELDS = ("case", "role", "name", "sex", "age", "legacy_source", "legacy_id", "import_batch")
# The codes Forensis knows (``Choices.values`` builds a new list on every use).
_DISTRICTS, _ROLES, _SEXES = frozenset(District.values), frozenset(PersonRole.values), frozenset(Sex.values)


def _correction_reason(batch) -> str:
    return _("Corrected by import %(batch)s from %(source)s") % {"batch": batch.number, "source": batch.source_name}


def _check_migrated_case(data: MigratedCase) -> None:
    if data.district and data.district not in _DISTRICTS:
        raise ValidationError(_("%(code)s is not a district.") % {"code": data.district})
    unknown = [code for code in data.offences if not iccs.is_known(code)]
    if unknown:
        raise ValidationError(_("Unknown ICCS codes: %(codes)s.") % {"codes": ", ".join(unknown)})


@transaction.atomic
def migrate_cases(
    actor: User, batch, cases: Sequence[MigratedCase], people: Sequence[MigratedPerson] = ()
) -> dict[str, MigrationOutcome]:
    """Create or correct cases (with their offences) and people brought over from an old system, in bulk.

    New records are created in bulk (``core.bulk.insert_rows``) and announced by one ``legacy.imported`` audit
    event per call and kind of record; a record that already exists (same source and legacy ID) and differs is
    corrected field by field with one ``legacy.corrected`` event (before/after) each. Nothing is deleted.
    Returns ``{"cases": outcome, "people": outcome}``.
    """
    source = batch.source_name
    case_outcome, person_outcome = MigrationOutcome(), MigrationOutcome()
    for data in cases:
        _check_migrated_case(data)
    existing = migrated_objects(Case.objects.all(), source, [data.legacy_id for data in cases])
    new_cases = []
    for data in cases:
        case = existing.get(data.legacy_id)
        if case is None:
            new_cases.append(data)
        elif case.lab_number != data.lab_number:
            case_outcome.refused[data.legacy_id] = _(
                "the lab number %(new)s differs from %(old)s, the number this case was imported with; "
                "lab numbers are printed on labels and reports and are never changed by an import"
            ) % {"new": data.lab_number, "old": case.lab_number}
        elif _correct_case(actor, batch, case, data):
            case_outcome.updated[data.legacy_id] = case.pk
        else:
            case_outcome.unchanged[data.legacy_id] = case.pk
    if new_cases:
        pks = insert_rows(Case, MIGRATED_CASE_FIELDS, [_new_case(actor, batch, data) for data in new_cases])
        case_outcome.created = {data.legacy_id: pk for data, pk in zip(new_cases, pks, strict=True)}
        insert_rows(
            CaseOffence,
            ("case", "code"),
            [(pk, code) for data, pk in zip(new_cases, pks, strict=True) for code in dict.fromkeys(data.offences)],
            keys=False,
        )
        _record_imported(actor, batch, "cases", [data.legacy_id for data in new_cases])

    case_pks = {**{key: case.pk for key, case in existing.items()}, **case_outcome.created}
    missing = {person.case_legacy_id for person in people} - case_pks.keys()
    case_pks.update(
        {key: case.pk for key, case in migrated_objects(Case.objects.all(), source, sorted(missing)).items()}
    )
    existing_people = migrated_objects(Person.objects.all(), source, [person.legacy_id for person in people])
    new_people, rows = [], []
    for data in people:
        if data.role not in _ROLES or data.sex not in _SEXES:
            raise ValidationError(_("Unknown role or sex for person %(key)s.") % {"key": data.legacy_id})
        case_pk = case_pks.get(data.case_legacy_id)
        if case_pk is None:
            raise ValidationError(
                _("Person %(key)s names case %(case)s, which was not imported.")
                % {"key": data.legacy_id, "case": data.case_legacy_id}
            )
        person = existing_people.get(data.legacy_id)
        if person is None:
            new_people.append(data)
            rows.append((case_pk, data.role, data.name, data.sex, data.age, source, data.legacy_id, batch.pk))
        elif person.case_id != case_pk:
            person_outcome.refused[data.legacy_id] = _(
                "this person belongs to another case in Forensis; an import does not move people between cases"
            )
        elif _correct(actor, batch, person, data, PERSON_CORRECTABLE):
            person_outcome.updated[data.legacy_id] = person.pk
        else:
            person_outcome.unchanged[data.legacy_id] = person.pk
    if new_people:
        pks = insert_rows(Person, MIGRATED_PERSON_FIELDS, rows)
        person_outcome.created = {data.legacy_id: pk for data, pk in zip(new_people, pks, strict=True)}
        _record_imported(actor, batch, "people", [data.legacy_id for data in new_people])
    return {"cases": case_outcome, "people": person_outcome}


def _new_case(actor: User, batch, data: MigratedCase) -> tuple:
    """The values of a new migrated case, in the order of ``MIGRATED_CASE_FIELDS``."""
    return (
        data.lab_number,
        data.agency_id,
        data.agency_case_number,
        data.received_at,
        lab_month(data.received_at),
        actor.pk,
        data.district,
        data.incident_at,
        data.town,
        data.narrative,
        batch.source_name,
        data.legacy_id,
        batch.pk,
    )


def _correct_case(actor: User, batch, case: Case, data: MigratedCase) -> bool:
    offences_before = sorted(case.offences.values_list("code", flat=True))
    offences_after = sorted(set(data.offences))
    extra = {}
    if offences_before != offences_after:
        case.offences.exclude(code__in=offences_after).delete()
        CaseOffence.objects.bulk_create(
            [CaseOffence(case=case, code=code) for code in offences_after if code not in offences_before]
        )
        extra = {"offences": (offences_before, offences_after)}
    if data.received_at != case.received_at:
        case.received_month = lab_month(data.received_at)
    return _correct(actor, batch, case, data, CASE_CORRECTABLE, extra=extra, also_save=["received_month"])


def _correct(actor: User, batch, obj, data, fields: Sequence[str], *, extra: dict | None = None, also_save=()) -> bool:
    """Apply the fields of ``data`` that differ to ``obj``; audit before/after. False when nothing differed."""
    changed = {name: (getattr(obj, name), getattr(data, name)) for name in fields}
    changed = {name: values for name, values in changed.items() if values[0] != values[1]}
    changed.update(extra or {})
    if not changed:
        return False
    obj.import_batch = batch
    apply_correction(actor, obj, changed, reason=_correction_reason(batch), also_save=[*also_save, "import_batch"])
    return True


def _record_imported(actor: User, batch, entity: str, legacy_ids: list[str]) -> None:
    record(
        "legacy.imported",
        actor=actor,
        obj=batch,
        after={"batch": batch.number, "source": batch.source_name, "entity": entity, "legacy_ids": legacy_ids},
    )
