"""CSRF on every state change: a POST without the token is refused (403) and writes nothing, on every route.

The web routes that take POST come from the access matrix's table (``access_matrix.posting_routes``), so a new
route is checked here as soon as it has its row there. Each is posted by a browser that enforces CSRF, signed in
(past the second factor) as a role the table allows to post there — with the same body as in the matrix. Without
the token: 403, the CSRF refusal, nothing written. With it: the same POST goes through (so the refusal was the
token's, and this test can fail).

The API's unsafe methods come from ``tests.api.test_scoping.ROUTES``: with a person's session (not a token) they
need the token too.
"""

from __future__ import annotations

import json
import uuid

import pytest
from django.conf import settings
from django.middleware.csrf import _get_new_csrf_string
from django.test import override_settings
from django.urls import reverse

from tests.api.test_scoping import ACTION
from tests.api.test_scoping import ROUTES as API_ROUTES
from tests.intake.conftest import CASE_FIELDS
from tests.security.access_matrix import (
    ALLOWED,
    CALLERS,
    TABLE,
    ask,
    module_world,
    outcome,
    posting_routes,
    text_of,
    url,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory, laboratory_signing_key):
    yield from module_world(django_db_blocker, tmp_path_factory.mktemp("csrf"), enforce_csrf_checks=True)


def csrf_cookie() -> tuple[dict[str, str], str]:
    """The CSRF cookie a page the browser loaded would have set, and the token that goes with it."""
    secret = _get_new_csrf_string()
    return {settings.CSRF_COOKIE_NAME: secret}, secret


def test_the_csrf_check_covers_every_posting_route():
    """The list is the matrix's: every route whose view takes POST (public ones included)."""
    posting = posting_routes()
    assert "accounts:login" in posting and "evidence:scan" in posting and "reports:verify" in posting
    assert all(TABLE[name].post is not None for name in posting)


@pytest.mark.parametrize("name", posting_routes())
def test_a_post_without_the_token_is_refused_and_writes_nothing(world, name):
    route = TABLE[name]
    caller = next(caller for caller in CALLERS if route.expect(caller, "post") == ALLOWED)
    client, target, body = world.clients[caller], url(world, name), route.body(world)
    with override_settings(MEDIA_ROOT=world.media):
        refused = ask(client, "post", target, body, counted=True)
        assert refused.status_code == 403, f"{caller}: POST {target} without the CSRF token → {refused.status_code}"
        assert "CSRF" in text_of(refused), f"{caller}: POST {target} got a 403 that is not the CSRF refusal"
        assert not refused.writes, f"{caller}: POST {target} was refused for CSRF but wrote {refused.writes}"
        cookie, token = csrf_cookie()
        accepted = ask(client, "post", target, {**body, "csrfmiddlewaretoken": token}, cookies=cookie)
        assert outcome(accepted) == ALLOWED, (
            f"{caller}: POST {target} with the CSRF token → {accepted.status_code}, the table says it is allowed"
        )


# --- the API, with a person's session ---------------------------------------------------------------------------

#: Already checked elsewhere (not repeated here): the officer's POST of a new submission.
CHECKED_ELSEWHERE = {("submission-list", "post"): "tests/api/test_bad_input.py::test_officer_session_writes_need_"}


def api_writes() -> list[tuple[str, str]]:
    """Every unsafe (route, method) of the API, from tests/api/test_scoping.py's table."""
    return sorted(
        (name, method)
        for name, route in API_ROUTES.items()
        for method in (("post",) if route.kind == ACTION else route.writes)
    )


def test_the_api_writes_are_all_checked():
    writes = api_writes()
    assert writes, "test_scoping's ROUTES names no write: the API check below would prove nothing"
    assert set(CHECKED_ELSEWHERE) <= set(writes), "CHECKED_ELSEWHERE names a write the API no longer has"


@pytest.mark.parametrize(("name", "method"), [write for write in api_writes() if write not in CHECKED_ELSEWHERE])
def test_an_api_write_with_a_session_needs_the_token(world, name, method):
    route = API_ROUTES[name]
    kwargs = route.kwargs(world.draft.reference) if route.kwargs else None
    target = reverse(f"api:{name}", kwargs=kwargs)
    client = world.clients["agency_officer"]  # the officer may change A's draft (add_submission, own agency)
    shirt = {"type": "clothing", "description": "Shirt", "disciplines": ["serology"]}
    body = json.dumps({**CASE_FIELDS, "incident_at": "2026-01-01T10:00:00Z", "items": [shirt]})
    headers = {"content_type": "application/json", "HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    refused = ask(client, method, target, body, counted=True, **headers)
    assert refused.status_code == 403, f"{method.upper()} {target} without the CSRF token → {refused.status_code}"
    assert "CSRF" in refused.json()["error"]["message"]
    assert not refused.writes, f"{method.upper()} {target} was refused for CSRF but wrote {refused.writes}"
    cookie, token = csrf_cookie()
    accepted = ask(client, method, target, body, cookies=cookie, HTTP_X_CSRFTOKEN=token, **headers)
    assert accepted.status_code in (200, 201), f"{method.upper()} {target} with the token → {accepted.content[:300]!r}"
