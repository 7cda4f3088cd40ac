"""The two dashboards as figures: each figure is a chart and the table beneath it, built from the statistics
functions (``management``, ``homicide``, ``policy``) for one set of filters.

A dashboard is a list of sections; a section is built by one function from one computation (the homicide
section reads the victim counts once for its four figures) and holds figures, headline numbers and data-quality
notes. Pages render every section; an export (CSV, XLSX) builds only the section its figure belongs to.

Nothing here names a case: the court-date list of the management dashboard (lab numbers) is carried beside the
figures as ``Section.listing`` and the page shows it to laboratory staff only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from forensis.core.vocabulary import Sex

from . import homicide, management, policy
from .filters import Filters


@dataclass(frozen=True)
class Chart:
    """How a figure is drawn: ``series`` are the table columns plotted (one dataset each) against the first column."""

    series: tuple[str, ...]
    kind: str = "bar"  # "bar" or "line"
    stacked: bool = False
    horizontal: bool = False


#: A figure with more columns than this takes the page's full width.
WIDE_COLUMNS = 5


@dataclass
class Figure:
    """A chart and its table. ``columns`` are ``(key, heading)``; the first column labels the chart's categories."""

    key: str
    title: str
    columns: list[tuple[str, str]]
    rows: list[dict]
    chart: Chart | None = None
    note: str = ""

    @property
    def headings(self) -> list[str]:
        return [heading for _key, heading in self.columns]

    @property
    def numeric(self) -> list[bool]:
        """Per column: whether it holds numbers (right-aligned on the page) — every value given is a number."""
        return [
            all(isinstance(row.get(key), int | float) for row in self.rows if row.get(key) is not None)
            and any(row.get(key) is not None for row in self.rows)
            for key, _heading in self.columns
        ]

    @property
    def wide(self) -> bool:
        """Too many columns to share the page's width with another figure."""
        return len(self.columns) > WIDE_COLUMNS

    def header_cells(self) -> list[dict]:
        return [
            {"text": heading, "numeric": numeric} for heading, numeric in zip(self.headings, self.numeric, strict=True)
        ]

    def body_cells(self) -> list[list[dict]]:
        numeric = self.numeric
        return [[{"value": v, "numeric": n} for v, n in zip(row, numeric, strict=True)] for row in self.values()]

    def values(self) -> list[list]:
        """The table as rows of values, in column order."""
        return [[row.get(key) for key, _heading in self.columns] for row in self.rows]

    def chart_data(self) -> dict | None:
        """What the page's chart script draws (Chart.js): category labels and one dataset per series."""
        if self.chart is None:
            return None
        label_key = self.columns[0][0]
        headings = dict(self.columns)
        return {
            "type": self.chart.kind,
            "stacked": self.chart.stacked,
            "horizontal": self.chart.horizontal,
            "labels": [str(row.get(label_key, "")) for row in self.rows],
            "datasets": [
                {"label": headings[series], "data": [row.get(series) for row in self.rows]}
                for series in self.chart.series
            ],
        }

    @property
    def is_empty(self) -> bool:
        """No row has a number other than zero in a plotted column (or, without a chart, no row at all)."""
        if self.chart is None:
            return not self.rows
        return not any(row.get(series) for row in self.rows for series in self.chart.series)


@dataclass(frozen=True)
class Headline:
    """A number shown large above a section's figures (and in the bulletin, found by ``key``)."""

    key: str
    label: str
    value: object


@dataclass
class Section:
    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    headlines: list[Headline] = field(default_factory=list)
    #: Data-quality notes: (label, value).
    quality: list[tuple[str, object]] = field(default_factory=list)
    #: Rows naming cases (court dates at risk), for laboratory staff only.
    listing: list[dict] = field(default_factory=list)
    note: str = ""

    def headline(self, key: str) -> object:
        return next(headline.value for headline in self.headlines if headline.key == key)


SectionBuilder = Callable[[Filters], Section]


def builds(*keys: str) -> Callable[[SectionBuilder], SectionBuilder]:
    """Declare the figure keys a section builder makes, so that an export builds that one section only."""

    def declare(builder: SectionBuilder) -> SectionBuilder:
        builder.figure_keys = keys
        return builder

    return declare


#: What each data-quality key means, in the words the page shows.
QUALITY_LABELS: dict[str, Promise] = {
    "victims": _("Victims counted"),
    "cases": _("Cases counted"),
    "unknown_sex": _("Sex unknown"),
    "unknown_age_group": _("Age unknown"),
    "unknown_mechanism": _("Mechanism unknown"),
    "unknown_district": _("District unknown"),
    "migrated": _("From the old system (migrated)"),
    "migrated_share": _("Share migrated (%)"),
    "unreleased_autopsies": _("Homicide autopsies not yet released (not counted)"),
    "cases_without_victim": _("Cases without a recorded victim (not counted)"),
    "results_without_weight": _("Results without a net weight"),
    "items_without_amount": _("Items received without an amount"),
    "items_in_other_units": _("Items weighed in mL or units (not in the weight)"),
    "migrated_items": _("Items from the old system (migrated)"),
}


def _quality(notes: dict) -> list[tuple[str, object]]:
    return [(str(QUALITY_LABELS[key]), value) for key, value in notes.items() if key in QUALITY_LABELS]


# --- management ------------------------------------------------------------------------------------------


@builds("backlog", "age_profile")
def backlog_section(filters: Filters) -> Section:
    backlog, ages = management.open_work(filters)
    bucket_headings = [(bucket, str(_("%(range)s days") % {"range": bucket})) for bucket in ages.buckets]
    return Section(
        "backlog",
        str(_("Backlog")),
        figures=[
            Figure(
                "backlog",
                str(_("Backlog per discipline")),
                [
                    ("name", str(_("Discipline"))),
                    ("open", str(_("Without a released report"))),
                    ("over_30_days", str(_("Open more than 30 days after receipt"))),
                ],
                backlog.rows,
                Chart(("open", "over_30_days")),
            ),
            Figure(
                "age_profile",
                str(_("Age of open requests")),
                [("name", str(_("Discipline"))), *bucket_headings],
                ages.rows,
                Chart(ages.buckets, stacked=True),
            ),
        ],
        headlines=[
            Headline("open", str(_("Requests without a released report")), backlog.open),
            Headline("over_30_days", str(_("Open more than 30 days after receipt")), backlog.over_30_days),
        ],
        note=str(_("Counted at %(moment)s.") % {"moment": backlog.as_of.strftime("%Y-%m-%d %H:%M")}),
    )


@builds("turnaround_by_discipline", "turnaround_by_stage")
def turnaround_section(filters: Filters) -> Section:
    figures = management.turnaround(filters)
    summary = [
        ("count", str(_("Released"))),
        ("median_days", str(_("Median (days)"))),
        ("p90_days", str(_("90th percentile (days)"))),
    ]
    per_discipline = [row for row in figures.rows if row["stage"] == "total" and row["discipline"]]
    per_stage = figures.for_discipline(filters.discipline)
    everyone = figures.for_discipline("")
    total = next((row for row in everyone if row["stage"] == "total"), {})
    return Section(
        "turnaround",
        str(_("Turnaround")),
        figures=[
            Figure(
                "turnaround_by_discipline",
                str(_("Receipt to release, per discipline")),
                [("name", str(_("Discipline"))), *summary],
                per_discipline,
                Chart(("median_days", "p90_days")),
            ),
            Figure(
                "turnaround_by_stage",
                str(_("Days per stage")),
                [("label", str(_("Stage"))), *summary],
                per_stage,
                Chart(("median_days", "p90_days"), horizontal=True),
            ),
        ],
        headlines=[
            Headline("released", str(_("Requests released in the period")), total.get("count", 0)),
            Headline("median_days", str(_("Median days, receipt to release")), total.get("median_days")),
            Headline("p90_days", str(_("90th percentile, receipt to release")), total.get("p90_days")),
        ],
        note=str(_("Requests released in the period; the 90th percentile is by nearest rank.")),
    )


@builds("throughput_by_month", "throughput_by_analyst")
def throughput_section(filters: Filters) -> Section:
    figures = management.throughput(filters)
    per_month: dict[str, int] = defaultdict(int)
    per_analyst: dict[object, dict] = {}
    for row in figures.rows:
        per_month[row["month"]] += row["released"]
        entry = per_analyst.setdefault(row["analyst_id"], {"analyst": row["analyst"], "released": 0})
        entry[row["month"]] = row["released"]
        entry["released"] += row["released"]
    analysts = sorted(per_analyst.values(), key=lambda entry: (-entry["released"], entry["analyst"]))
    months = homicide.month_codes(filters, per_month)
    return Section(
        "throughput",
        str(_("Throughput")),
        figures=[
            Figure(
                "throughput_by_month",
                str(_("Requests released per month")),
                [("month", str(_("Month"))), ("released", str(_("Released")))],
                [{"month": month, "released": per_month.get(month, 0)} for month, _label in months],
                Chart(("released",), kind="line"),
            ),
            Figure(
                "throughput_by_analyst",
                str(_("Requests released per analyst and month")),
                [("analyst", str(_("Analyst"))), *[(m, m) for m, _label in months], ("released", str(_("Total")))],
                analysts,
                Chart(("released",), horizontal=True),
            ),
        ],
    )


@builds("outsourcing")
def outsourcing_section(filters: Filters) -> Section:
    figures = management.outsourcing_turnaround(filters)
    return Section(
        "outsourcing",
        str(_("Outsourcing")),
        figures=[
            Figure(
                "outsourcing",
                str(_("External laboratories: days from shipping to return")),
                [
                    ("laboratory", str(_("Laboratory"))),
                    ("returned", str(_("Shipments returned"))),
                    ("median_days", str(_("Median (days)"))),
                    ("p90_days", str(_("90th percentile (days)"))),
                    ("out_now", str(_("Still out"))),
                    ("longest_out_days", str(_("Longest out (days)"))),
                ],
                figures.rows,
                Chart(("median_days", "p90_days")),
            )
        ],
    )


@builds("court_dates")
def court_dates_section(filters: Filters) -> Section:
    figures = management.court_dates_at_risk(filters)
    return Section(
        "court_dates",
        str(_("Court dates at risk")),
        figures=[
            Figure(
                "court_dates",
                str(_("Open requests with a court date in the next 14 days")),
                [("name", str(_("Discipline"))), ("requests", str(_("Requests")))],
                figures.rows,
                Chart(("requests",)),
            )
        ],
        listing=figures.requests,
        note=str(
            _("From %(today)s to %(until)s, whatever the period.")
            % {"today": figures.today.isoformat(), "until": figures.until.isoformat()}
        ),
    )


# --- policy ----------------------------------------------------------------------------------------------

_SOURCES = [
    ("death_records", _("Death records (released autopsies)")),
    ("cases", _("Cases coded ICCS 0101")),
]


def _by_source(dimension_heading: str) -> list[tuple[str, str]]:
    return [
        ("label", dimension_heading),
        *[(key, str(heading)) for key, heading in _SOURCES],
        ("victims", str(_("Victims"))),
    ]


def _sex_by_age_group(crossed: list[dict]) -> tuple[list[tuple[str, str]], list[dict]]:
    """The crossed sex × age group rows as one row per age group with a column per sex."""
    rows: dict[str, dict] = {}
    for entry in crossed:
        row = rows.setdefault(entry["age_group"], {"label": entry["age_group_label"], "victims": 0})
        row[entry["sex"]] = entry["victims"]
        row["victims"] += entry["victims"]
    columns = [
        ("label", str(_("Age group"))),
        *[(code, str(label)) for code, label in Sex.choices],
        ("victims", str(_("Total"))),
    ]
    return columns, list(rows.values())


@builds("homicide_by_month", "homicide_by_sex_age", "homicide_by_mechanism", "homicide_by_district")
def homicide_section(filters: Filters) -> Section:
    victims = homicide.homicide_victims(filters)
    sex_columns, sex_rows = _sex_by_age_group(victims.by_sex_and_age_group)
    by = victims.by
    series = ("death_records", "cases")
    return Section(
        "homicide",
        str(_("Homicide victims (SDG 16.1.1)")),
        figures=[
            Figure(
                "homicide_by_month",
                str(_("Homicide victims per month")),
                _by_source(str(_("Month"))),
                by["month"],
                Chart(series, stacked=True),
            ),
            Figure(
                "homicide_by_sex_age",
                str(_("Homicide victims by sex and age group")),
                sex_columns,
                sex_rows,
                Chart(tuple(Sex.values), stacked=True),
            ),
            Figure(
                "homicide_by_mechanism",
                str(_("Homicide victims by mechanism")),
                _by_source(str(_("Mechanism"))),
                by["mechanism"],
                Chart(series, stacked=True, horizontal=True),
            ),
            Figure(
                "homicide_by_district",
                str(_("Homicide victims by district")),
                _by_source(str(_("District"))),
                by["district"],
                Chart(series, stacked=True),
            ),
        ],
        headlines=[
            Headline("victims", str(_("Homicide victims")), victims.total),
            Headline("death_records", str(_("From death records")), victims.death_records),
            Headline("cases", str(_("From cases without a death record")), victims.cases),
        ],
        quality=_quality(victims.quality),
        note=str(
            _(
                "A victim is counted once: from the released autopsy when there is a death record, otherwise from "
                "the victims of a case coded ICCS 0101. Months are of death for death records and of receipt for "
                "cases."
            )
        ),
    )


@builds("homicide_rates")
def homicide_rates_section(filters: Filters) -> Section:
    rates = homicide.homicide_rates(filters)
    rows = []
    for row in rates.rows:
        flags = []
        if row["population_missing"]:
            flags.append(str(_("no population figure")))
        if row["partial_year"]:
            flags.append(str(_("part of the year")))
        rows.append({**row, "place": f"{row['year']} · {row['label']}", "flags": ", ".join(flags)})
    return Section(
        "homicide_rates",
        str(_("Homicide rate per 100,000 population")),
        figures=[
            Figure(
                "homicide_rates",
                str(_("Homicide victims per 100,000 population, per year and place")),
                [
                    ("place", str(_("Year and place"))),
                    ("victims", str(_("Victims"))),
                    ("population", str(_("Population"))),
                    ("rate", str(_("Rate per 100,000"))),
                    ("flags", str(_("Notes"))),
                ],
                rows,
                Chart(("rate",), horizontal=True),
            )
        ],
        note=str(
            _(
                "Victims whose district is unknown count in the country's rate only. A rate over part of a year is "
                "not an annual rate. Administrators keep the population figures."
            )
        ),
    )


@builds("gender_related")
def gender_related_section(filters: Filters) -> Section:
    rows = homicide.gender_related_table(filters)
    return Section(
        "gender_related",
        str(_("Gender-related killings of women and girls (SDG 5)")),
        figures=[
            Figure(
                "gender_related",
                str(_("Female homicide victims by the framework's variables")),
                [("label", str(_("Variable"))), ("victims", str(_("Victims")))],
                rows,
                Chart(("victims",), horizontal=True),
            )
        ],
        note=str(
            _(
                "UNODC–UN Women statistical framework: released autopsies of female victims; a victim may show "
                "several relationships and indicators."
            )
        ),
    )


@builds("sexual_violence_by_sex_age", "sexual_violence_by_month", "sexual_violence_by_district")
def sexual_violence_section(filters: Filters) -> Section:
    figures = policy.sexual_violence(filters)
    sex_columns, sex_rows = _sex_by_age_group(figures.by_sex_and_age_group)
    cases_column = ("cases", str(_("Cases")))
    return Section(
        "sexual_violence",
        str(_("Sexual violence (SDG 5.2)")),
        figures=[
            Figure(
                "sexual_violence_by_sex_age",
                str(_("Victims by sex and age group")),
                sex_columns,
                sex_rows,
                Chart(tuple(Sex.values), stacked=True),
            ),
            Figure(
                "sexual_violence_by_month",
                str(_("Cases per month")),
                [("month", str(_("Month"))), cases_column],
                figures.cases_by_month,
                Chart(("cases",), kind="line"),
            ),
            Figure(
                "sexual_violence_by_district",
                str(_("Cases by district")),
                [("label", str(_("District"))), cases_column],
                figures.cases_by_district,
                Chart(("cases",)),
            ),
        ],
        headlines=[
            Headline("cases", str(_("Cases")), figures.cases),
            Headline("victims", str(_("Victims")), figures.victims),
        ],
        quality=_quality(figures.quality),
        note=str(_("Cases coded ICCS 0301 or a sub-code, by the month the laboratory received them.")),
    )


@builds("seized_drugs")
def seized_drugs_section(filters: Filters) -> Section:
    figures = policy.seized_drugs(filters)
    return Section(
        "seized_drugs",
        str(_("Seized drugs")),
        figures=[
            Figure(
                "seized_drugs",
                str(_("Substances identified in released analyses")),
                [
                    ("substance", str(_("Substance"))),
                    ("items", str(_("Items analysed"))),
                    ("net_weight_g", str(_("Net weight (g)"))),
                ],
                figures.by_substance,
                Chart(("net_weight_g",), horizontal=True),
            )
        ],
        headlines=[
            Headline("items_received", str(_("Seized-drug items received")), figures.received.get("items", 0)),
            Headline("weight_received_g", str(_("Weight received (g)")), figures.received.get("weight_g", 0)),
        ],
        quality=_quality(figures.quality),
    )


@builds("firearms_by_month", "firearms_by_district", "firearms_by_source")
def firearm_section(filters: Filters) -> Section:
    figures = policy.firearm_cases(filters)
    cases_column = ("cases", str(_("Cases")))
    return Section(
        "firearms",
        str(_("Firearm cases")),
        figures=[
            Figure(
                "firearms_by_month",
                str(_("Firearm cases per month")),
                [("month", str(_("Month"))), cases_column],
                figures.by_month,
                Chart(("cases",), kind="line"),
            ),
            Figure(
                "firearms_by_district",
                str(_("Firearm cases by district")),
                [("label", str(_("District"))), cases_column],
                figures.by_district,
                Chart(("cases",)),
            ),
            Figure(
                "firearms_by_source",
                str(_("How the cases were found")),
                [("label", str(_("Found by"))), cases_column],
                figures.by_source,
                Chart(("cases",)),
            ),
        ],
        headlines=[Headline("cases", str(_("Firearm cases")), figures.cases)],
        quality=_quality(figures.quality),
        note=str(_("Cases coded ICCS 0901 or a sub-code, or with a firearm among their items.")),
    )


@dataclass(frozen=True)
class Dashboard:
    key: str
    title: Promise
    sections: tuple[SectionBuilder, ...]
    #: Whether the discipline filter means anything here (the policy figures are not per discipline).
    filtered_by_discipline: bool = True

    def build(self, filters: Filters) -> list[Section]:
        return [build(filters) for build in self.sections]

    def figure(self, key: str, filters: Filters) -> Figure | None:
        """One figure (for an export), building only its section; None when the dashboard has no such figure."""
        builder = next((builder for builder in self.sections if key in builder.figure_keys), None)
        if builder is None:
            return None
        section = builder(filters)
        figure = next(figure for figure in section.figures if figure.key == key)
        figure.note = figure.note or section.note
        return figure


MANAGEMENT = Dashboard(
    "management",
    _("Laboratory management"),
    (backlog_section, turnaround_section, throughput_section, outsourcing_section, court_dates_section),
)
POLICY = Dashboard(
    "policy",
    _("Policy indicators"),
    (
        homicide_section,
        homicide_rates_section,
        gender_related_section,
        sexual_violence_section,
        seized_drugs_section,
        firearm_section,
    ),
    filtered_by_discipline=False,
)
DASHBOARDS = {dashboard.key: dashboard for dashboard in (MANAGEMENT, POLICY)}
