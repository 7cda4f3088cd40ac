"""JSON errors with a stable code and a message a person can act on: ``{"error": {"code", "message", "fields"}}``.

The codes are part of the API contract (docs/api.md lists them); the messages are translated.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, serializers, status
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings

from forensis.core.middleware import RETRY_AFTER_SECONDS, database_unavailable, log_database_unavailable

logger = logging.getLogger("forensis.api")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = gettext_lazy("The request body is too large.")


class IdempotencyKeyRequired(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "idempotency_key_required"
    default_detail = gettext_lazy(
        "Send an Idempotency-Key header (e.g. a UUID) with every POST, and the same key when you retry it."
    )


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = gettext_lazy(
        "This Idempotency-Key was already used for a different request. Use a new key for a new request."
    )


class IdempotencyConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_conflict"
    default_detail = gettext_lazy(
        "A request with this Idempotency-Key is being processed. Retry in a moment to receive its answer."
    )


class TokenFailed(exceptions.AuthenticationFailed):
    """A token refused for a named reason (``authentication_failed``, ``token_expired``, ``token_revoked``)."""

    def __init__(self, code: str, message: str):
        super().__init__(message, code)
        self.default_code = code


#: DRF's own codes, renamed where the default says less than it could.
_CODES = {"parse_error": "malformed_json", "invalid": "validation_error", "throttled": "rate_limited"}
NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, for programs: e.g. validation_error, rate_limited (docs/api.md).")
    message = serializers.CharField(help_text="What went wrong, for a person (translated).")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="With validation_error: the messages for each field sent (by its name).",
    )


class ErrorSerializer(serializers.Serializer):
    """The body of every error answer (the OpenAPI schema documents it on each operation)."""

    error = ErrorDetailSerializer()


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def database_unavailable_response() -> JsonResponse:
    """503 ``database_unavailable``: the database did not answer; nothing of the request was saved in part."""
    response = JsonResponse(
        error_body(
            "database_unavailable",
            _("The database is not answering. Nothing is saved in part: try the request again in a minute."),
        ),
        status=503,
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(detail=as_serializer_error(exc))
    if isinstance(exc, Http404):
        return exceptions.NotFound(_("Not found, or not visible to you."))
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    return exc


def _by_field(detail, path: str = "") -> dict[str, list[str]]:
    """Validation messages by the field they concern, nested ones by their path (``items[0].colour``); messages
    about the body as a whole under ``non_field_errors``."""
    if isinstance(detail, dict):
        pairs = [(_child(path, key), value) for key, value in detail.items()]
    elif isinstance(detail, list) and any(isinstance(value, dict | list) for value in detail):
        pairs = [(_child(path, index), value) for index, value in enumerate(detail)]
    else:
        messages = detail if isinstance(detail, list) else [detail]
        return {path or NON_FIELD: [str(m) for m in messages]} if messages else {}
    found: dict[str, list[str]] = {}
    for name, value in pairs:
        for field, messages in _by_field(value, name).items():
            found.setdefault(field, []).extend(messages)
    return found


def _child(path: str, key: str | int) -> str:
    if key == NON_FIELD:
        return path
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _flatten(value)]
    if isinstance(detail, list):
        return [message for value in detail for message in _flatten(value)]
    return [str(detail)]


def exception_handler(exc: Exception, context: dict):
    """DRF's handler, then the body rewritten into the one error shape. Unexpected errors become a JSON 500."""
    from rest_framework.views import exception_handler as drf_exception_handler  # (imports this module's users)

    if database_unavailable(exc):
        response = database_unavailable_response()
        request = context.get("request")
        log_database_unavailable(getattr(request, "_request", request), response, exc)
        return response
    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in the API", exc_info=exc)
        return JsonResponse(
            error_body("server_error", _("Something went wrong on the server. It was logged; try again later.")),
            status=500,
        )
    if isinstance(exc, exceptions.ValidationError):
        fields = _by_field(exc.detail)
        message = " ".join(f"{name}: {m}" if name != NON_FIELD else m for name in fields for m in fields[name])
        response.data = error_body("validation_error", message, fields)
        return response
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        if isinstance(codes, str):
            code = codes
    if isinstance(exc, exceptions.Throttled):
        message = _("Too many requests for this token. Wait %(seconds)s seconds and try again.") % {
            "seconds": exc.wait or 1
        }
    else:
        message = " ".join(_flatten(getattr(exc, "detail", str(exc))))
    response.data = error_body(_CODES.get(code, code), message)
    return response
