"""What every API view shares: authentication, the token's resources, its rate limit, body limits, idempotent
POSTs and the audit of every call by someone outside the laboratory."""

from __future__ import annotations

import datetime
import functools
import hashlib
import json

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import permissions, throttling
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from forensis.audit.models import Outcome
from forensis.audit.services import record

from .authentication import partner_token
from .errors import IdempotencyConflict, IdempotencyKeyRequired, IdempotencyKeyReused, PayloadTooLarge
from .models import IdempotencyRecord
from .tokens import count_call

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="A unique key per request (e.g. a UUID). Retrying with the same key and body returns the first "
    "answer instead of acting twice; the same key with another body is refused (422).",
)


class TokenResourcePermission(permissions.BasePermission):
    """A token reaches only the resources it was issued for, and writes only with write access.

    Sessions pass here; for them, as for tokens, the view's Django permission and the agency scoping decide.
    """

    def has_permission(self, request, view) -> bool:
        token = partner_token(request)
        if token is None:
            return True
        write = request.method not in permissions.SAFE_METHODS
        if token.allows(view.resource, write=write):
            return True
        self.message = (
            _("This token may not change %(resource)s: it was issued read-only.")
            if write and view.resource in token.resources
            else _("This token was not issued for %(resource)s.")
        ) % {"resource": view.resource}
        return False


class DjangoPermission(permissions.BasePermission):
    """The view's ``permission_required`` (reading) and ``write_permission`` (POST/PUT/PATCH), as in the UI."""

    message = _("You do not have permission to do this.")

    def has_permission(self, request, view) -> bool:
        needed = view.permission_required
        if request.method not in permissions.SAFE_METHODS and getattr(view, "write_permission", ""):
            needed = view.write_permission
        return request.user.has_perm(needed)


class PartnerTokenThrottle(throttling.BaseThrottle):
    """Each token's calls per minute (its ``rate_limit``), counted in the database so every worker agrees."""

    wait_seconds = 0

    def allow_request(self, request, view) -> bool:
        token = partner_token(request)
        if token is None:
            return True
        self.wait_seconds = count_call(token)
        return self.wait_seconds == 0

    def wait(self) -> float:
        return self.wait_seconds


class ForensisAPIMixin:
    """Mixed into every API view. ``resource`` names what a token needs (``models.Resource``)."""

    resource: str = ""
    permission_required: str = ""
    write_permission: str = ""

    def initial(self, request, *args, **kwargs):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > settings.FORENSIS_API_MAX_BODY_BYTES:
            raise PayloadTooLarge(
                _("The request body is %(size)s bytes; the limit is %(limit)s.")
                % {"size": length, "limit": settings.FORENSIS_API_MAX_BODY_BYTES}
            )
        # Times go out in UTC (ISO 8601 with Z), whatever the laboratory's zone for its pages.
        timezone.activate(datetime.UTC)
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        timezone.deactivate()
        audit_call(request._request, response.status_code)
        return response


def audit_call(request, status_code: int) -> None:
    """Every call by a partner token, or by a person outside the laboratory, in the audit log."""
    token = getattr(request, "partner_token", None)
    user = getattr(request, "user", None)
    if token is None and (user is None or not user.is_authenticated or user.is_laboratory_staff):
        return
    outcome = Outcome.SUCCESS if status_code < 400 else Outcome.DENIED if status_code in (401, 403) else Outcome.FAILURE
    record(
        "api.called",
        actor=token.user if token else user,
        object_type="api.partnertoken" if token else "",
        object_id=token.pk if token else "",
        object_repr=token.name if token else "",
        after={"method": request.method, "path": request.get_full_path()[:300], "status": status_code},
        outcome=outcome,
    )


def _fingerprint(request) -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(request.body)
    return digest.hexdigest()


def _replay(stored: IdempotencyRecord) -> Response:
    headers = {"Idempotent-Replayed": "true"}
    if stored.location:
        headers["Location"] = stored.location
    return Response(stored.body, status=stored.status_code, headers=headers)


def idempotent(handler):
    """A POST handler that runs once per ``Idempotency-Key``: a retry replays the stored answer.

    The handler, its writes and the stored answer share one transaction, so either all are kept or none. Two
    requests racing with one key: the second waits on the key's row and then gets 409 (retry → the answer).
    """

    @functools.wraps(handler)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            raise IdempotencyKeyRequired()
        if len(key) > 255 or not key.isprintable():
            raise IdempotencyKeyRequired(_("The Idempotency-Key must be 1–255 printable characters."))
        fingerprint = _fingerprint(request._request)
        stored = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
        if stored is not None:
            if stored.fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            return _replay(stored)
        with transaction.atomic():
            response = handler(self, request, *args, **kwargs)
            try:
                with transaction.atomic():
                    IdempotencyRecord.objects.create(
                        user=request.user,
                        key=key,
                        method=request.method,
                        path=request.path[:500],
                        fingerprint=fingerprint,
                        status_code=response.status_code,
                        body=json.loads(JSONRenderer().render(response.data) or b"null"),
                        location=response.get("Location", "")[:500],
                    )
            except IntegrityError:
                raise IdempotencyConflict() from None
        return response

    return wrapper
