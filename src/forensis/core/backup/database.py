"""The engine-specific half of backups: a consistent snapshot, what a database holds, loading a snapshot back.

Everything else in ``forensis.core.backup`` is the same on both engines. The consistency argument:

- **SQLite**: ``sqlite3.Connection.backup`` copies every page in one step (``pages=-1``) inside one read
  transaction. The database runs in WAL mode (settings), so that read transaction sees the last commit
  before it began and nothing after, while writers go on appending to the WAL.
- **PostgreSQL**: a REPEATABLE READ transaction exports its snapshot (``pg_export_snapshot``) and
  ``pg_dump --snapshot`` dumps exactly that snapshot, while the same transaction reads the manifest's
  facts and the list of stored files. Dump and manifest therefore describe the same instant (MVCC).

In both cases the list of stored files is read *from the snapshot*: a file is saved before the row that names
it is committed (``core.files.store_upload``, ``reports.services``), so every file the snapshot refers to is
complete on disk, and files written after the snapshot are not needed.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import connection, models, transaction
from django.db.backends.postgresql.client import DatabaseClient

from forensis.core import append_only

from .errors import BackupError

#: Tables that ``forensis migrate`` fills by itself: Django's bookkeeping, the roles (groups and their
#: permissions) and the reference data seeded by data migrations. A target whose only rows are in these
#: tables counts as empty (see ``occupied_tables``). Sessions and failed sign-ins hold no laboratory data.
MIGRATION_DATA_TABLES = frozenset(
    {
        "django_migrations",
        "django_content_type",
        "auth_permission",
        "auth_group",
        "auth_group_permissions",
        "django_session",
        "evidence_retentionrule",
        "intake_kit",
        "intake_kititem",
        "intake_kititem_disciplines",
        "lab_discipline",
        "statistics_population",
    }
)

AUDIT_TABLE = "audit_auditevent"


def vendor() -> str:
    if connection.vendor not in ("sqlite", "postgresql"):
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {connection.vendor}.")
    return connection.vendor


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def list_tables(cursor: Any, engine: str) -> list[str]:
    """The tables of the database the cursor reads (PostgreSQL: of its current schema), sorted."""
    if engine == "sqlite":
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!'")
    else:
        cursor.execute("SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()")
    return sorted(row[0] for row in cursor.fetchall())


# --- what a database holds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileColumns:
    """Where one model keeps a stored file: its table, key and file column, and the SHA-256 and size columns
    when the model stores them (``core.files.StoredFile``, ``reports.ReportVersion``)."""

    label: str
    table: str
    pk: str
    file: str
    sha256: str | None
    size: str | None


def file_columns() -> list[FileColumns]:
    """Every FileField of every installed model. A model's ``sha256`` and ``size`` fields are taken to describe
    its file when it has exactly one FileField (true of every model that stores a file today)."""
    found = []
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        file_fields = [f for f in meta.concrete_fields if isinstance(f, models.FileField)]
        names = {f.name: f for f in meta.concrete_fields}
        for field in file_fields:
            single = len(file_fields) == 1
            sha = names.get("sha256") if single else None
            size = names.get("size") if single else None
            found.append(
                FileColumns(
                    meta.label,
                    meta.db_table,
                    meta.pk.column,
                    field.column,
                    sha.column if sha else None,
                    size.column if size else None,
                )
            )
    return found


@dataclass(frozen=True)
class FileReference:
    """One stored file a database row names."""

    name: str
    sha256: str | None
    size: int | None
    row: str  # e.g. "reports.reportversion 12", for messages


@dataclass
class Contents:
    """The facts a manifest records about a database, read from one consistent state of it."""

    migrations: dict[str, str]
    row_counts: dict[str, int]
    last_event_id: int | None
    last_event_hash: str | None
    files: list[FileReference]


def describe(cursor: Any, engine: str) -> Contents:
    """Read the manifest's facts through ``cursor`` (a snapshot's, or the restored database's)."""
    tables = list_tables(cursor, engine)
    if "django_migrations" not in tables or AUDIT_TABLE not in tables:
        raise BackupError("The database has no Forensis tables: there is nothing to back up (run forensis migrate).")
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
    migrations: dict[str, str] = {}
    for app, name in cursor.fetchall():
        migrations[app] = name  # the last applied of each app
    counts = {}
    for table in tables:
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608  (names from the catalogue)
        counts[table] = cursor.fetchone()[0]
    cursor.execute(f"SELECT id, hash FROM {AUDIT_TABLE} ORDER BY id DESC LIMIT 1")  # noqa: S608
    last = cursor.fetchone()
    files = []
    for columns in file_columns():
        if columns.table not in tables:
            continue
        selected = [columns.pk, columns.file, columns.sha256 or columns.file, columns.size or columns.pk]
        cursor.execute(
            f"SELECT {', '.join(quote(c) for c in selected)} FROM {quote(columns.table)} "  # noqa: S608
            f"WHERE {quote(columns.file)} <> '' ORDER BY {quote(columns.pk)}"
        )
        for pk, name, sha, size in cursor.fetchall():
            files.append(
                FileReference(
                    name,
                    sha if columns.sha256 else None,
                    size if columns.size else None,
                    f"{columns.label} {pk}",
                )
            )
    return Contents(
        migrations=migrations,
        row_counts=counts,
        last_event_id=last[0] if last else None,
        last_event_hash=last[1] if last else None,
        files=files,
    )


def engine_version(cursor: Any, engine: str) -> str:
    if engine == "sqlite":
        return sqlite3.sqlite_version
    cursor.execute("SHOW server_version")
    return cursor.fetchone()[0]


# --- taking a snapshot ---------------------------------------------------------------------------------------


@contextmanager
def snapshot(target: Path) -> Iterator[Any]:
    """Write a consistent snapshot of the database to the new file ``target``; yield a cursor that reads that
    same snapshot (to describe it) until the block ends."""
    if vendor() == "sqlite":
        with _sqlite_snapshot(target) as cursor:
            yield cursor
    else:
        with _postgresql_snapshot(target) as cursor:
            yield cursor


@contextmanager
def _sqlite_snapshot(target: Path) -> Iterator[Any]:
    name = connection.settings_dict["NAME"]
    if not Path(name).is_file():
        raise BackupError(f"The SQLite database {name} does not exist: there is nothing to back up.")
    timeout = connection.settings_dict.get("OPTIONS", {}).get("timeout", 20)
    with closing(sqlite3.connect(name, timeout=timeout)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)  # all pages in one step: one read transaction, one committed state
        # The copy is one self-contained file (no -wal beside it); Forensis turns WAL on again when it opens it.
        copy.execute("PRAGMA journal_mode=DELETE")
        cursor = copy.cursor()
        yield cursor
        cursor.close()
    with target.open("rb") as handle:
        os.fsync(handle.fileno())


@contextmanager
def _postgresql_snapshot(target: Path) -> Iterator[Any]:
    import psycopg

    pg_dump = _client_program("pg_dump")
    raw = connection.get_new_connection(connection.get_connection_params())
    try:
        raw.autocommit = False
        raw.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        raw.read_only = True
        with raw.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot_id = cursor.fetchone()[0]
            _run(
                [pg_dump, "--format=custom", "--no-password", f"--snapshot={snapshot_id}", f"--file={target}"],
                "pg_dump",
            )
            yield cursor
        raw.rollback()
    finally:
        raw.close()


# --- PostgreSQL client programs ------------------------------------------------------------------------------


def _client_program(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} is not installed or not on the PATH; install the PostgreSQL client programs of the server's "
            "version (Debian: apt-get install postgresql-client)."
        )
    return found


def _environment() -> dict[str, str]:
    """libpq's environment for this database: the password travels in PGPASSWORD, never on a command line."""
    settings = connection.settings_dict
    _args, extra = DatabaseClient.settings_to_cmd_args_env(settings, [])
    env = {**os.environ, **(extra or {})}
    for key, variable in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("NAME", "PGDATABASE")):
        if settings.get(key):
            env[variable] = str(settings[key])
    return env


def _run(argv: list[str], program: str) -> None:
    result = subprocess.run(argv, env=_environment(), capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        message = (result.stderr or result.stdout or "").strip()
        password = connection.settings_dict.get("PASSWORD")
        if password:
            message = message.replace(str(password), "***")
        lines = [line for line in message.splitlines() if line.strip()][:3]
        raise BackupError(f"{program} failed (exit status {result.returncode}): {' / '.join(lines) or 'no message'}.")


# --- the target of a restore ---------------------------------------------------------------------------------


def occupied_tables() -> dict[str, int]:
    """The tables of this installation's database that hold rows beyond what ``migrate`` puts there.

    Empty means: no tables at all (a new database), or migrated with no row in any table outside
    ``MIGRATION_DATA_TABLES`` — no users, no audit events, no agencies, no cases, nothing.
    """
    engine = vendor()
    with connection.cursor() as cursor:
        occupied = {}
        for table in list_tables(cursor, engine):
            if table in MIGRATION_DATA_TABLES:
                continue
            cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608
            count = cursor.fetchone()[0]
            if count:
                occupied[table] = count
    return occupied


def has_tables() -> bool:
    with connection.cursor() as cursor:
        return bool(list_tables(cursor, vendor()))


def drop_all_tables() -> None:
    """PostgreSQL: drop every table (and the ledgers' trigger functions) of an empty installation in one
    transaction, so ``pg_restore`` can recreate them; called only after ``occupied_tables`` found no rows,
    or to undo a failed restore."""
    with transaction.atomic(), connection.cursor() as cursor:
        tables = list_tables(cursor, "postgresql")
        for table in append_only.LEDGER_TABLES:
            if table in tables:
                append_only.remove(connection, table)
        if tables:
            cursor.execute(f"DROP TABLE {', '.join(quote(t) for t in tables)} CASCADE")
    connection.close()


def pg_restore(dump: Path) -> None:
    """Load a custom-format dump into this (empty) database in one transaction: all of it or nothing."""
    program = _client_program("pg_restore")
    connection.close()
    _run(
        [
            program,
            "--no-password",
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            "--no-privileges",
            f"--dbname={connection.settings_dict['NAME']}",
            str(dump),
        ],
        "pg_restore",
    )
