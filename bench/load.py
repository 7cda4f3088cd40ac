"""The load generator: wrk (Debian package ``wrk``), installed on first use when we are root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LUA_REPORT = Path(__file__).resolve().parent / "wrk_report.lua"
_MARKER = "BENCH_WRK "
_APT_TIMEOUT_S = 300


class LoadError(RuntimeError):
    pass


@dataclass(frozen=True)
class LoadResult:
    requests: int
    duration_s: float
    socket_errors: int  # connect, read, write and timeout errors
    status_errors: int  # answers other than 2xx and 3xx
    latency_p50_ms: float
    latency_p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


def _apt_get(*args: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", *args], env=env, check=False, capture_output=True, timeout=_APT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise LoadError(f"apt-get {' '.join(args)} did not finish within {_APT_TIMEOUT_S} s") from None


def ensure_wrk(log: Callable[[str], None] = print) -> str:
    """The path of ``wrk``; installs the Debian package when it is missing and we are root."""
    if found := shutil.which("wrk"):
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise LoadError("wrk is not installed. Install it with: sudo apt-get install wrk")
    log("wrk is missing: installing the Debian package")
    _apt_get("install", "-y", "-qq", "wrk")
    if not shutil.which("wrk"):  # the package lists may be missing or stale
        _apt_get("update", "-qq")
        _apt_get("install", "-y", "-qq", "wrk")
    if found := shutil.which("wrk"):
        return found
    raise LoadError("could not install wrk with apt-get; install it with: apt-get update && apt-get install wrk")


def parse_wrk_output(output: str) -> LoadResult:
    """Read the line that wrk_report.lua prints at the end of a run."""
    for line in output.splitlines():
        if line.startswith(_MARKER):
            data = json.loads(line[len(_MARKER) :])
            socket_errors = sum(data[f"errors_{kind}"] for kind in ("connect", "read", "write", "timeout"))
            return LoadResult(
                requests=data["requests"],
                duration_s=data["duration_us"] / 1e6,
                socket_errors=socket_errors,
                status_errors=data["errors_status"],
                latency_p50_ms=data["latency_p50_us"] / 1000,
                latency_p99_ms=data["latency_p99_us"] / 1000,
            )
    raise LoadError(f"wrk printed no report line:\n{output[-2000:]}")


def run_wrk(url: str, *, duration_s: int, connections: int, threads: int = 2) -> LoadResult:
    """Load ``url`` with a fixed number of connections for a fixed time."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"benchmarks load loopback addresses only, not {url}")
    command = [
        ensure_wrk(),
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={duration_s}s",
        "--timeout=10s",
        f"--script={LUA_REPORT}",
        url,
    ]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60, check=False)
    except subprocess.TimeoutExpired:
        raise LoadError(f"wrk did not finish within {duration_s + 60} s against {url}") from None
    if completed.returncode != 0:
        raise LoadError(f"wrk failed against {url}: {completed.stderr.strip() or completed.stdout.strip()}")
    return parse_wrk_output(completed.stdout)


def combine(results: list[LoadResult]) -> LoadResult:
    """One result from several rounds against the same URL; latency percentiles are the rounds' mean."""
    if not results:
        raise ValueError("no results to combine")
    return LoadResult(
        requests=sum(r.requests for r in results),
        duration_s=sum(r.duration_s for r in results),
        socket_errors=sum(r.socket_errors for r in results),
        status_errors=sum(r.status_errors for r in results),
        latency_p50_ms=sum(r.latency_p50_ms for r in results) / len(results),
        latency_p99_ms=sum(r.latency_p99_ms for r in results) / len(results),
    )
