"""``forensis restore SRC``: a backup brought back into an empty installation, then verified.

The steps, and what a failure at each leaves behind:

1. **Checks** (nothing is touched): the manifest's shape, its engine against this installation's, its
   migrations against this code's, the backup's files against the manifest's list and sizes, and that the
   installation is empty (``database.occupied_tables``; no stored files; no earlier incomplete restore).
2. **Load**: a marker file ``RESTORE-INCOMPLETE`` is written into the data directory; every file of the
   backup is copied into a staging folder there while its SHA-256 is checked against the manifest; the
   database is loaded (PostgreSQL: ``pg_restore --single-transaction``; SQLite: the copy is renamed into
   place, the empty database it replaces kept aside until the end); the loaded database is compared with
   the manifest (row counts of every table, last audit event, migrations, stored files); the stored files
   are moved into place. Any failure here undoes the load — the database is left empty (PostgreSQL:
   without tables), the data directory as it was — and removes the marker.
3. **Migrate** (migrations newer than the backup, if any), put the ledgers' append-only triggers in place,
   and **verify** the audit chain, the custody ledger and the stored files. A failure here leaves the
   restored data for inspection and the marker, which says what failed; remove the installation's database
   and files before restoring again.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from forensis.audit.services import record, verify_chain
from forensis.core import append_only
from forensis.evidence.services import gap_check, verify_ledger

from . import database
from .errors import BackupError
from .manifest import ENGINE_NAMES, FILES, MANIFEST, check_listing, copy_and_hash, read_manifest
from .take import forensis_version

MARKER = "RESTORE-INCOMPLETE"
STAGING = ".restore-staging"


@dataclass(frozen=True)
class RestoreSummary:
    source: Path
    engine: str
    created_at: str
    audit_events: int
    custody_events: int
    custody_items: int
    stored_files: int
    migrations_applied: int
    seconds: float


def check_migrations(manifest: dict) -> None:
    """Refuse a backup made by a newer Forensis: one whose last migration of an app this code does not have."""
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    for app, name in sorted(manifest["migrations"].items()):
        if (app, name) not in known:
            raise BackupError(
                f"The backup was made by a newer Forensis ({manifest.get('forensis_version', 'unknown version')}): "
                f"its migration {app}.{name} is unknown to this Forensis ({forensis_version()}). Install that "
                "version or a later one, then restore."
            )


def _files_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if not p.is_dir()) if directory.is_dir() else []


def start_again(data_dir: Path, media_root: Path) -> str:
    """How to get back to an empty installation after an incomplete restore, in this installation's terms."""
    name = connection.settings_dict["NAME"]
    database_step = f"drop and re-create the database {name}" if connection.vendor == "postgresql" else f"delete {name}"
    return f"{database_step}, delete {media_root} and {data_dir / STAGING}, then delete {data_dir / MARKER}"


def check_target(data_dir: Path, media_root: Path) -> None:
    """Refuse unless this installation is empty (module docstring, step 1)."""
    if (data_dir / MARKER).exists() or (data_dir / STAGING).exists():
        raise BackupError(
            f"{data_dir} holds an incomplete restore (see {data_dir / MARKER}). To start again from an empty "
            f"installation: {start_again(data_dir, media_root)}."
        )
    stored = _files_in(media_root)
    if stored:
        raise BackupError(
            f"This installation already holds stored files ({len(stored)}, e.g. {stored[0]}); restore only into an "
            "empty installation."
        )
    occupied = database.occupied_tables()
    if occupied:
        table, rows = next(iter(sorted(occupied.items())))
        others = f" and {len(occupied) - 1} other table(s) hold rows too" if len(occupied) > 1 else ""
        raise BackupError(
            f"This installation's database is not empty: {table} holds {rows} row(s){others}. Restore only into an "
            "empty installation (a new database, or one that was only migrated); nothing was changed."
        )


class _Target:
    """The installation being restored into, and how to undo a load that failed (step 2)."""

    def __init__(self, engine: str, source: Path, manifest: dict):
        self.engine, self.source, self.manifest = engine, source, manifest
        self.data_dir = Path(settings.DATA_DIR)
        self.media_root = Path(settings.MEDIA_ROOT)
        self.staging = self.data_dir / STAGING
        self.marker = self.data_dir / MARKER
        self.sqlite_path = Path(connection.settings_dict["NAME"])  # SQLite only
        self.set_aside = self.sqlite_path.with_name(self.sqlite_path.name + ".pre-restore")
        self.database_touched = False
        self.files_placed = False
        self.started = datetime.now(UTC)

    # the marker ----------------------------------------------------------------------------------------------

    def mark(self, state: str) -> None:
        text = (
            f"A restore of Forensis from {self.source} (backup of {self.manifest.get('created_at')}) started at "
            f"{self.started:%Y-%m-%d %H:%M:%S} UTC and did not finish.\n\n{state}\n\n"
            "Do not use this installation. To start again from an empty installation: "
            f"{start_again(self.data_dir, self.media_root)}; then run forensis restore again.\n"
        )
        temporary = self.marker.with_name(f".{MARKER}.tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(self.marker)

    # step 2 ------------------------------------------------------------------------------------------------

    def stage(self) -> None:
        """Copy every file of the backup into the staging folder, checking each against the manifest's sum."""
        self.staging.mkdir(mode=0o700)
        for entry in self.manifest["files"]:
            sha256, size = copy_and_hash(self.source / entry["path"], self.staging / entry["path"])
            if sha256 != entry["sha256"] or size != entry["size"]:
                raise BackupError(
                    f"The backup's file {entry['path']} does not match the SHA-256 in its manifest: the backup is "
                    "damaged or was altered. Nothing was restored."
                )

    def load_database(self) -> None:
        staged = self.staging / self.manifest["database"]
        self.database_touched = True
        if self.engine == "postgresql":
            if database.has_tables():
                database.drop_all_tables()  # migrated but empty (checked): pg_restore recreates everything
            database.pg_restore(staged)
        else:
            connection.close()
            _move_sqlite(self.sqlite_path, self.set_aside)  # the empty database it replaces, until the end
            shutil.move(staged, self.sqlite_path)
        connection.close()

    def place_files(self) -> None:
        staged = self.staging / FILES
        if staged.is_dir():
            if self.media_root.exists():
                shutil.rmtree(self.media_root)  # holds no file (checked): empty folders only
            self.files_placed = True
            shutil.move(staged, self.media_root)
        shutil.rmtree(self.staging)

    def undo(self) -> None:
        """Back to an empty installation after a failed load; the marker goes only if that worked."""
        try:
            connection.close()
            if self.files_placed:
                shutil.rmtree(self.media_root, ignore_errors=False)
            if self.staging.exists():
                shutil.rmtree(self.staging)
            if self.database_touched:
                if self.engine == "postgresql":
                    database.drop_all_tables()
                else:
                    _delete_sqlite(self.sqlite_path)
                    _move_sqlite(self.set_aside, self.sqlite_path)
            self.marker.unlink(missing_ok=True)
        except Exception as exc:  # the marker stays and says so
            self.mark(f"The restore failed, and undoing it failed too ({exc}).")

    def finish(self) -> None:
        if self.engine == "sqlite":
            _delete_sqlite(self.set_aside)
        self.marker.unlink()


def _sqlite_companions(path: Path) -> list[Path]:
    """A SQLite database file and its write-ahead log and shared-memory files, which belong with it."""
    return [path.with_name(path.name + suffix) for suffix in ("", "-wal", "-shm")]


def _move_sqlite(source: Path, target: Path) -> None:
    for current, new in zip(_sqlite_companions(source), _sqlite_companions(target), strict=True):
        if current.exists():
            current.replace(new)


def _delete_sqlite(path: Path) -> None:
    for current in _sqlite_companions(path):
        current.unlink(missing_ok=True)


def compare_with_manifest(manifest: dict, contents: database.Contents) -> None:
    """The loaded database is the one the manifest describes, and the stored files are the ones it lists."""
    problems = []
    if contents.migrations != manifest["migrations"]:
        problems.append("its applied migrations differ from the manifest's")
    for table in sorted(set(manifest["row_counts"]) | set(contents.row_counts)):
        expected, found = manifest["row_counts"].get(table), contents.row_counts.get(table)
        if expected != found:
            problems.append(f"table {table} has {found} row(s), the manifest says {expected}")
            break
    audit = manifest["audit"]
    if (contents.last_event_id, contents.last_event_hash) != (audit.get("last_event_id"), audit.get("last_event_hash")):
        problems.append(
            f"its last audit event is #{contents.last_event_id} ({contents.last_event_hash}), the manifest says "
            f"#{audit.get('last_event_id')} ({audit.get('last_event_hash')})"
        )
    listed = {entry["path"]: entry for entry in manifest["files"] if entry["path"].startswith(f"{FILES}/")}
    referenced = set()
    for reference in contents.files:
        path = f"{FILES}/{reference.name}"
        referenced.add(path)
        entry = listed.get(path)
        if entry is None:
            problems.append(f"{reference.row} refers to the file {reference.name}, which the backup does not hold")
        elif reference.sha256 is not None and reference.sha256 != entry["sha256"]:
            problems.append(f"{reference.row} records another SHA-256 for {reference.name} than the backup's")
        elif reference.size is not None and reference.size != entry["size"]:
            problems.append(f"{reference.row} records another size for {reference.name} than the backup's")
        if len(problems) > 3:
            break
    unreferenced = sorted(set(listed) - referenced)
    if unreferenced and not problems:
        problems.append(f"the backup holds {unreferenced[0]}, which no row of the database refers to")
    if problems:
        raise BackupError(f"The restored database does not match the backup's manifest: {'; '.join(problems)}.")


def verify_restored(media_root: Path) -> tuple[int, int, int, int]:
    """Audit chain, custody ledger and stored files of the restored installation; (audit events, custody events,
    items, stored files) when all are intact, else BackupError naming the first problem."""
    chain = verify_chain()
    if not chain.intact:
        raise BackupError(
            f"The restored audit chain is BROKEN at event #{chain.broken_id}: {chain.problem} "
            f"({chain.checked} events before it are intact)."
        )
    ledger = verify_ledger()
    problems = ledger.problems + gap_check()
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise BackupError(f"The restored custody ledger is BROKEN: {problems[0].rstrip('.')}{more}.")
    with connection.cursor() as cursor:
        contents = database.describe(cursor, database.vendor())
    for reference in contents.files:
        path = media_root / reference.name
        if not path.is_file():
            raise BackupError(f"The stored file {reference.name} ({reference.row}) is missing after the restore.")
        if reference.size is not None and path.stat().st_size != reference.size:
            raise BackupError(
                f"The stored file {reference.name} ({reference.row}) has the wrong size after the restore."
            )
    return chain.checked, ledger.events, ledger.items, len({r.name for r in contents.files})


def restore_backup(source: Path) -> RestoreSummary:
    """Restore the backup in ``source`` into this (empty) installation; see the module docstring."""
    started = time.monotonic()
    source = Path(os.path.abspath(source))
    manifest = read_manifest(source)
    engine = database.vendor()
    if manifest["engine"] != engine:
        raise BackupError(
            f"This is a backup of a {ENGINE_NAMES[manifest['engine']]} database and this installation uses "
            f"{ENGINE_NAMES[engine]}. Restoring from one engine into the other is not supported: point "
            f"DATABASE_URL at an empty {ENGINE_NAMES[manifest['engine']]} database and restore there."
        )
    check_migrations(manifest)
    check_listing(source, manifest)
    target = _Target(engine, source, manifest)
    check_target(target.data_dir, target.media_root)

    target.mark("State: copying and checking the backup's files (nothing of the installation changed yet).")
    try:
        target.stage()
        target.mark("State: loading the database.")
        target.load_database()
        with connection.cursor() as cursor:
            compare_with_manifest(manifest, database.describe(cursor, engine))
        target.mark("State: moving the stored files into place.")
        target.place_files()
    except BaseException:
        target.undo()
        raise

    target.mark("State: the database and files are restored; applying newer migrations (forensis migrate).")
    try:
        executor = MigrationExecutor(connection)
        pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
        if pending:
            call_command("migrate", interactive=False, verbosity=0)
        # The ledgers' append-only triggers, whatever the backed-up database had (migrate does the same).
        append_only.reinstall_after_migrate(sender=None)
    except Exception as exc:
        target.mark(f"State: the database and files are restored, but forensis migrate failed: {exc}")
        raise BackupError(
            f"The backup was restored but forensis migrate failed ({exc}); see {target.marker}."
        ) from None

    target.mark("State: restored and migrated; verifying the audit chain, the custody ledger and the stored files.")
    try:
        audit_events, custody_events, items, stored = verify_restored(target.media_root)
    except BackupError as exc:
        target.mark(f"State: restored, but the verification FAILED: {exc}")
        raise BackupError(f"{exc} The restored data is left for inspection; see {target.marker}.") from None

    record(
        "backup.restored",
        object_type="backup",
        object_id=source.name[:64],
        object_repr=str(source)[:200],
        after={
            "source": str(source),
            "backup_created_at": manifest["created_at"],
            "backup_forensis_version": manifest.get("forensis_version"),
            "last_event_id": manifest["audit"].get("last_event_id"),
            "last_event_hash": manifest["audit"].get("last_event_hash"),
            "migrations_applied": pending,
        },
    )
    target.finish()
    return RestoreSummary(
        source=source,
        engine=engine,
        created_at=manifest["created_at"],
        audit_events=audit_events,
        custody_events=custody_events,
        custody_items=items,
        stored_files=stored,
        migrations_applied=pending,
        seconds=time.monotonic() - started,
    )


__all__ = ["MANIFEST", "MARKER", "RestoreSummary", "restore_backup"]
