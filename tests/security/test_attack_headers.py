"""Security headers on every kind of answer: pages, the API, error pages (400, 403, 404, 500) and file downloads.

Each answer must carry the Content-Security-Policy of ``forensis.core.middleware`` (scripts, styles and frames from
this server only), ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``
and ``Cross-Origin-Opener-Policy: same-origin``. Over HTTPS in production the answer adds HSTS (a year, with
subdomains and preload), and plain HTTP is redirected: the production values are those a server started with
``FORENSIS_ENV=production`` loads (``test_attack_session.production_settings``), applied here to the test server.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from forensis.core.middleware import CONTENT_SECURITY_POLICY
from tests.security.conftest import HOSTILE_FILE_NAME, World, upload
from tests.security.test_attack_session import production_settings

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"

EXPECTED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
#: What the policy must at least say, whatever else is added to it later.
POLICY_MUST = ("default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri")


@pytest.fixture(scope="module")
def header_world(module_db) -> World:
    """A received case, its released report, an attachment: enough for each kind of answer."""
    from forensis.lab import services as lab
    from tests.security.conftest import _casework, _catalogue, _intake, _people

    world = World()
    _people(world)
    _catalogue(world)
    _intake(world)
    _casework(world)  # leaves the request in progress with its analyst, after two released versions
    world.objects["attachment"] = lab.attach_file(world.users["analyst"], world.request, upload("data.html"))
    return world


def signed_in(world: World, key: str) -> Client:
    client = Client()
    client.force_login(world.users[key], backend=MODEL_BACKEND)
    return client


def api_client(world: World, key: str | None) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}") if key else Client()


def answers(world: World, monkeypatch) -> dict[str, object]:
    """One answer of each kind, by name."""
    w = world
    admin, officer, analyst = signed_in(w, "admin"), signed_in(w, "officer"), signed_in(w, "analyst")
    token = api_client(w, w.objects.get("token_key"))
    found = {
        "page (signed in)": admin.get(reverse("cases:detail", args=[w.case.lab_number])),
        "sign-in page": Client().get(reverse("accounts:login")),
        "public verification page": Client().get(reverse("reports:verify")),
        "form refused (400)": admin.get(reverse("cases:labels", args=[w.case.lab_number]), {"w": "x"}),
        "forbidden page (403)": officer.get(reverse("accounts:user_list")),
        "missing page (404)": admin.get("/no-such-page/"),
        "other agency's case (404)": officer.get(reverse("cases:detail", args=[w.other_case.lab_number])),
        "API list": token.get("/api/v1/cases/"),
        "API without credentials (401)": Client().get("/api/v1/cases/"),
        "API missing (404)": token.get("/api/v1/no-such-thing/"),
        "API forbidden (403)": officer.get("/api/v1/statistics/"),
        "API schema": Client().get("/api/v1/schema/"),
        "report PDF download": admin.get(reverse("reports:pdf", args=[w.report.number, 1])),
        "labels PDF": admin.get(reverse("cases:labels", args=[w.case.lab_number])),
        "receipt PDF": admin.get(reverse("intake:receipt_pdf", args=[w.submission.reference])),
        "discovery packet": admin.get(reverse("reports:discovery", args=[w.case.lab_number])),
        "attachment download": analyst.get(reverse("lab:attachment", args=[w.request.pk, w.attachment.pk])),
        "statistics CSV": admin.get("/statistics/open-data/homicide_victims_by_month.csv"),
        "health check": Client().get("/healthz"),
    }
    import forensis.core.views

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(forensis.core.views, "render", broken)
    crashing = signed_in(w, "admin")
    crashing.raise_request_exception = False
    found["server error (500)"] = crashing.get(reverse("core:home"))
    return found


@pytest.fixture
def every_answer(db, header_world, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from forensis.api import tokens
    from forensis.api.models import Access, Resource

    issued = tokens.issue_token(
        header_world.users["admin"],
        name="headers-partner",
        agency=header_world.agencies["police"],
        resources=list(Resource.values),
        access=Access.READ,
        expires_at=timezone.now() + timedelta(days=1),
    )
    header_world.objects["token_key"] = issued.key
    return answers(header_world, monkeypatch)


EXPECTED_STATUS = {
    "form refused (400)": 400,
    "forbidden page (403)": 403,
    "missing page (404)": 404,
    "other agency's case (404)": 404,
    "API without credentials (401)": 401,
    "API missing (404)": 404,
    "API forbidden (403)": 403,
    "server error (500)": 500,
}


def test_every_kind_of_answer_carries_the_security_headers(every_answer):
    problems = []
    for name, response in every_answer.items():
        status = EXPECTED_STATUS.get(name, 200)
        if response.status_code != status:
            problems.append(f"{name}: status {response.status_code}, expected {status}")
        for header, value in EXPECTED.items():
            if response.headers.get(header) != value:
                problems.append(f"{name}: {header} is {response.headers.get(header)!r}, expected {value!r}")
        policy = response.headers.get("Content-Security-Policy", "")
        missing = [part for part in POLICY_MUST if part not in policy]
        if missing:
            problems.append(f"{name}: Content-Security-Policy {policy!r} lacks {missing}")
        if "unsafe-inline" in policy or "unsafe-eval" in policy:
            problems.append(f"{name}: the policy allows inline script: {policy!r}")
        if "Strict-Transport-Security" in response.headers:
            problems.append(f"{name}: HSTS sent over plain HTTP in development")
    assert not problems, "\n".join(problems)
    assert every_answer["page (signed in)"].headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_error_pages_tell_nothing_of_the_inside(every_answer):
    for name in ("missing page (404)", "forbidden page (403)", "server error (500)", "other agency's case (404)"):
        body = every_answer[name].content.decode()
        assert "Traceback" not in body and "a bug" not in body and "SECRET_KEY" not in body, name
        assert every_answer[name].headers["Content-Type"].startswith("text/html"), name
    assert every_answer["API missing (404)"].headers["Content-Type"].startswith("application/json")
    assert every_answer["form refused (400)"].headers["Content-Type"].startswith("text/plain")


def test_downloads_are_attachments_never_pages(every_answer):
    for name in ("report PDF download", "discovery packet", "attachment download", "statistics CSV"):
        response = every_answer[name]
        assert response.headers["Content-Disposition"].startswith("attachment"), name
        assert not response.headers["Content-Type"].startswith(("text/html", "image/svg", "application/xhtml")), name
    attachment = every_answer["attachment download"]
    assert attachment.headers["Content-Type"] == "application/octet-stream", "the type follows the uploaded name"
    for name in ("labels PDF", "receipt PDF", "report PDF download"):
        assert every_answer[name].headers["Content-Type"] == "application/pdf", name


def test_authenticated_pages_are_not_cached(every_answer):
    """A signed-in page must not be kept by a shared cache; the answer varies with the session cookie at least."""
    page = every_answer["page (signed in)"]
    assert (
        "Cookie" in page.headers.get("Vary", "")
        or "private" in page.headers.get("Cache-Control", "")
        or ("no-store" in page.headers.get("Cache-Control", ""))
    )


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> dict:
    return production_settings(tmp_path_factory.mktemp("production"))


@pytest.fixture
def as_in_production(settings, production):
    for name in (
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
    ):
        setattr(settings, name, production[name])
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    return settings


def test_production_sends_hsts_over_https_and_redirects_http(db, header_world, as_in_production):
    admin = signed_in(header_world, "admin")
    for url in ("/accounts/login/", reverse("cases:detail", args=[header_world.case.lab_number]), "/api/v1/"):
        secure = admin.get(url, secure=True)
        assert secure.headers.get("Strict-Transport-Security") == "max-age=31536000; includeSubDomains; preload", url
        behind_proxy = admin.get(url, HTTP_X_FORWARDED_PROTO="https")
        assert "Strict-Transport-Security" in behind_proxy.headers, url
        plain = Client().get(url)
        assert plain.status_code == 301 and plain.headers["Location"].startswith("https://"), url


def test_hostile_file_name_cannot_split_the_download_headers(db, header_world):
    from forensis.lab import services as lab

    attached = lab.attach_file(header_world.users["analyst"], header_world.request, upload(HOSTILE_FILE_NAME))
    response = signed_in(header_world, "analyst").get(
        reverse("lab:attachment", args=[header_world.request.pk, attached.pk])
    )
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "\n" not in disposition and "\r" not in disposition
    assert "filename*=utf-8''" in disposition, "a name with quotes and non-ASCII is sent encoded (RFC 5987)"
