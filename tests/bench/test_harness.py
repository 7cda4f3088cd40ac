"""The benchmark harness's own plumbing, with made-up measurements: no servers, no load, no timing."""

from __future__ import annotations

import json

import pytest

from bench.cli import main, run_benchmarks
from bench.load import LoadError, LoadResult, combine, parse_wrk_output
from bench.registry import Benchmark, Measurement, Run, SkipBenchmark, benchmark
from bench.report import format_number, format_table, results_dict, write_results

LOGIN = Measurement("login_page_rps_sqlite", value=612.345, unit="req/s", baseline=1530.0, note="p50/p99 70/150 ms")
IMPORT = Measurement("import_30k_sqlite", value=4.2, unit="s")


def test_results_have_exactly_value_unit_baseline_ratio():
    assert results_dict([LOGIN, IMPORT]) == {
        "login_page_rps_sqlite": {"value": 612.3, "unit": "req/s", "baseline": 1530.0, "ratio": 0.4},
        "import_30k_sqlite": {"value": 4.2, "unit": "s", "baseline": None, "ratio": None},
    }


def test_write_results_writes_json(tmp_path):
    path = write_results([LOGIN], tmp_path / "results.json")
    assert json.loads(path.read_text()) == results_dict([LOGIN])


def test_ratio_is_value_over_baseline():
    assert Measurement("x", value=50, unit="req/s", baseline=200).ratio == 0.25
    assert Measurement("x", value=50, unit="req/s", baseline=0).ratio is None


def test_table_aligns_columns_and_marks_missing_figures():
    lines = format_table([LOGIN, IMPORT]).splitlines()
    assert lines[0].split() == ["benchmark", "value", "baseline", "unit", "ratio", "notes"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split()[:5] == ["login_page_rps_sqlite", "612", "1,530", "req/s", "0.40"]
    assert lines[3].split() == ["import_30k_sqlite", "4.2", "-", "s", "-"]
    assert lines[2].index("612") == lines[3].index("4.2")  # numbers are right-aligned


@pytest.mark.parametrize(
    ("number", "text"), [(None, "-"), (1234567.8, "1,234,568"), (100, "100"), (12.345, "12.3"), (0.01234, "0.0123")]
)
def test_format_number(number, text):
    assert format_number(number) == text


WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:8000/healthz
  2 threads and 50 connections
  4630 requests in 5.00s, 1.23MB read
Requests/sec:    926.00
BENCH_WRK {"requests": 4630, "duration_us": 5000000, "errors_connect": 0, "errors_read": 1, "errors_write": 0, \
"errors_status": 3, "errors_timeout": 2, "latency_p50_us": 41000, "latency_p99_us": 82000}
"""


def test_parse_wrk_output():
    result = parse_wrk_output(WRK_OUTPUT)
    assert result == LoadResult(
        requests=4630, duration_s=5.0, socket_errors=3, status_errors=3, latency_p50_ms=41.0, latency_p99_ms=82.0
    )
    assert result.rps == 926.0


def test_parse_wrk_output_without_report_line_fails_clearly():
    with pytest.raises(LoadError, match="no report line"):
        parse_wrk_output("Running 5s test @ http://127.0.0.1:8000/\n")


def test_combine_adds_up_rounds():
    common = {"duration_s": 1.0, "status_errors": 0}
    rounds = [
        LoadResult(requests=100, socket_errors=0, latency_p50_ms=10, latency_p99_ms=30, **common),
        LoadResult(requests=300, socket_errors=1, latency_p50_ms=20, latency_p99_ms=50, **common),
    ]
    combined = combine(rounds)
    assert (combined.rps, combined.socket_errors, combined.latency_p50_ms, combined.latency_p99_ms) == (200, 1, 15, 40)


@pytest.fixture
def empty_registry(monkeypatch):
    fresh: list[Benchmark] = []
    monkeypatch.setattr("bench.registry.REGISTRY", fresh)
    return fresh


def test_benchmark_decorator_registers_generators_once(empty_registry):
    @benchmark("a_sqlite", "b_sqlite")
    def pair(run: Run):
        yield Measurement("a_sqlite", 1, "s")

    assert empty_registry == [Benchmark(names=("a_sqlite", "b_sqlite"), function=pair)]
    with pytest.raises(ValueError, match="twice"):
        benchmark("b_sqlite")(pair)
    with pytest.raises(TypeError, match="generator"):
        benchmark("c_sqlite")(lambda run: [])


def test_runner_collects_measurements_skips_and_failures_and_cleans_up(empty_registry):
    cleaned_up = []

    @benchmark("ok_one", "ok_two")
    def ok(run: Run):
        try:
            for name in sorted(run.names):
                yield Measurement(name, value=2, unit="req/s", baseline=4)
        finally:
            cleaned_up.append("ok")

    @benchmark("needs_pg")
    def needs_pg(run: Run):
        raise SkipBenchmark("PostgreSQL is not reachable")
        yield

    @benchmark("broken")
    def broken(run: Run):
        try:
            yield Measurement("broken", value=1, unit="s")
            raise RuntimeError("server did not start")
        finally:
            cleaned_up.append("broken")

    outcome = run_benchmarks(empty_registry, {"ok_two", "needs_pg", "broken"}, quick=True)

    assert [m.name for m in outcome.measurements] == ["ok_two", "broken"]
    assert outcome.skipped == [(["needs_pg"], "PostgreSQL is not reachable")]
    assert outcome.failed == [(["broken"], "RuntimeError: server did not start")]
    assert cleaned_up == ["ok", "broken"]


def test_list_names_every_benchmark(capsys):
    assert main(["--list"]) == 0
    listed = capsys.readouterr().out
    for name in ("login_page_rps_sqlite", "healthz_rps_sqlite", "login_page_rps_pg", "healthz_rps_pg"):
        assert name in listed


def test_only_rejects_unknown_names(capsys):
    with pytest.raises(SystemExit):
        main(["--only", "login_page_rps_sqlite,no_such_benchmark"])
    assert "no_such_benchmark" in capsys.readouterr().err
