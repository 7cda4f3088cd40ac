"""Open data: small cells suppressed, totals from the true counts, no names or numbers, CSV and JSON with a
data dictionary."""

from __future__ import annotations

import csv
import io
import json

from forensis.statistics import opendata
from forensis.statistics.filters import Filters
from forensis.statistics.opendata import SUPPRESSED, Column, OpenTable
from forensis.statistics.services import set_population

PERIOD = Filters(month_from="2026-01", month_to="2026-12")


def test_cells_from_one_to_four_are_suppressed_with_what_derives_from_them():
    table = OpenTable(
        "t",
        "T",
        "",
        (
            Column("district", "dimension", ""),
            Column("victims", "count", ""),
            Column("rate", "measure", ""),
            Column("flag", "dimension", ""),
        ),
        basis="victims",
        rows=[
            {"district": "A", "victims": 0, "rate": 0.0, "flag": True},
            {"district": "B", "victims": 1, "rate": 0.8, "flag": False},
            {"district": "C", "victims": 4, "rate": 3.2, "flag": False},
            {"district": "D", "victims": 5, "rate": 4.0, "flag": True},
            {"district": "E", "victims": 12, "rate": None, "flag": False},
        ],
    )
    assert [(r["victims"], r["rate"], r["flag"]) for r in table.suppressed()] == [
        (0, 0.0, True),  # zero describes no one
        (SUPPRESSED, SUPPRESSED, False),
        (SUPPRESSED, SUPPRESSED, False),
        (5, 4.0, True),
        (12, None, False),
    ]
    assert table.rows[1]["victims"] == 1  # the true count is kept for totals
    assert table.csv().splitlines() == [
        "district,victims,rate,flag",
        "A,0,0.0,True",
        "B,<5,<5,False",
        "C,<5,<5,False",
        "D,5,4.0,True",
        "E,12,,False",
    ]


def test_homicide_tables_with_totals_before_suppression(homicides, statistics_admin):
    set_population(statistics_admin, district="", year=2026, population=400_000)
    set_population(statistics_admin, district="BZ", year=2026, population=125_000)
    set_population(statistics_admin, district="CY", year=2026, population=100_000)
    by_district = {row["district"]: row for row in opendata.homicide_by_year_district(PERIOD).suppressed()}
    assert (by_district["ALL"]["victims"], by_district["ALL"]["rate_per_100k"]) == (8, 2.0)
    assert (by_district["BZ"]["victims"], by_district["BZ"]["rate_per_100k"]) == (5, 4.0)
    assert (by_district["CY"]["victims"], by_district["CY"]["rate_per_100k"]) == (SUPPRESSED, SUPPRESSED)
    assert (by_district["OW"]["victims"], by_district["OW"]["rate_per_100k"]) == (0, None)  # no population
    assert by_district["unknown"]["victims"] == SUPPRESSED

    sex_age = opendata.homicide_by_year_sex_age(PERIOD)
    published = {(r["sex"], r["age_group"]): r["victims"] for r in sex_age.suppressed()}
    # Totals come from the true counts: 8 in all, 4 men — though every cell of theirs is below 5.
    assert published[("ALL", "ALL")] == 8
    assert published[("M", "ALL")] == SUPPRESSED  # 4
    assert published[("F", "15-29")] == SUPPRESSED  # 2
    assert sum(r["victims"] for r in sex_age.rows if r["sex"] != "ALL" and r["age_group"] != "ALL") == 8

    by_month = {r["month"]: r["victims"] for r in opendata.homicide_by_month(PERIOD).suppressed()}
    assert by_month["2026-01"] == SUPPRESSED and by_month["2026-05"] == 0 and len(by_month) == 12


def test_nothing_identifying_is_published(homicides):
    published = json.dumps(opendata.publish(PERIOD), default=str)
    for death in homicides.deaths.values():
        assert death.number not in published
        assert death.case.lab_number not in published
        assert death.case.agency_case_number not in published
        if death.decedent_name:
            assert death.decedent_name not in published
    for case in homicides.cases.values():
        assert case.lab_number not in published and case.agency_case_number not in published
    assert "Named person" not in published and "Legacy person" not in published
    assert "2026-01-10" not in published and "T-2026-77" not in published  # no exact date, no tag number


def test_csv_json_and_the_data_dictionary(homicides):
    built = opendata.tables(PERIOD)
    assert [t.name for t in built] == [
        "homicide_victims_by_year_district",
        "homicide_victims_by_year_sex_age_group",
        "homicide_victims_by_year_mechanism",
        "homicide_victims_by_month",
        "gender_related_killings_by_year",
        "sexual_violence_victims_by_year_sex_age_group",
        "firearm_cases_by_year_district",
        "seized_drugs_by_year_substance",
        "laboratory_turnaround_by_year_discipline",
    ]
    for table in built:
        rows = list(csv.DictReader(io.StringIO(table.csv())))
        assert list(rows[0]) == table.column_names if rows else True
        assert table.as_json()["columns"] == table.column_names
    dictionary = opendata.data_dictionary(built)
    assert "before suppression" in dictionary["suppression"]
    described = {t["name"]: t for t in dictionary["tables"]}
    assert set(described) == {t.name for t in built}
    sex = next(c for c in described["homicide_victims_by_year_sex_age_group"]["columns"] if c["name"] == "sex")
    assert sex["codes"]["F"] == "Female" and sex["codes"]["ALL"] == "All (total row)"
    document = opendata.publish(PERIOD)
    assert set(document) == {"dictionary", "tables"}
    json.dumps(document)  # JSON-ready as it is
