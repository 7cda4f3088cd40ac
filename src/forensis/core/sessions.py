"""Sessions in the database (Django's own store), except that a database which does not answer is said so.

Django's store turns any database error while saving a session into ``UpdateError``, which its middleware answers with
"400 Bad Request" (``SessionInterrupted``: "the session was deleted before the request completed"). When the database
is merely away — PostgreSQL restarting, an SQLite file locked past its busy timeout — that is wrong, and the person
would see neither the truth nor "try again": the database's own error is raised instead, and answered 503 by
``forensis.core.middleware.DatabaseUnavailableMiddleware``. A session really deleted meanwhile is still a 400.
"""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import UpdateError

from .middleware import database_unavailable


class SessionStore(db.SessionStore):
    def save(self, must_create: bool = False) -> None:
        try:
            super().save(must_create=must_create)
        except UpdateError as exc:
            cause = exc.__context__
            if cause is not None and database_unavailable(cause):
                raise cause from cause.__cause__  # (the driver's error, which says what happened)
            raise
