"""Intake screens: the flow through the pages, and that another agency sees none of it."""

import pytest
from django.urls import reverse

from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from forensis.cases.models import Case
from forensis.intake import services
from forensis.intake.models import Submission, SubmissionStatus
from forensis.lab.models import Discipline
from tests.conftest import PASSWORD

SUBMISSION_PAGES = ["intake:detail", "intake:edit", "intake:form_pdf", "intake:receipt_pdf"]


def management(prefix, total):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def edit_payload(action="save", **overrides):
    serology = Discipline.objects.get(code="serology").pk
    data = {
        "agency_case_number": "BZ-CR-77",
        "offence_codes": ["0201"],
        "incident_at": "2026-01-15T21:30",
        "district": "BZ",
        "town": "Belize City",
        "address": "",
        "latitude": "",
        "longitude": "",
        "narrative": "",
        **management("people", 1),
        "people-0-role": "victim",
        "people-0-name": "Maria Lopez",
        "people-0-sex": "F",
        "people-0-age": "24",
        **management("items", 2),
        "items-0-type": "clothing",
        "items-0-description": "Red blouse",
        "items-0-quantity": "1",
        "items-0-seal_number": "A-100",
        "items-0-disciplines": [serology],
        "items-1-type": "swab",
        "items-1-description": "Swab from knife",
        "items-1-quantity": "1",
        "items-1-seal_number": "A-101",
        "items-1-disciplines": [serology],
        "action": action,
    }
    data.update(overrides)
    return data


@pytest.fixture
def officer_client(signed_in, officer):
    return signed_in(officer)


def test_officer_pre_logs_and_submits_through_the_pages(officer_client, officer):
    response = officer_client.post(reverse("intake:new"), {"kit": ""})
    submission = Submission.objects.get()
    assert response.url == reverse("intake:edit", args=[submission.reference])
    assert officer_client.get(response.url).status_code == 200
    response = officer_client.post(response.url, edit_payload(action="submit"))
    assert response.status_code == 302
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.SUBMITTED
    assert submission.items.count() == 2 and submission.people.get().name == "Maria Lopez"
    detail = officer_client.get(reverse("intake:detail", args=[submission.reference])).content.decode()
    assert "Red blouse" in detail and "Submitted" in detail
    pdf = officer_client.get(reverse("intake:form_pdf", args=[submission.reference]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_add_item_button_keeps_what_was_typed(officer_client):
    officer_client.post(reverse("intake:new"), {"kit": ""})
    submission = Submission.objects.get()
    url = reverse("intake:edit", args=[submission.reference])
    response = officer_client.post(url, edit_payload(action="add_item"))
    assert response.url == f"{url}?add=item"
    page = officer_client.get(response.url).content.decode()
    assert page.count('data-testid="item-row"') == 3 and "Red blouse" in page
    # A body is logged as a death investigation; an agency never submits one as an item.
    assert 'value="clothing"' in page and 'value="body"' not in page


def test_submit_with_a_future_date_shows_the_error_and_stays_draft(officer_client):
    officer_client.post(reverse("intake:new"), {"kit": ""})
    submission = Submission.objects.get()
    response = officer_client.post(
        reverse("intake:edit", args=[submission.reference]),
        edit_payload(action="submit", incident_at="2099-01-01T10:00"),
    )
    assert "in the future" in response.content.decode()
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.DRAFT and submission.incident_at is None


def test_item_without_examination_blocks_submit_with_a_clear_message(officer_client):
    officer_client.post(reverse("intake:new"), {"kit": ""})
    submission = Submission.objects.get()
    payload = edit_payload(action="submit")
    payload.pop("items-1-disciplines")
    response = officer_client.post(reverse("intake:edit", args=[submission.reference]), payload)
    assert "Item 2 (Swab from knife): choose at least one requested examination" in response.content.decode()
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.DRAFT


@pytest.fixture
def received(officer, make_user):
    custodian = make_user(Role.EVIDENCE_CUSTODIAN, username="custodian")
    submission = services.create_submission(officer)
    from tests.intake.conftest import CASE_FIELDS, item

    submission = services.update_submission(officer, submission, fields=CASE_FIELDS, people=[], items=[item()])
    from django.utils import timezone

    submission = services.update_submission(
        officer, submission, fields={**CASE_FIELDS, "incident_at": timezone.now()}, people=[], items=[item()]
    )
    services.submit_submission(officer, submission)
    services.receive_submission(
        custodian,
        submission,
        checks={i.pk: services.ItemCheck() for i in submission.items.all()},
        handed_over_by=officer,
    )
    submission.refresh_from_db()
    return submission


@pytest.mark.parametrize("url_name", SUBMISSION_PAGES)
def test_another_agency_gets_404_on_every_submission_page(signed_in, other_officer, received, url_name):
    client = signed_in(other_officer)
    assert client.get(reverse(url_name, args=[received.reference])).status_code == 404
    assert client.post(reverse("intake:submit", args=[received.reference])).status_code == 404


@pytest.mark.parametrize("url_name", ["cases:detail", "cases:labels"])
def test_another_agency_gets_404_on_the_case(signed_in, other_officer, received, url_name):
    client = signed_in(other_officer)
    assert client.get(reverse(url_name, args=[received.case.lab_number])).status_code == 404


def test_submission_list_shows_only_own_agency(signed_in, officer, other_officer, received):
    body = signed_in(other_officer).get(reverse("intake:list")).content.decode()
    assert received.reference not in body
    own = signed_in(officer).get(reverse("intake:list"), {"q": received.case.lab_number}).content.decode()
    assert received.reference in own


def test_officer_sees_received_status_and_reads_are_logged(signed_in, officer, received):
    client = signed_in(officer)
    body = client.get(reverse("intake:detail", args=[received.reference])).content.decode()
    assert "Received" in body and received.case.lab_number in body
    assert AuditEvent.objects.filter(action="submission.viewed", actor_username="officer").exists()
    assert client.get(reverse("cases:detail", args=[received.case.lab_number])).status_code == 200
    receipt = client.get(reverse("intake:receipt_pdf", args=[received.reference]))
    assert receipt.content.startswith(b"%PDF")


def test_reception_pages_are_for_custodians_only(signed_in, officer, received):
    client = signed_in(officer)
    for url in [
        reverse("intake:reception"),
        reverse("intake:walk_in"),
        reverse("intake:receive", args=[received.reference]),
    ]:
        assert client.get(url).status_code == 403


def test_statistician_sees_no_case_or_submission(signed_in, make_user, make_agency, received):
    from forensis.accounts.models import AgencyType

    client = signed_in(make_user(Role.STATISTICIAN, agency=make_agency(AgencyType.OBSERVATORY)))
    assert client.get(reverse("cases:detail", args=[received.case.lab_number])).status_code == 403
    assert client.get(reverse("intake:detail", args=[received.reference])).status_code == 403


@pytest.fixture
def custodian_client(signed_in, make_user):
    return signed_in(make_user(Role.EVIDENCE_CUSTODIAN, username="custodian"))


@pytest.fixture
def waiting(officer):
    from django.utils import timezone

    from tests.intake.conftest import CASE_FIELDS, item

    submission = services.create_submission(officer)
    submission = services.update_submission(
        officer,
        submission,
        fields={**CASE_FIELDS, "incident_at": timezone.now()},
        people=[],
        items=[item(), item("Cap", seal="S-2")],
    )
    return services.submit_submission(officer, submission)


def receive_payload(submission, **overrides):
    data = {"attach_to": "", "officer_username": "officer", "officer_password": PASSWORD, **management("extra", 0)}
    for listed in submission.items.all():
        data.update(
            {
                f"item-{listed.pk}-presence": "present",
                f"item-{listed.pk}-seal_status": "intact",
                f"item-{listed.pk}-condition": "",
                f"item-{listed.pk}-deviation_note": "",
            }
        )
    data.update(overrides)
    return data


def test_scanning_the_submission_number_opens_it(custodian_client, waiting):
    response = custodian_client.get(reverse("intake:reception"), {"code": waiting.reference.lower()})
    assert response.url == reverse("intake:receive", args=[waiting.reference])
    queue = custodian_client.get(reverse("intake:reception")).content.decode()
    assert waiting.reference in queue
    unknown = custodian_client.get(reverse("intake:reception"), {"code": "SUB-1999-99999"}, follow=True)
    assert "Nothing found for the scanned code" in unknown.content.decode()


def test_custodian_receives_with_a_broken_seal(custodian_client, waiting):
    first = waiting.items.first()
    payload = receive_payload(
        waiting, **{f"item-{first.pk}-seal_status": "broken", f"item-{first.pk}-deviation_note": "Seal cut"}
    )
    response = custodian_client.post(reverse("intake:receive", args=[waiting.reference]), payload)
    case = Case.objects.get()
    assert response.url == reverse("cases:detail", args=[case.lab_number])
    page = custodian_client.get(response.url).content.decode()
    assert "Seal cut" in page and f"{case.lab_number}/02" in page
    labels = custodian_client.get(reverse("cases:labels", args=[case.lab_number]))
    assert labels.content.startswith(b"%PDF")


def test_wrong_officer_password_receives_nothing(custodian_client, waiting):
    response = custodian_client.post(
        reverse("intake:receive", args=[waiting.reference]), receive_payload(waiting, officer_password="wrong-password")
    )
    assert "officer&#x27;s username or password is not correct" in response.content.decode()
    assert not Case.objects.exists()
    waiting.refresh_from_db()
    assert waiting.status == SubmissionStatus.SUBMITTED


def test_second_receipt_through_the_page_points_to_the_case(custodian_client, waiting):
    url = reverse("intake:receive", args=[waiting.reference])
    custodian_client.post(url, receive_payload(waiting))
    again = custodian_client.get(url, follow=True).content.decode()
    assert "was already received as case" in again
    assert Case.objects.count() == 1


def test_label_size_out_of_range_is_a_clear_400(custodian_client, waiting):
    custodian_client.post(reverse("intake:receive", args=[waiting.reference]), receive_payload(waiting))
    case = Case.objects.get()
    response = custodian_client.get(reverse("cases:labels", args=[case.lab_number]), {"w": "5", "h": "5"})
    assert response.status_code == 400


def test_walk_in_through_the_pages(custodian_client, officer):
    response = custodian_client.post(reverse("intake:walk_in"), {"kit": "", "submitting_officer": officer.pk})
    submission = Submission.objects.get()
    assert submission.walk_in and response.url == reverse("intake:edit", args=[submission.reference])


def test_officer_home_shows_submissions_and_receipt_notification(signed_in, officer, received):
    client = signed_in(officer)
    home = client.get("/").content.decode()
    assert received.reference in home and 'data-testid="home-notifications"' in home
    assert f"was received by the laboratory as case {received.case.lab_number}" in home
    client.post(reverse("core:notifications"))
    assert 'data-testid="home-notifications"' not in client.get("/").content.decode()


def test_notifications_are_private(signed_in, other_officer, received):
    page = signed_in(other_officer).get(reverse("core:notifications")).content.decode()
    assert received.reference not in page


def test_custodian_home_counts_waiting_submissions(custodian_client, waiting):
    home = custodian_client.get("/").content.decode()
    assert 'data-testid="waiting-count">1<' in home


def test_admin_edits_a_kit_and_others_cannot(signed_in, admin_user, officer):
    from forensis.intake.models import Kit

    kit = Kit.objects.get(name="Toxicology kit (driving)")
    toxicology = Discipline.objects.get(code="toxicology").pk
    payload = {
        "name": kit.name,
        "description": "Updated",
        "is_active": "on",
        **management("items", 1),
        "items-0-type": "blood",
        "items-0-description": "Blood, grey top",
        "items-0-quantity": "2",
        "items-0-packaging": "",
        "items-0-disciplines": [toxicology],
        "action": "save",
    }
    assert signed_in(officer).post(reverse("intake:kit_edit", args=[kit.pk]), payload).status_code == 403
    response = signed_in(admin_user).post(reverse("intake:kit_edit", args=[kit.pk]), payload)
    assert response.status_code == 302
    assert list(kit.items.values_list("description", flat=True)) == ["Blood, grey top"]
    assert AuditEvent.objects.filter(action="kit.updated").exists()
    payload["items-0-disciplines"] = []
    response = signed_in(admin_user).post(reverse("intake:kit_edit", args=[kit.pk]), payload)
    assert "choose at least one requested examination" in response.content.decode()
    assert kit.items.get().disciplines.count() == 1


def test_receive_page_adds_to_the_existing_case_when_chosen(custodian_client, officer, waiting):
    from django.utils import timezone

    from tests.intake.conftest import CASE_FIELDS, item

    custodian_client.post(reverse("intake:receive", args=[waiting.reference]), receive_payload(waiting))
    case = Case.objects.get()
    second = services.create_submission(officer)
    second = services.update_submission(
        officer,
        second,
        fields={**CASE_FIELDS, "incident_at": timezone.now()},
        people=[],
        items=[item("Jacket", seal="J-1")],
    )
    services.submit_submission(officer, second)
    page = custodian_client.get(reverse("intake:receive", args=[second.reference])).content.decode()
    assert f"Add to existing case {case.lab_number}" in page
    response = custodian_client.post(
        reverse("intake:receive", args=[second.reference]), receive_payload(second, attach_to=str(case.pk))
    )
    assert response.status_code == 302
    assert Case.objects.count() == 1 and case.items.count() == 3


def test_custody_report_for_case_and_item_and_not_for_another_agency(signed_in, officer, other_officer, received):
    from forensis.evidence.models import Item

    client = signed_in(officer)
    lab_number = received.case.lab_number
    whole = client.get(reverse("cases:custody_report", args=[lab_number]))
    assert whole["Content-Type"] == "application/pdf"
    label = Item.objects.filter(case=received.case).first().label
    assert client.get(reverse("cases:custody_report", args=[lab_number]), {"item": label}).status_code == 200
    assert client.get(reverse("cases:custody_report", args=[lab_number]), {"item": "nope/99"}).status_code == 404
    assert signed_in(other_officer).get(reverse("cases:custody_report", args=[lab_number])).status_code == 404
    assert AuditEvent.objects.filter(action="case.custody_report_downloaded", actor_username="officer").exists()
