"""The REST API's case list and case detail under load, against bare Django views over the same tables.

The issue's targets, with 100,000 cases on PostgreSQL served by ``forensis serve`` (gunicorn sync workers):
throughput at 50 connections at least half that of a bare Django JSON view over the same rows served the same
way, and with one connection a median of at most 25 ms for ``GET /api/v1/cases/`` (a page of 50) and 10 ms for
``GET /api/v1/cases/<lab_number>/``.

- ``api_case_list_rps_<engine>`` / ``api_case_detail_rps_<engine>`` — **value**: requests per second of
  ``GET /api/v1/cases/`` and ``GET /api/v1/cases/<lab_number>/`` with 50 connections (wrk, 2 threads), each with
  a partner token (``Authorization: Bearer …``, read access to ``cases``, issued to the Belize District Police,
  which owns about 28 % of the cases; its rate limit set high enough never to throttle). **baseline**: the same
  for ``/cases/?agency=BZ-POLICE`` and ``/cases/<lab_number>/`` of bench/bare_site.py, plain Django views
  (``.values()`` and ``JsonResponse``, no DRF, no middleware, the same database settings) that answer the same
  rows with the same fields: the agency's 50 latest cases with their agency code, ICCS offence codes and
  whether migrated; one case with its offences, people, items and requests (as many queries as the API's
  prefetching makes, and no more).
- ``api_case_list_p50_<engine>`` / ``api_case_detail_p50_<engine>``, and ``…_p99_…`` — **value**: the median
  and 99th percentile latency in ms with one connection (wrk, one thread). **baseline**: the bare view's.

Every detail request names another case: wrk's script walks a shuffled list of 1,000 of the agency's lab
numbers (each run and thread from a random point in it), so that the database's cache is not one row's. Both
sites run side by side with ``forensis serve``'s worker count and are loaded in alternating rounds after a
warm-up, so that what else the machine is doing weighs on each alike. Every answer must be 2xx; before loading,
the API's page and the bare page must name the same 50 cases.

The data: a fresh PostgreSQL database (or SQLite file), ``forensis migrate``-d and filled by the statistics
benchmark's generator (``INSERT … SELECT``, bench/benchmarks/statistics.py) with 100,000 cases (``--quick``:
20,000), each with an offence, an item and a request, victims and death investigations on some. About three
minutes per engine (setup, with the generation, 25–45 s; then 2 minutes of load); ``--quick`` about a minute and a
half (20 s of load).

Steps that need Django run in fresh interpreters (``python -m bench.benchmarks.api prepare|profile …`` with
``FORENSIS_DATA_DIR`` / ``DATABASE_URL`` set). ``profile`` is for people, not the harness: it sends requests
through ``django.test.Client`` with a token and prints where each request's time goes (authentication, rate
limit, permissions, the query, serialisation, rendering, the audit event), its queries, and a cProfile.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.load import LUA_REPORT, LoadError, LoadResult, combine, ensure_wrk, parse_wrk_output
from bench.registry import Measurement, Run, SkipBenchmark, benchmark
from bench.servers import (
    Site,
    _clean_env,
    _run_setup,
    bare_site,
    default_workers,
    free_port,
    postgres_unreachable_reason,
    run_worker_step,
    serve,
    temporary_postgres_database,
)

CASES, QUICK_CASES = 100_000, 20_000
CONNECTIONS = 50
#: The partner agency whose token is used: its district police, about 28 % of the generated cases.
AGENCY = "BZ-POLICE"
TOKEN_NAME = "bench-partner"  # noqa: S105 (a name, not a secret)
#: Calls per minute: far above what the machine can serve, so the limit is counted but never reached.
RATE_LIMIT = 10_000_000
#: How many of the agency's lab numbers the detail requests walk through.
DETAIL_CASES = 1_000
PAGE = 50
#: The issue's targets: median ms with one connection, and the least ratio to the bare view at 50 connections.
TARGET_P50_MS = {"list": 25, "detail": 10}
TARGET_RATIO = 0.5
ENDPOINTS = ("list", "detail")
STEP_TIMEOUT_S = 600
WRK_SLACK_S = 60
BARE = "bare"
API = "api"


def names(engine: str) -> tuple[str, ...]:
    return tuple(f"api_case_{endpoint}_{figure}_{engine}" for figure in ("rps", "p50", "p99") for endpoint in ENDPOINTS)


# --- the harness side ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One thing wrk loads: a site's list or detail, with the script that makes its requests."""

    site: str  # API or BARE
    endpoint: str  # "list" or "detail"
    url: str
    script: Path

    @property
    def label(self) -> str:
        return f"{self.site} {self.endpoint}"


def _step(env: dict[str, str], *args: str) -> dict:
    return run_worker_step("api", env, *args, timeout_s=STEP_TIMEOUT_S)


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of plain ASCII is a valid Lua string literal


def wrk_script(key: str, paths: list[str] | None = None) -> str:
    """wrk's Lua: the token in every request; with ``paths``, each request the next path of the list (each run and
    each thread starting at a random point of it), else the URL's own path; and the report line bench/load.py
    reads."""
    lines = [f'wrk.headers["Authorization"] = {_lua_string("Bearer " + key)}']
    if paths:
        listed = ",\n".join(f"  {_lua_string(path)}" for path in paths)
        lines += [
            f"local paths = {{\n{listed}\n}}",
            "local threads = 0",
            "setup = function(thread)",
            '  thread:set("start", threads * 7919)',  # threads start far apart in the list
            "  threads = threads + 1",
            "end",
            "init = function(args)",  # each run of wrk, and each thread, from another point of the list
            "  math.randomseed(os.time() + (start or 0))",
            "  position = math.random(#paths) - 1",
            "end",
            "request = function()",
            "  position = position % #paths + 1",
            '  return wrk.format("GET", paths[position])',
            "end",
        ]
    return "\n".join(lines) + "\n" + LUA_REPORT.read_text()


def run_wrk(target: Target, *, duration_s: int, connections: int, threads: int) -> LoadResult:
    """bench.load.run_wrk with this target's script (headers, paths) instead of the bare report script."""
    if not target.url.startswith("http://127.0.0.1:"):
        raise ValueError(f"benchmarks load loopback addresses only, not {target.url}")
    command = [
        ensure_wrk(),
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={duration_s}s",
        "--timeout=10s",
        f"--script={target.script}",
        target.url,
    ]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=duration_s + WRK_SLACK_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise LoadError(f"wrk did not finish within {duration_s + WRK_SLACK_S} s against {target.url}") from None
    if completed.returncode != 0:
        raise LoadError(f"wrk failed against {target.url}: {completed.stderr.strip() or completed.stdout.strip()}")
    return parse_wrk_output(completed.stdout)


def _get_json(url: str, key: str) -> tuple[int | None, object]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})  # noqa: S310 (loopback only)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(500).decode(errors="replace")
    except (OSError, ValueError) as exc:
        return None, str(exc)


def check_same_answers(api_url: str, bare_url: str, key: str, lab_number: str) -> None:
    """Both sites answer 200, and with the same cases: the comparison is of the same work."""
    answers = {}
    for label, url in (
        ("API list", f"{api_url}/api/v1/cases/"),
        ("bare list", f"{bare_url}/cases/?agency={AGENCY}"),
        ("API detail", f"{api_url}/api/v1/cases/{lab_number}/"),
        ("bare detail", f"{bare_url}/cases/{lab_number}/"),
    ):
        status, body = _get_json(url, key)
        if status != 200 or not isinstance(body, dict):
            raise LoadError(f"{label} {url} answered {status or 'nothing'}, not 200: {str(body)[:500]}")
        answers[label] = body
    api_page = [case["lab_number"] for case in answers["API list"]["results"]]
    bare_page = [case["lab_number"] for case in answers["bare list"]["results"]]
    if len(api_page) != PAGE or api_page != bare_page:
        raise LoadError(f"the API's page and the bare page differ: {api_page[:3]}… against {bare_page[:3]}…")
    api_case, bare_case = answers["API detail"], answers["bare detail"]
    if set(api_case) != set(bare_case):
        raise LoadError(f"the API's case and the bare case have other fields: {sorted(set(api_case) ^ set(bare_case))}")
    for part in ("lab_number", "agency", "offences", "migrated"):
        if api_case[part] != bare_case[part]:
            raise LoadError(f"the API's case and the bare case differ in {part}: {api_case[part]} ≠ {bare_case[part]}")
    for part in ("people", "items", "requests"):
        if len(api_case[part]) != len(bare_case[part]):
            raise LoadError(f"the API's case and the bare case have a different number of {part}")


def load_rounds(run: Run, targets: list[Target], *, connections: int, threads: int) -> dict[str, LoadResult]:
    """Warm every target up, then load them in alternating rounds; label → combined result."""
    warmup_s, rounds, round_s = (1, 1, 3) if run.quick else (2, 3, 4)
    for target in targets:
        run_wrk(target, duration_s=warmup_s, connections=connections, threads=threads)
    per_target: dict[str, list[LoadResult]] = {target.label: [] for target in targets}
    for _ in range(rounds):
        for target in targets:
            per_target[target.label].append(
                run_wrk(target, duration_s=round_s, connections=connections, threads=threads)
            )
    results = {label: combine(rounds_of_target) for label, rounds_of_target in per_target.items()}
    for target in targets:
        result = results[target.label]
        if result.status_errors:
            raise LoadError(
                f"{target.url} answered {result.status_errors} of {result.requests} requests with an error status"
            )
        run.log(
            f"  {target.label} ×{connections}: {result.rps:,.0f} req/s, p50 {result.latency_p50_ms:.1f} ms, "
            f"p99 {result.latency_p99_ms:.1f} ms, {result.socket_errors} socket errors"
        )
    return results


def _serve_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """The production profile, as bench.servers.forensis_site runs it (plain HTTP on loopback)."""
    env = _clean_env(
        FORENSIS_DATA_DIR=str(data_dir),
        FORENSIS_ENV="production",
        FORENSIS_SSL_REDIRECT="0",
        ALLOWED_HOSTS="127.0.0.1",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def setup_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """For the setup steps and ``profile``: development profile, debug off, the test client's host allowed."""
    from bench.benchmarks.statistics import _environment

    return _environment(data_dir, database_url)


@contextlib.contextmanager
def api_sites(run: Run, engine: str, cases: int) -> Iterator[tuple[Site, Site, dict]]:
    """A migrated database with ``cases`` synthetic cases and a partner token; Forensis and the bare site serving
    it. Yields (Forensis, bare site, what ``prepare`` returned: the token's key and lab numbers)."""
    workers = default_workers()
    with contextlib.ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="forensis-bench-api-")))
        database_url = stack.enter_context(temporary_postgres_database()) if engine == "pg" else None
        env = setup_env(data_dir, database_url)
        started = time.monotonic()
        _run_setup([sys.executable, "-m", "forensis", "migrate", "--noinput"], env)
        from bench.benchmarks.statistics import _step as statistics_step

        made = statistics_step(env, "generate", str(cases))
        prepared = _step(env, "prepare", AGENCY, str(DETAIL_CASES))
        run.log(
            f"  {engine}: {cases:,} cases generated in {made['seconds']:.0f} s ({prepared['owned']:,} of them "
            f"{AGENCY}'s); setup {time.monotonic() - started:.0f} s; starting {workers} workers per site"
        )
        port = free_port()
        forensis = Site(
            base_url=f"http://127.0.0.1:{port}",
            data_dir=data_dir,
            database_url=database_url,
            log_path=data_dir / "serve.log",
        )
        argv = [sys.executable, "-m", "forensis", "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                "--no-task-worker"]  # fmt: skip
        stack.enter_context(
            serve(
                "forensis serve",
                argv,
                _serve_env(data_dir, database_url),
                f"{forensis.base_url}/healthz",
                forensis.log_path,
            )
        )
        # The bare site reads the same database: PostgreSQL's, or Forensis's own SQLite file.
        same_database = Site(
            base_url="",
            data_dir=data_dir,
            database_url=database_url or f"sqlite:///{data_dir / 'forensis.sqlite3'}",
            log_path=forensis.log_path,
        )
        bare = stack.enter_context(bare_site(same_database, workers))
        yield forensis, bare, prepared


def _measure(run: Run, engine: str) -> Generator[Measurement, None, None]:
    if engine == "pg" and (reason := postgres_unreachable_reason()):
        raise SkipBenchmark(reason)
    ensure_wrk(run.log)
    cases = QUICK_CASES if run.quick else CASES
    with api_sites(run, engine, cases) as (forensis, bare, prepared):
        key, lab_numbers = prepared["key"], prepared["lab_numbers"]
        check_same_answers(forensis.base_url, bare.base_url, key, lab_numbers[0])
        scripts = forensis.data_dir / "wrk"
        scripts.mkdir()
        targets = []
        for site, base, prefix in ((API, forensis.base_url, "/api/v1/cases/"), (BARE, bare.base_url, "/cases/")):
            list_script = scripts / f"{site}-list.lua"
            list_script.write_text(wrk_script(key))
            list_url = f"{base}{prefix}" + ("" if site == API else f"?agency={AGENCY}")
            detail_script = scripts / f"{site}-detail.lua"
            detail_script.write_text(wrk_script(key, [f"{prefix}{number}/" for number in lab_numbers]))
            targets += [
                Target(site, "list", list_url, list_script),
                Target(site, "detail", base + prefix, detail_script),
            ]
        wanted_rps = [t for t in targets if run.wants(f"api_case_{t.endpoint}_rps_{engine}")]
        wanted_latency = [
            t for t in targets
            if run.wants(f"api_case_{t.endpoint}_p50_{engine}") or run.wants(f"api_case_{t.endpoint}_p99_{engine}")
        ]  # fmt: skip
        busy = load_rounds(run, wanted_rps, connections=CONNECTIONS, threads=2) if wanted_rps else {}
        single = load_rounds(run, wanted_latency, connections=1, threads=1) if wanted_latency else {}
    yield from measurements(run, engine, cases, busy, single)


def measurements(
    run: Run, engine: str, cases: int, busy: dict[str, LoadResult], single: dict[str, LoadResult]
) -> Generator[Measurement, None, None]:
    """The figures asked for, from the combined loads (label → result: ``"api list"``, ``"bare detail"``, …)."""
    for endpoint in ENDPOINTS:
        name = f"api_case_{endpoint}_rps_{engine}"
        if run.wants(name):
            api, bare = busy[f"{API} {endpoint}"], busy[f"{BARE} {endpoint}"]
            note = (
                f"target ratio ≥ {TARGET_RATIO}; {CONNECTIONS} connections; p50/p99 {api.latency_p50_ms:.0f}/"
                f"{api.latency_p99_ms:.0f} ms (bare {bare.latency_p50_ms:.0f}/{bare.latency_p99_ms:.0f} ms); "
                f"{cases:,} cases"
            )
            if api.socket_errors or bare.socket_errors:
                note += f"; socket errors {api.socket_errors} (bare {bare.socket_errors})"
            yield Measurement(name, value=api.rps, unit="req/s", baseline=bare.rps, note=note)
    for figure in ("p50", "p99"):
        for endpoint in ENDPOINTS:
            name = f"api_case_{endpoint}_{figure}_{engine}"
            if not run.wants(name):
                continue
            api, bare = single[f"{API} {endpoint}"], single[f"{BARE} {endpoint}"]
            value = api.latency_p50_ms if figure == "p50" else api.latency_p99_ms
            baseline = bare.latency_p50_ms if figure == "p50" else bare.latency_p99_ms
            note = f"one connection; {api.rps:,.0f} req/s (bare {bare.rps:,.0f})"
            if figure == "p50":
                note = f"target ≤ {TARGET_P50_MS[endpoint]} ms; p99 {api.latency_p99_ms:.1f} ms; " + note
            else:
                note = f"p50 {api.latency_p50_ms:.1f} ms; " + note
            yield Measurement(name, value=value, unit="ms", baseline=baseline, note=note)


@benchmark(*names("pg"))
def api_pg(run: Run) -> Generator[Measurement, None, None]:
    """GET /api/v1/cases/ and /cases/<lab>/ with a partner token on PostgreSQL (100,000 cases), against bare Django."""
    yield from _measure(run, "pg")


@benchmark(*names("sqlite"))
def api_sqlite(run: Run) -> Generator[Measurement, None, None]:
    """GET /api/v1/cases/ and /cases/<lab>/ with a partner token on SQLite (100,000 cases), against bare Django."""
    yield from _measure(run, "sqlite")


# --- the worker side (a fresh interpreter with Django set up) --------------------------------------------


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "forensis.settings")
    import django

    django.setup()


def prepare(agency_code: str, count: str) -> dict:
    """Issue the partner token (read access to cases, for ``agency_code``); pick ``count`` of its lab numbers."""
    _setup_django()
    from datetime import timedelta

    from django.utils import timezone

    from forensis.accounts.models import Agency
    from forensis.api.models import Access, Resource
    from forensis.api.tokens import issue_token
    from forensis.cases.models import Case

    agency = Agency.objects.get(code=agency_code)
    issued = issue_token(
        None,
        name=TOKEN_NAME,
        agency=agency,
        resources=[Resource.CASES],
        access=Access.READ,
        expires_at=timezone.now() + timedelta(days=30),
        rate_limit=RATE_LIMIT,
    )
    numbers = list(Case.objects.filter(agency=agency).order_by("pk").values_list("lab_number", flat=True))
    sample = random.Random(2026).sample(numbers, min(int(count), len(numbers)))
    return {"key": issued.key, "lab_numbers": sample, "owned": len(numbers)}


#: What ``profile`` times, in the order a request meets them: (label, where, attribute, what it is). None of them
#: runs inside another: the list's ``ListSerializer.data`` calls its child's ``to_representation``, not ``data``.
PHASES = (
    ("authentication (token lookup)", "rest_framework.views:APIView", "perform_authentication", ""),
    ("permission checks", "rest_framework.views:APIView", "check_permissions", ""),
    ("rate limit (UPDATE … RETURNING)", "rest_framework.views:APIView", "check_throttles", ""),
    ("list: filters (django-filter)", "rest_framework.generics:GenericAPIView", "filter_queryset", ""),
    ("list: page query + offences", "rest_framework.pagination:CursorPagination", "paginate_queryset", ""),
    ("detail: case query + prefetches", "rest_framework.generics:GenericAPIView", "get_object", ""),
    ("serialisation (to_representation)", "rest_framework.serializers:Serializer", "data", "property"),
    ("serialisation (list)", "rest_framework.serializers:ListSerializer", "data", "property"),
    ("list: page links", "rest_framework.pagination:CursorPagination", "get_paginated_response", ""),
    ("audit event (lock, head, INSERT, COMMIT)", "forensis.api.base", "audit_call", "function"),
    ("JSON rendering", "rest_framework.renderers:JSONRenderer", "render", ""),
)

#: SQL → what it is for, by the first fragment found in its text.
QUERY_KINDS = (
    ('UPDATE "api_partnertoken"', "rate limit"),
    ("UPDATE api_partnertoken", "rate limit"),
    ('"api_partnertoken"', "token lookup"),
    ("auth_permission", "permissions"),
    ("auth_group", "roles / permissions"),
    ("pg_advisory_xact_lock", "audit"),
    ("audit_auditevent", "audit"),
    ("cases_caseoffence", "offences (prefetch)"),
    ("cases_person", "people (prefetch)"),
    ("lab_servicerequest", "requests (prefetch)"),
    ("evidence_item", "items (prefetch)"),
    ("cases_case", "case query"),
    ("BEGIN", "audit (its transaction)"),
    ("COMMIT", "audit (its transaction)"),
)


def _kind(sql: str) -> str:
    return next((kind for fragment, kind in QUERY_KINDS if fragment in sql), "other")


class PhaseTimer:
    """Wraps the methods in PHASES with timers for as long as it is entered: cumulative wall and CPU ms per label
    (on a busy machine the wall time includes waiting for a core; the CPU time is this process's alone). A phase
    met inside another (the detail's ``get_object`` filters its queryset) is counted in both; ``outer_ms`` and
    ``outer_cpu_ms`` add up the outermost ones only."""

    def __init__(self):
        self.ms: dict[str, float] = {}
        self.cpu_ms: dict[str, float] = {}
        self.nested: set[str] = set()
        self.outer_ms = self.outer_cpu_ms = 0.0
        self._depth = 0

    def _wrap(self, label: str, function: Callable) -> Callable:
        def timed(*args, **kwargs):
            if self._depth:
                self.nested.add(label)
            self._depth += 1
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self._depth -= 1
                ms, cpu_ms = (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000
                self.ms[label] = self.ms.get(label, 0.0) + ms
                self.cpu_ms[label] = self.cpu_ms.get(label, 0.0) + cpu_ms
                if not self._depth:
                    self.outer_ms += ms
                    self.outer_cpu_ms += cpu_ms

        return timed

    @contextlib.contextmanager
    def timing(self) -> Iterator[PhaseTimer]:
        import importlib

        undo = []
        for label, where, attribute, how in PHASES:
            module_name, _, class_name = where.partition(":")
            owner = importlib.import_module(module_name)
            if class_name:
                owner = getattr(owner, class_name)
            original = owner.__dict__[attribute] if class_name else getattr(owner, attribute)
            if how == "property":
                replacement = property(self._wrap(label, original.fget))
            else:
                replacement = self._wrap(label, original)
            setattr(owner, attribute, replacement)
            undo.append((owner, attribute, original))
        try:
            yield self
        finally:
            for owner, attribute, original in reversed(undo):
                setattr(owner, attribute, original)


def profile(requests: str = "300") -> dict:
    """For people: where the time of one API request goes, for the list and the detail (see the docstring)."""
    import cProfile
    import pstats
    import statistics as stats

    _setup_django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from forensis.accounts.models import Agency
    from forensis.cases.models import Case

    count = int(requests)
    agency = Agency.objects.get(code=AGENCY)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {_profile_token(agency)}")
    numbers = list(Case.objects.filter(agency=agency).order_by("pk").values_list("lab_number", flat=True))
    chosen = random.Random(7).sample(numbers, min(DETAIL_CASES, len(numbers)))
    paths: dict[str, Callable[[int], str]] = {
        "list": lambda k: "/api/v1/cases/",
        "detail": lambda k: f"/api/v1/cases/{chosen[k % len(chosen)]}/",
    }
    summary = {}
    for endpoint, path_of in paths.items():
        for k in range(30):  # warm-up
            _ok(client.get(path_of(k)))
        times = []
        for k in range(count):
            started = time.perf_counter()
            _ok(client.get(path_of(k)))
            times.append((time.perf_counter() - started) * 1000)
        mean = sum(times) / len(times)
        print(
            f"\n=== {endpoint}: {count} requests, mean {mean:.2f} ms, median {stats.median(times):.2f} ms "
            f"(in-process test client, no server)"
        )
        timer = PhaseTimer()
        with timer.timing():
            started, cpu = time.perf_counter(), time.process_time()
            for k in range(count):
                _ok(client.get(path_of(k)))
            timed_total = (time.perf_counter() - started) * 1000 / count
            timed_cpu = (time.process_time() - cpu) * 1000 / count
        print(f"--- phases, wall and CPU ms per request (timed run: {timed_total:.2f} ms, CPU {timed_cpu:.2f} ms)")
        for label, ms in timer.ms.items():
            if ms / count >= 0.005:
                within = " (called inside another phase, and counted there too)" if label in timer.nested else ""
                print(f"{ms / count:8.2f} ms  {timer.cpu_ms[label] / count:8.2f} ms  {label}{within}")
        rest, rest_cpu = timed_total - timer.outer_ms / count, timed_cpu - timer.outer_cpu_ms / count
        print(f"{rest:8.2f} ms  {rest_cpu:8.2f} ms  the rest: middleware, URL routing, DRF's dispatch, the test client")
        captured_requests = min(count, 300)  # Django keeps the last 9,000 queries
        with CaptureQueriesContext(connection) as captured:
            for k in range(captured_requests):
                _ok(client.get(path_of(k)))
        queries = captured.captured_queries
        kinds: dict[str, list[float]] = {}
        for query in queries:
            kinds.setdefault(_kind(query["sql"]), []).append(float(query["time"]) * 1000)
        print(f"--- queries: {len(queries) / captured_requests:.1f} per request (count × ms per request, by purpose)")
        for kind, ms in sorted(kinds.items(), key=lambda pair: -sum(pair[1])):
            print(f"{len(ms) / captured_requests:5.1f} × {sum(ms) / captured_requests:6.2f} ms  {kind}")
        print("--- one request's queries")
        with CaptureQueriesContext(connection) as one:
            _ok(client.get(path_of(1)))
        for query in one.captured_queries:
            print(f"{float(query['time']) * 1000:7.2f} ms  {query['sql'][:400]}")
        profiler = cProfile.Profile()
        profiler.enable()
        for k in range(count):
            client.get(path_of(k))
        profiler.disable()
        print(f"\n--- {endpoint}: functions by cumulative time over {count} requests")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(40)
        print(f"\n--- {endpoint}: functions by own time")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)
        summary[endpoint] = {
            "mean_ms": mean,
            "median_ms": stats.median(times),
            "phases_ms": {label: ms / count for label, ms in timer.ms.items()},
            "phases_cpu_ms": {label: ms / count for label, ms in timer.cpu_ms.items()},
            "queries": len(queries) / captured_requests,
        }
    return summary


def _profile_token(agency) -> str:
    """A token of its own for the profile (so it can run beside a served benchmark's)."""
    from datetime import timedelta

    from django.utils import timezone

    from forensis.api.models import Access, PartnerToken, Resource
    from forensis.api.tokens import issue_token

    name = f"{TOKEN_NAME}-profile-{os.getpid()}"
    if PartnerToken.objects.filter(name=name).exists():
        raise RuntimeError(f"a token named {name} exists already")
    return issue_token(
        None,
        name=name,
        agency=agency,
        resources=[Resource.CASES],
        access=Access.READ,
        expires_at=timezone.now() + timedelta(days=1),
        rate_limit=RATE_LIMIT,
    ).key


def _ok(response) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"the API answered {response.status_code}: {response.content[:500]!r}")


def _worker(argv: list[str]) -> int:
    steps = {"prepare": prepare, "profile": profile}
    print(json.dumps(steps[argv[0]](*argv[1:])))
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1:]))
