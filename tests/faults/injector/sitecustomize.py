"""Test-only (``tests/faults``): stop a Forensis process at one SQL statement, inside its transaction.

Python imports ``sitecustomize`` at start-up from the first directory on its path that has one; the fault tests put
this directory first on the ``PYTHONPATH`` of the ``forensis`` processes they start (server, workers, commands), so
nothing in Forensis itself knows about faults. Without ``FAULTS_PAUSE_SQL`` in the environment it does nothing.

- ``FAULTS_PAUSE_SQL``: a regular expression searched (ignoring case) in each statement sent to the database;
- ``FAULTS_PAUSE_PARAM`` (optional): a text that must also be found in one of the statement's parameters;
- ``FAULTS_MARKER``: the file written (``{"pid", "sql"}``) once the first such statement has run — its transaction
  is still open;
- ``FAULTS_RESUME`` (optional): the file whose appearance lets the process go on. Without it the process waits
  until it is killed.

Only the first matching statement of each process pauses.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

_PATTERN = os.environ.get("FAULTS_PAUSE_SQL", "")


def _texts(params):
    """Each parameter as text: JSON for a JSON value (PostgreSQL's driver wraps it: ``Jsonb(obj)``)."""
    if isinstance(params, dict):
        params = params.values()
    for value in params or ():
        if isinstance(value, list | tuple):
            yield from _texts(value)
        else:
            value = getattr(value, "obj", value)
            yield json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)


def _install() -> None:
    from django.db.backends.signals import connection_created

    pattern = re.compile(_PATTERN, re.IGNORECASE)
    wanted = os.environ.get("FAULTS_PAUSE_PARAM")
    marker = Path(os.environ["FAULTS_MARKER"])
    resume = os.environ.get("FAULTS_RESUME")
    state = {"paused": False}

    def pause(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if state["paused"] or not pattern.search(sql) or (wanted and not any(wanted in s for s in _texts(params))):
            return result
        state["paused"] = True
        written = marker.with_suffix(".tmp")
        written.write_text(json.dumps({"pid": os.getpid(), "sql": sql[:300]}))
        written.replace(marker)  # the test never reads half a marker
        while not (resume and Path(resume).exists()):
            time.sleep(0.05)
        return result

    def install(sender, connection, **kwargs):
        if pause not in connection.execute_wrappers:
            connection.execute_wrappers.append(pause)

    connection_created.connect(install, weak=False)


if _PATTERN:
    _install()
