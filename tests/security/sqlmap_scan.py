"""``make security``: sqlmap against a live Forensis, on every filter of the API's lists and of the web's list pages.

For each engine (SQLite always; PostgreSQL too when ``DATABASE_URL`` names a server, in a fresh database made for
the scan and dropped after it) this script:

1. makes a fresh data directory, migrates, writes a demo signing key and loads the demo data (``seed-demo``);
2. issues a partner API token for the demo police agency (``forensis api-token issue``) and signs two demo people
   in through the sign-in page (the administrator and the laboratory manager) for the web pages;
3. serves Forensis (``forensis serve``) on 127.0.0.1 on a free port;
4. lists the targets: every list endpoint of the API with the query parameters its OpenAPI schema declares (so a
   new filter is scanned as soon as it is documented), and every web list page of ``WEB_FILTERSETS`` and
   ``EXTRA_PARAMETERS`` (``tests/security/conftest.py``) with its parameters; each target is first requested once
   as the scan will request it and must answer 200, else the scan fails (a scan that tests nothing must not pass);
5. runs ``sqlmap --batch --level 2 --risk 1`` on the targets, a few at a time, each bounded by a timeout;
6. reads sqlmap's output (``parse_sqlmap_output``) and prints endpoints × parameters tested and the findings.

It exits 1 on any finding ("is vulnerable", "injectable", an injection point), on any target that could not be
reached or whose parameters sqlmap did not all test, and when sqlmap is missing; 0 only for a complete, clean scan.
Its output (each target's sqlmap log and ``summary.json``) stays in ``var/security/<time>/``.

Usage: ``python tests/security/sqlmap_scan.py [--engine sqlite|postgresql] [--only TEXT] [--budget SECONDS]
[--level N] [--risk N] [--parallel N]`` (``make security SECURITY_ARGS="…"``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEMO_PASSWORD = "Forensis-demo-2026"  # noqa: S105  (the demo data's published password)
#: The demo people whose sessions scan the web pages, in order of preference for a page.
WEB_PEOPLE = ("admin", "manager", "custodian", "analyst")
API_AGENCY = "BPD-BZ"
#: API lists not scanned: none today (the feed and every list of the schema are).
SKIPPED_API_PATHS: set[str] = set()
#: Query parameters that only size a page: read with int() by the API, never near a query's text.
PAGE_SIZES = {"page_size", "limit"}


# --- reading sqlmap's output ------------------------------------------------------------------------------------

_PARAMETER = r"(?:GET|POST|URI|Cookie|\(custom\) \w+) parameter '(?P<name>[^']+)'"
#: sqlmap's first sign of an injection; it then checks it, and says "does not seem to be injectable" when the
#: check shows a false positive (e.g. a page that changes on every request).
_CANDIDATE = re.compile(_PARAMETER + r" appears to be '[^']+' injectable")
#: A confirmed injection.
_CONFIRMED = (re.compile(_PARAMETER + r" is '[^']+' injectable"), re.compile(_PARAMETER + r" is vulnerable"))
_INJECTION_POINTS = re.compile(r"sqlmap identified the following injection point")
_NOT_INJECTABLE = re.compile(_PARAMETER + r" does not seem to be injectable")
_UNREACHABLE = re.compile(
    r"unable to connect to the target URL|connection refused|connection timed out to the target URL|"
    r"page not found \(404\)|host '[^']+' does not exist|it is not recommended to continue",
    re.IGNORECASE,
)
_HTTP_ERRORS = re.compile(r"HTTP error codes detected during run:\s*\n?(?P<codes>.*)", re.IGNORECASE)
_DONE = re.compile(r"all tested parameters do not appear to be injectable")


@dataclass
class ScanResult:
    tested: set[str] = field(default_factory=set)
    injectable: set[str] = field(default_factory=set)
    injection_points: bool = False
    unreachable: list[str] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)
    finished: bool = False

    @property
    def findings(self) -> bool:
        return bool(self.injectable) or self.injection_points


def parse_sqlmap_output(text: str) -> ScanResult:
    """What one sqlmap run says: parameters tested, parameters found injectable, whether it reached the target."""
    result = ScanResult()
    candidates: set[str] = set()
    for line in text.splitlines():
        if match := _CANDIDATE.search(line):
            candidates.add(match["name"])
        for pattern in _CONFIRMED:
            if match := pattern.search(line):
                result.injectable.add(match["name"])
                result.tested.add(match["name"])
        if _INJECTION_POINTS.search(line):
            result.injection_points = True
        if match := _NOT_INJECTABLE.search(line):
            result.tested.add(match["name"])
            candidates.discard(match["name"])  # sqlmap checked the candidate: a false positive
        if _UNREACHABLE.search(line):
            result.unreachable.append(line.strip())
        if match := _HTTP_ERRORS.search(line):
            result.http_errors.append(match["codes"].strip())
        if _DONE.search(line):
            result.finished = True
    result.injectable |= candidates  # a candidate sqlmap never ruled out counts as a finding
    result.tested |= candidates
    return result


# --- a live server -----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def forensis(env: dict, *args: str, timeout: int = 600) -> str:
    done = subprocess.run(
        [str(BIN / "forensis"), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"forensis {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class PostgresDatabase:
    """A fresh database on the server ``DATABASE_URL`` names, dropped afterwards."""

    def __init__(self, url: str):
        parts = urllib.parse.urlsplit(url)
        self.name = f"forensis_sqlmap_{os.getpid()}"
        self.admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
        self.url = urllib.parse.urlunsplit(parts._replace(path=f"/{self.name}"))

    def _run(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(statement)

    def __enter__(self) -> str:
        self._run(f'DROP DATABASE IF EXISTS "{self.name}"')
        self._run(f'CREATE DATABASE "{self.name}"')
        return self.url

    def __exit__(self, *exc) -> None:
        self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Server:
    """Forensis prepared in ``data_dir`` and served on a free port, with a partner token and signed-in sessions."""

    def __init__(self, data_dir: Path, database_url: str = ""):
        self.data_dir = data_dir
        self.env = {**os.environ, "FORENSIS_DATA_DIR": str(data_dir), "FORENSIS_DEFER_MFA_ENROLMENT": "1"}
        self.env.pop("DATABASE_URL", None)
        self.env.pop("FORENSIS_ENV", None)
        if database_url:
            self.env["DATABASE_URL"] = database_url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.token = ""
        self.cookies: dict[str, str] = {}

    def __enter__(self) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        forensis(self.env, "migrate", "--noinput")
        forensis(self.env, "signing-key", "--self-signed", "--if-missing")
        forensis(self.env, "seed-demo")
        issued = forensis(
            self.env,
            "api-token",
            "issue",
            "sqlmap-scan",
            "--agency",
            API_AGENCY,
            "--resources",
            "submissions,cases,requests,reports,feed,statistics",
            "--rate-limit",
            "1000000",
        )
        self.token = issued.strip().splitlines()[-1].strip()
        log = (self.data_dir / "server.log").open("w")
        self.process = subprocess.Popen(  # noqa: S603  (our own command)
            [str(BIN / "forensis"), "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", "3", "--no-task-worker"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_up()
            for username in WEB_PEOPLE:
                self.cookies[username] = self._sign_in(username)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def _wait_until_up(self, seconds: int = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"forensis serve stopped: see {self.data_dir / 'server.log'}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=5) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise SystemExit(f"forensis serve did not answer on {self.base} within {seconds} s")

    def _sign_in(self, username: str) -> str:
        """Sign in through the page, as a browser: the Cookie header of the signed-in session."""
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        opener.open(f"{self.base}/accounts/login/", timeout=30).read()
        csrf = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
        form = urllib.parse.urlencode(
            {"username": username, "password": DEMO_PASSWORD, "acknowledge": "on", "csrfmiddlewaretoken": csrf}
        ).encode()
        login = f"{self.base}/accounts/login/"
        request = urllib.request.Request(login, data=form, headers={"Referer": self.base})  # noqa: S310
        opener.open(request, timeout=30).read()
        cookies = {cookie.name: cookie.value for cookie in jar}
        if "sessionid" not in cookies:
            raise SystemExit(f"could not sign in as {username} on {self.base}")
        return "; ".join(f"{name}={value}" for name, value in cookies.items())

    def next_cursor(self, path: str, headers: dict) -> str:
        """A real cursor of ``path`` (the "next" link of a one-row page), for the scan to vary."""
        request = urllib.request.Request(f"{self.base}{path}?page_size=1", headers=headers)  # noqa: S310
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            following = json.load(answer).get("next") or ""
        return urllib.parse.parse_qs(urllib.parse.urlsplit(following).query).get("cursor", [""])[0]

    def get(self, path: str, headers: dict) -> int:
        request = urllib.request.Request(f"{self.base}{path}", headers=headers)  # noqa: S310
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=60) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


# --- targets -------------------------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    path: str
    parameters: dict[str, str]  # name: a valid value, which sqlmap varies one parameter at a time
    headers: dict[str, str]
    result: dict = field(default_factory=dict)

    def url(self, base: str) -> str:
        return f"{base}{self.path}?{urllib.parse.urlencode(self.parameters)}"


def valid_value(name: str, schema: dict, cursor: str) -> str | None:
    """A value the API accepts for a parameter, from its schema: the scan varies it from there (a refused
    neighbour would make every answer a 400 and hide an injection)."""
    if name == "cursor":
        return cursor or None
    if schema.get("enum"):
        return str(schema["enum"][0])
    if schema.get("format") == "date-time":
        return "2020-01-01T00:00:00Z"
    if schema.get("type") == "integer":
        return {"year_from": "2020", "year_to": "2026"}.get(name, "10")
    return "1"


def api_targets(server: Server) -> list[Target]:
    """Every list endpoint of the API (a GET without path parameters) with the query parameters of its schema."""
    request = urllib.request.Request(f"{server.base}/api/v1/schema/?format=json")  # noqa: S310
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
        schema = json.load(answer)
    headers = {"Authorization": f"Bearer {server.token}"}
    targets = []
    for path, operations in sorted(schema["paths"].items()):
        get = operations.get("get")
        if not get or "{" in path or path in SKIPPED_API_PATHS:
            continue
        query = [
            p
            for p in get.get("parameters", [])
            if p.get("in") == "query" and p["name"] != "format" and p["name"] not in PAGE_SIZES
        ]
        cursor = server.next_cursor(path, headers) if any(p["name"] == "cursor" for p in query) else ""
        values = {p["name"]: valid_value(p["name"], p.get("schema", {}), cursor) for p in query}
        values = {name: value for name, value in values.items() if value is not None}
        if values:
            targets.append(Target(f"API {path}", path, values, headers))
    return targets


def load_django(data_dir: Path) -> None:
    """Django in this process, only to read the FilterSets and reverse URLs (no database is opened)."""
    os.environ["FORENSIS_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "forensis.settings"
    import django

    django.setup()


def web_targets(server: Server) -> list[Target]:
    """The web list pages and their filters, from the attack tests' own lists (pages of one record left out)."""
    from django.urls import reverse

    from tests.security.conftest import WEB_FILTERSETS

    pages = [
        (reverse(target), search_parameters_of(path))
        for path, target in WEB_FILTERSETS.items()
        if isinstance(target, str)
    ]
    pages += [(reverse(target), list(names)) for target, names in WEB_SEARCH_PAGES.items()]
    targets = []
    for path, names in pages:
        if not names:
            continue
        for username in WEB_PEOPLE:
            headers = {"Cookie": server.cookies[username]}
            if server.get(path, headers) == 200:
                targets.append(Target(f"web {path} ({username})", path, dict.fromkeys(names, "1"), headers))
                break
        else:
            unreachable = {"unreachable": ["no demo person may open it"]}
            targets.append(Target(f"web {path}", path, dict.fromkeys(names, "1"), {}, unreachable))
    return targets


#: Web pages searched by a parameter a view reads by hand (the web FilterSets' text filters are found by type).
WEB_SEARCH_PAGES = {
    "intake:reception": ("code",),
    "evidence:gap_check": ("case",),
    "evidence:location_new": ("parent",),
}


def search_parameters_of(filterset_path: str) -> list[str]:
    """The free-text filters of a web FilterSet: the search box and the other text fields. Its choices, dates and
    numbers are checked by their form fields before any query (the attack tests send them SQL all the same)."""
    import django_filters

    from tests.security.conftest import _load

    return [
        name
        for name, found in _load(filterset_path).base_filters.items()
        if isinstance(found, django_filters.CharFilter) and not isinstance(found, django_filters.ChoiceFilter)
    ]


# --- running sqlmap ---------------------------------------------------------------------------------------------


def sqlmap_command(target: Target, server: Server, out: Path, *, level: int, risk: int, dbms: str) -> list[str]:
    command = [
        "sqlmap",
        "-u",
        target.url(server.base),
        "-p",
        ",".join(target.parameters),
        "--batch",
        f"--level={level}",
        f"--risk={risk}",
        f"--dbms={dbms}",
        "--time-sec=2",
        "--timeout=20",
        "--retries=1",
        "--threads=4",
        "--skip-waf",
        "--disable-coloring",
        "--flush-session",
        "--ignore-redirects",
        f"--output-dir={out}",
    ]
    for header, value in target.headers.items():
        command += ["--cookie", value] if header == "Cookie" else ["--header", f"{header}: {value}"]
    return command


def scan(target: Target, server: Server, out: Path, *, level: int, risk: int, dbms: str, timeout: float) -> None:
    if target.result.get("unreachable"):
        return
    status = server.get(target.url(server.base).removeprefix(server.base), target.headers)
    if status != 200:
        target.result = {"unreachable": [f"answers {status} before the scan"]}
        return
    folder = out / re.sub(r"[^a-z0-9]+", "-", target.name.lower()).strip("-")
    folder.mkdir(parents=True, exist_ok=True)
    command = sqlmap_command(target, server, folder, level=level, risk=risk, dbms=dbms)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
        output, timed_out = done.stdout + done.stderr, False
    except subprocess.TimeoutExpired as expired:
        output = (expired.stdout or b"").decode(errors="replace") if isinstance(expired.stdout, bytes) else ""
        timed_out = True
    (folder / "sqlmap.txt").write_text(output)
    parsed = parse_sqlmap_output(output)
    untested = sorted(set(target.parameters) - parsed.tested)
    target.result = {
        "tested": sorted(parsed.tested),
        "injectable": sorted(parsed.injectable),
        "injection_points": parsed.injection_points,
        "unreachable": parsed.unreachable,
        "http_errors": parsed.http_errors,
        "untested": untested,
        "timed_out": timed_out,
    }


def problems_of(target: Target) -> list[str]:
    result = target.result
    found = []
    if result.get("injectable") or result.get("injection_points"):
        found.append(f"FINDING: injectable {result.get('injectable')}")
    if result.get("unreachable"):
        found.append(f"unreachable: {result['unreachable'][:2]}")
    if result.get("timed_out"):
        found.append("timed out")
    if result.get("untested"):
        found.append(f"not tested: {result['untested']}")
    return found


def run_engine(engine: str, out: Path, args, database_url: str = "") -> list[Target]:
    dbms = "PostgreSQL" if database_url else "SQLite"
    with Server(out / "data", database_url) as server:
        targets = [t for t in api_targets(server) + web_targets(server) if not args.only or args.only in t.name]
        deadline = time.monotonic() + args.budget
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.parallel) as pool:
            futures = [
                pool.submit(
                    lambda t=target: scan(
                        t,
                        server,
                        out / "sqlmap",
                        level=args.level,
                        risk=args.risk,
                        dbms=dbms,
                        timeout=max(30.0, min(args.target_timeout, deadline - time.monotonic())),
                    )
                )
                for target in targets
            ]
            for future in futures:
                future.result()
    return targets


def report(engine: str, targets: list[Target]) -> None:
    print(f"\n{engine}: {len(targets)} endpoints, {sum(len(t.parameters) for t in targets)} parameters")
    for target in targets:
        mark = "; ".join(problems_of(target)) or "clean"
        print(f"  {target.name:<58} {len(target.result.get('tested', [])):>2}/{len(target.parameters):<2} {mark}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=300, help="Seconds of scanning per engine (default 300).")
    parser.add_argument("--target-timeout", type=float, default=240, help="Seconds at most per target.")
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], help="Only this engine.")
    parser.add_argument("--only", default="", help="Only the targets whose name holds this text (e.g. /audit/).")
    parser.add_argument("--level", type=int, default=2)
    parser.add_argument("--risk", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=3, help="sqlmap runs at once (default 3).")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "security" / time.strftime("%Y%m%d-%H%M%S"))
    args = parser.parse_args(argv)
    if args.engine:
        os.environ.pop("DATABASE_URL", None) if args.engine == "sqlite" else None
    if not shutil.which("sqlmap"):
        print("sqlmap is not installed (make security installs Debian's package).", file=sys.stderr)
        return 1
    sys.path.insert(0, str(ROOT))
    started = time.monotonic()
    engines = {"sqlite": ""}
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        engines["postgresql"] = os.environ["DATABASE_URL"]
    if args.engine:
        engines = {args.engine: engines[args.engine]}
    load_django(args.out / "django")

    def run(engine: str, url: str) -> list[Target]:
        if not url:
            return run_engine(engine, args.out / engine, args)
        with PostgresDatabase(url) as fresh:
            return run_engine(engine, args.out / engine, args, fresh)

    # One engine after the other: side by side they share two cores and each gets too little of them.
    scanned = {engine: run(engine, url) for engine, url in engines.items()}
    summary = {}
    for engine, targets in scanned.items():
        report(engine, targets)
        summary[engine] = [asdict(target) | {"headers": sorted(target.headers)} for target in targets]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    all_targets = [target for targets in summary.values() for target in targets]
    findings = [t["name"] for t in all_targets if t["result"].get("injectable") or t["result"].get("injection_points")]
    incomplete = [
        t["name"]
        for t in all_targets
        if t["result"].get("unreachable") or t["result"].get("untested") or t["result"].get("timed_out")
    ]
    tested = sum(len(t["result"].get("tested", [])) for t in all_targets)
    print(
        f"\nsqlmap (level {args.level}, risk {args.risk}) on {len(summary)} engine(s): {len(all_targets)} endpoints, "
        f"{tested} parameters tested, {len(findings)} findings, {len(incomplete)} incomplete, "
        f"{time.monotonic() - started:.0f} s. Logs: {args.out}"
    )
    if findings:
        print(f"FINDINGS (injectable): {findings}")
    if incomplete:
        print(f"INCOMPLETE (not reached or not every parameter tested): {incomplete}")
    return 1 if findings or incomplete or tested == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
