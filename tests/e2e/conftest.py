"""Browser tests: real Forensis servers started as a person would, driven by headless chromium.

Each server is a subprocess with its own data directory (and, when ``DATABASE_URL`` names a PostgreSQL
server, its own throw-away database): ``forensis migrate``, ``forensis seed-demo``, then
``forensis serve`` (collectstatic + gunicorn). The tests talk to it over HTTP only; they never touch
pytest-django's test database.

Why ``package`` scope and not ``session``: Playwright's sync API leaves a running asyncio loop in the
main thread while it is started, and Django refuses database access from a thread with a running loop
(``SynchronousOnlyOperation``). Package scope closes the browser (and stops the servers) as soon as the
last browser test has run, so the rest of the suite is unaffected whatever the order.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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


@dataclass
class Server:
    """A running Forensis server and the environment to run ``forensis`` commands against it."""

    url: str
    env: dict[str, str]
    data_dir: Path
    log_path: Path

    def manage(self, *args: str, timeout: float = 120) -> str:
        """Run ``forensis <args>`` on this server's data directory and database; return its output."""
        result = subprocess.run(
            [_forensis_command(), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"`forensis {' '.join(args)}` failed with exit code {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result.stdout

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


@contextmanager
def _postgres_database(base_url: str) -> Iterator[str]:
    """A fresh, empty database on the server ``base_url`` points at; dropped afterwards."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(base_url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    name = f"forensis_e2e_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _wait_until_healthy(url: str, proc: subprocess.Popen, log_path: Path) -> None:
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
                    return
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
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=25)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextmanager
def _no_database() -> Iterator[str]:
    yield ""  # SQLite in the data directory (the default)


@contextmanager
def _run_server(data_dir: Path, **settings: str) -> Iterator[Server]:
    """Migrate, load the demo data and serve Forensis from ``data_dir`` with the given settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORENSIS_") and k != "DATABASE_URL"}
    env.update(FORENSIS_DATA_DIR=str(data_dir), FORENSIS_ENV="development", **settings)
    base_database_url = os.environ.get("DATABASE_URL", "").strip()
    database = _postgres_database(base_database_url) if base_database_url else _no_database()
    with database as database_url:
        if database_url:
            env["DATABASE_URL"] = database_url
        server = Server(url="", env=env, data_dir=data_dir, log_path=data_dir / "server.log")
        server.manage("migrate", "--noinput")
        server.manage("seed-demo")
        port = _free_port()
        server.url = f"http://127.0.0.1:{port}"
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
                _wait_until_healthy(server.url, proc, server.log_path)
                yield server
            finally:
                _stop(proc)


@pytest.fixture(scope="package")
def demo_server(tmp_path_factory) -> Iterator[Server]:
    """The demo as ``make run`` serves it: users without an authenticator may defer enrolment."""
    with _run_server(tmp_path_factory.mktemp("demo"), FORENSIS_DEFER_MFA_ENROLMENT="1") as server:
        yield server


@pytest.fixture(scope="package")
def strict_server(tmp_path_factory) -> Iterator[Server]:
    """A server that does not defer MFA enrolment: laboratory staff must enrol before anything else."""
    with _run_server(tmp_path_factory.mktemp("strict")) as server:
        yield server


@pytest.fixture(scope="package")
def lockout_server(tmp_path_factory) -> Iterator[Server]:
    """A server of its own for the lockout test: the lockout also locks 127.0.0.1, the address of all tests."""
    with _run_server(tmp_path_factory.mktemp("lockout"), FORENSIS_DEFER_MFA_ENROLMENT="1") as server:
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
