"""Fixtures with known answers for the statistics: casework with explicit stage timestamps, homicides from death
records and from cases (new and migrated), sexual violence, firearms and seized drugs.

Cases, requests, items and death records are made through the services; the stage timestamps (and the release
of an autopsy) are then set to fixed moments, so every figure in the tests can be counted by hand from the
tables in this file. A migrated (legacy) case or person is written as the importer writes it: with its legacy ID.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from forensis.accounts.roles import Role
from forensis.cases import services as case_services
from forensis.cases.models import Case, CaseOffence, Person
from forensis.deaths.services import autopsy_request
from forensis.evidence import services as evidence_services
from forensis.evidence.models import Shipment
from forensis.lab import services as lab_services
from forensis.lab.models import Discipline, RequestStatus, ServiceRequest
from tests.deaths.conftest import Morgue


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    """A moment in the laboratory's time zone (America/Belize)."""
    return timezone.make_aware(datetime(year, month, day, hour))


#: The moment the snapshot figures (backlog, age, court dates) are taken in the tests.
AS_OF = at(2026, 6, 30)

#: Released requests: (key, discipline, analyst, received, days per stage: assignment, draft (from assignment),
#: technical review, administrative review, release). Receipt → release is their sum.
RELEASED = [
    ("T1", "toxicology", "andre", at(2026, 1, 5), (1, 5, 2, 1, 1)),  # 10 days, released 2026-01-15
    ("T2", "toxicology", "andre", at(2026, 2, 2), (3, 10, 4, 2, 1)),  # 20 days, released 2026-02-22
    ("T3", "toxicology", "bella", at(2026, 2, 10), (2, 20, 6, 3, 9)),  # 40 days, released 2026-03-22
    ("S1", "seized-drugs", "bella", at(2026, 1, 10), (1, 2, 1, 1, 1)),  # 6 days, released 2026-01-16
    ("S2", "seized-drugs", "bella", at(2026, 3, 1), (2, 4, 2, 1, 1)),  # 10 days, released 2026-03-11
    # Released after AS_OF: open at AS_OF (90 days old then), and 100 days receipt → release (2026-07-10).
    ("RL", "toxicology", "andre", at(2026, 4, 1), (10, 60, 20, 5, 5)),
]

#: Requests open at AS_OF (or cancelled, or received after it): (key, discipline, received, district, agency,
#: court date, cancelled at). Age at AS_OF in whole days in the comment.
OPEN = [
    ("O1", "toxicology", at(2026, 6, 20), "BZ", "POL-A", None, None),  # 10 days
    ("O2", "toxicology", at(2026, 5, 30), "BZ", "POL-A", None, None),  # 31 days: NIJ backlog
    ("O3", "toxicology", at(2026, 5, 31), "BZ", "POL-A", None, None),  # 30 days: not yet
    ("O4", "seized-drugs", at(2026, 4, 15), "BZ", "POL-A", (2026, 6, 30), None),  # 76 days, court today
    ("O5", "firearms", at(2026, 2, 1), "CY", "POL-A", (2026, 7, 10), None),  # 149 days, court in 10 days
    ("O6", "firearms", at(2025, 11, 1), "CY", "POL-B", (2026, 7, 20), None),  # 241 days, court in 20 days
    ("C1", "toxicology", at(2026, 3, 1), "BZ", "POL-A", None, at(2026, 3, 5)),  # cancelled before AS_OF
    ("C2", "toxicology", at(2026, 5, 1), "BZ", "POL-A", (2026, 7, 14), at(2026, 7, 5)),  # 60 days; cancelled later
    ("F1", "toxicology", at(2026, 7, 2), "BZ", "POL-A", None, None),  # received after AS_OF
]

STAGE_STAMPS = ("assigned_at", "draft_completed_at", "technical_reviewed_at", "administrative_reviewed_at")


class Casework:
    """Cases and service requests with explicit stage timestamps (see ``RELEASED`` and ``OPEN``)."""

    def __init__(self, make_user, police, other_police):
        self.custodian = make_user(Role.EVIDENCE_CUSTODIAN, username="stats.custodian")
        self.analysts = {
            "andre": make_user(Role.ANALYST, username="stats.andre", first_name="Andre", last_name="Flowers"),
            "bella": make_user(Role.ANALYST, username="stats.bella", first_name="Bella", last_name="Young"),
        }
        self.agencies = {"POL-A": police, "POL-B": other_police}
        self.requests: dict[str, ServiceRequest] = {}
        for key, discipline, analyst, received, stages in RELEASED:
            request = self.request(key, discipline, received)
            moment, stamps = received, {}
            for name, days in zip((*STAGE_STAMPS, "released_at"), stages, strict=True):
                moment += timedelta(days=days)
                stamps[name] = moment
            stamps["started_at"] = stamps["assigned_at"]
            self.stamp(
                request,
                status=RequestStatus.RELEASED,
                assigned_to=self.analysts[analyst],
                released_month=case_services.lab_month(stamps["released_at"]),
                **stamps,
            )
        for key, discipline, received, district, agency, court, cancelled in OPEN:
            request = self.request(key, discipline, received, district=district, agency=agency)
            changes = {"court_date": datetime(*court).date() if court else None}
            if cancelled:
                changes.update(status=RequestStatus.CANCELLED, cancelled_at=cancelled)
            if key == "O4":
                changes.update(
                    status=RequestStatus.IN_PROGRESS,
                    assigned_to=self.analysts["andre"],
                    assigned_at=received + timedelta(days=1),
                    started_at=received + timedelta(days=2),
                )
            self.stamp(request, **changes)
        # The request released after AS_OF had a court date then.
        self.stamp(self.requests["T1"], court_date=datetime(2026, 7, 1).date())

    def request(self, key: str, discipline: str, received, *, district: str = "BZ", agency: str = "POL-A"):
        case = case_services.open_case(
            self.custodian,
            agency=self.agencies[agency],
            agency_case_number=f"STAT-{key}",
            received_at=received,
            district=district,
        )
        request = lab_services.create_service_request(
            self.custodian, case, Discipline.objects.get(code=discipline), [], requested_at=received
        )
        self.requests[key] = request
        return request

    @staticmethod
    def stamp(request: ServiceRequest, **changes) -> None:
        ServiceRequest.objects.filter(pk=request.pk).update(**changes)


@pytest.fixture
def casework(make_user, police, other_police) -> Casework:
    return Casework(make_user, police, other_police)


# --- homicides, sexual violence, firearms ------------------------------------------------------------


def released(morgue: Morgue, when: datetime) -> None:
    """Mark the current death's autopsy released at ``when`` (the full release is tested once, in
    test_policy.py, through the services)."""
    request = autopsy_request(morgue.reload())
    ServiceRequest.objects.filter(pk=request.pk).update(
        status=RequestStatus.RELEASED, released_at=when, released_month=case_services.lab_month(when)
    )


NO_CONTEXT = {"relationship": "unknown", "prior_violence": "unknown"}

#: Death records: (number, logged fields, autopsy manner/mechanism, released). Counted: D1, D2, D3, D6.
DEATHS = [
    (1, {"sex": "F", "age": 27, "district": "BZ", "death_at": at(2026, 1, 10)}, ("homicide", "firearm"), True),
    (
        2,
        {"sex": "M", "age": 34, "district": "BZ", "death_at": at(2026, 1, 20), **NO_CONTEXT},
        ("homicide", "firearm"),
        True,
    ),
    (
        3,
        {
            "sex": "M",
            "age": None,
            "age_min": 20,
            "age_max": 25,
            "district": "CY",
            "death_at": at(2026, 2, 5),
            **NO_CONTEXT,
        },
        ("homicide", "sharp_object"),
        True,
    ),
    # Recorded but not released: not counted (a quality note instead).
    (
        4,
        {"sex": "F", "age": 50, "district": "OW", "death_at": at(2026, 3, 31), **NO_CONTEXT},
        ("homicide", "blunt_object"),
        False,
    ),
    # A natural death on a case the police coded 0101: counted nowhere (the medical examiner's finding wins).
    (5, {"sex": "M", "age": 61, "district": "BZ", "death_at": at(2026, 2, 14), **NO_CONTEXT}, ("natural", ""), True),
    (
        6,
        {
            "identified": False,
            "decedent_name": "",
            "tag_number": "T-2026-77",
            "sex": "U",
            "age": None,
            "district": "BZ",
            "death_at": None,
            "discovered_at": at(2026, 4, 18),
            **NO_CONTEXT,
        },
        ("homicide", "firearm"),
        True,
    ),
]


def legacy_case(actor, agency, key: str, *, received, district: str, codes: list[str], people=()) -> Case:
    """A case as the legacy importer leaves it (legacy source and ID on the case and its people)."""
    case = Case.objects.create(
        lab_number=f"OLD-{key}",
        agency=agency,
        agency_case_number=f"OLD/{key}",
        received_at=received,
        received_month=case_services.lab_month(received),
        district=district,
        created_by=actor,
        legacy_source="oldlims",
        legacy_id=key,
    )
    for code in codes:
        CaseOffence.objects.create(case=case, code=code)
    for number, (role, sex, age) in enumerate(people, start=1):
        Person.objects.create(
            case=case,
            role=role,
            name="Legacy person",
            sex=sex,
            age=age,
            legacy_source="oldlims",
            legacy_id=f"{key}-{number}",
        )
    return case


def new_case(
    actor, agency, number: str, *, received, district: str, codes: list[str], people=(), incident=None
) -> Case:
    case = case_services.open_case(
        actor, agency=agency, agency_case_number=number, received_at=received, district=district, incident_at=incident
    )
    case_services.add_offences(case, codes)
    for role, sex, age in people:
        Person.objects.create(case=case, role=role, name="Named person", sex=sex, age=age)
    return case


class Homicides:
    """Six death records (``DEATHS``) and homicide cases without a death record:

    K1 legacy 0101, Cayo, received 2026-02: a deceased man of 40.
    K2 new 0101 "BZ-K2-26", Belize, received 2026-03, incident 2026-03-02: a girl of 16 and a man of unknown age.
    K3 new 0101, Toledo, received 2026-03: no victim recorded.
    K4 new 0102 (attempted), Belize, 2026-03: a victim — not a homicide.
    K5 legacy 0101, district unknown, received 2026-01: a deceased person of unknown sex, 70.
    """

    def __init__(self, make_user, officer):
        self.morgue = Morgue(make_user, officer)
        self.deaths = {}
        for number, logged, (manner, mechanism), is_released in DEATHS:
            fields = {"agency_case_number": f"BZ-STAT-{number:03d}", "decedent_name": f"Victim {number}", **logged}
            if fields.get("death_at") is not None:
                fields.setdefault("discovered_at", fields["death_at"] + timedelta(hours=3))
            if fields["sex"] != "F":
                fields["pregnancy"] = "unknown"
            self.morgue.logged(**fields)
            extra = {"underlying_cause": "Acute myocardial infarction", "underlying_icd10": "I21"}
            self.morgue.recorded(manner=manner, mechanism=mechanism, **(extra if manner == "natural" else {}))
            if is_released:
                released(self.morgue, at(2026, 5, 1))
            self.deaths[number] = self.morgue.reload()
        actor, agency = self.morgue.custodian, officer.agency
        self.cases = {
            "K1": legacy_case(
                actor,
                agency,
                "K1",
                received=at(2026, 2, 12),
                district="CY",
                codes=["0101"],
                people=[("deceased", "M", 40)],
            ),
            "K2": new_case(
                actor,
                agency,
                "BZ-K2-26",
                received=at(2026, 3, 3),
                district="BZ",
                codes=["0101"],
                people=[("victim", "F", 16), ("victim", "M", None), ("suspect", "M", 30)],
                incident=at(2026, 3, 2, 23),
            ),
            "K3": new_case(actor, agency, "TOL-K3", received=at(2026, 3, 9), district="TOL", codes=["0101"]),
            "K4": new_case(
                actor,
                agency,
                "BZ-K4",
                received=at(2026, 3, 10),
                district="BZ",
                codes=["0102"],
                people=[("victim", "M", 22)],
            ),
            "K5": legacy_case(
                actor,
                agency,
                "K5",
                received=at(2026, 1, 25),
                district="",
                codes=["0101"],
                people=[("deceased", "U", 70)],
            ),
        }


@pytest.fixture
def homicides(make_user, officer) -> Homicides:
    return Homicides(make_user, officer)


@pytest.fixture
def statistics_admin(make_user):
    """An administrator holding the population permission (the lead grants it to the role in accounts.roles)."""
    from django.contrib.auth.models import Permission

    user = make_user(Role.ADMINISTRATOR, username="stats.admin")
    user.user_permissions.add(
        Permission.objects.get(codename="change_population", content_type__app_label="statistics")
    )
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def shipments(casework):
    """Shipments to external laboratories with explicit dates: Bode returned three (42, 56 and 49 days), Other
    Lab one (70 days), and Bode has one still out since 2026-06-01 (29 days at AS_OF)."""
    actor = casework.custodian
    case = casework.requests["O5"].case  # Cayo, police A
    item = evidence_services.create_item(actor, case, received_at=case.received_at, type="swab", description="Swab")
    made = []
    for number, (laboratory, shipped, days) in enumerate(
        [
            ("Bode", at(2026, 2, 1), 42),
            ("Bode", at(2026, 3, 1), 56),
            ("Bode", at(2026, 4, 1), 49),
            ("Other Lab", at(2026, 3, 15), 70),
            ("Bode", at(2026, 6, 1), None),
        ],
        start=1,
    ):
        shipment = Shipment.objects.create(
            reference=f"OUT-TEST-{number}",
            laboratory=laboratory,
            created_by=actor,
            status="returned" if days else "at_laboratory",
            shipped_at=shipped,
            returned_at=shipped + timedelta(days=days) if days else None,
        )
        if number == 1:
            shipment.items.set([item])
        made.append(shipment)
    return made
