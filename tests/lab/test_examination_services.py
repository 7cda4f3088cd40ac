"""Examination services: every refusal (authorisation, method, calibration, lots, results, reviewed results).

Requests are brought to the state a test needs through the services themselves (intake receipt, catalogue,
authorisation, assignment, start); each refusal is checked to leave the data exactly as it was.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from forensis.accounts.roles import Role
from forensis.intake import services as intake
from forensis.lab import services
from forensis.lab.models import (
    Attachment,
    Discipline,
    Examination,
    Instrument,
    Method,
    ReagentLot,
    RequestStatus,
    Result,
    ServiceRequest,
    Worksheet,
)

BAC = {"analyte": "Ethanol", "concentration": "0.085", "unit": "g/100mL", "uncertainty": "0.004"}


# --- helpers shared with the view tests -------------------------------------------------------------


def receive(officer, custodian, *descriptions: str, discipline: str = "toxicology", number: str = "BZ-TR-2026-0077"):
    """A case received through the intake services, its items requested for ``discipline``; the case."""
    disciplines = list(Discipline.objects.filter(code=discipline))
    submission = intake.create_submission(officer)
    intake.update_submission(
        officer,
        submission,
        fields={
            "agency_case_number": number,
            "offence_codes": ["0201"],
            "district": "BZ",
            "town": "Belize City",
            "incident_at": timezone.now() - timedelta(days=1),
        },
        people=[],
        items=[
            intake.ItemData({"type": "other", "description": d, "quantity": 1, "seal_number": f"S-{n}"}, disciplines)
            for n, d in enumerate(descriptions or ("Blood sample, grey-top tube",), start=1)
        ],
    )
    submission = intake.submit_submission(officer, submission)
    checks = {i.pk: intake.ItemCheck() for i in submission.items.all()}
    return intake.receive_submission(custodian, submission, checks=checks, handed_over_by=officer)


def request_of(case, discipline: str = "toxicology") -> ServiceRequest:
    return ServiceRequest.objects.get(case=case, discipline__code=discipline)


def catalogue(manager) -> dict:
    """A toxicology method, a calibrated and an out-of-calibration instrument, a good and an expired lot."""
    today = timezone.localdate()
    tox = Discipline.objects.get(code="toxicology")
    drugs = Discipline.objects.get(code="seized-drugs")

    def entry(model, **fields):
        return services.save_catalogue_entry(manager, model, **fields)

    return {
        "method": entry(
            Method,
            discipline=tox,
            code="TOX-BAC-HS",
            name="Blood alcohol by headspace GC-FID",
            version="4.2",
            effective_from=today - timedelta(days=300),
        ),
        "other_method": entry(
            Method,
            discipline=drugs,
            code="DRG-GCMS",
            name="Seized drug identification by GC-MS",
            version="3.0",
            effective_from=today - timedelta(days=300),
        ),
        "instrument": entry(
            Instrument,
            discipline=tox,
            name="GC-FID Agilent 8890",
            serial_number="US2201A001",
            calibration_due=today + timedelta(days=120),
        ),
        "uncalibrated": entry(
            Instrument,
            discipline=tox,
            name="GC-FID Agilent 7890",
            serial_number="US1703A552",
            calibration_due=today - timedelta(days=10),
        ),
        "lot": entry(
            ReagentLot,
            discipline=tox,
            reagent="n-Propanol internal standard",
            lot_number="NP-2611",
            expiry=today + timedelta(days=180),
        ),
        "expired_lot": entry(
            ReagentLot,
            discipline=tox,
            reagent="Ethanol control",
            lot_number="EC-0412",
            expiry=today - timedelta(days=5),
        ),
    }


def authorise(manager, user, discipline: str = "toxicology", *, until_days: int = 365):
    today = timezone.localdate()
    return services.grant_authorization(
        manager,
        user,
        Discipline.objects.get(code=discipline),
        valid_from=today - timedelta(days=400),
        valid_until=today + timedelta(days=until_days),
    )


def start(analyst, request, cat, **overrides):
    setup = {"method": cat["method"], "instrument": cat["instrument"], "reagent_lots": [cat["lot"]]}
    return services.start_examination(analyst, request, **{**setup, **overrides})


def snapshot(request: ServiceRequest) -> dict:
    """Everything an examination service may change, to show that a refusal changed nothing."""
    request = ServiceRequest.objects.get(pk=request.pk)
    exam = Examination.objects.filter(request=request).first()
    return {
        "status": request.status,
        "assigned_to": request.assigned_to_id,
        "started_at": request.started_at,
        "examination": (
            exam.method_id,
            exam.instrument_id,
            sorted(exam.reagent_lots.values_list("pk", flat=True)),
            exam.notes,
        )
        if exam
        else None,
        "results": list(
            Result.objects.filter(examination__request=request)
            .order_by("pk")
            .values_list("pk", "version", "data", "is_current", "change_reason")
        ),
        "attachments": Attachment.objects.filter(examination__request=request).count(),
        "children": request.children.count(),
        "signatures": request.signatures.count(),
    }


def all_yes(request, stage: str) -> dict[str, bool]:
    return {str(q.pk): True for q in services.checklist_for(request, stage)}


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def custodian(make_user):
    return make_user(Role.EVIDENCE_CUSTODIAN, username="custodian")


@pytest.fixture
def manager(make_user):
    return make_user(Role.LAB_MANAGER, username="manager", first_name="Marcus", last_name="Young")


@pytest.fixture
def analyst(make_user):
    return make_user(Role.ANALYST, username="analyst", first_name="Andre", last_name="Flowers")


@pytest.fixture
def reviewer(make_user):
    return make_user(Role.REVIEWER, username="reviewer", first_name="Rosa", last_name="Cal")


@pytest.fixture
def cat(manager):
    return catalogue(manager)


@pytest.fixture
def case(officer, custodian):
    return receive(officer, custodian)


@pytest.fixture
def assigned(case, cat, manager, analyst):
    authorise(manager, analyst)
    return services.assign(manager, request_of(case), analyst)


@pytest.fixture
def in_progress(assigned, analyst, cat):
    start(analyst, assigned, cat)
    return ServiceRequest.objects.get(pk=assigned.pk)


@pytest.fixture
def item(case):
    return case.items.get()


def refused(exc_type, call, request, match: str):
    """Run ``call``; it must raise ``exc_type`` mentioning ``match`` and leave ``request`` untouched."""
    before = snapshot(request)
    with pytest.raises(exc_type) as caught:
        call()
    text = " ".join(caught.value.messages) if isinstance(caught.value, ValidationError) else str(caught.value)
    assert match in text
    assert snapshot(request) == before
    return caught.value


# --- assignment and start -----------------------------------------------------------------------------


def test_assigning_an_analyst_without_authorisation_is_refused(case, cat, manager, analyst):
    request = request_of(case)
    refused(
        ValidationError, lambda: services.assign(manager, request, analyst), request, "is not authorised for Toxicology"
    )
    assert ServiceRequest.objects.get(pk=request.pk).status == RequestStatus.REQUESTED


def test_assigning_an_analyst_whose_authorisation_expired_is_refused(case, cat, manager, analyst):
    today = timezone.localdate()
    services.grant_authorization(
        manager,
        analyst,
        Discipline.objects.get(code="toxicology"),
        valid_from=today - timedelta(days=400),
        valid_until=today - timedelta(days=1),
    )
    request = request_of(case)
    refused(ValidationError, lambda: services.assign(manager, request, analyst), request, "expired on")


def test_starting_after_the_authorisation_expired_is_refused(case, cat, manager, analyst, monkeypatch):
    authorise(manager, analyst, until_days=0)
    request = services.assign(manager, request_of(case), analyst)
    tomorrow = timezone.localdate() + timedelta(days=1)
    monkeypatch.setattr(services.timezone, "localdate", lambda *args: tomorrow)
    refused(ValidationError, lambda: start(analyst, request, cat), request, "expired on")


def test_starting_after_the_authorisation_was_revoked_is_refused(case, cat, manager, analyst):
    authorization = authorise(manager, analyst)
    request = services.assign(manager, request_of(case), analyst)
    services.revoke_authorization(manager, authorization, "Failed proficiency test")
    refused(ValidationError, lambda: start(analyst, request, cat), request, "is not authorised")


def test_only_the_assigned_analyst_may_start(assigned, cat, make_user, manager):
    other = make_user(Role.ANALYST)
    authorise(manager, other)
    refused(PermissionDenied, lambda: start(other, assigned, cat), assigned, "Only the assigned analyst")


def test_a_method_of_another_discipline_is_refused(assigned, analyst, cat):
    refused(
        ValidationError,
        lambda: start(analyst, assigned, cat, method=cat["other_method"]),
        assigned,
        "is not an active method of Toxicology",
    )


def test_a_retired_method_version_is_refused(assigned, analyst, cat, manager):
    services.save_catalogue_entry(manager, Method, cat["method"], is_active=False)
    cat["method"].refresh_from_db()
    refused(ValidationError, lambda: start(analyst, assigned, cat), assigned, "is not an active method")


def test_an_instrument_out_of_calibration_is_refused(assigned, analyst, cat):
    refused(
        ValidationError,
        lambda: start(analyst, assigned, cat, instrument=cat["uncalibrated"]),
        assigned,
        "is out of calibration since",
    )
    assert not Examination.objects.exists()


def test_an_instrument_out_of_service_is_refused(assigned, analyst, cat, manager):
    services.save_catalogue_entry(manager, Instrument, cat["instrument"], is_active=False)
    cat["instrument"].refresh_from_db()
    refused(ValidationError, lambda: start(analyst, assigned, cat), assigned, "is out of service")


def test_an_expired_reagent_lot_is_refused(assigned, analyst, cat):
    error = refused(
        ValidationError,
        lambda: start(analyst, assigned, cat, reagent_lots=[cat["lot"], cat["expired_lot"]]),
        assigned,
        "EC-0412",
    )
    assert any("expired on" in m for m in error.messages)


def test_every_problem_of_a_set_up_is_named_at_once(assigned, analyst, cat):
    error = refused(
        ValidationError,
        lambda: start(analyst, assigned, cat, instrument=cat["uncalibrated"], reagent_lots=[cat["expired_lot"]]),
        assigned,
        "out of calibration",
    )
    assert len(error.messages) == 2


def test_a_good_set_up_starts_the_examination(assigned, analyst, cat):
    exam = start(analyst, assigned, cat, notes="Duplicate injections.")
    request = ServiceRequest.objects.get(pk=assigned.pk)
    assert request.status == RequestStatus.IN_PROGRESS and request.started_at is not None
    assert exam.instrument == cat["instrument"] and list(exam.reagent_lots.all()) == [cat["lot"]]
    assert request.transitions.last().to_status == RequestStatus.IN_PROGRESS


def test_starting_twice_is_refused(in_progress, analyst, cat):
    refused(ValidationError, lambda: start(analyst, in_progress, cat), in_progress, "this step is not possible now")


def test_changing_the_set_up_to_an_uncalibrated_instrument_is_refused(in_progress, analyst, cat):
    refused(
        ValidationError,
        lambda: services.update_examination(
            analyst,
            in_progress,
            method=cat["method"],
            instrument=cat["uncalibrated"],
            reagent_lots=[cat["lot"]],
            notes="changed",
        ),
        in_progress,
        "out of calibration",
    )


def test_changing_the_set_up_is_kept(in_progress, analyst, cat):
    services.update_examination(
        analyst, in_progress, method=cat["method"], instrument=None, reagent_lots=[], notes="Manual dilution."
    )
    exam = Examination.objects.get(request=in_progress)
    assert exam.instrument is None and exam.notes == "Manual dilution." and not exam.reagent_lots.exists()


# --- results ------------------------------------------------------------------------------------------


def test_a_blood_alcohol_of_12_g_per_100_ml_is_refused(in_progress, analyst, item):
    error = refused(
        ValidationError,
        lambda: services.record_result(analyst, in_progress, item, {**BAC, "concentration": "12"}),
        in_progress,
        "is not plausible; check the unit",
    )
    assert "concentration" in error.message_dict


def test_a_number_above_the_field_maximum_is_refused(in_progress, analyst, item):
    refused(
        ValidationError,
        lambda: services.record_result(analyst, in_progress, item, {**BAC, "unit": "ng/mL", "concentration": "1e9"}),
        in_progress,
        "must be between",
    )


def test_a_negative_or_non_numeric_concentration_is_refused(in_progress, analyst, item):
    for value, message in (("-0.01", "must be between"), ("0.08 %", "must be a number")):
        refused(
            ValidationError,
            lambda value=value: services.record_result(analyst, in_progress, item, {**BAC, "concentration": value}),
            in_progress,
            message,
        )


def test_a_unit_that_is_not_allowed_is_refused(in_progress, analyst, item):
    error = refused(
        ValidationError,
        lambda: services.record_result(analyst, in_progress, item, {**BAC, "unit": "%"}),
        in_progress,
        "% is not an allowed value for Unit",
    )
    assert "unit" in error.message_dict


def test_an_unknown_result_field_is_refused(in_progress, analyst, item):
    error = refused(
        ValidationError,
        lambda: services.record_result(analyst, in_progress, item, {**BAC, "colour": "red"}),
        in_progress,
        "Unknown result fields: colour",
    )
    assert "__all__" in error.message_dict


def test_a_missing_required_field_is_refused(in_progress, analyst, item):
    data = {k: v for k, v in BAC.items() if k != "analyte"}
    refused(
        ValidationError,
        lambda: services.record_result(analyst, in_progress, item, data),
        in_progress,
        "Analyte is required",
    )


def test_a_result_for_an_item_outside_the_request_is_refused(in_progress, analyst, officer, custodian):
    other_case = receive(officer, custodian, "Another blood tube", number="BZ-TR-2026-0078")
    refused(
        ValidationError,
        lambda: services.record_result(analyst, in_progress, other_case.items.get(), BAC),
        in_progress,
        "is not part of this request",
    )


def test_another_analyst_cannot_record_a_result(in_progress, item, make_user, manager):
    other = make_user(Role.ANALYST)
    authorise(manager, other)
    refused(
        PermissionDenied,
        lambda: services.record_result(other, in_progress, item, BAC),
        in_progress,
        "Only the assigned analyst",
    )


def test_a_result_before_the_start_is_refused(assigned, analyst, item):
    refused(
        ValidationError,
        lambda: services.record_result(analyst, assigned, item, BAC),
        assigned,
        "this step is not possible now",
    )


def test_a_result_in_range_is_recorded_with_decimal_strings(in_progress, analyst, item):
    result = services.record_result(analyst, in_progress, item, {**BAC, "concentration": "0,085"})
    assert result.data == {**BAC, "concentration": "0.085"}
    assert result.version == 1 and result.is_current


def test_seized_drugs_firearms_serology_and_dna_results_are_validated_per_discipline(
    officer, custodian, manager, analyst
):
    today = timezone.localdate()
    case = receive(officer, custodian, "Swab", discipline="serology", number="BZ-CR-2026-0500")
    method = services.save_catalogue_entry(
        manager,
        Method,
        discipline=Discipline.objects.get(code="serology"),
        code="SER-PRESUMPTIVE",
        name="Presumptive tests",
        version="5.0",
        effective_from=today,
    )
    authorise(manager, analyst, "serology")
    request = services.assign(manager, request_of(case, "serology"), analyst)
    services.start_examination(analyst, request, method=method)
    swab = case.items.get()
    refused(
        ValidationError,
        lambda: services.record_result(analyst, request, swab, {"test": "semen", "result": "maybe"}),
        request,
        "maybe is not an allowed value for Result",
    )
    result = services.record_result(analyst, request, swab, {"test": "semen", "result": "positive"})
    assert result.data == {"test": "semen", "result": "positive"}


def test_a_result_changed_before_review_is_replaced_in_place(in_progress, analyst, item):
    first = services.record_result(analyst, in_progress, item, BAC)
    second = services.record_result(analyst, in_progress, item, {**BAC, "concentration": "0.086"})
    assert second.pk == first.pk and second.version == 1
    assert Result.objects.filter(item=item).count() == 1


# --- reviewed results are never edited in place --------------------------------------------------------


@pytest.fixture
def reviewed(in_progress, analyst, item, reviewer, manager):
    """A result approved in technical review, then sent back by the administrative reviewer."""
    authorise(manager, reviewer)
    services.record_result(analyst, in_progress, item, BAC)
    services.complete_draft(analyst, in_progress, reauthenticated=True)
    services.review(
        reviewer,
        in_progress,
        stage="technical",
        approve=True,
        reauthenticated=True,
        checklist=all_yes(in_progress, "technical"),
    )
    services.review(manager, in_progress, stage="administrative", approve=False, reason="fix the uncertainty")
    request = ServiceRequest.objects.get(pk=in_progress.pk)
    assert request.status == RequestStatus.IN_PROGRESS
    return request


def test_changing_a_reviewed_result_without_a_reason_is_refused(reviewed, analyst, item):
    error = refused(
        ValidationError,
        lambda: services.record_result(analyst, reviewed, item, {**BAC, "uncertainty": "0.005"}),
        reviewed,
        "give the reason for the new version",
    )
    assert "reason" in error.message_dict
    refused(
        ValidationError,
        lambda: services.record_result(analyst, reviewed, item, {**BAC, "uncertainty": "0.005"}, reason="   "),
        reviewed,
        "give the reason",
    )


def test_changing_a_reviewed_result_with_a_reason_makes_a_new_version(reviewed, analyst, item):
    old = Result.objects.get(item=item)
    new = services.record_result(
        analyst, reviewed, item, {**BAC, "uncertainty": "0.005"}, reason="Uncertainty budget recalculated"
    )
    old.refresh_from_db()
    assert (new.version, new.supersedes, new.change_reason, new.is_current) == (
        2,
        old,
        "Uncertainty budget recalculated",
        True,
    )
    assert old.is_current is False and old.data == BAC
    assert list(Result.objects.filter(item=item, is_current=True)) == [new]


def test_resubmitting_the_same_reviewed_result_needs_no_reason_and_changes_nothing(reviewed, analyst, item):
    before = snapshot(reviewed)
    services.record_result(analyst, reviewed, item, dict(BAC))
    assert snapshot(reviewed) == before


# --- attachments, follow-ups, signing, worksheets ------------------------------------------------------


def test_an_attachment_is_stored_with_its_sha256(in_progress, analyst, settings, tmp_path):
    import hashlib

    settings.MEDIA_ROOT = tmp_path
    content = b"sample,area\nBAC-1,12345\n"
    attachment = services.attach_file(analyst, in_progress, SimpleUploadedFile("run.csv", content))
    assert attachment.sha256 == hashlib.sha256(content).hexdigest() and attachment.size == len(content)
    assert attachment.file.read() == content


def test_a_file_over_the_size_limit_is_refused(in_progress, analyst, settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(services, "MAX_ATTACHMENT_BYTES", 10)
    refused(
        ValidationError,
        lambda: services.attach_file(analyst, in_progress, SimpleUploadedFile("big.bin", b"x" * 11)),
        in_progress,
        "larger than",
    )
    assert not list(tmp_path.rglob("*"))


def test_a_follow_up_request_needs_items_of_the_same_case(in_progress, analyst, officer, custodian, item):
    dna = Discipline.objects.get(code="dna")
    other = receive(officer, custodian, "Another tube", number="BZ-TR-2026-0099")
    refused(
        ValidationError,
        lambda: services.raise_child_request(analyst, in_progress, dna, [other.items.get()]),
        in_progress,
        "Choose items of case",
    )
    child = services.raise_child_request(analyst, in_progress, dna, [item])
    assert child.parent == in_progress and child.status == RequestStatus.REQUESTED


def test_completing_needs_a_result_for_every_item_and_the_password(in_progress, analyst):
    refused(
        ValidationError,
        lambda: services.complete_draft(analyst, in_progress, reauthenticated=False),
        in_progress,
        "Enter your password to sign",
    )
    refused(
        ValidationError,
        lambda: services.complete_draft(analyst, in_progress, reauthenticated=True),
        in_progress,
        "Record a result for every item first",
    )


def test_a_worksheet_of_two_disciplines_is_refused(case, cat, manager, analyst, officer, custodian):
    authorise(manager, analyst)
    authorise(manager, analyst, "serology")
    tox = services.assign(manager, request_of(case), analyst)
    swab_case = receive(officer, custodian, "Swab", discipline="serology", number="BZ-CR-2026-0600")
    ser = services.assign(manager, request_of(swab_case, "serology"), analyst)
    with pytest.raises(ValidationError, match="one discipline"):
        services.create_worksheet(analyst, [tox, ser], method=cat["method"])
    assert not Worksheet.objects.exists()
    assert {snapshot(tox)["status"], snapshot(ser)["status"]} == {RequestStatus.ASSIGNED}


def test_a_worksheet_on_an_uncalibrated_instrument_starts_nothing(cat, manager, analyst, officer, custodian):
    authorise(manager, analyst)
    requests = [
        services.assign(manager, request_of(receive(officer, custodian, number=f"BZ-TR-2026-07{n}")), analyst)
        for n in range(3)
    ]
    before = [snapshot(r) for r in requests]
    with pytest.raises(ValidationError, match="out of calibration"):
        services.create_worksheet(analyst, requests, method=cat["method"], instrument=cat["uncalibrated"])
    assert [snapshot(r) for r in requests] == before
    assert not Worksheet.objects.exists()


def test_a_worksheet_starts_every_request_on_one_set_up(cat, manager, analyst, officer, custodian):
    authorise(manager, analyst)
    requests = [
        services.assign(manager, request_of(receive(officer, custodian, number=f"BZ-TR-2026-08{n}")), analyst)
        for n in range(3)
    ]
    sheet = services.create_worksheet(
        analyst, requests, method=cat["method"], instrument=cat["instrument"], reagent_lots=[cat["lot"]]
    )
    exams = Examination.objects.filter(worksheet=sheet)
    assert exams.count() == 3
    assert {e.instrument_id for e in exams} == {cat["instrument"].pk}
    assert set(ServiceRequest.objects.filter(pk__in=[r.pk for r in requests]).values_list("status", flat=True)) == {
        RequestStatus.IN_PROGRESS
    }
