"""The report pages: who sees a report and its PDF (each opening and download logged), the public verification page,
the amendment form and the case contacts page — and that a refused request changes nothing."""

from __future__ import annotations

import hashlib
import html
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from forensis.audit.models import AuditEvent
from forensis.lab.models import RequestStatus
from forensis.reports import services
from forensis.reports.models import Amendment, CaseContact, ContactRole, Report
from tests.reports.conftest import AGENCY_CASE_NUMBER, BLOOD_ALCOHOL, amend, pdf_bytes

REASON = "The concentration was transcribed wrongly from run 0412."


@pytest.fixture
def contact(released, officer, prosecutors):
    """The prosecutor's office named as the case's contact by the submitting officer."""
    return services.add_case_contact(
        officer, released.case, role=ContactRole.PROSECUTOR, agency=prosecutors, name="Paula Reyes", email="p@odpp.bz"
    )


def text(response) -> str:
    return html.unescape(response.content.decode())


def detail_url(report: Report) -> str:
    return reverse("reports:detail", args=[report.number])


def pdf_url(report: Report, version: int = 1) -> str:
    return reverse("reports:pdf", args=[report.number, version])


def downloaded(response) -> bytes:
    """The streamed body. The test client closes the response when the stream ends; closing it again would fire
    ``request_finished`` outside the client and close the test's database connection (on PostgreSQL)."""
    return b"".join(response.streaming_content)


def access_events(username: str, action: str):
    return AuditEvent.objects.filter(actor_username=username, action=action)


def amendment_state(report: Report) -> dict:
    report = Report.objects.get(pk=report.pk)
    return {
        "status": report.request.status,
        "transitions": report.request.transitions.count(),
        "amendments": list(Amendment.objects.filter(report=report).values_list("pk", "reason")),
        "versions": list(report.versions.values_list("pk", "sha256")),
        "events": AuditEvent.objects.filter(action="report.amendment_requested").count(),
    }


# --- the submitting agency's officer -------------------------------------------------------------------------


def test_officer_of_the_submitting_agency_sees_opens_and_downloads_the_report(released, officer, client_for):
    client = client_for(officer)
    version = released.current_version

    listing = client.get(reverse("reports:list"))
    assert listing.status_code == 200
    assert released.number in text(listing)

    page = client.get(detail_url(released))
    assert page.status_code == 200
    assert released.number in text(page) and pdf_url(released) in text(page)
    viewed = access_events("officer", "report.viewed")
    assert list(viewed.values_list("object_type", "object_id")) == [("reports.reportversion", str(version.pk))]

    response = client.get(pdf_url(released))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="{released.number}-v1.pdf"' in response["Content-Disposition"]
    data = downloaded(response)
    assert data == pdf_bytes(version) and hashlib.sha256(data).hexdigest() == version.sha256
    assert list(access_events("officer", "report.downloaded").values_list("object_id", flat=True)) == [str(version.pk)]
    # A second download serves the very same stored bytes, and is logged again.
    assert downloaded(client.get(pdf_url(released))) == data
    assert access_events("officer", "report.downloaded").count() == 2


def test_the_list_searches_by_agency_case_number(released, officer, client_for):
    client = client_for(officer)
    assert released.number in text(client.get(reverse("reports:list"), {"q": AGENCY_CASE_NUMBER}))
    assert released.number not in text(client.get(reverse("reports:list"), {"q": "NO-SUCH-CASE"}))
    assert released.number in text(client.get(reverse("reports:list"), {"kind": "examination"}))
    assert released.number not in text(client.get(reverse("reports:list"), {"kind": "autopsy"}))


def test_officer_of_another_agency_neither_sees_nor_downloads_the_report(released, other_officer, client_for):
    client = client_for(other_officer)
    listing = client.get(reverse("reports:list"))
    assert listing.status_code == 200
    assert released.number not in text(listing)
    assert client.get(detail_url(released)).status_code == 404
    assert client.get(pdf_url(released)).status_code == 404
    assert not AuditEvent.objects.filter(
        actor_username=other_officer.username, action__in=["report.viewed", "report.downloaded"]
    ).exists()


def test_a_version_that_does_not_exist_is_404(released, officer, client_for):
    assert client_for(officer).get(pdf_url(released, 2)).status_code == 404
    assert not access_events("officer", "report.downloaded").exists()


def test_anonymous_is_sent_to_sign_in(released):
    for url in (reverse("reports:list"), detail_url(released), pdf_url(released)):
        response = Client().get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url, url


def test_a_statistician_never_sees_a_report(released, statistician, client_for):
    client = client_for(statistician)
    for url in (reverse("reports:list"), detail_url(released), pdf_url(released)):
        assert client.get(url).status_code == 403, url
    assert not Report.objects.visible_to(statistician).exists()
    assert not AuditEvent.objects.filter(actor_username="statistician", action__startswith="report.").exists()


# --- prosecutors ---------------------------------------------------------------------------------------------


def test_prosecutor_named_as_contact_sees_and_downloads_the_report(released, contact, prosecutor, client_for):
    client = client_for(prosecutor)
    assert released.number in text(client.get(reverse("reports:list")))
    assert client.get(detail_url(released)).status_code == 200
    response = client.get(pdf_url(released))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert downloaded(response) == pdf_bytes(released.current_version)
    assert access_events("prosecutor", "report.downloaded").count() == 1


def test_prosecutor_named_as_contact_downloads_the_discovery_packet(released, contact, prosecutor, client_for):
    client = client_for(prosecutor)
    try:
        response = client.get(reverse("reports:discovery", args=[released.case.lab_number]))
    except NotImplementedError:
        pytest.skip("The discovery packet (reports.discovery.build_discovery_packet) is not implemented yet.")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert zipfile.is_zipfile(io.BytesIO(response.content))


def test_prosecutor_of_another_office_gets_404(released, contact, other_prosecutor, client_for):
    client = client_for(other_prosecutor)
    assert released.number not in text(client.get(reverse("reports:list")))
    assert client.get(detail_url(released)).status_code == 404
    assert client.get(pdf_url(released)).status_code == 404
    assert client.get(reverse("reports:discovery", args=[released.case.lab_number])).status_code == 404
    assert not AuditEvent.objects.filter(
        actor_username="prosecutor.n", action__in=["report.viewed", "report.downloaded"]
    ).exists()


def test_prosecutor_not_yet_named_gets_404(released, prosecutor, client_for):
    client = client_for(prosecutor)
    assert client.get(detail_url(released)).status_code == 404
    assert client.get(pdf_url(released)).status_code == 404


# --- the public verification page ------------------------------------------------------------------------------


def upload(data: bytes) -> dict:
    return {"file": SimpleUploadedFile("report.pdf", data, content_type="application/pdf")}


def assert_no_case_details(body: str, report: Report) -> None:
    case = report.case
    for secret in (case.lab_number, case.agency_case_number, case.agency.name, "Blood sample"):
        assert secret not in body, secret


def test_verification_page_opens_without_signing_in(db):
    response = Client().get(reverse("reports:verify"))
    assert response.status_code == 200
    assert "Verify a report" in text(response)


def test_uploading_the_issued_pdf_says_authentic_and_current(released):
    response = Client().post(reverse("reports:verify"), upload(pdf_bytes(released.current_version)))
    assert response.status_code == 200
    body = text(response)
    assert "Authentic and current" in body and "Not authentic" not in body
    assert f'data-testid="verified-number">{released.number}<' in body
    assert "Its digital signature is valid" in body
    assert_no_case_details(body, released)


def test_uploading_a_changed_pdf_says_not_authentic(released):
    data = bytearray(pdf_bytes(released.current_version))
    data[len(data) // 2] ^= 0x01
    response = Client().post(reverse("reports:verify"), upload(bytes(data)))
    assert response.status_code == 200
    body = text(response)
    assert "Not authentic" in body and "Authentic and current" not in body
    assert released.number not in body and 'data-testid="verified-number"' not in body
    assert "It carries no valid digital signature of this laboratory." in body
    assert_no_case_details(body, released)


def test_submitting_the_form_without_a_file_is_a_400_with_an_error(db):
    browser = Client(enforce_csrf_checks=True)
    assert browser.get(reverse("reports:verify")).status_code == 200
    token = browser.cookies["csrftoken"].value
    response = browser.post(reverse("reports:verify"), {"csrfmiddlewaretoken": token})
    assert response.status_code == 400
    body = text(response)
    assert "This field is required." in body
    assert 'data-testid="verdict"' not in body


def test_an_empty_post_is_a_400_with_an_error(db):
    response = Client().post(reverse("reports:verify"), {})
    assert response.status_code == 400
    assert "This field is required." in text(response)


def test_qr_link_with_the_right_fingerprint_says_authentic(released):
    version = released.current_version
    response = Client().get(reverse("reports:verify_link", args=[released.number, version.content_hash]))
    assert response.status_code == 200
    body = text(response)
    assert "Authentic and current" in body
    assert f'data-testid="verified-number">{released.number}<' in body
    assert_no_case_details(body, released)


def test_after_an_amendment_the_old_pdf_and_its_qr_link_say_superseded(released, lab):
    original = released.current_version
    amend(lab, released, REASON, corrected={**BLOOD_ALCOHOL, "concentration": "0.081"}, result_reason="Typo.")
    for response in (
        Client().post(reverse("reports:verify"), upload(pdf_bytes(original))),
        Client().get(reverse("reports:verify_link", args=[released.number, original.content_hash])),
    ):
        assert response.status_code == 200
        body = text(response)
        assert "Authentic, but superseded by version 2" in body and "Authentic and current" not in body
        assert_no_case_details(body, released)
        assert REASON not in body
    current = Client().post(reverse("reports:verify"), upload(pdf_bytes(released.current_version)))
    assert "Authentic and current" in text(current)


def test_qr_link_with_a_wrong_fingerprint_says_not_authentic(released):
    wrong = hashlib.sha256(b"forged").hexdigest()
    response = Client().get(reverse("reports:verify_link", args=[released.number, wrong]))
    assert response.status_code == 200
    body = text(response)
    assert "Not authentic" in body and "Authentic and current" not in body
    assert 'data-testid="verified-number"' not in body  # the number is in the address only, not confirmed
    assert_no_case_details(body, released)


# --- the amendment form ------------------------------------------------------------------------------------


def test_amendment_without_a_reason_shows_an_error_and_changes_nothing(released, lab, client_for):
    before = amendment_state(released)
    client = client_for(lab.manager)
    response = client.post(reverse("reports:amend", args=[released.number]), {"reason": "  "}, follow=True)
    assert response.status_code == 200
    assert "This field is required." in text(response)
    assert 'data-testid="amendment-open"' not in text(response)
    assert amendment_state(released) == before
    assert amendment_state(released)["status"] == RequestStatus.RELEASED


def test_lab_manager_opens_an_amendment_with_a_reason(released, lab, client_for):
    client = client_for(lab.manager)
    assert 'data-testid="amend-panel"' in text(client.get(detail_url(released)))
    response = client.post(reverse("reports:amend", args=[released.number]), {"reason": REASON})
    assert response.status_code == 302 and response.url == detail_url(released)
    amendment = Amendment.objects.get(report=released)
    assert (amendment.reason, amendment.requested_by, amendment.issued_version) == (REASON, lab.manager, None)
    assert lab.reload().status == RequestStatus.IN_PROGRESS
    page = text(client.get(detail_url(released)))
    assert "Amendment in progress" in page and REASON in page
    assert 'data-testid="amend-panel"' not in page  # no second amendment while this one is open


def test_an_officer_cannot_post_an_amendment(released, officer, client_for):
    before = amendment_state(released)
    client = client_for(officer)
    assert 'data-testid="amend-panel"' not in text(client.get(detail_url(released)))
    response = client.post(reverse("reports:amend", args=[released.number]), {"reason": REASON})
    assert response.status_code == 403
    assert amendment_state(released) == before


def test_an_amendment_without_a_csrf_token_is_refused(released, lab, client_for):
    before = amendment_state(released)
    client = client_for(lab.manager, enforce_csrf_checks=True)
    response = client.post(reverse("reports:amend", args=[released.number]), {"reason": REASON})
    assert response.status_code == 403
    assert amendment_state(released) == before


def test_amend_page_only_accepts_post(released, lab, client_for):
    assert client_for(lab.manager).get(reverse("reports:amend", args=[released.number])).status_code == 405


# --- case contacts ---------------------------------------------------------------------------------------------


def contacts_url(report: Report) -> str:
    return reverse("reports:case_contacts", args=[report.case.lab_number])


def contact_form(agency, role: str = ContactRole.PROSECUTOR, email: str = "p.reyes@odpp.bz") -> dict:
    return {"role": role, "agency": agency.pk, "name": "Paula Reyes", "email": email}


def test_officer_adds_a_prosecutor_contact_and_sees_it(released, officer, prosecutors, client_for):
    client = client_for(officer)
    assert client.get(contacts_url(released)).status_code == 200
    response = client.post(contacts_url(released), contact_form(prosecutors))
    assert response.status_code == 302 and response.url == contacts_url(released)
    contact = CaseContact.objects.get(case=released.case)
    assert (contact.role, contact.agency, contact.email, contact.added_by) == (
        ContactRole.PROSECUTOR,
        prosecutors,
        "p.reyes@odpp.bz",
        officer,
    )
    page = text(client.get(contacts_url(released)))
    assert "Paula Reyes" in page and prosecutors.name in page and "p.reyes@odpp.bz" in page
    assert AuditEvent.objects.filter(action="case.contact_added", actor_username="officer").count() == 1


def test_officer_of_another_agency_cannot_open_or_add_contacts(released, other_officer, prosecutors, client_for):
    client = client_for(other_officer)
    assert client.get(contacts_url(released)).status_code == 404
    assert client.post(contacts_url(released), contact_form(prosecutors)).status_code == 404
    assert not CaseContact.objects.exists()


def test_a_police_station_as_contact_is_refused_with_a_message(released, officer, police, client_for):
    response = client_for(officer).post(contacts_url(released), contact_form(police))
    assert response.status_code == 400
    assert "Select a valid choice." in text(response)
    assert not CaseContact.objects.exists()


def test_a_court_as_prosecutor_contact_is_refused_with_a_message(released, officer, court, client_for):
    response = client_for(officer).post(contacts_url(released), contact_form(court))
    assert response.status_code == 400
    assert "Choose an active prosecutor agency." in text(response)
    assert not CaseContact.objects.exists()


def test_a_prosecutor_may_read_but_not_change_the_contacts(released, contact, prosecutor, court, client_for):
    client = client_for(prosecutor)
    page = client.get(contacts_url(released))
    assert page.status_code == 200 and 'data-testid="contact-form"' not in text(page)
    assert client.post(contacts_url(released), contact_form(court, ContactRole.COURT, "c@court.bz")).status_code == 403
    assert client.post(contacts_url(released), {"remove": contact.pk}).status_code == 403
    assert list(CaseContact.objects.all()) == [contact]


@pytest.mark.parametrize("remove", ["abc", "1; DROP TABLE", "99999"])
def test_removing_a_contact_that_is_not_of_this_case_is_a_404(released, contact, officer, client_for, remove):
    assert client_for(officer).post(contacts_url(released), {"remove": remove}).status_code == 404
    assert list(CaseContact.objects.all()) == [contact]


def test_officer_removes_a_contact_and_that_agency_loses_sight_of_the_report(
    released, contact, officer, prosecutor, client_for
):
    response = client_for(officer).post(contacts_url(released), {"remove": contact.pk})
    assert response.status_code == 302
    assert not CaseContact.objects.exists()
    assert client_for(prosecutor).get(detail_url(released)).status_code == 404
