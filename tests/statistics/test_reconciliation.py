"""The police homicide list: parsed whole or refused whole, then lined up with Forensis per month and district."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from forensis.statistics import reconciliation
from forensis.statistics.filters import Filters
from forensis.statistics.reconciliation import PoliceListError, parse_police_list, reconcile

HEADER = "police_reference,date_of_death,district,sex,age,victim_name\n"


def test_a_good_list_is_read_whole():
    records = parse_police_list(
        (
            "\ufeffPolice Reference;Date of death;District;Sex;Age\n"
            "BZ-STAT-001;10/01/2026;Belize;F;27\n"
            "\n"
            "CY 123;2026-02-05;cayo district;male;\n"
            "X-9;5.3.2026;TOL;;\n"
        ).encode()
    )
    assert [(r.line, r.reference, str(r.date_of_death), r.district, r.sex, r.age) for r in records] == [
        (2, "BZ-STAT-001", "2026-01-10", "BZ", "F", 27),
        (4, "CY 123", "2026-02-05", "CY", "M", None),
        (5, "X-9", "2026-03-05", "TOL", "U", None),
    ]


def test_a_windows_1252_list_is_read():
    records = parse_police_list((HEADER + "Q1,2026-01-02,Orange Walk,F,30,María Pérez\n").encode("cp1252"))
    assert records[0].victim_name == "María Pérez"


def test_every_fault_is_listed_and_nothing_is_used():
    text = HEADER + (
        "A1,2026-01-10,BZ,F,27,\n"  # good
        ",31/02/2026,Belize,X,200,\n"  # no reference, no such date, bad sex, bad age
        "A3,2099-01-01,Gotham,M,30,\n"  # future date, no such district
        "A4,10 Jan 2026,CY,M,abc,\n"  # not a date, not an age
    )
    with pytest.raises(PoliceListError) as refused:
        parse_police_list(text)
    assert [(e.line, e.column) for e in refused.value.row_errors] == [
        (3, "police_reference"),
        (3, "date_of_death"),
        (3, "sex"),
        (3, "age"),
        (4, "date_of_death"),
        (4, "district"),
        (5, "date_of_death"),
        (5, "age"),
    ]
    assert refused.value.messages[4] == "Line 4, date_of_death: The date is in the future."


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "File: The file is empty."),
        (b"reference,date\nA,2026-01-01\n", "Line 1, police_reference: This column is missing from the header row."),
        (HEADER.encode(), "File: The list has no rows."),
        (b"x" * (reconciliation.MAX_BYTES + 1), "File: The file is larger than 5 MB."),
    ],
)
def test_unreadable_lists_are_refused(content, message):
    with pytest.raises(PoliceListError) as refused:
        parse_police_list(content)
    assert refused.value.messages[0] == message


def test_reconciliation_matches_and_lists_what_each_side_lacks(homicides):
    police = parse_police_list(
        HEADER
        + (
            "bz stat 001,2026-01-10,BZ,F,27,\n"  # D1 by reference (written differently)
            "BZ-STAT-002,2026-01-20,BZ,M,34,\n"  # D2 by reference
            "CR-555,2026-02-05,Cayo,M,22,\n"  # D3 by date, district and sex (the police number differs)
            "BZ-K2-26,2026-03-02,BZ,F,16,\n"  # K2's girl by reference (two victims on that case: same sex preferred)
            "CR-777,2026-03-02,BZ,M,,\n"  # K2's man by date, district and sex (case incident date)
            "OW-1,2026-03-31,OW,F,50,\n"  # D4: its autopsy is not released, so Forensis does not count it yet
            "BZ-999,2026-02-20,BZ,M,19,\n"  # a death Forensis has no record of
        )
    )
    result = reconcile(police, Filters(month_from="2026-01", month_to="2026-04"))
    pairs = {(m.police.reference, m.forensis.reference, m.rule) for m in result.matches}
    deaths, cases = homicides.deaths, homicides.cases
    assert pairs == {
        ("bz stat 001", deaths[1].number, "reference"),
        ("BZ-STAT-002", deaths[2].number, "reference"),
        ("CR-555", deaths[3].number, "date_district_sex"),
        ("BZ-K2-26", cases["K2"].lab_number, "reference"),
        ("CR-777", cases["K2"].lab_number, "date_district_sex"),
    }
    girl = next(m for m in result.matches if m.police.reference == "BZ-K2-26")
    assert girl.forensis.sex == "F"
    assert sorted(r.reference for r in result.police_only) == ["BZ-999", "OW-1"]
    # Forensis's victims the police list lacks: D6 (unidentified), K1 (legacy, Cayo), K5 (legacy, unknown district).
    assert sorted(r.reference for r in result.forensis_only) == sorted(
        [deaths[6].number, cases["K1"].lab_number, cases["K5"].lab_number]
    )
    rows = {(row["month"], row["district"]): row for row in result.rows}
    assert rows[("2026-01", "BZ")] == {
        "month": "2026-01",
        "district": "BZ",
        "police": 2,
        "forensis": 2,
        "matched": 2,
        "police_only": 0,
        "forensis_only": 0,
        "difference": 0,
    }
    assert (rows[("2026-02", "BZ")]["police"], rows[("2026-02", "BZ")]["forensis"]) == (1, 0)
    assert (rows[("2026-02", "CY")]["police"], rows[("2026-02", "CY")]["forensis"]) == (1, 2)  # D3, K1
    assert (rows[("2026-03", "OW")]["police_only"], rows[("2026-03", "OW")]["difference"]) == (1, 1)
    assert (rows[("2026-01", "unknown")]["forensis_only"], rows[("2026-04", "BZ")]["forensis_only"]) == (1, 1)
    assert result.totals == {"police": 7, "forensis": 8, "matched": 5, "police_only": 2, "forensis_only": 3}
    assert [row["month"] for row in result.rows][::4] == ["2026-01", "2026-02", "2026-03", "2026-04"]


def test_rows_outside_the_period_or_district_are_not_compared(homicides):
    police = parse_police_list(HEADER + "BZ-STAT-001,2026-01-10,BZ,F,27,\nCR-555,2026-02-05,CY,M,22,\n")
    result = reconcile(police, Filters(month_from="2026-02", month_to="2026-02", district="CY"))
    assert result.outside_period == 1
    assert [(m.police.reference, m.rule) for m in result.matches] == [("CR-555", "date_district_sex")]
    assert sorted(r.reference for r in result.forensis_only) == [homicides.cases["K1"].lab_number]
    # Without a period the list's own months are compared.
    assert (reconcile(police).first_month, reconcile(police).last_month) == ("2026-01", "2026-02")


@pytest.mark.django_db
def test_reconciling_no_rows_without_a_period_is_refused():
    with pytest.raises(ValidationError) as refused:
        reconcile([])
    assert refused.value.message_dict == {"month_from": ["The list has no rows; give a period to compare over."]}
    assert reconcile([], Filters(month_from="2026-01", month_to="2026-01")).totals["police"] == 0
