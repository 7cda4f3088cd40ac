"""What a person and a partner system get when the database does not answer, in-process and on both engines.

The failure is made where it really happens: every statement the request sends to the database raises the error the
driver raises when the server is gone (PostgreSQL) or the file stays locked (SQLite), starting with the session's
own query in the authentication middleware. ``test_database_outage.py`` takes a real database away from a real
server; this module checks the answer itself: status, Retry-After, language, one log line, no traceback, and that
an ordinary database error is not mistaken for an outage.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from forensis.api import tokens
from forensis.api.models import Access, Resource
from forensis.core.middleware import RETRY_AFTER_SECONDS

STATEMENT = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)  # not the test's own SAVEPOINTs


def driver_error(outage: bool) -> Exception:
    """The driver's own exception: the database gone or locked (``outage``), or a query that is simply wrong."""
    if connection.vendor == "sqlite":
        return sqlite3.OperationalError("database is locked" if outage else "no such column: nonsense")
    import psycopg

    if outage:
        return psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")
    return psycopg.errors.UndefinedColumn('column "nonsense" does not exist')


@contextmanager
def database_fails(*, outage: bool = True, statements: re.Pattern = STATEMENT):
    """Every query (or those matching ``statements``) fails as Django reports the driver's error."""

    def fail(execute, sql, params, many, context):
        if not statements.match(sql):
            return execute(sql, params, many, context)
        cause = driver_error(outage)
        error = OperationalError(*cause.args)
        raise error from cause

    with connection.execute_wrapper(fail):
        yield


@pytest.fixture
def officer_browser(client_for, officer) -> Client:
    return client_for(officer, raise_request_exception=False)


def test_a_signed_in_page_says_try_again_without_a_traceback(officer_browser, caplog):
    with caplog.at_level(logging.INFO), database_fails():
        response = officer_browser.get("/")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    page = response.content.decode()
    assert "The database is not answering" in page
    assert "Nothing is saved in part" in page
    assert 'href="/"' in page  # "Try again": the same address
    assert "Traceback" not in page and "OperationalError" not in page
    # Logged once, as one line for the operator; Django's request log does not add a 500 with a traceback.
    logged = [(r.name, r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING]
    assert logged == [("forensis.database", "ERROR", logged[0][2])], logged
    assert logged[0][2].startswith("Database unavailable (GET /): ")
    assert not any(r.exc_info for r in caplog.records)


def test_the_page_is_in_the_language_of_the_browser(officer_browser):
    with database_fails():
        response = officer_browser.get("/", HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 503
    assert '<html lang="es">' in response.content.decode()


def test_a_form_sent_during_the_outage_is_answered_503_without_a_link_to_resend_it(officer_browser, db):
    from forensis.intake.models import Submission

    before = Submission.objects.count()
    with database_fails():
        response = officer_browser.post("/submissions/new/", {"kit": ""})
    assert response.status_code == 503
    assert 'data-testid="try-again"' not in response.content.decode()  # a POST is not repeated by a link
    assert Submission.objects.count() == before


def test_the_api_answers_json_database_unavailable(officer_browser, caplog):
    with caplog.at_level(logging.INFO), database_fails():
        response = officer_browser.get("/api/v1/cases/")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json()["error"]["code"] == "database_unavailable"
    assert "try the request again" in response.json()["error"]["message"]
    assert [r.name for r in caplog.records if r.levelno >= logging.WARNING] == ["forensis.database"]


def test_a_partner_token_request_inside_the_api_view_answers_json_database_unavailable(admin_user, police, caplog):
    token = tokens.issue_token(
        admin_user,
        name="partner-faults",
        agency=police,
        resources=list(Resource.values),
        access=Access.READ,
        expires_at=timezone.now() + timedelta(days=30),
    )
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {token.key}")
    with caplog.at_level(logging.INFO), database_fails():
        response = client.get("/api/v1/cases/")  # the token is looked up inside the view (DRF)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert [r.name for r in caplog.records if r.levelno >= logging.WARNING] == ["forensis.database"]


def test_a_session_that_cannot_be_saved_is_an_outage_not_a_bad_request(officer_browser):
    """The page was made, but the database stopped answering before the session (saved on every request) was:
    Django's own session store would answer "400 Bad Request: the session was deleted" (forensis.core.sessions)."""
    with database_fails(statements=re.compile(r'^\s*UPDATE "django_session"')):
        response = officer_browser.get("/")
    assert response.status_code == 503
    assert "The database is not answering" in response.content.decode()


def test_a_wrong_query_is_not_taken_for_an_outage(officer_browser):
    with database_fails(outage=False):
        response = officer_browser.get("/")
    assert response.status_code == 500  # a bug stays a bug: the operator must see it, not "try again"


def test_the_next_request_works_when_the_database_answers_again(officer_browser):
    with database_fails():
        assert officer_browser.get("/").status_code == 503
    response = officer_browser.get("/")
    assert response.status_code == 200  # the same session, no restart
