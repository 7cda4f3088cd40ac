"""The mapping file: a valid one loads as docs/legacy.md says; every mistake is named by its key path, all at once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from forensis.legacy.mapping import (
    ENTITIES,
    FIELDS,
    REQUIRED_FIELDS,
    TRANSFORMS,
    FieldSpec,
    MappingError,
    load_mapping,
    normalise_text,
    time_in_format,
)
from forensis.legacy.transforms import TRANSFORM_FUNCTIONS

FULL = """
[source]
name = "nfss-access-2003"
kind = "csv"
path = "data"
encoding = "cp1252"
delimiter = ";"

[cases]
table = "cases.csv"
key = "CaseID"

[cases.fields]
lab_number = { column = "CaseNo", transforms = ["trim", "upper"] }
received_at = { column = "DateRecd", dates = ["%d/%m/%Y", "%d-%m-%y", "%d.%m.%Y"] }
district = { column = "District", map = "districts" }
offences = { column = "Offence", split = ";", map = "offences" }
agency = { column = "Agency", map = "agencies", default = "BPD-BZ" }
town = "Town"
narrative = { column = "Remarks", transforms = ["trim"] }

[people]
table = "people.csv"
key = "PersonID"
case = "CaseID"

[people.fields]
role = { column = "Role", map = "roles" }
name = { column = "Name", transforms = ["trim", "title"] }
age = { column = "Age", transforms = ["digits", "none_if_empty"], number = true }

[items]
table = "items.csv"
key = "ItemID"
case = "CaseID"

[items.fields]
type = { column = "Type", map = "item_types" }
description = { column = "Descr" }
amount = { column = "Weight", number = true, decimal = ",", unit = "WUnit", units = "units" }

[results]
table = "results.csv"
key = "ResultID"
case = "CaseID"
item = "ItemID"

[results.fields]
discipline = { column = "Section", map = "disciplines", default = "DRUGS" }
result = { column = "Finding" }
reported_at = { column = "Reported", dates = ["%d/%m/%Y %H:%M"] }

[locations]
table = "items.csv"
key = "ItemID"
case = "CaseID"
item = "ItemID"

[locations.fields]
location = { column = "Store" }

[maps.districts]
"Belize" = "BZ"
"Belize City" = "BZ"
"Cayo" = "CY"
"San Ignacio" = "CY"
"Orange Walk" = "OW"

[maps.offences]
"Cocaine" = "0601"
"Cannabis" = "0601"
"Murder" = "0101"
"unknown" = ""

[maps.agencies]
"Belize Police" = "BPD-BZ"

[maps.roles]
"Victim" = "victim"
"Suspect" = "suspect"

[maps.item_types]
"Plant material" = "plant"

[maps.disciplines]
"Drugs" = "DRUGS"

[maps.units]
"g" = "g"
"grams" = "g"
"Kg" = "kg"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(MappingError) as caught:
        load_mapping(write(tmp_path, text))
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def replace(old: str, new: str, text: str = FULL) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_a_full_mapping_loads(tmp_path):
    mapping = load_mapping(write(tmp_path, FULL))

    assert mapping.path == tmp_path / "mapping.toml"
    assert mapping.source.name == "nfss-access-2003"
    assert mapping.source.kind == "csv"
    assert mapping.source.path == tmp_path / "data"  # relative to the mapping file
    assert (mapping.source.encoding, mapping.source.delimiter) == ("cp1252", ";")
    assert list(mapping.entities) == list(ENTITIES)

    cases = mapping.entities["cases"]
    assert (cases.table, cases.query, cases.key, cases.case, cases.item) == ("cases.csv", None, "CaseID", None, None)
    assert cases.fields["lab_number"] == FieldSpec(name="lab_number", column="CaseNo", transforms=("trim", "upper"))
    assert cases.fields["received_at"].dates == ("%d/%m/%Y", "%d-%m-%y", "%d.%m.%Y")
    assert cases.fields["offences"].split == ";"
    assert cases.fields["agency"].default == "BPD-BZ"
    assert cases.fields["town"] == FieldSpec(name="town", column="Town")  # the short form

    items = mapping.entities["items"]
    amount = items.fields["amount"]
    assert (amount.number, amount.decimal, amount.unit, amount.units) == (True, ",", "WUnit", "units")
    assert items.columns == ("ItemID", "CaseID", "Type", "Descr", "Weight", "WUnit")
    assert mapping.entities["results"].item == "ItemID"

    # Map keys are normalised; codes are kept as written ("" means "no value").
    assert mapping.maps["districts"] == {"belize": "BZ", "belize city": "BZ", "cayo": "CY", "san ignacio": "CY",
                                         "orange walk": "OW"}  # fmt: skip
    assert mapping.maps["offences"]["unknown"] == ""


def test_only_cases_are_required_and_defaults_apply(tmp_path):
    mapping = load_mapping(
        write(
            tmp_path,
            """
            [source]
            name = "register"
            kind = "xlsx"
            path = "/srv/old/register.xlsx"

            [cases]
            table = "Cases"
            key = "No"
            fields.lab_number = "No"
            fields.agency = { default = "BPD-BZ" }
            fields.received_at = { column = "Date", dates = ["%Y-%m-%d"] }
            """,
        )
    )
    assert list(mapping.entities) == ["cases"]
    assert mapping.source.path == Path("/srv/old/register.xlsx")
    assert (mapping.source.encoding, mapping.source.delimiter) == ("utf-8", ",")
    assert mapping.entities["cases"].fields["agency"] == FieldSpec(name="agency", column="", default="BPD-BZ")
    assert mapping.entities["cases"].columns == ("No", "Date")
    assert mapping.maps == {}


def test_sql_and_sqlite_sources_take_queries(tmp_path):
    mapping = load_mapping(
        write(
            tmp_path,
            """
            [source]
            name = "lims_mysql"
            kind = "sql"
            url = "mysql://reader@db.example/lims"

            [cases]
            query = "SELECT c.id, c.no, c.recd, a.code FROM cases c JOIN agencies a ON a.id = c.agency_id"
            key = "id"
            fields = { lab_number = "no", agency = "code", received_at = { column = "recd", dates = ["%Y-%m-%d"] } }
            """,
        )
    )
    assert mapping.source.url == "mysql://reader@db.example/lims"
    assert mapping.source.path is None
    assert mapping.entities["cases"].query.startswith("SELECT")
    assert mapping.entities["cases"].table is None


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('kind = "csv"', 'kind = "foxpro"', "source.kind: 'foxpro' is not a kind of source"),
        ('name = "nfss-access-2003"', 'name = "nfss access"', "source.name: only letters, digits"),
        ('path = "data"\n', "", "source.path: missing"),
        ('delimiter = ";"', 'delimiter = ";;"', "source.delimiter: must be exactly one character"),
        ('encoding = "cp1252"', 'encoding = "klingon"', "source.encoding: 'klingon' is not an encoding"),
        ('path = "data"', 'path = "data"\nurl = "mysql://x/y"', "source.url: only a 'sql' source has a URL"),
        ('path = "data"', 'path = "data"\ncolour = "blue"', "source.colour: unknown key"),
        ('table = "cases.csv"', 'table = "cases.csv"\nquery = "SELECT 1"', "cases: give either 'table' or 'query'"),
        ('table = "cases.csv"', 'query = "SELECT * FROM cases"', "cases.query: only 'sqlite' and 'sql' sources"),
        ('key = "CaseID"\n', "", "cases.key: missing"),
        ('key = "PersonID"\ncase = "CaseID"', 'key = "PersonID"', "people.case: missing: the column holding the case"),
        ('case = "CaseID"\nitem = "ItemID"', 'case = "CaseID"', "results.item: missing: the column holding the item"),
        ('key = "CaseID"', 'key = "CaseID"\ncase = "CaseID"', "cases.case: not used in [cases]"),
        ('key = "ItemID"\ncase = "CaseID"', 'key = "ItemID"\ncase = "C"\nitem = "I"', "items.item: only [results]"),
        ('town = "Town"', 'town = "Town"\ncolour = "Colour"', "cases.fields.colour: unknown field"),
        ('town = "Town"', 'town = { column = "Town", colour = "red" }', "cases.fields.town.colour: unknown key"),
        ('town = "Town"', 'town = { transforms = ["trim"] }', "cases.fields.town: missing 'column'"),
        (
            'lab_number = { column = "CaseNo", transforms = ["trim", "upper"] }\n',
            "",
            "cases.fields.lab_number: missing",
        ),
        ('"trim", "upper"', '"trim", "shout"', "cases.fields.lab_number.transforms: unknown transform 'shout'"),
        ('transforms = ["trim", "upper"]', 'transforms = "trim"', "cases.fields.lab_number.transforms: must be a list"),
        ('map = "districts"', 'map = "distritos"', "cases.fields.district.map: no map 'distritos' in [maps]"),
        (
            'dates = ["%d/%m/%Y", "%d-%m-%y", "%d.%m.%Y"]',
            'dates = "%d/%m/%Y"',
            "cases.fields.received_at.dates: 'dates' must be a list of formats",
        ),
        ('dates = ["%d/%m/%Y", "%d-%m-%y", "%d.%m.%Y"]', "dates = []", "cases.fields.received_at.dates: 'dates' must"),
        ('dates = ["%d/%m/%Y", "%d-%m-%y", "%d.%m.%Y"]', "number = true", "cases.fields.received_at.dates: missing"),
        ('column = "DateRecd", ', 'column = "DateRecd", number = true, ', "cases.fields.received_at: a field is read"),
        (
            'town = "Town"',
            'town = { column = "Town", dates = ["%Y"] }',
            "cases.fields.town.dates: 'town' is not a date",
        ),
        ('number = true, decimal = ","', 'decimal = ","', "items.fields.amount.number: missing"),
        ('decimal = ","', 'decimal = ";"', "items.fields.amount.decimal: must be"),
        ("number = true }", 'number = "yes" }', "people.fields.age.number: must be true or false"),
        (
            'town = "Town"',
            'town = "Town"\nagency_case_number = { column = "R", number = true }',
            "cases.fields.agency_case_number.number: 'agency_case_number' is not a number field",
        ),
        ('"Town"', '{ column = "Town", split = "/" }', "cases.fields.town.split: only a field holding several values"),
        ('units = "units"', 'units = "weights"', "items.fields.amount.units: no map 'weights' in [maps]"),
        (', units = "units"', "", "items.fields.amount.units: missing"),
        ('"Section"', '"Section", unit = "U", units = "units"', "results.fields.discipline.unit: only items.amount"),
        ('default = "BPD-BZ"', "default = 3", "cases.fields.agency.default: must be text in quotes"),
        ('"%d.%m.%Y"] }', '"%d.%m.%Y"], default = "sometime" }', "cases.fields.received_at.default: 'sometime' is not"),
        ('"Orange Walk" = "OW"', '"Orange Walk" = "OW"\n"orange  WALK" = "OK"', 'maps.districts."orange  WALK": '),
        ('"Kg" = "kg"', '"Kg" = 1000', "maps.units.Kg: the code must be text"),
        ("[maps.units]", '[maps.units]\n"  " = "g"', 'maps.units."  ": the text to map is empty'),
        ("[maps.units]", "[mapz.units]", "mapz: unknown section"),
        ("[maps.districts]", "[widgets]\nx = 1\n[maps.districts]", "widgets: unknown section"),
    ],
)
def test_each_mistake_is_named_by_its_key_path(tmp_path, old, new, expected):
    found = problems(tmp_path, replace(old, new))
    assert any(problem.startswith(expected) for problem in found), found


def test_a_unit_is_given_one_way_only(tmp_path):
    text = replace('description = { column = "Descr" }', 'description = { column = "Descr" }\namount_unit = "WUnit"')
    found = problems(tmp_path, text)
    assert found == [
        "items.fields.amount_unit: the unit is already read from 'WUnit' (amount's 'unit'); give it one way only"
    ]
    # Without 'unit' on amount, amount_unit is an ordinary field.
    text = replace(', unit = "WUnit", units = "units"', "", text)
    assert load_mapping(write(tmp_path, text)).entities["items"].fields["amount_unit"].column == "WUnit"


def test_offences_without_split_are_one_code(tmp_path):
    mapping = load_mapping(write(tmp_path, replace('split = ";", ', "")))
    assert mapping.entities["cases"].fields["offences"].split is None


def test_all_problems_are_reported_at_once(tmp_path):
    found = problems(
        tmp_path,
        """
        [source]
        kind = "xlsx"

        [people]
        table = "People"
        key = "ID"
        fields.name = { column = "Name", transforms = ["shout"] }
        """,
    )
    assert "source.name: missing" in found
    assert any(p.startswith("source.path: missing") for p in found)
    assert any(p.startswith("cases: missing") for p in found)
    assert any(p.startswith("people.case: missing") for p in found)
    assert any(p.startswith("people.fields.name.transforms: unknown transform 'shout'") for p in found)
    assert any(p.startswith("people.fields.role: missing") for p in found)
    assert len(found) == 6


def test_a_file_that_is_not_toml_or_not_there(tmp_path):
    with pytest.raises(MappingError, match=r"mapping.toml: the mapping file is not valid TOML \(.*line 2"):
        load_mapping(write(tmp_path, '[source]\nname = "unclosed\n'))
    with pytest.raises(MappingError, match="the mapping file cannot be read"):
        load_mapping(tmp_path / "missing.toml")
    saved_in_cp1252 = tmp_path / "cp1252.toml"
    saved_in_cp1252.write_bytes('[source]\nname = "Régistro"\n'.encode("cp1252"))
    with pytest.raises(MappingError, match=r"cp1252.toml: the mapping file is not UTF-8 text \(byte 19\)"):
        load_mapping(saved_in_cp1252)


def test_the_tables_of_fields_agree_with_the_docs_and_the_transforms():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "legacy.md").read_text(encoding="utf-8")
    for entity, fields in FIELDS.items():
        assert f"`[{entity}]`" in docs
        for name in fields:
            assert f"`{name}`" in docs, (entity, name)
        for name in REQUIRED_FIELDS[entity]:
            assert f"**`{name}`**" in docs, (entity, name)
    for name in TRANSFORMS:
        assert f"`{name}`" in docs
    assert set(TRANSFORMS) == set(TRANSFORM_FUNCTIONS)


def test_normalise_text():
    assert normalise_text("  Hernández\t  PEÑATE ") == "hernandez penate"
    assert normalise_text("Straße") == "strasse"
    assert normalise_text("San\u00a0Ignacio") == "san ignacio"
    assert normalise_text("") == ""


def test_time_in_format():
    assert time_in_format("%d/%m/%Y %H:%M")
    assert time_in_format("%Y-%m-%dT%I:%M %p")
    assert not time_in_format("%d/%m/%Y")
    assert not time_in_format("%d/%m/%Y %%H")
