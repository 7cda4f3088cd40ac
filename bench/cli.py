"""``python -m bench``: run the registered benchmarks, print a table, write bench/results.json."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.registry import Benchmark, Measurement, Run, SkipBenchmark, all_names, discover
from bench.report import RESULTS_PATH, format_table, write_results


def log(message: str) -> None:
    print(message, flush=True)


@dataclass
class Outcome:
    measurements: list[Measurement] = field(default_factory=list)
    skipped: list[tuple[list[str], str]] = field(default_factory=list)
    failed: list[tuple[list[str], str]] = field(default_factory=list)


def run_benchmarks(registry: Sequence[Benchmark], selected: set[str], quick: bool) -> Outcome:
    """Run each registered function that owns a selected name; one failing does not stop the others."""
    outcome = Outcome()
    for entry in registry:
        names = frozenset(name for name in entry.names if name in selected)
        if not names:
            continue
        log(f"== {', '.join(n for n in entry.names if n in names)}")
        started = time.monotonic()
        produced: set[str] = set()
        measurements = entry.function(Run(names=names, quick=quick, log=log))
        try:
            for measurement in measurements:
                if measurement.name not in names or measurement.name in produced:
                    raise RuntimeError(f"{entry.function.__name__} yielded {measurement.name!r} unasked or twice")
                produced.add(measurement.name)
                outcome.measurements.append(measurement)
        except SkipBenchmark as exc:
            outcome.skipped.append((sorted(names - produced), str(exc)))
        except Exception as exc:  # reported, and the run goes on with the next benchmark
            outcome.failed.append((sorted(names - produced) or sorted(names), f"{type(exc).__name__}: {exc}"))
        else:
            if missing := sorted(names - produced):
                outcome.failed.append((missing, f"{entry.function.__name__} yielded no measurement for them"))
        finally:
            measurements.close()  # runs the generator's cleanup (servers, databases) on any way out
        log(f"   ({time.monotonic() - started:.0f} s)")
    return outcome


def _selection(parser: argparse.ArgumentParser, only: list[str] | None) -> set[str]:
    known = all_names()
    if not only:
        return set(known)
    wanted = {name.strip() for value in only for name in value.split(",") if name.strip()}
    if unknown := sorted(wanted - set(known)):
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (see --list)")
    return wanted


def _exit_on_sigterm(signum: int, frame: object) -> None:
    sys.exit(128 + signum)  # unwinds the ``with`` blocks, so servers and databases are cleaned up


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes and shorter runs, for a fast look")
    parser.add_argument("--only", action="append", metavar="NAME[,NAME]", help="run only these benchmarks")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)

    registry = discover()
    if args.list:
        for entry in registry:
            for i, name in enumerate(entry.names):
                print(f"{name:<32} {entry.summary if i == 0 else ''}".rstrip())
        return 0
    selected = _selection(parser, args.only)

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    started = time.monotonic()
    outcome = run_benchmarks(registry, selected, quick=args.quick)
    elapsed = time.monotonic() - started

    print()
    print(format_table(outcome.measurements) if outcome.measurements else "No figures measured.")
    print()
    for names, reason in outcome.skipped:
        print(f"skipped {', '.join(names)}: {reason}")
    for names, reason in outcome.failed:
        print(f"FAILED {', '.join(names)}: {reason}")
    path = write_results(outcome.measurements)
    print(f"{len(outcome.measurements)} figure(s) written to {path.relative_to(RESULTS_PATH.parent.parent)} "
          f"in {elapsed:.0f} s{' (--quick)' if args.quick else ''}")
    return 1 if outcome.failed else 0
