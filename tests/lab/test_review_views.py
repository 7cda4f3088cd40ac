"""The request page, the review queues, the review page and the release page: who may open them, what they
show, and that a refused decision (wrong password, the author reviewing, a missing review) changes nothing."""

from __future__ import annotations

import hashlib
import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from forensis.accounts.roles import Role
from forensis.lab import services
from forensis.lab.models import Discipline, RequestStatus, ReviewStage, SignatureMeaning
from tests.conftest import PASSWORD
from tests.lab.test_review_services import BLOOD_ALCOHOL, Lab, snapshot

TECHNICAL, ADMINISTRATIVE = ReviewStage.TECHNICAL, ReviewStage.ADMINISTRATIVE
REQUEST_PAGES = ["lab:request", "lab:review", "lab:release"]


@pytest.fixture
def lab(make_user, officer):
    return Lab(make_user, officer)


def page(client: Client, name: str, lab: Lab, data: dict | None = None):
    url = reverse(name, args=[lab.request.pk])
    return client.post(url, data) if data is not None else client.get(url)


def text(response) -> str:
    return html.unescape(response.content.decode())


def approval(lab: Lab, stage: str, **overrides) -> dict:
    data = {"stage": stage, "decision": "approve", "reason": "", "password": PASSWORD}
    data.update({f"question_{q.pk}": "on" for q in lab.questions[stage]})
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- who may open what ---------------------------------------------------------------------------------


def test_officer_of_another_agency_gets_404_on_every_request_page(lab, client_for, other_officer):
    lab.drafted()
    client = client_for(other_officer)
    for name in REQUEST_PAGES:
        assert page(client, name, lab).status_code == 404, name
        assert page(client, name, lab, {"password": PASSWORD}).status_code == 404, name


def test_officer_of_the_submitting_agency_is_not_lab_staff(lab, client_for, officer):
    client = client_for(officer)
    for name in REQUEST_PAGES:
        assert page(client, name, lab).status_code == 403, name
    assert client.get(reverse("lab:reviews")).status_code == 403


def test_analyst_may_read_the_request_but_not_review_or_release_it(lab, client_for):
    lab.administratively_reviewed()
    before = snapshot(lab.request)
    client = client_for(lab.analyst)
    assert page(client, "lab:request", lab).status_code == 200
    assert client.get(reverse("lab:reviews")).status_code == 403
    assert page(client, "lab:review", lab).status_code == 403
    assert page(client, "lab:review", lab, approval(lab, ADMINISTRATIVE)).status_code == 403
    assert page(client, "lab:release", lab).status_code == 403
    assert page(client, "lab:release", lab, {"password": PASSWORD}).status_code == 403
    assert snapshot(lab.request) == before


def test_anonymous_is_sent_to_sign_in(lab):
    response = Client().get(reverse("lab:request", args=[lab.request.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response.url


# --- the request page ----------------------------------------------------------------------------------


def test_request_page_shows_the_whole_record(lab, client_for, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    lab.technically_reviewed()
    services.review(lab.manager, lab.request, stage=ADMINISTRATIVE, approve=False, reason="Wrong item number.")
    chromatogram = b"GC-FID run 2026-11-24\n"
    attachment = services.attach_file(
        lab.analyst, lab.request, SimpleUploadedFile("run-0412.csv", chromatogram, content_type="text/csv")
    )
    services.record_result(
        lab.analyst,
        lab.request,
        lab.item,
        {**BLOOD_ALCOHOL, "concentration": "0.081"},
        reason="Transcription error in the concentration.",
    )
    response = page(client_for(lab.reviewer), "lab:request", lab)
    assert response.status_code == 200
    body = text(response)
    case = lab.request.case
    for expected in [
        case.lab_number,
        reverse("cases:detail", args=[case.lab_number]),
        reverse("evidence:item", args=[lab.item.label]),
        "Blood sample, grey-top tube",
        "In progress",
        "Routine",
        "Andre Flowers",
        "TOX-BAC-HS v4.2",
        "GC-FID Agilent 8890 (US2201A001)",
        "n-Propanol internal standard lot NP-2611",
        "Concentration:</span> <strong>0.081 g/100 mL",
        "Concentration:</span> <strong>0.085 g/100 mL",
        "Superseded by version 2: Transcription error in the concentration.",
        "Authored",
        "Technically reviewed",
        "Rosa Cal",
        "Sent back",
        "Wrong item number.",
        "The method was followed.",
        "Draft complete — waiting for technical review",
        "Stage timestamps",
        "run-0412.csv",
        hashlib.sha256(chromatogram).hexdigest(),
        reverse("lab:attachment", args=[lab.request.pk, attachment.pk]),
    ]:
        assert expected in body, expected
    assert 'data-testid="result-superseded"' in body and "text-decoration-line-through" in body
    signature = lab.request.signatures.first()
    assert signature.content_hash[:16] in body
    assert body.count('data-testid="transition-row"') == 5
    assert 'data-testid="stages-inconsistent"' not in body
    # Nothing to review right now: no review or release button.
    assert 'data-testid="review-link"' not in body and 'data-testid="release-link"' not in body


def test_request_page_links_follow_up_requests_and_shows_a_cancellation(lab, client_for):
    services.assign(lab.manager, lab.request, lab.analyst)
    services.start_examination(lab.analyst, lab.request, method=lab.method)
    lab.reload()
    serology = Discipline.objects.get(code="serology")
    child = services.raise_child_request(lab.analyst, lab.request, serology, [lab.item])
    services.cancel(lab.manager, child, "The agency withdrew the request.")
    client = client_for(lab.reviewer)
    parent_page = text(page(client, "lab:request", lab))
    assert reverse("lab:request", args=[child.pk]) in parent_page
    child_page = text(client.get(reverse("lab:request", args=[child.pk])))
    assert reverse("lab:request", args=[lab.request.pk]) in child_page
    assert "The agency withdrew the request." in child_page and 'data-testid="stage-cancelled_at"' in child_page
    assert "Not started." in child_page


def test_request_page_offers_the_examination_to_its_analyst(lab, client_for):
    services.assign(lab.manager, lab.request, lab.analyst)
    assert 'data-testid="examination-link"' in text(page(client_for(lab.analyst), "lab:request", lab))
    assert 'data-testid="examination-link"' not in text(page(client_for(lab.reviewer), "lab:request", lab))


def test_request_page_offers_review_to_whoever_may_do_it(lab, client_for):
    lab.drafted()
    assert 'data-testid="examination-link"' not in text(page(client_for(lab.analyst), "lab:request", lab))
    assert 'data-testid="review-link"' in text(page(client_for(lab.reviewer), "lab:request", lab))
    assert 'data-testid="review-link"' not in text(page(client_for(lab.analyst), "lab:request", lab))


# --- the queues ----------------------------------------------------------------------------------------


def test_queues_show_only_what_the_person_may_review(lab, client_for):
    lab.drafted()
    reviewer, manager = client_for(lab.reviewer), client_for(lab.manager)
    body = text(reviewer.get(reverse("lab:reviews")))
    technical = body.split('data-testid="queue-technical"')[1].split('data-testid="queue-administrative"')[0]
    assert lab.request.case.lab_number in technical
    # The manager has no toxicology authorisation: it is not theirs to review technically.
    body = text(manager.get(reverse("lab:reviews")))
    assert "1 more request waits for this review by someone else" in body
    assert lab.request.case.lab_number not in body

    lab.approve(lab.reviewer, TECHNICAL)
    body = text(reviewer.get(reverse("lab:reviews")))
    assert lab.request.case.lab_number not in body.split('data-testid="queue-release"')[0]
    body = text(manager.get(reverse("lab:reviews")))
    administrative = body.split('data-testid="queue-administrative"')[1].split('data-testid="queue-release"')[0]
    assert lab.request.case.lab_number in administrative

    lab.approve(lab.manager, ADMINISTRATIVE)
    release = text(manager.get(reverse("lab:reviews"))).split('data-testid="queue-release"')[1]
    assert reverse("lab:release", args=[lab.request.pk]) in release


# --- the review page -----------------------------------------------------------------------------------


def test_review_page_shows_the_work_and_the_checklist(lab, client_for):
    lab.drafted()
    response = page(client_for(lab.reviewer), "lab:review", lab)
    assert response.status_code == 200
    body = text(response)
    for expected in ["Technical review", "TOX-BAC-HS v4.2", "0.085 g/100 mL", "The method was followed."]:
        assert expected in body, expected
    for question in lab.questions[TECHNICAL]:
        assert f'name="question_{question.pk}"' in body
    for question in lab.questions[ADMINISTRATIVE]:
        assert f'name="question_{question.pk}"' not in body


@pytest.mark.parametrize(
    ("stage", "overrides", "message"),
    [
        (TECHNICAL, {"password": "not-my-password"}, "The password is not correct."),
        (TECHNICAL, {"password": ""}, "Enter your password to sign."),
        (TECHNICAL, {"question_first": None}, "Confirm: The method was followed."),
        (TECHNICAL, {"decision": "send_back", "reason": " "}, "Say what the analyst must correct."),
        (ADMINISTRATIVE, {}, "this step is not possible now"),
    ],
)
def test_refused_review_changes_nothing(lab, client_for, stage, overrides, message):
    lab.drafted()
    before = snapshot(lab.request)
    first = f"question_{lab.questions[TECHNICAL][0].pk}"
    data = approval(lab, stage, **{first if k == "question_first" else k: v for k, v in overrides.items()})
    response = page(client_for(lab.reviewer), "lab:review", lab, data)
    assert response.status_code == 200
    assert message in text(response)
    assert snapshot(lab.request) == before


def test_the_author_is_told_to_let_someone_else_review(lab, client_for):
    lab.analyst.groups.add(Role.REVIEWER.group())
    lab.drafted()
    before = snapshot(lab.request)
    client = client_for(lab.analyst)
    body = text(page(client, "lab:review", lab))
    assert "You are the analyst of this request; another person must review it." in body
    assert 'data-testid="review-form"' not in body
    response = page(client, "lab:review", lab, approval(lab, TECHNICAL))
    assert response.status_code == 200
    assert "another person must review it" in text(response)
    assert snapshot(lab.request) == before


def test_send_back_then_both_reviews_and_release_through_the_pages(lab, client_for):
    lab.drafted()
    reviewer, manager = client_for(lab.reviewer), client_for(lab.manager)
    response = page(
        reviewer, "lab:review", lab, {"stage": TECHNICAL, "decision": "send_back", "reason": "Add the uncertainty."}
    )
    assert response.status_code == 302 and response.url == reverse("lab:reviews")
    assert lab.reload().status == RequestStatus.IN_PROGRESS and lab.request.draft_completed_at is None

    services.record_result(lab.analyst, lab.request, lab.item, {**BLOOD_ALCOHOL, "uncertainty": "0.005"})
    services.complete_draft(lab.analyst, lab.request, reauthenticated=True)
    response = page(reviewer, "lab:review", lab, approval(lab, TECHNICAL))
    assert response.status_code == 302 and response.url == reverse("lab:reviews")
    assert lab.reload().status == RequestStatus.TECHNICAL_REVIEW

    # The technical reviewer may not also do the administrative review.
    assert "the administrative review needs a different person" in text(page(reviewer, "lab:review", lab))
    response = page(manager, "lab:review", lab, approval(lab, ADMINISTRATIVE))
    assert response.status_code == 302 and response.url == reverse("lab:release", args=[lab.request.pk])
    assert lab.reload().status == RequestStatus.ADMINISTRATIVE_REVIEW

    before = snapshot(lab.request)
    response = page(manager, "lab:release", lab, {"password": "wrong"})
    assert response.status_code == 200 and "The password is not correct." in text(response)
    assert snapshot(lab.request) == before
    response = page(manager, "lab:release", lab, {"password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("lab:request", args=[lab.request.pk])
    released = lab.reload()
    assert released.status == RequestStatus.RELEASED
    assert list(released.signatures.values_list("meaning", flat=True)) == [
        SignatureMeaning.AUTHORED,
        SignatureMeaning.AUTHORED,
        SignatureMeaning.TECHNICALLY_REVIEWED,
        SignatureMeaning.ADMINISTRATIVELY_REVIEWED,
        SignatureMeaning.RELEASED,
    ]
    body = text(manager.get(response.url))
    assert "Released" in body and body.count('data-testid="signature-row"') == 5
    assert "Add the uncertainty." in body
    assert "Released on" in text(page(manager, "lab:release", lab))


def test_nothing_to_review_goes_back_to_the_request(lab, client_for):
    response = page(client_for(lab.reviewer), "lab:review", lab)
    assert response.status_code == 302 and response.url == reverse("lab:request", args=[lab.request.pk])


# --- the release page ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "missing"),
    [("drafted", "Technical review, Administrative review"), ("technically_reviewed", "Administrative review")],
)
def test_release_without_both_reviews_shows_the_refusal(lab, client_for, stage, missing):
    getattr(lab, stage)()
    client = client_for(lab.manager)
    assert "It can be released only after its technical and administrative reviews" in text(
        page(client, "lab:release", lab)
    )
    before = snapshot(lab.request)
    response = page(client, "lab:release", lab, {"password": PASSWORD})
    assert response.status_code == 200
    assert f"Request {lab.request} cannot be released: missing {missing}." in text(response)
    assert snapshot(lab.request) == before


def test_release_without_password_is_refused(lab, client_for):
    lab.administratively_reviewed()
    before = snapshot(lab.request)
    response = page(client_for(lab.manager), "lab:release", lab, {"password": ""})
    assert "Enter your password to sign." in text(response)
    assert snapshot(lab.request) == before
