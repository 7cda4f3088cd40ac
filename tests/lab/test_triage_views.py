"""The lab manager's screens: the triage board and the catalogue, who may open them, and what they change."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from forensis.intake import services as intake
from forensis.lab import services
from forensis.lab.models import (
    Authorization,
    ChecklistQuestion,
    Discipline,
    Instrument,
    Method,
    Priority,
    ReagentLot,
    RequestStatus,
    ReviewStage,
    ServiceRequest,
)

TRIAGE = reverse("lab:triage")
CATALOGUE_PAGES = ["lab:methods", "lab:instruments", "lab:reagent_lots", "lab:checklists", "lab:authorizations"]
YEAR = timedelta(days=365)


def text(response) -> str:
    return html.unescape(response.content.decode())


def receive(officer, custodian, disciplines=("serology",), agency_case_number="BZ-CR-2026-0042") -> list:
    """A case received through the intake services; its service requests (one per discipline)."""
    submission = intake.create_submission(officer)
    intake.update_submission(
        officer,
        submission,
        fields={
            "agency_case_number": agency_case_number,
            "offence_codes": ["0101"],
            "district": "BZ",
            "town": "Belize City",
            "incident_at": timezone.now() - timedelta(days=1),
        },
        people=[],
        items=[
            intake.ItemData(
                {"type": "clothing", "description": "Blue T-shirt", "quantity": 1, "seal_number": "S-1"},
                list(Discipline.objects.filter(code__in=disciplines)),
            )
        ],
    )
    submission = intake.submit_submission(officer, submission)
    checks = {i.pk: intake.ItemCheck() for i in submission.items.all()}
    case = intake.receive_submission(custodian, submission, checks=checks, handed_over_by=officer)
    return list(case.requests.order_by("discipline__name"))


@pytest.fixture
def serology():
    return Discipline.objects.get(code="serology")


@pytest.fixture
def manager(make_user):
    return make_user(Role.LAB_MANAGER, username="manager", first_name="Marcus", last_name="Young")


@pytest.fixture
def custodian(make_user):
    return make_user(Role.EVIDENCE_CUSTODIAN, username="custodian")


@pytest.fixture
def analyst(make_user, manager, serology):
    user = make_user(Role.ANALYST, username="analyst", first_name="Andre", last_name="Flowers")
    today = timezone.localdate()
    services.grant_authorization(manager, user, serology, valid_from=today - YEAR, valid_until=today + YEAR)
    return user


@pytest.fixture
def request_(officer, custodian):
    return receive(officer, custodian)[0]


@pytest.fixture
def manager_client(signed_in, manager):
    return signed_in(manager)


def assign(client, service_request, analyst, **query):
    return client.post(
        reverse("lab:triage") + (f"?discipline={query['discipline']}" if query else ""),
        {"action": "assign", "request": service_request.pk, f"assign-{service_request.pk}-analyst": analyst.pk},
    )


# --- who may open the screens -------------------------------------------------------------------------


def test_board_shows_the_waiting_request_with_the_authorised_analysts(manager_client, request_, analyst, make_user):
    make_user(Role.REVIEWER, username="reviewer")  # not an examiner: never offered, even when authorised
    page = text(manager_client.get(TRIAGE))
    assert 'data-testid="discipline-serology"' in page
    row = page.split(f'data-testid="request-{request_.pk}"')[1].split("</tr>")[0]
    assert request_.case.lab_number in row and "Intentional homicide" in row
    assert request_.items.get().label in row
    assert "0 days" in row and "Routine" in row
    assert "Andre Flowers — 0 open" in row
    assert "reviewer" not in row
    assert "1 request waiting for an analyst" in page


@pytest.mark.parametrize("role", [Role.ANALYST, Role.STATISTICIAN, Role.REVIEWER, Role.EVIDENCE_CUSTODIAN])
def test_board_is_forbidden_to_other_roles(signed_in, make_user, request_, role, analyst):
    client = signed_in(make_user(role))
    assert client.get(TRIAGE).status_code == 403
    assert assign(client, request_, analyst).status_code == 403
    request_.refresh_from_db()
    assert request_.status == RequestStatus.REQUESTED


@pytest.mark.parametrize("who", ["officer", "other_officer"])
def test_agency_officers_get_no_lab_screen(signed_in, request, request_, analyst, who):
    """Officers, of the case's agency or another, open none of the lab manager's screens nor post to them."""
    client = signed_in(request.getfixturevalue(who))
    for name in ["lab:triage", *CATALOGUE_PAGES]:
        assert client.get(reverse(name)).status_code in (403, 404), name
    method = services.save_catalogue_entry(
        None, Method, discipline=request_.discipline, code="SER-X", name="X", version="1", effective_from="2026-01-01"
    )
    assert client.get(reverse("lab:method", args=[method.pk])).status_code in (403, 404)
    assert assign(client, request_, analyst).status_code in (403, 404)
    assert client.post(reverse("lab:methods"), {"code": "SER-Y"}).status_code in (403, 404)
    request_.refresh_from_db()
    assert request_.status == RequestStatus.REQUESTED and not Method.objects.filter(code="SER-Y").exists()


@pytest.mark.parametrize("role", [Role.ANALYST, Role.REVIEWER, Role.STATISTICIAN])
@pytest.mark.parametrize("name", CATALOGUE_PAGES)
def test_catalogue_pages_are_forbidden_without_manage_catalogue(signed_in, make_user, role, name):
    assert signed_in(make_user(role)).get(reverse(name)).status_code == 403


@pytest.mark.parametrize("name", CATALOGUE_PAGES)
def test_catalogue_pages_open_for_manager_and_administrator(signed_in, manager, admin_user, name):
    for user in (manager, admin_user):
        assert signed_in(user).get(reverse(name)).status_code == 200


# --- assigning ----------------------------------------------------------------------------------------


def test_assigning_an_authorised_analyst_moves_the_request_to_assigned(manager_client, request_, analyst):
    response = assign(manager_client, request_, analyst)
    assert response.status_code == 302 and response.url == TRIAGE
    request_.refresh_from_db()
    assert request_.status == RequestStatus.ASSIGNED and request_.assigned_to == analyst
    assert AuditEvent.objects.filter(action="request.assigned", object_id=str(request_.pk)).exists()
    page = text(manager_client.get(TRIAGE))
    assert 'data-testid="discipline-serology"' not in page and 'data-testid="no-unassigned"' in page
    assigned = page.split('data-testid="assigned-requests"')[1]
    assert f'data-testid="request-{request_.pk}"' in assigned and "Reassign" in assigned
    assert "Andre Flowers — 1 open" in assigned
    assert f"{request_} assigned to Andre Flowers." in page


def test_reassigning_before_the_work_starts(manager_client, manager, request_, analyst, make_user, serology):
    services.assign(manager, request_, analyst)
    other = make_user(Role.ANALYST, first_name="Beth", last_name="Ack")
    today = timezone.localdate()
    services.grant_authorization(manager, other, serology, valid_from=today, valid_until=today + YEAR)
    assert assign(manager_client, request_, other).status_code == 302
    request_.refresh_from_db()
    assert request_.assigned_to == other


def test_the_filter_keeps_one_discipline_and_survives_an_action(manager_client, officer, custodian, analyst, serology):
    requests = receive(officer, custodian, disciplines=("serology", "toxicology"))
    page = text(manager_client.get(TRIAGE, {"discipline": serology.pk}))
    assert 'data-testid="discipline-serology"' in page and 'data-testid="discipline-toxicology"' not in page
    serology_request = next(r for r in requests if r.discipline == serology)
    response = assign(manager_client, serology_request, analyst, discipline=serology.pk)
    assert response.url == f"{TRIAGE}?discipline={serology.pk}"


@pytest.mark.parametrize("case", ["unauthorised", "expired", "revoked"])
def test_assigning_without_a_valid_authorisation_is_refused_with_the_reason(
    manager_client, manager, request_, make_user, serology, case
):
    person = make_user(Role.ANALYST, first_name="Una", last_name="Thorised")
    today = timezone.localdate()
    if case == "expired":
        services.grant_authorization(
            manager, person, serology, valid_from=today - 2 * YEAR, valid_until=today - timedelta(days=3)
        )
    if case == "revoked":
        granted = services.grant_authorization(manager, person, serology, valid_from=today, valid_until=today + YEAR)
        services.revoke_authorization(manager, granted, "Failed proficiency test")
    events = AuditEvent.objects.count()

    response = assign(manager_client, request_, person)

    assert response.status_code == 200
    page = text(response)
    alert = page.split('data-testid="triage-error"')[1].split("</div>")[0]
    assert "Nothing was changed." in alert
    if case == "expired":
        assert f"Una Thorised's authorisation for Serology expired on {today - timedelta(days=3)}" in alert
    else:
        assert "Una Thorised is not authorised for Serology." in alert
    assert "Una Thorised" not in page.split('data-testid="assign-analyst"')[1].split("</select>")[0]
    request_.refresh_from_db()
    assert request_.status == RequestStatus.REQUESTED and request_.assigned_to is None
    assert request_.assigned_at is None and not request_.transitions.exists()
    assert AuditEvent.objects.count() == events


def test_a_discipline_without_authorised_analysts_says_so(manager_client, request_):
    page = text(manager_client.get(TRIAGE))
    assert 'data-testid="no-analyst"' in page


def test_an_unknown_action_or_request_is_not_found(manager_client, request_, analyst):
    assert manager_client.post(TRIAGE, {"action": "delete", "request": request_.pk}).status_code == 404
    assert manager_client.post(TRIAGE, {"action": "assign", "request": "x"}).status_code == 404
    assert manager_client.post(TRIAGE, {"action": "assign", "request": 999999}).status_code == 404


def test_a_refusal_for_a_request_off_the_board_is_still_shown(manager_client, manager, request_, analyst):
    services.cancel(manager, request_, "Duplicate request")
    response = assign(manager_client, request_, analyst)
    assert response.status_code == 200
    assert "this step is not possible now" in text(response).split('data-testid="triage-error"')[1]


# --- priority, court date, age, cancelling ------------------------------------------------------------


def test_priority_and_court_date_are_saved_and_shown(manager_client, request_):
    court = timezone.localdate() + timedelta(days=5)
    response = manager_client.post(
        TRIAGE,
        {
            "action": "priority",
            "request": request_.pk,
            f"priority-{request_.pk}-priority": Priority.RUSH,
            f"priority-{request_.pk}-court_date": court.isoformat(),
        },
    )
    assert response.status_code == 302
    request_.refresh_from_db()
    assert request_.priority == Priority.RUSH and request_.court_date == court
    event = AuditEvent.objects.get(action="request.prioritised", object_id=str(request_.pk))
    assert event.before["priority"] == Priority.ROUTINE
    row = text(manager_client.get(TRIAGE)).split(f'data-testid="request-{request_.pk}"')[1].split("</tr>")[0]
    assert "Rush" in row
    assert '<span class="badge text-bg-danger" data-testid="court-date"' in row and court.isoformat() in row


def test_a_distant_court_date_is_not_highlighted_and_old_requests_are_red(manager_client, manager, request_):
    court = timezone.localdate() + timedelta(days=60)
    services.set_priority(manager, request_, priority=Priority.HIGH, court_date=court)
    ServiceRequest.objects.filter(pk=request_.pk).update(requested_at=timezone.now() - timedelta(days=40))
    row = text(manager_client.get(TRIAGE)).split(f'data-testid="request-{request_.pk}"')[1].split("</tr>")[0]
    assert f'<span class="" data-testid="court-date">{court.isoformat()}</span>' in row
    assert 'text-bg-danger" data-testid="age">40 days' in row


def test_an_invalid_priority_changes_nothing(manager_client, request_):
    response = manager_client.post(
        TRIAGE, {"action": "priority", "request": request_.pk, f"priority-{request_.pk}-priority": "9"}
    )
    assert response.status_code == 200 and 'data-testid="triage-error"' in text(response)
    request_.refresh_from_db()
    assert request_.priority == Priority.ROUTINE


def test_cancelling_needs_a_reason(manager_client, request_):
    response = manager_client.post(
        TRIAGE, {"action": "cancel", "request": request_.pk, f"cancel-{request_.pk}-reason": "  "}
    )
    assert response.status_code == 200
    assert "Give the reason for cancelling." in text(response)
    request_.refresh_from_db()
    assert request_.status == RequestStatus.REQUESTED

    response = manager_client.post(
        TRIAGE,
        {"action": "cancel", "request": request_.pk, f"cancel-{request_.pk}-reason": "Police withdrew the request"},
    )
    assert response.status_code == 302
    request_.refresh_from_db()
    assert request_.status == RequestStatus.CANCELLED and request_.cancel_reason == "Police withdrew the request"
    assert AuditEvent.objects.get(action="request.cancelled", object_id=str(request_.pk)).reason == (
        "Police withdrew the request"
    )
    assert f'data-testid="request-{request_.pk}"' not in text(manager_client.get(TRIAGE))


# --- the catalogue ------------------------------------------------------------------------------------


def test_an_instrument_out_of_calibration_shows_as_such(signed_in, manager, serology):
    today = timezone.localdate()
    late = services.save_catalogue_entry(
        manager, Instrument, name="Old GC", serial_number="OLD-1", calibration_due=today - timedelta(days=2)
    )
    soon = services.save_catalogue_entry(
        manager, Instrument, name="Soon GC", serial_number="SOON-1", calibration_due=today + timedelta(days=10)
    )
    fine = services.save_catalogue_entry(
        manager, Instrument, name="New GC", serial_number="NEW-1", calibration_due=today + timedelta(days=200)
    )
    page = text(signed_in(manager).get(reverse("lab:instruments")))

    def row(entry):
        return page.split(f'data-testid="instrument-{entry.pk}"')[1].split("</tr>")[0]

    assert "text-bg-danger" in row(late) and "Out of calibration" in row(late)
    assert "text-bg-warning" in row(soon) and "Out of calibration" not in row(soon)
    assert 'data-testid="due-badge"' not in row(fine)


def test_an_expired_lot_shows_as_expired(signed_in, manager):
    lot = services.save_catalogue_entry(
        manager, ReagentLot, reagent="Ethanol control", lot_number="EC-1", expiry=timezone.localdate() - timedelta(1)
    )
    page = text(signed_in(manager).get(reverse("lab:reagent_lots")))
    row = page.split(f'data-testid="lot-{lot.pk}"')[1].split("</tr>")[0]
    assert "text-bg-danger" in row and "Expired" in row


def test_creating_a_method_and_a_new_version_through_the_page(signed_in, manager, serology):
    client = signed_in(manager)
    data = {
        "discipline": serology.pk,
        "code": "SER-KM",
        "name": "Kastle-Meyer test",
        "version": "1.0",
        "effective_from": "2025-01-01",
        "is_active": "on",
    }
    assert client.post(reverse("lab:methods"), data).status_code == 302
    first = Method.objects.get(code="SER-KM")
    assert AuditEvent.objects.filter(action="method.created", object_id=str(first.pk)).exists()

    page = text(client.get(reverse("lab:methods"), {"copy": first.pk}))
    assert 'value="SER-KM"' in page and 'value="Kastle-Meyer test"' in page
    assert f'value="{timezone.localdate().isoformat()}"' in page

    again = client.post(reverse("lab:methods"), data)  # the same code and version twice: refused
    assert again.status_code == 200 and "already exists" in text(again)
    assert Method.objects.filter(code="SER-KM").count() == 1

    assert (
        client.post(reverse("lab:methods"), {**data, "version": "2.0", "effective_from": "2026-01-01"}).status_code
        == 302
    )
    assert set(Method.objects.filter(code="SER-KM").values_list("version", flat=True)) == {"1.0", "2.0"}
    section = text(client.get(reverse("lab:methods"))).split('data-testid="methods-serology"')[1].split("</section>")[0]
    assert "v1.0" in section and "v2.0" in section

    # Retiring the old version: an edit of name, date and "in use" only (code and version stay)
    response = client.post(
        reverse("lab:method", args=[first.pk]),
        {"name": "Kastle-Meyer test", "effective_from": "2025-01-01", "code": "HACK", "version": "9"},
    )
    assert response.status_code == 302
    first.refresh_from_db()
    assert not first.is_active and first.code == "SER-KM" and first.version == "1.0"
    event = AuditEvent.objects.get(action="method.updated", object_id=str(first.pk))
    assert event.before["is_active"] is True and event.after["is_active"] is False


def test_creating_and_editing_an_instrument_through_the_page(signed_in, manager, serology):
    client = signed_in(manager)
    data = {
        "name": "Microscope",
        "serial_number": "MIC-1",
        "discipline": serology.pk,
        "calibration_due": "2030-01-01",
        "maintenance_due": "",
        "is_active": "on",
    }
    assert client.post(reverse("lab:instruments"), data).status_code == 302
    instrument = Instrument.objects.get(serial_number="MIC-1")
    assert AuditEvent.objects.filter(action="instrument.created", object_id=str(instrument.pk)).exists()

    duplicate = client.post(reverse("lab:instruments"), {**data, "name": "Other"})
    assert duplicate.status_code == 200 and "already exists" in text(duplicate)
    assert Instrument.objects.count() == 1

    edit = reverse("lab:instrument", args=[instrument.pk])
    assert 'value="2030-01-01"' in text(client.get(edit))
    assert client.post(edit, {**data, "calibration_due": "2031-06-30"}).status_code == 302
    instrument.refresh_from_db()
    assert instrument.calibration_due.isoformat() == "2031-06-30"
    event = AuditEvent.objects.get(action="instrument.updated", object_id=str(instrument.pk))
    assert event.before["calibration_due"] == "2030-01-01" and event.after["calibration_due"] == "2031-06-30"


def test_creating_a_reagent_lot_through_the_page(signed_in, manager, serology):
    client = signed_in(manager)
    response = client.post(
        reverse("lab:reagent_lots"),
        {"reagent": "Phenolphthalein", "lot_number": "KM-1", "discipline": serology.pk, "expiry": "2030-05-01"},
    )
    assert response.status_code == 302
    lot = ReagentLot.objects.get(lot_number="KM-1")
    assert AuditEvent.objects.filter(action="reagentlot.created", object_id=str(lot.pk)).exists()
    page = text(client.get(reverse("lab:reagent_lots"), {"copy": lot.pk}))
    assert 'value="Phenolphthalein"' in page


def test_adding_and_retiring_a_checklist_question_through_the_page(signed_in, manager):
    client = signed_in(manager)
    response = client.post(
        reverse("lab:checklists"),
        {"stage": ReviewStage.TECHNICAL, "discipline": "", "text": "Controls gave the expected results."},
    )
    assert response.status_code == 302
    question = ChecklistQuestion.objects.get(text="Controls gave the expected results.")
    assert question.is_active and question.discipline is None
    assert AuditEvent.objects.filter(action="checklistquestion.created", object_id=str(question.pk)).exists()
    page = text(client.get(reverse("lab:checklists")))
    assert f'data-testid="question-{question.pk}"' in page.split('data-testid="checklist-technical"')[1]

    assert client.post(reverse("lab:checklist", args=[question.pk]), {}).status_code == 302  # "Stop using"
    question.refresh_from_db()
    assert not question.is_active
    assert AuditEvent.objects.filter(action="checklistquestion.updated", object_id=str(question.pk)).exists()
    assert client.post(reverse("lab:checklist", args=[question.pk]), {"is_active": "on"}).status_code == 302
    question.refresh_from_db()
    assert question.is_active


def test_granting_and_revoking_an_authorisation_through_the_page(signed_in, manager, make_user, serology):
    client = signed_in(manager)
    person = make_user(Role.ANALYST, username="newbie", first_name="Nina", last_name="Bee")
    today = timezone.localdate()
    response = client.post(
        reverse("lab:authorizations"),
        {
            "action": "grant",
            "grant-user": person.pk,
            "grant-discipline": serology.pk,
            "grant-method": "",
            "grant-valid_from": today.isoformat(),
            "grant-valid_until": (today + timedelta(days=20)).isoformat(),
        },
    )
    assert response.status_code == 302
    granted = Authorization.objects.get(user=person)
    assert granted.granted_by == manager and granted.method is None
    assert AuditEvent.objects.filter(action="authorization.granted", object_id=str(person.pk)).exists()
    assert services.authorization_problem(person, serology) is None
    page = text(client.get(reverse("lab:authorizations")))
    row = page.split(f'data-testid="authorization-{granted.pk}"')[1].split("</tr>")[0]
    assert "Expires soon" in row and "granted by Marcus Young" in row

    url = reverse("lab:authorizations")
    refused = client.post(url, {"action": "revoke", "authorization": granted.pk, f"revoke-{granted.pk}-reason": ""})
    assert refused.status_code == 200 and "Give the reason for revoking." in text(refused)
    granted.refresh_from_db()
    assert granted.revoked_at is None

    reason = {"action": "revoke", "authorization": granted.pk, f"revoke-{granted.pk}-reason": "Left the section"}
    assert client.post(url, reason).status_code == 302
    granted.refresh_from_db()
    assert granted.revoked_at is not None
    assert AuditEvent.objects.get(action="authorization.revoked", object_id=str(person.pk)).reason == "Left the section"
    assert services.authorization_problem(person, serology) is not None
    row = text(client.get(url)).split(f'data-testid="authorization-{granted.pk}"')[1].split("</tr>")[0]
    assert "Revoked" in row and 'data-testid="revoke-form"' not in row


def test_granting_is_refused_with_the_reason(signed_in, manager, make_user, serology):
    client = signed_in(manager)
    person = make_user(Role.ANALYST)
    toxicology_method = services.save_catalogue_entry(
        manager,
        Method,
        discipline=Discipline.objects.get(code="toxicology"),
        code="TOX-1",
        name="Blood alcohol",
        version="1",
        effective_from=timezone.localdate(),
    )
    today = timezone.localdate()
    response = client.post(
        reverse("lab:authorizations"),
        {
            "action": "grant",
            "grant-user": person.pk,
            "grant-discipline": serology.pk,
            "grant-method": toxicology_method.pk,
            "grant-valid_from": today.isoformat(),
            "grant-valid_until": today.isoformat(),
        },
    )
    assert response.status_code == 200 and "The method must belong to Serology." in text(response)
    assert not Authorization.objects.filter(user=person).exists()


def test_the_board_reads_a_fixed_number_of_queries(
    manager_client, officer, custodian, analyst, django_assert_max_num_queries
):
    receive(officer, custodian, disciplines=("serology", "toxicology"), agency_case_number="BZ-1")
    manager_client.get(TRIAGE)  # sessions, permissions and the like are cached from here on
    with django_assert_max_num_queries(40) as few:
        manager_client.get(TRIAGE)
    for n in range(2, 6):
        receive(officer, custodian, disciplines=("serology", "toxicology"), agency_case_number=f"BZ-{n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = text(manager_client.get(TRIAGE))
    assert "10 requests waiting for an analyst" in page


def test_manager_adds_and_retires_a_discipline(db, signed_in, make_user):
    from django.urls import reverse

    from forensis.accounts.roles import Role
    from forensis.audit.models import AuditEvent
    from forensis.lab.models import Discipline

    manager = make_user(Role.LAB_MANAGER)
    client = signed_in(manager)
    response = client.post(
        reverse("lab:disciplines"), {"code": "digital", "name": "Digital forensics", "is_active": "on"}
    )
    assert response.status_code == 302
    digital = Discipline.objects.get(code="digital")
    client.post(reverse("lab:discipline", args=[digital.pk]), {"name": "Digital forensics"})
    digital.refresh_from_db()
    assert not digital.is_active
    assert AuditEvent.objects.filter(action__startswith="discipline.").count() == 2
    assert signed_in(make_user(Role.ANALYST)).get(reverse("lab:disciplines")).status_code == 403
