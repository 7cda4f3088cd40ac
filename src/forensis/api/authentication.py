"""Who is calling: a partner system with a token (``Authorization: Bearer fns_…``) or a person's session."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from forensis.accounts.middleware import owes_second_factor

from .errors import TokenFailed
from .models import PartnerToken
from .tokens import TokenRefused, token_for_key


class PartnerTokenAuthentication(authentication.BaseAuthentication):
    """``request.user`` is the token's account, ``request.auth`` the ``PartnerToken``."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise TokenFailed("authentication_failed", _("Send the header as: Authorization: Bearer <token>."))
        try:
            token = token_for_key(header[1].decode("ascii", errors="replace"))
        except TokenRefused as refused:
            raise TokenFailed(refused.code, str(refused)) from None
        request._request.partner_token = token
        return token.user, token

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


class SessionAuthentication(authentication.SessionAuthentication):
    """A signed-in person, who must have passed the second factor as on every web page (CSRF on writes)."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and owes_second_factor(result[0]):
            raise exceptions.NotAuthenticated(
                _("Complete the second sign-in step (authenticator code) in the browser first."), "mfa_required"
            )
        return result


def partner_token(request) -> PartnerToken | None:
    token = getattr(request, "auth", None)
    return token if isinstance(token, PartnerToken) else None
