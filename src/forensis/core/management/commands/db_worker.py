"""``forensis db_worker``: django-tasks-db's worker, which waits for the database when it does not answer.

django-tasks-db's own worker exits at the first connection error (only a locked SQLite file is waited out): after
a database restart, queued legacy imports and webhook retries would wait for the next restart of Forensis. This one
logs the outage in one line and starts polling again once the database answers.
"""

from __future__ import annotations

import logging
import time

from django.db import InterfaceError, OperationalError, connections
from django_tasks_db.management.commands import db_worker

from forensis.core.middleware import database_unavailable

logger = logging.getLogger("forensis.tasks")

#: Seconds between two attempts to reach a database that did not answer.
RETRY_S = 5


class Command(db_worker.Command):
    help = db_worker.Command.help + " (waiting for the database when it does not answer)"

    def handle(self, *args, **options):
        while True:
            try:
                return super().handle(*args, **options)
            except (OperationalError, InterfaceError) as exc:
                if not database_unavailable(exc):
                    raise
                logger.error("The task worker cannot reach the database (%s); trying again in %s s.", exc, RETRY_S)
                connections.close_all()
                time.sleep(RETRY_S)
