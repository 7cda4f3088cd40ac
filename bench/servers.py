"""Servers under test: Forensis as ``forensis serve`` runs it, and the bare Django site beside it.

Every server runs in its own process group and is stopped (TERM, then KILL) when its ``with``
block ends, whatever happened inside it. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from forensis.core.management.commands.serve import GUNICORN_OPTIONS

REPO_ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

#: The gunicorn options of ``forensis serve`` (src/forensis/core/management/commands/serve.py) other
#: than bind and workers, so that the bare site is served exactly the same way.
READY_TIMEOUT_S = 90
ERROR_GRACE_S = 5
STOP_TIMEOUT_S = 15
SETUP_TIMEOUT_S = 300

# Operator settings that must not leak from the caller's environment into the servers under test.
_CLEARED_ENV = ("DATABASE_URL", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "SECRET_KEY", "DJANGO_SETTINGS_MODULE")


class ServerError(RuntimeError):
    pass


def run_worker_step(module: str, env: dict[str, str], *args: str, timeout_s: float) -> dict:
    """Run one worker step of a benchmark module (``python -m bench.benchmarks.<module> ARGS``) in a fresh
    interpreter, which needs Django set up with the step's own settings; its last stdout line is a JSON object."""
    argv = [sys.executable, "-m", f"bench.benchmarks.{module}", *args]
    try:
        done = subprocess.run(
            argv, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout_s, check=True
        )
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"{module} worker {' '.join(args)} failed:\n{(exc.stdout + exc.stderr)[-3000:]}") from None
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{module} worker {' '.join(args)} did not finish within {timeout_s} s") from None
    return json.loads(done.stdout.strip().splitlines()[-1])


def default_workers() -> int:
    """The worker count ``forensis serve`` picks by itself: 2 × CPU cores + 1."""
    return 2 * (os.cpu_count() or 1) + 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED_ENV and not k.startswith("FORENSIS_")}
    return {**env, **extra}


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _probe(url: str) -> tuple[int | None, str]:
    """The status and the start of the body of a GET, or (None, why) when nothing answered."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    try:
        with opener.open(url, timeout=3) as response:
            return response.status, response.read(300).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(300).decode(errors="replace")
    except OSError as exc:
        return None, str(exc)


def check_ok(url: str, log_path: Path | None = None) -> None:
    """Fail clearly when ``url`` does not answer 200 (a redirect or an error would be measured instead)."""
    status, body = _probe(url)
    if status != 200:
        log = f"\nThe server's log ends:\n{_tail(log_path)}" if log_path else ""
        raise ServerError(f"{url} answered {status or 'nothing'}, not 200: {body}{log}")


def _stop(process: subprocess.Popen) -> None:
    """TERM the process group, then KILL it if it is still there after STOP_TIMEOUT_S."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
            break
        except subprocess.TimeoutExpired:
            continue
    # Workers can outlive a master that was killed: sweep the group once more.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def serve(name: str, argv: list[str], env: dict[str, str], ready_url: str, log_path: Path) -> Iterator[None]:
    """Run ``argv`` until the block ends; enter the block once ``ready_url`` answers 200.

    Waits up to READY_TIMEOUT_S for a first answer, but only ERROR_GRACE_S once it answers with an
    error (e.g. /healthz's 503 for pending migrations), which waiting would not cure.
    """
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        status, body = None, ""
        while status != 200:
            if process.poll() is not None:
                raise ServerError(
                    f"{name} exited with status {process.returncode} before it was ready:\n{_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                raise ServerError(
                    f"{name} did not answer 200 at {ready_url} in time; "
                    f"last answer: {status or 'nothing'} {body}\n{_tail(log_path)}"
                )
            time.sleep(0.2)
            status, body = _probe(ready_url)
            if status not in (None, 200):  # it answers, but not well: a few seconds' grace, not the full wait
                deadline = min(deadline, time.monotonic() + ERROR_GRACE_S)
        yield
    finally:
        _stop(process)


def _run_setup(argv: list[str], env: dict[str, str]) -> None:
    try:
        subprocess.run(argv, env=env, cwd=REPO_ROOT, check=True, capture_output=True, timeout=SETUP_TIMEOUT_S)
    except subprocess.CalledProcessError as exc:
        output = (exc.stdout or b"").decode(errors="replace") + (exc.stderr or b"").decode(errors="replace")
        raise ServerError(f"{' '.join(argv[2:])} failed:\n{output[-3000:]}") from None
    except subprocess.TimeoutExpired:
        raise ServerError(f"{' '.join(argv[2:])} did not finish within {SETUP_TIMEOUT_S} s") from None


def postgres_unreachable_reason() -> str | None:
    """None when PostgreSQL answers at 127.0.0.1:5432 as user postgres, else why not."""
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL is not reachable at 127.0.0.1:5432 as postgres ({str(exc).strip().splitlines()[0]})"


@contextlib.contextmanager
def temporary_postgres_database() -> Iterator[str]:
    """Create ``forensis_bench_<pid>``, yield its URL, drop it afterwards."""
    import psycopg
    from psycopg import sql

    name = sql.Identifier(f"forensis_bench_{os.getpid()}")
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
    try:
        yield f"postgres://postgres@127.0.0.1:5432/forensis_bench_{os.getpid()}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


@dataclass(frozen=True)
class Site:
    base_url: str
    data_dir: Path
    database_url: str | None  # None: the SQLite file in data_dir
    log_path: Path


@contextlib.contextmanager
def forensis_site(engine: str, workers: int) -> Iterator[Site]:
    """A throw-away Forensis: migrated, demo data loaded, served by ``forensis serve``.

    ``engine`` is ``"sqlite"`` (a file in a temporary data directory) or ``"pg"`` (a database
    created for this run and dropped after it). The production profile is used, as a lab runs it,
    with the HTTPS redirect off since the load generator speaks plain HTTP on loopback.
    """
    if engine not in {"sqlite", "pg"}:
        raise ValueError(f"unknown engine {engine!r}")
    with contextlib.ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="forensis-bench-")))
        database_url = stack.enter_context(temporary_postgres_database()) if engine == "pg" else None
        env = _clean_env(
            FORENSIS_DATA_DIR=str(data_dir),
            FORENSIS_ENV="production",
            FORENSIS_SSL_REDIRECT="0",
            ALLOWED_HOSTS="127.0.0.1",
        )
        if database_url:
            env["DATABASE_URL"] = database_url
        forensis = [sys.executable, "-m", "forensis"]
        _run_setup([*forensis, "migrate", "--noinput"], env)
        _run_setup([*forensis, "seed-demo"], env)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        argv = [*forensis, "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--no-task-worker"]
        log_path = data_dir / "serve.log"
        stack.enter_context(serve("forensis serve", argv, env, f"{base_url}/healthz", log_path))
        yield Site(base_url=base_url, data_dir=data_dir, database_url=database_url, log_path=log_path)


@contextlib.contextmanager
def bare_site(site: Site, workers: int) -> Iterator[Site]:
    """The bare Django site (bench/bare_site.py) on the same database as ``site``."""
    port = free_port()
    env = _clean_env(
        DJANGO_SETTINGS_MODULE="bench.bare_site",
        BENCH_BARE_DATABASE_URL=site.database_url or f"sqlite:///{site.data_dir / 'bare.sqlite3'}",
    )
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "bench.bare_site:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        *GUNICORN_OPTIONS,
    ]
    bare = Site(
        base_url=f"http://127.0.0.1:{port}",
        data_dir=site.data_dir,
        database_url=site.database_url,
        log_path=site.data_dir / "bare.log",
    )
    with serve("bare Django site", argv, env, f"{bare.base_url}/", bare.log_path):
        yield bare
