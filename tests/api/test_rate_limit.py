"""Each partner token's calls per minute: over its ``rate_limit`` the answer is 429 with ``Retry-After``, the count
starts again the next minute, tokens are counted apart, and every call, refused or not, is audited."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from forensis.api import tokens
from forensis.audit.models import AuditEvent, Outcome
from forensis.intake.models import Submission
from tests.api.conftest import post

#: A minute's start (seconds since the epoch); the tests' clock runs from here.
MINUTE = 29_000_000 * 60


@pytest.fixture
def clock(monkeypatch):
    """The clock ``forensis.api.tokens`` counts minutes by: ``clock.now`` seconds since the epoch."""
    fake = SimpleNamespace(now=MINUTE + 10.25)
    monkeypatch.setattr(tokens, "time", SimpleNamespace(time=lambda: fake.now))
    return fake


@pytest.fixture
def limited(issue_token, police, api_client):
    issued = issue_token(police, rate_limit=3, name="police-rms")
    return SimpleNamespace(token=issued.token, client=api_client(issued.key))


def calls_of(token) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="api.called", object_repr=token.name).order_by("pk"))


def assert_rate_limited(response, seconds: int | None = None) -> int:
    assert response.status_code == 429, response.content
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 60
    if seconds is not None:
        assert wait == seconds
    assert f"Wait {wait} seconds" in error["message"]
    return wait


def test_the_fourth_call_in_a_minute_is_refused(clock, limited):
    for _ in range(3):
        assert limited.client.get("/api/v1/cases/").status_code == 200
    clock.now += 5  # 15.25 s into the minute: 44.75 s left, rounded up
    assert_rate_limited(limited.client.get("/api/v1/cases/"), seconds=45)
    assert_rate_limited(limited.client.get("/api/v1/submissions/"), seconds=45)  # every endpoint of the token


@pytest.mark.parametrize(("into_the_minute", "seconds"), [(0.0, 60), (0.5, 60), (30.0, 30), (59.2, 1), (59.999, 1)])
def test_retry_after_is_the_rest_of_the_minute(clock, limited, into_the_minute, seconds):
    clock.now = MINUTE + into_the_minute
    for _ in range(3):
        limited.client.get("/api/v1/cases/")
    assert_rate_limited(limited.client.get("/api/v1/cases/"), seconds=seconds)


def test_the_count_starts_again_the_next_minute(clock, limited):
    for _ in range(3):
        assert limited.client.get("/api/v1/cases/").status_code == 200
    assert_rate_limited(limited.client.get("/api/v1/cases/"))
    clock.now = MINUTE + 60  # the next minute's first instant
    for _ in range(3):
        assert limited.client.get("/api/v1/cases/").status_code == 200
    assert_rate_limited(limited.client.get("/api/v1/cases/"), seconds=60)
    clock.now = MINUTE + 3 * 60 + 59.5  # minutes later
    assert limited.client.get("/api/v1/cases/").status_code == 200


def test_tokens_are_counted_apart(clock, limited, issue_token, police, other_police, api_client):
    same_agency = api_client(issue_token(police, rate_limit=3).key)
    other_agency = api_client(issue_token(other_police, rate_limit=3).key)
    for _ in range(3):
        assert limited.client.get("/api/v1/cases/").status_code == 200
    assert_rate_limited(limited.client.get("/api/v1/cases/"))
    for client in (same_agency, other_agency):
        for _ in range(3):
            assert client.get("/api/v1/cases/").status_code == 200
        assert_rate_limited(client.get("/api/v1/cases/"))


def test_sessions_are_not_counted_against_a_token(clock, limited, client_for, officer):
    session = client_for(officer)
    for _ in range(5):
        assert session.get("/api/v1/cases/").status_code == 200
    for _ in range(3):
        assert limited.client.get("/api/v1/cases/").status_code == 200


def test_a_refused_post_acts_not_and_may_be_retried_next_minute(clock, limited):
    for _ in range(3):
        limited.client.get("/api/v1/cases/")
    body = {"agency_case_number": "BZ-CR-2026-0300"}
    assert_rate_limited(post(limited.client, "/api/v1/submissions/", body, key="later"))
    assert Submission.objects.count() == 0
    clock.now += 60
    created = post(limited.client, "/api/v1/submissions/", body, key="later")
    assert created.status_code == 201, created.content
    assert "Idempotent-Replayed" not in created


def test_every_call_is_audited_with_the_tokens_name(clock, limited):
    for _ in range(3):
        limited.client.get("/api/v1/cases/?district=BZ")
    limited.client.get("/api/v1/cases/")
    calls = calls_of(limited.token)
    assert len(calls) == 4
    assert [c.after["status"] for c in calls] == [200, 200, 200, 429]
    assert [c.outcome for c in calls] == [Outcome.SUCCESS] * 3 + [Outcome.FAILURE]
    assert {c.object_repr for c in calls} == {"police-rms"}
    assert {c.actor_id for c in calls} == {limited.token.user_id}
    assert calls[0].after["path"] == "/api/v1/cases/?district=BZ"
    assert calls[-1].after == {"method": "GET", "path": "/api/v1/cases/", "status": 429}
