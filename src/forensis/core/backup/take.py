"""``forensis backup DEST``: a consistent snapshot of the database, the stored files it refers to, a manifest."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError

from forensis.audit.services import record

from . import database
from .errors import BackupError
from .manifest import (
    DATABASE_FILE,
    FILES,
    FORMAT,
    FORMAT_VERSION,
    copy_and_hash,
    fsync_directory,
    hash_file,
    safe_relative,
    write_manifest,
)


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    engine: str
    size: int
    stored_files: int
    audit_events: int
    seconds: float


def forensis_version() -> str:
    try:
        return version("forensis")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "unknown"


def _check_destination(dest: Path) -> None:
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise BackupError(f"{dest} exists and is not a directory; give a new or empty directory.")
    if dest.is_dir() and any(dest.iterdir()):
        raise BackupError(
            f"{dest} is not empty; give a new or empty directory (a backup never mixes with other files)."
        )
    if dest.is_dir() and os.path.ismount(dest):
        raise BackupError(
            f"{dest} is a mount point; give a new folder on it instead (e.g. {dest / 'forensis-backup'}), so the "
            "backup can be written under a temporary name and renamed when complete."
        )
    if not dest.parent.is_dir():
        raise BackupError(f"The folder {dest.parent} does not exist; create it first.")


def take_backup(dest: Path) -> BackupSummary:
    """Write a backup of this installation to ``dest`` (a new or empty directory) and record it in the audit log.

    Everything is written into a hidden sibling, ``.NAME.partial-PID``, which is renamed to ``dest`` only
    when the manifest is on disk: a backup that was killed or failed never looks complete, and its leftover
    is removed on failure (or by the operator after a kill).
    """
    started = time.monotonic()
    dest = Path(os.path.abspath(dest))
    _check_destination(dest)
    engine = database.vendor()
    partial = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    try:
        partial.mkdir(mode=0o700)
    except OSError as exc:
        raise BackupError(f"Cannot create {partial}: {exc.strerror}.") from None
    done = False
    try:
        manifest = _write(partial, engine)
        if dest.is_dir():
            dest.rmdir()  # empty (checked above); rename() cannot replace it on every filesystem
        partial.rename(dest)
        fsync_directory(dest.parent)
        done = True
    except OSError as exc:
        raise BackupError(f"Could not write the backup: {exc.strerror} ({exc.filename}).") from None
    finally:
        if not done:
            shutil.rmtree(partial, ignore_errors=True)
    size = sum(entry["size"] for entry in manifest["files"])
    stored = len(manifest["files"]) - 1
    try:
        _record(dest, manifest, size, stored)
    except DatabaseError as exc:
        raise BackupError(
            f"The backup was written to {dest}, but recording it in the audit log failed ({exc})."
        ) from None
    return BackupSummary(
        path=dest,
        engine=engine,
        size=size,
        stored_files=stored,
        audit_events=manifest["row_counts"].get(database.AUDIT_TABLE, 0),
        seconds=time.monotonic() - started,
    )


def _record(dest: Path, manifest: dict, size: int, stored: int) -> None:
    record(
        "backup.created",
        object_type="backup",
        object_id=dest.name[:64],
        object_repr=str(dest)[:200],
        after={
            "path": str(dest),
            "snapshot_at": manifest["created_at"],
            "size": size,
            "stored_files": stored,
            "last_event_id": manifest["audit"]["last_event_id"],
            "last_event_hash": manifest["audit"]["last_event_hash"],
        },
    )


def _write(directory: Path, engine: str) -> dict:
    """Snapshot, stored files and manifest into ``directory``; the manifest (last) is returned."""
    db_name = DATABASE_FILE[engine]
    created_at = datetime.now(UTC)
    with database.snapshot(directory / db_name) as cursor:
        contents = database.describe(cursor, engine)
        engine_version = database.engine_version(cursor, engine)
    entries = [_entry(db_name, *hash_file(directory / db_name))]
    entries += _copy_stored_files(contents.files, directory)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "forensis_version": forensis_version(),
        "engine": engine,
        "engine_version": engine_version,
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
        "database": db_name,
        "migrations": contents.migrations,
        "row_counts": contents.row_counts,
        "audit": {
            "events": contents.row_counts.get(database.AUDIT_TABLE, 0),
            "last_event_id": contents.last_event_id,
            "last_event_hash": contents.last_event_hash,
        },
        "stored_files": len(entries) - 1,
        "files": entries,
    }
    write_manifest(directory, manifest)
    fsync_directory(directory)
    return manifest


def _entry(path: str, sha256: str, size: int) -> dict:
    return {"path": path, "sha256": sha256, "size": size}


def _copy_stored_files(references: list[database.FileReference], directory: Path) -> list[dict]:
    """Copy every file the snapshot names, checking each against the SHA-256 and size the database stores."""
    media_root = Path(settings.MEDIA_ROOT)
    entries: dict[str, dict] = {}
    for reference in references:
        relative = safe_relative(reference.name)
        if relative.as_posix() in entries:
            copied = entries[relative.as_posix()]
        else:
            source = media_root / relative
            if not source.is_file():
                raise BackupError(
                    f"The stored file {relative} ({reference.row}) is missing from {media_root}; nothing was backed "
                    "up. Put the file back (from an earlier backup) and run the backup again."
                )
            copied = _entry(relative.as_posix(), *copy_and_hash(source, directory / FILES / relative))
            entries[relative.as_posix()] = copied
        if reference.sha256 is not None and copied["sha256"] != reference.sha256:
            raise BackupError(
                f"The stored file {relative} ({reference.row}) does not match the SHA-256 the database recorded for "
                "it: it was changed or damaged on disk. Nothing was backed up; investigate, and put the original "
                "back from an earlier backup."
            )
        if reference.size is not None and copied["size"] != reference.size:
            raise BackupError(
                f"The stored file {relative} ({reference.row}) has {copied['size']} bytes, the database recorded "
                f"{reference.size}. Nothing was backed up; investigate, and put the original back."
            )
    return [{**entry, "path": f"{FILES}/{entry['path']}"} for _name, entry in sorted(entries.items())]
