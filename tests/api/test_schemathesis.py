"""The API against its own OpenAPI schema, in-process through the WSGI application.

schemathesis reads the live schema at /api/v1/schema/ and, for every operation, sends generated requests (valid
and invalid ones) as a partner whose agency has a received case. Each answer must not be a server error and must
be documented: its status, its content type and its body. The runs are derandomised (the same requests on every
machine) and bounded, so the whole file takes well under a minute and a half on two cores.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from forensis.intake.models import Submission
from tests.reports.conftest import CONDITION, Lab, release

SCHEMA_URL = "/api/v1/schema/"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 15

schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, get_wsgi_application())
schema.config.generation.update(max_examples=EXAMPLES, deterministic=True, database="none")


@pytest.fixture(autouse=True)
def connection_kept_between_requests():
    """As Django's test client does: the test's connection, and the transaction the test runs in, stay open across
    the requests. (Through the WSGI application each request would close it at its end, as in production.)"""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def partner_key(issue_token, police, received_case) -> str:
    """A token of the police agency, which has a received case (its limit high enough for the whole run)."""
    return issue_token(police, rate_limit=1_000_000).key


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_api_conforms_to_its_schema(case, partner_key):
    case.call_and_validate(headers={"Authorization": f"Bearer {partner_key}"}, checks=CHECKS)


@pytest.fixture
def released_report(make_user, officer, settings, tmp_path):
    """A released toxicology report on a case of the police agency (tests.reports: Lab)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    lab = Lab(make_user, officer, condition=CONDITION)
    lab.administratively_reviewed()
    return release(lab)


def test_real_records_conform_to_the_schema(issue_token, police, released_report):
    """Generated identifiers find nothing: the detail operations once more with the case's own, each a 200."""
    headers = {"Authorization": f"Bearer {issue_token(police).key}"}
    case = released_report.case
    item = case.items.first()
    submission = Submission.objects.get(case=case)
    calls = [
        ("/api/v1/cases/{lab_number}/", "GET", {"lab_number": case.lab_number}),
        ("/api/v1/items/{label}/", "GET", {"label": item.label}),
        ("/api/v1/items/{label}/custody-events/", "GET", {"label": item.label}),
        ("/api/v1/requests/{id}/", "GET", {"id": released_report.request_id}),
        ("/api/v1/reports/{number}/", "GET", {"number": released_report.number}),
        ("/api/v1/reports/{number}/pdf/", "GET", {"number": released_report.number}),
        ("/api/v1/submissions/{reference}/", "GET", {"reference": submission.reference}),
    ]
    for path, method, parameters in calls:
        generated = schema[path][method].Case(path_parameters=parameters)
        response = generated.call_and_validate(headers=headers, checks=CHECKS)
        assert response.status_code == 200, (path, response.text[:300])
    for listing in ("/api/v1/reports/", "/api/v1/requests/", "/api/v1/custody-events/", "/api/v1/feed/"):
        response = schema[listing]["GET"].Case().call_and_validate(headers=headers, checks=CHECKS)
        assert response.status_code == 200, (listing, response.text[:300])


def test_the_schema_is_valid_openapi(db):
    response = Client().get(SCHEMA_URL, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    document = response.json()
    validate_schema(document)  # raises on any violation of the OpenAPI 3.0 specification
    assert document["openapi"].startswith("3.")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            error = operation["responses"].get("401", {}).get("content", {}).get("application/json", {})
            assert error.get("schema") == {"$ref": "#/components/schemas/Error"}, (method, path)


def test_the_docs_render_with_local_assets(db):
    response = Client().get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert not re.search(r"cdn|unpkg|jsdelivr|cloudflare|googleapis", html, re.IGNORECASE)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//"), asset  # same server, no other host
        if asset.startswith("/static/"):
            assert finders.find(asset.removeprefix("/static/")), f"{asset} is not among the static files"
    script = Client().get(next(a for a in assets if a.startswith("/api/v1/docs/")))
    assert script.status_code == 200
    assert "://" not in script.content.decode().replace("document.baseURI", "")
    assert Path(finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")).stat().st_size > 100_000
