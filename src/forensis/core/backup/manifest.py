"""The backup directory's layout and its ``manifest.json``: what it holds, and how its files are checked.

A backup directory::

    manifest.json            what is below, with the SHA-256 and size of every other file
    database.sqlite3         SQLite: a copy made with SQLite's online backup API
    database.pgdump          PostgreSQL: ``pg_dump --format=custom`` of one snapshot
    files/<name>             every stored file the database refers to, at the name the database gives it

Nothing else may be in it: a file the manifest does not list is a reason to refuse the backup.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import BackupError

FORMAT = "forensis-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FILES = "files"
DATABASE_FILE = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
ENGINE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

_CHUNK = 1024 * 1024
_HEX = frozenset("0123456789abcdef")


def safe_relative(name: object) -> PurePosixPath:
    """``name`` as a relative path that stays inside the directory it is joined to, or BackupError.

    Used for the names the database gives stored files and for every path a manifest lists, so neither a
    strange row nor an edited manifest can make a backup read, or a restore write, outside its directories.
    """
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        raise BackupError(f"{name!r} is not a usable file name.")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", ".", "..") for part in name.split("/")):
        raise BackupError(f"{name!r} is not a relative path inside the backup.")
    return path


def hash_file(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def copy_and_hash(source: Path, target: Path) -> tuple[str, int]:
    """Copy ``source`` to a new file ``target`` (parents made), flushed to disk; SHA-256 and size of what was
    copied. One read serves both the copy and the check."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as reader, target.open("xb") as writer:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    return digest.hexdigest(), size


def fsync_directory(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable (a crash right after cannot undo it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    path = directory / MANIFEST
    with path.open("x", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of the backup in ``directory``, checked for shape (not yet against the files), or
    BackupError saying in plain words why this is not a backup Forensis can read."""
    if not directory.exists():
        raise BackupError(f"{directory} does not exist.")
    if not directory.is_dir():
        raise BackupError(f"{directory} is not a directory; give the backup's directory.")
    path = directory / MANIFEST
    if not path.is_file():
        raise BackupError(
            f"{directory} is not a Forensis backup: it has no {MANIFEST} (an interrupted backup never has one)."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"The backup's {MANIFEST} is not valid JSON ({exc}); the backup is damaged.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not the manifest of a Forensis backup.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"The backup has format version {manifest.get('format_version')!r}; this Forensis reads version "
            f"{FORMAT_VERSION} only."
        )
    engine = manifest.get("engine")
    if engine not in DATABASE_FILE:
        raise BackupError(f"The manifest names an unknown database engine {engine!r}.")
    problems = []
    if manifest.get("database") != DATABASE_FILE[engine]:
        problems.append(f"'database' should be {DATABASE_FILE[engine]}")
    for key in ("migrations", "row_counts", "audit"):
        if not isinstance(manifest.get(key), dict):
            problems.append(f"'{key}' is missing")
    migrations = manifest.get("migrations") or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in migrations.items()):
        problems.append("'migrations' must map app names to migration names")
    counts = manifest.get("row_counts") or {}
    if not all(isinstance(k, str) and isinstance(v, int) and v >= 0 for k, v in counts.items()):
        problems.append("'row_counts' must map table names to numbers")
    audit = manifest.get("audit") or {}
    if audit.get("last_event_id") is not None and not (
        isinstance(audit.get("last_event_id"), int) and _is_sha256(audit.get("last_event_hash"))
    ):
        problems.append("'audit' must give the last event's id and hash")
    files = manifest.get("files")
    if not isinstance(files, list) or not files:
        problems.append("'files' is missing")
        files = []
    seen: set[str] = set()
    for entry in files:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and _is_sha256(entry.get("sha256"))
            and isinstance(entry.get("size"), int)
            and entry["size"] >= 0
        ):
            problems.append(f"the entry {entry!r} of 'files' needs a path, a sha256 and a size")
            break
        safe_relative(entry["path"])
        if entry["path"] == MANIFEST or entry["path"] in seen:
            problems.append(f"'files' lists {entry['path']} twice")
            break
        seen.add(entry["path"])
        if entry["path"] != manifest.get("database") and not entry["path"].startswith(f"{FILES}/"):
            problems.append(f"'files' lists {entry['path']}, which is neither the database nor a stored file")
            break
    if manifest.get("database") not in seen:
        problems.append("'files' does not list the database")
    if problems:
        raise BackupError(f"The backup's {MANIFEST} is not valid: {'; '.join(problems)}.")
    return manifest


def files_on_disk(directory: Path) -> Iterator[str]:
    """Every entry below ``directory`` that is not a directory, as a relative POSIX path (symbolic links too,
    so a backup with one is refused rather than followed)."""
    for root, dirs, names in os.walk(directory):
        base = Path(root)
        for name in names + [d for d in dirs if (base / d).is_symlink()]:
            yield (base / name).relative_to(directory).as_posix()


def check_listing(directory: Path, manifest: dict[str, Any]) -> None:
    """The backup holds exactly the files its manifest lists, each a regular file of the listed size.

    Cheap (no reading): the sums are checked while the files are copied. Raises BackupError naming the first
    file that is missing, unexpected or of another size.
    """
    listed = {entry["path"]: entry for entry in manifest["files"]}
    for relative in sorted(files_on_disk(directory)):
        if relative != MANIFEST and relative not in listed:
            raise BackupError(f"The backup holds {relative}, which its manifest does not list; refusing to restore it.")
    for relative, entry in listed.items():
        path = directory / relative
        if path.is_symlink() or not path.is_file():
            raise BackupError(f"The backup's file {relative} is missing; the backup is incomplete or damaged.")
        if path.stat().st_size != entry["size"]:
            raise BackupError(
                f"The backup's file {relative} has {path.stat().st_size} bytes, the manifest says {entry['size']}; "
                "the backup is damaged or was altered."
            )
