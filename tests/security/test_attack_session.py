"""Sessions: fixation, theft after sign-out, cookie flags, idle expiry.

- A session key planted before sign-in (session fixation) is replaced at sign-in, and again when the second factor
  is passed (or enrolled): the key an attacker knew before never becomes a signed-in, verified session.
- After sign-out the old key opens nothing, even replayed by another browser.
- Session cookie HttpOnly, SameSite=Lax, ending with the browser; CSRF cookie SameSite=Lax (readable by the page's
  script: htmx sends it); both Secure in production, whose settings are loaded in a subprocess with
  ``FORENSIS_ENV=production``, as an operator would start the server.
- The server ends a session after ``FORENSIS_IDLE_TIMEOUT_MINUTES`` without a request; every request pushes the end on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from forensis.accounts.roles import Role
from tests.conftest import PASSWORD

LOGIN = "/accounts/login/"


def sign_in(client: Client, username: str, password: str = PASSWORD):
    return client.post(LOGIN, {"username": username, "password": password, "acknowledge": "on"})


def session_key(client: Client) -> str:
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


def plant_session(client: Client) -> str:
    """An attacker's session: made before sign-in, its key set in the victim's browser."""
    session = client.session
    session["planted"] = True
    session.save()
    client.cookies[django_settings.SESSION_COOKIE_NAME] = session.session_key
    return session.session_key


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"


def opens_home(session_key_value: str) -> bool:
    """Whether a browser holding only this session key reaches the home page."""
    thief = Client()
    thief.cookies[django_settings.SESSION_COOKIE_NAME] = session_key_value
    return thief.get("/").status_code == 200


@pytest.fixture
def officer_without_mfa(officer, settings):
    settings.FORENSIS_MFA_FOR_AGENCY_USERS = False
    return officer


def test_sign_in_replaces_a_planted_session_key(db, client, officer_without_mfa):
    planted = plant_session(client)
    assert sign_in(client, "officer").status_code == 302
    assert session_key(client) != planted
    assert not Session.objects.filter(session_key=planted).exists(), "the planted session still exists"
    assert not opens_home(planted)
    assert opens_home(session_key(client))


def test_passing_the_second_factor_replaces_the_session_key(db, client, make_user):
    user = make_user(Role.ANALYST, username="ana")
    device = TOTPDevice.objects.create(user=user, confirmed=True)
    sign_in(client, "ana")
    after_password = session_key(client)
    assert not opens_home(after_password), "the password alone opened a page"
    response = client.post(reverse("accounts:mfa_verify"), {"token": code_for(device), "next": "/"})
    assert response.status_code == 302
    verified = session_key(client)
    assert verified != after_password, "the key known before the second factor is the verified session's key"
    assert not opens_home(after_password)
    assert opens_home(verified)


def test_enrolling_the_first_authenticator_replaces_the_session_key(db, client, make_user):
    user = make_user(Role.ANALYST, username="ana")
    sign_in(client, "ana")
    client.get(reverse("accounts:mfa_enrol"))
    before = session_key(client)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("accounts:mfa_enrol"), {"token": code_for(device)})
    assert response.status_code == 302 and response.url == reverse("core:home")
    assert session_key(client) != before
    assert not opens_home(before)
    assert opens_home(session_key(client))


def test_after_sign_out_the_old_key_opens_nothing(db, client, officer_without_mfa):
    sign_in(client, "officer")
    stolen = session_key(client)
    assert opens_home(stolen)
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert not Session.objects.filter(session_key=stolen).exists()
    assert not opens_home(stolen)
    api = Client(HTTP_AUTHORIZATION="")
    api.cookies[django_settings.SESSION_COOKIE_NAME] = stolen
    assert api.get("/api/v1/cases/").status_code == 401


def test_sign_out_is_not_a_link(db, client, officer_without_mfa):
    """A GET (an image or link on another site) does not sign anybody out."""
    sign_in(client, "officer")
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert opens_home(session_key(client))


def cookie_attributes(response, name: str) -> dict:
    morsel = response.cookies[name]
    return {key: morsel[key] for key in ("httponly", "samesite", "secure", "max-age", "expires")}


def test_cookie_flags(db, client, officer_without_mfa):
    page = client.get(LOGIN)
    csrf = cookie_attributes(page, django_settings.CSRF_COOKIE_NAME)
    assert csrf["samesite"] == "Lax" and not csrf["httponly"], csrf  # htmx reads it to send X-CSRFToken
    response = sign_in(client, "officer")
    session = cookie_attributes(response, django_settings.SESSION_COOKIE_NAME)
    assert session["httponly"] is True and session["samesite"] == "Lax", session
    assert not session["max-age"] and not session["expires"], "the session cookie outlives the browser"


def test_cookies_are_secure_when_the_settings_say_so(db, client, officer_without_mfa, settings):
    """What production switches on (see test_production_settings): the cookies then carry Secure."""
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    page = client.get(LOGIN, secure=True)
    assert cookie_attributes(page, settings.CSRF_COOKIE_NAME)["secure"] is True
    response = client.post(LOGIN, {"username": "officer", "password": PASSWORD, "acknowledge": "on"}, secure=True)
    assert cookie_attributes(response, settings.SESSION_COOKIE_NAME)["secure"] is True


PRODUCTION_PROBE = """
import json
from django.conf import settings
import django
django.setup()
print(json.dumps({name: getattr(settings, name, None) for name in (
    "DEBUG", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_SAMESITE", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
    "SECURE_SSL_REDIRECT", "SESSION_EXPIRE_AT_BROWSER_CLOSE", "SESSION_COOKIE_AGE", "SESSION_SAVE_EVERY_REQUEST",
    "FORENSIS_DEFER_MFA_ENROLMENT", "X_FRAME_OPTIONS", "SECURE_CONTENT_TYPE_NOSNIFF", "SECURE_REFERRER_POLICY")}))
"""


def production_settings(tmp_path, **environment) -> dict:
    """The settings a server started with FORENSIS_ENV=production gets (loaded in a fresh interpreter)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "forensis.settings",
        "FORENSIS_ENV": "production",
        "FORENSIS_DATA_DIR": str(tmp_path),
        "ALLOWED_HOSTS": "forensis.example.org",
        "SECRET_KEY": "x" * 60,
        "FORENSIS_DEFER_MFA_ENROLMENT": "1",
        **environment,
    }
    env.pop("FORENSIS_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROBE], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_production_settings(tmp_path):
    production = production_settings(tmp_path)
    assert production["DEBUG"] is False
    assert production["SESSION_COOKIE_SECURE"] is True and production["CSRF_COOKIE_SECURE"] is True
    assert production["SESSION_COOKIE_HTTPONLY"] is True and production["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert production["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert production["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert production["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True and production["SECURE_SSL_REDIRECT"] is True
    assert production["SESSION_EXPIRE_AT_BROWSER_CLOSE"] is True and production["SESSION_SAVE_EVERY_REQUEST"] is True
    assert production["SESSION_COOKIE_AGE"] == 30 * 60
    assert production["FORENSIS_DEFER_MFA_ENROLMENT"] is False, "the demo's MFA deferral reached production"


def test_idle_sessions_end_on_the_server(db, client, officer_without_mfa, settings):
    sign_in(client, "officer")
    key = session_key(client)
    end = Session.objects.get(session_key=key).expire_date
    idle = timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert abs(end - (timezone.now() + idle)) < timedelta(minutes=1)
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(hours=2))
    client.get("/")  # any request would push the end forward; this one comes too late
    assert Session.objects.filter(session_key=key).first() is None or not opens_home(key)
    assert client.get("/").status_code == 302


def test_every_request_pushes_the_end_forward(db, client, officer_without_mfa):
    sign_in(client, "officer")
    key = session_key(client)
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() + timedelta(minutes=1))
    assert client.get("/").status_code == 200
    assert Session.objects.get(session_key=key).expire_date > timezone.now() + timedelta(minutes=20)
