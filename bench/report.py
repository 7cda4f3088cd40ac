"""The table printed at the end of a run and ``bench/results.json``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from bench.registry import Measurement

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"

_HEADERS = ("benchmark", "value", "baseline", "unit", "ratio", "notes")


def _significant(number: float | None, digits: int = 4) -> float | None:
    return None if number is None else float(f"{number:.{digits}g}")


def results_dict(measurements: Iterable[Measurement]) -> dict[str, dict[str, float | str | None]]:
    """``{"name": {"value", "unit", "baseline", "ratio"}}``, numbers to four significant digits."""
    return {
        m.name: {
            "value": _significant(m.value),
            "unit": m.unit,
            "baseline": _significant(m.baseline),
            "ratio": _significant(m.ratio, 3),
        }
        for m in measurements
    }


def write_results(measurements: Iterable[Measurement], path: Path = RESULTS_PATH) -> Path:
    path.write_text(json.dumps(results_dict(measurements), indent=2) + "\n")
    return path


def format_number(number: float | None) -> str:
    """Thousands separators for large figures, three significant digits for small ones."""
    if number is None:
        return "-"
    if abs(number) >= 100:
        return f"{number:,.0f}"
    return f"{number:.3g}"


def format_table(measurements: Iterable[Measurement]) -> str:
    rows = [
        (
            m.name,
            format_number(m.value),
            format_number(m.baseline),
            m.unit,
            "-" if m.ratio is None else f"{m.ratio:.2f}",
            m.note,
        )
        for m in measurements
    ]
    widths = [max(len(row[i]) for row in [_HEADERS, *rows]) for i in range(len(_HEADERS))]
    right_aligned = {1, 2, 4}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.rjust(width) if i in right_aligned else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(_HEADERS), line(tuple("-" * w for w in widths)), *(line(row) for row in rows)])
