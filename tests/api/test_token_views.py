"""The administrator's pages for partner tokens: issue (the key shown once), list, detail, revoke; who may do what."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from forensis.accounts.models import AgencyType, User
from forensis.accounts.roles import OUTSIDE_ROLES, PERSON_ROLES, Role
from forensis.api.models import Access, PartnerToken, Resource, Topic, WebhookSubscription
from forensis.audit.models import AuditEvent

KEY = re.compile(r"fns_[0-9a-f]{8}_[A-Za-z0-9_-]{20,}")
LIST_URL = reverse("api_tokens:token_list")
ISSUE_URL = reverse("api_tokens:token_issue")


def detail_url(name: str) -> str:
    return reverse("api_tokens:token_detail", args=[name])


def revoke_url(name: str) -> str:
    return reverse("api_tokens:token_revoke", args=[name])


def lab_day(days: int = 0) -> date:
    return timezone.localdate(timezone=timezone.get_default_timezone()) + timedelta(days=days)


def issue_form(for_agency, **overrides) -> dict:
    data = {
        "name": "police-rms",
        "agency": for_agency.pk,
        "resources": [Resource.CASES, Resource.SUBMISSIONS],
        "access": Access.READ,
        "expires_on": lab_day(90).isoformat(),
        "rate_limit": 120,
        "webhook_url": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def admin_client(client_for, admin_user):
    return client_for(admin_user)


@pytest.fixture
def auditor(make_user):
    return make_user(Role.AUDITOR, username="auditor")


@pytest.fixture
def token(issue_token, police):
    return issue_token(police, name="police-rms", resources=[Resource.CASES], access=Access.READ)


def count_state() -> tuple[int, int, int, int]:
    return (
        PartnerToken.objects.count(),
        User.objects.count(),
        WebhookSubscription.objects.count(),
        AuditEvent.objects.filter(action__startswith="api_token.").count(),
    )


# --- issuing -------------------------------------------------------------------------------------------


def test_the_form_offers_partner_agencies_only_and_sensible_defaults(admin_client, police, laboratory, make_agency):
    closed = make_agency(AgencyType.POLICE, code="CLOSED", name="Closed station")
    from forensis.accounts import services

    services.set_agency_active(None, closed, False, "closed")
    response = admin_client.get(ISSUE_URL)
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.fields["agency"].queryset) == [police]
    assert form["expires_on"].value() == lab_day(365)
    assert form["rate_limit"].value() == 600
    assert form["access"].value() == Access.READ


def test_administrator_issues_a_token_shown_once_that_works_on_the_api(admin_client, admin_user, police, api_client):
    response = admin_client.post(ISSUE_URL, issue_form(police))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    assert "shown only once" in body
    keys = set(KEY.findall(body))
    assert len(keys) == 1
    key = keys.pop()
    token = PartnerToken.objects.get(name="police-rms")
    assert key.startswith(f"fns_{token.prefix}_")
    assert token.agency == police and token.created_by == admin_user
    assert token.resources == [Resource.CASES, Resource.SUBMISSIONS] and token.access == Access.READ
    assert token.rate_limit == 120
    expires = timezone.localtime(token.expires_at, timezone.get_default_timezone())
    assert expires.date() == lab_day(90) and (expires.hour, expires.minute) == (23, 59)
    assert not WebhookSubscription.objects.filter(token=token).exists()
    assert AuditEvent.objects.filter(
        action="api_token.issued", actor_username="admin", object_id=str(token.pk)
    ).exists()

    assert api_client(key).get("/api/v1/cases/").status_code == 200

    # Afterwards the key is nowhere to be seen, on the detail page or in the list.
    for url in (detail_url(token.name), LIST_URL):
        page = admin_client.get(url)
        assert page.status_code == 200
        text = page.content.decode()
        assert key not in text and token.key_hash not in text and not KEY.search(text)
        assert f"fns_{token.prefix}_…" in text


def test_issuing_with_a_webhook_shows_its_secret_once(admin_client, police):
    response = admin_client.post(
        ISSUE_URL,
        issue_form(police, webhook_url="https://rms.police.example/forensis", webhook_topics=[Topic.REPORT_RELEASED]),
    )
    assert response.status_code == 200
    subscription = WebhookSubscription.objects.get(token__name="police-rms")
    assert subscription.topics == [Topic.REPORT_RELEASED]
    assert subscription.url == "https://rms.police.example/forensis"
    assert subscription.secret in response.content.decode()

    detail = admin_client.get(detail_url("police-rms")).content.decode()
    assert "https://rms.police.example/forensis" in detail
    assert "Report released" in detail
    assert subscription.secret not in detail


def test_webhook_without_topics_gets_every_topic(admin_client, police):
    admin_client.post(ISSUE_URL, issue_form(police, webhook_url="https://rms.police.example/hook"))
    assert WebhookSubscription.objects.get(token__name="police-rms").topics == sorted(Topic.values)


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("laboratory agency", "agency"),
        ("expiry in the past", "expires_on"),
        ("expiry beyond two years", "expires_on"),
        ("no resource", "resources"),
        ("duplicate name", "name"),
        ("not a slug", "name"),
        ("reserved name", "name"),
        ("ftp webhook", "webhook_url"),
        ("topics without a webhook", "webhook_topics"),
        ("rate limit zero", "rate_limit"),
        ("rate limit too high", "rate_limit"),
    ],
)
def test_bad_input_shows_field_errors_and_creates_nothing(admin_client, issue_token, police, laboratory, case, field):
    if case == "duplicate name":
        issue_token(police, name="police-rms")
    overrides = {
        "laboratory agency": {"agency": laboratory.pk},
        "expiry in the past": {"expires_on": lab_day(-1).isoformat()},
        "expiry beyond two years": {"expires_on": lab_day(800).isoformat()},
        "no resource": {"resources": None},
        "duplicate name": {},
        "not a slug": {"name": "police rms!"},
        "reserved name": {"name": "new"},
        "ftp webhook": {"webhook_url": "ftp://files.police.example/forensis"},
        "topics without a webhook": {"webhook_topics": [Topic.CASE_RECEIVED]},
        "rate limit zero": {"rate_limit": 0},
        "rate limit too high": {"rate_limit": 100_001},
    }[case]
    before = count_state()

    response = admin_client.post(ISSUE_URL, issue_form(police, **overrides))

    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert not form.non_field_errors()
    assert f'data-testid="error-{field}"' in response.content.decode()
    assert "no-store" not in response.get("Cache-Control", "")
    assert not KEY.search(response.content.decode())
    assert count_state() == before


def test_the_service_errors_land_on_the_forms_fields(admin_client, police, make_user):
    """A clash the form cannot see (an account already named like the token's) still shows beside the name."""
    make_user(Role.AGENCY_OFFICER, agency=police, username="api-police-rms")
    before = count_state()
    response = admin_client.post(ISSUE_URL, issue_form(police))
    assert "name" in response.context["form"].errors
    assert count_state() == before


# --- list and detail -----------------------------------------------------------------------------------


def test_list_shows_status_and_filters(admin_client, issue_token, police, other_police, admin_user, monkeypatch):
    from forensis.api import tokens

    issue_token(police, name="active-one", resources=[Resource.CASES], access=Access.READ)
    revoked = issue_token(other_police, name="revoked-one", resources=[Resource.STATISTICS]).token
    tokens.revoke_token(admin_user, revoked, reason="replaced")
    issue_token(
        police, name="expiring-one", resources=[Resource.FEED], expires_at=timezone.now() + timedelta(minutes=1)
    )
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(minutes=2))

    def names(**query) -> list[str]:
        response = admin_client.get(LIST_URL, query)
        assert response.status_code == 200
        return [row.record.name for row in response.context["table"].paginated_rows]

    assert names() == ["active-one", "expiring-one", "revoked-one"]
    assert names(status="active") == ["active-one"]
    assert names(status="expired") == ["expiring-one"]
    assert names(status="revoked") == ["revoked-one"]
    assert names(resource=Resource.STATISTICS) == ["revoked-one"]
    assert names(resource=Resource.CASES) == ["active-one"]
    assert names(agency=other_police.pk) == ["revoked-one"]
    assert names(access=Access.WRITE) == ["expiring-one", "revoked-one"]
    assert names(q="expiring") == ["expiring-one"]
    prefix = PartnerToken.objects.get(name="active-one").prefix
    assert names(q=f"fns_{prefix}_") == ["active-one"]
    assert names(sort="-status") == ["revoked-one", "expiring-one", "active-one"]
    assert names(sort="agency")[-1] == "revoked-one" and names(sort="-agency")[0] == "revoked-one"
    body = admin_client.get(LIST_URL).content.decode()
    assert 'data-status="expired"' in body and 'data-status="revoked"' in body and 'data-status="active"' in body


def test_detail_shows_webhook_deliveries_but_no_secret(admin_client, issue_token, police, received_case):
    from forensis.api.models import Change, DeliveryStatus, WebhookDelivery

    issued = issue_token(police, name="police-rms", webhook_url="https://rms.police.example/hook")
    subscription = issued.token.webhook
    change = Change.objects.create(
        occurred_at=timezone.now(), topic=Topic.CASE_RECEIVED, agency=police, case=received_case
    )
    WebhookDelivery.objects.create(
        subscription=subscription,
        change=change,
        status=DeliveryStatus.FAILED,
        attempts=7,
        next_attempt_at=timezone.now(),
        last_status_code=503,
        last_error="Service Unavailable",
    )

    body = admin_client.get(detail_url("police-rms")).content.decode()

    assert "Service Unavailable" in body and "503" in body and "Failed (gave up)" in body
    assert issued.webhook_secret not in body and issued.key not in body and issued.token.key_hash not in body


def test_unknown_token_is_404(admin_client):
    assert admin_client.get(detail_url("nobody")).status_code == 404
    assert admin_client.post(revoke_url("nobody"), {"reason": "x", "confirm": "on"}).status_code == 404


# --- revoking ------------------------------------------------------------------------------------------


def test_revoke_with_reason_stops_the_key(admin_client, token, api_client):
    assert api_client(token.key).get("/api/v1/cases/").status_code == 200

    response = admin_client.post(revoke_url("police-rms"), {"reason": "Contract ended", "confirm": "on"})

    assert response.status_code == 302 and response["Location"] == detail_url("police-rms")
    refused = api_client(token.key).get("/api/v1/cases/")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "token_revoked"
    token.token.refresh_from_db()
    assert token.token.is_revoked and token.token.revoke_reason == "Contract ended"
    event = AuditEvent.objects.get(action="api_token.revoked", object_id=str(token.token.pk))
    assert event.reason == "Contract ended" and event.actor_username == "admin"
    page = admin_client.get(detail_url("police-rms")).content.decode()
    assert "Contract ended" in page and 'data-status="revoked"' in page and 'data-testid="revoke"' not in page


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"reason": "", "confirm": "on"}, "reason"),
        ({"reason": "   ", "confirm": "on"}, "reason"),
        ({"reason": "Contract ended"}, "confirm"),
    ],
    ids=["no-reason", "blank-reason", "not-confirmed"],
)
def test_revoke_without_reason_or_confirmation_changes_nothing(admin_client, token, api_client, data, field):
    before = count_state()

    response = admin_client.post(revoke_url("police-rms"), data)

    assert response.status_code == 200
    assert field in response.context["revoke_form"].errors
    assert f'data-testid="error-{field}"' in response.content.decode()
    token.token.refresh_from_db()
    assert not token.token.is_revoked
    assert count_state() == before
    assert api_client(token.key).get("/api/v1/cases/").status_code == 200


def test_revoking_twice_says_so(admin_client, token):
    admin_client.post(revoke_url("police-rms"), {"reason": "first", "confirm": "on"})
    again = admin_client.post(revoke_url("police-rms"), {"reason": "second", "confirm": "on"})
    assert again.status_code == 200
    assert "already revoked" in " ".join(again.context["revoke_form"].non_field_errors())
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 1


def test_revoke_is_post_only(admin_client, token):
    assert admin_client.get(revoke_url("police-rms")).status_code == 405


# --- who may do what -----------------------------------------------------------------------------------


def test_auditor_reads_but_cannot_issue_or_revoke(client_for, auditor, token, police):
    client = client_for(auditor)
    listing = client.get(LIST_URL)
    assert listing.status_code == 200 and "police-rms" in listing.content.decode()
    assert reverse("api_tokens:token_issue") not in listing.content.decode()
    detail = client.get(detail_url("police-rms"))
    assert detail.status_code == 200 and 'data-testid="revoke"' not in detail.content.decode()
    before = count_state()
    assert client.get(ISSUE_URL).status_code == 403
    assert client.post(ISSUE_URL, issue_form(police, name="sneaky")).status_code == 403
    assert client.post(revoke_url("police-rms"), {"reason": "x", "confirm": "on"}).status_code == 403
    assert count_state() == before


def _four_requests(client, name: str) -> list[int]:
    return [
        client.get(LIST_URL).status_code,
        client.get(ISSUE_URL).status_code,
        client.get(detail_url(name)).status_code,
        client.post(revoke_url(name), {"reason": "x", "confirm": "on"}).status_code,
    ]


OTHER_ROLES = [role for role, _label in PERSON_ROLES if role not in {Role.ADMINISTRATOR, Role.AUDITOR}]


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_every_other_role_gets_403(client_for, make_user, police, token, role):
    user = make_user(role, agency=police if role in OUTSIDE_ROLES else None)
    assert _four_requests(client_for(user), "police-rms") == [403, 403, 403, 403]
    token.token.refresh_from_db()
    assert not token.token.is_revoked


def test_officers_of_both_police_agencies_get_403(client_for, officer, other_officer, token):
    for user in (officer, other_officer):
        assert _four_requests(client_for(user), "police-rms") == [403, 403, 403, 403]


def test_anonymous_is_sent_to_sign_in(client, token):
    for url, method in (
        (LIST_URL, "get"),
        (ISSUE_URL, "get"),
        (detail_url("police-rms"), "get"),
        (revoke_url("police-rms"), "post"),
    ):
        response = getattr(client, method)(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login")), url
    token.token.refresh_from_db()
    assert not token.token.is_revoked


def test_menu_entry_for_administrators_and_auditors_only(client_for, admin_user, auditor, officer, make_user):
    for user, shown in ((admin_user, True), (auditor, True), (officer, False), (make_user(Role.LAB_MANAGER), False)):
        body = client_for(user).get(reverse("core:home")).content.decode()
        assert (f'href="{LIST_URL}"' in body) is shown, user.username
