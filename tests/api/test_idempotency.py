"""Retried POSTs: one ``Idempotency-Key`` acts once, its retries get the first answer, and a key is never
silently reused for something else (docs/api.md, Conventions)."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from forensis.api.models import Access, IdempotencyRecord
from forensis.audit.models import AuditEvent
from forensis.intake.models import Submission
from tests.api.conftest import post
from tests.conftest import race

SUBMISSIONS = "/api/v1/submissions/"
BODY = {
    "agency_case_number": "BZ-CR-2026-0200",
    "offence_codes": ["0101"],
    "incident_at": "2026-01-01T10:00:00Z",
    "district": "BZ",
    "people": [{"role": "victim", "name": "John Doe"}],
    "items": [{"type": "clothing", "description": "Shirt", "disciplines": ["serology"]}],
}


def audited(action: str, **filters) -> int:
    return AuditEvent.objects.filter(action=action, **filters).count()


def test_a_retry_gets_the_first_answer_and_acts_once(police_api):
    first = post(police_api, SUBMISSIONS, BODY, key="retry-1")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first
    for _ in range(2):
        again = post(police_api, SUBMISSIONS, BODY, key="retry-1")
        assert again.status_code == 201
        assert again["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        assert again["Location"] == first["Location"] == f"{SUBMISSIONS}{first.json()['reference']}/"
    assert Submission.objects.count() == 1
    assert audited("submission.created") == 1


def test_the_same_key_for_another_request_is_refused(police_api):
    assert post(police_api, SUBMISSIONS, BODY, key="reused").status_code == 201
    other_body = post(police_api, SUBMISSIONS, {**BODY, "agency_case_number": "BZ-CR-2026-0201"}, key="reused")
    reference = Submission.objects.get().reference
    other_path = post(police_api, f"{SUBMISSIONS}{reference}/submit/", key="reused")
    for response in (other_body, other_path):
        assert response.status_code == 422, response.content
        error = response.json()["error"]
        assert error["code"] == "idempotency_key_reused"
        assert "new key" in error["message"]
        assert "Idempotent-Replayed" not in response
    assert Submission.objects.get().status == "draft"
    assert audited("submission.created") == 1


def test_the_same_body_with_other_spacing_is_another_request(police_api):
    """The key guards the exact bytes: a client that re-serialises differently must use a new key."""
    assert post(police_api, SUBMISSIONS, BODY, key="bytes").status_code == 201
    spaced = police_api.post(
        SUBMISSIONS, json.dumps(BODY, indent=2), content_type="application/json", HTTP_IDEMPOTENCY_KEY="bytes"
    )
    assert spaced.status_code == 422
    assert Submission.objects.count() == 1


@pytest.mark.parametrize(
    "header", [None, "", "   ", "x" * 256, "tab\there"], ids=["none", "empty", "blank", "long", "tab"]
)
def test_a_post_needs_a_usable_key(police_api, header):
    extra = {} if header is None else {"HTTP_IDEMPOTENCY_KEY": header}
    for path in (SUBMISSIONS, f"{SUBMISSIONS}SUB-2026-00001/submit/"):
        response = police_api.post(path, BODY, format="json", **extra)
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert error["code"] == "idempotency_key_required"
        assert "Idempotency-Key" in error["message"]
    assert Submission.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0


def test_the_key_is_checked_before_the_body_is_read(police_api):
    response = police_api.post(SUBMISSIONS, "{not json", content_type="application/json")
    assert response.json()["error"]["code"] == "idempotency_key_required"


def test_a_key_of_255_characters_is_fine(police_api):
    key = "k" * 255
    assert post(police_api, SUBMISSIONS, BODY, key=key).status_code == 201
    assert post(police_api, SUBMISSIONS, BODY, key=key)["Idempotent-Replayed"] == "true"


def test_a_failed_post_stores_nothing_so_the_key_may_be_reused(police_api):
    wrong = {**BODY, "latitude": "200"}
    for _ in range(2):  # the same failure twice: evaluated anew each time, not replayed
        failed = post(police_api, SUBMISSIONS, wrong, key="fix-and-retry")
        assert failed.status_code == 400
        assert failed.json()["error"]["code"] == "validation_error"
        assert "Idempotent-Replayed" not in failed
    malformed = police_api.post(SUBMISSIONS, "{", content_type="application/json", HTTP_IDEMPOTENCY_KEY="fix-and-retry")
    assert malformed.status_code == 400
    assert IdempotencyRecord.objects.count() == 0
    assert Submission.objects.count() == 0

    corrected = post(police_api, SUBMISSIONS, BODY, key="fix-and-retry")
    assert corrected.status_code == 201, corrected.content
    assert "Idempotent-Replayed" not in corrected
    assert post(police_api, SUBMISSIONS, BODY, key="fix-and-retry")["Idempotent-Replayed"] == "true"
    assert Submission.objects.count() == 1


def test_a_refused_post_stores_nothing_either(api_client, police, issue_token):
    """Refused before the handler (read-only token) or by the service (already submitted): retried anew."""
    read_only = api_client(issue_token(police, access=Access.READ).key)
    assert post(read_only, SUBMISSIONS, BODY, key="refused").status_code == 403
    writer = api_client(issue_token(police).key)
    created = post(writer, SUBMISSIONS, BODY, key="refused")
    assert created.status_code == 201
    submit = f"{SUBMISSIONS}{created.json()['reference']}/submit/"
    assert post(writer, submit, key="submit-1").status_code == 200
    twice = post(writer, submit, key="submit-2")
    assert twice.status_code == 400
    assert "has been submitted" in twice.json()["error"]["message"]
    assert not IdempotencyRecord.objects.filter(key="submit-2").exists()


def test_keys_belong_to_one_token_or_person(
    police_api, other_police_api, api_client, police, issue_token, client_for, officer
):
    second_police_api = api_client(issue_token(police).key)
    answers = [
        post(client, SUBMISSIONS, BODY, key="shared-key")
        for client in (police_api, second_police_api, other_police_api)
    ]
    session = client_for(officer)
    answers.append(
        session.post(SUBMISSIONS, json.dumps(BODY), content_type="application/json", HTTP_IDEMPOTENCY_KEY="shared-key")
    )
    assert [a.status_code for a in answers] == [201, 201, 201, 201]
    assert not any("Idempotent-Replayed" in a for a in answers)
    assert len({a.json()["reference"] for a in answers}) == 4
    assert Submission.objects.count() == 4
    assert sorted(Submission.objects.values_list("agency__code", flat=True)) == ["POL-A", "POL-A", "POL-A", "POL-B"]


def test_a_replayed_submit_does_not_submit_twice(police_api):
    reference = post(police_api, SUBMISSIONS, BODY).json()["reference"]
    submit = f"{SUBMISSIONS}{reference}/submit/"
    first = post(police_api, submit, key="submit-once")
    assert first.status_code == 200, first.content
    assert first.json()["status"] == "submitted"
    replayed = post(police_api, submit, key="submit-once")
    assert replayed.status_code == 200
    assert replayed["Idempotent-Replayed"] == "true"
    assert replayed.json() == first.json()
    submission = Submission.objects.get(reference=reference)
    assert audited("submission.submitted", object_id=str(submission.pk)) == 1


# --- at once, on PostgreSQL ------------------------------------------------------------------------------
# Last in the module: the committing test drops the append-only triggers before its flush, and the module's
# teardown puts them back (as tests/evidence/test_race.py and tests/api/test_feed.py do).

THREADS = 8


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's concurrent connections")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_requests_racing_with_one_key_act_once(committed_ledgers, api_client, police, issue_token):
    key = issue_token(police).key

    def attempt():
        return post(api_client(key), SUBMISSIONS, BODY, key="racing")

    answers, errors = race([attempt] * THREADS)
    assert not errors, errors

    assert Submission.objects.count() == 1
    assert audited("submission.created") == 1
    reference = Submission.objects.get().reference
    acted = [a for a in answers if a.status_code == 201 and "Idempotent-Replayed" not in a]
    assert len(acted) == 1
    for answer in answers:
        if answer.status_code == 201:
            assert answer.json()["reference"] == reference
        else:
            assert answer.status_code == 409, answer.content
            assert answer.json()["error"]["code"] == "idempotency_conflict"
    retried = post(api_client(key), SUBMISSIONS, BODY, key="racing")
    assert retried.status_code == 201
    assert retried["Idempotent-Replayed"] == "true"
    assert retried.json()["reference"] == reference
