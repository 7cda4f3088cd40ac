"""Open data for the crime observatory: de-identified aggregate tables, ready for CSV and JSON, with their data
dictionary.

No table holds a name, a case, item or report number, or a date finer than a month. Every count from 1 to 4 is
replaced by ``SUPPRESSED`` ("<5"), and so is every measure derived from such a count (a rate, a weight, a median),
since it would give the count back. Zero is published: it describes no one. Totals (the rows whose breakdown
columns read ``ALL``) are computed **before** suppression, from the true counts, and are themselves suppressed
when below 5; no secondary suppression is applied, so where exactly one cell of a breakdown is suppressed it can
be worked out from the total — the observatory is told so in the data dictionary.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count, Min
from django.utils import timezone

from forensis.cases.models import Case, Person
from forensis.core.vocabulary import District, Sex
from forensis.deaths.models import AgeGroup, DeathInvestigation, Mechanism

from . import homicide, management, policy
from .filters import Filters
from .numbers import age_group

#: Counts below this (and above zero) are suppressed.
THRESHOLD = 5
SUPPRESSED = "<5"
ALL = "ALL"


def is_small(value) -> bool:
    """A count that must not be published: from 1 to 4."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < THRESHOLD


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "dimension", "count" (suppressed below 5) or "measure" (suppressed with its row's count)
    description: str
    codes: tuple[tuple[str, str], ...] = ()


@dataclass
class OpenTable:
    name: str
    title: str
    description: str
    columns: tuple[Column, ...]
    #: The count a row's measures derive from (suppressed together with it).
    basis: str
    rows: list[dict] = field(default_factory=list)

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def suppressed(self) -> list[dict]:
        """The rows as published: small counts, and the measures derived from them, replaced by "<5"."""
        published = []
        for row in self.rows:
            small = is_small(row.get(self.basis))
            out = {}
            for column in self.columns:
                value = row.get(column.name)
                hide = is_small(value) if column.kind == "count" else column.kind == "measure" and small
                out[column.name] = SUPPRESSED if hide and value is not None else value
            published.append(out)
        return published

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.column_names, lineterminator="\n")
        writer.writeheader()
        for row in self.suppressed():
            writer.writerow({name: "" if value is None else value for name, value in row.items()})
        return buffer.getvalue()

    def as_json(self) -> dict:
        return {"name": self.name, "title": self.title, "columns": self.column_names, "rows": self.suppressed()}

    def dictionary(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "columns": [
                {"name": c.name, "kind": c.kind, "description": c.description, "codes": dict(c.codes)}
                for c in self.columns
            ],
        }


# --- the columns -------------------------------------------------------------------------------------

_ALL_CODE = ((ALL, "All (total row)"),)
YEAR = Column("year", "dimension", "Calendar year (America/Belize).")
MONTH = Column("month", "dimension", "Calendar month, YYYY-MM (America/Belize).")
SEX = Column("sex", "dimension", "Sex of the victim.", tuple((c, str(label)) for c, label in Sex.choices) + _ALL_CODE)
AGE = Column(
    "age_group",
    "dimension",
    "Age group of the victim in years (UNODC groups).",
    tuple((c, str(label)) for c, label in AgeGroup.choices) + _ALL_CODE,
)
DISTRICT = Column(
    "district",
    "dimension",
    "District (of death for death records, of the incident for cases).",
    tuple((c, str(label)) for c, label in District.choices) + ((homicide.UNKNOWN, "Unknown"),) + _ALL_CODE,
)
MECHANISM = Column(
    "mechanism",
    "dimension",
    "Mechanism of the killing (from the autopsy; unknown for victims counted from cases).",
    tuple((c, str(label)) for c, label in Mechanism.choices) + ((homicide.UNKNOWN, "Unknown"),) + _ALL_CODE,
)
VICTIMS = Column("victims", "count", "Number of victims.")


def _years(filters: Filters) -> list[int]:
    """The years of the period; without one, from the first recorded month to this year."""
    first = filters.month_from
    if not first:
        firsts = [
            Case.objects.aggregate(m=Min("received_month"))["m"],
            DeathInvestigation.objects.aggregate(m=Min("month"))["m"],
        ]
        firsts = [m for m in firsts if m]
        first = min(firsts) if firsts else ""
    last = filters.month_to or timezone.localtime().strftime("%Y-%m")
    if not first:
        return []
    return list(range(int(first[:4]), int(last[:4]) + 1))


def _year_filters(filters: Filters, year: int) -> Filters:
    first = max(f"{year}-01", filters.month_from or f"{year}-01")
    last = min(f"{year}-12", filters.month_to or f"{year}-12")
    return Filters(month_from=first, month_to=last)


def _national(filters: Filters) -> Filters:
    """Open data are national: only the period of the filters applies."""
    return Filters(month_from=filters.month_from, month_to=filters.month_to)


def _crossed_rows(counts: Counter, years: list[int], first: Column, second: Column) -> list[dict]:
    """Rows year × first × second (only combinations that occur), then the year's totals per first code and
    the year's grand total."""
    rows = []
    for year in years:
        year_counts = {key[1:]: n for key, n in counts.items() if key[0] == year}
        for (a, b), n in sorted(year_counts.items()):
            rows.append({"year": year, first.name: a, second.name: b, "victims": n})
        per_first = Counter()
        for (a, _b), n in year_counts.items():
            per_first[a] += n
        for a, n in sorted(per_first.items()):
            rows.append({"year": year, first.name: a, second.name: ALL, "victims": n})
        rows.append({"year": year, first.name: ALL, second.name: ALL, "victims": sum(year_counts.values())})
    return rows


# --- the tables --------------------------------------------------------------------------------------


def homicide_by_year_district(filters: Filters) -> OpenTable:
    table = OpenTable(
        "homicide_victims_by_year_district",
        "Homicide victims and rate per 100,000 population, by year and district",
        "Victims of intentional homicide (SDG 16.1.1): released autopsies with manner homicide, and the victims "
        "of ICCS 0101 cases without a death record. The rate is empty where no population figure exists for "
        "that district and year, and is not an annual rate where partial_year is true.",
        (
            YEAR,
            DISTRICT,
            VICTIMS,
            Column("population", "dimension", "Population of the district (or country) that year."),
            Column("rate_per_100k", "measure", "Victims per 100,000 population, two decimals."),
            Column("partial_year", "dimension", "true when the period covers only part of the year."),
        ),
        basis="victims",
    )
    rates = homicide.homicide_rates(_national(filters))
    for row in rates.rows:
        table.rows.append(
            {
                "year": row["year"],
                "district": row["district"] or ALL,
                "victims": row["victims"],
                "population": row["population"],
                "rate_per_100k": row["rate"],
                "partial_year": row["partial_year"],
            }
        )
    for year, n in rates.unknown_district.items():
        if n:
            table.rows.append(
                {
                    "year": year,
                    "district": homicide.UNKNOWN,
                    "victims": n,
                    "population": None,
                    "rate_per_100k": None,
                    "partial_year": None,
                }
            )
    table.rows.sort(key=lambda row: (row["year"], row["district"] == ALL))
    return table


def homicide_by_year_sex_age(filters: Filters) -> OpenTable:
    table = OpenTable(
        "homicide_victims_by_year_sex_age_group",
        "Homicide victims by year, sex and age group",
        "Victims of intentional homicide by sex and UNODC age group (SDG 16.1.1).",
        (YEAR, SEX, AGE, VICTIMS),
        basis="victims",
    )
    counts = Counter()
    for (month, sex, group), entry in homicide.victim_counts(_national(filters), "month", "sex", "age_group").items():
        counts[(int(month[:4]), sex, group)] += entry["death_records"] + entry["cases"]
    table.rows = _crossed_rows(counts, _years(filters), SEX, AGE)
    return table


def homicide_by_year_mechanism(filters: Filters) -> OpenTable:
    table = OpenTable(
        "homicide_victims_by_year_mechanism",
        "Homicide victims by year and mechanism",
        "Victims of intentional homicide by the mechanism the autopsy recorded.",
        (YEAR, MECHANISM, VICTIMS),
        basis="victims",
    )
    counts = Counter()
    for (month, mechanism), entry in homicide.victim_counts(_national(filters), "month", "mechanism").items():
        counts[(int(month[:4]), mechanism)] += entry["death_records"] + entry["cases"]
    for year in _years(filters):
        year_counts = {key[1]: n for key, n in counts.items() if key[0] == year}
        for mechanism, n in sorted(year_counts.items()):
            table.rows.append({"year": year, "mechanism": mechanism, "victims": n})
        table.rows.append({"year": year, "mechanism": ALL, "victims": sum(year_counts.values())})
    return table


def homicide_by_month(filters: Filters) -> OpenTable:
    table = OpenTable(
        "homicide_victims_by_month",
        "Homicide victims by month",
        "Victims of intentional homicide per month (of death for death records, of receipt for cases).",
        (MONTH, VICTIMS),
        basis="victims",
    )
    victims = homicide.homicide_victims(_national(filters))
    table.rows = [{"month": row["month"], "victims": row["victims"]} for row in victims.by["month"]]
    return table


def gender_related_by_year(filters: Filters) -> OpenTable:
    variables = (
        ("female_victims", "Female homicide victims"),
        ("gender_related", "Gender-related killings of women and girls"),
    )
    table = OpenTable(
        "gender_related_killings_by_year",
        "Gender-related killings of women and girls (UNODC–UN Women framework), by year",
        "Female homicide victims of released autopsies and, for each variable of the statistical framework, how "
        "many show it (a victim may show several).",
        (YEAR, Column("variable", "dimension", "The framework variable.", variables), VICTIMS),
        basis="victims",
    )
    for year in _years(filters):
        for row in homicide.gender_related_table(_year_filters(filters, year)):
            table.rows.append({"year": year, "variable": row["variable"], "victims": row["victims"]})
    return table


def sexual_violence_by_year_sex_age(filters: Filters) -> OpenTable:
    table = OpenTable(
        "sexual_violence_victims_by_year_sex_age_group",
        "Victims in sexual-violence cases by year, sex and age group",
        "Victims in cases coded ICCS 0301 or a sub-code, by the year the laboratory received the case.",
        (YEAR, SEX, AGE, VICTIMS),
        basis="victims",
    )
    national = _national(filters)
    selected = homicide.cases(national).filter(homicide.coded(policy.SEXUAL_VIOLENCE_CODE, prefix=True))
    counts = Counter()
    rows = (
        Person.objects.filter(role__in=homicide.VICTIM_ROLES, case__in=selected.values("pk"))
        .order_by()
        .values("case__received_month", "sex", "age")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        counts[(int(row["case__received_month"][:4]), row["sex"], age_group(row["age"]))] += row["n"]
    table.rows = _crossed_rows(counts, _years(filters), SEX, AGE)
    return table


def firearm_cases_by_year_district(filters: Filters) -> OpenTable:
    table = OpenTable(
        "firearm_cases_by_year_district",
        "Firearm cases by year and district",
        "Cases coded ICCS 0901 (weapons) or with a firearm among their items, by year of receipt.",
        (YEAR, DISTRICT, Column("cases", "count", "Number of cases.")),
        basis="cases",
    )
    for year in _years(filters):
        figures = policy.firearm_cases(_year_filters(filters, year))
        for row in figures.by_district:
            if row["cases"]:
                table.rows.append({"year": year, "district": row["district"], "cases": row["cases"]})
        table.rows.append({"year": year, "district": ALL, "cases": figures.cases})
    return table


def seized_drugs_by_year_substance(filters: Filters) -> OpenTable:
    table = OpenTable(
        "seized_drugs_by_year_substance",
        "Seized drugs analysed, by year and substance",
        "Items whose analysis was released that year, by the substance identified, with their total net weight.",
        (
            YEAR,
            Column("substance", "dimension", "The substance identified, as the analyst wrote it."),
            Column("items", "count", "Number of items analysed."),
            Column("net_weight_g", "measure", "Total net weight in grams."),
        ),
        basis="items",
    )
    for year in _years(filters):
        figures = policy.seized_drugs(_year_filters(filters, year))
        for row in figures.by_substance:
            table.rows.append({"year": year, **row})
    return table


def turnaround_by_year_discipline(filters: Filters) -> OpenTable:
    table = OpenTable(
        "laboratory_turnaround_by_year_discipline",
        "Laboratory turnaround (receipt to release) by year and discipline",
        "Requests released that year, and the days from receipt to release: median and 90th percentile (nearest rank).",
        (
            YEAR,
            Column("discipline", "dimension", "The laboratory discipline (code); ALL for every discipline."),
            Column("released", "count", "Number of requests released."),
            Column("median_days", "measure", "Median days from receipt to release."),
            Column("p90_days", "measure", "90th percentile of the days from receipt to release."),
        ),
        basis="released",
    )
    for year in _years(filters):
        figures = management.turnaround(_year_filters(filters, year))
        for row in figures.rows:
            if row["stage"] == "total" and row["count"]:
                table.rows.append(
                    {
                        "year": year,
                        "discipline": row["discipline"] or ALL,
                        "released": row["count"],
                        "median_days": row["median_days"],
                        "p90_days": row["p90_days"],
                    }
                )
    return table


#: Every open-data table, in the order they are published.
TABLES = (
    homicide_by_year_district,
    homicide_by_year_sex_age,
    homicide_by_year_mechanism,
    homicide_by_month,
    gender_related_by_year,
    sexual_violence_by_year_sex_age,
    firearm_cases_by_year_district,
    seized_drugs_by_year_substance,
    turnaround_by_year_discipline,
)


def tables(filters: Filters | None = None) -> list[OpenTable]:
    filters = filters or Filters()
    return [build(filters) for build in TABLES]


def data_dictionary(built: list[OpenTable] | None = None) -> dict:
    """What every table and column means, its codes, and the suppression rule."""
    built = tables() if built is None else built
    return {
        "suppression": (
            f"Counts from 1 to {THRESHOLD - 1} are replaced by '{SUPPRESSED}', and so are the measures derived "
            "from them (rates, weights, medians). Zero is published. Rows whose breakdown columns read 'ALL' are "
            "totals computed from the true counts before suppression; no secondary suppression is applied, so "
            "where a single cell of a breakdown is suppressed it can be derived from the total."
        ),
        "generated": timezone.now().strftime("%Y-%m"),
        "tables": [table.dictionary() for table in built],
    }


def publish(filters: Filters | None = None, *, built: list[OpenTable] | None = None) -> dict:
    """Every table as JSON-ready data with the data dictionary: ``{"dictionary": …, "tables": [...]}``.
    ``built``: tables already built for ``filters``."""
    built = tables(filters) if built is None else built
    return {"dictionary": data_dictionary(built), "tables": [table.as_json() for table in built]}
