"""Real Forensis processes for the fault tests: a server killed with SIGKILL in the middle of a transaction, a
database taken away under a running server.

Like the browser tests (``tests/e2e/conftest.py``, whose helpers these reuse), everything runs as an operator runs it:
``forensis serve`` and ``forensis import-legacy`` in subprocesses with their own data directory, on a copy of a
snapshot that was migrated and loaded with the demo once (``scenario.SETUP``) — a copy of the SQLite file, or, when
``DATABASE_URL`` names a PostgreSQL server, a database made from the snapshot database and dropped afterwards. The
tests read the outcome through ``forensis shell`` (``scenario.FACTS``), never through pytest-django's database.

A process is stopped at a chosen SQL statement, inside its transaction, by ``injector/sitecustomize.py`` on its
``PYTHONPATH`` (``Pause``): the test waits for the marker file the process writes there, then kills it or takes its
database away. Nothing in Forensis knows about it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from forensis.core.management.commands.seed_demo import DEMO_PASSWORD
from tests.e2e.conftest import (
    ROOT,
    SQLITE_NAME,
    _database,
    _environment,
    _forensis_command,
    _free_port,
    _manage,
    _stop,
    _tail,
    _wait_until_healthy,
)
from tests.faults.scenario import FACTS, SETUP

INJECTOR = Path(__file__).resolve().parent / "injector"
STEP_TIMEOUT_S = 60  # the longest wait for any one step (a marker, a request, a process)
HTTP_TIMEOUT_S = 90  # a request may wait for SQLite's busy timeout (20 s) and more on a loaded machine


def postgres() -> bool:
    return bool(os.environ.get("DATABASE_URL", "").strip())


def last_json_line(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


#: Rows that change whatever happens: sign-ins and sessions (not the operation's).
NOT_THE_OPERATIONS = {"sessions.Session", "axes.AccessAttempt", "axes.AccessLog", "axes.AccessFailureLog"}


def domain_rows(facts: dict) -> Counter:
    return Counter(
        {label: n for label, n in facts["rows"].items() if label not in NOT_THE_OPERATIONS | {"audit.AuditEvent"}}
    )


def domain_audit(facts: dict) -> Counter:
    """Audit events by action, without sign-ins and logged reads (they happen whatever the operation does)."""
    return Counter(
        {
            action: n
            for action, n in facts["audit"].items()
            if not action.startswith("auth.") and not action.endswith(("viewed", "downloaded"))
        }
    )


def added(after: Counter, before: Counter) -> dict[str, int]:
    return {key: after[key] - before[key] for key in after | before if after[key] != before[key]}


# --- the snapshot and its copies -------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """Migrated, with the demo and ``scenario.SETUP``'s casework; never served, copied for each test."""

    data_dir: Path
    database_url: str  # empty: SQLite in data_dir
    scenario: dict
    facts: dict  # scenario.FACTS: what every copy starts from


@pytest.fixture(scope="package")
def snapshot(tmp_path_factory) -> Iterator[Snapshot]:
    data_dir = tmp_path_factory.mktemp("snapshot")
    with _database() as database_url:
        env = _environment(data_dir, database_url)
        # One process for both (starting Django is a good part of each command's time).
        *_output, scenario, facts = _manage(env, "shell", "-c", SETUP + FACTS, timeout=300).strip().splitlines()
        yield Snapshot(
            data_dir=data_dir, database_url=database_url, scenario=json.loads(scenario), facts=json.loads(facts)
        )


@dataclass
class Lab:
    """One test's copy of the snapshot: its data directory and database, the servers and commands run on them."""

    data_dir: Path
    env: dict[str, str]
    scenario: dict
    servers: int = 0

    @property
    def database_url(self) -> str:
        return self.env.get("DATABASE_URL", "")

    def manage(self, *args: str, timeout: float = 120) -> str:
        return _manage(self.env, *args, timeout=timeout)

    def facts(self) -> dict:
        """``forensis audit verify`` and ``forensis custody verify`` (failing the test if either fails), then the
        state the tests assert on (``scenario.FACTS``)."""
        facts = last_json_line(self.manage("shell", "-c", FACTS))
        assert "Audit chain intact" in facts["verified"] and "Custody ledger intact" in facts["verified"], facts
        assert facts["gaps"] == [], facts["gaps"]
        assert facts["files"]["missing"] == [], "a stored file the database refers to is missing"
        return facts

    @contextmanager
    def serve(self, *, workers: int = 1, pause: Pause | None = None, **settings: str) -> Iterator[Server]:
        """``forensis serve`` on this copy (again and again: a restart is just another call), optionally paused."""
        self.servers += 1
        env = {**self.env, **settings, **(pause.env() if pause else {})}
        port = _free_port()
        log_path = self.data_dir / f"server-{self.servers}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [_forensis_command(), "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: gunicorn, its workers and the task worker
            )
        server = Server(url=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path)
        try:
            _wait_until_healthy(server.url, proc, log_path)
            yield server
        finally:
            _stop(proc)


@pytest.fixture
def lab(snapshot: Snapshot, tmp_path: Path) -> Iterator[Lab]:
    data_dir = tmp_path / "data"
    shutil.copytree(snapshot.data_dir, data_dir, ignore=shutil.ignore_patterns(f"{SQLITE_NAME}*", "*.log"))
    if not snapshot.database_url:
        with (
            closing(sqlite3.connect(snapshot.data_dir / SQLITE_NAME)) as source,
            closing(sqlite3.connect(data_dir / SQLITE_NAME)) as target,
        ):
            source.backup(target)
    with _database(template=snapshot.database_url) as database_url:
        # Staff sign in with their password alone (as in ``make run``): the second factor has tests of its own.
        env = _environment(data_dir, database_url, FORENSIS_DEFER_MFA_ENROLMENT="1")
        yield Lab(data_dir=data_dir, env=env, scenario=snapshot.scenario)


# --- servers, people, pauses -----------------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log_path: Path

    def sign_in(self, username: str) -> Person:
        return Person.signed_in(self.url, username)

    def kill(self) -> None:
        """``kill -9`` of the whole server: gunicorn's master, its workers and the task worker, all at once."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(timeout=STEP_TIMEOUT_S) == -signal.SIGKILL

    def log(self) -> str:
        return _tail(self.log_path, chars=100_000)


@dataclass
class Person:
    """A signed-in person's browser, reduced to its cookies: forms are posted as the pages post them."""

    url: str
    session: requests.Session = field(default_factory=requests.Session)

    @classmethod
    def signed_in(cls, url: str, username: str) -> Person:
        person = cls(url)
        person.get("/accounts/login/")
        answer = person.post("/accounts/login/", {"username": username, "password": DEMO_PASSWORD, "acknowledge": "on"})
        assert answer.status_code == 302, f"{username} could not sign in: {answer.status_code} {answer.text[:2000]}"
        return person

    def twin(self) -> Person:
        """The same person in a second tab (the same session), for requests sent at the same time."""
        twin = Person(self.url)
        twin.session.cookies.update(self.session.cookies)
        return twin

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(self.url + path, allow_redirects=False, timeout=HTTP_TIMEOUT_S, **kwargs)

    def post(self, path: str, data: dict) -> requests.Response:
        token = self.session.cookies.get("csrftoken", "")
        return self.session.post(
            self.url + path,
            data={**data, "csrfmiddlewaretoken": token},
            headers={"Referer": self.url + path},
            allow_redirects=False,
            timeout=HTTP_TIMEOUT_S,
        )


@dataclass
class Pause:
    """Where ``injector/sitecustomize.py`` stops a process: after the first statement matching ``sql`` (with ``param``
    in one of its parameters), inside the open transaction."""

    folder: Path
    sql: str
    param: str = ""
    resumable: bool = False

    @property
    def marker(self) -> Path:
        return self.folder / "paused.json"

    @property
    def resume_file(self) -> Path:
        return self.folder / "resume"

    def env(self) -> dict[str, str]:
        env = {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(INJECTOR), os.environ.get("PYTHONPATH", "")])),
            "FAULTS_PAUSE_SQL": self.sql,
            "FAULTS_MARKER": str(self.marker),
        }
        if self.param:
            env["FAULTS_PAUSE_PARAM"] = self.param
        if self.resumable:
            env["FAULTS_RESUME"] = str(self.resume_file)
        return env

    def wait(self, *watched: subprocess.Popen) -> dict:
        """Until a process has paused; returns the marker (its pid and statement)."""
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while not self.marker.exists():
            for proc in watched:
                assert proc.poll() is None, f"the process ended (code {proc.returncode}) before pausing at {self.sql!r}"
            assert time.monotonic() < deadline, f"no statement matching {self.sql!r} was run in time"
            time.sleep(0.05)
        paused = json.loads(self.marker.read_text())
        assert re.search(self.sql, paused["sql"], re.IGNORECASE), paused
        return paused

    def resume(self) -> None:
        self.resume_file.touch()


@pytest.fixture
def pause(tmp_path: Path):
    def make(sql: str, *, param: str = "", resumable: bool = False) -> Pause:
        folder = tmp_path / "pause"
        folder.mkdir(exist_ok=True)
        return Pause(folder, sql, param, resumable)

    return make


def in_background(call, *args, **kwargs):
    """Run ``call`` in a thread (a request that will not come back while its server is paused); ``.result()``."""
    from concurrent.futures import ThreadPoolExecutor

    executor = ThreadPoolExecutor(max_workers=1)
    future = executor.submit(call, *args, **kwargs)
    executor.shutdown(wait=False)
    return future
