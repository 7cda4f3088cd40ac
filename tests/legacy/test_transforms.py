"""Reading legacy values: transforms, maps, dates, numbers, units, defaults; every problem of a row, in words."""

from __future__ import annotations

import textwrap
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from forensis.legacy.mapping import EntitySpec, FieldSpec, load_mapping
from forensis.legacy.sources import Row
from forensis.legacy.transforms import (
    FieldProblem,
    RowProblem,
    apply_transforms,
    describe_format,
    read_field,
    read_record,
    read_unit,
)

BELIZE = ZoneInfo("America/Belize")  # the test settings' TIME_ZONE
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=BELIZE)

MAPS = {
    "districts": {"belize": "BZ", "belize city": "BZ", "cayo": "CY", "san ignacio": "CY"},
    "offences": {"cocaine": "0601", "cannabis": "0601", "murder": "0101", "unknown": ""},
    "units": {"g": "g", "grams": "g", "kg": "kg", "gramos": "g", "?": ""},
    "agencies": {"belize police": "BPD-BZ"},
}


def row(**values: str | None) -> Row:
    return Row(number=7, values=values)


def read(spec: FieldSpec, value: str | None, now: datetime = NOW):
    return read_field(spec, row(**{spec.column or "X": value}), MAPS, now=now)


def problem(spec: FieldSpec, value: str | None, now: datetime = NOW) -> RowProblem:
    with pytest.raises(FieldProblem) as caught:
        read(spec, value, now)
    assert str(caught.value) == caught.value.problem.reason
    return caught.value.problem


@pytest.fixture(autouse=True)
def belize_time(settings):
    settings.TIME_ZONE = "America/Belize"


def test_trim_upper_digits_title_lower():
    assert apply_transforms("  ab  12 \t/ 03 ", ("trim", "upper")) == "AB 12 / 03"
    assert apply_transforms("Line one  \n  line two ", ("trim",)) == "Line one\nline two"
    assert apply_transforms("Lab no. 2003/0012", ("digits",)) == "20030012"
    assert apply_transforms("JUAN pérez", ("lower", "title")) == "Juan Pérez"
    spec = FieldSpec(name="lab_number", column="CaseNo", transforms=("trim", "upper"))
    assert read(spec, " nf-03/12  ") == "NF-03/12"
    assert read(FieldSpec(name="town", column="Town"), " as is ") == " as is "  # no transform, no change


def test_empty_cells_are_none_or_the_default():
    town = FieldSpec(name="town", column="Town")
    assert read(town, None) is None
    assert read(town, "   ") is None
    agency = FieldSpec(name="agency", column="Agency", map="agencies", default="BPD-BZ")
    assert read(agency, "") == "BPD-BZ"  # the default is the code itself
    assert read(agency, "Belize  POLICE") == "BPD-BZ"
    constant = FieldSpec(name="agency", column="", default="BPD-BZ")  # no column: the same on every row
    assert read_field(constant, row(Other="x"), MAPS, now=NOW) == "BPD-BZ"
    received = FieldSpec(name="received_at", column="D", dates=("%d/%m/%Y",), default="01/01/2000")
    assert read(received, None) == date(2000, 1, 1)
    age = FieldSpec(name="age", column="Age", number=True, default="0")
    assert read(age, "") == Decimal("0")
    offences = FieldSpec(name="offences", column="O", split=";", map="offences", default="0101; 0601")
    assert read(offences, None) == ["0101", "0601"]


def test_transforms_that_leave_nothing_reject_the_value_unless_allowed():
    age = FieldSpec(name="age", column="Age", transforms=("digits",), number=True)
    assert problem(age, "n/a") == RowProblem("Age", "n/a", "'n/a' is left empty by the transforms (digits)")
    allowed = FieldSpec(name="age", column="Age", transforms=("digits", "none_if_empty"), number=True)
    assert read(allowed, "n/a") is None
    assert read(allowed, "35 yrs") == Decimal("35")


def test_map_lookup_ignores_case_accents_and_spaces():
    district = FieldSpec(name="district", column="District", map="districts")
    assert read(district, "Belize City") == "BZ"
    assert read(district, "  belize   CITY ") == "BZ"
    assert read(district, "San Ígnacio") == "CY"
    assert read(district, "CAYO\u00a0") == "CY"


def test_a_value_not_in_the_map_is_rejected_naming_the_map():
    district = FieldSpec(name="district", column="District", map="districts")
    assert problem(district, " Belise ") == RowProblem("District", " Belise ", "'Belise' is not in the map 'districts'")


def test_split_and_map():
    offences = FieldSpec(name="offences", column="Offence", split=";", transforms=("trim",), map="offences")
    assert read(offences, "Cocaine; murder;") == ["0601", "0101"]
    assert read(offences, "cannabis") == ["0601"]
    assert read(offences, "unknown") is None  # mapped to "" (no value) and no default
    assert read(offences, "Unknown; Murder") == ["0101"]
    assert problem(offences, "Cocaine; Robery; Arsen") == RowProblem(
        "Offence", "Cocaine; Robery; Arsen", "'Robery', 'Arsen' are not in the map 'offences'"
    )
    unmapped = FieldSpec(name="offences", column="Offence", split="/", transforms=("trim", "upper"))
    assert read(unmapped, "0101 / 0601 /") == ["0101", "0601"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("04/03/2019", date(2019, 3, 4)),  # day first
        ("4/3/2019", date(2019, 3, 4)),
        ("04-03-19", date(2019, 3, 4)),  # two-digit year as Python reads it
        ("04-03-98", date(1998, 3, 4)),
        (" 29.02.2020 ", date(2020, 2, 29)),
        ("12 Mar 2019", date(2019, 3, 12)),
    ],
)
def test_several_date_formats_day_first(text, expected):
    spec = FieldSpec(name="received_at", column="D", dates=("%d/%m/%Y", "%d-%m-%y", "%d.%m.%Y", "%d %b %Y"))
    assert read(spec, text) == expected


def test_impossible_and_unreadable_dates_are_rejected():
    spec = FieldSpec(name="received_at", column="DateRecd", dates=("%d/%m/%Y", "%d-%m-%y"))
    reason = "'31/02/2019' is not a date in any of the formats DD/MM/YYYY, DD-MM-YY"
    assert problem(spec, "31/02/2019") == RowProblem("DateRecd", "31/02/2019", reason)
    assert problem(spec, "29/02/2019").reason.startswith("'29/02/2019' is not a date")
    assert problem(spec, "03/13/2019").reason.startswith("'03/13/2019' is not a date")  # month first: no
    assert problem(spec, "yesterday").reason.startswith("'yesterday' is not a date")


def test_future_dates_are_rejected():
    day = FieldSpec(name="received_at", column="D", dates=("%d/%m/%Y",))
    assert read(day, "01/06/2024") == date(2024, 6, 1)  # today is not the future
    assert problem(day, "02/06/2024") == RowProblem("D", "02/06/2024", "'02/06/2024' is in the future")
    two_digits = FieldSpec(name="received_at", column="D", dates=("%d-%m-%y",))
    assert problem(two_digits, "01-01-45").reason == "'01-01-45' is in the future"  # %y: 45 is 2045
    moment = FieldSpec(name="incident_at", column="D", dates=("%d/%m/%Y %H:%M",))
    assert read(moment, "01/06/2024 11:59") == datetime(2024, 6, 1, 11, 59, tzinfo=BELIZE)
    assert problem(moment, "01/06/2024 12:01").reason == "'01/06/2024 12:01' is in the future"
    # "Future" is against the time given (by default: now).
    assert read(day, "02/06/2024", now=datetime(2024, 6, 2, 0, 30, tzinfo=BELIZE)) == date(2024, 6, 2)
    assert problem(day, "31/12/2999", now=None).reason == "'31/12/2999' is in the future"


def test_a_format_with_a_time_gives_an_aware_datetime_in_the_lab_time_zone():
    spec = FieldSpec(name="received_at", column="D", dates=("%d/%m/%Y %H:%M", "%d/%m/%Y"))
    value = read(spec, "04/03/2019 14:30")
    assert value == datetime(2019, 3, 4, 14, 30, tzinfo=BELIZE)
    assert value.tzinfo is not None and value.utcoffset().total_seconds() == -6 * 3600
    plain = read(spec, "04/03/2019")
    assert type(plain) is date and plain == date(2019, 3, 4)
    iso = FieldSpec(name="received_at", column="D", dates=("%Y-%m-%d %H:%M:%S%z",))
    assert read(iso, "2019-03-04 20:30:00+0000") == datetime(2019, 3, 4, 14, 30, tzinfo=BELIZE)


def test_describe_format():
    assert describe_format("%d/%m/%Y %H:%M") == "DD/MM/YYYY hh:mm"
    assert describe_format("%d %b %y, %I %p %%") == "DD Mon YY, hh AM/PM %"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12,5", "12.5"), ("12.5", "12.5"), (" 3 ", "3"), ("-0,25", "-0.25"), (",5", "0.5"), ("0,125", "0.125")],
)
def test_numbers_with_a_comma_or_a_point(text, expected):
    assert read(FieldSpec(name="amount", column="W", number=True), text) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("12,5 g", "'12,5 g' is not a number"),
        ("1.234,5", "'1.234,5' is not a number"),
        ("abc", "'abc' is not a number"),
        ("NaN", "'NaN' is not a number"),
        ("1,250", "'1,250' can be read two ways (with a decimal or a thousands separator)"),
        ("1.250", "'1.250' can be read two ways (with a decimal or a thousands separator)"),
    ],
)
def test_what_is_not_a_number(text, reason):
    assert problem(FieldSpec(name="amount", column="W", number=True), text) == RowProblem("W", text, reason)


def test_a_declared_decimal_separator_allows_thousands():
    comma = FieldSpec(name="amount", column="W", number=True, decimal=",")
    assert read(comma, "1.250") == Decimal("1250")
    assert read(comma, "1.234.567,89") == Decimal("1234567.89")
    assert read(comma, "1,250") == Decimal("1.250")
    assert problem(comma, "1,234.5").reason == "'1,234.5' is not a number"
    point = FieldSpec(name="amount", column="W", number=True, decimal=".")
    assert read(point, "1,250") == Decimal("1250")
    assert read(point, "1.250") == Decimal("1.250")
    assert problem(point, "12,50").reason == "'12,50' is not a number"


def test_unit_mapping():
    amount = FieldSpec(name="amount", column="Weight", number=True, unit="WUnit", units="units")
    assert read_unit(amount, row(Weight="12,5", WUnit=" Gramos "), MAPS) == "g"
    assert read_unit(amount, row(Weight="2", WUnit="KG"), MAPS) == "kg"
    assert read_unit(amount, row(Weight=None, WUnit="kg"), MAPS) is None  # no amount, no unit
    with pytest.raises(FieldProblem) as caught:
        read_unit(amount, row(Weight="12,5", WUnit=None), MAPS)
    assert caught.value.problem == RowProblem("WUnit", "", "'12,5' has no unit (WUnit is empty)")
    with pytest.raises(FieldProblem) as caught:
        read_unit(amount, row(Weight="12,5", WUnit="lbs"), MAPS)
    assert caught.value.problem == RowProblem("WUnit", "lbs", "'lbs' is not in the map 'units'")
    with pytest.raises(FieldProblem) as caught:
        read_unit(amount, row(Weight="12,5", WUnit="?"), MAPS)
    assert caught.value.problem.reason == "'12,5' has no unit ('?' is not a unit)"


def mapping_entity(tmp_path, entity: str):
    path = tmp_path / "mapping.toml"
    path.write_text(
        textwrap.dedent(
            """
            [source]
            name = "old"
            kind = "csv"
            path = "."

            [cases]
            table = "cases.csv"
            key = "CaseID"
            fields.lab_number = { column = "CaseNo", transforms = ["trim", "upper"] }
            fields.agency = { column = "Agency", map = "agencies", default = "BPD-BZ" }
            fields.received_at = { column = "Recd", dates = ["%d/%m/%Y", "%d/%m/%Y %H:%M"] }
            fields.district = { column = "District", map = "districts" }
            fields.offences = { column = "Offence", split = ";", map = "offences" }

            [items]
            table = "items.csv"
            key = "ItemID"
            case = "CaseID"
            fields.type = { column = "Type" }
            fields.description = { column = "Descr", transforms = ["trim"] }
            fields.amount = { column = "Weight", number = true, unit = "WUnit", units = "units" }

            [maps.districts]
            "Belize" = "BZ"
            [maps.offences]
            "Cocaine" = "0601"
            [maps.agencies]
            "Belize Police" = "BPD-BZ"
            [maps.units]
            "g" = "g"
            """
        ),
        encoding="utf-8",
    )
    mapping = load_mapping(path)
    return mapping.entities[entity], mapping.maps


def test_read_record_reads_every_field_and_the_keys(tmp_path):
    cases, maps = mapping_entity(tmp_path, "cases")
    values = {
        "CaseID": " 17 ",
        "CaseNo": " nf-03/12 ",
        "Agency": None,
        "Recd": "04/03/2019 14:30",
        "District": "belize",
        "Offence": "cocaine",
        "Other": "not mapped",
    }
    record, problems = read_record(cases, Row(number=2, values=values), maps, now=NOW)
    assert problems == []
    assert record == {
        "_key": "17",
        "lab_number": "NF-03/12",
        "agency": "BPD-BZ",
        "received_at": datetime(2019, 3, 4, 14, 30, tzinfo=BELIZE),
        "district": "BZ",
        "offences": ["0601"],
    }

    items, maps = mapping_entity(tmp_path, "items")
    values = {"ItemID": "A1", "CaseID": "17", "Type": "drug", "Descr": "bag ", "Weight": "12,5", "WUnit": "G"}
    record, problems = read_record(items, Row(number=3, values=values), maps, now=NOW)
    assert problems == []
    assert record == {
        "_key": "A1",
        "_case": "17",
        "type": "drug",
        "description": "bag",
        "amount": Decimal("12.5"),
        "amount_unit": "g",
    }


def test_read_record_collects_every_problem_of_a_row(tmp_path):
    cases, maps = mapping_entity(tmp_path, "cases")
    values = {
        "CaseID": "  ",
        "CaseNo": None,
        "Agency": "Police of Mars",
        "Recd": "31/02/2019",
        "District": "Belise",
        "Offence": "Cocaine;Arson",
    }
    source_row = Row(number=9, values=values, problem="the row has 7 values but the header has 6 columns")
    record, problems = read_record(cases, source_row, maps, now=NOW)
    assert problems == [
        RowProblem("", "", "the row has 7 values but the header has 6 columns"),
        RowProblem("CaseID", "  ", "missing key"),
        RowProblem("CaseNo", "", "lab number is empty"),
        RowProblem("Agency", "Police of Mars", "'Police of Mars' is not in the map 'agencies'"),
        RowProblem(
            "Recd", "31/02/2019", "'31/02/2019' is not a date in any of the formats DD/MM/YYYY, DD/MM/YYYY hh:mm"
        ),
        RowProblem("District", "Belise", "'Belise' is not in the map 'districts'"),
        RowProblem("Offence", "Cocaine;Arson", "'Arson' is not in the map 'offences'"),
    ]
    assert record["_key"] is None and record["received_at"] is None

    items, maps = mapping_entity(tmp_path, "items")
    values = {"ItemID": "A1", "CaseID": None, "Type": "drug", "Descr": "  ", "Weight": "12,5 g", "WUnit": None}
    record, problems = read_record(items, Row(number=3, values=values), maps, now=NOW)
    assert problems == [
        RowProblem("CaseID", "", "missing case key"),
        RowProblem("Descr", "  ", "description is empty"),
        RowProblem("Weight", "12,5 g", "'12,5 g' is not a number"),
        RowProblem("WUnit", "", "'12,5 g' has no unit (WUnit is empty)"),
    ]
    assert record["amount"] is None and record["amount_unit"] is None


def test_result_and_location_rows_read_their_item_key():
    entity = EntitySpec(
        name="locations",
        table="items.csv",
        query=None,
        key="ItemID",
        case="CaseID",
        item="ItemID",
        fields={"location": FieldSpec(name="location", column="Store", transforms=("trim",))},
    )
    record, problems = read_record(entity, row(ItemID=" A1 ", CaseID="17", Store=" Vault 2 "), {}, now=NOW)
    assert problems == []
    assert record == {"_key": "A1", "_case": "17", "_item": "A1", "location": "Vault 2"}
    record, problems = read_record(entity, row(ItemID=None, CaseID="17", Store=None), {}, now=NOW)
    assert [p.reason for p in problems] == ["missing key", "missing item key", "location is empty"]
