"""What every figure is asked for: a period of months, and optionally a discipline, a district and an agency.

Months are ``"YYYY-MM"`` strings, inclusive at both ends, compared with the stored month columns
(``Case.received_month``, ``ServiceRequest.released_month``, ``DeathInvestigation.month``) — never with a date
function per row. Each figure's documentation (and docs/statistics.md) says which month the period selects on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from forensis.core.vocabulary import District

from .models import MAX_YEAR, MIN_YEAR

MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
#: The first and last month a period may name (the years population figures may be given for).
FIRST_MONTH, LAST_MONTH = f"{MIN_YEAR}-01", f"{MAX_YEAR}-12"


def month_start(month: str) -> datetime:
    """The first instant of ``month`` in the laboratory's time zone (aware)."""
    year, number = int(month[:4]), int(month[5:7])
    return timezone.make_aware(datetime(year, number, 1))


def next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + 1}-01" if number == 12 else f"{year}-{number + 1:02d}"


def months_between(first: str, last: str) -> Iterator[str]:
    """Every month from ``first`` to ``last``, both included."""
    month = first
    while month <= last:
        yield month
        month = next_month(month)


def month_of(moment: datetime) -> str:
    """'YYYY-MM' of a moment in the laboratory's time zone."""
    return timezone.localtime(moment).strftime("%Y-%m")


@dataclass(frozen=True)
class Filters:
    """The filters of a dashboard. Empty strings mean "all"; ``agency`` is an agency's code."""

    month_from: str = ""
    month_to: str = ""
    discipline: str = ""
    district: str = ""
    agency: str = ""

    def __post_init__(self):
        errors = self.problems()
        if errors:
            raise ValidationError(errors)

    def problems(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for name in ("month_from", "month_to"):
            value = getattr(self, name)
            if value and not MONTH.fullmatch(value):
                errors[name] = [_("Give a month as YYYY-MM.")]
            elif value and not FIRST_MONTH <= value <= LAST_MONTH:
                errors[name] = [
                    _("Give a month from %(first)s to %(last)s.") % {"first": FIRST_MONTH, "last": LAST_MONTH}
                ]
        if not errors and self.month_from and self.month_to and self.month_from > self.month_to:
            errors["month_to"] = [_("The period ends before it starts.")]
        if self.district and self.district not in District.values:
            errors["district"] = [_("%(code)s is not a district.") % {"code": self.district}]
        return errors

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Filters:
        """Filters from a query string (a page's or the API's); unknown discipline or agency codes are refused."""
        from forensis.accounts.models import Agency
        from forensis.lab.models import Discipline

        values = {name: (params.get(name) or "").strip() for name in cls.__dataclass_fields__}
        filters = cls(**values)
        errors = {}
        if filters.discipline and not Discipline.objects.filter(code=filters.discipline).exists():
            errors["discipline"] = [_("%(code)s is not a discipline.") % {"code": filters.discipline}]
        if filters.agency and not Agency.objects.filter(code=filters.agency).exists():
            errors["agency"] = [_("%(code)s is not an agency.") % {"code": filters.agency}]
        if errors:
            raise ValidationError(errors)
        return filters

    # -- the period as instants, for the few figures that select on a timestamp --------------------------------

    @property
    def start(self) -> datetime | None:
        return month_start(self.month_from) if self.month_from else None

    @property
    def end(self) -> datetime | None:
        """The first instant after the period (exclusive)."""
        return month_start(next_month(self.month_to)) if self.month_to else None

    def as_of(self, as_of: datetime | None = None) -> datetime:
        """The moment a snapshot figure (backlog, age profile) is taken: ``as_of``, else the end of the period
        when it has ended, else now."""
        now = timezone.now()
        if as_of is not None:
            return as_of
        end = self.end
        return end if end is not None and end < now else now

    def is_current(self, as_of: datetime | None = None) -> bool:
        """Whether a snapshot figure is of the present: no ``as_of`` given and the period not yet ended."""
        end = self.end
        return as_of is None and (end is None or end >= timezone.now())

    def month_range(self, field: str) -> dict[str, str]:
        """Lookups selecting ``field`` (a stored "YYYY-MM" column) within the period."""
        lookups = {}
        if self.month_from:
            lookups[f"{field}__gte"] = self.month_from
        if self.month_to:
            lookups[f"{field}__lte"] = self.month_to
        return lookups
