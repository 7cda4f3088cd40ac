"""Shared fixtures of the API tests: tokens issued through the service, and clients that present them."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from forensis.api import tokens
from forensis.api.models import Access, Resource
from forensis.intake import services as intake_services
from tests.intake.conftest import CASE_FIELDS, item

_names = itertools.count(1)


@pytest.fixture
def issue_token(admin_user):
    """Issue a token for ``agency`` (all resources, write access unless told) and return the IssuedToken."""

    def issue(agency, resources=tuple(Resource.values), access=Access.WRITE, **fields) -> tokens.IssuedToken:
        return tokens.issue_token(
            admin_user,
            name=fields.pop("name", f"partner-{next(_names)}"),
            agency=agency,
            resources=list(resources),
            access=access,
            expires_at=fields.pop("expires_at", timezone.now() + timedelta(days=30)),
            **fields,
        )

    return issue


@pytest.fixture
def api_client():
    """A client presenting ``key`` as its bearer token (``None``: no credentials)."""

    def make(key: str | None = None) -> APIClient:
        client = APIClient()
        if key:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return client

    return make


@pytest.fixture
def police_api(issue_token, police, api_client):
    return api_client(issue_token(police).key)


@pytest.fixture
def other_police_api(issue_token, other_police, api_client):
    return api_client(issue_token(other_police).key)


def post(client: APIClient, url: str, data=None, *, key: str | None = None, **extra):
    """POST JSON with an Idempotency-Key (a new one unless given)."""
    return client.post(url, data, format="json", HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()), **extra)


@pytest.fixture
def received_case(officer, make_user):
    """A case of the police agency, received from a submitted pre-log (two items, three requests)."""
    from forensis.accounts.roles import Role

    custodian = make_user(Role.EVIDENCE_CUSTODIAN)
    submission = intake_services.create_submission(
        officer,
        people=[{"role": "victim", "name": "John Doe", "sex": "M", "age": 31}],
        items=[item(), item("Swab from door handle", seal="S-2", disciplines=("dna", "serology"), type="swab")],
        **{**CASE_FIELDS, "incident_at": timezone.now() - timedelta(days=1)},
    )
    intake_services.submit_submission(officer, submission)
    checks = {i.pk: intake_services.ItemCheck() for i in submission.items.all()}
    return intake_services.receive_submission(custodian, submission, checks=checks, handed_over_by=officer)
