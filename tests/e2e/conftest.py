"""Browser tests: real Forensis servers started as a person would, driven by headless chromium.

The app is set up as a person would: ``forensis migrate`` then ``forensis seed-demo`` (once, into a
snapshot), then each server is ``forensis serve`` (collectstatic + gunicorn) in a subprocess with its
own data directory holding a copy of that snapshot — a copy of the SQLite file, or, when
``DATABASE_URL`` names a PostgreSQL server, a throw-away database made from the snapshot database and
dropped afterwards. The tests talk to the servers over HTTP only; they never touch pytest-django's
test database.

Why ``package`` scope and not ``session``: while Playwright's sync API is started, an asyncio loop is
running in the main thread, and Django refuses database access from such a thread
(``SynchronousOnlyOperation``). pytest-django happens to run database tests first, but package scope
closes the browser (and stops the servers) as soon as the last browser test has run, so the rest of
the suite is unaffected whatever the order (random-order plugins, xdist distribution, new test folders).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = ROOT / "var" / "test" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_TIMEOUT = 60  # seconds for the server to answer /healthz
TIMEOUT_MS = 10_000  # Playwright actions and expectations
SQLITE_NAME = "forensis.sqlite3"  # the default database in the data directory (settings._database)

expect.set_options(timeout=TIMEOUT_MS)


def _forensis_command() -> str:
    beside_python = Path(sys.executable).with_name("forensis")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("forensis")
    if not found:
        raise RuntimeError("The `forensis` command is not installed (pip install -e '.[dev]').")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, chars: int = 6000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    return text[-chars:] or "(no output)"


def _environment(data_dir: Path, database_url: str, **settings: str) -> dict[str, str]:
    """This process's environment without any Forensis setting, then the server's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORENSIS_") and k != "DATABASE_URL"}
    env.update(FORENSIS_DATA_DIR=str(data_dir), FORENSIS_ENV="development", **settings)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def _manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run ``forensis <args>`` with ``env``; return its output, or raise with all of it."""
    result = subprocess.run(
        [_forensis_command(), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"`forensis {' '.join(args)}` failed with exit code {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


@dataclass
class Server:
    """A running Forensis server and the environment to run ``forensis`` commands against it."""

    url: str
    env: dict[str, str]
    data_dir: Path
    log_path: Path

    def manage(self, *args: str, timeout: float = 120) -> str:
        """Run ``forensis <args>`` on this server's data directory and database; return its output."""
        return _manage(self.env, *args, timeout=timeout)

    def shell(self, code: str) -> str:
        return self.manage("shell", "-c", code)

    def create_user(self, username: str, password: str, *, role: str = "analyst", agency: str = "NFSS") -> None:
        """A user made through the same service the application uses (as the system, not a person)."""
        self.shell(
            "from forensis.accounts import services\n"
            "from forensis.accounts.models import Agency\n"
            f"services.create_user(None, username={username!r}, password={password!r}, "
            f"agency=Agency.objects.get(code={agency!r}), roles=[{role!r}], "
            f"first_name={username.split('.')[0].title()!r}, last_name='Tester')\n"
        )


@dataclass
class Seeded:
    """A migrated database with the demo data, never served: each server starts from a copy of it."""

    data_dir: Path
    database_url: str  # empty: SQLite in data_dir


@contextmanager
def _database(template: str = "") -> Iterator[str]:
    """A new PostgreSQL database (empty, or a copy of ``template``) when DATABASE_URL is set; dropped after.

    Yields its address, or "" when DATABASE_URL is unset (SQLite in the data directory).
    """
    base_url = os.environ.get("DATABASE_URL", "").strip()
    if not base_url:
        yield ""
        return
    import psycopg
    from psycopg import sql

    parts = urlsplit(base_url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    name = f"forensis_e2e_{secrets.token_hex(4)}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(urlsplit(template).path.lstrip("/")))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(create)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _wait_until_healthy(url: str, proc: subprocess.Popen, log_path: Path) -> dict:
    """Poll /healthz until it answers 200; return its JSON (status and database vendor)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_problem = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"The Forensis server exited with code {proc.returncode} before answering {url}/healthz.\n"
                f"Its output:\n{_tail(log_path)}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310  (our own server)
                if response.status == 200:
                    return json.load(response)
                last_problem = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last_problem = f"HTTP {exc.code}: {exc.read()[:300]!r}"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last_problem = str(exc)
        time.sleep(0.2)
    pytest.fail(
        f"The Forensis server did not answer {url}/healthz with 200 within {STARTUP_TIMEOUT} s "
        f"(last: {last_problem}).\nIts output:\n{_tail(log_path)}",
        pytrace=False,
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGQUIT)  # gunicorn's quick shutdown: nothing to finish gracefully here
    try:
        proc.wait(timeout=25)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextmanager
def _run_server(seeded: Seeded, data_dir: Path, **settings: str) -> Iterator[Server]:
    """Serve Forensis (``forensis serve``) from a copy of the seeded data, with the given settings."""
    shutil.copy2(seeded.data_dir / "secret_key", data_dir / "secret_key")
    shutil.copytree(seeded.data_dir / "signing", data_dir / "signing")
    if not seeded.database_url:
        with (
            closing(sqlite3.connect(seeded.data_dir / SQLITE_NAME)) as source,
            closing(sqlite3.connect(data_dir / SQLITE_NAME)) as target,
        ):
            source.backup(target)
    with _database(template=seeded.database_url) as database_url:
        env = _environment(data_dir, database_url, **settings)
        port = _free_port()
        server = Server(url=f"http://127.0.0.1:{port}", env=env, data_dir=data_dir, log_path=data_dir / "server.log")
        with server.log_path.open("wb") as log:
            proc = subprocess.Popen(
                [_forensis_command(), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so teardown stops gunicorn and its workers
            )
            try:
                health = _wait_until_healthy(server.url, proc, server.log_path)
                assert health["database"] == ("postgresql" if database_url else "sqlite"), health
                yield server
            finally:
                _stop(proc)


@pytest.fixture(scope="package")
def seeded(tmp_path_factory) -> Iterator[Seeded]:
    """``forensis migrate`` then ``forensis seed-demo``, once: migrating and hashing the demo passwords is
    the slow part of starting a server, and each server needs its own copy (the lockout locks 127.0.0.1)."""
    data_dir = tmp_path_factory.mktemp("seeded")
    with _database() as database_url:
        env = _environment(data_dir, database_url)
        _manage(env, "migrate", "--noinput")
        _manage(env, "signing-key", "--self-signed", "--if-missing")
        _manage(env, "seed-demo")
        yield Seeded(data_dir=data_dir, database_url=database_url)


@pytest.fixture(scope="package")
def demo_server(seeded, tmp_path_factory) -> Iterator[Server]:
    """The demo as ``make run`` serves it: users without an authenticator may defer enrolment."""
    with _run_server(seeded, tmp_path_factory.mktemp("demo"), FORENSIS_DEFER_MFA_ENROLMENT="1") as server:
        yield server


@pytest.fixture(scope="package")
def strict_server(seeded, tmp_path_factory) -> Iterator[Server]:
    """A server that does not defer MFA enrolment: laboratory staff must enrol before anything else."""
    with _run_server(seeded, tmp_path_factory.mktemp("strict")) as server:
        yield server


@pytest.fixture(scope="package")
def lockout_server(seeded, tmp_path_factory) -> Iterator[Server]:
    """A server of its own for the lockout test: the lockout also locks 127.0.0.1, the address of all tests."""
    with _run_server(seeded, tmp_path_factory.mktemp("lockout"), FORENSIS_DEFER_MFA_ENROLMENT="1") as server:
        yield server


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture(scope="package")
def screenshot_dir() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR
