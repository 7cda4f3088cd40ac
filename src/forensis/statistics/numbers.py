"""Small numeric helpers shared by the figures: percentiles, durations, rates, and age groups."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta

from forensis.deaths.models import AgeGroup, age_group_of

SECONDS_PER_DAY = 86400


def days(delta: timedelta) -> float:
    return delta.total_seconds() / SECONDS_PER_DAY


def median(values: Sequence[float]) -> float | None:
    """The middle value (the mean of the two middle values when there is an even number); None when empty."""
    if not values:
        return None
    ordered, middle = sorted(values), len(values) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def nearest_rank(values: Sequence[float], percent: float) -> float | None:
    """The ``percent``-th percentile by the nearest-rank method: the smallest value such that at least
    ``percent`` % of the values are less than or equal to it, i.e. the value at rank ⌈p/100 × n⌉ (1-based)
    of the sorted values. Always a value that occurred; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def rounded(value: float | None, places: int = 1) -> float | None:
    return None if value is None else round(value, places)


def rate_per_100k(count: int, population: int | None) -> float | None:
    """Per 100,000 population, two decimals; None when there is no population figure."""
    if not population:
        return None
    return round(count * 100_000 / population, 2)


def share(part: int, whole: int) -> float | None:
    """A percentage with one decimal; None when the whole is zero."""
    return round(100 * part / whole, 1) if whole else None


def age_group(age: int | None) -> str:
    """The UNODC age group of an age in years (the groups death records store); unknown without an age."""
    return AgeGroup.UNKNOWN.value if age is None else str(age_group_of(age))
