"""The benchmark registry: ``@benchmark("name", ...)`` on a generator function in ``bench/benchmarks/``.

One function may measure several named figures (e.g. the login page and /healthz) so that they share
one expensive setup — a migrated database and a running server. It receives a :class:`Run` telling
which of its names were selected and yields one :class:`Measurement` per selected name.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

from bench import benchmarks as benchmarks_package


@dataclass(frozen=True)
class Measurement:
    """One figure. ``baseline`` is the same quantity for a reference (e.g. a bare Django view)."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


class SkipBenchmark(Exception):
    """Raised by a benchmark that cannot run here (e.g. no PostgreSQL); the reason is printed."""


@dataclass(frozen=True)
class Run:
    """What a benchmark function is asked to do."""

    names: frozenset[str]
    quick: bool
    log: Callable[[str], None] = field(default=print)

    def wants(self, name: str) -> bool:
        return name in self.names


BenchmarkFunction = Callable[[Run], Generator[Measurement, None, None]]


@dataclass(frozen=True)
class Benchmark:
    names: tuple[str, ...]
    function: BenchmarkFunction

    @property
    def summary(self) -> str:
        doc = (self.function.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


#: Every registered benchmark function, in registration order (module name order, then file order).
REGISTRY: list[Benchmark] = []


def benchmark(*names: str) -> Callable[[BenchmarkFunction], BenchmarkFunction]:
    """Register a generator function that yields a Measurement for each of ``names`` it is asked for."""
    if not names:
        raise ValueError("@benchmark needs at least one name")

    def register(function: BenchmarkFunction) -> BenchmarkFunction:
        if not inspect.isgeneratorfunction(function):
            raise TypeError(f"@benchmark needs a generator function (one that yields), not {function.__name__}")
        taken = set(all_names())
        for name in names:
            if name in taken:
                raise ValueError(f"benchmark name {name!r} is registered twice")
        REGISTRY.append(Benchmark(names=tuple(names), function=function))
        return function

    return register


def all_names() -> list[str]:
    return [name for entry in REGISTRY for name in entry.names]


def discover() -> list[Benchmark]:
    """Import every module of ``bench.benchmarks`` (their decorators fill the registry)."""
    for module in sorted(pkgutil.iter_modules(benchmarks_package.__path__), key=lambda m: m.name):
        importlib.import_module(f"{benchmarks_package.__name__}.{module.name}")
    return REGISTRY
