"""Partner tokens: issuing, revoking, recognising a presented token, and its per-minute rate limit.

A token reads ``fns_<prefix>_<secret>``. The prefix (shown in lists so people can tell tokens apart) is not
secret; the whole token's SHA-256 is what is stored and looked up.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from forensis.accounts.models import Agency, AgencyType, User
from forensis.accounts.roles import Role
from forensis.accounts.services import require_permission
from forensis.audit.services import record

from .models import Access, PartnerToken, Resource, Topic, WebhookSubscription

TOKEN_PREFIX = "fns_"  # noqa: S105 (what every token begins with, not a secret)
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")
#: Longest a token may live before it must be re-issued.
MAX_LIFETIME = timedelta(days=731)
MAX_RATE_LIMIT = 10_000_000


class TokenRefused(Exception):
    """A presented token that cannot be used; ``code`` is the API's error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class IssuedToken:
    token: PartnerToken
    #: The token itself: shown once, never stored.
    key: str
    #: The webhook's signing secret, when a webhook was set up (shown once too).
    webhook_secret: str = ""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _roles_for(resources: Iterable[str]) -> list[Role]:
    """A token that reaches case data acts as a partner system of its agency; statistics add the statistician."""
    resources = set(resources)
    roles = [Role.PARTNER_SYSTEM] if resources - {Resource.STATISTICS} else []
    if Resource.STATISTICS in resources:
        roles.append(Role.STATISTICIAN)
    return roles


def _validate(
    *, name: str, agency: Agency, resources: list[str], access: str, expires_at: datetime, rate_limit: int
) -> None:
    errors: dict[str, list[str]] = {}
    if agency.type == AgencyType.LABORATORY:
        errors["agency"] = [_("Tokens are for partner agencies; the laboratory's own staff sign in.")]
    elif not agency.is_active:
        errors["agency"] = [_("%(agency)s is deactivated.") % {"agency": agency.name}]
    unknown = sorted(set(resources) - set(Resource.values))
    if unknown:
        errors["resources"] = [_("Unknown resource: %(names)s.") % {"names": ", ".join(unknown)}]
    elif not resources:
        errors["resources"] = [_("Choose at least one resource.")]
    if not 1 <= rate_limit <= MAX_RATE_LIMIT:
        errors["rate_limit"] = [_("Give from 1 to %(max)s requests per minute.") % {"max": MAX_RATE_LIMIT}]
    if access not in Access.values:
        errors["access"] = [_("Choose read or write access.")]
    now = timezone.now()
    if expires_at <= now:
        errors["expires_at"] = [_("The expiry must be in the future.")]
    elif expires_at > now + MAX_LIFETIME:
        errors["expires_at"] = [_("A token may live at most two years; choose an earlier expiry.")]
    if not _NAME.fullmatch(name):
        errors["name"] = [_("Use 1–60 lower-case letters, digits and hyphens, e.g. police-rms.")]
    elif PartnerToken.objects.filter(name=name).exists() or User.objects.filter(username=f"api-{name}").exists():
        errors["name"] = [_("A token named %(name)s already exists.") % {"name": name}]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def issue_token(
    actor: User | None,
    *,
    name: str,
    agency: Agency,
    resources: list[str],
    access: str,
    expires_at: datetime,
    rate_limit: int = 600,
    webhook_url: str = "",
    webhook_topics: Iterable[str] = (),
) -> IssuedToken:
    """Issue a token for a partner system, with its own account, and optionally a webhook (audited)."""
    require_permission(actor, "api.manage_partnertoken")
    resources = sorted(set(resources))
    _validate(
        name=name, agency=agency, resources=resources, access=access, expires_at=expires_at, rate_limit=rate_limit
    )
    user = User(username=f"api-{name}", agency=agency, first_name=name)
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.set([Group.objects.get_or_create(name=role.value)[0] for role in _roles_for(resources)])
    prefix = secrets.token_hex(4)
    key = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = PartnerToken(
        name=name,
        agency=agency,
        user=user,
        resources=resources,
        access=access,
        expires_at=expires_at,
        rate_limit=rate_limit,
        prefix=prefix,
        key_hash=hash_key(key),
        created_by=actor,
    )
    token.full_clean()
    token.save()
    webhook_secret = ""
    if webhook_url:
        webhook_secret = secrets.token_hex(32)
        subscription = WebhookSubscription(
            token=token, url=webhook_url, secret=webhook_secret, topics=sorted(set(webhook_topics) or Topic.values)
        )
        subscription.full_clean()
        subscription.save()
    record(
        "api_token.issued",
        actor=actor,
        obj=token,
        after={
            "agency": agency.code,
            "resources": resources,
            "access": access,
            "expires_at": expires_at,
            "rate_limit": rate_limit,
            "prefix": prefix,
            "webhook": webhook_url,
        },
    )
    return IssuedToken(token, key, webhook_secret)


@transaction.atomic
def revoke_token(actor: User | None, token: PartnerToken, *, reason: str) -> PartnerToken:
    """Stop a token at once. Its account is deactivated; its past calls stay in the audit log."""
    require_permission(actor, "api.manage_partnertoken")
    token = PartnerToken.objects.select_for_update().get(pk=token.pk)
    if token.is_revoked:
        raise ValidationError(_("Token %(name)s is already revoked.") % {"name": token.name})
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for revoking the token.")})
    token.revoked_at, token.revoked_by, token.revoke_reason = timezone.now(), actor, reason.strip()
    token.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    User.objects.filter(pk=token.user_id).update(is_active=False)
    WebhookSubscription.objects.filter(token=token).update(is_active=False)
    record("api_token.revoked", actor=actor, obj=token, reason=token.revoke_reason)
    return token


def token_for_key(key: str) -> PartnerToken:
    """The usable token ``key`` names, with its account and agency; ``TokenRefused`` otherwise."""
    if not key.startswith(TOKEN_PREFIX):
        raise TokenRefused("authentication_failed", _("This is not a Forensis partner token."))
    token = PartnerToken.objects.select_related("user__agency", "agency").filter(key_hash=hash_key(key)).first()
    if token is None:
        raise TokenRefused("authentication_failed", _("The token is not known. Check that it was copied whole."))
    if token.is_revoked:
        raise TokenRefused("token_revoked", _("The token was revoked. Ask the laboratory for a new one."))
    if token.is_expired:
        raise TokenRefused("token_expired", _("The token expired. Ask the laboratory for a new one."))
    return token


def count_call(token: PartnerToken) -> int:
    """Count a call in the token's current minute; the seconds to wait when over its limit, else 0.

    One atomic UPDATE … RETURNING on either engine, so workers and servers share the count exactly.
    """
    now = time.time()
    minute = int(now // 60)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE api_partnertoken SET "
            "window_calls = CASE WHEN window_minute = %s THEN window_calls + 1 ELSE 1 END, "
            "window_minute = %s, last_used_at = %s WHERE id = %s RETURNING window_calls",
            [minute, minute, timezone.now(), token.pk],
        )
        (calls,) = cursor.fetchone()
    if calls <= token.rate_limit:
        return 0
    return max(1, int(60 - now % 60 + 0.999))
