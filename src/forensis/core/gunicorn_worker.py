"""gunicorn configuration for ``forensis serve``: start the background task worker beside the web workers.

gunicorn loads this module as its configuration (``--config python:forensis.core.gunicorn_worker``); its
server hooks start ``forensis db_worker`` (django-tasks' database worker, which runs the legacy imports queued
from their page) once gunicorn is ready, and stop it when gunicorn stops. Both are in gunicorn's process
group, so stopping the group stops both.
"""

from __future__ import annotations

import subprocess
import sys

#: Seconds between two looks for queued work.
POLL_INTERVAL = "2"

_worker: subprocess.Popen | None = None


def when_ready(server) -> None:
    global _worker
    _worker = subprocess.Popen(  # noqa: S603  (our own interpreter and command)
        # --no-reload: under gunicorn it is a server process, not a development tool (and the reloader would keep
        # a worker whose loop had ended looking alive).
        [
            sys.executable,
            "-m",
            "forensis",
            "db_worker",
            "--interval",
            POLL_INTERVAL,
            "--no-startup-delay",
            "--no-reload",
        ]
    )
    server.log.info("Background task worker started (pid %s)", _worker.pid)


def on_exit(server) -> None:
    if _worker is not None and _worker.poll() is None:
        _worker.terminate()
        try:
            _worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _worker.kill()
