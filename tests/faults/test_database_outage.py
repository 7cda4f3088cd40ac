"""The database goes away under a running server, then comes back: people get a clear "try again" page (the API a
JSON error), never a traceback; nothing of an interrupted write is kept; the server needs no restart.

PostgreSQL: the server's ``DATABASE_URL`` points at a TCP proxy run by the test (``proxy.DatabaseProxy``), which
closes every connection and refuses new ones for ten seconds — the real PostgreSQL keeps serving the other tests.
An officer's pre-log is stopped in the middle of its transaction (``Pause``, after its first item is written) when
the database goes away, so the rollback of an interrupted write is seen, not assumed.

SQLite: another connection holds the database file with ``BEGIN EXCLUSIVE`` for longer than the server's busy
timeout (20 s, the production setting), then lets go. (SQLite takes its write lock when a transaction begins, so a
write cannot be interrupted half way by another process; the requests wait, then fail whole.)

In both: a signed-in page, a form and an API call answer 503 with Retry-After; each is logged once, in one line;
afterwards the same session works, the form sent again creates the submission exactly once, and both ledgers verify.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from forensis.core.middleware import RETRY_AFTER_SECONDS
from tests.e2e.conftest import SQLITE_NAME
from tests.faults.conftest import (
    HTTP_TIMEOUT_S,
    Lab,
    Person,
    Server,
    added,
    domain_audit,
    domain_rows,
    in_background,
    postgres,
)
from tests.faults.proxy import DatabaseProxy

OUTAGE_S = 10
PAGE, NEW, API = "/submissions/", "/submissions/new/", "/api/v1/submissions/"
UNAVAILABLE_LOG_LINE = "Database unavailable ("


def assert_try_again_page(answer: requests.Response) -> None:
    assert answer.status_code == 503, (answer.status_code, answer.text[:3000])
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "The database is not answering" in answer.text
    assert "Traceback" not in answer.text and "OperationalError" not in answer.text


def assert_try_again_json(answer: requests.Response) -> None:
    assert answer.status_code == 503, (answer.status_code, answer.text[:3000])
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert answer.json()["error"]["code"] == "database_unavailable"


def pre_log(officer: Person, kit: int) -> requests.Response:
    """The officer starts a pre-log from a kit (the portal's "New submission")."""
    return officer.post(NEW, {"kit": str(kit)})


def assert_back_and_saved_once(lab: Lab, server: Server, officer: Person, snapshot) -> str:
    """The same session works again; the pre-log sent once more is saved exactly once; the log has one line per
    503 and neither a 500 nor a traceback."""
    assert officer.get(PAGE).status_code == 200
    created = pre_log(officer, lab.scenario["kit"])
    assert created.status_code == 302 and "/edit/" in created.headers["Location"], created.text[:3000]
    log = server.log()
    assert "Internal Server Error" not in log and "Traceback" not in log, log[-5000:]

    facts = lab.facts()  # both chains verified
    before = snapshot.facts
    new = sorted(set(facts["submissions"]) - set(before["submissions"]))
    assert len(new) == 1 and new[0] in created.headers["Location"]
    kit_items = 2  # the items of the driving toxicology kit
    assert facts["submission_items"][new[0]] == kit_items
    assert added(domain_rows(facts), domain_rows(before)) == {
        "intake.Submission": 1,
        "intake.SubmissionItem": kit_items,
    }
    assert added(domain_audit(facts), domain_audit(before)) == {"submission.created": 1}
    return log


@pytest.mark.postgres
@pytest.mark.skipif(not postgres(), reason="PostgreSQL behind a proxy (DATABASE_URL)")
def test_postgresql_away_for_ten_seconds(lab: Lab, pause, snapshot):
    address = urlsplit(lab.database_url)
    with DatabaseProxy((address.hostname, address.port or 5432)) as proxy:
        proxied = urlunsplit(address._replace(netloc=f"{address.username}@127.0.0.1:{proxy.port}"))
        interrupted = pause(r'^INSERT INTO "intake_submissionitem"', resumable=True)
        with lab.serve(workers=2, pause=interrupted, DATABASE_URL=proxied) as server:
            officer = server.sign_in("officer")
            assert officer.get(PAGE).status_code == 200

            # A pre-log half written when the database goes away.
            attempt = in_background(pre_log, officer.twin(), lab.scenario["kit"])
            interrupted.wait(server.proc)
            proxy.take_away()
            away_since = time.monotonic()
            interrupted.resume()
            assert_try_again_page(attempt.result(timeout=HTTP_TIMEOUT_S))

            # While it is away: a page, the form again, the API.
            assert_try_again_page(officer.get(PAGE))
            assert_try_again_page(pre_log(officer, lab.scenario["kit"]))
            assert_try_again_json(officer.get(API))
            health = requests.get(server.url + "/healthz", timeout=HTTP_TIMEOUT_S)  # a load balancer's probe
            assert health.status_code == 503 and "database unreachable" in health.json()["reason"]
            assert proxy.refused > 0 and proxy.connections == 0

            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - away_since)))
            proxy.bring_back()
            log = assert_back_and_saved_once(lab, server, officer, snapshot)
            assert log.count(UNAVAILABLE_LOG_LINE) == 4, log[-5000:]  # one line per 503 answer (not /healthz)
            assert "The task worker cannot reach the database" in log  # it waited, it did not exit
            assert task_worker_running(server), "the background task worker did not survive the outage"


@pytest.mark.skipif(postgres(), reason="the embedded SQLite database")
def test_sqlite_locked_longer_than_the_busy_timeout(lab: Lab, snapshot):
    with lab.serve(workers=3) as server:  # three requests wait at once
        officer = server.sign_in("officer")
        assert officer.get(PAGE).status_code == 200
        with closing(sqlite3.connect(lab.data_dir / SQLITE_NAME, timeout=5, isolation_level=None)) as other:
            other.execute("BEGIN EXCLUSIVE")
            page = in_background(officer.twin().get, PAGE)
            form = in_background(pre_log, officer.twin(), lab.scenario["kit"])
            api = in_background(officer.twin().get, API)
            answers = [waiting.result(timeout=HTTP_TIMEOUT_S) for waiting in (page, form, api)]
            other.execute("ROLLBACK")
        assert_try_again_page(answers[0])
        assert_try_again_page(answers[1])
        assert_try_again_json(answers[2])
        log = assert_back_and_saved_once(lab, server, officer, snapshot)
        assert log.count(UNAVAILABLE_LOG_LINE) == 3, log[-5000:]
        assert task_worker_running(server)


def task_worker_running(server: Server) -> bool:
    """Whether ``forensis db_worker`` (started by ``forensis serve``) is still alive in the server's process group."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
            group = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[2])
        except (OSError, IndexError, ValueError):
            continue
        if group == server.proc.pid and b"db_worker" in command:
            return True
    return False
