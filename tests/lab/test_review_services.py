"""Technical review, administrative review and release: who may sign, what they sign, and what is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from forensis.intake import services as intake
from forensis.lab import services
from forensis.lab.models import (
    ChecklistQuestion,
    Discipline,
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
)

TECHNICAL, ADMINISTRATIVE = ReviewStage.TECHNICAL, ReviewStage.ADMINISTRATIVE
BLOOD_ALCOHOL = {"analyte": "Ethanol", "concentration": "0.085", "unit": "g/100mL", "uncertainty": "0.004"}
STAGES_IN_ORDER = (
    "requested_at",
    "assigned_at",
    "started_at",
    "draft_completed_at",
    "technical_reviewed_at",
    "administrative_reviewed_at",
    "released_at",
)


def receive_toxicology_case(
    officer, custodian, agency_case_number: str = "CY-TR-2026-0102", *, condition: str = ""
) -> ServiceRequest:
    """A driver's blood sample received at the laboratory (``condition`` noted at receipt); its toxicology request."""
    toxicology = list(Discipline.objects.filter(code="toxicology"))
    submission = intake.create_submission(officer)
    intake.update_submission(
        officer,
        submission,
        fields={
            "agency_case_number": agency_case_number,
            "offence_codes": ["02072"],
            "district": "CY",
            "town": "San Ignacio",
            "incident_at": timezone.now() - timedelta(days=1),
        },
        people=[],
        items=[
            intake.ItemData(
                {"type": "blood", "description": "Blood sample, grey-top tube", "quantity": 1, "seal_number": "T-1"},
                toxicology,
            )
        ],
    )
    submission = intake.submit_submission(officer, submission)
    checks = {i.pk: intake.ItemCheck(condition=condition) for i in submission.items.all()}
    case = intake.receive_submission(custodian, submission, checks=checks, handed_over_by=officer)
    return case.requests.get(discipline__code="toxicology")


class Lab:
    """The people and catalogue of a small toxicology section, made through the lab services."""

    def __init__(self, make_user, officer, *, condition: str = ""):
        self.manager = make_user(Role.LAB_MANAGER, username="manager", first_name="Marcus", last_name="Young")
        self.analyst = make_user(Role.ANALYST, username="analyst", first_name="Andre", last_name="Flowers")
        self.reviewer = make_user(Role.REVIEWER, username="reviewer", first_name="Rosa", last_name="Cal")
        self.custodian = make_user(Role.EVIDENCE_CUSTODIAN, username="custodian")
        self.toxicology = Discipline.objects.get(code="toxicology")
        today = timezone.localdate()
        for person in (self.analyst, self.reviewer):
            services.grant_authorization(
                self.manager,
                person,
                self.toxicology,
                valid_from=today - timedelta(days=30),
                valid_until=today + timedelta(days=365),
            )
        self.method = services.save_catalogue_entry(
            self.manager,
            Method,
            discipline=self.toxicology,
            code="TOX-BAC-HS",
            name="Blood alcohol by headspace GC-FID",
            version="4.2",
            effective_from=today - timedelta(days=400),
        )
        self.instrument = services.save_catalogue_entry(
            self.manager,
            Instrument,
            discipline=self.toxicology,
            name="GC-FID Agilent 8890",
            serial_number="US2201A001",
            calibration_due=today + timedelta(days=120),
        )
        self.lot = services.save_catalogue_entry(
            self.manager,
            ReagentLot,
            discipline=self.toxicology,
            reagent="n-Propanol internal standard",
            lot_number="NP-2611",
            expiry=today + timedelta(days=180),
        )
        self.questions = {
            stage: [
                services.save_catalogue_entry(self.manager, ChecklistQuestion, stage=stage, text=text) for text in texts
            ]
            for stage, texts in {
                TECHNICAL: ["The method was followed.", "Results are supported by the data."],
                ADMINISTRATIVE: ["Case and item numbers are correct.", "Chain of custody is complete."],
            }.items()
        }
        self.request = receive_toxicology_case(officer, self.custodian, condition=condition)
        self.item = self.request.items.get()

    def checklist(self, stage: str) -> dict[str, bool]:
        return {str(q.pk): True for q in self.questions[stage]}

    def reload(self) -> ServiceRequest:
        self.request = ServiceRequest.objects.get(pk=self.request.pk)
        return self.request

    # the steps of the workflow, each by the person who does it

    def drafted(self, data: dict | None = None) -> ServiceRequest:
        services.assign(self.manager, self.request, self.analyst)
        services.start_examination(
            self.analyst, self.request, method=self.method, instrument=self.instrument, reagent_lots=[self.lot]
        )
        services.record_result(self.analyst, self.request, self.item, data or BLOOD_ALCOHOL)
        services.complete_draft(self.analyst, self.request, reauthenticated=True)
        return self.reload()

    def approve(self, reviewer, stage: str, **overrides) -> Review:
        arguments = {"checklist": self.checklist(stage), "reauthenticated": True, **overrides}
        return services.review(reviewer, self.request, stage=stage, approve=True, **arguments)

    def technically_reviewed(self) -> ServiceRequest:
        self.drafted()
        self.approve(self.reviewer, TECHNICAL)
        return self.reload()

    def administratively_reviewed(self) -> ServiceRequest:
        self.technically_reviewed()
        self.approve(self.manager, ADMINISTRATIVE)
        return self.reload()


@pytest.fixture
def lab(make_user, officer):
    return Lab(make_user, officer)


def snapshot(request: ServiceRequest) -> dict:
    """Everything a refused step must leave as it was."""
    request = ServiceRequest.objects.get(pk=request.pk)
    return {
        "status": request.status,
        "stamps": [getattr(request, name) for name in STAGES_IN_ORDER],
        "reviews": Review.objects.filter(request=request).count(),
        "signatures": Signature.objects.filter(request=request).count(),
        "transitions": RequestTransition.objects.filter(request=request).count(),
        "results": list(Result.objects.filter(examination__request=request).values_list("pk", "version", "data")),
    }


def test_author_cannot_review_their_own_work(lab, make_user):
    # The analyst is also given the reviewer role: the rule is about the person, not the role.
    lab.analyst.groups.add(Role.REVIEWER.group())
    lab.drafted()
    analyst = type(lab.analyst).objects.get(pk=lab.analyst.pk)  # fresh permission cache
    assert services.review_problem(analyst, lab.request, TECHNICAL) == (
        "You are the analyst of this request; another person must review it."
    )
    before = snapshot(lab.request)
    with pytest.raises(PermissionDenied, match="another person must review it"):
        lab.approve(analyst, TECHNICAL)
    with pytest.raises(PermissionDenied, match="another person must review it"):
        services.review(analyst, lab.request, stage=TECHNICAL, approve=False, reason="Looks wrong")
    assert snapshot(lab.request) == before


def test_technical_reviewer_must_be_authorised_for_the_discipline(lab, make_user):
    stranger = make_user(Role.REVIEWER, first_name="Tom", last_name="Unauthorised")
    lab.drafted()
    before = snapshot(lab.request)
    with pytest.raises(PermissionDenied, match="Tom Unauthorised is not authorised for Toxicology"):
        lab.approve(stranger, TECHNICAL)
    assert snapshot(lab.request) == before


def test_expired_authorisation_is_named(lab, make_user):
    lapsed = make_user(Role.REVIEWER, first_name="Lia", last_name="Lapsed")
    today = timezone.localdate()
    services.grant_authorization(
        lab.manager, lapsed, lab.toxicology, valid_from=today - timedelta(days=400), valid_until=today - timedelta(1)
    )
    lab.drafted()
    with pytest.raises(PermissionDenied, match="authorisation for Toxicology expired"):
        lab.approve(lapsed, TECHNICAL)


def test_same_person_cannot_do_both_reviews(lab):
    # The manager is given a toxicology authorisation so they could do the technical review too.
    today = timezone.localdate()
    services.grant_authorization(
        lab.manager, lab.manager, lab.toxicology, valid_from=today, valid_until=today + timedelta(days=30)
    )
    lab.drafted()
    lab.approve(lab.manager, TECHNICAL)
    before = snapshot(lab.request)
    with pytest.raises(PermissionDenied, match="the administrative review needs a different person"):
        lab.approve(lab.manager, ADMINISTRATIVE)
    assert snapshot(lab.request) == before
    assert lab.reload().status == RequestStatus.TECHNICAL_REVIEW


def test_people_without_the_review_permission_are_refused(lab):
    lab.drafted()
    with pytest.raises(PermissionDenied, match="You do not review requests"):
        lab.approve(lab.custodian, TECHNICAL)


def test_approving_without_the_password_is_refused(lab):
    lab.drafted()
    before = snapshot(lab.request)
    with pytest.raises(ValidationError) as refused:
        lab.approve(lab.reviewer, TECHNICAL, reauthenticated=False)
    assert refused.value.message_dict == {"password": ["Enter your password to sign."]}
    assert snapshot(lab.request) == before


def test_a_missing_checklist_answer_is_refused(lab):
    lab.drafted()
    first, second = lab.questions[TECHNICAL]
    before = snapshot(lab.request)
    for answers, unconfirmed in [
        ({str(first.pk): True}, [second]),
        ({str(first.pk): True, str(second.pk): False}, [second]),
        ({}, [first, second]),
    ]:
        with pytest.raises(ValidationError) as refused:
            lab.approve(lab.reviewer, TECHNICAL, checklist=answers)
        assert refused.value.message_dict == {"checklist": [f"Confirm: {q.text}" for q in unconfirmed]}
    assert snapshot(lab.request) == before


def test_retired_and_other_discipline_questions_are_not_asked(lab):
    serology = Discipline.objects.get(code="serology")
    services.save_catalogue_entry(
        lab.manager, ChecklistQuestion, stage=TECHNICAL, discipline=serology, text="Controls reacted."
    )
    retired = lab.questions[TECHNICAL][0]
    services.save_catalogue_entry(lab.manager, ChecklistQuestion, retired, is_active=False)
    asked = list(services.checklist_for(lab.request, TECHNICAL))
    assert asked == [lab.questions[TECHNICAL][1]]


def test_sending_back_needs_a_reason(lab):
    lab.drafted()
    before = snapshot(lab.request)
    with pytest.raises(ValidationError) as refused:
        services.review(lab.reviewer, lab.request, stage=TECHNICAL, approve=False, reason="  ")
    assert refused.value.message_dict == {"reason": ["Say what the analyst must correct."]}
    assert snapshot(lab.request) == before


def test_technical_send_back_returns_to_the_analyst_and_clears_later_stamps(lab):
    drafted = lab.drafted()
    decision = services.review(
        lab.reviewer, lab.request, stage=TECHNICAL, approve=False, reason="Uncertainty missing from the result."
    )
    sent_back = lab.reload()
    assert sent_back.status == RequestStatus.IN_PROGRESS
    assert sent_back.draft_completed_at is None and sent_back.technical_reviewed_at is None
    assert (sent_back.assigned_at, sent_back.started_at) == (drafted.assigned_at, drafted.started_at)
    assert decision.approved is False and decision.signature is None
    transition = sent_back.transitions.last()
    assert (transition.from_status, transition.to_status, transition.actor) == (
        RequestStatus.DRAFT_COMPLETE,
        RequestStatus.IN_PROGRESS,
        lab.reviewer,
    )
    assert transition.reason == "Uncertainty missing from the result."
    event = AuditEvent.objects.filter(action="request.in_progress", object_id=str(lab.request.pk)).order_by("pk").last()
    assert event.reason == "Uncertainty missing from the result." and event.actor_id == lab.reviewer.pk
    # Nobody signed it as reviewed, so the analyst corrects the result in place and signs again.
    services.record_result(lab.analyst, lab.request, lab.item, {**BLOOD_ALCOHOL, "uncertainty": "0.005"})
    assert Result.objects.get(item=lab.item).version == 1
    services.complete_draft(lab.analyst, lab.request, reauthenticated=True)
    assert lab.reload().draft_completed_at >= sent_back.started_at


def test_administrative_send_back_clears_both_review_stamps_and_a_change_is_a_new_version(lab):
    lab.technically_reviewed()
    services.review(lab.manager, lab.request, stage=ADMINISTRATIVE, approve=False, reason="Wrong item number.")
    sent_back = lab.reload()
    assert sent_back.status == RequestStatus.IN_PROGRESS
    assert sent_back.draft_completed_at is None
    assert sent_back.technical_reviewed_at is None and sent_back.administrative_reviewed_at is None
    # After a reviewer signed, a change is a new version and needs its reason.
    corrected = {**BLOOD_ALCOHOL, "concentration": "0.081"}
    with pytest.raises(ValidationError) as refused:
        services.record_result(lab.analyst, lab.request, lab.item, corrected)
    assert "reason" in refused.value.message_dict
    version_2 = services.record_result(
        lab.analyst, lab.request, lab.item, corrected, reason="Transcription error in the concentration."
    )
    version_1 = Result.objects.get(item=lab.item, version=1)
    assert version_2.version == 2 and version_2.supersedes == version_1 and version_2.is_current
    assert not version_1.is_current and version_1.data == BLOOD_ALCOHOL
    # The old technical approval does not carry over: the new draft goes through both reviews again.
    services.complete_draft(lab.analyst, lab.request, reauthenticated=True)
    with pytest.raises(ValidationError, match="cannot be released"):
        services.release(lab.manager, lab.request, reauthenticated=True)
    with pytest.raises(ValidationError, match="this step is not possible now"):
        lab.approve(lab.manager, ADMINISTRATIVE)


@pytest.mark.parametrize(
    ("stage", "missing"),
    [
        ("drafted", "Technical review, Administrative review"),
        ("technically_reviewed", "Administrative review"),
    ],
)
def test_release_without_both_reviews_is_refused(lab, stage, missing):
    getattr(lab, stage)()
    before = snapshot(lab.request)
    with pytest.raises(ValidationError) as refused:
        services.release(lab.manager, lab.request, reauthenticated=True)
    assert refused.value.messages == [f"Request {lab.request} cannot be released: missing {missing}."]
    assert snapshot(lab.request) == before


def test_release_needs_the_password_and_the_permission(lab):
    lab.administratively_reviewed()
    before = snapshot(lab.request)
    with pytest.raises(ValidationError, match="Enter your password to sign"):
        services.release(lab.manager, lab.request, reauthenticated=False)
    with pytest.raises(PermissionDenied):
        services.release(lab.analyst, lab.request, reauthenticated=True)
    assert snapshot(lab.request) == before


def test_results_changed_after_the_signatures_block_the_release(lab):
    lab.administratively_reviewed()
    # Someone changes the stored result behind the application's back (a database edit).
    Result.objects.filter(item=lab.item).update(data={**BLOOD_ALCOHOL, "concentration": "0.035"})
    before = snapshot(lab.request)
    with pytest.raises(ValidationError) as refused:
        services.release(lab.manager, lab.request, reauthenticated=True)
    assert refused.value.messages == ["The results changed after the reviews were signed; they must be reviewed again."]
    assert snapshot(lab.request) == before


def test_happy_path_to_release(lab):
    requested = lab.request.requested_at
    lab.drafted()
    technical = lab.approve(lab.reviewer, TECHNICAL)
    administrative = lab.approve(lab.manager, ADMINISTRATIVE)
    services.release(lab.manager, lab.request, reauthenticated=True)
    released = lab.reload()

    assert released.status == RequestStatus.RELEASED
    assert released.requested_at == requested
    stamps = [getattr(released, name) for name in STAGES_IN_ORDER]
    assert all(stamps), dict(zip(STAGES_IN_ORDER, stamps, strict=True))
    assert stamps == sorted(stamps)

    signed = services.content_hash(released)
    signatures = list(released.signatures.order_by("signed_at", "pk"))
    assert [(s.meaning, s.signer, s.content_hash) for s in signatures] == [
        (SignatureMeaning.AUTHORED, lab.analyst, signed),
        (SignatureMeaning.TECHNICALLY_REVIEWED, lab.reviewer, signed),
        (SignatureMeaning.ADMINISTRATIVELY_REVIEWED, lab.manager, signed),
        (SignatureMeaning.RELEASED, lab.manager, signed),
    ]
    assert [s.signer_name for s in signatures] == ["Andre Flowers", "Rosa Cal", "Marcus Young", "Marcus Young"]
    assert len(signed) == 64
    assert technical.signature == signatures[1] and administrative.signature == signatures[2]
    assert technical.checklist == lab.checklist(TECHNICAL)
    assert administrative.checklist == lab.checklist(ADMINISTRATIVE)

    transitions = list(released.transitions.values_list("from_status", "to_status"))
    assert transitions == [
        (RequestStatus.REQUESTED, RequestStatus.ASSIGNED),
        (RequestStatus.ASSIGNED, RequestStatus.IN_PROGRESS),
        (RequestStatus.IN_PROGRESS, RequestStatus.DRAFT_COMPLETE),
        (RequestStatus.DRAFT_COMPLETE, RequestStatus.TECHNICAL_REVIEW),
        (RequestStatus.TECHNICAL_REVIEW, RequestStatus.ADMINISTRATIVE_REVIEW),
        (RequestStatus.ADMINISTRATIVE_REVIEW, RequestStatus.RELEASED),
    ]
    events = AuditEvent.objects.filter(object_type="lab.servicerequest", object_id=str(released.pk))
    assert list(events.order_by("pk").values_list("action", "actor_username")) == [
        ("request.created", "custodian"),
        ("request.assigned", "manager"),
        ("request.in_progress", "analyst"),
        ("request.draft_complete", "analyst"),
        ("request.technical_review", "reviewer"),
        ("request.administrative_review", "manager"),
        ("request.released", "manager"),
    ]
    assert AuditEvent.objects.filter(action="result.recorded", actor_username="analyst").exists()


def test_released_request_cannot_be_reviewed_or_released_again(lab):
    lab.administratively_reviewed()
    services.release(lab.manager, lab.request, reauthenticated=True)
    before = snapshot(lab.request)
    with pytest.raises(ValidationError, match="cannot be released"):
        services.release(lab.manager, lab.request, reauthenticated=True)
    with pytest.raises(ValidationError, match="this step is not possible now"):
        lab.approve(lab.reviewer, TECHNICAL)
    with pytest.raises(ValidationError, match="this step is not possible now"):
        services.record_result(lab.analyst, lab.request, lab.item, BLOOD_ALCOHOL, reason="Late change")
    assert snapshot(lab.request) == before
