"""How the OpenAPI schema describes the API: its two ways in (drf-spectacular extensions, loaded by apps.ready)
and the error answers every operation may give (``AutoSchema``, the ``DEFAULT_SCHEMA_CLASS``)."""

from __future__ import annotations

from django.utils.translation import gettext
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from .errors import ErrorSerializer

#: What each error status means. Every operation may answer ``ALWAYS``; writes also ``WRITES``, and a POST made
#: with an Idempotency-Key also ``IDEMPOTENT``.
ERROR_DESCRIPTIONS = {
    "400": "Invalid input (code `validation_error`, `malformed_json`, …).",
    "401": "No, an unknown, an expired or a revoked token (`not_authenticated`, `token_expired`, …).",
    "403": "The token or the person may not do this (`permission_denied`, `mfa_required`).",
    "404": "Not found, or not visible to this agency.",
    "409": "A request with this Idempotency-Key is still being processed; retry for its answer.",
    "413": "The request body is over the limit (`payload_too_large`).",
    "415": "The body is not JSON (`unsupported_media_type`).",
    "422": "This Idempotency-Key was used for a different request (`idempotency_key_reused`).",
    "429": "Over the token's rate limit (`rate_limited`); wait `Retry-After` seconds.",
}
ALWAYS = ("400", "401", "403", "404", "429")
WRITES = ("413", "415")
IDEMPOTENT = ("409", "422")
RETRY_AFTER = {
    "Retry-After": {"schema": {"type": "integer", "minimum": 1}, "description": "Seconds to wait before retrying."}
}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's, with the error answers documented on every operation in the one error shape."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        declared = {code for code in responses if code.startswith("4")}
        for code in sorted(declared.union(self._error_codes())):
            documented = responses.get(code, {})
            if "content" in documented:
                continue
            description = documented.get("description", "")  # a view's own words, where it gave some
            if not description or description == gettext("No response body"):  # drf-spectacular's placeholder
                description = ERROR_DESCRIPTIONS.get(code, "")
            response = self._get_response_for_code(
                OpenApiResponse(ErrorSerializer, description=description), code, direction=direction
            )
            if code == "429":
                response["headers"] = {**RETRY_AFTER, **response.get("headers", {})}
            responses[code] = response
        return dict(sorted(responses.items()))

    def _error_codes(self) -> list[str]:
        codes = list(ALWAYS)
        if self.method in ("POST", "PUT", "PATCH"):
            codes += WRITES
        parameters = self.get_override_parameters()
        if any(isinstance(p, OpenApiParameter) and p.name == "Idempotency-Key" for p in parameters):
            codes += IDEMPOTENT
        return codes


class PartnerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "forensis.api.authentication.PartnerTokenAuthentication"
    name = "partnerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "fns_<prefix>_<secret>",
            "description": "A partner token issued by the laboratory's administrator (docs/api.md).",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "forensis.api.authentication.SessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "A person signed in to Forensis in the browser (second factor passed); "
            "writes also need the X-CSRFToken header.",
        }
