"""Death investigations through their services: logging a death, the body's custody, the autopsy record, samples,
the body's release, scoping, and every refusal (in words, with nothing saved)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from forensis.accounts.models import AgencyType
from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from forensis.deaths import body_custody, services
from forensis.deaths.models import AutopsyRecord, BodyRelease, DeathInvestigation
from forensis.evidence import services as evidence_services
from forensis.evidence.models import ItemStatus, LocationKind, Purpose, StorageLocation
from forensis.lab import services as lab_services
from forensis.lab.models import RequestStatus, ServiceRequest
from tests.deaths.conftest import ADMINISTRATIVE, GUNSHOT_AUTOPSY, POLICE_CASE, TECHNICAL, counts
from tests.lab.test_review_services import receive_toxicology_case

FUNERAL_HOME = {
    "receiver_kind": "funeral_home",
    "receiver_name": "Joe Doe",
    "identity_document": "SSN 000-123-456",
    "organisation": "Lord's Funeral Home",
    "acknowledged": True,
}


def refused(call, *args, **kwargs) -> ValidationError:
    """Call a service that must refuse; return the error after checking that nothing was saved."""
    before = counts()
    with pytest.raises(ValidationError) as error:
        call(*args, **kwargs)
    assert counts() == before
    return error.value


def messages_of(error: ValidationError) -> dict[str, list[str]]:
    return error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}


# --- logging a death ----------------------------------------------------------------------------------------


def test_log_death_opens_a_case_and_takes_the_body_from_the_scene(morgue, police, settings):
    investigation = morgue.logged()
    case, body = investigation.case, investigation.body
    assert (case.agency, case.agency_case_number, case.district) == (police, POLICE_CASE, "BZ")
    assert list(case.offences.values_list("code", flat=True)) == ["0101"]
    assert body.case == case and body.type == "body" and body.biological
    assert body.description == "Body of Jane Roe"
    assert investigation.number == f"{settings.FORENSIS_CASE_PREFIX}-ME-{timezone.localdate().year}-00001"
    assert investigation.scene_technician == morgue.scenetech  # the person logging it, being one
    assert investigation.logged_by == morgue.scenetech
    assert investigation.month == timezone.localtime(investigation.death_at).strftime("%Y-%m")
    assert investigation.age_group == "15-29"

    events = list(body.custody_events.order_by("sequence"))
    assert len(events) == 1
    scene = events[0]
    assert (scene.purpose, scene.released_by, scene.released_by_name, scene.received_by) == (
        Purpose.SCENE,
        None,
        "Scene",
        morgue.scenetech,
    )
    assert scene.location == "Back yard, 12 Cemetery Road" and scene.acknowledged_by_receiver
    body.refresh_from_db()
    assert body.holder == morgue.scenetech and body.status == ItemStatus.IN_CUSTODY

    logged = AuditEvent.objects.get(action="death.logged")
    assert (logged.actor_username, logged.object_id) == ("scenetech", str(investigation.pk))
    assert logged.after["number"] == investigation.number and logged.after["body"] == body.label
    assert logged.after["decedent_name"] == "Jane Roe" and logged.after["pathologist"] == "examiner"


def test_log_death_links_the_existing_case_of_the_same_police_case_number(morgue, officer):
    existing = receive_toxicology_case(officer, morgue.custodian, POLICE_CASE.lower()).case
    cases_before = type(existing).objects.count()
    investigation = morgue.logged()
    assert investigation.case == existing
    assert type(existing).objects.count() == cases_before
    assert investigation.body.label == f"{existing.lab_number}/02"  # after the blood sample already there


def test_the_same_number_from_another_agency_is_another_case(morgue, make_agency):
    first = morgue.logged()
    northern = make_agency(AgencyType.POLICE, code="POL-N", name="Northern Police")
    second = morgue.logged(agency=northern)
    assert second.case != first.case and second.case.agency == northern


@pytest.mark.parametrize(
    ("ages", "group"),
    [
        ({"age": 0}, "0-14"),
        ({"age": 14}, "0-14"),
        ({"age": 15}, "15-29"),
        ({"age": 44}, "30-44"),
        ({"age": 59}, "45-59"),
        ({"age": 60}, "60+"),
        ({"age": 120}, "60+"),
        ({"age": None, "age_min": 30, "age_max": 44}, "30-44"),  # a range inside one group
        ({"age": None, "age_min": 25, "age_max": 35}, "unknown"),  # a range across two groups
        ({"age": None, "age_min": 25}, "unknown"),  # an open range
        ({"age": None}, "unknown"),
    ],
)
def test_age_group_is_derived_from_the_age_or_a_range_inside_one_group(morgue, ages, group):
    assert morgue.logged(**ages).age_group == group


def test_month_is_that_of_the_discovery_when_the_date_of_death_is_unknown(morgue):
    discovered = timezone.now() - timedelta(days=200)
    investigation = morgue.logged(death_at=None, discovered_at=discovered)
    assert investigation.month == timezone.localtime(discovered).strftime("%Y-%m")


def test_an_unidentified_body_is_logged_under_its_tag(morgue):
    investigation = morgue.logged(identified=False, decedent_name="Someone", tag_number=" T-0913 ")
    assert (investigation.decedent_name, investigation.tag_number) == ("", "T-0913")
    assert investigation.decedent == "Unidentified (tag T-0913)"
    assert investigation.body.description == "Body of Unidentified (tag T-0913)"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"age": 121}, "age", "An age must be between 0 and 120 years."),
        ({"age": -1}, "age", "An age must be between 0 and 120 years."),
        ({"age": None, "age_min": 20, "age_max": 130}, "age_max", "An age must be between 0 and 120 years."),
        ({"age": None, "age_min": 40, "age_max": 30}, "age_max", "The estimated age range ends before it starts."),
        ({"age": 30, "age_min": 25, "age_max": 35}, "age", "Give either the age or an estimated range, not both."),
        ({"identified": False, "tag_number": " "}, "tag_number", "An unidentified body needs its tag number."),
        (
            {"identified": True, "decedent_name": "  "},
            "decedent_name",
            "Give the name of the deceased, or mark them unidentified.",
        ),
        ({"sex": "M", "pregnancy": "pregnant"}, "pregnancy", "A pregnancy status applies to women and girls only."),
        ({"sex": "M", "pregnancy": "postpartum"}, "pregnancy", "A pregnancy status applies to women and girls only."),
        ({"offence_codes": ["0101", "9999"]}, "offence_codes", "Unknown ICCS offence code: 9999."),
        ({"agency_case_number": "  "}, "agency_case_number", "Give the police case number."),
    ],
)
def test_bad_death_records_are_refused_in_words_and_nothing_is_saved(morgue, overrides, field, message):
    error = refused(morgue.logged, **overrides)
    assert message in messages_of(error)[field]


def test_dates_out_of_order_or_in_the_future_are_refused(morgue):
    now = timezone.now()
    for overrides, field, message in [
        (
            {"death_at": now - timedelta(hours=2), "discovered_at": now - timedelta(hours=5)},
            "death_at",
            "The death cannot come after the body was discovered.",
        ),
        ({"death_at": now + timedelta(days=1)}, "death_at", "The date of death is in the future."),
        (
            {"death_at": now - timedelta(days=1), "discovered_at": now + timedelta(hours=1)},
            "discovered_at",
            "The date of discovery is in the future.",
        ),
    ]:
        error = refused(morgue.logged, **overrides)
        assert messages_of(error)[field] == [message], overrides


def test_a_death_is_logged_for_an_active_police_agency_only(morgue, laboratory, prosecutors_agency, police):
    for agency in (laboratory, prosecutors_agency):
        error = refused(morgue.logged, agency=agency)
        assert messages_of(error)["agency"] == ["Choose an active police agency."]
    police.is_active = False
    police.save(update_fields=["is_active"])
    error = refused(morgue.logged, agency=police)
    assert messages_of(error)["agency"] == ["Choose an active police agency."]


@pytest.fixture
def prosecutors_agency(make_agency):
    return make_agency(AgencyType.PROSECUTOR, code="ODPP", name="Office of the DPP")


def test_all_problems_are_reported_at_once(morgue):
    error = refused(morgue.logged, decedent_name="", age=200, offence_codes=["1234"], sex="M", pregnancy="pregnant")
    assert {"decedent_name", "age", "offence_codes", "pregnancy"} <= set(error.message_dict)


def test_a_police_officer_cannot_log_a_death(morgue):
    before = counts()
    with pytest.raises(PermissionDenied):
        morgue.logged(actor=morgue.officer)
    assert counts() == before


# --- correcting the record ----------------------------------------------------------------------------------


def test_update_investigation_rederives_and_audits_the_change(morgue):
    investigation = morgue.logged(identified=False, decedent_name="", tag_number="T-77", age=None)
    updated = services.update_investigation(
        morgue.pathologist, investigation, identified=True, decedent_name="Ana Cruz", age_min=30, age_max=40
    )
    assert updated.decedent == "Ana Cruz" and updated.age_group == "30-44"
    event = AuditEvent.objects.get(action="death.updated")
    assert event.before == {"identified": False, "decedent_name": "", "age_min": None, "age_max": None}
    assert event.after == {"identified": True, "decedent_name": "Ana Cruz", "age_min": 30, "age_max": 40}
    assert event.actor_username == "examiner"


def test_update_investigation_refuses_bad_values_and_keeps_the_record(morgue):
    investigation = morgue.logged()
    for fields, field, message in [
        ({"age": 130}, "age", "An age must be between 0 and 120 years."),
        ({"identified": True, "decedent_name": ""}, "decedent_name", "Give the name of the deceased"),
        ({"sex": "M", "pregnancy": "pregnant"}, "pregnancy", "A pregnancy status applies to women and girls only."),
        ({"death_at": timezone.now() + timedelta(days=1)}, "death_at", "The date of death is in the future."),
        ({"pathologist": morgue.lab.analyst}, "pathologist", "Andre Flowers does not hold that role."),
    ]:
        error = refused(services.update_investigation, morgue.pathologist, investigation, **fields)
        assert any(message in text for text in error.message_dict[field])
    assert morgue.reload().age == 27 and morgue.investigation.decedent_name == "Jane Roe"


def test_the_date_of_death_cannot_be_moved_after_the_autopsy(morgue):
    now = timezone.now()
    morgue.logged(death_at=now - timedelta(days=10), discovered_at=now - timedelta(hours=1))
    autopsy_day = timezone.localdate() - timedelta(days=5)
    morgue.recorded(performed_on=autopsy_day)
    error = refused(
        services.update_investigation, morgue.pathologist, morgue.reload(), death_at=now - timedelta(days=2)
    )
    assert error.message_dict == {"death_at": [f"The date of death cannot come after the autopsy ({autopsy_day})."]}
    assert morgue.reload().death_at == now - timedelta(days=10)


def test_an_autopsy_dated_before_the_death_is_refused(morgue):
    now = timezone.now()
    morgue.logged(death_at=now - timedelta(days=3), discovered_at=now - timedelta(days=2))
    morgue.started()
    death_day = timezone.localtime(now - timedelta(days=3)).date()
    error = refused(
        services.record_autopsy,
        morgue.pathologist,
        morgue.reload(),
        performed_on=death_day - timedelta(days=1),
        **GUNSHOT_AUTOPSY,
    )
    assert error.message_dict == {"performed_on": [f"The autopsy cannot come before the death ({death_day})."]}
    error = refused(
        services.record_autopsy,
        morgue.pathologist,
        morgue.investigation,
        performed_on=timezone.localdate() + timedelta(days=1),
        **GUNSHOT_AUTOPSY,
    )
    assert error.message_dict == {"performed_on": ["The date of the autopsy is in the future."]}
    assert not AutopsyRecord.objects.exists()


def test_a_change_after_the_autopsy_report_is_out_needs_a_reason(morgue):
    morgue.recorded()
    morgue.released()
    error = refused(services.update_investigation, morgue.pathologist, morgue.reload(), nationality="Guatemalan")
    assert error.message_dict == {"reason": ["The autopsy report was released: give the reason for the change."]}
    services.update_investigation(
        morgue.pathologist, morgue.investigation, nationality="Guatemalan", reason="Passport found."
    )
    assert AuditEvent.objects.get(action="death.updated").reason == "Passport found."


# --- receiving the body at the morgue -----------------------------------------------------------------------


def test_receive_body_takes_custody_and_requests_the_autopsy_of_the_named_pathologist(morgue):
    morgue.logged()
    request = morgue.received()
    assert request.discipline.code == "pathology" and request.case == morgue.investigation.case
    assert list(request.items.all()) == [morgue.investigation.body]
    assert request.status == RequestStatus.ASSIGNED and request.assigned_to == morgue.pathologist
    assert services.autopsy_request(morgue.investigation) == request

    receipt = morgue.investigation.body.custody_events.get(sequence=2)
    assert (receipt.purpose, receipt.released_by, receipt.received_by) == (
        Purpose.RECEIPT,
        morgue.scenetech,
        morgue.pathologist,
    )
    assert receipt.acknowledged_by_releaser and receipt.acknowledged_by_receiver
    assert receipt.storage_location == morgue.cold_room and receipt.seal_status == "intact"
    assert receipt.condition == "Body bag sealed, tag legible"
    body = morgue.reload().body
    assert (body.holder, body.location) == (morgue.pathologist, morgue.cold_room)
    assert body.condition_at_receipt == "Body bag sealed, tag legible"
    event = AuditEvent.objects.get(action="death.body_received")
    assert event.after == {"body": body.label, "from": "scenetech", "location": morgue.cold_room.path}


def test_without_a_named_pathologist_the_autopsy_waits_for_assignment(morgue):
    morgue.logged(pathologist=None)
    request = morgue.received()
    assert request.status == RequestStatus.REQUESTED and request.assigned_to is None


def receive(morgue, **overrides):
    arguments = {
        "handed_over_by": morgue.scenetech,
        "confirmed_in_person": True,
        "location": morgue.cold_room,
        **overrides,
    }
    return body_custody.receive_body(morgue.pathologist, morgue.reload(), **arguments)


def test_the_holder_must_hand_the_body_over_and_confirm(morgue):
    morgue.logged()
    error = refused(receive, morgue, handed_over_by=morgue.custodian)
    assert error.message_dict == {"handed_over_by": ["The body is held by Sam Tech: they must hand it over."]}
    error = refused(receive, morgue, confirmed_in_person=False)
    assert error.message_dict == {"password": ["The person handing over the body must confirm with their password."]}
    assert morgue.reload().body.holder == morgue.scenetech


def test_a_body_is_received_once(morgue):
    morgue.logged()
    morgue.received()
    error = refused(receive, morgue)
    assert error.messages == [f"The body of {morgue.investigation.number} was already received at the morgue."]
    assert ServiceRequest.objects.filter(discipline__code="pathology").count() == 1


def test_a_restricted_or_full_location_is_refused(morgue):
    vault = evidence_services.save_location(
        morgue.manager, None, name="Restricted drawer", kind=LocationKind.ROOM, restricted=True
    )
    morgue.logged()
    error = refused(receive, morgue, location=vault)
    assert error.messages == ["Restricted drawer is restricted: Mara Pech is not one of its authorised custodians."]

    single = evidence_services.save_location(
        morgue.manager, None, name="Single drawer", kind=LocationKind.ROOM, capacity=1
    )
    receive(morgue, location=single)  # the first body fills it
    morgue.logged(agency_case_number="BZ-HOM-2026-0043", decedent_name="John Roe", sex="M")
    error = refused(receive, morgue, location=single)
    assert error.messages == ["Single drawer holds at most 1 items; it has 1."]
    assert StorageLocation.objects.get(pk=single.pk).items.count() == 1


def test_only_the_morgue_receives_bodies(morgue):
    morgue.logged()
    before = counts()
    with pytest.raises(PermissionDenied):
        body_custody.receive_body(
            morgue.lab.analyst,
            morgue.investigation,
            handed_over_by=morgue.scenetech,
            confirmed_in_person=True,
            location=morgue.cold_room,
        )
    assert counts() == before


# --- the autopsy record ------------------------------------------------------------------------------------


def test_record_autopsy_normalises_codes_and_audits_what_changed(morgue):
    morgue.started()
    autopsy = services.record_autopsy(
        morgue.pathologist,
        morgue.reload(),
        performed_on=timezone.localdate(),
        **{
            **GUNSHOT_AUTOPSY,
            "immediate_cause": "  Subdural haemorrhage ",
            "immediate_icd10": " s065",
            "antecedent_icd10": "s21.1",
            "underlying_icd10": "x93",
        },
    )
    autopsy.refresh_from_db()
    assert (autopsy.immediate_icd10, autopsy.antecedent_icd10, autopsy.underlying_icd10) == ("S06.5", "S21.1", "X93")
    assert autopsy.immediate_cause == "Subdural haemorrhage"
    assert autopsy.examination == morgue.autopsy_request().examination
    recorded = AuditEvent.objects.get(action="autopsy.recorded")
    assert recorded.before is None and recorded.after["immediate_icd10"] == "S06.5"
    assert recorded.after["manner"] == "homicide" and recorded.actor_username == "examiner"

    # Before any review, a correction is made in place; the audit log keeps the earlier values.
    services.record_autopsy(
        morgue.pathologist,
        morgue.investigation,
        performed_on=timezone.localdate(),
        **{
            **GUNSHOT_AUTOPSY,
            "immediate_cause": "Subdural haemorrhage",
            "immediate_icd10": "S06.5",
            "manner": "undetermined",
        },
    )
    updated = AuditEvent.objects.get(action="autopsy.updated")
    assert updated.before == {"manner": "homicide"} and updated.after == {"manner": "undetermined"}
    assert AutopsyRecord.objects.get().manner == "undetermined"
    # The same values again change nothing and log nothing.
    services.record_autopsy(
        morgue.pathologist,
        morgue.investigation,
        performed_on=timezone.localdate(),
        **{
            **GUNSHOT_AUTOPSY,
            "immediate_cause": "Subdural haemorrhage",
            "immediate_icd10": "S06.5",
            "manner": "undetermined",
        },
    )
    assert AuditEvent.objects.filter(action__startswith="autopsy.").count() == 2


@pytest.mark.parametrize(
    ("code", "shown"),
    [("Z99.99", "Z99.99"), ("X85-Y09", "X85-Y09"), ("XX", "XX"), ("s0", "S0"), ("R58.9", "R58.9")],
)
def test_a_code_not_in_the_who_list_is_refused(morgue, code, shown):
    morgue.started()
    error = refused(
        services.record_autopsy,
        morgue.pathologist,
        morgue.reload(),
        performed_on=timezone.localdate(),
        **{**GUNSHOT_AUTOPSY, "underlying_icd10": code},
    )
    assert error.message_dict == {
        "underlying_icd10": [f"{shown} is not an ICD-10 code (WHO 2019 list). Use a category such as X95 or S06.5."]
    }


def test_other_bad_autopsy_records_are_refused_in_words(morgue):
    morgue.started()
    for overrides, field, message in [
        ({"mechanism": ""}, "mechanism", "A homicide needs its mechanism (firearm, sharp object, …)."),
        ({"type": "partial"}, "type", "Choose a full autopsy or an external examination."),
        ({"manner": "murder"}, "manner", "Choose a manner of death."),
        ({"antecedent_cause": ""}, "antecedent_cause", "Describe the cause in words as well as its code."),
    ]:
        error = refused(
            services.record_autopsy,
            morgue.pathologist,
            morgue.reload(),
            performed_on=timezone.localdate(),
            **{**GUNSHOT_AUTOPSY, **overrides},
        )
        assert error.message_dict == {field: [message]}, overrides


def test_only_the_assigned_pathologist_records_the_autopsy_while_it_is_in_progress(morgue):
    morgue.logged()
    morgue.received()
    arguments = {"performed_on": timezone.localdate(), **GUNSHOT_AUTOPSY}
    # Not started yet.
    error = refused(services.record_autopsy, morgue.pathologist, morgue.reload(), **arguments)
    assert "this step is not possible now" in error.messages[0]
    lab_services.start_examination(morgue.pathologist, morgue.autopsy_request(), method=morgue.method)
    for other in (morgue.second_pathologist, morgue.manager, morgue.lab.analyst):
        before = counts()
        with pytest.raises(PermissionDenied):
            services.record_autopsy(other, morgue.investigation, **arguments)
        assert counts() == before


def test_before_the_body_arrives_there_is_no_autopsy_to_record(morgue):
    morgue.logged()
    error = refused(
        services.record_autopsy,
        morgue.pathologist,
        morgue.investigation,
        performed_on=timezone.localdate(),
        **GUNSHOT_AUTOPSY,
    )
    assert error.messages == ["The body has not been received at the morgue."]


def test_a_change_after_a_technical_review_needs_a_reason(morgue):
    morgue.recorded()
    morgue.signed()
    morgue.approve(morgue.second_pathologist, TECHNICAL)
    request = morgue.autopsy_request()
    lab_services.review(morgue.manager, request, stage=ADMINISTRATIVE, approve=False, reason="Mechanism is wrong.")
    changed = {"performed_on": timezone.localdate(), **GUNSHOT_AUTOPSY, "mechanism": "sharp_object"}
    error = refused(services.record_autopsy, morgue.pathologist, morgue.reload(), **changed)
    assert error.message_dict == {"reason": ["This autopsy was reviewed: give the reason for the change."]}
    services.record_autopsy(morgue.pathologist, morgue.investigation, reason="Stab wound, not gunshot.", **changed)
    event = AuditEvent.objects.get(action="autopsy.updated")
    assert (event.before, event.after, event.reason) == (
        {"mechanism": "firearm"},
        {"mechanism": "sharp_object"},
        "Stab wound, not gunshot.",
    )


def test_a_technical_send_back_lets_the_pathologist_correct_without_a_reason(morgue):
    morgue.recorded()
    request = morgue.signed()
    lab_services.review(morgue.second_pathologist, request, stage=TECHNICAL, approve=False, reason="Check X93.")
    services.record_autopsy(
        morgue.pathologist,
        morgue.reload(),
        performed_on=timezone.localdate(),
        **{**GUNSHOT_AUTOPSY, "underlying_icd10": "X94"},
    )
    assert AutopsyRecord.objects.get().underlying_icd10 == "X94"


# --- signing the autopsy ------------------------------------------------------------------------------------


def test_the_autopsy_cannot_be_signed_before_it_is_recorded(morgue):
    request = morgue.started()
    with pytest.raises(ValidationError) as error:
        lab_services.complete_draft(morgue.pathologist, request, reauthenticated=True)
    assert error.value.messages == ["Record the autopsy first."]
    assert morgue.autopsy_request().status == RequestStatus.IN_PROGRESS


def test_the_autopsy_cannot_be_signed_without_its_immediate_cause(morgue):
    morgue.recorded(immediate_cause="", immediate_icd10="")
    with pytest.raises(ValidationError) as error:
        lab_services.complete_draft(morgue.pathologist, morgue.autopsy_request(), reauthenticated=True)
    assert error.value.messages == ["Record the immediate cause of death with its ICD-10 code."]
    assert morgue.autopsy_request().status == RequestStatus.IN_PROGRESS
    services.record_autopsy(morgue.pathologist, morgue.reload(), performed_on=timezone.localdate(), **GUNSHOT_AUTOPSY)
    assert morgue.signed().status == RequestStatus.DRAFT_COMPLETE


def test_an_autopsy_may_be_saved_before_its_findings_are_written_but_not_signed(morgue):
    morgue.recorded(findings="")
    with pytest.raises(ValidationError) as error:
        lab_services.complete_draft(morgue.pathologist, morgue.autopsy_request(), reauthenticated=True)
    assert error.value.messages == ["Summarise the findings."]
    assert morgue.autopsy_request().status == RequestStatus.IN_PROGRESS


# --- samples taken at autopsy -------------------------------------------------------------------------------


def test_take_sample_derives_a_sub_item_and_a_child_request(morgue):
    autopsy_request = morgue.started()
    child = morgue.sampled()
    body = morgue.investigation.body
    sample = child.items.get()
    assert sample.label == f"{body.label}.1" and sample.parent == body and sample.type == "blood"
    assert sample.description == "Femoral blood, grey-top tube" and sample.holder == morgue.pathologist
    assert (child.discipline.code, child.parent, child.case, child.status) == (
        "toxicology",
        autopsy_request,
        body.case,
        RequestStatus.REQUESTED,
    )
    derivation = sample.custody_events.get()
    assert derivation.purpose == Purpose.DERIVATION
    assert derivation.note == f"Taken at autopsy {morgue.investigation.number} for Toxicology"
    second = morgue.sampled("Vitreous humour")
    assert second.items.get().label == f"{body.label}.2"
    assert list(services.ancillary_requests(morgue.investigation)) == [child, second]


def test_a_sample_for_pathology_itself_is_refused(morgue):
    morgue.started()
    error = refused(
        services.take_sample,
        morgue.pathologist,
        morgue.reload(),
        discipline=morgue.pathology,
        type="tissue",
        description="Liver",
    )
    assert error.message_dict == {"discipline": ["Choose the laboratory section that will test the sample."]}


def test_only_the_pathologist_takes_samples(morgue):
    morgue.started()
    before = counts()
    with pytest.raises(PermissionDenied):
        services.take_sample(
            morgue.second_pathologist, morgue.reload(), discipline=morgue.lab.toxicology, type="blood", description="x"
        )
    assert counts() == before


# --- releasing the body -------------------------------------------------------------------------------------


def release(morgue, actor=None, **overrides):
    return body_custody.release_body(actor or morgue.custodian, morgue.reload(), **{**FUNERAL_HOME, **overrides})


def test_the_body_stays_until_the_autopsy_is_signed(morgue):
    morgue.logged()
    error = refused(release, morgue)
    assert error.messages == ["The body has not been received at the morgue."]
    morgue.recorded()
    error = refused(release, morgue)
    assert error.messages == ["The autopsy is not signed yet: the body stays until the pathologist signs it."]
    morgue.signed()
    assert release(morgue).receiver_name == "Joe Doe"


def test_a_body_whose_released_autopsy_is_being_amended_may_still_be_released(morgue):
    morgue.recorded()
    morgue.released()
    from forensis.reports.services import request_amendment

    request_amendment(morgue.manager, morgue.autopsy_request().reports.first(), "Manner revised after investigation")
    assert morgue.autopsy_request().status == RequestStatus.IN_PROGRESS
    assert release(morgue).receiver_name == "Joe Doe"


def test_a_record_can_be_corrected_after_its_pathologist_left(morgue):
    morgue.logged()
    morgue.pathologist.groups.clear()
    services.update_investigation(morgue.scenetech, morgue.reload(), nationality="Guatemalan")
    assert morgue.reload().nationality == "Guatemalan"
    error = refused(services.update_investigation, morgue.scenetech, morgue.reload(), pathologist=morgue.scenetech)
    assert messages_of(error)["pathologist"] == ["Sam Tech does not hold that role."]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"organisation": " "}, "organisation", "Name the funeral home."),
        ({"receiver_kind": "family", "relationship": ""}, "relationship", "Give their relationship to the deceased."),
        ({"acknowledged": False}, "acknowledged", "The person collecting must sign the release form first."),
        ({"receiver_name": ""}, "receiver_name", "Give the name of the person collecting the body."),
        ({"identity_document": " "}, "identity_document", "Record the identity document of the person collecting"),
        ({"receiver_kind": "friend"}, "receiver_kind", "Choose a funeral home or the family."),
    ],
)
def test_an_incomplete_release_is_refused(morgue, overrides, field, message):
    morgue.recorded()
    morgue.signed()
    error = refused(release, morgue, **overrides)
    assert len(error.message_dict[field]) == 1 and message in error.message_dict[field][0]
    assert morgue.reload().body.status == ItemStatus.IN_CUSTODY


def test_release_body_hands_the_body_over_once(morgue):
    morgue.recorded()
    morgue.released()
    done = release(morgue, receiver_kind="family", receiver_name=" Maria Roe ", relationship="Mother", organisation="")
    body = morgue.reload().body
    assert body.status == ItemStatus.RELEASED and body.holder is None
    event = done.custody_event
    assert (event.purpose, event.released_by, event.received_by, event.received_by_name) == (
        Purpose.BODY_RELEASE,
        morgue.custodian,
        None,
        "Maria Roe (Mother)",
    )
    assert event.note == "ID: SSN 000-123-456" and event.sequence == body.custody_sequence
    assert BodyRelease.objects.get() == done
    assert (done.receiver_kind, done.receiver_name, done.relationship, done.released_by) == (
        "family",
        "Maria Roe",
        "Mother",
        morgue.custodian,
    )
    audit = AuditEvent.objects.get(action="death.body_released")
    assert audit.after == {"body": body.label, "to": "Maria Roe", "kind": "family", "via": "Mother"}

    when = timezone.localtime(done.released_at).strftime("%Y-%m-%d %H:%M")
    error = refused(release, morgue)
    assert error.messages == [f"The body of {morgue.investigation.number} was already released to Maria Roe on {when}."]


def test_a_body_on_legal_hold_is_not_released(morgue):
    morgue.recorded()
    morgue.signed()
    evidence_services.set_legal_hold(morgue.custodian, morgue.reload().body, True, "Court order 12/2026")
    error = refused(release, morgue)
    assert error.messages == [f"Item {morgue.investigation.body.label} is on legal hold (Court order 12/2026)."]


def test_the_pathologist_holding_the_body_may_release_it(morgue):
    morgue.recorded()
    morgue.signed()
    assert release(morgue, actor=morgue.pathologist).released_by == morgue.pathologist


def test_people_without_the_release_permission_are_refused(morgue):
    morgue.recorded()
    morgue.signed()
    for person in (morgue.lab.analyst, morgue.scenetech, morgue.officer):
        before = counts()
        with pytest.raises(PermissionDenied):
            release(morgue, actor=person)
        assert counts() == before


# --- scoping ------------------------------------------------------------------------------------------------


def test_an_agency_sees_its_own_deaths_only(morgue, officer, other_officer, make_user, police):
    investigation = morgue.logged()
    assert list(services.visible_investigations(officer)) == [investigation]
    assert list(services.visible_investigations(morgue.manager)) == [investigation]
    assert not services.visible_investigations(other_officer).exists()
    statistician = make_user(Role.STATISTICIAN, agency=police)
    assert not services.visible_investigations(statistician).exists()
    assert not services.pending_manner(statistician).exists()


def test_a_person_who_cannot_see_the_death_cannot_change_or_release_it(morgue, other_officer):
    morgue.recorded()
    morgue.signed()
    # Give the other agency's officer the morgue's permissions: the scope alone must refuse them.
    for role in (Role.SCENE_TECHNICIAN, Role.EVIDENCE_CUSTODIAN):
        other_officer.groups.add(role.group())
    outsider = type(other_officer).objects.get(pk=other_officer.pk)
    assert outsider.has_perm("deaths.change_deathinvestigation") and outsider.has_perm("deaths.release_body")
    before = counts()
    with pytest.raises(PermissionDenied):
        services.update_investigation(outsider, morgue.reload(), nationality="Mexican", reason="x")
    with pytest.raises(PermissionDenied):
        release(morgue, actor=outsider)
    assert counts() == before
    assert morgue.reload().nationality == "Belizean"


# --- follow-up lists and the framework ---------------------------------------------------------------------


def test_pending_manner_lists_deaths_without_a_known_manner_oldest_first(morgue):
    not_examined = morgue.logged(agency_case_number="BZ-1")
    morgue.logged(agency_case_number="BZ-2", decedent_name="Homicide Victim")
    morgue.recorded()
    pending = morgue.logged(agency_case_number="BZ-3", decedent_name="Pending Victim")
    morgue.recorded(manner="pending", mechanism="")
    later = morgue.logged(agency_case_number="BZ-4", decedent_name="Later")
    listed = list(services.pending_manner(morgue.pathologist))
    assert listed == [not_examined, pending, later]
    # Default ordering is newest first: the follow-up list is explicitly oldest first.
    assert list(DeathInvestigation.objects.all())[0] == later


def test_gender_related_follows_the_framework(morgue):
    partner = morgue.logged()
    assert partner.gender_related is None  # no autopsy yet
    morgue.recorded()
    assert morgue.reload().gender_related is True

    stranger = morgue.logged(agency_case_number="BZ-2", relationship="stranger", prior_violence="unknown")
    morgue.recorded()
    assert morgue.reload().gender_related is False
    services.update_investigation(morgue.pathologist, stranger, mutilation="yes")
    assert morgue.reload().gender_related is True

    morgue.logged(agency_case_number="BZ-3", sex="M", decedent_name="John Roe")
    morgue.recorded()
    assert morgue.reload().gender_related is None

    morgue.logged(agency_case_number="BZ-4")
    morgue.recorded(
        manner="suicide", underlying_cause="Intentional self-harm by handgun discharge", underlying_icd10="X72"
    )
    assert morgue.reload().gender_related is None

    morgue.logged(agency_case_number="BZ-5")
    morgue.recorded(manner="pending", mechanism="")
    assert morgue.reload().gender_related is None
