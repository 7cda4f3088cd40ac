"""Shared pieces of the attack tests: hostile text, a laboratory world written with it through the real services,
and checks that a page shows such text only as text.

The world (``hostile_world``) is built once per test module inside one transaction that is rolled back at the end
(each test still runs in its own savepoint), because walking a case from the agency's pre-log to an amended report
and a released body takes a few seconds.
"""

from __future__ import annotations

import html
import io
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models, transaction
from django.test import override_settings
from django.utils import timezone

# --- hostile text ---------------------------------------------------------------------------------------------

#: Each vector, what it tries, and in which order they are written: a field shorter than the whole set gets the
#: longest prefix that fits, so the most dangerous vectors come first.
VECTORS: dict[str, str] = {
    "attribute breakout + event handler": '"><svg onload=alert(1)>',
    "script element": "<script>alert(2)</script>",
    "single-quoted attribute breakout": "' onmouseover='alert(3)",
    "template injection": "{{7*7}}{% now 'Y' %}",
    "textarea breakout": "</textarea><img src=x onerror=alert(4)>",
    "RTL override and zero-width space": "\u202egnp.exe\u200b",
    "full-width angle brackets": "\uff1cscript\uff1ealert(6)\uff1c/script\uff1e",
}
#: Written in front of the vectors in every field long enough for all of them: a URL that runs script if a page
#: ever used the text as a link (``//`` turns the rest into a comment).
JAVASCRIPT_URL = "javascript:alert(5)//"
COMBO = "".join(VECTORS.values())
LONG = JAVASCRIPT_URL + COMBO


def hostile(max_length: int | None = None) -> str:
    """The hostile text for a field of ``max_length`` characters (None: no limit)."""
    if max_length is None or max_length >= len(LONG):
        return LONG
    return COMBO[:max_length]


def hostile_for(model: type[models.Model], name: str) -> str:
    return hostile(model._meta.get_field(name).max_length)


def vectors_in(value: str) -> list[str]:
    """The vectors ``value`` carries whole (the javascript: URL counts as one more)."""
    found = [name for name, vector in VECTORS.items() if vector in value]
    return found + (["javascript: URL"] if value.startswith(JAVASCRIPT_URL) else [])


#: A file name carrying the vectors that survive being a file name (no slash: the path is cut at the last one).
HOSTILE_FILE_NAME = '"><svg onload=alert(1)><script>alert(2)<\\script>{{7*7}}\u202egnp.exe.pdf'
#: A web address carrying the vectors that survive URL validation (no spaces); nothing listens on port 9.
HOSTILE_URL = 'https://127.0.0.1:9/hook?"><svg/onload=alert(1)><script>alert(2)</script>{{7*7}}'

# --- is hostile text shown only as text? ---------------------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "hx-get"}
#: What the hostile text makes of a page when it is not escaped: the vectors' own markers.
RAW_MARKERS = ("<svg onload=alert(1)>", "<script>alert(2)", "onmouseover='alert(3)", "<img src=x onerror=alert(4)>")


#: Where a page carries data for its scripts (``json_script``): JSON, never run, with only <, > and & escaped.
_JSON_DATA = re.compile(r'<script[^>]*type="application/json"[^>]*>.*?</script>', re.S)


class _Scanner(HTMLParser):
    """Collects what the browser would run: event-handler attributes, script URLs, inline scripts that alert."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith(("on", "hx-on")):
                self.problems.append(f"<{tag}> has an event handler attribute {name}={value!r}")
            compact = re.sub(r"[\s\x00-\x1f]", "", (value or "")).lower()
            if name in URL_ATTRIBUTES and compact.startswith(("javascript:", "vbscript:", "data:text/html")):
                self.problems.append(f"<{tag} {name}={value!r}> runs script")
        self._in_script = tag == "script" and dict(attrs).get("type") != "application/json"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and "alert(" in data:
            self.problems.append(f"an inline <script> runs {data.strip()[:60]!r}")


def script_problems(page: str) -> list[str]:
    """Why ``page`` (HTML) would run the hostile text, or [] when it shows it only as text."""
    scanner = _Scanner()
    scanner.feed(page)
    scanner.close()
    problems = scanner.problems
    markup = _JSON_DATA.sub("", page)
    problems += [f"raw {marker!r} in the page" for marker in RAW_MARKERS if marker in markup]
    if re.search(r"alert\(3\)\s*49", markup):  # the template vector follows alert(3): evaluated, it reads 49
        problems.append("{{7*7}} was evaluated as a template (49 shown where the text has {{7*7}})")
    return problems


def shows_hostile_text(page: str) -> bool:
    """Whether the page displays the hostile text (escaped: the first vector's tag as text)."""
    return "&lt;svg onload=alert(1)&gt;" in page


def squashed(text: str) -> str:
    """Text without whitespace: a PDF wraps long values wherever it must."""
    return "".join(text.split())


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


# --- the world -------------------------------------------------------------------------------------------------


@dataclass
class World:
    """Everything made through the services, with hostile text in every free-text field."""

    users: dict = field(default_factory=dict)
    agencies: dict = field(default_factory=dict)
    objects: dict = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.__dict__["objects"][name]
        except KeyError:
            raise AttributeError(name) from None


PASSWORD = "Correct-horse-battery-9"
#: The agency case number, item and person of the other agency's case: text no page of the first agency may show.
OTHER_AGENCY_CASE = "OTHER-AGENCY-CASE-0001"


def upload(name: str, content: bytes = b"%PDF-1.4 instrument data\n", content_type: str = "application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def build_world() -> World:
    """Agencies, people, the catalogue, a case walked from pre-log to an amended report, custody moves, an
    outsourced shipment, a return and a destruction, a death investigation up to the body's release, a partner
    token and a population figure: every free-text field filled with the hostile text, through the services."""
    world = World()
    _people(world)
    _catalogue(world)
    _intake(world)
    _custody(world)
    _casework(world)
    _deaths(world)
    _administration(world)
    _legacy(world)
    return world


def _people(world: World) -> None:
    from forensis.accounts import services as accounts
    from forensis.accounts.models import Agency, AgencyType, User
    from forensis.accounts.roles import Role

    def agency(key, code, agency_type, name, **fields):
        world.agencies[key] = accounts.create_agency(None, code=code, name=name, type=agency_type, **fields)
        return world.agencies[key]

    name = hostile_for(Agency, "name")[:190]
    laboratory = agency("lab", "LAB", AgencyType.LABORATORY, f"{name} L", phone=hostile_for(Agency, "phone"))
    police = agency("police", "POL-A", AgencyType.POLICE, f"{name} A", district="BZ")
    other_police = agency("other_police", "POL-B", AgencyType.POLICE, "Police B", district="CY")
    prosecutors = agency("prosecutors", "ODPP", AgencyType.PROSECUTOR, f"{name} P")

    def person(key, role, of=None, **fields):
        world.users[key] = accounts.create_user(
            None,
            username=key,
            password=PASSWORD,
            agency=of or laboratory,
            roles=[role],
            first_name=hostile_for(User, "first_name"),
            last_name=hostile_for(User, "last_name"),
            badge_number=hostile_for(User, "badge_number"),
            phone=hostile_for(User, "phone"),
            **fields,
        )

    person("admin", Role.ADMINISTRATOR, is_superuser=True)
    for key, role in (
        ("manager", Role.LAB_MANAGER),
        ("custodian", Role.EVIDENCE_CUSTODIAN),
        ("analyst", Role.ANALYST),
        ("reviewer", Role.REVIEWER),
        ("examiner", Role.MEDICAL_EXAMINER),
        ("examiner2", Role.MEDICAL_EXAMINER),
        ("scenetech", Role.SCENE_TECHNICIAN),
    ):
        person(key, role)
    person("officer", Role.AGENCY_OFFICER, police)
    person("prosecutor", Role.PROSECUTOR, prosecutors)
    world.users["other_officer"] = accounts.create_user(
        None, username="officer.b", password=PASSWORD, agency=other_police, roles=[Role.AGENCY_OFFICER]
    )


def _catalogue(world: World) -> None:
    from forensis.lab import services as lab
    from forensis.lab.models import ChecklistQuestion, Discipline, Instrument, Method, ReagentLot, ReviewStage

    manager, today = world.users["manager"], timezone.localdate()
    toxicology = Discipline.objects.get(code="toxicology")
    pathology = Discipline.objects.get(code="pathology")
    # the toxicology section renamed: its name is shown on every request, worklist and report
    lab.save_catalogue_entry(manager, Discipline, toxicology, name=hostile_for(Discipline, "name"))
    for discipline, code in ((toxicology, "TOX-1"), (pathology, "PATH-1")):
        world.objects[f"method_{discipline.code}"] = lab.save_catalogue_entry(
            manager,
            Method,
            discipline=discipline,
            code=code,
            name=hostile_for(Method, "name"),
            version=hostile_for(Method, "version"),
            effective_from=today - timedelta(days=400),
        )
    world.objects["instrument"] = lab.save_catalogue_entry(
        manager,
        Instrument,
        discipline=toxicology,
        name=hostile_for(Instrument, "name"),
        serial_number=hostile_for(Instrument, "serial_number"),
        calibration_due=today + timedelta(days=100),
    )
    world.objects["lot"] = lab.save_catalogue_entry(
        manager,
        ReagentLot,
        discipline=toxicology,
        reagent=hostile_for(ReagentLot, "reagent"),
        lot_number=hostile_for(ReagentLot, "lot_number"),
        expiry=today + timedelta(days=100),
    )
    for stage in (ReviewStage.TECHNICAL, ReviewStage.ADMINISTRATIVE):
        lab.save_catalogue_entry(manager, ChecklistQuestion, stage=stage, text=hostile_for(ChecklistQuestion, "text"))
    for key, discipline in (
        ("analyst", toxicology),
        ("reviewer", toxicology),
        ("examiner", pathology),
        ("examiner2", pathology),
    ):
        lab.grant_authorization(
            manager,
            world.users[key],
            discipline,
            valid_from=today - timedelta(days=30),
            valid_until=today + timedelta(days=300),
        )


def _intake(world: World) -> None:
    from forensis.cases.models import Case, Person
    from forensis.evidence.models import Item, SealStatus
    from forensis.intake import services as intake
    from forensis.intake.models import Kit, KitItem, SubmissionItem
    from forensis.lab.models import Discipline

    officer, custodian, now = world.users["officer"], world.users["custodian"], timezone.now()
    toxicology = Discipline.objects.get(code="toxicology")
    serology = Discipline.objects.get(code="serology")
    kit_item = intake.ItemData(
        {
            "type": "blood",
            "description": hostile_for(KitItem, "description"),
            "quantity": 1,
            "packaging": hostile_for(KitItem, "packaging"),
        },
        [toxicology],
    )
    world.objects["kit"] = intake.save_kit(
        world.users["admin"],
        None,
        fields={"name": hostile_for(Kit, "name"), "description": hostile_for(Kit, "description")},
        items=[kit_item],
    )

    def listed(kind, n, discipline, biological=True):
        return intake.ItemData(
            {
                "type": kind,
                "description": hostile_for(SubmissionItem, "description"),
                "quantity": 1,
                "packaging": hostile_for(SubmissionItem, "packaging"),
                "seal_number": f"{n}{hostile_for(SubmissionItem, 'seal_number')}"[:64],
                "collected_by": hostile_for(SubmissionItem, "collected_by"),
                "collected_place": hostile_for(SubmissionItem, "collected_place"),
                "collected_at": now - timedelta(days=2),
                "biological": biological,
            },
            [discipline],
        )

    submission = intake.create_submission(
        officer,
        agency_case_number=hostile_for(Case, "agency_case_number"),
        offence_codes=["02072"],
        incident_at=now - timedelta(days=2),
        district="BZ",
        town=hostile_for(Case, "town"),
        address=hostile_for(Case, "address"),
        narrative=hostile_for(Case, "narrative"),
        people=[{"role": "victim", "name": hostile_for(Person, "name"), "sex": "M", "age": 30}],
        items=[
            listed("blood", 1, toxicology),
            listed("clothing", 2, serology),
            listed("swab", 3, serology),
            listed("swab", 4, serology),
            listed("other", 5, serology, biological=False),
        ],
    )
    intake.submit_submission(officer, submission)
    listed_items = list(submission.items.order_by("position"))
    checks = {i.pk: intake.ItemCheck(condition=hostile_for(SubmissionItem, "condition")) for i in listed_items}
    checks[listed_items[0].pk] = intake.ItemCheck(
        seal_status=SealStatus.BROKEN,
        condition=hostile_for(SubmissionItem, "condition"),
        deviation_note=hostile_for(SubmissionItem, "deviation_note"),
    )
    case = intake.receive_submission(custodian, submission, checks=checks, handed_over_by=officer)
    world.objects.update(submission=submission, case=case)
    # a draft the officer is still writing: its form shows every field filled in
    world.objects["draft"] = intake.create_submission(
        officer,
        agency_case_number=hostile_for(Case, "agency_case_number"),
        town=hostile_for(Case, "town"),
        address=hostile_for(Case, "address"),
        narrative=hostile_for(Case, "narrative"),
        people=[{"role": "suspect", "name": hostile_for(Person, "name"), "sex": "U"}],
        items=[listed("swab", 9, serology)],
    )
    # a case of another agency, which no one of the first agency may ever see
    other = world.users["other_officer"]
    elsewhere = intake.create_submission(
        other,
        agency_case_number=OTHER_AGENCY_CASE,
        offence_codes=["02072"],
        incident_at=now - timedelta(days=3),
        district="CY",
        people=[{"role": "victim", "name": OTHER_AGENCY_CASE, "sex": "F"}],
        items=[
            intake.ItemData(
                {"type": "blood", "description": OTHER_AGENCY_CASE, "quantity": 1, "seal_number": "OTHER-1"},
                [toxicology],
            )
        ],
    )
    intake.submit_submission(other, elsewhere)
    checks = {i.pk: intake.ItemCheck() for i in elsewhere.items.all()}
    world.objects["other_case"] = intake.receive_submission(custodian, elsewhere, checks=checks, handed_over_by=other)
    items = list(Item.objects.filter(case=case).order_by("number"))
    for key, item in zip(("blood", "shirt", "swab_out", "swab_destroyed", "returned"), items, strict=True):
        world.objects[key] = item


def _custody(world: World) -> None:
    from forensis.evidence import disposition, outsourcing
    from forensis.evidence import services as evidence
    from forensis.evidence.models import (
        Consumption,
        CustodyEvent,
        Destruction,
        Item,
        LocationKind,
        Purpose,
        RetentionRule,
        Shipment,
        StorageLocation,
        Transfer,
    )

    custodian, manager = world.users["custodian"], world.users["manager"]
    store = evidence.save_location(custodian, None, name=hostile_for(StorageLocation, "name"), kind=LocationKind.ROOM)
    world.objects["location"] = store
    held = [world.shirt, world.swab_out, world.swab_destroyed, world.returned]
    evidence.move_items(
        custodian,
        held,
        store,
        seal_number=hostile_for(CustodyEvent, "seal_number"),
        condition=hostile_for(CustodyEvent, "condition"),
        note=hostile_for(CustodyEvent, "note"),
        witness_name=hostile_for(CustodyEvent, "witness_name"),
    )
    evidence.record_amount(custodian, world.shirt, Decimal("10"), "g")
    evidence.consume(custodian, world.shirt, Decimal("1"), "g", reason=hostile_for(Consumption, "reason"))
    world.objects["sub_item"] = evidence.derive_sub_item(
        custodian,
        world.shirt,
        type="swab",
        description=hostile_for(Item, "description"),
        reason=hostile_for(Item, "derivation_reason"),
    )
    evidence.hand_over(
        custodian,
        [world.blood],
        world.users["analyst"],
        purpose=Purpose.ANALYSIS,
        confirmed_in_person=True,
        note=hostile_for(CustodyEvent, "note"),
    )
    world.objects["transfer"] = evidence.hand_over(
        custodian,
        [world.sub_item],
        world.users["reviewer"],
        purpose=Purpose.ANALYSIS,
        confirmed_in_person=False,
        note=hostile_for(Transfer, "note"),
    )
    # outsourcing: out, back, with the external laboratory's results file
    shipment = outsourcing.prepare_shipment(custodian, [world.swab_out], laboratory=hostile_for(Shipment, "laboratory"))
    shipment = outsourcing.ship(custodian, shipment, tracking_number=hostile_for(Shipment, "tracking_number"))
    shipment = outsourcing.confirm_arrival(custodian, shipment, received_at=timezone.now())
    shipment = outsourcing.receive_back(custodian, shipment, condition=hostile_for(CustodyEvent, "condition"))
    world.objects["shipment_result"] = outsourcing.attach_result(
        custodian, shipment, upload(HOSTILE_FILE_NAME, b"<html><script>alert(7)</script></html>", "text/html")
    )
    world.objects["shipment"] = shipment
    # disposition: a retention rule, a return to the agency, a destruction before a witness, a legal hold
    world.objects["retention_rule"] = disposition.save_retention_rule(
        manager,
        None,
        offence_prefix="09",
        biological_only=False,
        retain_years=5,
        note=hostile_for(RetentionRule, "note"),
    )
    disposition.return_to_agency(
        custodian, [world.returned], world.users["officer"], note=hostile_for(CustodyEvent, "note")
    )
    world.objects["destruction"] = disposition.destroy_items(
        custodian, [world.swab_destroyed], manager, method=hostile_for(Destruction, "method")
    )
    evidence.set_legal_hold(custodian, world.shirt, True, hostile_for(Item, "legal_hold_reason"))


def _casework(world: World) -> None:
    from forensis.lab import services as lab
    from forensis.lab.models import Examination, RequestTransition, Result, Review, ReviewStage, ServiceRequest
    from forensis.reports import services as reports
    from forensis.reports.models import Amendment, CaseContact, ContactRole, Report

    manager, analyst, reviewer = world.users["manager"], world.users["analyst"], world.users["reviewer"]
    case = world.case
    serology = ServiceRequest.objects.get(case=case, discipline__code="serology")
    lab.cancel(manager, serology, hostile_for(ServiceRequest, "cancel_reason"))
    request = ServiceRequest.objects.get(case=case, discipline__code="toxicology")
    world.objects["request"] = request
    lab.assign(manager, request, analyst)
    lab.start_examination(
        analyst,
        request,
        method=world.method_toxicology,
        instrument=world.instrument,
        reagent_lots=[world.lot],
        notes=hostile_for(Examination, "notes"),
        deviations=hostile_for(Examination, "deviations"),
    )
    result = {"analyte": LONG, "concentration": "0.085", "unit": "g/100mL", "uncertainty": "0.004"}
    lab.record_result(analyst, request, world.blood, result)
    world.objects["attachment"] = lab.attach_file(
        analyst, request, upload(HOSTILE_FILE_NAME, b"<html><script>alert(8)</script></html>", "text/html")
    )

    def checklist(stage):
        return {str(q.pk): True for q in lab.checklist_for(request, stage)}

    def reviewed_and_released(review_reason=""):
        lab.complete_draft(analyst, request, reauthenticated=True)
        for who, stage in ((reviewer, ReviewStage.TECHNICAL), (manager, ReviewStage.ADMINISTRATIVE)):
            lab.review(
                who,
                request,
                stage=stage,
                approve=True,
                reason=review_reason,
                checklist=checklist(stage),
                reauthenticated=True,
            )
        lab.release(manager, request, reauthenticated=True)

    lab.complete_draft(analyst, request, reauthenticated=True)
    lab.review(reviewer, request, stage=ReviewStage.TECHNICAL, approve=False, reason=hostile_for(Review, "reason"))
    reviewed_and_released(hostile_for(Review, "reason"))
    report = Report.objects.get(request=request)
    world.objects["report"] = report
    reports.add_case_contact(
        manager,
        case,
        role=ContactRole.PROSECUTOR,
        agency=world.agencies["prosecutors"],
        name=hostile_for(CaseContact, "name"),
        email="prosecutor@example.org",
    )
    reports.request_amendment(manager, report, hostile_for(Amendment, "reason"))
    lab.record_result(
        analyst, request, world.blood, {**result, "concentration": "0.086"}, reason=hostile_for(Result, "change_reason")
    )
    reviewed_and_released()
    world.objects["report"] = Report.objects.get(pk=report.pk)
    # amended again: the work is back with its analyst, whose examination page shows the forms filled in
    reports.request_amendment(manager, report, hostile_for(Amendment, "reason"))
    assert RequestTransition.objects.filter(request=request).exists()


def _deaths(world: World) -> None:
    from forensis.deaths import body_custody
    from forensis.deaths import services as deaths
    from forensis.deaths.models import AutopsyRecord, BodyRelease, DeathInvestigation
    from forensis.evidence import services as evidence
    from forensis.evidence.models import CustodyEvent, LocationKind, StorageLocation
    from forensis.lab import services as lab
    from forensis.lab.models import ReviewStage

    examiner, examiner2, manager = world.users["examiner"], world.users["examiner2"], world.users["manager"]
    now, today = timezone.now(), timezone.localdate()
    h = hostile_for
    morgue = evidence.save_location(
        world.users["custodian"], None, name=h(StorageLocation, "name"), kind=LocationKind.ROOM, capacity=5
    )
    investigation = deaths.log_death(
        world.users["scenetech"],
        agency=world.agencies["police"],
        agency_case_number="D" + COMBO[:40],
        offence_codes=["0101"],
        body_seal_number=hostile_for(CustodyEvent, "seal_number"),
        identified=True,
        decedent_name=h(DeathInvestigation, "decedent_name"),
        tag_number=h(DeathInvestigation, "tag_number"),
        sex="F",
        age=27,
        nationality=h(DeathInvestigation, "nationality"),
        pregnancy="no",
        death_at=now - timedelta(hours=10),
        district="BZ",
        death_place=h(DeathInvestigation, "death_place"),
        discovered_at=now - timedelta(hours=8),
        discovery_place=h(DeathInvestigation, "discovery_place"),
        pathologist=examiner,
        relationship="intimate_partner",
        prior_violence="yes",
        circumstances=h(DeathInvestigation, "circumstances"),
    )
    request = body_custody.receive_body(
        examiner,
        investigation,
        handed_over_by=world.users["scenetech"],
        confirmed_in_person=True,
        location=morgue,
        seal_status="intact",
        condition=h(CustodyEvent, "condition"),
        note=h(CustodyEvent, "note"),
    )
    lab.start_examination(examiner, request, method=world.method_pathology)
    deaths.record_autopsy(
        examiner,
        investigation,
        performed_on=today,
        type="full",
        findings=h(AutopsyRecord, "findings"),
        immediate_cause=h(AutopsyRecord, "immediate_cause"),
        immediate_icd10="R58",
        antecedent_cause=h(AutopsyRecord, "antecedent_cause"),
        antecedent_icd10="S21.1",
        underlying_cause=h(AutopsyRecord, "underlying_cause"),
        underlying_icd10="X93",
        contributing_conditions=h(AutopsyRecord, "contributing_conditions"),
        manner="homicide",
        mechanism="firearm",
    )
    lab.complete_draft(examiner, request, reauthenticated=True)
    for who, stage in ((examiner2, ReviewStage.TECHNICAL), (manager, ReviewStage.ADMINISTRATIVE)):
        checklist = {str(q.pk): True for q in lab.checklist_for(request, stage)}
        lab.review(who, request, stage=stage, approve=True, checklist=checklist, reauthenticated=True)
    lab.release(manager, request, reauthenticated=True)
    investigation = deaths.update_investigation(
        examiner, investigation, reason=LONG, circumstances=h(DeathInvestigation, "circumstances") + "."
    )
    body_custody.release_body(
        examiner,
        investigation,
        receiver_kind="family",
        receiver_name=h(BodyRelease, "receiver_name"),
        identity_document=h(BodyRelease, "identity_document"),
        acknowledged=True,
        organisation=h(BodyRelease, "organisation"),
        relationship=h(BodyRelease, "relationship"),
        note=h(CustodyEvent, "note"),
    )
    world.objects.update(investigation=DeathInvestigation.objects.get(pk=investigation.pk), morgue=morgue)


def _administration(world: World) -> None:
    from forensis.accounts import services as accounts
    from forensis.accounts.models import AgencyType
    from forensis.accounts.roles import Role
    from forensis.api import tokens
    from forensis.api.models import Access, PartnerToken, Resource
    from forensis.statistics import services as statistics
    from forensis.statistics.models import Population

    admin = world.users["admin"]
    expires = timezone.now() + timedelta(days=30)
    world.objects["token"] = tokens.issue_token(
        admin,
        name="partner-police",
        agency=world.agencies["police"],
        resources=list(Resource.values),
        access=Access.WRITE,
        expires_at=expires,
        webhook_url=HOSTILE_URL,
    )
    revoked = tokens.issue_token(
        admin,
        name="partner-old",
        agency=world.agencies["police"],
        resources=["cases"],
        access=Access.READ,
        expires_at=expires,
    )
    tokens.revoke_token(admin, revoked.token, reason=hostile_for(PartnerToken, "revoke_reason"))
    statistics.set_population(
        admin,
        district="BZ",
        year=timezone.localdate().year,
        population=120_000,
        source=hostile_for(Population, "source"),
        reason=LONG,
    )
    spare_agency = accounts.create_agency(None, code="SPARE", name="Spare agency", type=AgencyType.POLICE)
    accounts.set_agency_active(admin, spare_agency, False, LONG)
    spare = accounts.create_user(
        None, username="spare", password=PASSWORD, agency=world.agencies["lab"], roles=[Role.ANALYST]
    )
    accounts.reset_mfa(admin, spare, LONG)
    accounts.unlock_user(admin, spare, LONG)
    accounts.set_user_active(admin, spare, False, LONG)


def _legacy(world: World) -> None:
    """An import from an old system whose rows carry the hostile text (an old database is outside input too)."""
    from forensis.cases.services import MigratedCase, MigratedPerson, migrate_cases
    from forensis.evidence.migration import MigratedItem, migrate_items
    from forensis.legacy import services as legacy
    from forensis.legacy.models import BatchStatus, Rejection

    admin = world.users["admin"]
    batch = legacy.start_batch(admin, source_name=hostile(64), mapping_name=hostile(255), mapping_text=LONG)
    key = hostile(64)
    migrate_cases(
        admin,
        batch,
        [
            MigratedCase(
                legacy_id=key,
                lab_number="NFSS-1999-00001",
                agency_id=world.agencies["police"].pk,
                received_at=timezone.now() - timedelta(days=9000),
                agency_case_number=hostile(64),
                town=hostile(100),
                narrative=LONG,
            )
        ],
        [MigratedPerson(legacy_id=key, case_legacy_id=key, role="victim", name=hostile(200))],
    )
    migrate_items(
        admin,
        batch,
        [
            MigratedItem(
                legacy_id=key,
                case_id=world.case.pk,
                type="other",
                description=LONG,
                received_at=timezone.now() - timedelta(days=9000),
                seal_number=hostile(64),
                location=hostile(200),
                location_as_of=timezone.now() - timedelta(days=9000),
            )
        ],
    )
    legacy.migrate_results(
        admin,
        batch,
        [
            legacy.MigratedResult(
                legacy_id=key,
                case_id=world.case.pk,
                item_id=world.blood.pk,
                discipline_id=world.request.discipline_id,
                result=LONG,
                unit=hostile(32),
                analyst=hostile(200),
            )
        ],
    )
    # the pipeline's own bookkeeping (``save_rejections``), written here without the rest of an import run
    Rejection.objects.bulk_create(
        [
            Rejection(
                batch=batch,
                entity="cases",
                source_table=hostile(255),
                row_number=3,
                legacy_id=key,
                column=hostile(255),
                value=LONG,
                code="missing",
                reason=hostile(500),
            )
        ],
    )
    world.objects["batch"] = legacy.finish_batch(admin, batch, status=BatchStatus.COMPLETED, counts={}, error=LONG)


# --- the world, once per module ---------------------------------------------------------------------------------

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
IMMEDIATE_TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(scope="module")
def module_db(django_db_setup, django_db_blocker, tmp_path_factory):
    """Database access for a whole module, inside one transaction rolled back when the module ends. Tests that
    use it also ask for ``db``: each then runs in a savepoint of that transaction."""
    media = tmp_path_factory.mktemp("media")
    with (
        django_db_blocker.unblock(),
        override_settings(
            MEDIA_ROOT=media,
            PASSWORD_HASHERS=FAST_HASHERS,
            TASKS=IMMEDIATE_TASKS,
            FORENSIS_DEFER_MFA_ENROLMENT=True,
        ),
    ):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture(scope="module")
def hostile_world(module_db) -> World:
    return build_world()


# --- walking the site as a person would --------------------------------------------------------------------------


@dataclass
class Page:
    url: str
    status: int
    content_type: str
    body: bytes
    headers: dict
    found_on: str
    seconds: float = 0.0

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


#: Never followed: signing out ends the walk, switching language changes every page after it.
SKIPPED_PREFIXES = ("/accounts/logout/", "/i18n/", "/static/", "/api/v1/docs/", "/api/v1/schema/")
#: Not followed either: the statistics' data files (aggregates, slow to build; CSV, XLSX and JSON are not pages).
SKIPPED_SUFFIXES = (".csv", ".xlsx", ".json")
_LINK = re.compile(r"""(?:href|hx-get|src)\s*=\s*["']([^"'#]+)""")


def page_links(page: str) -> list[str]:
    return [html.unescape(link) for link in _LINK.findall(page)]


def walk(client, start: str = "/", *, limit: int = 600, per_path_queries: int = 1) -> list[Page]:
    """Every page reachable from ``start`` by following the links a page shows (GET only, this site only):
    each path once, plus ``per_path_queries`` versions with a query string (filters, sorting, pages)."""
    from urllib.parse import urlsplit

    queue, seen, queries, pages = [(start, "")], {start}, {}, []
    while queue and len(pages) < limit:
        url, found_on = queue.pop(0)
        started = time.monotonic()
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        content_type = response.headers.get("Content-Type", "")
        seconds = time.monotonic() - started
        pages.append(Page(url, response.status_code, content_type, body, dict(response.headers), found_on, seconds))
        if response.status_code in (301, 302) and response.headers.get("Location", "").startswith("/"):
            links = [response.headers["Location"]]
        elif content_type.startswith("text/html"):
            links = page_links(body.decode("utf-8", errors="replace"))
        else:
            continue
        for link in links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or not parts.path.startswith("/") or link in seen:
                continue
            if parts.path.startswith(SKIPPED_PREFIXES) or parts.path.endswith(SKIPPED_SUFFIXES):
                continue
            if parts.query:
                if queries.get(parts.path, 0) >= per_path_queries:
                    continue
                queries[parts.path] = queries.get(parts.path, 0) + 1
            seen.add(link)
            queue.append((link, url))
    return pages


# --- every filter and search parameter ---------------------------------------------------------------------------

#: Each django-filter FilterSet of the web pages, by the page that uses it (a function of the world for pages of one
#: record). Its parameters are read from the FilterSet itself, so a filter added to it is attacked at once; a new
#: FilterSet fails ``test_every_filterset_is_attacked`` until it is listed here.
WEB_FILTERSETS = {
    "forensis.intake.filters.SubmissionFilter": "intake:list",
    "forensis.audit.filters.AuditEventFilter": "audit:event_list",
    "forensis.accounts.filters.AgencyFilter": "accounts:agency_list",
    "forensis.accounts.filters.UserFilter": "accounts:user_list",
    "forensis.api.token_views.TokenFilter": "api_tokens:token_list",
    "forensis.lab.examination_views.WorklistFilter": "lab:worklist",
    "forensis.lab.triage_forms.TriageFilter": "lab:triage",
    "forensis.deaths.filters.DeathFilter": "deaths:list",
    "forensis.reports.filters.ReportFilter": "reports:list",
    "forensis.legacy.filters.BatchFilter": "legacy:list",
    "forensis.legacy.filters.RejectionFilter": lambda world: ("legacy:detail", [world.batch.number]),
    "forensis.evidence.outsourcing_views.ShipmentFilter": "evidence:shipments",
}
#: The API's FilterSets, by their list endpoint.
API_FILTERSETS = {
    "forensis.api.filters.CaseFilter": "/api/v1/cases/",
    "forensis.api.filters.ItemFilter": "/api/v1/items/",
    "forensis.api.filters.CustodyEventFilter": "/api/v1/custody-events/",
    "forensis.api.filters.RequestFilter": "/api/v1/requests/",
    "forensis.api.filters.ReportFilter": "/api/v1/reports/",
    "forensis.api.filters.SubmissionFilter": "/api/v1/submissions/",
}
#: Parameters every API list reads besides its filters (pagination), and the feed's.
API_COMMON_PARAMETERS = ("page_size", "cursor")
API_OTHER = {"/api/v1/feed/": ("after", "limit", "topic")}
#: Search parameters read from ``request.GET`` by hand (not through a FilterSet): page, names, and whether one
#: form reads them together (one invalid value refuses them all, so they are attacked in one request) or the view
#: reads each on its own (attacked one by one, so no refusal of one hides another). Every ``request.GET`` read in
#: the views must be here or in a FilterSet (``test_every_query_parameter_is_attacked``).
EXTRA_PARAMETERS = [
    (lambda world: ("cases:labels", [world.case.lab_number]), ("item", "w", "h"), False),
    (lambda world: ("cases:custody_report", [world.case.lab_number]), ("item",), False),
    ("intake:reception", ("code",), False),
    ("intake:new", ("add",), False),
    ("evidence:location_new", ("parent",), False),
    ("evidence:overdue", ("days",), True),
    ("evidence:gap_check", ("case",), False),
    ("lab:methods", ("copy",), False),
    ("accounts:login", ("next",), False),
    ("statistics:management", ("month_from", "month_to", "discipline", "district", "agency"), True),
    ("statistics:policy", ("month_from", "month_to", "district", "agency"), True),
    (
        lambda world: ("statistics:export", ["management", "turnaround", "csv"]),
        ("month_from", "month_to", "discipline", "district", "agency"),
        True,
    ),
    ("statistics:bulletin", ("month",), True),
    ("statistics:open_data", ("year_from", "year_to"), False),
    (
        lambda world: ("statistics:open_data_file", ["homicide_victims_by_month", "csv"]),
        ("year_from", "year_to"),
        False,
    ),
]


def _load(path: str):
    import importlib

    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def filterset_parameters(path: str) -> list[str]:
    return list(_load(path).base_filters)


def _page(target, world) -> str:
    from django.urls import reverse

    name, args = target(world) if callable(target) else (target, [])
    return reverse(name, args=args)


def search_parameters(world) -> list[tuple[str, list[str], bool]]:
    """(page, parameter names, attacked together) for every filter and search parameter of the web pages.

    A FilterSet's parameters are attacked together: it applies every valid one whatever the others hold."""
    found = [(_page(target, world), filterset_parameters(path), True) for path, target in WEB_FILTERSETS.items()]
    found += [(_page(target, world), list(names), together) for target, names, together in EXTRA_PARAMETERS]
    return found


def requests_for(url: str, names: list[str], together: bool, value: str) -> list[tuple[str, dict]]:
    """The requests that put ``value`` in each parameter: (what is attacked, query)."""
    if together:
        return [(", ".join(names), dict.fromkeys(names, value))]
    return [(name, {name: value}) for name in names]


def api_parameters() -> list[tuple[str, list[str]]]:
    found = [(url, [*filterset_parameters(path), *API_COMMON_PARAMETERS]) for path, url in API_FILTERSETS.items()]
    return found + [(url, list(names)) for url, names in API_OTHER.items()]
