"""The analyst's screens: worklist, examination record, worksheets — who may open them and what they refuse."""

from __future__ import annotations

import hashlib
import html
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from forensis.accounts.roles import Role
from forensis.evidence import services as evidence
from forensis.evidence.models import Purpose
from forensis.lab import services
from forensis.lab.models import (
    Attachment,
    Discipline,
    Examination,
    RequestStatus,
    Result,
    ServiceRequest,
    Worksheet,
)
from tests.conftest import PASSWORD
from tests.lab.test_examination_services import BAC, all_yes, authorise, catalogue, receive, request_of, start

WORKLIST = reverse("lab:worklist")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "files"


@pytest.fixture
def custodian(make_user):
    return make_user(Role.EVIDENCE_CUSTODIAN, username="custodian")


@pytest.fixture
def manager(make_user):
    return make_user(Role.LAB_MANAGER, username="manager")


@pytest.fixture
def analyst(make_user, manager):
    user = make_user(Role.ANALYST, username="analyst", first_name="Andre", last_name="Flowers")
    authorise(manager, user)
    return user


@pytest.fixture
def other_analyst(make_user, manager):
    user = make_user(Role.ANALYST, username="analyst.two")
    authorise(manager, user)
    return user


@pytest.fixture
def cat(manager):
    return catalogue(manager)


@pytest.fixture
def case(officer, custodian):
    return receive(officer, custodian)


@pytest.fixture
def assigned(case, cat, manager, analyst):
    return services.assign(manager, request_of(case), analyst)


@pytest.fixture
def in_progress(assigned, analyst, cat):
    start(analyst, assigned, cat)
    return ServiceRequest.objects.get(pk=assigned.pk)


@pytest.fixture
def item(case):
    return case.items.get()


def page(request: ServiceRequest) -> str:
    return reverse("lab:examination", args=[request.pk])


def text(response) -> str:
    return html.unescape(response.content.decode())


def status_of(request: ServiceRequest) -> str:
    return ServiceRequest.objects.get(pk=request.pk).status


def setup_data(cat, **overrides) -> dict:
    data = {
        "setup-method": cat["method"].pk,
        "setup-instrument": cat["instrument"].pk,
        "setup-reagent_lots": [cat["lot"].pk],
        "setup-notes": "Duplicate injections.",
    }
    data.update(overrides)
    return data


def result_data(item, reason: str = "", **values) -> dict:
    data = {f"result-{item.pk}-{k}": v for k, v in {**BAC, **values}.items()}
    return {"action": "result", "item": item.pk, f"result-{item.pk}-reason": reason, **data}


# --- the worklist -----------------------------------------------------------------------------------


def test_the_worklist_shows_only_my_requests(client_for, assigned, other_analyst, manager, officer, custodian):
    other_case = receive(officer, custodian, number="BZ-TR-2026-0200")
    theirs = services.assign(manager, request_of(other_case), other_analyst)
    response = client_for(assigned.assigned_to).get(WORKLIST)
    assert response.status_code == 200
    shown = {int(pk) for pk in re.findall(r'data-request="(\d+)"', response.content.decode())}
    assert shown == {assigned.pk}
    assert other_case.lab_number not in text(response)
    shown_to_them = {
        int(pk) for pk in re.findall(r'data-request="(\d+)"', client_for(other_analyst).get(WORKLIST).content.decode())
    }
    assert shown_to_them == {theirs.pk}


def test_the_worklist_is_for_examiners_only(client_for, custodian, officer):
    assert client_for(custodian).get(WORKLIST).status_code == 403
    assert client_for(officer).get(WORKLIST).status_code == 403


def test_the_worklist_flags_a_sent_back_request_with_the_reviewers_reason(
    client_for, in_progress, analyst, item, make_user, manager
):
    reviewer = make_user(Role.REVIEWER)
    authorise(manager, reviewer)
    services.record_result(analyst, in_progress, item, BAC)
    services.complete_draft(analyst, in_progress, reauthenticated=True)
    response = client_for(analyst).get(WORKLIST)
    assert f'data-request="{in_progress.pk}"' not in response.content.decode()  # waiting for review: not my work
    services.review(reviewer, in_progress, stage="technical", approve=False, reason="Add the uncertainty budget.")
    for order in ("", "?sort=age", "?sort=-status"):
        response = client_for(analyst).get(WORKLIST + order)
        assert 'data-testid="sent-back"' in response.content.decode()
        assert "Add the uncertainty budget." in text(response)
        assert 'data-testid="sent-back-summary"' in response.content.decode()
    page_text = text(client_for(analyst).get(page(in_progress)))
    assert "Add the uncertainty budget." in page_text and "sent-back-banner" in page_text


# --- who may open an examination ----------------------------------------------------------------------


def test_another_analyst_gets_403(client_for, assigned, other_analyst, cat):
    assert client_for(other_analyst).get(page(assigned)).status_code == 403
    response = client_for(other_analyst).post(page(assigned), {"action": "start", **setup_data(cat)})
    assert response.status_code == 403
    assert status_of(assigned) == RequestStatus.ASSIGNED


def test_another_agencys_officer_gets_404_and_the_own_agencys_officer_403(client_for, assigned, other_officer, officer):
    assert client_for(other_officer).get(page(assigned)).status_code == 404
    assert client_for(officer).get(page(assigned)).status_code == 403


def test_a_request_not_yet_assigned_is_nobodys_examination(client_for, case, analyst):
    assert client_for(analyst).get(page(request_of(case))).status_code == 403


# --- start and set-up ---------------------------------------------------------------------------------


def test_the_start_form_offers_the_disciplines_methods_and_disables_unusable_entries(client_for, assigned, cat):
    body = text(client_for(assigned.assigned_to).get(page(assigned)))
    assert "TOX-BAC-HS v4.2" in body and "DRG-GCMS" not in body

    def option(select: str, pk: int) -> re.Match:
        options = re.search(rf'<select name="setup-{select}".*?</select>', body, re.S).group(0)
        return re.search(rf'<option value="{pk}"[^>]*>([^<]*)</option>', options)

    uncalibrated = option("instrument", cat["uncalibrated"].pk)
    assert "disabled" in uncalibrated.group(0) and "out of calibration since" in uncalibrated.group(1)
    expired = option("reagent_lots", cat["expired_lot"].pk)
    assert "disabled" in expired.group(0) and "expired on" in expired.group(1)
    assert "disabled" not in option("instrument", cat["instrument"].pk).group(0)
    assert "disabled" not in option("reagent_lots", cat["lot"].pk).group(0)


def test_starting_with_a_calibrated_instrument_works(client_for, assigned, cat):
    client = client_for(assigned.assigned_to)
    response = client.post(page(assigned), {"action": "start", **setup_data(cat)}, follow=True)
    assert "Examination started." in text(response)
    assert status_of(assigned) == RequestStatus.IN_PROGRESS
    exam = Examination.objects.get(request=assigned)
    assert exam.instrument == cat["instrument"] and exam.notes == "Duplicate injections."
    assert list(exam.reagent_lots.all()) == [cat["lot"]]


def test_starting_with_an_instrument_out_of_calibration_is_refused_with_the_reason(client_for, assigned, cat):
    client = client_for(assigned.assigned_to)
    response = client.post(
        page(assigned), {"action": "start", **setup_data(cat, **{"setup-instrument": cat["uncalibrated"].pk})}
    )
    assert response.status_code == 200
    assert f"{cat['uncalibrated']} is out of calibration since" in text(response)
    assert status_of(assigned) == RequestStatus.ASSIGNED
    assert not Examination.objects.exists()


def test_starting_with_an_expired_lot_is_refused_with_the_reason(client_for, assigned, cat):
    response = client_for(assigned.assigned_to).post(
        page(assigned),
        {"action": "start", **setup_data(cat, **{"setup-reagent_lots": [cat["lot"].pk, cat["expired_lot"].pk]})},
    )
    assert "EC-0412" in text(response) and "expired on" in text(response)
    assert status_of(assigned) == RequestStatus.ASSIGNED


def test_a_step_of_another_stage_is_refused(client_for, assigned, item):
    response = client_for(assigned.assigned_to).post(page(assigned), result_data(item), follow=True)
    assert "this step is not possible now" in text(response)
    assert not Result.objects.exists()


def test_the_set_up_can_be_changed_while_in_progress(client_for, in_progress, cat):
    response = client_for(in_progress.assigned_to).post(
        page(in_progress),
        {"action": "setup", **setup_data(cat, **{"setup-notes": "Re-run on a new calibration."})},
        follow=True,
    )
    assert "Set-up saved." in text(response)
    assert Examination.objects.get(request=in_progress).notes == "Re-run on a new calibration."


# --- results ------------------------------------------------------------------------------------------


def test_a_result_is_saved(client_for, in_progress, item):
    client = client_for(in_progress.assigned_to)
    response = client.post(page(in_progress), result_data(item), follow=True)
    assert f"Result for {item.label} saved." in text(response)
    result = Result.objects.get(item=item)
    assert result.data == BAC and result.is_current
    assert "0.085 g/100 mL" in text(response)


def test_a_result_out_of_range_is_refused_and_nothing_is_saved(client_for, in_progress, item):
    response = client_for(in_progress.assigned_to).post(page(in_progress), result_data(item, concentration="12"))
    assert response.status_code == 200
    assert "A concentration above 1.5 g/100mL is not plausible; check the unit." in text(response)
    assert not Result.objects.exists()


def test_a_result_in_a_unit_that_is_not_offered_is_refused(client_for, in_progress, item):
    response = client_for(in_progress.assigned_to).post(page(in_progress), result_data(item, unit="%"))
    assert "% is not an allowed value for Unit." in text(response)
    assert not Result.objects.exists()


def test_changing_a_reviewed_result_needs_a_reason_and_keeps_the_old_version(
    client_for, in_progress, analyst, item, make_user, manager
):
    reviewer = make_user(Role.REVIEWER)
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
    services.review(manager, in_progress, stage="administrative", approve=False, reason="Check the analyte name.")
    client = client_for(analyst)
    response = client.post(page(in_progress), result_data(item, analyte="Ethanol (ethyl alcohol)"))
    assert "This result was reviewed: give the reason for the new version." in text(response)
    assert Result.objects.get(item=item).data == BAC
    response = client.post(
        page(in_progress), result_data(item, reason="Full analyte name", analyte="Ethanol (ethyl alcohol)"), follow=True
    )
    assert "Version 2 of the result" in text(response)
    old, new = Result.objects.filter(item=item).order_by("version")
    assert (old.is_current, new.is_current, new.supersedes_id, new.change_reason) == (
        False,
        True,
        old.pk,
        "Full analyte name",
    )
    assert 'data-testid="result-history"' in response.content.decode()


# --- attachments, consumption, follow-ups -------------------------------------------------------------


def test_an_uploaded_attachment_is_stored_with_its_sha256(client_for, in_progress):
    content = b"sample,area\nBAC-1,12345\n"
    client = client_for(in_progress.assigned_to)
    response = client.post(
        page(in_progress),
        {"action": "attach", "attach-file": SimpleUploadedFile("run-0412.csv", content, "text/csv")},
        follow=True,
    )
    digest = hashlib.sha256(content).hexdigest()
    attachment = Attachment.objects.get()
    assert attachment.sha256 == digest and attachment.original_name == "run-0412.csv"
    assert digest in text(response)
    download = client.get(reverse("lab:attachment", args=[in_progress.pk, attachment.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == content


def test_an_attachment_download_is_refused_to_another_agency(client_for, in_progress, analyst, other_officer):
    attachment = services.attach_file(analyst, in_progress, SimpleUploadedFile("a.txt", b"x"))
    url = reverse("lab:attachment", args=[in_progress.pk, attachment.pk])
    assert client_for(other_officer).get(url).status_code == 404


def test_consuming_from_an_item_i_do_not_hold_shows_the_custody_reason(client_for, in_progress, item, custodian):
    evidence.record_amount(custodian, item, Decimal("5"), "mL")
    client = client_for(in_progress.assigned_to)
    fields = {"amount": "1", "unit": "mL", "reason": "Headspace GC"}
    data = {"action": "consume", "item": item.pk, **{f"consume-{item.pk}-{k}": v for k, v in fields.items()}}
    response = client.post(page(in_progress), data)
    assert "You can only consume from an item you hold." in text(response)
    evidence.hand_over(custodian, [item], in_progress.assigned_to, purpose=Purpose.ANALYSIS, confirmed_in_person=True)
    response = client.post(page(in_progress), data, follow=True)
    assert "1 mL of" in text(response)
    item.refresh_from_db()
    assert item.amount_remaining == Decimal("4")


def test_a_follow_up_request_is_raised(client_for, in_progress, item):
    dna = Discipline.objects.get(code="dna")
    response = client_for(in_progress.assigned_to).post(
        page(in_progress), {"action": "child", "child-discipline": dna.pk, "child-items": [item.pk]}, follow=True
    )
    assert "Follow-up request for" in text(response)
    child = ServiceRequest.objects.get(parent=in_progress)
    assert child.discipline == dna and list(child.items.all()) == [item]


# --- completing and signing ---------------------------------------------------------------------------


def test_completing_with_a_wrong_password_is_refused(client_for, in_progress, analyst, item):
    services.record_result(analyst, in_progress, item, BAC)
    response = client_for(analyst).post(page(in_progress), {"action": "complete", "sign-password": "wrong-password"})
    assert "The password is not correct; the draft was not signed." in text(response)
    assert status_of(in_progress) == RequestStatus.IN_PROGRESS
    assert not in_progress.signatures.exists()


def test_completing_without_a_result_for_every_item_is_refused(client_for, in_progress, analyst):
    response = client_for(analyst).post(page(in_progress), {"action": "complete", "sign-password": PASSWORD})
    assert "Record a result for every item first" in text(response)
    assert status_of(in_progress) == RequestStatus.IN_PROGRESS


def test_completing_signs_and_makes_the_page_read_only(client_for, in_progress, analyst, item):
    services.record_result(analyst, in_progress, item, BAC)
    client = client_for(analyst)
    response = client.post(page(in_progress), {"action": "complete", "sign-password": PASSWORD}, follow=True)
    assert "Draft completed and signed" in text(response)
    assert status_of(in_progress) == RequestStatus.DRAFT_COMPLETE
    assert in_progress.signatures.get().meaning == "authored"
    body = client.get(page(in_progress)).content.decode()
    assert 'data-testid="read-only-banner"' in body
    assert 'data-testid="result-form"' not in body and 'data-testid="sign-form"' not in body
    response = client.post(page(in_progress), result_data(item, concentration="0.09"), follow=True)
    assert "this step is not possible now" in text(response)
    assert Result.objects.get(item=item).data == BAC


# --- worksheets ---------------------------------------------------------------------------------------


@pytest.fixture
def batch(cat, manager, analyst, officer, custodian):
    """Three blood alcohol requests assigned to the analyst."""
    return [
        services.assign(manager, request_of(receive(officer, custodian, number=f"BZ-TR-2026-09{n}")), analyst)
        for n in range(3)
    ]


def test_a_worksheet_is_started_from_the_worklist_selection(client_for, batch, analyst, cat):
    client = client_for(analyst)
    chosen = [batch[0].pk, batch[1].pk]
    response = client.post(reverse("lab:worksheet_new"), {"requests": chosen})
    assert response.status_code == 200 and 'data-testid="worksheet-form"' in response.content.decode()
    assert not Worksheet.objects.exists()
    response = client.post(
        reverse("lab:worksheet_new"),
        {
            "action": "create",
            "requests": chosen,
            "method": cat["method"].pk,
            "instrument": cat["instrument"].pk,
            "reagent_lots": [cat["lot"].pk],
        },
    )
    sheet = Worksheet.objects.get()
    assert response.status_code == 302 and response.url == reverse("lab:worksheet", args=[sheet.reference])
    assert {e.request_id for e in sheet.examinations.all()} == set(chosen)
    assert status_of(batch[2]) == RequestStatus.ASSIGNED


def test_a_worksheet_on_an_uncalibrated_instrument_is_refused_and_starts_nothing(client_for, batch, analyst, cat):
    response = client_for(analyst).post(
        reverse("lab:worksheet_new"),
        {
            "action": "create",
            "requests": [r.pk for r in batch],
            "method": cat["method"].pk,
            "instrument": cat["uncalibrated"].pk,
        },
    )
    assert "is out of calibration since" in text(response)
    assert not Worksheet.objects.exists() and not Examination.objects.exists()


def test_a_worksheet_of_two_disciplines_is_refused(client_for, batch, analyst, manager, officer, custodian):
    authorise(manager, analyst, "serology")
    swab = receive(officer, custodian, "Swab", discipline="serology", number="BZ-CR-2026-0700")
    serology = services.assign(manager, request_of(swab, "serology"), analyst)
    response = client_for(analyst).post(
        reverse("lab:worksheet_new"), {"requests": [batch[0].pk, serology.pk]}, follow=True
    )
    assert "A worksheet holds requests of one discipline" in text(response)
    assert not Worksheet.objects.exists()


def test_a_worksheet_needs_a_selection(client_for, batch, analyst):
    response = client_for(analyst).post(reverse("lab:worksheet_new"), {}, follow=True)
    assert "Tick the assigned requests" in text(response)


@pytest.fixture
def sheet(batch, analyst, cat):
    return services.create_worksheet(analyst, batch, method=cat["method"], instrument=cat["instrument"])


def grid(sheet, rows: dict) -> dict:
    """POST data for the grid: {request: {field: value}} for each request's single item."""
    data = {}
    for request, values in rows.items():
        item = request.items.get()
        data.update({f"row-{request.pk}-{item.pk}-{k}": v for k, v in values.items()})
    return data


def test_the_worksheet_grid_saves_several_results(client_for, sheet, batch, analyst):
    client = client_for(analyst)
    url = reverse("lab:worksheet", args=[sheet.reference])
    body = client.get(url).content.decode()
    assert body.count('data-testid="grid-row"') == 3
    values = {r: {**BAC, "concentration": f"0.0{n + 5}"} for n, r in enumerate(batch[:2])}
    response = client.post(url, grid(sheet, values), follow=True)
    assert "2 result(s) saved." in text(response)
    saved = {r.examination.request_id: r.data["concentration"] for r in Result.objects.select_related("examination")}
    assert saved == {batch[0].pk: "0.05", batch[1].pk: "0.06"}
    response = client.post(url, grid(sheet, values), follow=True)
    assert "Nothing to save" in text(response)


def test_the_worksheet_grid_saves_nothing_when_a_row_is_refused(client_for, sheet, batch, analyst):
    client = client_for(analyst)
    url = reverse("lab:worksheet", args=[sheet.reference])
    values = {
        batch[0]: BAC,
        batch[1]: {**BAC, "concentration": "12"},
        batch[2]: {**BAC, "unit": "%"},
    }
    response = client.post(url, grid(sheet, values))
    body = text(response)
    assert "Nothing was saved: 2 row(s) were refused." in body
    assert "A concentration above 1.5 g/100mL is not plausible; check the unit." in body
    assert "% is not an allowed value for Unit." in body
    assert not Result.objects.exists()
    assert body.count('class="table-danger"') == 2


def test_the_worksheet_is_only_for_its_analyst(client_for, sheet, other_analyst):
    assert client_for(other_analyst).get(reverse("lab:worksheet", args=[sheet.reference])).status_code == 403
