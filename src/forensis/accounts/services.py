"""Domain operations on agencies and users: the only code that changes them.

Each function checks the actor's permission, validates, changes the rows in one transaction and
writes the audit event. Validation problems raise ``ValidationError`` with a message for the user;
a missing permission raises ``PermissionDenied``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from axes.utils import reset as axes_reset
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from forensis.audit.models import Outcome
from forensis.audit.services import record

from .models import Agency, User
from .roles import OUTSIDE_ROLES, Role

AGENCY_FIELDS = ("code", "name", "type", "district", "email", "phone", "report_language")
USER_FIELDS = ("first_name", "last_name", "email", "agency", "badge_number", "phone")


def require_permission(actor: User | None, permission: str) -> None:
    """Refuse unless ``actor`` holds ``permission``. ``None`` is the system itself (seeding, commands)."""
    if actor is not None and not actor.has_perm(permission):
        raise PermissionDenied(_("You do not have permission to do this."))


def _snapshot(instance, fields: Iterable[str]) -> dict[str, Any]:
    values = {}
    for name in fields:
        value = getattr(instance, name)
        values[name] = value.code if isinstance(value, Agency) else value
    return values


def _changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


# --- sign-in attempts ---------------------------------------------------------------------------

#: The first key of PostgreSQL's two-key advisory locks taken for sign-in attempts (the second is a hash).
_SIGN_IN_LOCK_SPACE = 7301


def serialize_sign_in(username: str, address: str | None) -> None:
    """Make sign-in attempts for the same user name, or from the same address, run one after the other until the
    caller's transaction ends.

    The lockout counts failures once they are written: attempts running side by side would each see the count
    before the others' failures and all be evaluated, so a burst of parallel guesses would get past the limit.
    On SQLite the transaction already holds the database's write lock (it begins IMMEDIATE).
    """
    if connection.vendor != "postgresql":
        return
    keys = sorted({f"user:{username.strip().casefold()}", f"address:{address or ''}"})  # one order: no deadlock
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [_SIGN_IN_LOCK_SPACE, key])


# --- agencies -----------------------------------------------------------------------------------


@transaction.atomic
def create_agency(actor: User | None, **fields: Any) -> Agency:
    require_permission(actor, "accounts.manage_agencies")
    agency = Agency(**{k: v for k, v in fields.items() if k in AGENCY_FIELDS})
    agency.full_clean()
    agency.save()
    record("agency.created", actor=actor, obj=agency, after=_snapshot(agency, AGENCY_FIELDS))
    return agency


@transaction.atomic
def update_agency(actor: User | None, agency: Agency, **fields: Any) -> Agency:
    require_permission(actor, "accounts.manage_agencies")
    agency = Agency.objects.select_for_update().get(pk=agency.pk)
    before = _snapshot(agency, AGENCY_FIELDS)
    for name, value in fields.items():
        if name in AGENCY_FIELDS:
            setattr(agency, name, value)
    agency.full_clean()
    old, new = _changed(before, _snapshot(agency, AGENCY_FIELDS))
    if new:
        agency.save()
        record("agency.updated", actor=actor, obj=agency, before=old, after=new)
    return agency


@transaction.atomic
def set_agency_active(actor: User | None, agency: Agency, active: bool, reason: str) -> Agency:
    require_permission(actor, "accounts.manage_agencies")
    if not reason.strip():
        raise ValidationError({"reason": _("Give a reason.")})
    agency = Agency.objects.select_for_update().get(pk=agency.pk)
    if agency.is_active != active:
        agency.is_active = active
        agency.save(update_fields=["is_active"])
        record(
            "agency.activated" if active else "agency.deactivated",
            actor=actor,
            obj=agency,
            before={"is_active": not active},
            after={"is_active": active},
            reason=reason,
        )
    return agency


# --- users --------------------------------------------------------------------------------------


def _validate_roles(agency: Agency, roles: Iterable[str]) -> list[Role]:
    try:
        chosen = [Role(r) for r in roles]
    except ValueError:
        raise ValidationError({"roles": _("Unknown role.")}) from None
    if not chosen:
        raise ValidationError({"roles": _("Choose at least one role.")})
    if Role.PARTNER_SYSTEM in chosen:
        raise ValidationError(
            {"roles": _("The partner system role comes with an API token; it is not given to a person.")}
        )
    from .models import AgencyType

    if agency.type != AgencyType.LABORATORY:
        staff_roles = [r for r in chosen if r not in OUTSIDE_ROLES]
        if staff_roles:
            raise ValidationError(
                {
                    "roles": _(
                        "%(roles)s is a laboratory role; a user of %(agency)s can be an agency officer, "
                        "a prosecutor or a statistician."
                    )
                    % {"roles": ", ".join(str(r.label) for r in staff_roles), "agency": agency.name}
                }
            )
    return chosen


@transaction.atomic
def create_user(
    actor: User | None, *, username: str, password: str, agency: Agency, roles: Iterable[str], **fields: Any
) -> User:
    require_permission(actor, "accounts.manage_users")
    chosen = _validate_roles(agency, roles)
    user = User(username=username, agency=agency, **{k: v for k, v in fields.items() if k in USER_FIELDS})
    user.full_clean(exclude=["password"])
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    user.set_password(password)
    user.is_superuser = fields.get("is_superuser", False)
    user.is_staff = user.is_superuser
    user.save()
    user.groups.set([role.group() for role in chosen])
    record(
        "user.created",
        actor=actor,
        obj=user,
        after={**_snapshot(user, USER_FIELDS), "username": username, "roles": sorted(chosen)},
    )
    return user


@transaction.atomic
def update_user(actor: User | None, user: User, *, roles: Iterable[str] | None = None, **fields: Any) -> User:
    require_permission(actor, "accounts.manage_users")
    user = User.objects.select_for_update().get(pk=user.pk)
    before = {**_snapshot(user, USER_FIELDS), "roles": user.role_codes}
    for name, value in fields.items():
        if name in USER_FIELDS:
            setattr(user, name, value)
    new_roles = _validate_roles(user.agency, roles if roles is not None else user.role_codes)
    user.full_clean(exclude=["password"])
    if (
        actor is not None
        and actor.pk == user.pk
        and Role.ADMINISTRATOR not in new_roles
        and actor.has_role(Role.ADMINISTRATOR)
    ):
        raise ValidationError({"roles": _("You cannot remove your own administrator role.")})
    after = {**_snapshot(user, USER_FIELDS), "roles": sorted(new_roles)}
    old, new = _changed(before, after)
    if new:
        user.save()
        user.groups.set([role.group() for role in new_roles])
        action = "user.roles_changed" if set(new) == {"roles"} else "user.updated"
        record(action, actor=actor, obj=user, before=old, after=new)
    return user


@transaction.atomic
def set_user_active(actor: User | None, user: User, active: bool, reason: str) -> User:
    """Deactivate or reactivate. Users are never deleted, so their past actions stay attributable."""
    require_permission(actor, "accounts.manage_users")
    if not reason.strip():
        raise ValidationError({"reason": _("Give a reason.")})
    if actor is not None and actor.pk == user.pk and not active:
        raise ValidationError(_("You cannot deactivate your own account."))
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_active != active:
        user.is_active = active
        user.save(update_fields=["is_active"])
        record(
            "user.activated" if active else "user.deactivated",
            actor=actor,
            obj=user,
            before={"is_active": not active},
            after={"is_active": active},
            reason=reason,
        )
    return user


@transaction.atomic
def set_password(actor: User | None, user: User, password: str, *, reason: str = "") -> User:
    """An administrator resetting a password, or a user changing their own (actor == user)."""
    if actor is None or actor.pk != user.pk:
        require_permission(actor, "accounts.manage_users")
    if user.has_role(Role.PARTNER_SYSTEM):
        raise ValidationError(
            {"password": _("This is a partner system's API account: it has no password and never signs in.")}
        )
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    user = User.objects.select_for_update().get(pk=user.pk)
    user.set_password(password)
    user.save(update_fields=["password"])
    record(
        "user.password_changed" if actor and actor.pk == user.pk else "user.password_reset",
        actor=actor,
        obj=user,
        reason=reason,
    )
    return user


@transaction.atomic
def reset_mfa(actor: User | None, user: User, reason: str) -> User:
    """Remove the user's authenticator so they enrol again at their next sign-in (a lost phone)."""
    require_permission(actor, "accounts.manage_users")
    if not reason.strip():
        raise ValidationError({"reason": _("Give a reason.")})
    removed = TOTPDevice.objects.filter(user=user).count()
    TOTPDevice.objects.filter(user=user).delete()
    record(
        "user.mfa_reset",
        actor=actor,
        obj=user,
        before={"authenticators": removed},
        after={"authenticators": 0},
        reason=reason,
    )
    return user


@transaction.atomic
def unlock_user(actor: User | None, user: User, reason: str) -> User:
    """Lift a lockout before its cool-off ends (the person was identified by other means)."""
    require_permission(actor, "accounts.manage_users")
    if not reason.strip():
        raise ValidationError({"reason": _("Give a reason.")})
    cleared = axes_reset(username=user.get_username())
    record("user.unlocked", actor=actor, obj=user, after={"failed_attempt_records_cleared": cleared}, reason=reason)
    return user


# --- multi-factor authentication ----------------------------------------------------------------


def start_mfa_enrolment(user: User) -> TOTPDevice:
    """An unconfirmed TOTP device for the enrolment page (replaces an earlier unconfirmed one)."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)
        record("auth.mfa_enrolment_started", actor=user, obj=user)
    return device


def check_mfa_code(device: TOTPDevice, token: str) -> str | None:
    """None when the code is right; otherwise the message to show.

    django-otp slows down guessing: after each wrong code the device refuses codes for 1, 2, 4, …
    seconds. Saying so is clearer than calling a right code wrong.
    """
    allowed, details = device.verify_is_allowed()
    if not allowed:
        locked_until = (details or {}).get("locked_until")
        seconds = max(1, int((locked_until - timezone.now()).total_seconds()) + 1) if locked_until else 1
        return _("Too many wrong codes. Wait %(seconds)s seconds and try again.") % {"seconds": seconds}
    if device.verify_token(token.strip()):
        return None
    return _("That code is not correct or has expired. Enter the code your authenticator app shows now.")


@transaction.atomic
def verify_mfa(user: User, token: str) -> tuple[TOTPDevice | None, str | None]:
    """Check a sign-in code against the user's authenticator; audit success and failure."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    problem = check_mfa_code(device, token) if device else _("You have no authenticator set up.")
    if problem:
        record("auth.mfa_failed", actor=user, obj=user, outcome=Outcome.FAILURE)
        return None, problem
    record("auth.mfa_verified", actor=user, obj=user)
    return device, None


@transaction.atomic
def confirm_mfa_enrolment(user: User, device: TOTPDevice, token: str) -> str | None:
    """Confirm a new authenticator with its first code; returns the problem, or None when done."""
    if device.user_id != user.pk or device.confirmed:
        return _("This enrolment is no longer valid. Reload the page to start again.")
    problem = check_mfa_code(device, token)
    if problem:
        record("auth.mfa_enrolment_failed", actor=user, obj=user, outcome=Outcome.FAILURE)
        return problem
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    record("auth.mfa_enrolled", actor=user, obj=user)
    return None
