import logging
import sqlite3
import sys

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.deprecation import MiddlewareMixin
from django.utils.log import log_response

# Everything the pages load is served by Forensis itself (laboratories run on closed networks).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    def process_response(self, request, response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


# --- the database does not answer -----------------------------------------------------------------------------------
#
# When PostgreSQL is down or restarting, or the network to it is cut, or an SQLite file stays locked past its busy
# timeout, a request fails with OperationalError wherever it first touches the database: loading the session in
# the authentication middleware, in a view or a service, or saving the session on the way out. Django turns an
# exception into a response at every middleware layer (``convert_exception_to_response``), so no single middleware
# would see them all: ``got_request_exception`` (sent at each layer, with the exception being handled) hands such an
# error on, past every layer, to ``DatabaseUnavailableMiddleware``. The layers in between do not run their response
# half (no session save against a dead database), the error is logged once without a traceback, and the person gets
# a page in their language saying to try again (the API: JSON ``database_unavailable``), both 503 with Retry-After.
# Nothing is half-saved: every service runs in one transaction, which the database rolls back when the connection
# breaks. The next request reconnects by itself (``CONN_HEALTH_CHECKS``; see docs/operations.md, "Faults").

logger = logging.getLogger("forensis.database")

#: Seconds a client is asked to wait before trying again (the page says "in a minute").
RETRY_AFTER_SECONDS = 60
DATABASE_UNAVAILABLE_TEMPLATE = "core/database_unavailable.html"
#: SQLite errors that mean "not now" rather than a mistake in a query (``no such table`` and the like).
_SQLITE_UNAVAILABLE = ("database is locked", "database table is locked", "unable to open database file", "disk i/o")
#: PostgreSQL error classes that mean "not now": connection exceptions (08), the server shutting down or starting
#: up (57P01–57P05), out of connections or other resources (53). Errors without a code are the connection's own
#: (refused, closed by the server, timed out).
_POSTGRES_UNAVAILABLE = ("08", "57P", "53")
_GUARDED = "_forensis_database_guarded"
_LOGGED = "_forensis_database_unavailable_logged"


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database did not answer (try again later), as opposed to a faulty query."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if isinstance(cause, sqlite3.Error):
        message = str(cause).lower()
        return any(words in message for words in _SQLITE_UNAVAILABLE)
    sqlstate = getattr(cause, "sqlstate", None)
    return not sqlstate or sqlstate.startswith(_POSTGRES_UNAVAILABLE)


def log_database_unavailable(request, response, exc: BaseException) -> None:
    """One line for the operator, without a traceback, once per request (Django's request log then stays quiet)."""
    if getattr(request, _LOGGED, False):
        response._has_been_logged = True  # (Django's own mark, read by its request log; log_response sets it too)
        return
    setattr(request, _LOGGED, True)
    log_response(
        "Database unavailable (%s %s): %s",
        request.method,
        request.path,
        str(exc).strip() or type(exc).__name__,
        response=response,
        request=request,
        logger=logger,
        level="error",
    )


def _hand_on(sender, request=None, **kwargs):
    """Raise a database-unavailable error on, instead of letting this layer answer 500 (see above)."""
    exc = sys.exc_info()[1]
    if request is not None and getattr(request, _GUARDED, False) and database_unavailable(exc):
        raise exc


got_request_exception.connect(_hand_on, dispatch_uid="forensis.core.middleware.database_unavailable")


class DatabaseUnavailableMiddleware:
    """503 "try again" for a request the database did not answer; placed before every middleware that uses it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        setattr(request, _GUARDED, True)
        try:
            return self.get_response(request)
        except (OperationalError, InterfaceError) as exc:  # only what _hand_on raised on
            return self.unavailable(request, exc)
        finally:
            setattr(request, _GUARDED, False)

    @staticmethod
    def unavailable(request, exc: BaseException) -> HttpResponse:
        """The answer, built from a static template and the request alone: no session, user or database."""
        with translation.override(translation.get_language_from_request(request)):
            if request.path.startswith("/api/"):
                from forensis.api.errors import database_unavailable_response

                response = database_unavailable_response()
            else:
                response = HttpResponse(
                    render_to_string(
                        DATABASE_UNAVAILABLE_TEMPLATE,
                        {
                            "language": translation.get_language(),
                            "retry_url": request.get_full_path() if request.method in ("GET", "HEAD") else "",
                        },
                    ),
                    status=503,
                )
                response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response["Cache-Control"] = "no-store"
        log_database_unavailable(request, response, exc)
        return response
