"""Load: 300 simulated people on ``forensis serve`` over PostgreSQL with 100,000 cases, then the same mix without
pauses, stepped up until the throughput stops rising.

The issue's targets: officers browsing and pre-logging, custodians scanning, analysts entering results and managers
on dashboards — 300 of them, each pausing a few seconds between clicks — for 2 minutes: 0 errors, p95 ≤ 200 ms; then
the same mix without pauses, to find the saturation throughput, printed with its p95.

- ``load_300_users_p95_pg`` — **value**: the 95th percentile (nearest rank) in ms of the clicks started in the
  2-minute window (a click is the request and every redirect it follows, timed as one, as a person waits for it).
  **baseline**: the same percentile, over the same window, of a probe of bare Django requests (bench/bare_site.py's
  ``/cases/<lab_number>/``, four a second, one at a time): what the cheapest page over the same tables takes on this
  machine while the 300 people load it. The note gives the target, the clicks and HTTP requests, p50/p99, the CPU
  split and the load average.
- ``load_300_users_errors_pg`` — **value**: the failed clicks of the whole run of the 300 people, sign-in included:
  an answer other than 200 after redirects, a redirect elsewhere than the page the click leads to (e.g. to the
  sign-in page), a form refused (the success message missing), a timeout. Each is printed with its URL, status and
  what the page said. The benchmark fails (exit status 1) when there is any, after yielding its figures.
- ``load_saturation_rps_pg`` — **value**: the highest throughput, in clicks per second, of the same people clicking
  without pauses at 10, 25, 50 and 100 at once (``--quick``: 5 and 15), 15 s each after 3 s of warm-up, stopping
  from the third step on once a step brings less than 5 % more than the best before it. **baseline**: the bare
  site's ``/cases/<lab_number>/`` per second under the same client at that concurrency.
- ``load_saturation_p95_pg`` — **value**: the p95 in ms at that step; **baseline**: the bare site's p95 there.

The people (``--quick``: 45 of them, in the same proportions), each signed in once through the real forms — the
sign-in page with its CSRF token and the notice accepted, then the six-digit code of their authenticator (every
person has one, enrolled through the services; the client computes its codes with :func:`bench.userload.totp`):

- 200 agency officers, 20 in each of the generator's ten police and national agencies: their home page, their
  agency's submissions searched (``/submissions/?q=…``), a case of their agency (``/cases/<lab>/``, which audits the
  view), one of their submissions, and now and then a pre-log: the new-submission form, a draft from the driving
  toxicology kit, then the draft filled in (agency case number, offence, incident time, district, seals) and
  submitted.
- 40 evidence custodians, each with 40 items of its own in the store: the scanning page, an item scanned into the
  batch, then a shelf's barcode scanned to move it there (a custody event), now and then their own custody page or
  the item's case.
- 40 analysts, 8 for each of five disciplines (seized drugs, toxicology, serology, firearms, DNA), each with six
  requests assigned to them and started: their worklist, an examination, and its result saved again and again with
  new values.
- 20 laboratory managers: the management and policy dashboards with the statistics benchmark's varied filters
  (periods of 1 to 12 months, a discipline, district or agency), now and then their home page.

First everyone signs in, eight at a time (a sign-in costs an Argon2 hash; hundreds at once would only queue). Then
the people start one after another over 20 s (``--quick``: 8 s), each pausing 2–5 s (uniform, seeded) before every
click; the 2-minute window (``--quick``: 15 s) opens at the end of that ramp. Sign-ins and ramp are not measured,
but their errors count. At the end the rows the people wrote are counted in the database and compared with what the
client saw succeed.

The data: a fresh PostgreSQL database, ``forensis migrate``-d and filled by the statistics benchmark's generator
(bench/benchmarks/statistics.py, ``INSERT … SELECT``) with 100,000 cases (``--quick``: 20,000); then ``prepare`` (in
a fresh interpreter, one transaction) makes the people through the services (accounts, MFA enrolment,
authorisations, methods, storage locations, requests assigned and started, a few submissions per agency). Forensis is
served by ``forensis serve`` in the production profile (5 sync workers on 2 cores), the bare site beside it with the
same worker count. About 6 minutes in all (363 s measured with a load average of 4.5–6.5; 9 minutes under 6–17, the
300 sign-ins taking 1.5–3 minutes of it); ``--quick`` about 2.

Steps that need Django run in fresh interpreters: ``python -m bench.benchmarks.load_mix prepare full|quick|<json>``
(run by the harness; prints the people as JSON) and ``profile <that JSON's file> [clicks]``, for people, not the
harness: one person of each role clicks through ``django.test.Client`` in-process, and it prints each action's wall
and CPU ms and queries per click, and a cProfile (see docs/benchmarks.md, "Load: 300 users").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

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
from bench.userload import (
    CpuMeter,
    Failure,
    Page,
    Recorder,
    Session,
    Summary,
    best_step,
    form_with,
    format_summary,
    next_concurrency,
    run_paced,
    run_unpaced,
    sign_in_all,
    summarize,
    totp,
)

NAMES = ("load_300_users_p95_pg", "load_300_users_errors_pg", "load_saturation_rps_pg", "load_saturation_p95_pg")
TARGET_P95_MS = 200
PAUSE_S = (2.0, 5.0)
SEED = 2026
#: The saturation steps stop once a step brings less than this × the best throughput before it.
GAIN = 1.05
PROBE_INTERVAL_S = 0.25
#: Sign-ins under way at once, before the ramp: each costs an Argon2 hash (about 0.17 s of CPU here), and hundreds at
#: once would only queue at the server's workers until the client gives up.
SIGN_IN_CONCURRENCY = 8
STEP_TIMEOUT_S = 600
PREFIX = "load."
DISCIPLINES = ("seized-drugs", "toxicology", "serology", "firearms", "dna")
KIT = "Toxicology kit (driving)"
OFFENCE = "02072"  # ICCS: driving under the influence (the kit's offence)
#: Role → its share of the people, in the order they are interleaved (every first N people keep the mix).
ROLES = ("officer", "custodian", "analyst", "manager")


@dataclass(frozen=True)
class Size:
    cases: int
    officers: int
    custodians: int
    analysts: int
    managers: int
    requests_per_analyst: int
    items_per_custodian: int
    submissions_per_agency: int
    lab_numbers_per_agency: int
    ramp_s: float
    window_s: float
    steps: tuple[int, ...]
    step_warm_s: float
    step_s: float
    bare_s: float

    @property
    def people(self) -> int:
        return self.officers + self.custodians + self.analysts + self.managers


FULL = Size(
    cases=100_000, officers=200, custodians=40, analysts=40, managers=20, requests_per_analyst=6,
    items_per_custodian=40, submissions_per_agency=10, lab_numbers_per_agency=300, ramp_s=20, window_s=120,
    steps=(10, 25, 50, 100), step_warm_s=3, step_s=15, bare_s=10,
)  # fmt: skip
QUICK = Size(
    cases=20_000, officers=30, custodians=6, analysts=6, managers=3, requests_per_analyst=3,
    items_per_custodian=20, submissions_per_agency=3, lab_numbers_per_agency=100, ramp_s=8, window_s=15,
    steps=(5, 15), step_warm_s=2, step_s=6, bare_s=4,
)  # fmt: skip


def interleave(counts: dict[str, int]) -> list[str]:
    """The roles in an order whose every prefix keeps their proportions as closely as it can (smooth weighted round
    robin): the first 10 of 200 officers, 40 custodians, 40 analysts and 20 managers are 7, 1, 1 and 1."""
    total = sum(counts.values())
    taken = dict.fromkeys(counts, 0)
    order = []
    for k in range(1, total + 1):
        role = max(counts, key=lambda r: (counts[r] * k / total - taken[r], counts[r]))
        taken[role] += 1
        order.append(role)
    return order


# --- the harness side ----------------------------------------------------------------------------------------


def _step(env: dict[str, str], *args: str) -> dict:
    return run_worker_step("load_mix", env, *args, timeout_s=STEP_TIMEOUT_S)


def _serve_env(data_dir: Path, database_url: str) -> dict[str, str]:
    """The production profile, as bench.servers.forensis_site runs it (plain HTTP on loopback)."""
    return _clean_env(
        FORENSIS_DATA_DIR=str(data_dir),
        FORENSIS_ENV="production",
        FORENSIS_SSL_REDIRECT="0",
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=database_url,
    )


#: The rows the people write, counted in the database by :func:`count_rows`, and the client's count of each.
WRITES = (
    ("submissions created", "submission.created"),
    ("submissions submitted", "submission.submitted"),
    ("results saved", "result.saved"),
    ("custody events", "custody.moved"),
)


def count_rows(database_url: str, since: dict[str, int] | None = None) -> dict[str, int]:
    """The highest ids of the tables the people write (``since`` None), or what was written after ``since``."""
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5) as connection:
        if since is None:
            row = connection.execute(
                "SELECT (SELECT coalesce(max(id), 0) FROM audit_auditevent), "
                "(SELECT coalesce(max(id), 0) FROM evidence_custodyevent)"
            ).fetchone()
            return {"audit": row[0], "custody": row[1]}
        actions = dict(
            connection.execute(
                "SELECT action, count(*) FROM audit_auditevent WHERE id > %s GROUP BY action", [since["audit"]]
            ).fetchall()
        )
        custody = connection.execute(
            "SELECT count(*) FROM evidence_custodyevent WHERE id > %s", [since["custody"]]
        ).fetchone()[0]
    return {
        "submissions created": actions.get("submission.created", 0),
        "submissions submitted": actions.get("submission.submitted", 0),
        "results saved": actions.get("result.recorded", 0) + actions.get("result.updated", 0),
        "custody events": custody,
        "audit events": sum(actions.values()),
        "cases viewed (audited)": actions.get("case.viewed", 0),
        "sign-ins (audited)": actions.get("auth.login", 0),
    }


@dataclass
class Report:
    size: Size
    window: Summary
    window_s: float
    ramp_s: float
    sign_in: Summary
    signed_in: int
    probe: Summary
    failures: list[Failure]
    paced_failures: int
    steps: list[tuple[int, Summary]]
    best: int
    bare: Summary
    counts: dict[str, int]
    cpu_window: dict[str, float]
    others_window: list[tuple[str, float]]
    cpu_steps: dict[int, dict[str, float]]


@benchmark(*NAMES)
def load_mix_pg(run: Run) -> Generator[Measurement, None, None]:
    """300 simulated officers, custodians, analysts and managers for 2 min, then saturation (PostgreSQL, 100k cases)."""
    if reason := postgres_unreachable_reason():
        raise SkipBenchmark(reason)
    size = QUICK if run.quick else FULL
    workers = default_workers()
    load_before = os.getloadavg()
    with contextlib.ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="forensis-bench-load-")))
        database_url = stack.enter_context(temporary_postgres_database())
        from bench.benchmarks.statistics import _environment
        from bench.benchmarks.statistics import _step as statistics_step

        env = _environment(data_dir, database_url)
        started = time.monotonic()
        _run_setup([sys.executable, "-m", "forensis", "migrate", "--noinput"], env)
        made = statistics_step(env, "generate", str(size.cases))
        generated = time.monotonic()
        prepared = _step(env, "prepare", json.dumps(asdict(size)))
        run.log(
            f"  {size.cases:,} cases generated in {made['seconds']:.0f} s; {len(prepared['people'])} people "
            f"prepared in {time.monotonic() - generated:.0f} s (setup {time.monotonic() - started:.0f} s); "
            f"starting {workers} workers per site"
        )
        port = free_port()
        forensis = Site(f"http://127.0.0.1:{port}", data_dir, database_url, data_dir / "serve.log")
        argv = [
            sys.executable,
            "-m",
            "forensis",
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--no-task-worker",
        ]
        stack.enter_context(
            serve(
                "forensis serve",
                argv,
                _serve_env(data_dir, database_url),
                f"{forensis.base_url}/healthz",
                forensis.log_path,
            )
        )
        bare = stack.enter_context(bare_site(forensis, workers))
        since = count_rows(database_url)
        groups = {
            "forensis": ("forensis.wsgi:application", f"127.0.0.1:{port}"),
            "bare site": ("bench.bare_site:application", urlsplit(bare.base_url).netloc),
            "postgres": ("postgres: ", database_url.rsplit("/", 1)[1]),
        }
        load_start = os.getloadavg()
        recorder, probe_recorder = Recorder(), Recorder()
        try:
            report = asyncio.run(
                drive(run, size, prepared, forensis.base_url, bare.base_url, groups, recorder, probe_recorder)
            )
        except Exception:
            _log_failures(run, recorder.failures + probe_recorder.failures)
            raise
        load_end = os.getloadavg()
        written = count_rows(database_url, since)
    yield from _report(run, report, written, (load_before, load_start, load_end))


def _mismatches(counts: dict[str, int], written: dict[str, int]) -> list[str]:
    """The writes whose rows in the database are not what the client saw: at least the clicks that succeeded, at most
    those and the clicks that got no answer (the client gave up; the server may have done it after)."""
    found = []
    for what, key in WRITES:
        saw, unknown = counts.get(key, 0), counts.get(f"{key}?", 0)
        if not saw <= written[what] <= saw + unknown:
            found.append(
                f"{what}: the client saw {saw} succeed and {unknown} go unanswered, the database has {written[what]}"
            )
    return found


def _cpu_note(cpu: dict[str, float], seconds: float) -> str:
    """CPU as cores used on average: the client, Forensis's workers, PostgreSQL, the machine (busy / all cores)."""
    if not seconds:
        return ""
    parts = [f"{name} {cpu[name] / seconds:.2f}" for name in ("client", "forensis", "postgres", "bare site", "others")]
    busy = cpu["machine busy"] / cpu["machine total"] if cpu["machine total"] else 0
    return f"cores used: {', '.join(parts)}; machine {busy:.0%} busy"


def _log_failures(run: Run, failures: list[Failure], shown: int = 50) -> None:
    for failure in failures[:shown]:
        status = failure.status or "no answer"
        run.log(
            f"  ERROR [{failure.phase}] {failure.action}: {failure.method} {failure.url} → {status}: {failure.problem}"
        )
    if len(failures) > shown:
        run.log(f"  … and {len(failures) - shown} more errors")


def _report(
    run: Run, report: Report, written: dict[str, int], loads: tuple[tuple[float, ...], ...]
) -> Generator[Measurement, None, None]:
    size, window = report.size, report.window
    load_text = " → ".join("/".join(f"{value:.1f}" for value in load) for load in loads)
    run.log(f"  load average (1/5/15 min) before setup → before load → after load: {load_text}")
    run.log(
        f"  {report.signed_in} of {size.people} people signed in in {report.sign_in.seconds:.0f} s "
        f"({report.signed_in / report.sign_in.seconds:.1f}/s, {SIGN_IN_CONCURRENCY} at a time):"
    )
    for line in format_summary(report.sign_in):
        run.log(line)
    run.log(
        f"  ramp {report.ramp_s:.0f} s, then the window, {report.window_s:.0f} s: {window.overall.clicks:,} clicks "
        f"({window.throughput:.1f}/s), {window.overall.requests:,} HTTP requests ({window.request_rate:.1f}/s)"
    )
    for line in format_summary(window):
        run.log(line)
    run.log(f"  {_cpu_note(report.cpu_window, report.window_s)}")
    if report.others_window:
        busiest = ", ".join(f"{name} {cpu / report.window_s:.2f}" for name, cpu in report.others_window)
        run.log(f"  busiest other processes over the window (cores): {busiest}")
    run.log(
        f"  bare probe over the window: {report.probe.overall.clicks} requests, p50 {report.probe.overall.p50:.0f} ms, "
        f"p95 {report.probe.overall.p95:.0f} ms, p99 {report.probe.overall.p99:.0f} ms"
    )
    for concurrency, summary in report.steps:
        o = summary.overall
        run.log(
            f"  saturation ×{concurrency}: {summary.throughput:.1f} clicks/s ({summary.request_rate:.1f} HTTP req/s), "
            f"p50 {o.p50:.0f} ms, p95 {o.p95:.0f} ms, p99 {o.p99:.0f} ms, {o.errors} errors; "
            f"{_cpu_note(report.cpu_steps[concurrency], summary.seconds)}"
        )
    best = dict(report.steps)[report.best]
    for line in format_summary(best):
        run.log(line)
    b = report.bare.overall
    run.log(
        f"  bare /cases/<lab>/ ×{report.best}: {report.bare.throughput:.1f} req/s, p50 {b.p50:.0f} ms, "
        f"p95 {b.p95:.0f} ms, {b.errors} errors"
    )
    run.log("  rows written: " + ", ".join(f"{what} {count:,}" for what, count in written.items()))
    run.log(
        "  the client saw succeed (unanswered): "
        + ", ".join(f"{what} {report.counts.get(key, 0):,} ({report.counts.get(key + '?', 0)})" for what, key in WRITES)
    )
    mismatches = _mismatches(report.counts, written)
    for mismatch in mismatches:
        run.log(f"  MISMATCH {mismatch}")
    _log_failures(run, report.failures)

    people = (
        f"{size.people} people ({size.officers} officers, {size.custodians} custodians, {size.analysts} analysts, "
        f"{size.managers} managers)"
    )
    o = window.overall
    yield Measurement(
        "load_300_users_p95_pg",
        value=o.p95,
        unit="ms",
        baseline=report.probe.overall.p95,
        note=f"target ≤ {TARGET_P95_MS} ms; {people}, {size.cases:,} cases; {o.clicks:,} clicks "
        f"({o.requests:,} HTTP requests) in {report.window_s:.0f} s; p50/p99 {o.p50:.0f}/{o.p99:.0f} ms; "
        f"{_cpu_note(report.cpu_window, report.window_s)}; load average {load_text}; baseline: bare probe",
    )
    yield Measurement(
        "load_300_users_errors_pg",
        value=report.paced_failures,
        unit="errors",
        note=f"target 0; over the sign-ins, the ramp, the window and its end ({len(report.failures)} in the whole run)"
        + (f"; {len(mismatches)} count mismatches" if mismatches else ""),
    )
    best_summary = dict(report.steps)[report.best]
    steps_text = ", ".join(f"×{c} {s.throughput:.1f}/s p95 {s.overall.p95:.0f} ms" for c, s in report.steps)
    yield Measurement(
        "load_saturation_rps_pg",
        value=best_summary.throughput,
        unit="clicks/s",
        baseline=report.bare.throughput,
        note=f"best at {report.best} people without pauses ({best_summary.request_rate:.1f} HTTP req/s); steps: "
        f"{steps_text}; baseline: bare /cases/<lab>/ req/s at the same concurrency",
    )
    yield Measurement(
        "load_saturation_p95_pg",
        value=best_summary.overall.p95,
        unit="ms",
        baseline=report.bare.overall.p95,
        note=f"at {report.best} people without pauses; p50/p99 {best_summary.overall.p50:.0f}/"
        f"{best_summary.overall.p99:.0f} ms; {best_summary.overall.errors} errors",
    )
    if report.failures or mismatches:
        raise RuntimeError(
            f"{len(report.failures)} failed clicks and {len(mismatches)} count mismatches (printed above)"
        )


# --- the run -------------------------------------------------------------------------------------------------


async def drive(
    run: Run,
    size: Size,
    prepared: dict,
    base_url: str,
    bare_url: str,
    groups: dict,
    recorder: Recorder,
    probe_recorder: Recorder,
) -> Report:
    """Sign the people in and run them paced for the window, then unpaced in steps, then the bare site."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0)
    sessions: list[Session] = []

    def session(url: str, into: Recorder) -> Session:
        sessions.append(Session.open(connector, url, into))
        return sessions[-1]

    try:
        kinds = {"officer": Officer, "custodian": Custodian, "analyst": Analyst, "manager": Manager}
        by_role: dict[str, list[dict]] = {role: [] for role in ROLES}
        for account in prepared["people"]:
            by_role[account["role"]].append(account)
        order = interleave({role: len(accounts) for role, accounts in by_role.items()})
        people = []
        for index, role in enumerate(order):
            account = by_role[role].pop(0)
            rng = random.Random(SEED * 7919 + index)
            people.append(kinds[role](session(base_url, recorder), account, prepared, rng))

        lab_numbers = [number for numbers in prepared["lab_numbers"].values() for number in numbers]
        random.Random(SEED).shuffle(lab_numbers)
        window_open = asyncio.Event()
        window_closed = asyncio.Event()

        def on_window(opened: bool) -> None:
            probe_recorder.phase = "window" if opened else "after"
            (window_open if opened else window_closed).set()

        probe = BareReader(session(bare_url, probe_recorder), lab_numbers, 0)

        async def probing() -> None:
            await window_open.wait()
            while not window_closed.is_set():
                await probe.act()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(window_closed.wait(), timeout=PROBE_INTERVAL_S)

        meter = CpuMeter(groups)
        cpu_window: dict[str, float] = {}
        meter_others: list[tuple[str, float]] = []

        def on_window_cpu(opened: bool) -> None:
            on_window(opened)
            if opened:
                meter.start()
            else:
                cpu_window.update(meter.stop())
                meter_others.extend(meter.others)

        sign_in_s = await sign_in_all(people, recorder, concurrency=SIGN_IN_CONCURRENCY)
        signed = [person for person in people if person.signed_in]
        sign_in = summarize(recorder.in_phase("sign-in"), sign_in_s)
        run.log(
            f"  {len(signed)} of {len(people)} people signed in in {sign_in_s:.0f} s ({SIGN_IN_CONCURRENCY} at a "
            f"time); ramp {size.ramp_s:.0f} s, then {size.window_s:.0f} s measured, pausing "
            f"{PAUSE_S[0]:.0f}–{PAUSE_S[1]:.0f} s"
        )
        if not signed:
            raise RuntimeError("nobody could sign in")
        probe_task = asyncio.create_task(probing())
        try:
            window_s = await run_paced(
                signed,
                recorder,
                ramp_s=size.ramp_s,
                window_s=size.window_s,
                pause_s=PAUSE_S,
                seed=SEED,
                on_window=on_window_cpu,
            )
        finally:
            window_open.set()
            window_closed.set()
            await asyncio.wait([probe_task], timeout=30)
        window = summarize(recorder.in_phase("window"), window_s)
        probe_summary = summarize(probe_recorder.in_phase("window"), window_s)
        paced_failures = len(recorder.failures_in("sign-in", "ramp", "window", "after"))
        run.log(
            f"  window: {window.throughput:.1f} clicks/s, p95 {window.overall.p95:.0f} ms, "
            f"{paced_failures} errors so far"
        )

        steps: list[tuple[int, Summary]] = []
        cpu_steps: dict[int, dict[str, float]] = {}
        concurrency = next_concurrency([], size.steps)
        while concurrency is not None and concurrency <= len(signed):
            label = f"×{concurrency}"
            meter.start()
            seconds = await run_unpaced(
                signed[:concurrency], recorder, label=label, warm_s=size.step_warm_s, measure_s=size.step_s
            )
            cpu_steps[concurrency] = meter.stop()
            summary = summarize(recorder.in_phase(label), seconds)
            steps.append((concurrency, summary))
            run.log(
                f"  ×{concurrency}: {summary.throughput:.1f} clicks/s, p95 {summary.overall.p95:.0f} ms, "
                f"{summary.overall.errors} errors"
            )
            concurrency = next_concurrency([(c, s.throughput) for c, s in steps], size.steps, gain=GAIN)
        if not steps:
            raise RuntimeError(f"only {len(signed)} people signed in: no saturation step could run")
        best, _throughput = best_step([(c, s.throughput) for c, s in steps])
        readers = [BareReader(session(bare_url, probe_recorder), lab_numbers, k) for k in range(best)]
        seconds = await run_unpaced(readers, probe_recorder, label="bare", warm_s=2, measure_s=size.bare_s)
        bare = summarize(probe_recorder.in_phase("bare"), seconds)
    finally:
        for open_session in sessions:
            await open_session.close()
        await connector.close()
    return Report(
        size=size,
        window=window,
        window_s=window_s,
        ramp_s=size.ramp_s,
        sign_in=sign_in,
        signed_in=len(signed),
        probe=probe_summary,
        failures=recorder.failures + probe_recorder.failures,
        paced_failures=paced_failures,
        steps=steps,
        best=best,
        bare=bare,
        counts=recorder.counts,
        cpu_window=cpu_window,
        others_window=meter_others,
        cpu_steps=cpu_steps,
    )


# --- the people ----------------------------------------------------------------------------------------------


def _target(page: Page, form) -> str:
    """Where a form posts: its action, or the page's own address (path and query)."""
    if form.action:
        return form.action
    parts = urlsplit(page.url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class Someone:
    """A signed-in person of a role; ``act`` makes exactly one click (the next of a task under way, if any)."""

    role = ""

    def __init__(self, session: Session, account: dict, shared: dict, rng: random.Random):
        self.session = session
        self.account = account
        self.shared = shared
        self.rng = rng
        self.signed_in = False
        self.then: Callable[[], Awaitable[None]] | None = None  # the next click of a task under way

    def action(self, what: str) -> str:
        return f"{self.role}: {what}"

    def missing(self, action: str, page: Page, what: str) -> None:
        """A page that lacks what the person needs next (a form): a failure, like an error page."""
        self.session.recorder.failures.append(
            Failure(self.session.recorder.phase, action, "GET", page.url, 200, f"no {what} on the page")
        )

    async def sign_in(self, pause: Callable[[], Awaitable[bool]]) -> bool:
        """The sign-in form (the notice accepted), then the authenticator's code; True once at the home page."""
        page = await self.session.click("sign in: form", "/accounts/login/")
        if page is None:
            return False
        form = form_with(page.text, "username", "password", "acknowledge")
        if form is None:
            self.missing("sign in: form", page, "sign-in form")
            return False
        if await pause():
            return False
        values = {"username": self.account["username"], "password": self.shared["password"], "acknowledge": "on"}
        page = await self.session.click(
            "sign in: password", _target(page, form), data=form.filled(values), ends="/accounts/mfa/verify/"
        )
        if page is None:
            return False
        form = form_with(page.text, "token")
        if form is None:
            self.missing("sign in: password", page, "code form")
            return False
        if await pause():
            return False
        code = totp(bytes.fromhex(self.account["key"]), time.time())
        page = await self.session.click(
            "sign in: code", _target(page, form), data=form.filled({"token": code}), ends="/"
        )
        self.signed_in = page is not None
        return self.signed_in

    async def act(self) -> None:
        if self.then is not None:
            step, self.then = self.then, None
            await step()
            return
        await self.choose()

    async def choose(self) -> None:
        raise NotImplementedError

    async def home(self) -> None:
        await self.session.click(self.action("home"), "/")


class Officer(Someone):
    """Browses their agency's submissions and cases; now and then pre-logs a submission (three clicks)."""

    role = "officer"

    def __init__(self, session: Session, account: dict, shared: dict, rng: random.Random):
        super().__init__(session, account, shared, rng)
        agency = account["agency"]
        self.agency = agency
        self.district = account["district"]
        self.lab_numbers = shared["lab_numbers"][agency]
        self.case_numbers = shared["agency_case_numbers"][agency]
        self.references = list(shared["references"][agency])
        self.made = 0

    async def choose(self) -> None:
        roll = self.rng.random()
        if roll < 0.15:
            await self.home()
        elif roll < 0.45:
            await self.search()
        elif roll < 0.80:
            await self.session.click(self.action("case"), f"/cases/{self.rng.choice(self.lab_numbers)}/")
        elif roll < 0.90:
            await self.session.click(self.action("submission"), f"/submissions/{self.rng.choice(self.references)}/")
        else:
            await self.new_submission()

    async def search(self) -> None:
        roll = self.rng.random()
        if roll < 0.4:
            params = {"q": self.rng.choice(self.case_numbers)[: self.rng.randint(6, 14)]}
        elif roll < 0.6:
            params = {"q": self.rng.choice(self.lab_numbers)}
        elif roll < 0.8:
            params = {"status": "submitted"}
        else:
            params = {}
        query = f"?{urlencode(params)}" if params else ""
        await self.session.click(self.action("submissions"), f"/submissions/{query}")

    async def new_submission(self) -> None:
        page = await self.session.click(self.action("pre-log: new"), "/submissions/new/")
        if page is not None:
            self.then = lambda: self.create_draft(page)

    async def create_draft(self, page: Page) -> None:
        action = self.action("pre-log: draft")
        form = form_with(page.text, "kit")
        if form is None:
            return self.missing(action, page, "new-submission form")
        edit = await self.session.click(
            action,
            _target(page, form),
            data=form.filled({"kit": str(self.shared["kit"])}),
            ends=re.compile(r"/submissions/SUB-[0-9-]+/edit/"),
            counts="submission.created",
        )
        if edit is not None:
            self.then = lambda: self.submit(edit)

    async def submit(self, page: Page) -> None:
        action = self.action("pre-log: submit")
        form = form_with(page.text, "agency_case_number", "offence_codes")
        if form is None:
            return self.missing(action, page, "submission form")
        reference = page.path.split("/")[2]
        self.made += 1
        incident = datetime.now(UTC) - timedelta(days=2, minutes=self.rng.randrange(600))
        values: dict[str, str | list[str]] = {
            "agency_case_number": f"LOAD-{self.account['username'].removeprefix(PREFIX)}-{self.made}",
            "offence_codes": [OFFENCE],
            "incident_at": incident.strftime("%Y-%m-%dT%H:%M"),
            "district": self.district,
            "town": "Belize City",
            "action": "submit",
        }
        for name in sorted(form.names):
            if re.fullmatch(r"items-\d+-seal_number", name):
                values[name] = f"{values['agency_case_number']}-{name.split('-')[1]}"
        page = await self.session.click(
            action,
            _target(page, form),
            data=form.filled(values),
            ends=f"/submissions/{reference}/",
            says="was sent to the laboratory",
            counts="submission.submitted",
        )
        if page is not None:
            self.references.append(reference)


class Custodian(Someone):
    """At the scanning page: scans one of their items into the batch, then a shelf to move it there."""

    role = "custodian"

    def __init__(self, session: Session, account: dict, shared: dict, rng: random.Random):
        super().__init__(session, account, shared, rng)
        self.items = account["items"]  # [[label, lab number], …]
        self.shelves = account["shelves"]  # two barcodes; every item starts on the first
        self.on_shelf = dict.fromkeys((label for label, _lab in self.items), 0)
        self.page: Page | None = None  # the scanning page, while it is the page shown
        self.batch: str | None = None
        self.next_item = rng.randrange(len(self.items))

    async def choose(self) -> None:
        if self.page is not None and self.batch is not None:
            await self.scan_shelf()
            return
        roll = self.rng.random()
        if self.page is None or roll < 0.1:
            self.page = await self.session.click(self.action("scanning page"), "/custody/scan/")
        elif roll < 0.2:
            self.page = None
            await self.session.click(self.action("my custody"), "/custody/")
        elif roll < 0.3:
            self.page = None
            lab = self.items[self.rng.randrange(len(self.items))][1]
            await self.session.click(self.action("case"), f"/cases/{lab}/")
        else:
            await self.scan_item()

    async def _scan(self, action: str, code: str, says: str, counts: str | None = None) -> Page | None:
        form = form_with(self.page.text, "code", action="scan")
        if form is None:
            self.missing(action, self.page, "scan form")
            self.page = None
            return None
        self.page = await self.session.click(
            action,
            _target(self.page, form),
            data=form.filled({"code": code}),
            ends="/custody/scan/",
            says=says,
            counts=counts,
        )
        return self.page

    async def scan_item(self) -> None:
        if 'data-testid="batch-item"' in self.page.text:
            # A batch left over by a click that failed (or was answered after the client gave up): cleared first, as
            # the person would, with the page's "Clear batch" button.
            form = form_with(self.page.text, "code", action="scan")
            token = form.value("csrfmiddlewaretoken") if form else ""
            self.page = await self.session.click(
                self.action("clear batch"),
                "/custody/scan/",
                data=[("csrfmiddlewaretoken", token or ""), ("action", "clear")],
                says="The batch is empty.",
            )
            return
        label = self.items[self.next_item % len(self.items)][0]
        self.next_item += 1
        if await self._scan(self.action("scan item"), label, f"Added {label}:") is not None:
            self.batch = label

    async def scan_shelf(self) -> None:
        label, self.batch = self.batch, None
        shelf = 1 - self.on_shelf[label]
        moved = await self._scan(
            self.action("scan shelf (move)"), self.shelves[shelf], "Moved 1 item(s) to", counts="custody.moved"
        )
        if moved is not None:
            self.on_shelf[label] = shelf
        else:
            # A failed move leaves the batch as the server has it: start again from a fresh page.
            self.page = None


#: Each discipline's result fields, with values that change at every save (``n`` counts the person's saves).
RESULT_VALUES: dict[str, Callable[[int], dict[str, str]]] = {
    "seized-drugs": lambda n: {
        "substance": "Cocaine",
        "net_weight": f"{10 + n}.{n % 100:02d}",
        "weight_unit": "g",
        "uncertainty": "0.05",
    },
    "toxicology": lambda n: {"analyte": "Ethanol", "concentration": str(100 + n), "unit": "mg/L", "uncertainty": "3"},
    "serology": lambda n: {
        "test": ("presumptive_blood", "human_blood", "semen", "saliva")[n % 4],
        "result": ("positive", "negative", "inconclusive")[n % 3],
    },
    "firearms": lambda n: {
        "conclusion": ("identification", "inconclusive", "elimination")[n % 3],
        "ibis_entry": f"IBIS-{n}",
    },
    "dna": lambda n: {
        "profile": ("full", "partial")[n % 2],
        "likelihood_ratio": str(1000 + n),
        "verbal_scale": "strong",
    },
}


class Analyst(Someone):
    """Their worklist, an examination, and its result saved with new values."""

    role = "analyst"

    def __init__(self, session: Session, account: dict, shared: dict, rng: random.Random):
        super().__init__(session, account, shared, rng)
        self.requests = account["requests"]  # [[request pk, item pk, item label], …]
        self.discipline = account["discipline"]
        self.open: tuple[list, Page] | None = None  # the examination page shown
        self.saves = 0

    async def choose(self) -> None:
        roll = self.rng.random()
        if self.open is not None and roll < 0.6:
            await self.save_result()
        elif roll < 0.35 or (self.open is not None and roll < 0.75):
            self.open = None
            await self.session.click(self.action("worklist"), "/worklist/")
        else:
            request = self.rng.choice(self.requests)
            page = await self.session.click(self.action("examination"), f"/requests/{request[0]}/examination/")
            self.open = (request, page) if page is not None else None

    async def save_result(self) -> None:
        (pk, item, label), page = self.open
        action = self.action("save result")
        form = form_with(page.text, action="result", item=str(item))
        if form is None:
            self.open = None
            return self.missing(action, page, "result form")
        self.saves += 1
        values = {f"result-{item}-{name}": value for name, value in RESULT_VALUES[self.discipline](self.saves).items()}
        page = await self.session.click(
            action,
            _target(page, form),
            data=form.filled(values),
            ends=f"/requests/{pk}/examination/",
            says=f"Result for {label} saved.",
            counts="result.saved",
        )
        self.open = ([pk, item, label], page) if page is not None else None


class Manager(Someone):
    """The management and policy dashboards with varied filters; now and then their home page."""

    role = "manager"

    def __init__(self, session: Session, account: dict, shared: dict, rng: random.Random):
        super().__init__(session, account, shared, rng)
        from bench.benchmarks.statistics import filter_sets

        self.filters = filter_sets(200, shared["disciplines"], shared["agencies"], seed=rng.randrange(1 << 30))
        self.next_filter = 0

    async def choose(self) -> None:
        roll = self.rng.random()
        if roll < 0.1:
            await self.home()
            return
        page = "management" if roll < 0.55 else "policy"
        params = self.filters[self.next_filter % len(self.filters)]
        self.next_filter += 1
        await self.session.click(self.action(f"{page} dashboard"), f"/statistics/{page}/?{urlencode(params)}")


class BareReader:
    """The baseline's reader: bench/bare_site.py's ``/cases/<lab_number>/``, one case after another."""

    signed_in = True

    def __init__(self, session: Session, lab_numbers: list[str], start: int):
        self.session = session
        self.lab_numbers = lab_numbers
        self.position = start * 7919

    async def sign_in(self, pause) -> bool:
        return True

    async def act(self) -> None:
        self.position += 1
        lab = self.lab_numbers[self.position % len(self.lab_numbers)]
        await self.session.click("bare case", f"/cases/{lab}/")


# --- the worker side (a fresh interpreter with Django set up) ------------------------------------------------


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "forensis.settings")
    import django

    django.setup()


def prepare(sizes: str) -> dict:
    """The people and their work, made through the services (see the module's docstring); returns what the client
    needs: the password, each person's username, role and authenticator key, and their data. ``sizes``: ``full``,
    ``quick`` or a :class:`Size` as JSON. All in one transaction (the services' own become savepoints): one commit
    instead of some 2,000."""
    _setup_django()
    from django.db import transaction

    size = {"full": FULL, "quick": QUICK}.get(sizes) or Size(**{**json.loads(sizes), "steps": ()})
    with transaction.atomic():
        return _prepare(size)


def _prepare(size: Size) -> dict:
    import secrets
    from datetime import date

    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.test.utils import override_settings
    from django.utils import timezone

    from bench.benchmarks.statistics import AGENCIES
    from forensis.accounts import services as accounts
    from forensis.accounts.models import Agency, User
    from forensis.accounts.roles import Role
    from forensis.cases.models import Case
    from forensis.evidence import services as evidence
    from forensis.evidence.models import Item, LocationKind
    from forensis.intake import services as intake
    from forensis.intake.models import Kit
    from forensis.lab import services as lab
    from forensis.lab.models import Discipline, Method

    rng = random.Random(SEED)
    password = secrets.token_urlsafe(18)
    laboratory = Agency.objects.get(code="LAB")
    police = {code: Agency.objects.get(code=code) for code, _name, _district in AGENCIES}
    districts = {code: district or "BZ" for code, _name, district in AGENCIES}
    people: list[dict] = []
    users: dict[str, User] = {}

    def person(username: str, home: Agency, role: str, /, **data) -> dict:
        # Made with a fast hasher; every account gets the same real Argon2 hash below, so signing in costs what it
        # costs in production.
        users[username] = accounts.create_user(
            None,
            username=username,
            password=password,
            agency=home,
            roles=[role],
            first_name=role.replace("_", " ").title(),
            last_name=username.rsplit(".", 1)[1],
        )
        entry = {"username": username, "role": data.pop("as_role"), **data}
        people.append(entry)
        return entry

    with override_settings(
        PASSWORD_HASHERS=[
            "django.contrib.auth.hashers.MD5PasswordHasher",
            "django.contrib.auth.hashers.Argon2PasswordHasher",
        ]
    ):
        codes = list(police)
        for k in range(size.officers):
            code = codes[k % len(codes)]
            person(
                f"{PREFIX}officer{k:03d}",
                police[code],
                Role.AGENCY_OFFICER,
                as_role="officer",
                agency=code,
                district=districts[code],
            )
        managers = [
            person(f"{PREFIX}manager{k:02d}", laboratory, Role.LAB_MANAGER, as_role="manager")
            for k in range(size.managers)
        ]
        custodians = [
            person(f"{PREFIX}custodian{k:02d}", laboratory, Role.EVIDENCE_CUSTODIAN, as_role="custodian")
            for k in range(size.custodians)
        ]
        analysts = [
            person(
                f"{PREFIX}analyst{k:02d}",
                laboratory,
                Role.ANALYST,
                as_role="analyst",
                discipline=DISCIPLINES[k % len(DISCIPLINES)],
            )
            for k in range(size.analysts)
        ]
        hashed = make_password(password, hasher="argon2")
    User.objects.filter(username__startswith=PREFIX).update(password=hashed)

    # Everyone has an authenticator, enrolled as the enrolment page does it (confirmed with a code of the step before
    # this one, so the sign-in's code, of a later step, is never a replay of it).
    for entry in people:
        user = users[entry["username"]]
        device = accounts.start_mfa_enrolment(user)
        problem = accounts.confirm_mfa_enrolment(user, device, totp(device.bin_key, time.time() - 30))
        if problem:
            raise RuntimeError(f"enrolling {user}: {problem}")
        entry["key"] = device.bin_key.hex()

    manager = users[managers[0]["username"]]
    disciplines = {code: Discipline.objects.get(code=code) for code in DISCIPLINES}
    methods = {}
    for code, discipline in disciplines.items():
        methods[code] = Method.objects.filter(discipline=discipline, is_active=True).first()
        if methods[code] is None:
            methods[code] = lab.save_catalogue_entry(
                manager,
                Method,
                discipline=discipline,
                code=f"load-{code}",
                name=f"{discipline.name} (load benchmark)",
                version="1",
                effective_from=date(2006, 1, 1),
            )
    today = timezone.localdate()

    # Cases for the analysts' requests and the custodians' items: different ones, drawn from the generated cases.
    case_ids = list(Case.objects.order_by("pk").values_list("pk", flat=True))
    wanted = size.analysts * size.requests_per_analyst + size.custodians * size.items_per_custodian
    chosen = rng.sample(case_ids, wanted)
    first_items = dict(
        Item.objects.filter(case_id__in=chosen, number=1).values_list("case_id", "pk")
    )  # the generator gives every case its item 1
    cases = {case.pk: case for case in Case.objects.filter(pk__in=chosen)}
    items = Item.objects.in_bulk(first_items.values())
    picks = iter(chosen)
    for entry in analysts:
        analyst = users[entry["username"]]
        discipline = disciplines[entry["discipline"]]
        lab.grant_authorization(
            manager,
            analyst,
            discipline,
            valid_from=today - timedelta(days=365),
            valid_until=today + timedelta(days=365),
        )
        entry["requests"] = []
        for _ in range(size.requests_per_analyst):
            case = cases[next(picks)]
            item = items[first_items[case.pk]]
            with transaction.atomic():  # the request with its assignment and start, or none of them
                request = lab.create_service_request(manager, case, discipline, [item], requested_at=timezone.now())
                lab.assign(manager, request, analyst)
                lab.start_examination(analyst, request, method=methods[entry["discipline"]])
            entry["requests"].append([request.pk, item.pk, item.label])

    # Storage: a building with shelves; each custodian's items go on their first shelf (the generator's items have no
    # place: one UPDATE puts them in the store, as if received before).
    custodian = users[custodians[0]["username"]] if custodians else manager
    store = evidence.save_location(custodian, None, name="Load store", kind=LocationKind.BUILDING)
    shelves = [
        evidence.save_location(custodian, None, name=f"Shelf {k + 1}", kind=LocationKind.SHELF, parent=store)
        for k in range(max(2, size.custodians // 2))
    ]
    for k, entry in enumerate(custodians):
        first, second = shelves[k % len(shelves)], shelves[(k + 1) % len(shelves)]
        pool = [next(picks) for _ in range(size.items_per_custodian)]
        Item.objects.filter(pk__in=[first_items[case_id] for case_id in pool]).update(location=first)
        entry["shelves"] = [first.code, second.code]
        entry["items"] = [[items[first_items[case_id]].label, cases[case_id].lab_number] for case_id in pool]

    # A few submitted submissions per agency, for the officers' lists; and lab numbers of each agency's cases.
    kit = Kit.objects.get(name=KIT)
    references: dict[str, list[str]] = {}
    case_numbers: dict[str, list[str]] = {}
    lab_numbers: dict[str, list[str]] = {}
    for code, agency in police.items():
        officers = [users[e["username"]] for e in people if e.get("agency") == code]
        references[code], case_numbers[code] = [], []
        for k in range(size.submissions_per_agency if officers else 0):
            officer = officers[k % len(officers)]
            number = f"LOAD-{code}-{k:04d}"
            items_data = [
                intake.ItemData(
                    {
                        "type": "blood",
                        "description": "Blood sample, grey-top tubes",
                        "quantity": 2,
                        "packaging": "Sealed tubes in kit box",
                        "biological": True,
                        "seal_number": f"{number}-1",
                    },
                    list(kit.items.first().disciplines.all()),
                )
            ]
            submission = intake.create_submission(
                officer,
                agency_case_number=number,
                offence_codes=[OFFENCE],
                incident_at=timezone.now() - timedelta(days=3 + k),
                district=districts[code],
                town="Belize City",
                items=items_data,
            )
            intake.submit_submission(officer, submission)
            references[code].append(submission.reference)
            case_numbers[code].append(number)
        numbers = list(Case.objects.filter(agency=agency).values_list("lab_number", flat=True))
        lab_numbers[code] = rng.sample(numbers, min(size.lab_numbers_per_agency, len(numbers)))
    return {
        "password": password,
        "kit": kit.pk,
        "people": people,
        "references": references,
        "agency_case_numbers": case_numbers,
        "lab_numbers": lab_numbers,
        "disciplines": sorted(Discipline.objects.exclude(code="pathology").values_list("code", flat=True)),
        "agencies": sorted(police),
    }


class TestClientSession:
    """:class:`bench.userload.Session`'s ``click`` through ``django.test.Client``, in this process: the people's own
    clicks, timed and profiled without a server. Records wall and CPU ms and the queries of each click by action."""

    def __init__(self, client, recorder: Recorder):
        self.client = client
        self.recorder = recorder
        self.times: dict[str, list[tuple[float, float, int]]] = {}

    async def click(self, action: str, path: str, *, data=None, ends=None, says=None, counts=None) -> Page | None:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        form: dict[str, list[str]] = {}
        for key, value in data or []:
            form.setdefault(key, []).append(value)
        connection.queries_log.clear()  # it keeps 9,000 queries at most: a full log would miscount
        started, cpu = time.perf_counter(), time.process_time()
        with CaptureQueriesContext(connection) as queries:
            response = self.client.post(path, form, follow=True) if data else self.client.get(path, follow=True)
        ms, cpu_ms = (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000
        self.times.setdefault(action, []).append((ms, cpu_ms, len(queries.captured_queries)))
        text = response.content.decode(errors="replace")
        final = response.request["PATH_INFO"]
        expected = path.split("?", 1)[0] if ends is None else ends
        wrong = expected.fullmatch(final) is None if isinstance(expected, re.Pattern) else final != expected
        if response.status_code != 200 or wrong or (says is not None and says not in text):
            from bench.userload import page_problem

            raise RuntimeError(f"{action}: {path} answered {response.status_code} at {final}: {page_problem(text)}")
        if counts:
            self.recorder.count(counts)
        query = response.request.get("QUERY_STRING", "")
        return Page(url=f"http://testserver{final}{'?' + query if query else ''}", path=final, text=text)


def profile(prepared_path: str, clicks: str = "200") -> dict:
    """For people: one person of each role clicks ``clicks`` times in turn through ``django.test.Client`` (in this
    process, no server), as the benchmark's people do; prints per action the wall and CPU ms and queries per click,
    then where the time goes (cProfile, by cumulative and by own time). Needs a database made by ``generate`` and
    ``prepare`` (whose JSON output is ``prepared_path``), and ``ALLOWED_HOSTS=testserver``."""
    import cProfile
    import pstats

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the people are coroutines; the ORM is synchronous
    _setup_django()
    from django.test import Client

    prepared = json.loads(Path(prepared_path).read_text())
    kinds = {"officer": Officer, "custodian": Custodian, "analyst": Analyst, "manager": Manager}
    recorder = Recorder("profile")
    people, sessions = [], []
    for role in ROLES:
        for account in reversed([entry for entry in prepared["people"] if entry["role"] == role]):
            session = TestClientSession(Client(), recorder)
            person = kinds[role](session, account, prepared, random.Random(SEED))
            try:
                asyncio.run(person.sign_in(_no_pause))
            except RuntimeError as exc:  # e.g. the code of this 30-second step was used already: the next person
                print(f"({account['username']} could not sign in: {exc})")
                continue
            people.append(person)
            sessions.append(session)
            break

    async def clicking(count: int) -> None:
        for _ in range(count):
            for person in people:
                await person.act()

    asyncio.run(clicking(max(1, int(clicks) // 10)))  # warm-up
    for session in sessions:
        session.times.clear()
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(clicking(int(clicks)))
    profiler.disable()
    summary = {}
    print(f"\n{'action':32} {'clicks':>6} {'wall ms':>8} {'CPU ms':>7} {'queries':>7}   (means; in-process, no server)")
    for action, times in sorted((a, t) for session in sessions for a, t in session.times.items()):
        wall, cpu, queries = (sum(column) / len(times) for column in zip(*times, strict=True))
        summary[action] = {"clicks": len(times), "wall_ms": wall, "cpu_ms": cpu, "queries": queries}
        print(f"{action:32} {len(times):6} {wall:8.1f} {cpu:7.1f} {queries:7.1f}")
    print("\n--- functions by cumulative time")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(60)
    print("\n--- functions by own time")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(40)
    return summary


async def _no_pause() -> bool:
    return False


def _worker(argv: list[str]) -> int:
    steps = {"prepare": prepare, "profile": profile}
    print(json.dumps(steps[argv[0]](*argv[1:])))
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1:]))
