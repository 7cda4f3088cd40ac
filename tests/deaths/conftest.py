"""Shared fixtures of the death investigation tests: a morgue, its pathologists, and a death at each stage."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from forensis.cases.models import Case
from forensis.deaths import body_custody, services
from forensis.deaths.models import AutopsyRecord, BodyRelease, DeathInvestigation
from forensis.evidence.models import CustodyEvent, Item, LocationKind
from forensis.evidence.services import save_location
from forensis.lab import services as lab_services
from forensis.lab.models import Discipline, Method, ServiceRequest
from tests.lab import test_review_services as review_tests

TECHNICAL, ADMINISTRATIVE = review_tests.TECHNICAL, review_tests.ADMINISTRATIVE
BLOOD_ALCOHOL = review_tests.BLOOD_ALCOHOL
POLICE_CASE = "BZ-HOM-2026-0042"

#: A homicide by firearm, coded the way a pathologist would.
GUNSHOT_AUTOPSY = {
    "type": "full",
    "findings": "Entry wound left chest; projectile recovered from the thoracic spine.",
    "immediate_cause": "Haemorrhage",
    "immediate_icd10": "R58",
    "antecedent_cause": "Gunshot wound of the chest",
    "antecedent_icd10": "S21.1",
    "underlying_cause": "Assault by handgun discharge",
    "underlying_icd10": "X93",
    "contributing_conditions": "",
    "manner": "homicide",
    "mechanism": "firearm",
}


@pytest.fixture(autouse=True)
def report_files(settings, tmp_path):
    """Issued PDFs are stored under MEDIA_ROOT: each test gets its own directory."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


class Morgue:
    """The medical examiner's office and a toxicology section, made through the services."""

    def __init__(self, make_user, officer):
        self.officer = officer
        self.lab = review_tests.Lab(make_user, officer)  # manager, analyst, reviewer, custodian, toxicology catalogue
        self.manager, self.custodian = self.lab.manager, self.lab.custodian
        self.scenetech = make_user(Role.SCENE_TECHNICIAN, username="scenetech", first_name="Sam", last_name="Tech")
        self.pathologist = make_user(Role.MEDICAL_EXAMINER, username="examiner", first_name="Mara", last_name="Pech")
        self.second_pathologist = make_user(
            Role.MEDICAL_EXAMINER, username="examiner2", first_name="Ian", last_name="Bol"
        )
        self.pathology = Discipline.objects.get(code="pathology")
        today = timezone.localdate()
        for person in (self.pathologist, self.second_pathologist):
            lab_services.grant_authorization(
                self.manager,
                person,
                self.pathology,
                valid_from=today - timedelta(days=30),
                valid_until=today + timedelta(days=365),
            )
        self.method = lab_services.save_catalogue_entry(
            self.manager,
            Method,
            discipline=self.pathology,
            code="PATH-AUTOPSY",
            name="Medicolegal autopsy",
            version="1.0",
            effective_from=today - timedelta(days=400),
        )
        self.cold_room = save_location(
            self.manager, None, code="MORGUE-CR1", name="Morgue cold room 1", kind=LocationKind.ROOM
        )
        self.investigation: DeathInvestigation | None = None

    # the steps, each by the person who does it

    def logged(self, **overrides) -> DeathInvestigation:
        now = timezone.now()
        fields = {
            "identified": True,
            "decedent_name": "Jane Roe",
            "sex": "F",
            "age": 27,
            "nationality": "Belizean",
            "pregnancy": "no",
            "death_at": now - timedelta(hours=10),
            "district": "BZ",
            "death_place": "Lake Independence, Belize City",
            "discovered_at": now - timedelta(hours=8),
            "discovery_place": "Back yard, 12 Cemetery Road",
            "pathologist": self.pathologist,
            "relationship": "intimate_partner",
            "prior_violence": "yes",
        }
        fields.update(overrides)
        self.investigation = services.log_death(
            fields.pop("actor", self.scenetech),
            agency=fields.pop("agency", self.officer.agency),
            agency_case_number=fields.pop("agency_case_number", POLICE_CASE),
            offence_codes=fields.pop("offence_codes", ["0101"]),
            **fields,
        )
        return self.investigation

    def received(self) -> ServiceRequest:
        if self.investigation is None:
            self.logged()
        return body_custody.receive_body(
            self.pathologist,
            self.investigation,
            handed_over_by=self.scenetech,
            confirmed_in_person=True,
            location=self.cold_room,
            seal_status="intact",
            condition="Body bag sealed, tag legible",
        )

    def autopsy_request(self) -> ServiceRequest:
        return services.autopsy_request(self.reload())

    def started(self) -> ServiceRequest:
        request = self.received()
        lab_services.start_examination(self.pathologist, request, method=self.method)
        return self.autopsy_request()

    def recorded(self, **overrides):
        self.started()
        return services.record_autopsy(
            self.pathologist,
            self.investigation,
            **{"performed_on": timezone.localdate(), **GUNSHOT_AUTOPSY, **overrides},
        )

    def approve(self, reviewer, stage: str):
        request = self.autopsy_request()
        checklist = {str(q.pk): True for q in lab_services.checklist_for(request, stage)}
        return lab_services.review(
            reviewer, request, stage=stage, approve=True, checklist=checklist, reauthenticated=True
        )

    def signed(self) -> ServiceRequest:
        lab_services.complete_draft(self.pathologist, self.autopsy_request(), reauthenticated=True)
        return self.autopsy_request()

    def reviewed(self) -> ServiceRequest:
        self.signed()
        self.approve(self.second_pathologist, TECHNICAL)
        self.approve(self.manager, ADMINISTRATIVE)
        return self.autopsy_request()

    def released(self) -> ServiceRequest:
        lab_services.release(self.manager, self.reviewed(), reauthenticated=True)
        return self.autopsy_request()

    def reload(self) -> DeathInvestigation:
        self.investigation = DeathInvestigation.objects.get(pk=self.investigation.pk)
        return self.investigation

    def sampled(self, description: str = "Femoral blood, grey-top tube") -> ServiceRequest:
        """A blood sample taken at autopsy (the autopsy must be in progress); its toxicology request."""
        return services.take_sample(
            self.pathologist, self.reload(), discipline=self.lab.toxicology, type="blood", description=description
        )

    def tested(self, request: ServiceRequest, data: dict | None = None) -> ServiceRequest:
        """A toxicology request walked through the casework workflow by the toxicology section, up to release."""
        lab = self.lab
        lab_services.assign(lab.manager, request, lab.analyst)
        lab_services.start_examination(
            lab.analyst, request, method=lab.method, instrument=lab.instrument, reagent_lots=[lab.lot]
        )
        lab_services.record_result(lab.analyst, request, request.items.get(), data or BLOOD_ALCOHOL)
        lab_services.complete_draft(lab.analyst, request, reauthenticated=True)
        for reviewer, stage in ((lab.reviewer, TECHNICAL), (lab.manager, ADMINISTRATIVE)):
            checklist = {str(q.pk): True for q in lab_services.checklist_for(request, stage)}
            lab_services.review(reviewer, request, stage=stage, approve=True, checklist=checklist, reauthenticated=True)
        lab_services.release(lab.manager, request, reauthenticated=True)
        return ServiceRequest.objects.get(pk=request.pk)


@pytest.fixture
def morgue(make_user, officer) -> Morgue:
    return Morgue(make_user, officer)


#: What a refused step must leave as it was: the rows of every model a death touches.
COUNTED = (DeathInvestigation, Case, Item, CustodyEvent, AutopsyRecord, BodyRelease, ServiceRequest, AuditEvent)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


def squashed(text: str) -> str:
    """Text without whitespace: the PDF wraps long values wherever it must."""
    return "".join(text.split())


def missing_from(text: str, expected: list[str]) -> list[str]:
    """The expected values the (PDF) text does not contain, whitespace aside."""
    body = squashed(text)
    return [value for value in expected if squashed(value) not in body]
