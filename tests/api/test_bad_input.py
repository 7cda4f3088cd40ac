"""What the API answers to bad input and bad credentials: the right 4xx, the documented error code, a message a
person can act on, and nothing written (no submission, person, item or audit event of the domain)."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from forensis.api import tokens
from forensis.api.models import Access, IdempotencyRecord, PartnerToken, Resource
from forensis.audit.models import AuditEvent
from forensis.cases.models import Person
from forensis.intake.models import Submission, SubmissionItem
from tests.api.conftest import post
from tests.reports.conftest import CONDITION, Lab, release

SUBMISSIONS = "/api/v1/submissions/"
VALID = {
    "agency_case_number": "BZ-CR-2026-0101",
    "offence_codes": ["0101"],
    "incident_at": "2026-01-01T10:00:00Z",
    "district": "BZ",
    "latitude": "17.250000",
    "longitude": "-88.770000",
    "people": [{"role": "victim", "name": "John Doe", "sex": "M", "age": 31}],
    "items": [{"type": "clothing", "description": "Shirt", "quantity": 1, "disciplines": ["serology"]}],
}


def domain_rows() -> dict[str, int]:
    """What a refused request must not have written (its own ``api.called`` audit event aside)."""
    return {
        "submissions": Submission.objects.count(),
        "people": Person.objects.count(),
        "items": SubmissionItem.objects.count(),
        "audit": AuditEvent.objects.exclude(action="api.called").count(),
        "idempotency": IdempotencyRecord.objects.count(),
    }


@contextlib.contextmanager
def nothing_written():
    before = domain_rows()
    yield
    assert domain_rows() == before


def error_of(response, status: int, code: str) -> dict:
    """The response's error, checked for status, shape, code and a message meant for a person."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and " " in error["message"].strip(), error
    assert set(error) <= {"code", "message", "fields"}
    return error


def with_change(body: dict, path: tuple, value) -> dict:
    """A copy of ``body`` with the value at ``path`` (keys and list indices) replaced."""
    body = json.loads(json.dumps(body))
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


def test_the_valid_body_is_accepted(police_api):
    """The baseline every bad variant below departs from."""
    response = post(police_api, SUBMISSIONS, VALID)
    assert response.status_code == 201, response.content


# --- the body ------------------------------------------------------------------------------------------


def test_malformed_json(police_api):
    with nothing_written():
        response = police_api.post(
            SUBMISSIONS, '{"agency_case_number": "BZ-1",', content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
        )
    assert "JSON" in error_of(response, 400, "malformed_json")["message"]


@pytest.mark.parametrize(
    "body", [[], [VALID], "a string", 42, None], ids=["empty-array", "array", "string", "number", "null"]
)
def test_a_body_that_is_not_an_object(police_api, body):
    with nothing_written():
        response = police_api.post(
            SUBMISSIONS, json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
        )
    error = error_of(response, 400, "validation_error")
    assert "non_field_errors" in error["fields"]


WRONG_TYPES = {
    "string for a list": (("offence_codes",), "0101", "offence_codes"),
    "object for a list": (("items",), {"type": "clothing"}, "items"),
    "number for a string": (("agency_case_number",), 1234, "agency_case_number"),
    "boolean for a string": (("narrative",), True, "narrative"),
    "list for a string": (("town",), ["Belize"], "town"),
    "bad datetime": (("incident_at",), "yesterday at noon", "incident_at"),
    "date-time as a number": (("incident_at",), 1767261600, "incident_at"),
    "latitude 200": (("latitude",), "200", "latitude"),
    "longitude not a number": (("longitude",), "west", "longitude"),
    "unknown district": (("district",), "ATLANTIS", "district"),
    "unknown ICCS code": (("offence_codes",), ["9999"], "offence_codes[0]"),
    "negative quantity": (("items", 0, "quantity"), -1, "items[0].quantity"),
    "quantity as text": (("items", 0, "quantity"), "many", "items[0].quantity"),
    "unknown discipline": (("items", 0, "disciplines"), ["astrology"], "items[0].disciplines"),
    "item type body": (("items", 0, "type"), "body", "items[0].type"),
    "item description missing": (("items", 0, "description"), "", "items[0].description"),
    "biological not a boolean": (("items", 0, "biological"), "perhaps", "items[0].biological"),
    "item not an object": (("items", 0), "Shirt", "items[0]"),
    "person role unknown": (("people", 0, "role"), "witness", "people[0].role"),
    "person age negative": (("people", 0, "age"), -3, "people[0].age"),
    "person age text": (("people", 0, "age"), "old", "people[0].age"),
    "person name a number": (("people", 0, "name"), 7, "people[0].name"),
    "bad date of birth": (("people", 0, "date_of_birth"), "31/12/1990", "people[0].date_of_birth"),
}


@pytest.mark.parametrize(("path", "value", "field"), WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_wrong_type_or_value(police_api, path, value, field):
    with nothing_written():
        response = post(police_api, SUBMISSIONS, with_change(VALID, path, value))
    error = error_of(response, 400, "validation_error")
    assert list(error["fields"]) == [field], error
    assert error["message"].startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (("agency_case_numbr",), "agency_case_numbr"),
        (("items", 0, "colour"), "items[0].colour"),
        (("people", 0, "nickname"), "people[0].nickname"),
    ],
    ids=["top level", "in an item", "in a person"],
)
def test_unknown_fields_are_refused_by_name(police_api, path, field):
    with nothing_written():
        response = post(police_api, SUBMISSIONS, with_change(VALID, path, "x"))
    error = error_of(response, 400, "validation_error")
    assert error["fields"] == {field: ["Unknown field."]}
    assert error["message"] == f"{field}: Unknown field."


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("text/plain", "agency_case_number=BZ-1"),
        ("application/x-www-form-urlencoded", "agency_case_number=BZ-1"),
        ("application/xml", "<submission/>"),
    ],
)
def test_a_body_that_is_not_json(police_api, content_type, data):
    with nothing_written():
        response = police_api.post(SUBMISSIONS, data, content_type=content_type, HTTP_IDEMPOTENCY_KEY="k")
    assert content_type in error_of(response, 415, "unsupported_media_type")["message"]


def test_a_body_over_the_limit(police_api, settings):
    settings.FORENSIS_API_MAX_BODY_BYTES = 512
    big = with_change(VALID, ("narrative",), "x" * 600)
    with nothing_written():
        response = post(police_api, SUBMISSIONS, big)
    assert "512" in error_of(response, 413, "payload_too_large")["message"]
    small = post(police_api, SUBMISSIONS, {"agency_case_number": "BZ-2"})
    assert small.status_code == 201, small.content


# --- credentials -------------------------------------------------------------------------------------


def test_no_token(api_client, received_case):
    with nothing_written():
        for response in (api_client().get("/api/v1/cases/"), post(api_client(), SUBMISSIONS, VALID)):
            error_of(response, 401, "not_authenticated")
            assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Bearer not-a-token-at-all", "authentication_failed"),
        ("Bearer fns_deadbeef_" + "A" * 43, "authentication_failed"),
        ("Bearer ghp_" + "A" * 36, "authentication_failed"),
        ("Bearer", "authentication_failed"),
        ("Bearer ", "authentication_failed"),
        ("Bearer two words", "authentication_failed"),
    ],
    ids=["garbage", "unknown", "wrong prefix", "no value", "blank value", "two values"],
)
def test_bad_tokens(api_client, police, issue_token, header, code):
    issue_token(police)
    client = api_client()
    with nothing_written():
        for response in (
            client.get("/api/v1/cases/", HTTP_AUTHORIZATION=header),
            post(client, SUBMISSIONS, VALID, HTTP_AUTHORIZATION=header),
        ):
            error_of(response, 401, code)


def test_expired_token(api_client, police, issue_token):
    issued = issue_token(police)
    PartnerToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with nothing_written():
        response = post(api_client(issued.key), SUBMISSIONS, VALID)
    assert "expired" in error_of(response, 401, "token_expired")["message"]


def test_revoked_token(api_client, police, issue_token, admin_user):
    issued = issue_token(police)
    tokens.revoke_token(admin_user, issued.token, reason="Partner system decommissioned.")
    with nothing_written():
        response = post(api_client(issued.key), SUBMISSIONS, VALID)
    assert "revoked" in error_of(response, 401, "token_revoked")["message"]


def test_read_only_token_may_not_post(api_client, police, issue_token):
    client = api_client(issue_token(police, access=Access.READ).key)
    assert client.get(SUBMISSIONS).status_code == 200
    with nothing_written():
        response = post(client, SUBMISSIONS, VALID)
    assert "read-only" in error_of(response, 403, "permission_denied")["message"]


def test_token_without_the_resource(api_client, police, issue_token, received_case):
    client = api_client(issue_token(police, resources=[Resource.CASES]).key)
    assert client.get("/api/v1/cases/").status_code == 200
    with nothing_written():
        for response in (client.get(SUBMISSIONS), post(client, SUBMISSIONS, VALID)):
            assert "submissions" in error_of(response, 403, "permission_denied")["message"]


def test_agency_may_not_replace_a_submitted_submission(police_api):
    created = post(police_api, SUBMISSIONS, VALID)
    reference = created.json()["reference"]
    assert post(police_api, f"{SUBMISSIONS}{reference}/submit/").status_code == 200
    with nothing_written():
        response = police_api.put(f"{SUBMISSIONS}{reference}/", {**VALID, "town": "Orange Walk"}, format="json")
    error = error_of(response, 400, "validation_error")
    assert error["message"].startswith("This submission has been submitted and can no longer be changed by the agency")
    assert Submission.objects.get(reference=reference).town == ""


# --- addresses and methods ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nothing-here/", "/api/v1/cases/X/unknown/", "/api/v1/v2/cases/"])
def test_unknown_address(police_api, path):
    assert "/api/v1/docs/" in error_of(police_api.get(path), 404, "not_found")["message"]


def test_unknown_address_with_an_unsafe_method(police, issue_token):
    """A partner's client is not Django's test client: it gets the CSRF check a real request gets."""
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(police).key}")
    error_of(post(client, "/api/v1/nothing-here/", VALID), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [("delete", "/api/v1/cases/"), ("patch", SUBMISSIONS), ("delete", SUBMISSIONS), ("put", "/api/v1/feed/")],
)
def test_wrong_method(police_api, method, path):
    with nothing_written():
        response = getattr(police_api, method)(path, {}, format="json")
    assert method.upper() in error_of(response, 405, "method_not_allowed")["message"]


# --- another agency's records ----------------------------------------------------------------------------


@pytest.fixture
def released_report(make_user, officer, settings, tmp_path):
    """A released toxicology report on a case of the police agency (tests.reports: Lab)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    lab = Lab(make_user, officer, condition=CONDITION)
    lab.administratively_reviewed()
    return release(lab)


def test_another_agencys_records_are_not_found(police_api, other_police_api, released_report):
    case = released_report.case
    item = case.items.first()
    submission = Submission.objects.get(case=case)
    reads = [
        f"/api/v1/cases/{case.lab_number}/",
        f"/api/v1/items/{item.label}/",
        f"/api/v1/items/{item.label}/custody-events/",
        f"/api/v1/requests/{released_report.request_id}/",
        f"/api/v1/reports/{released_report.number}/",
        f"/api/v1/reports/{released_report.number}/pdf/",
        f"{SUBMISSIONS}{submission.reference}/",
    ]
    for path in reads:
        assert police_api.get(path).status_code == 200, path
    never_existed = other_police_api.get("/api/v1/cases/NOPE-2026-99999/").json()
    with nothing_written():
        for path in reads:
            assert error_of(other_police_api.get(path), 404, "not_found") == never_existed["error"], path
        put = other_police_api.put(f"{SUBMISSIONS}{submission.reference}/", VALID, format="json")
        error_of(put, 404, "not_found")
        error_of(post(other_police_api, f"{SUBMISSIONS}{submission.reference}/submit/"), 404, "not_found")
    for listing in ("/api/v1/cases/", "/api/v1/items/", "/api/v1/requests/", "/api/v1/reports/", SUBMISSIONS):
        assert other_police_api.get(listing).json()["results"] == [], listing


# --- people with a session -------------------------------------------------------------------------------


def test_officer_session_reads(client_for, officer, received_case):
    response = client_for(officer).get("/api/v1/cases/")
    assert response.status_code == 200, response.content
    assert [c["lab_number"] for c in response.json()["results"]] == [received_case.lab_number]


def test_officer_session_writes_need_the_csrf_token(client_for, officer, settings):
    client = client_for(officer, enforce_csrf_checks=True)
    body = json.dumps(VALID)
    with nothing_written():
        refused = client.post(SUBMISSIONS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")
    assert "CSRF" in error_of(refused, 403, "permission_denied")["message"]
    secret = _get_new_csrf_string()
    client.cookies[settings.CSRF_COOKIE_NAME] = secret
    accepted = client.post(
        SUBMISSIONS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1", HTTP_X_CSRFTOKEN=secret
    )
    assert accepted.status_code == 201, accepted.content
    assert accepted.json()["submitting_officer"] == officer.username


def test_session_that_owes_the_second_factor(client_for, officer, received_case):
    TOTPDevice.objects.create(user=officer, name="phone", confirmed=True)
    client = client_for(officer)
    with nothing_written():
        for response in (
            client.get("/api/v1/cases/"),
            client.post(SUBMISSIONS, json.dumps(VALID), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"),
        ):
            assert "Location" not in response  # JSON, never the web pages' redirect to the code form
            assert "authenticator" in error_of(response, 401, "mfa_required")["message"]


# --- query parameters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "received_before=0433-01-20T15:56:15.330593-21:06",  # an offset PostgreSQL refuses: compared in UTC
        "received_after=2026-01-01T10:00:00%2B14:00",
        "received_after=2026-01-01T10:00:00",  # no offset: the API's zone, UTC
    ],
)
def test_time_filters_take_any_iso_8601_offset(police_api, received_case, query):
    response = police_api.get(f"/api/v1/cases/?{query}")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/api/v1/cases/", "received_after=0001-01-01T00:00:00%2B05:00", "received_after"),  # before the year 1 in UTC
        ("/api/v1/cases/", "received_before=9999-12-31T23:00:00-05:00", "received_before"),  # after 9999 in UTC
        ("/api/v1/cases/", "received_after=yesterday", "received_after"),
        ("/api/v1/cases/", "district=ATLANTIS", "district"),
        ("/api/v1/items/", "type=body-part", "type"),
        ("/api/v1/custody-events/", "after=2026-13-01T00:00:00Z", "after"),
        ("/api/v1/reports/", "issued_after=soon", "issued_after"),
        ("/api/v1/submissions/", "status=lost", "status"),
    ],
)
def test_bad_filters(police_api, path, query, field):
    error = error_of(police_api.get(f"{path}?{query}"), 400, "validation_error")
    assert list(error["fields"]) == [field]


def test_numbers_too_long_for_the_database_are_refused_cleanly(police_api):
    """A request id or report version beyond the database's integers is a 404/400 in JSON, never a 500."""
    huge = "9" * 25
    response = police_api.get(f"/api/v1/requests/{huge}/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = police_api.get(f"/api/v1/reports/NFSS-R-2026-00001/pdf/?version={huge}")
    assert response.status_code in (400, 404) and "error" in response.json()
