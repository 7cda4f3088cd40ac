import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from tests.conftest import PASSWORD

LOGIN = "/accounts/login/"


def post_login(client, username, password=PASSWORD, acknowledge=True):
    data = {"username": username, "password": password}
    if acknowledge:
        data["acknowledge"] = "on"
    return client.post(LOGIN, data)


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"


@pytest.fixture
def no_mfa_for_officers(settings):
    settings.FORENSIS_MFA_FOR_AGENCY_USERS = False


def test_officer_signs_in(client, officer, no_mfa_for_officers):
    response = post_login(client, "officer")
    assert response.status_code == 302 and response.url == reverse("core:home")
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.login", actor_username="officer").exists()


def test_use_notice_must_be_accepted(client, officer):
    response = post_login(client, "officer", acknowledge=False)
    assert response.status_code == 200
    assert "You must accept the conditions of use" in response.content.decode()


def test_wrong_password_gives_one_clear_message_and_is_audited(client, officer):
    response = post_login(client, "officer", password="not-the-password")
    body = response.content.decode()
    assert "The username or password is not correct" in body
    assert "Traceback" not in body
    assert AuditEvent.objects.filter(action="auth.login_failed", actor_username="officer").count() == 1


def test_lockout_after_five_failures(client, officer, no_mfa_for_officers):
    for _ in range(5):
        post_login(client, "officer", password="wrong-password")
    response = post_login(client, "officer")
    assert response.status_code == 429
    assert "Sign-in locked" in response.content.decode()
    assert AuditEvent.objects.filter(action="auth.locked_out").exists()
    assert not AuditEvent.objects.filter(action="auth.login", actor_username="officer").exists()


def test_lockout_is_per_account_from_other_addresses(client, officer, no_mfa_for_officers):
    for i in range(5):
        client.post(
            LOGIN, {"username": "officer", "password": "wrong", "acknowledge": "on"}, REMOTE_ADDR=f"10.0.0.{i + 1}"
        )
    response = client.post(
        LOGIN, {"username": "officer", "password": PASSWORD, "acknowledge": "on"}, REMOTE_ADDR="10.0.0.99"
    )
    assert "Sign-in locked" in response.content.decode()


def test_admin_can_lift_a_lockout(client, officer, admin_user, no_mfa_for_officers):
    from forensis.accounts.services import unlock_user

    for _ in range(5):
        post_login(client, "officer", password="wrong-password")
    unlock_user(admin_user, officer, reason="identity confirmed by phone")
    client.cookies.clear()
    response = client.post(
        LOGIN, {"username": "officer", "password": PASSWORD, "acknowledge": "on"}, REMOTE_ADDR="10.9.9.9"
    )
    assert response.status_code == 302


def test_laboratory_user_without_authenticator_must_enrol(client, make_user):
    make_user(Role.ANALYST, username="ana")
    post_login(client, "ana")
    response = client.get("/")
    assert response.status_code == 302 and response.url == reverse("accounts:mfa_enrol")


def test_mfa_enrolment_then_verification(client, make_user):
    user = make_user(Role.ANALYST, username="ana")
    post_login(client, "ana")
    page = client.get(reverse("accounts:mfa_enrol"))
    assert page.status_code == 200 and 'data-testid="mfa-qr"' in page.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)

    wrong_code = "000000" if code_for(device) != "000000" else "111111"
    wrong = client.post(reverse("accounts:mfa_enrol"), {"token": wrong_code})
    assert "That code is not correct or has expired" in wrong.content.decode()
    too_soon = client.post(reverse("accounts:mfa_enrol"), {"token": code_for(device)})
    assert "Too many wrong codes. Wait" in too_soon.content.decode()
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None, throttling_failure_count=0)

    done = client.post(reverse("accounts:mfa_enrol"), {"token": code_for(device)})
    assert done.status_code == 302 and done.url == reverse("core:home")
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.mfa_enrolled", actor_username="ana").exists()

    # Next sign-in asks for the code before any page opens.
    client.post(reverse("accounts:logout"))
    post_login(client, "ana")
    response = client.get("/")
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:mfa_verify"))
    bad = client.post(reverse("accounts:mfa_verify"), {"token": "12345"})
    assert "Enter the 6 digits" in bad.content.decode()
    device.refresh_from_db()
    device.last_t = -1  # allow the same time step again for the test (replay protection is django-otp's)
    device.throttling_failure_count = 0
    device.save()
    ok = client.post(reverse("accounts:mfa_verify"), {"token": code_for(device), "next": "/"})
    assert ok.status_code == 302 and ok.url == "/"
    assert client.get("/").status_code == 200


def test_wrong_mfa_code_is_refused_and_audited(client, make_user):
    user = make_user(Role.ANALYST, username="ana")
    device = TOTPDevice.objects.create(user=user, confirmed=True)
    post_login(client, "ana")
    right = code_for(device)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    response = client.post(reverse("accounts:mfa_verify"), {"token": wrong})
    assert "That code is not correct or has expired" in response.content.decode()
    assert AuditEvent.objects.filter(action="auth.mfa_failed", actor_username="ana").exists()
    assert client.get("/").status_code == 302


def test_deferral_lets_unenrolled_users_in_but_not_enrolled_ones(client, make_user, settings):
    settings.FORENSIS_DEFER_MFA_ENROLMENT = True
    make_user(Role.ANALYST, username="ana")
    post_login(client, "ana")
    assert client.get("/").status_code == 200
    enrolled = make_user(Role.REVIEWER, username="rev")
    TOTPDevice.objects.create(user=enrolled, confirmed=True)
    client.post(reverse("accounts:logout"))
    post_login(client, "rev")
    assert client.get("/").status_code == 302


def test_session_expires_after_idle_timeout(settings):
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True


def test_enrolment_page_cannot_replace_an_authenticator_without_its_code(client, make_user):
    """The password alone must never lead past MFA, also not through re-enrolment."""
    user = make_user(Role.ANALYST, username="ana")
    TOTPDevice.objects.create(user=user, confirmed=True)
    post_login(client, "ana")
    response = client.get(reverse("accounts:mfa_enrol"))
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:mfa_verify"))
    assert not TOTPDevice.objects.filter(user=user, confirmed=False).exists()
    assert client.get(reverse("accounts:change_password")).status_code == 302
    assert client.get("/").status_code == 302


def test_voluntary_authenticator_is_always_asked_for(client, officer, no_mfa_for_officers):
    TOTPDevice.objects.create(user=officer, confirmed=True)
    post_login(client, "officer")
    assert client.get("/").url.startswith(reverse("accounts:mfa_verify"))


def test_forwarded_address_is_ignored_without_a_proxy(client, officer):
    for i in range(5):
        client.post(
            LOGIN,
            {"username": f"nobody{i}", "password": "x", "acknowledge": "on"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
        )
    sources = set(AuditEvent.objects.filter(action="auth.login_failed").values_list("source", flat=True))
    assert sources == {"127.0.0.1"}
