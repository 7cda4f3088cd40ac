"""Reading the old database, row by row, whatever it is: CSV files, an Excel workbook, SQLite, a SQL server
(MySQL/MariaDB/PostgreSQL) or an Access file (through Debian's ``mdb-export``).

Every reader streams: a table is never held in memory whole. Every value comes back as text (or None when the
cell is empty or NULL), the same way whatever the source: integers without ".0", decimals without exponent,
dates as ``YYYY-MM-DD`` and dates with a time of day as ``YYYY-MM-DD HH:MM:SS`` in the laboratory's time zone
(a date and time at exactly midnight is written as the date alone: spreadsheets and Access store every date
that way). A source that cannot be read raises SourceError saying which and where.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
import sqlite3
import subprocess
import tempfile
import weakref
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.utils import timezone
from django.utils.translation import gettext

from forensis.legacy.mapping import EntitySpec, SourceSpec

#: How ``mdb-export`` is asked to write dates (``-D`` short dates, ``-T`` dates with a time).
ACCESS_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
_SQL_BATCH = 1000
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Row:
    number: int  # as a person finds it: CSV line (header = 1), sheet row, or 1-based position in a table/query
    values: dict[str, str | None]  # column -> text as read (None for NULL / an empty cell)
    problem: str | None = None  # a fault of the row as a whole (e.g. more values than the header has columns)


class SourceError(Exception):
    """The source cannot be read (missing file, bad encoding at line N, missing table/sheet, missing column named
    in the mapping); str() says which and where."""


def open_source(spec: SourceSpec) -> Source:
    """The reader for a mapping's source; use it as a context manager (``with open_source(spec) as source:``)."""
    readers: dict[str, type[Source]] = {
        "csv": CsvSource,
        "xlsx": XlsxSource,
        "sqlite": SqliteSource,
        "sql": SqlSource,
        "access": AccessSource,
    }
    if spec.kind not in readers:
        raise SourceError(gettext("'%(kind)s' is not a kind of source") % {"kind": spec.kind})
    return readers[spec.kind](spec)


# -- values as text ---------------------------------------------------------------------------------------------


def to_text(value: Any) -> str | None:
    """A value from a typed source (workbook, database) as stable text; None for NULL or empty text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        if value.is_integer():
            return str(int(value))
        return _decimal_text(Decimal(repr(value)))
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, dt.datetime):
        return _datetime_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, dt.timedelta):  # MySQL TIME
        seconds = round(value.total_seconds())
        sign = "-" if seconds < 0 else ""
        hours, rest = divmod(abs(seconds), 3600)
        return f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8") or None
        except UnicodeDecodeError:
            return "0x" + raw.hex()
    return str(value)


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _datetime_text(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = timezone.localtime(value, timezone.get_default_timezone()).replace(tzinfo=None)
    if value.microsecond:  # spreadsheets keep times as fractions of a day: 10:29:59.999996 is 10:30:00
        value = (value + dt.timedelta(microseconds=500_000)).replace(microsecond=0)
    if value.time() == dt.time(0, 0):
        return value.date().isoformat()
    return value.strftime("%Y-%m-%d %H:%M:%S")


_ACCESS_MIDNIGHT = re.compile(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$")


# -- the reader shared by every kind -----------------------------------------------------------------------------


class Source(ABC):
    """A legacy source being read. ``rows`` streams an entity's rows; ``count`` counts them (for progress);
    ``check`` only checks that the table and every column the entity uses are there."""

    def __init__(self, spec: SourceSpec):
        self.spec = spec
        self._open_iterators: weakref.WeakSet[Any] = weakref.WeakSet()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        for iterator in list(self._open_iterators):
            iterator.close()

    def rows(self, entity: EntitySpec) -> Iterator[Row]:
        """The entity's rows, in the source's order; SourceError (on the first ``next``) when a column is missing."""
        iterator = self._rows(entity)
        self._open_iterators.add(iterator)
        return iterator

    def count(self, entity: EntitySpec) -> int:
        """The number of data rows the entity has (read through once for files; ``COUNT(*)`` for databases)."""
        records = self._records(entity)
        try:
            self._check_columns(entity, self._header(next(records)))
            return sum(1 for _ in records)
        finally:
            records.close()

    def check(self, entity: EntitySpec) -> tuple[str, ...]:
        """Check that the entity's table and columns are there, without reading the rows; the table's columns."""
        records = self._records(entity)
        try:
            header = self._header(next(records))
            self._check_columns(entity, header)
            return tuple(header)
        finally:
            records.close()

    @abstractmethod
    def describe(self, entity: EntitySpec) -> str:
        """Where an entity is read from, in words ("cases.csv", "register.xlsx, sheet 'Cases'")."""

    # A reader implements ``_records``: a generator whose first item is the list of column names and each next
    # item (number, list of text values) — or (number, values, problem) for a row with a fault of its own.
    @abstractmethod
    def _records(self, entity: EntitySpec) -> Iterator[Any]: ...

    def _rows(self, entity: EntitySpec) -> Iterator[Row]:
        records = self._records(entity)
        try:
            header = self._header(next(records))
            self._check_columns(entity, header)
            named = all(header)  # every column has a name: a row's values pair with the header as they are
            for record in records:
                number, values = record[0], record[1]
                problem = record[2] if len(record) > 2 else None
                if named and len(values) >= len(header):
                    row = dict(zip(header, values, strict=False))  # values past the header are the row's problem
                else:
                    row = {name: values[i] if i < len(values) else None for i, name in enumerate(header) if name}
                yield Row(number=number, values=row, problem=problem)
        finally:
            records.close()

    @staticmethod
    def _header(names: list[str | None]) -> list[str]:
        return [name.strip() if name else "" for name in names]

    def _check_columns(self, entity: EntitySpec, header: list[str]) -> None:
        missing = [column for column in entity.columns if column not in header]
        if missing:
            raise SourceError(
                gettext("%(where)s: no column %(missing)s (the columns are: %(found)s)")
                % {
                    "where": self.describe(entity),
                    "missing": ", ".join(f"'{column}'" for column in missing),
                    "found": ", ".join(f"'{name}'" for name in header if name) or "—",
                }
            )
        repeated = [column for column in entity.columns if header.count(column) > 1]
        if repeated:
            raise SourceError(
                gettext("%(where)s: the column %(columns)s appears more than once in the header")
                % {"where": self.describe(entity), "columns": ", ".join(f"'{column}'" for column in repeated)}
            )

    def _path(self) -> Path:
        path = self.spec.path
        if path is None or not path.exists():
            raise SourceError(gettext("%(path)s: no such file or folder") % {"path": path})
        return path


# -- CSV (and the CSV that mdb-export writes) ---------------------------------------------------------------------

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _decoded_lines(binary: IO[bytes], encoding: str, where: str) -> Iterator[str]:
    """The lines of a byte stream (each with its line break), decoded as it is read; a byte that is not valid in
    the encoding raises SourceError naming its line. A byte-order mark at the start is dropped."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    line = 1
    pending = ""
    first = True
    while True:
        chunk = binary.read(_CHUNK)
        final = not chunk
        state = decoder.getstate()
        try:
            text = decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            decoder.setstate(state)
            buffered = len(state[0]) if isinstance(state[0], bytes) else 0
            try:
                before = decoder.decode(chunk[: max(exc.start - buffered, 0)])
            except UnicodeDecodeError:  # pragma: no cover - the bytes before the bad one decode
                before = ""
            bad_line = line + len(_LINE_BREAK.findall(pending + before))
            bad = exc.object[exc.start : exc.end]
            raise SourceError(
                gettext("%(where)s: line %(line)s is not valid %(encoding)s (bytes %(bytes)s); check the encoding")
                % {"where": where, "line": bad_line, "encoding": encoding, "bytes": bad.hex(" ")}
            ) from None
        if first and text:
            text = text.removeprefix("\ufeff")
            first = False
        buffer = pending + text
        start = 0
        for match in _LINE_BREAK.finditer(buffer):
            if match.group() == "\r" and match.end() == len(buffer) and not final:
                break  # perhaps the first half of "\r\n"
            yield buffer[start : match.end()]
            line += 1
            start = match.end()
        pending = buffer[start:]
        if final:
            if pending:
                yield pending
            return


def _csv_records(lines: Iterable[str], delimiter: str, where: str, *, positions: bool = False) -> Iterator[Any]:
    """The header, then (number, values, problem) for every record that is not blank. ``number`` is the line
    where the record starts, or with ``positions`` its 1-based position after the header. A record that is not
    valid CSV (a stray or unclosed quote) comes with no values and the reason as its problem; reading goes on at
    the next line."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    header: list[str] | None = None
    position = 0
    last_line = 0
    while True:
        start = last_line + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            last_line = reader.line_num
            if header is None:
                raise SourceError(
                    gettext("%(where)s: line %(line)s cannot be read as CSV (%(error)s)")
                    % {"where": where, "line": last_line, "error": exc}
                ) from None
            position += 1
            if last_line > start:
                problem = gettext("lines %(first)s to %(last)s cannot be read as CSV (%(error)s)") % {
                    "first": start,
                    "last": last_line,
                    "error": exc,
                }
            else:
                problem = gettext("the line cannot be read as CSV (%(error)s)") % {"error": exc}
            yield (position if positions else start, [], problem)
            continue
        last_line = reader.line_num
        if not any(value.strip() for value in record):
            continue  # a blank line, or a line of separators only
        if header is None:
            header = record
            yield header
            continue
        position += 1
        values = [value or None for value in record]
        problem = None
        if len(values) < len(header) or any(values[len(header) :]):
            problem = gettext(
                "the row has %(found)s values but the header has %(expected)s columns "
                "(a separator inside a value, or one missing?)"
            ) % {"found": len(record), "expected": len(header)}
        yield (position if positions else start, values, problem)
    if header is None:
        yield []  # an empty file: no columns


class CsvSource(Source):
    """A folder of CSV files; an entity's ``table`` is a file name in it."""

    def describe(self, entity: EntitySpec) -> str:
        return str(entity.table)

    def _file(self, entity: EntitySpec) -> Path:
        folder = self._path()
        if not folder.is_dir():
            raise SourceError(gettext("%(path)s: a 'csv' source is a folder of CSV files") % {"path": folder})
        path = folder / str(entity.table)
        if not path.is_file():
            found = sorted(p.name for p in folder.iterdir() if p.is_file())
            raise SourceError(
                gettext("%(entity)s: no file '%(file)s' in %(folder)s (there are: %(found)s)")
                % {"entity": entity.name, "file": entity.table, "folder": folder, "found": ", ".join(found) or "—"}
            )
        return path

    def _records(self, entity: EntitySpec) -> Iterator[Any]:
        path = self._file(entity)
        with path.open("rb") as binary:
            lines = _decoded_lines(binary, self.spec.encoding, path.name)
            yield from _csv_records(lines, self.spec.delimiter, path.name)


# -- Excel workbooks -------------------------------------------------------------------------------------------


class XlsxSource(Source):
    """An Excel workbook (.xlsx); an entity's ``table`` is a sheet name; the sheet's first row is the header."""

    def __init__(self, spec: SourceSpec):
        super().__init__(spec)
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        path = self._path()
        try:
            self.workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise SourceError(
                gettext("%(path)s: not an Excel workbook (.xlsx) that can be read (%(error)s)")
                % {"path": path.name, "error": exc}
            ) from None

    def close(self) -> None:
        super().close()
        self.workbook.close()

    def describe(self, entity: EntitySpec) -> str:
        return gettext("%(file)s, sheet '%(sheet)s'") % {"file": Path(str(self.spec.path)).name, "sheet": entity.table}

    def _records(self, entity: EntitySpec) -> Iterator[Any]:
        if entity.table not in self.workbook.sheetnames:
            raise SourceError(
                gettext("%(entity)s: the workbook has no sheet '%(sheet)s' (it has: %(found)s)")
                % {"entity": entity.name, "sheet": entity.table, "found": ", ".join(self.workbook.sheetnames)}
            )
        sheet = self.workbook[entity.table]
        sheet.reset_dimensions()  # some writers record wrong dimensions: read every row there is
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, ())
        yield [to_text(value) or "" for value in header]
        for number, cells in enumerate(rows, start=2):
            values = [to_text(value) for value in cells]
            if any(value is not None and value.strip() for value in values):
                yield (number, values)


# -- SQLite ----------------------------------------------------------------------------------------------------


def _select(entity: EntitySpec, quote: Any) -> str:
    if entity.query is not None:
        return entity.query.strip().rstrip(";")
    return "SELECT * FROM " + ".".join(quote(part) for part in str(entity.table).split("."))  # noqa: S608


class SqliteSource(Source):
    """A SQLite file, opened read-only; an entity reads a ``table`` or a ``query``."""

    def __init__(self, spec: SourceSpec):
        super().__init__(spec)
        path = self._path()
        try:
            self.connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            self.connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise SourceError(
                gettext("%(path)s: not a SQLite database that can be read (%(error)s)")
                % {"path": path.name, "error": exc}
            ) from None

    def close(self) -> None:
        super().close()
        self.connection.close()

    def describe(self, entity: EntitySpec) -> str:
        if entity.query is not None:
            return gettext("the query of [%(entity)s]") % {"entity": entity.name}
        return gettext("%(file)s, table '%(table)s'") % {"file": Path(str(self.spec.path)).name, "table": entity.table}

    @staticmethod
    def _quote(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def _records(self, entity: EntitySpec) -> Iterator[Any]:
        cursor = self.connection.cursor()
        number = 0
        try:
            try:
                cursor.execute(_select(entity, self._quote))
                yield [column[0] for column in cursor.description or ()]
                for number, record in enumerate(cursor, start=1):  # noqa: B007 - number is used on errors
                    yield (number, [to_text(value) for value in record])
            except sqlite3.DatabaseError as exc:
                where = self.describe(entity)
                if number:
                    where = gettext("%(where)s, row %(row)s") % {"where": where, "row": number + 1}
                raise SourceError(f"{where}: {exc}") from None
        finally:
            cursor.close()

    def count(self, entity: EntitySpec) -> int:
        try:
            row = self.connection.execute(f"SELECT COUNT(*) FROM ({_select(entity, self._quote)})").fetchone()  # noqa: S608
        except sqlite3.DatabaseError as exc:
            raise SourceError(f"{self.describe(entity)}: {exc}") from None
        return int(row[0])


# -- SQL servers (MySQL, MariaDB, PostgreSQL) ----------------------------------------------------------------------

#: The driver used for a URL that names none (SQLAlchemy's own defaults are drivers Forensis does not install).
SQL_DRIVERS = {
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
}


def sql_url(url: str) -> Any:
    """A database URL as SQLAlchemy takes it, with Forensis's drivers (PyMySQL, psycopg)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise SourceError(gettext("'%(url)s' is not a database URL (%(error)s)") % {"url": url, "error": exc}) from None
    if parsed.drivername in SQL_DRIVERS:
        parsed = parsed.set(drivername=SQL_DRIVERS[parsed.drivername])
    return parsed


class SqlSource(Source):
    """A database server reached by URL; an entity reads a ``table`` (``schema.table`` allowed) or a ``query``.
    Rows are streamed with a server-side cursor."""

    def __init__(self, spec: SourceSpec):
        super().__init__(spec)
        from sqlalchemy import create_engine
        from sqlalchemy.exc import SQLAlchemyError

        url = sql_url(str(spec.url))
        self.where = url.render_as_string(hide_password=True)
        try:
            self.engine = create_engine(url)
            with self.engine.connect():
                pass
        except (SQLAlchemyError, ImportError) as exc:
            raise SourceError(
                gettext("cannot connect to %(url)s (%(error)s)")
                % {"url": self.where, "error": getattr(exc, "orig", None) or exc}
            ) from None

    def close(self) -> None:
        super().close()
        self.engine.dispose()

    def describe(self, entity: EntitySpec) -> str:
        if entity.query is not None:
            return gettext("the query of [%(entity)s]") % {"entity": entity.name}
        return gettext("table '%(table)s'") % {"table": entity.table}

    def _quote(self, name: str) -> str:
        return self.engine.dialect.identifier_preparer.quote_identifier(name)

    def _read_only(self, connection: Any) -> None:
        """Reading never writes: the transaction is read-only where the server can say so."""
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        elif dialect in ("mysql", "mariadb"):
            connection.exec_driver_sql("START TRANSACTION READ ONLY")

    def _error(self, entity: EntitySpec, exc: Exception) -> SourceError:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return SourceError(f"{self.describe(entity)}: {reason}")

    def _records(self, entity: EntitySpec) -> Iterator[Any]:
        from sqlalchemy.exc import SQLAlchemyError

        options = {"stream_results": True, "yield_per": _SQL_BATCH, "no_parameters": True}
        try:
            with self.engine.connect() as connection:
                self._read_only(connection)
                result = connection.execution_options(**options).exec_driver_sql(_select(entity, self._quote))
                try:
                    yield list(result.keys())
                    for number, record in enumerate(result, start=1):
                        yield (number, [to_text(value) for value in record])
                finally:
                    result.close()
        except SQLAlchemyError as exc:
            raise self._error(entity, exc) from None

    def count(self, entity: EntitySpec) -> int:
        from sqlalchemy.exc import SQLAlchemyError

        sql = f"SELECT COUNT(*) FROM ({_select(entity, self._quote)}) AS legacy_rows"  # noqa: S608
        try:
            with self.engine.connect() as connection:
                self._read_only(connection)
                return int(connection.execution_options(no_parameters=True).exec_driver_sql(sql).scalar_one())
        except SQLAlchemyError as exc:
            raise self._error(entity, exc) from None


# -- Access ----------------------------------------------------------------------------------------------------


class AccessSource(Source):
    """An Access file (.mdb/.accdb) read with Debian's mdbtools: ``mdb-export`` writes a table as CSV (UTF-8),
    which is read as it comes. An entity reads a ``table``; row numbers are positions in the table."""

    def __init__(self, spec: SourceSpec):
        super().__init__(spec)
        self._path()

    def describe(self, entity: EntitySpec) -> str:
        return gettext("%(file)s, table '%(table)s'") % {"file": Path(str(self.spec.path)).name, "table": entity.table}

    def _records(self, entity: EntitySpec) -> Iterator[Any]:
        where = self.describe(entity)
        command = [
            "mdb-export",
            "-D",
            ACCESS_DATE_FORMAT,
            "-T",
            ACCESS_DATE_FORMAT,
            "-b",
            "strip",
            str(self._path()),
            str(entity.table),
        ]
        with tempfile.TemporaryFile() as errors:
            try:
                process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)  # noqa: S603
            except FileNotFoundError:
                raise SourceError(
                    gettext("mdb-export is not installed: install Debian's mdbtools (apt-get install mdbtools)")
                ) from None

            def failure() -> SourceError:
                errors.seek(0)
                message = errors.read().decode("utf-8", "replace").strip() or gettext("mdb-export failed")
                return SourceError(f"{where}: {message}")

            try:
                assert process.stdout is not None
                lines = _decoded_lines(process.stdout, "utf-8", where)
                records = _csv_records(lines, ",", where, positions=True)
                header = next(records)
                if not header:
                    process.wait()
                    raise failure()
                yield header
                for number, values, problem in records:
                    values = [_access_text(value) for value in values]
                    yield (number, values, problem)
                if process.wait() != 0:
                    raise failure()
            finally:
                if process.poll() is None:
                    process.kill()
                process.wait()
                if process.stdout is not None:
                    process.stdout.close()


def _access_text(value: str | None) -> str | None:
    if value is None:
        return None
    match = _ACCESS_MIDNIGHT.match(value)
    return match.group(1) if match else value
