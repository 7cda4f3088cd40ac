"""The partner-token service and the ``forensis api-token`` command."""

from __future__ import annotations

import io
from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from forensis.accounts.models import AgencyType
from forensis.accounts.roles import Role
from forensis.api import tokens
from forensis.api.models import Access, PartnerToken, Resource
from forensis.audit.models import AuditEvent


def test_issued_token_is_stored_hashed_and_acts_through_its_own_account(issue_token, police):
    issued = issue_token(police, resources=["cases", "feed"], access=Access.READ, name="police-rms")
    token = issued.token
    assert issued.key.startswith(f"fns_{token.prefix}_")
    assert token.key_hash == tokens.hash_key(issued.key) and issued.key not in token.key_hash
    assert token.user.username == "api-police-rms" and token.user.agency == police
    assert token.user.role_codes == [Role.PARTNER_SYSTEM]
    assert not token.user.has_usable_password()
    assert not token.user.check_password("")
    assert tokens.token_for_key(issued.key) == token
    event = AuditEvent.objects.get(action="api_token.issued")
    assert event.after["resources"] == ["cases", "feed"] and issued.key not in str(event.after)


def test_statistics_only_token_is_a_statistician_and_sees_no_case(issue_token, make_agency):
    observatory = make_agency(AgencyType.OBSERVATORY)
    token = issue_token(observatory, resources=["statistics"], access=Access.READ).token
    assert token.user.role_codes == [Role.STATISTICIAN]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"resources": []}, "resources"),
        ({"resources": ["cases", "everything"]}, "resources"),
        ({"access": "admin"}, "access"),
        ({"rate_limit": 0}, "rate_limit"),
        ({"expires_at": timezone.now() - timedelta(minutes=1)}, "expires_at"),
        ({"expires_at": timezone.now() + timedelta(days=800)}, "expires_at"),
        ({"name": "Not a slug!"}, "name"),
        ({"webhook_url": "ftp://example.org/hook"}, "url"),
    ],
)
def test_bad_token_requests_are_refused_and_nothing_is_created(admin_user, police, change, field):
    arguments = {
        "name": "police-rms",
        "agency": police,
        "resources": list(Resource.values),
        "access": Access.READ,
        "expires_at": timezone.now() + timedelta(days=30),
        **change,
    }
    with pytest.raises(ValidationError) as error:
        tokens.issue_token(admin_user, **arguments)
    assert field in error.value.message_dict
    assert not PartnerToken.objects.exists()
    assert not AuditEvent.objects.filter(action="api_token.issued").exists()


def test_tokens_are_for_active_partner_agencies_with_unique_names(admin_user, issue_token, police, laboratory):
    issue_token(police, name="police-rms")
    for agency, name in ((laboratory, "lab"), (police, "police-rms")):
        with pytest.raises(ValidationError):
            issue_token(agency, name=name)
    assert PartnerToken.objects.count() == 1


def test_only_administrators_issue_and_revoke(make_user, issue_token, police):
    manager = make_user(Role.LAB_MANAGER)
    with pytest.raises(PermissionDenied):
        tokens.issue_token(
            manager,
            name="x",
            agency=police,
            resources=["cases"],
            access=Access.READ,
            expires_at=timezone.now() + timedelta(days=1),
        )
    token = issue_token(police).token
    with pytest.raises(PermissionDenied):
        tokens.revoke_token(manager, token, reason="no")


def test_revoking_stops_the_token_and_its_account(admin_user, issue_token, police):
    issued = issue_token(police)
    with pytest.raises(ValidationError):
        tokens.revoke_token(admin_user, issued.token, reason="  ")
    tokens.revoke_token(admin_user, issued.token, reason="Contract ended")
    with pytest.raises(tokens.TokenRefused) as refused:
        tokens.token_for_key(issued.key)
    assert refused.value.code == "token_revoked"
    issued.token.user.refresh_from_db()
    assert not issued.token.user.is_active
    with pytest.raises(ValidationError):
        tokens.revoke_token(admin_user, issued.token, reason="again")


def test_expired_and_unknown_tokens_are_refused_with_their_reason(issue_token, police):
    issued = issue_token(police)
    PartnerToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    for key, code in (
        (issued.key, "token_expired"),
        (issued.key + "x", "authentication_failed"),
        ("Basic abc", "authentication_failed"),
    ):
        with pytest.raises(tokens.TokenRefused) as refused:
            tokens.token_for_key(key)
        assert refused.value.code == code


def test_calls_are_counted_per_minute(issue_token, police):
    token = issue_token(police, rate_limit=2).token
    with mock.patch("forensis.api.tokens.time.time", return_value=600.0):
        assert [tokens.count_call(token) for _ in range(3)] == [0, 0, 60]
    with mock.patch("forensis.api.tokens.time.time", return_value=661.0):
        assert tokens.count_call(token) == 0
    token.refresh_from_db()
    assert token.window_calls == 1 and token.last_used_at is not None


def test_command_issues_lists_and_revokes(police):
    out = io.StringIO()
    call_command("api_token", "issue", "police-rms", "--agency", police.code, "--resources", "cases,feed", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    token = tokens.token_for_key(key)
    assert token.access == Access.READ and token.resources == ["cases", "feed"] and token.created_by is None
    out = io.StringIO()
    call_command("api_token", "list", stdout=out)
    assert "police-rms" in out.getvalue() and "active" in out.getvalue() and key not in out.getvalue()
    call_command("api_token", "revoke", "police-rms", "--reason", "rotated", stdout=io.StringIO())
    assert PartnerToken.objects.get(name="police-rms").is_revoked


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["issue", "x", "--agency", "NOPE"], "No agency"),
        (["issue", "x", "--agency", "POL-A", "--expires", "31/12/2027"], "--expires"),
        (["issue", "x", "--agency", "POL-A", "--resources", "cases,bogus"], "resources"),
        (["revoke", "missing", "--reason", "r"], "No token"),
    ],
)
def test_command_explains_bad_input(police, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("api_token", *arguments, stdout=io.StringIO())
    assert not PartnerToken.objects.exists()


def test_a_token_account_never_gets_a_password(admin_user, issue_token, police):
    from forensis.accounts import services as account_services

    account = issue_token(police).token.user
    with pytest.raises(ValidationError) as error:
        account_services.set_password(admin_user, account, "Brand-new-phrase-7", reason="try")
    assert "password" in error.value.message_dict
    account.refresh_from_db()
    assert not account.has_usable_password()


def test_the_api_root_lists_the_collections(police_api):
    response = police_api.get("/api/v1/")
    assert response.status_code == 200
    assert "cases" in response.json() and "submissions" in response.json()
