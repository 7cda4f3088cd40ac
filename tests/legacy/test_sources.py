"""Reading the old data: CSV, Excel, SQLite, SQL servers and Access, row by row, as stable text."""

from __future__ import annotations

import datetime as dt
import os
import socket
import sqlite3
import stat
import textwrap
import tracemalloc
import uuid
from decimal import Decimal

import openpyxl
import pytest

from forensis.legacy.mapping import EntitySpec, FieldSpec, SourceSpec
from forensis.legacy.sources import Row, SourceError, open_source, to_text

POSTGRES_URL = os.environ.get("FORENSIS_TEST_LEGACY_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("FORENSIS_TEST_LEGACY_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")


def entity(
    table: str | None = "cases.csv", *, query: str | None = None, key: str = "CaseID", **columns: str
) -> EntitySpec:
    """An entity reading ``columns`` (field name -> column)."""
    fields = {name: FieldSpec(name=name, column=column) for name, column in columns.items()}
    return EntitySpec(name="cases", table=table, query=query, key=key, fields=fields)


def values(rows) -> list[tuple[int, dict]]:
    return [(row.number, row.values) for row in rows]


# -- CSV ---------------------------------------------------------------------------------------------------------


def test_csv_in_cp1252_with_semicolons(tmp_path):
    text = (
        "CaseID;Name;Recd;Remarks\r\n"
        "1;Peñate;04/03/2019;\r\n"
        "\r\n"  # a blank line is not a row
        '2;Hernández;05/03/2019;"two lines;\r\nof remarks"\r\n'
        "3; José Núñez ;;caf\xe9 \u20ac\r\n"
        ";;;\r\n"  # a line of separators only
    )
    (tmp_path / "cases.csv").write_bytes(text.encode("cp1252"))
    spec = SourceSpec(name="old", kind="csv", path=tmp_path, encoding="cp1252", delimiter=";")
    cases = entity(name="Name", received_at="Recd")
    with open_source(spec) as source:
        rows = list(source.rows(cases))
        assert source.count(cases) == 3
        assert source.check(cases) == ("CaseID", "Name", "Recd", "Remarks")
    assert values(rows) == [
        (2, {"CaseID": "1", "Name": "Peñate", "Recd": "04/03/2019", "Remarks": None}),
        (4, {"CaseID": "2", "Name": "Hernández", "Recd": "05/03/2019", "Remarks": "two lines;\r\nof remarks"}),
        (6, {"CaseID": "3", "Name": " José Núñez ", "Recd": None, "Remarks": "café €"}),
    ]
    assert all(row.problem is None for row in rows)


def test_csv_utf8_with_a_byte_order_mark_and_old_mac_line_ends(tmp_path):
    (tmp_path / "cases.csv").write_bytes("\ufeffCaseID ,Name\r1,Peñate\r2,Ruíz\r".encode())
    with open_source(SourceSpec(name="old", kind="csv", path=tmp_path)) as source:
        assert values(source.rows(entity(name="Name"))) == [
            (2, {"CaseID": "1", "Name": "Peñate"}),
            (3, {"CaseID": "2", "Name": "Ruíz"}),
        ]


def test_a_wrong_encoding_is_named_with_its_line(tmp_path):
    lines = ["CaseID;Name"] + [f"{n};Smith" for n in range(1, 5000)] + ["5000;Peñate", "5001;Hernández"]
    (tmp_path / "cases.csv").write_bytes("\r\n".join(lines).encode("cp1252"))
    spec = SourceSpec(name="old", kind="csv", path=tmp_path, encoding="utf-8", delimiter=";")
    with open_source(spec) as source, pytest.raises(SourceError) as caught:
        list(source.rows(entity(name="Name")))
    assert str(caught.value) == "cases.csv: line 5001 is not valid utf-8 (bytes f1); check the encoding"


def test_a_row_with_too_many_or_too_few_values_says_so(tmp_path):
    (tmp_path / "cases.csv").write_text("CaseID,Name,Town\n1,Smith,Cayo\n2,Peñate, Juan,Cayo\n3,Ruiz\n4,Lee,BZ,,\n")
    with open_source(SourceSpec(name="old", kind="csv", path=tmp_path)) as source:
        rows = list(source.rows(entity(name="Name")))
    assert [row.problem for row in rows] == [
        None,
        "the row has 4 values but the header has 3 columns (a separator inside a value, or one missing?)",
        "the row has 2 values but the header has 3 columns (a separator inside a value, or one missing?)",
        None,  # empty trailing values are harmless
    ]
    assert rows[2].values == {"CaseID": "3", "Name": "Ruiz", "Town": None}


def test_missing_columns_files_and_folders(tmp_path):
    (tmp_path / "cases.csv").write_text("CaseID,Name\n1,Smith\n")
    with open_source(SourceSpec(name="old", kind="csv", path=tmp_path)) as source:
        cases = entity(name="Name", received_at="DateRecd", town="Town")
        with pytest.raises(SourceError) as caught:
            next(source.rows(cases))
        assert str(caught.value) == "cases.csv: no column 'DateRecd', 'Town' (the columns are: 'CaseID', 'Name')"
        with pytest.raises(SourceError, match="no column 'DateRecd'"):
            source.check(cases)
        with pytest.raises(SourceError, match=r"cases: no file 'people.csv' in .* \(there are: cases.csv\)"):
            list(source.rows(entity("people.csv")))
    source = open_source(SourceSpec(name="old", kind="csv", path=tmp_path / "nowhere"))
    with source, pytest.raises(SourceError, match="nowhere: no such file or folder"):
        list(source.rows(entity()))


def test_a_record_that_is_not_valid_csv_is_a_row_problem_and_reading_goes_on(tmp_path):
    (tmp_path / "cases.csv").write_text('CaseID,Name\n1,Smith\n2,"Peñate" Juan\n3,Ruiz\n4,"Lee\n5,Wong\n')
    with open_source(SourceSpec(name="old", kind="csv", path=tmp_path)) as source:
        rows = list(source.rows(entity(name="Name")))
    assert [(row.number, row.values, row.problem) for row in rows] == [
        (2, {"CaseID": "1", "Name": "Smith"}, None),
        (3, {"CaseID": None, "Name": None}, "the line cannot be read as CSV (',' expected after '\"')"),
        (4, {"CaseID": "3", "Name": "Ruiz"}, None),
        (5, {"CaseID": None, "Name": None}, "lines 5 to 6 cannot be read as CSV (unexpected end of data)"),
    ]
    (tmp_path / "cases.csv").write_text('"CaseID" x,Name\n1,Smith\n')
    source = open_source(SourceSpec(name="old", kind="csv", path=tmp_path))
    with source, pytest.raises(SourceError, match="cases.csv: line 1 cannot be read as CSV"):
        list(source.rows(entity(name="Name")))


def test_csv_rows_stream(tmp_path):
    path = tmp_path / "cases.csv"
    with path.open("w", encoding="cp1252", newline="") as file:
        file.write("CaseID;LabNo;Name;Recd;Remarks\r\n")
        for n in range(1, 200_001):
            file.write(f"{n};NF-{n:06d};Hernández Peñate {n};04/03/2019;{'remarks ' * 8}\r\n")
    spec = SourceSpec(name="old", kind="csv", path=tmp_path, encoding="cp1252", delimiter=";")
    cases = entity(lab_number="LabNo", name="Name", received_at="Recd")
    tracemalloc.start()
    try:
        with open_source(spec) as source:
            seen = 0
            last: Row | None = None
            for row in source.rows(cases):
                seen += 1
                last = row
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == 200_000
    assert last is not None and last.number == 200_001 and last.values["Name"] == "Hernández Peñate 200000"
    assert peak < 20 * 1024 * 1024, f"reading used {peak / 1024 / 1024:.1f} MB"


def test_an_abandoned_iteration_is_closed_with_the_source(tmp_path):
    (tmp_path / "cases.csv").write_text("CaseID\n1\n2\n")
    source = open_source(SourceSpec(name="old", kind="csv", path=tmp_path))
    rows = source.rows(entity())
    assert next(rows).values == {"CaseID": "1"}
    source.close()
    assert list(rows) == []


# -- Excel -------------------------------------------------------------------------------------------------------


def test_xlsx_dates_numbers_and_row_numbers(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Cases"
    sheet.append(["CaseID", " Name ", "Recd", "Weight", "Count", "Seen"])
    sheet.append([1, "Peñate", dt.date(2019, 3, 4), 12.5, 3.0, dt.datetime(2019, 3, 4, 14, 30)])
    sheet.append([None, None, None, None, None, None])  # an empty row is not a row
    sheet.append(
        [3, "Hernández", dt.datetime(2019, 3, 5), 0.1, 12345678901, dt.datetime(2019, 3, 5, 23, 59, 59, 999_999)]
    )
    sheet["A6"] = "0004"
    sheet["B6"] = "  "
    workbook.create_sheet("People")
    workbook.save(tmp_path / "register.xlsx")

    spec = SourceSpec(name="old", kind="xlsx", path=tmp_path / "register.xlsx")
    cases = entity("Cases", name="Name", received_at="Recd", amount="Weight", quantity="Count", incident_at="Seen")
    with open_source(spec) as source:
        rows = values(source.rows(cases))
        assert source.count(cases) == 3
    assert rows == [
        (2, {"CaseID": "1", "Name": "Peñate", "Recd": "2019-03-04", "Weight": "12.5", "Count": "3",
             "Seen": "2019-03-04 14:30:00"}),
        (4, {"CaseID": "3", "Name": "Hernández", "Recd": "2019-03-05", "Weight": "0.1", "Count": "12345678901",
             "Seen": "2019-03-06"}),  # 23:59:59.999999 is midnight, to the second
        (6, {"CaseID": "0004", "Name": "  ", "Recd": None, "Weight": None, "Count": None, "Seen": None}),
    ]  # fmt: skip


def test_xlsx_missing_sheet_column_or_file(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.title = "Cases"
    workbook.active.append(["CaseID", "Name"])
    workbook.save(tmp_path / "register.xlsx")
    with open_source(SourceSpec(name="old", kind="xlsx", path=tmp_path / "register.xlsx")) as source:
        with pytest.raises(SourceError, match=r"cases: the workbook has no sheet 'Casos' \(it has: Cases\)"):
            list(source.rows(entity("Casos")))
        with pytest.raises(SourceError, match="register.xlsx, sheet 'Cases': no column 'Town'"):
            list(source.rows(entity("Cases", town="Town")))
        assert list(source.rows(entity("Cases"))) == []
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0 not a zip")
    with pytest.raises(SourceError, match=r"old.xls: not an Excel workbook \(.xlsx\)"):
        open_source(SourceSpec(name="old", kind="xlsx", path=tmp_path / "old.xls"))
    with pytest.raises(SourceError, match="no such file"):
        open_source(SourceSpec(name="old", kind="xlsx", path=tmp_path / "missing.xlsx"))


# -- SQLite ------------------------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_file(tmp_path):
    path = tmp_path / "legacy.db"
    connection = sqlite3.connect(path)
    connection.executescript(
        """
        CREATE TABLE "Case Register" (id INTEGER PRIMARY KEY, name TEXT, recd TEXT, weight REAL, agency_id INT);
        CREATE TABLE agencies (id INTEGER PRIMARY KEY, code TEXT);
        INSERT INTO agencies VALUES (1, 'BPD-BZ');
        INSERT INTO "Case Register" VALUES (10, 'Peñate', '04/03/2019', 12.5, 1);
        INSERT INTO "Case Register" VALUES (11, '', NULL, 3.0, NULL);
        INSERT INTO "Case Register" VALUES (12, 'Hernández', '2019-03-05', NULL, 1);
        """
    )
    connection.commit()
    connection.close()
    return path


def test_sqlite_table_and_query(sqlite_file):
    spec = SourceSpec(name="old", kind="sqlite", path=sqlite_file)
    table = entity("Case Register", key="id", name="name", received_at="recd", amount="weight")
    query = entity(
        None,
        query='SELECT c.id, c.name, a.code FROM "Case Register" c JOIN agencies a ON a.id = c.agency_id ORDER BY c.id;',
        key="id",
        agency="code",
    )
    with open_source(spec) as source:
        assert values(source.rows(table)) == [
            (1, {"id": "10", "name": "Peñate", "recd": "04/03/2019", "weight": "12.5", "agency_id": "1"}),
            (2, {"id": "11", "name": None, "recd": None, "weight": "3", "agency_id": None}),
            (3, {"id": "12", "name": "Hernández", "recd": "2019-03-05", "weight": None, "agency_id": "1"}),
        ]
        assert values(source.rows(query)) == [
            (1, {"id": "10", "name": "Peñate", "code": "BPD-BZ"}),
            (2, {"id": "12", "name": "Hernández", "code": "BPD-BZ"}),
        ]
        assert (source.count(table), source.count(query)) == (3, 2)
        with pytest.raises(SourceError, match="legacy.db, table 'cases': no such table: cases"):
            list(source.rows(entity("cases", key="id")))
        with pytest.raises(SourceError, match="the query of \\[cases\\]: no such column: nope"):
            source.count(entity(None, query="SELECT nope FROM agencies", key="nope"))
        with pytest.raises(SourceError, match="no column 'CaseID'"):
            list(source.rows(entity("agencies")))


def test_sqlite_is_opened_read_only(sqlite_file):
    source = open_source(SourceSpec(name="old", kind="sqlite", path=sqlite_file))
    with source, pytest.raises(SourceError, match="readonly"):
        list(source.rows(entity(None, query="DELETE FROM agencies RETURNING id AS CaseID")))
    assert sqlite3.connect(sqlite_file).execute("SELECT count(*) FROM agencies").fetchone() == (1,)


def test_not_a_sqlite_file(tmp_path):
    (tmp_path / "legacy.db").write_text("hello")
    with pytest.raises(SourceError, match="legacy.db: not a SQLite database"):
        open_source(SourceSpec(name="old", kind="sqlite", path=tmp_path / "legacy.db"))


# -- SQL servers --------------------------------------------------------------------------------------------------


def _reachable(url: str) -> bool:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host, parsed.port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(params=["postgresql", "mariadb"])
def sql_table(request):
    """A uniquely named table with legacy rows in the local PostgreSQL or MariaDB; dropped afterwards."""
    from sqlalchemy import create_engine

    from forensis.legacy.sources import sql_url

    url = POSTGRES_URL if request.param == "postgresql" else MARIADB_URL
    if not _reachable(url):
        pytest.skip(f"no {request.param} server at {url} (set FORENSIS_TEST_LEGACY_{request.param.upper()})")
    name = f"legacy_cases_{uuid.uuid4().hex[:12]}"
    engine = create_engine(sql_url(url))
    text_type = "TEXT" if request.param == "postgresql" else "TEXT CHARACTER SET utf8mb4"
    with engine.begin() as connection:
        connection = connection.execution_options(no_parameters=True)
        connection.exec_driver_sql(
            f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, name {text_type}, recd DATE, seen TIMESTAMP NULL, "
            f"weight NUMERIC(8, 3), flag BOOLEAN, note VARCHAR(40) NULL)"
        )
        connection.exec_driver_sql(
            f"INSERT INTO {name} VALUES (1, 'Peñate', '2019-03-04', '2019-03-04 14:30:00', 12.500, true, '100%'), "
            f"(2, 'Hernández', NULL, NULL, 3, false, ''), (3, 'O''Brien', '2019-03-06', '2019-03-06 00:00:00', NULL, "
            f"NULL, NULL)"
        )
    try:
        yield url, name
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP TABLE {name}")
        engine.dispose()


def test_sql_server_table_and_query(sql_table):
    url, name = sql_table
    spec = SourceSpec(name="old", kind="sql", url=url.replace("+pymysql", ""))  # mysql:// takes PyMySQL itself
    table = entity(name, key="id", name="name", received_at="recd")
    query = entity(None, query=f"SELECT id, name FROM {name} WHERE note LIKE '100%' OR id > 2 ORDER BY id", key="id")
    with open_source(spec) as source:
        rows = values(source.rows(table))
        assert source.count(table) == 3
        assert values(source.rows(query)) == [(1, {"id": "1", "name": "Peñate"}), (2, {"id": "3", "name": "O'Brien"})]
        assert source.count(query) == 2
        with pytest.raises(SourceError, match="table 'no_such_table'"):
            list(source.rows(entity("no_such_table", key="id")))
        with pytest.raises(SourceError, match="no column 'CaseID'"):
            list(source.rows(entity(name)))
    flag_true, flag_false = ("true", "false") if "postgresql" in url else ("1", "0")  # MariaDB's BOOLEAN is TINYINT
    assert sorted(rows) == [
        (1, {"id": "1", "name": "Peñate", "recd": "2019-03-04", "seen": "2019-03-04 14:30:00", "weight": "12.5",
             "flag": flag_true, "note": "100%"}),
        (2, {"id": "2", "name": "Hernández", "recd": None, "seen": None, "weight": "3", "flag": flag_false,
             "note": None}),
        (3, {"id": "3", "name": "O'Brien", "recd": "2019-03-06", "seen": "2019-03-06", "weight": None, "flag": None,
             "note": None}),
    ]  # fmt: skip


def test_sql_server_is_read_in_a_read_only_transaction(sql_table):
    url, name = sql_table
    with open_source(SourceSpec(name="old", kind="sql", url=url)) as source:
        if "postgresql" in url:
            query = entity(None, query="SELECT current_setting('transaction_read_only') AS id", key="id")
            assert [row.values for row in source.rows(query)] == [{"id": "on"}]
        else:
            with pytest.raises(SourceError, match="(?i)read only transaction"):
                list(source.rows(entity(None, query=f"DELETE FROM {name}", key="id")))
        assert source.count(entity(name, key="id")) == 3


def test_sql_server_that_cannot_be_reached():
    with pytest.raises(SourceError, match=r"cannot connect to postgresql\+psycopg://reader:\*\*\*@127.0.0.1:1/old"):
        open_source(SourceSpec(name="old", kind="sql", url="postgresql://reader:secret@127.0.0.1:1/old"))


# -- Access ------------------------------------------------------------------------------------------------------


@pytest.fixture
def fake_mdb_export(tmp_path, monkeypatch):
    """mdbtools cannot write .mdb files, so the reader is tested against a stand-in ``mdb-export`` first on PATH
    that prints CSV as the real one does (a real .mdb is read by Debian's mdb-export)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "mdb-export"
    script.write_text(
        textwrap.dedent(
            r'''
            #!/bin/sh
            echo "$@" > "$(dirname "$0")/arguments"
            for last; do :; done
            case "$last" in
              Cases)
                printf 'CaseID,Name,DateRecd,Weight,Remarks\n'
                printf '1,"Pe\303\261ate","2019-03-04 00:00:00",12.5,"two\nlines"\n'
                printf '2,"",,,""\n'
                printf '3,"Hern\303\241ndez","2019-03-05 14:30:00",3,"said ""hi"""\n'
                ;;
              Broken)
                printf 'CaseID,Name\n1,"x"\n'
                echo "Error: read failure" >&2
                exit 1
                ;;
              *)
                echo "Error: Table $last does not exist in this database." >&2
                exit 1
                ;;
            esac
            '''
        ).lstrip()
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    database = tmp_path / "nfss.mdb"
    database.write_bytes(b"\x00\x01\x00\x00Standard Jet DB")
    return database, bin_dir / "arguments"


def test_access_through_mdb_export(fake_mdb_export):
    database, arguments = fake_mdb_export
    cases = entity("Cases", name="Name", received_at="DateRecd")
    with open_source(SourceSpec(name="old", kind="access", path=database)) as source:
        rows = values(source.rows(cases))
        assert source.count(cases) == 3
    assert rows == [
        (1, {"CaseID": "1", "Name": "Peñate", "DateRecd": "2019-03-04", "Weight": "12.5", "Remarks": "two\nlines"}),
        (2, {"CaseID": "2", "Name": None, "DateRecd": None, "Weight": None, "Remarks": None}),
        (3, {"CaseID": "3", "Name": "Hernández", "DateRecd": "2019-03-05 14:30:00", "Weight": "3",
             "Remarks": 'said "hi"'}),
    ]  # fmt: skip
    assert arguments.read_text().split() == [
        "-D", "%Y-%m-%d", "%H:%M:%S", "-T", "%Y-%m-%d", "%H:%M:%S", "-b", "strip", str(database), "Cases",
    ]  # fmt: skip


def test_access_errors(fake_mdb_export, monkeypatch, tmp_path):
    database, _ = fake_mdb_export
    with open_source(SourceSpec(name="old", kind="access", path=database)) as source:
        with pytest.raises(SourceError) as caught:
            list(source.rows(entity("Casos")))
        assert str(caught.value) == "nfss.mdb, table 'Casos': Error: Table Casos does not exist in this database."
        with pytest.raises(SourceError, match="nfss.mdb, table 'Broken': Error: read failure"):
            list(source.rows(entity("Broken", name="Name")))
        with pytest.raises(SourceError, match="nfss.mdb, table 'Cases': no column 'Town'"):
            list(source.rows(entity("Cases", town="Town")))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    source = open_source(SourceSpec(name="old", kind="access", path=database))
    with source, pytest.raises(SourceError, match="mdb-export is not installed: install Debian's mdbtools"):
        list(source.rows(entity("Cases")))


# -- values as text ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        ("", None),
        (" ", " "),
        (12, "12"),
        (12.0, "12"),
        (0.1, "0.1"),
        (1e-7, "0.0000001"),
        (Decimal("12.500"), "12.5"),
        (Decimal("1E+3"), "1000"),
        (True, "true"),
        (dt.date(2019, 3, 4), "2019-03-04"),
        (dt.datetime(2019, 3, 4, 0, 0), "2019-03-04"),
        (dt.datetime(2019, 3, 4, 14, 30, 0, 400_000), "2019-03-04 14:30:00"),
        (dt.datetime(2019, 3, 4, 20, 30, tzinfo=dt.UTC), "2019-03-04 14:30:00"),  # the lab's time (Belize)
        (dt.time(14, 30), "14:30:00"),
        (dt.timedelta(hours=26, minutes=5), "26:05:00"),
        (b"caf\xc3\xa9", "café"),
        (b"\xff\x00", "0xff00"),
    ],
)
def test_values_as_text(value, text, settings):
    settings.TIME_ZONE = "America/Belize"
    assert to_text(value) == text
