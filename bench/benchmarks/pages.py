"""Requests per second of Forensis pages, against a bare Django view served the same way.

Both sites run side by side under gunicorn with the same sync workers (``forensis serve``'s default
count) and are loaded by wrk from loopback in alternating rounds, so that whatever else the machine
is doing weighs on each of them alike. The ratio is the share of the bare floor that Forensis's
middleware, templates and queries leave.
"""

from __future__ import annotations

import time
from collections.abc import Generator

from bench.load import LoadError, LoadResult, combine, ensure_wrk, run_wrk
from bench.registry import Measurement, Run, SkipBenchmark, benchmark
from bench.servers import bare_site, check_ok, default_workers, forensis_site, postgres_unreachable_reason

CONNECTIONS = 50
#: Figure name prefix → page. The engine is appended: ``login_page_rps_sqlite``.
PAGES = {"login_page_rps": "/accounts/login/", "healthz_rps": "/healthz"}
BARE = "bare Django view"


def _load(run: Run, targets: dict[str, str]) -> dict[str, LoadResult]:
    """Warm every target up, then load them in alternating rounds; label → combined result."""
    warmup_s, rounds, round_s = (1, 1, 4) if run.quick else (3, 3, 5)
    for url in targets.values():
        run_wrk(url, duration_s=warmup_s, connections=CONNECTIONS)
    per_target: dict[str, list[LoadResult]] = {label: [] for label in targets}
    for _ in range(rounds):
        for label, url in targets.items():
            per_target[label].append(run_wrk(url, duration_s=round_s, connections=CONNECTIONS))
    results = {label: combine(rounds_of_target) for label, rounds_of_target in per_target.items()}
    for label, result in results.items():
        if result.status_errors:
            raise LoadError(f"{targets[label]} answered {result.status_errors} of {result.requests} requests "
                            "with an error status")
        run.log(f"  {label}: {result.rps:,.0f} req/s, p50 {result.latency_p50_ms:.1f} ms, "
                f"p99 {result.latency_p99_ms:.1f} ms, {result.socket_errors} socket errors")
    return results


def _note(page: LoadResult, bare: LoadResult) -> str:
    note = (f"p50/p99 {page.latency_p50_ms:.1f}/{page.latency_p99_ms:.1f} ms "
            f"(bare {bare.latency_p50_ms:.1f}/{bare.latency_p99_ms:.1f} ms)")
    if page.socket_errors:
        note += f", {page.socket_errors} socket errors"
    return note


def _pages(run: Run, engine: str) -> Generator[Measurement, None, None]:
    if engine == "pg" and (reason := postgres_unreachable_reason()):
        raise SkipBenchmark(reason)
    ensure_wrk(run.log)
    workers = default_workers()
    run.log(f"{engine}: migrating a fresh database, loading demo data, starting {workers} workers per site")
    started = time.monotonic()
    with forensis_site(engine, workers) as site, bare_site(site, workers) as bare_django:
        run.log(f"  both sites ready in {time.monotonic() - started:.0f} s")
        pages = {path: f"{prefix}_{engine}" for prefix, path in PAGES.items() if run.wants(f"{prefix}_{engine}")}
        check_ok(f"{bare_django.base_url}/", bare_django.log_path)
        for path in pages:
            check_ok(site.base_url + path, site.log_path)
        results = _load(run, {BARE: f"{bare_django.base_url}/", **{path: site.base_url + path for path in pages}})
    for path, name in pages.items():
        yield Measurement(name, value=results[path].rps, unit="req/s", baseline=results[BARE].rps,
                          note=_note(results[path], results[BARE]))


@benchmark("login_page_rps_sqlite", "healthz_rps_sqlite")
def pages_sqlite(run: Run) -> Generator[Measurement, None, None]:
    """GET /accounts/login/ and /healthz per second on SQLite, against a bare Django view."""
    yield from _pages(run, "sqlite")


@benchmark("login_page_rps_pg", "healthz_rps_pg")
def pages_pg(run: Run) -> Generator[Measurement, None, None]:
    """GET /accounts/login/ and /healthz per second on PostgreSQL, against a bare Django view."""
    yield from _pages(run, "pg")
