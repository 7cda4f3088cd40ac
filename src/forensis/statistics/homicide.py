"""Homicide victims (SDG 16.1.1) from the two records Forensis keeps, the rate per 100,000 population, and the
gender-related killing table of the UNODC–UN Women framework (SDG 5).

A homicide victim is counted from one of two sources, never both:

* **death records** — a death investigation whose autopsy records the manner "homicide" *and whose autopsy has
  been released* (its pathology request has a ``released_at``). A recorded but unreleased autopsy is not yet a
  finding of the medical examiner's office: it is counted in the quality note ``unreleased_autopsies`` instead.
  While a released autopsy is being amended, the record as it now stands is counted.
* **cases** — the victims (people with the role victim or deceased) of a case coded ICCS 0101 that has no death
  investigation at all: legacy cases and homicides the medical examiner's office did not take part in. A case
  with a death investigation is counted through its death records only, whatever their manner, so a death is
  never counted twice; a 0101 case with neither is listed in the quality note ``cases_without_victim``.

Everything groups by stored columns (sex, age group, mechanism, district, month), never by a date function per
row. The month of a death record is the month of death (of discovery when unknown); the month of a case victim
is the month the laboratory received the case (``Case.received_month``), which is all a legacy case stores.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from forensis.cases.models import Case, CaseOffence, Person, PersonRole
from forensis.core.vocabulary import District, Sex
from forensis.deaths.models import (
    FAMILY_RELATIONSHIPS,
    FRAMEWORK_INDICATORS,
    AgeGroup,
    DeathInvestigation,
    Manner,
    Mechanism,
    YesNoUnknown,
)

from .filters import Filters, months_between
from .models import Population
from .numbers import age_group, rate_per_100k, share

HOMICIDE_CODE = "0101"
#: The roles of the people a case's victim count is taken from.
VICTIM_ROLES = (PersonRole.VICTIM, PersonRole.DECEASED)
#: The code of an unknown district or mechanism in every table (sex and age group have their own).
UNKNOWN = "unknown"

#: The dimensions a homicide count may be broken down by, and the death record column each reads.
DIMENSIONS = {
    "sex": "sex",
    "age_group": "age_group",
    "mechanism": "autopsy__mechanism",
    "district": "district",
    "month": "month",
}


# --- death records alone (the medical examiner's view) ----------------------------------------------


def homicide_death_records(
    records: QuerySet[DeathInvestigation] | None = None, *, released_only: bool = True
) -> QuerySet[DeathInvestigation]:
    """Death records whose autopsy says homicide; with ``released_only``, only released autopsies."""
    records = DeathInvestigation.objects.all() if records is None else records
    victims = records.filter(autopsy__manner=Manner.HOMICIDE)
    if released_only:
        victims = victims.filter(autopsy__examination__request__released_at__isnull=False)
    return victims


def count_death_records(
    *by: str,
    records: QuerySet[DeathInvestigation] | None = None,
    month_from: str = "",
    month_to: str = "",
    released_only: bool = True,
) -> dict[tuple[str, ...], int]:
    """Homicide death records per combination of ``by`` (names in ``DIMENSIONS``); months inclusive, raw codes."""
    unknown = [name for name in by if name not in DIMENSIONS]
    if unknown:
        raise ValueError(f"Unknown dimension(s) {unknown}; choose from {sorted(DIMENSIONS)}")
    victims = homicide_death_records(records, released_only=released_only).order_by()
    if month_from:
        victims = victims.filter(month__gte=month_from)
    if month_to:
        victims = victims.filter(month__lte=month_to)
    columns = [DIMENSIONS[name] for name in by]
    if not columns:
        # ``values()`` without columns would group by every field: one row per victim, not the total.
        total = victims.count()
        return {(): total} if total else {}
    rows = victims.values(*columns).annotate(victims=Count("pk")).order_by(*columns)
    return {tuple(row[column] for column in columns): row["victims"] for row in rows}


def gender_related_killings(
    records: QuerySet[DeathInvestigation] | None = None, *, released_only: bool = True
) -> dict[str, int]:
    """The UNODC–UN Women framework table for female homicide victims: how many, how many gender-related,
    and how many show each relationship and each indicator (a victim may show several)."""
    victims = homicide_death_records(records, released_only=released_only).filter(sex=Sex.FEMALE).order_by()
    indicator_yes = {name: Count("pk", filter=Q(**{name: YesNoUnknown.YES})) for name in FRAMEWORK_INDICATORS}
    any_indicator = Q()
    for name in FRAMEWORK_INDICATORS:
        any_indicator |= Q(**{name: YesNoUnknown.YES})
    totals = victims.aggregate(
        female_victims=Count("pk"),
        gender_related=Count("pk", filter=Q(relationship__in=FAMILY_RELATIONSHIPS) | any_indicator),
        **indicator_yes,
    )
    relationships = Counter(dict(victims.values_list("relationship").annotate(n=Count("pk")).order_by()))
    return {**totals, **{f"relationship:{code}": n for code, n in sorted(relationships.items())}}


# --- filters -----------------------------------------------------------------------------------------


def death_records(filters: Filters) -> QuerySet[DeathInvestigation]:
    """Death records of the period (month of death), district (of death) and agency (of the case)."""
    records = DeathInvestigation.objects.filter(**filters.month_range("month"))
    if filters.district:
        records = records.filter(district=filters.district)
    if filters.agency:
        records = records.filter(case__agency__code=filters.agency)
    return records.order_by()


def cases(filters: Filters) -> QuerySet[Case]:
    """Cases of the period (month received), district (of the incident) and agency."""
    selected = Case.objects.filter(**filters.month_range("received_month"))
    if filters.district:
        selected = selected.filter(district=filters.district)
    if filters.agency:
        selected = selected.filter(agency__code=filters.agency)
    return selected.order_by()


def coded(code: str, *, prefix: bool = False) -> Exists:
    """The case (``OuterRef("pk")``) has an offence ``code`` (or one starting with it)."""
    lookup = {"code__startswith": code} if prefix else {"code": code}
    return Exists(CaseOffence.objects.filter(case=OuterRef("pk"), **lookup))


def _without_death_record() -> Exists:
    return ~Exists(DeathInvestigation.objects.filter(case=OuterRef("pk")))


def homicide_cases_without_death_record(filters: Filters) -> QuerySet[Case]:
    return cases(filters).filter(coded(HOMICIDE_CODE), _without_death_record())


def case_victims(filters: Filters) -> QuerySet[Person]:
    """The victims counted from cases: people with a victim role on 0101 cases without a death record."""
    return Person.objects.filter(
        role__in=VICTIM_ROLES, case__in=homicide_cases_without_death_record(filters).values("pk")
    ).order_by()


# --- both sources together ---------------------------------------------------------------------------

#: For each dimension: the death record column, the case victim column (None: always unknown).
_COLUMNS = {
    "sex": ("sex", "sex"),
    "age_group": ("age_group", "age"),
    "mechanism": ("autopsy__mechanism", None),
    "district": ("district", "case__district"),
    "month": ("month", "case__received_month"),
}


def _code(dimension: str, value) -> str:
    if dimension == "age_group" and (value is None or isinstance(value, int)):
        return age_group(value)
    return value or UNKNOWN


def victim_counts(filters: Filters, *by: str) -> dict[tuple[str, ...], dict[str, int]]:
    """Homicide victims per combination of ``by`` (names in ``DIMENSIONS``), from each source:
    ``{codes: {"death_records": n, "cases": m}}``. Codes are harmonised: an unknown district or mechanism is
    ``"unknown"``; a case victim's age (years) becomes its age group."""
    unknown = [name for name in by if name not in _COLUMNS]
    if unknown:
        raise ValueError(f"Unknown dimension(s) {unknown}; choose from {sorted(_COLUMNS)}")
    counts: dict[tuple[str, ...], dict[str, int]] = {}

    def add(source: str, rows, columns):
        for row in rows:
            key = tuple(
                _code(name, row[column]) if column else UNKNOWN for name, column in zip(by, columns, strict=True)
            )
            entry = counts.setdefault(key, {"death_records": 0, "cases": 0})
            entry[source] += row["n"]

    death_columns = [_COLUMNS[name][0] for name in by]
    records = homicide_death_records(death_records(filters))
    add("death_records", _grouped(records, death_columns), death_columns)
    case_columns = [_COLUMNS[name][1] for name in by]
    add("cases", _grouped(case_victims(filters), [c for c in case_columns if c]), case_columns)
    return counts


def _summed(
    counts: dict[tuple[str, ...], dict[str, int]], dimensions: tuple[str, ...], kept: tuple[str, ...]
) -> dict[tuple[str, ...], dict[str, int]]:
    """``counts`` keyed by ``dimensions``, summed over every dimension but ``kept``."""
    positions = [dimensions.index(name) for name in kept]
    summed: dict[tuple[str, ...], dict[str, int]] = {}
    for key, entry in counts.items():
        total = summed.setdefault(tuple(key[i] for i in positions), {"death_records": 0, "cases": 0})
        total["death_records"] += entry["death_records"]
        total["cases"] += entry["cases"]
    return summed


def _grouped(queryset: QuerySet, columns: list[str]) -> list[dict]:
    if not columns:
        total = queryset.count()
        return [{"n": total}] if total else []
    return list(queryset.values(*columns).annotate(n=Count("pk")).order_by(*columns))


def labels(dimension: str) -> list[tuple[str, str]]:
    """Every code of a dimension with its label, in the order tables list them (months excepted)."""
    if dimension == "sex":
        return [(code, str(label)) for code, label in Sex.choices]
    if dimension == "age_group":
        return [(code, str(label)) for code, label in AgeGroup.choices]
    if dimension == "mechanism":
        return [(code, str(label)) for code, label in Mechanism.choices] + [(UNKNOWN, str(_("Unknown")))]
    if dimension == "district":
        return [(code, str(label)) for code, label in District.choices] + [(UNKNOWN, str(_("Unknown")))]
    raise ValueError(dimension)


def month_codes(filters: Filters, seen) -> list[tuple[str, str]]:
    """Every month of the period (or from the first to the last month seen), so a chart shows the empty ones."""
    seen = sorted(seen)
    first = filters.month_from or (seen[0] if seen else "")
    last = filters.month_to or (seen[-1] if seen else "")
    if not first or not last:
        return []
    return [(month, month) for month in months_between(first, last)]


def _table(dimension: str, codes: list[tuple[str, str]], counts) -> list[dict]:
    rows = []
    for code, label in codes:
        entry = counts.get((code,), {"death_records": 0, "cases": 0})
        rows.append(
            {
                dimension: code,
                "label": label,
                "death_records": entry["death_records"],
                "cases": entry["cases"],
                "victims": entry["death_records"] + entry["cases"],
            }
        )
    return rows


@dataclass
class HomicideVictims:
    """Homicide victims of the period, with each table's rows split by source (``death_records``, ``cases``)."""

    death_records: int = 0
    cases: int = 0
    by: dict[str, list[dict]] = field(default_factory=dict)
    by_sex_and_age_group: list[dict] = field(default_factory=list)
    quality: dict = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.death_records + self.cases


def homicide_victims(filters: Filters) -> HomicideVictims:
    """Victims by sex, age group, mechanism, district and month, by sex and age group, and quality notes."""
    result = HomicideVictims()
    dimensions = tuple(DIMENSIONS)
    # One grouped query per source over every dimension at once; each table is a sum over the others.
    every = victim_counts(filters, *dimensions)
    for dimension in DIMENSIONS:
        counts = _summed(every, dimensions, (dimension,))
        codes = month_codes(filters, {key[0] for key in counts}) if dimension == "month" else labels(dimension)
        result.by[dimension] = _table(dimension, codes, counts)
    totals = _summed(every, dimensions, ()).get((), {"death_records": 0, "cases": 0})
    result.death_records, result.cases = totals["death_records"], totals["cases"]
    crossed = _summed(every, dimensions, ("sex", "age_group"))
    for sex, sex_label in labels("sex"):
        for group, group_label in labels("age_group"):
            entry = crossed.get((sex, group), {"death_records": 0, "cases": 0})
            result.by_sex_and_age_group.append(
                {
                    "sex": sex,
                    "sex_label": sex_label,
                    "age_group": group,
                    "age_group_label": group_label,
                    "victims": entry["death_records"] + entry["cases"],
                }
            )
    result.quality = homicide_quality(filters, result)
    return result


def homicide_quality(filters: Filters, victims: HomicideVictims) -> dict:
    """What a reader of the homicide figures should know about the records behind them."""
    by = {dimension: {row[dimension]: row["victims"] for row in rows} for dimension, rows in victims.by.items()}
    unreleased = (
        death_records(filters)
        .filter(autopsy__manner=Manner.HOMICIDE, autopsy__examination__request__released_at__isnull=True)
        .count()
    )
    migrated = case_victims(filters).exclude(legacy_id="").count()
    return {
        "victims": victims.total,
        "unknown_sex": by["sex"].get(Sex.UNKNOWN, 0),
        "unknown_age_group": by["age_group"].get(AgeGroup.UNKNOWN, 0),
        "unknown_mechanism": by["mechanism"].get(UNKNOWN, 0),
        "unknown_district": by["district"].get(UNKNOWN, 0),
        "migrated": migrated,
        "migrated_share": share(migrated, victims.total),
        "unreleased_autopsies": unreleased,
        "cases_without_victim": homicide_cases_without_death_record(filters)
        .exclude(Exists(Person.objects.filter(case=OuterRef("pk"), role__in=VICTIM_ROLES)))
        .count(),
    }


# --- rates per 100,000 -------------------------------------------------------------------------------


@dataclass
class HomicideRates:
    """Victims per 100,000 population per year, for the whole country (district ``""``) and each district.

    A year without a population figure for a place has no rate (``rate`` None) and ``population_missing`` True;
    the pair is listed in ``missing``. ``partial_year``: the period covers only part of that year (or the year
    is not over), so the rate is not an annual rate. Victims whose district is unknown count in the country's
    rate only (``unknown_district`` per year).
    """

    rows: list[dict] = field(default_factory=list)
    missing: list[tuple[str, int]] = field(default_factory=list)
    unknown_district: dict[int, int] = field(default_factory=dict)


def _months_covered(filters: Filters, year: int) -> int:
    first = max(f"{year}-01", filters.month_from or f"{year}-01")
    last = min(f"{year}-12", filters.month_to or f"{year}-12", timezone.localtime().strftime("%Y-%m"))
    return len(list(months_between(first, last))) if first <= last else 0


def homicide_rates(filters: Filters) -> HomicideRates:
    counts = victim_counts(filters, "district", "month")
    per_place: Counter[tuple[str, int]] = Counter()
    years = set()
    for (district, month), entry in counts.items():
        year = int(month[:4])
        years.add(year)
        victims = entry["death_records"] + entry["cases"]
        per_place[("", year)] += victims
        per_place[(district, year)] += victims
    if filters.month_from and filters.month_to:
        years |= set(range(int(filters.month_from[:4]), int(filters.month_to[:4]) + 1))
    places = [filters.district] if filters.district else ["", *District.values]
    figures = {
        (row.district, row.year): row.population
        for row in Population.objects.filter(year__in=years, district__in=places)
    }
    result = HomicideRates()
    district_labels = dict(District.choices)
    for year in sorted(years):
        result.unknown_district[year] = per_place.get((UNKNOWN, year), 0)
        partial = _months_covered(filters, year) < 12
        for place in places:
            victims = per_place.get((place, year), 0)
            population = figures.get((place, year))
            if population is None:
                result.missing.append((place, year))
            result.rows.append(
                {
                    "year": year,
                    "district": place,
                    "label": str(district_labels[place]) if place else str(_("Whole country")),
                    "victims": victims,
                    "population": population,
                    "rate": rate_per_100k(victims, population),
                    "population_missing": population is None,
                    "partial_year": partial,
                }
            )
    return result


# --- gender-related killings (UNODC–UN Women framework) ----------------------------------------------


def gender_related_table(filters: Filters) -> list[dict]:
    """The framework's table for the period: female victims (released autopsies), how many are gender-related,
    and for each relationship and indicator how many show it. Rows: ``{"variable", "label", "victims"}``."""
    from forensis.cases.models import Relationship

    counts = gender_related_killings(death_records(filters))
    rows = [
        {"variable": "female_victims", "label": str(_("Female homicide victims")), "victims": counts["female_victims"]},
        {"variable": "gender_related", "label": str(_("Gender-related killings")), "victims": counts["gender_related"]},
    ]
    for code, label in Relationship.choices:
        rows.append(
            {
                "variable": f"relationship:{code}",
                "label": str(_("Relationship: %(relationship)s") % {"relationship": label}),
                "victims": counts.get(f"relationship:{code}", 0),
            }
        )
    for name in FRAMEWORK_INDICATORS:
        label = DeathInvestigation._meta.get_field(name).verbose_name
        rows.append({"variable": name, "label": str(label).capitalize(), "victims": counts[name]})
    return rows
