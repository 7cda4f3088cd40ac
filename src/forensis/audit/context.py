"""Where the current request comes from, so service functions can audit it without a request object."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

_source: contextvars.ContextVar[str] = contextvars.ContextVar("forensis_audit_source", default="system")


def current_source() -> str:
    return _source.get()


@contextmanager
def source(value: str) -> Iterator[None]:
    token = _source.set(value[:64])
    try:
        yield
    finally:
        _source.reset(token)


class AuditSourceMiddleware:
    """Records the client address (as django-axes resolves it, honouring the proxy setting)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from axes.helpers import get_client_ip_address

        with source(get_client_ip_address(request) or "unknown"):
            return self.get_response(request)
