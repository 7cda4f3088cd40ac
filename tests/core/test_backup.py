"""``forensis backup`` and ``forensis restore``, driven as an operator drives them: ``forensis`` subprocesses, each
installation with its own data directory and (when DATABASE_URL names a PostgreSQL server) its own database
``h3_…``, made here and dropped afterwards. The tests never touch pytest-django's test database.

The source installation is ``forensis migrate`` + ``forensis seed-demo`` + a released toxicology report (a signed
PDF) with instrument files attached, and a second examination in progress that the writer of the "in use" test
attaches files to. The oracle (``Installation.state``) reads each database directly (sqlite3 / psycopg) and
hashes the files' bytes, independently of the backup code; the chains are checked with ``forensis audit verify``
and ``forensis custody verify``.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE_URL = os.environ.get("DATABASE_URL", "").strip()
ENGINE = "postgresql" if BASE_URL else "sqlite"
SQLITE_NAME = "forensis.sqlite3"  # the default database in the data directory (settings._database)
MARKER = "RESTORE-INCOMPLETE"
ATTACHMENTS = 3  # instrument files on the released examination
#: The tables whose rows name stored files, each with the file's SHA-256 (known here independently of the code).
FILE_TABLES = ("lab_attachment", "evidence_shipmentresult", "reports_reportversion")


def _forensis() -> str:
    beside_python = Path(sys.executable).with_name("forensis")
    return str(beside_python) if beside_python.exists() else shutil.which("forensis") or "forensis"


# --- code run inside an installation (``forensis shell -c``): seeding, writing, reading ---------------------------


def seed_casework() -> None:
    """On top of the demo: a released toxicology report (its signed PDF stored) with instrument files attached,
    and a second toxicology examination left in progress (the writer attaches files to it)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from forensis.accounts.models import User
    from forensis.lab import services as lab
    from forensis.lab.models import Instrument, Method, ReagentLot, ReviewStage, ServiceRequest
    from tests.lab.test_review_services import BLOOD_ALCOHOL, receive_toxicology_case

    people = {user.username: user for user in User.objects.all()}
    analyst, manager = people["analyst"], people["manager"]
    setup = {
        "method": Method.objects.get(code="TOX-BAC-HS"),
        "instrument": Instrument.objects.get(serial_number="US2201A001"),
        "reagent_lots": [ReagentLot.objects.get(lot_number="NP-2611")],
    }

    def started(number: int) -> ServiceRequest:
        request = receive_toxicology_case(people["officer"], people["custodian"], f"BZ-TR-2026-{number:04d}")
        lab.assign(manager, request, analyst)
        lab.start_examination(analyst, ServiceRequest.objects.get(pk=request.pk), **setup)
        return ServiceRequest.objects.get(pk=request.pk)

    request = started(1)
    for n in range(ATTACHMENTS):
        content = f"time,signal\n{n},{secrets.token_hex(16)}\n".encode() * 200
        lab.attach_file(analyst, request, SimpleUploadedFile(f"chromatogram-{n}.csv", content))
    lab.record_result(analyst, request, request.items.get(), BLOOD_ALCOHOL)
    lab.complete_draft(analyst, ServiceRequest.objects.get(pk=request.pk), reauthenticated=True)
    for reviewer, stage in ((people["reviewer"], ReviewStage.TECHNICAL), (manager, ReviewStage.ADMINISTRATIVE)):
        request = ServiceRequest.objects.get(pk=request.pk)
        checklist = {str(q.pk): True for q in lab.checklist_for(request, stage)}
        lab.review(reviewer, request, stage=stage, approve=True, checklist=checklist, reauthenticated=True)
    lab.release(manager, ServiceRequest.objects.get(pk=request.pk), reauthenticated=True)
    started(2)


def keep_writing(folder: str) -> None:
    """Audited changes through the services until the file ``stop`` exists in ``folder``: the custodian moves the
    items of Box 1 and Box 2 to the other box (custody events + audit events), five small audit events are
    recorded, and every third round the analyst attaches a file to the examination in progress (a stored file +
    an audit event). The rounds done go to the file ``progress``. While a file ``pause`` exists the writer waits,
    its connection open, and says so with a file ``paused``."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from forensis.accounts.models import User
    from forensis.audit.services import record
    from forensis.evidence import services as evidence
    from forensis.evidence.models import Item, StorageLocation
    from forensis.lab import services as lab
    from forensis.lab.models import RequestStatus, ServiceRequest

    custodian, analyst = User.objects.get(username="custodian"), User.objects.get(username="analyst")
    boxes = [StorageLocation.objects.get(name="Box 1"), StorageLocation.objects.get(name="Box 2")]
    moving = list(Item.objects.filter(location__in=boxes, holder=custodian).values_list("pk", flat=True))
    assert moving, "no item in the demo's boxes"
    request = ServiceRequest.objects.get(status=RequestStatus.IN_PROGRESS, case__agency_case_number="BZ-TR-2026-0002")
    rounds = 0
    stop, progress, pause, paused = (Path(folder) / name for name in ("stop", "progress", "pause", "paused"))
    while not stop.exists():
        if pause.exists():
            paused.touch()
            time.sleep(0.05)
            continue
        paused.unlink(missing_ok=True)
        rounds += 1
        evidence.move_items(
            custodian, list(Item.objects.filter(pk__in=moving)), boxes[rounds % 2], note=f"round {rounds}"
        )
        for tick in range(5):  # small commits, often: a snapshot taken at two moments would differ
            record("test.tick", actor=custodian, object_type="test", object_id=f"{rounds}.{tick}")
        if rounds % 3 == 0:
            content = f"round {rounds}: {secrets.token_hex(32)}\n".encode() * 100
            lab.attach_file(analyst, request, SimpleUploadedFile(f"round-{rounds}.txt", content))
        progress.with_suffix(".tmp").write_text(str(rounds))
        progress.with_suffix(".tmp").replace(progress)


def verify_installation() -> None:
    """``forensis audit verify`` and ``forensis custody verify`` (a CommandError fails the shell), and which
    append-only ledgers refuse an UPDATE (their triggers are in place); printed as JSON."""
    import io

    from django.core.management import call_command
    from django.db import DatabaseError, transaction

    from forensis.audit.models import AuditEvent
    from forensis.evidence.models import CustodyEvent

    output = io.StringIO()
    call_command("audit", "verify", stdout=output)
    call_command("custody", "verify", stdout=output)
    refused = []
    for model, field in ((AuditEvent, "reason"), (CustodyEvent, "note")):
        try:
            with transaction.atomic():
                model.objects.filter(pk=model.objects.order_by("pk").values("pk")[:1]).update(**{field: "edited"})
        except DatabaseError:
            refused.append(model._meta.label)
    print(json.dumps({"output": output.getvalue(), "refused": refused}))


def tamper_audit_event() -> None:
    """Change one audit event behind the append-only trigger (dropped and put back), as an intruder with
    database access would."""
    from django.db import connection

    from forensis.audit.models import AuditEvent
    from forensis.core import append_only

    event = AuditEvent.objects.order_by("id")[5]
    append_only.remove(connection, "audit_auditevent")
    AuditEvent.objects.filter(pk=event.pk).update(reason="changed afterwards")
    append_only.install(connection, "audit_auditevent")
    print(event.pk)


# --- installations ---------------------------------------------------------------------------------------------


@dataclass
class Installation:
    """A Forensis installation: a data directory and a database (SQLite in the data directory, or its own
    PostgreSQL database)."""

    data_dir: Path
    database_url: str

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORENSIS_") and k != "DATABASE_URL"}
        env.update(FORENSIS_DATA_DIR=str(self.data_dir), FORENSIS_ENV="development", PYTHONPATH=str(ROOT))
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return env

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [_forensis(), *args], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, f"forensis {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def call(self, function: str, *arguments: str) -> str:
        """Run a function of this module inside the installation; its printed output."""
        call = f"{function}({', '.join(repr(a) for a in arguments)})"
        output = self.ok("shell", "-c", f"from tests.core.test_backup import {function}; {call}")
        return output.strip().splitlines()[-1] if output.strip() else ""

    def query(self, sql: str) -> list[tuple]:
        """Read the installation's database directly (not through Forensis): the tests' own oracle."""
        if self.database_url:
            import psycopg

            with psycopg.connect(self.database_url) as conn:
                return conn.execute(sql).fetchall()
        path = self.data_dir / SQLITE_NAME
        if not path.exists():
            return []
        with closing(sqlite3.connect(path)) as conn:
            return conn.execute(sql).fetchall()

    def tables(self) -> list[str]:
        if self.database_url:
            return sorted(r[0] for r in self.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        return sorted(
            r[0] for r in self.query("SELECT name FROM sqlite_master WHERE type = 'table'") if r[0] != "sqlite_sequence"
        )

    def state(self) -> dict:
        """What the installation holds: the row count of every table, the audit chain (id, action, hash), and
        every stored file a row names with the SHA-256 the row records and that of the bytes on disk."""
        tables = self.tables()
        counts = {table: self.query(f'SELECT COUNT(*) FROM "{table}"')[0][0] for table in tables}  # noqa: S608
        chain = [list(row) for row in self.query("SELECT id, action, hash FROM audit_auditevent ORDER BY id")]
        files = {}
        for table in FILE_TABLES:
            for name, recorded in self.query(f"SELECT file, sha256 FROM {table}"):  # noqa: S608
                path = self.media_root / name
                on_disk = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
                files[name] = {"recorded": recorded, "on_disk": on_disk}
        return {"counts": counts, "chain": chain, "files": files}

    def verify(self) -> dict:
        return json.loads(self.call("verify_installation"))

    @property
    def media_root(self) -> Path:
        return self.data_dir / "files"

    def stored_files(self) -> list[Path]:
        return sorted(p for p in self.media_root.rglob("*") if p.is_file()) if self.media_root.exists() else []

    def assert_untouched_and_empty(self) -> None:
        """A refused restore left nothing behind: no marker, no staging, no stored file, no table."""
        assert not (self.data_dir / MARKER).exists()
        assert not (self.data_dir / ".restore-staging").exists()
        assert self.stored_files() == []
        assert self.tables() == []


class Installations:
    """Makes installations under one folder and drops their PostgreSQL databases at the end."""

    def __init__(self, folder: Path):
        self.folder, self.databases, self.count = folder, [], 0
        self._migrated: dict[str, Installation] = {}

    def _admin(self):
        import psycopg

        return psycopg.connect(urlunsplit(urlsplit(BASE_URL)._replace(path="/postgres")), autocommit=True)

    def _database(self, template: str = "") -> str:
        if not BASE_URL:
            return ""
        from psycopg import sql

        name = f"h3_{secrets.token_hex(4)}"
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(urlsplit(template).path.lstrip("/")))
        with self._admin() as conn:
            conn.execute(create)
        self.databases.append(name)
        return urlunsplit(urlsplit(BASE_URL)._replace(path=f"/{name}"))

    def new(self, *, migrated: bool = False, engine: str = ENGINE) -> Installation:
        """An empty installation: a new database without tables, or (``migrated``) a copy of one that had
        ``forensis migrate`` and nothing else (migrated once per engine: it is the slow part)."""
        if migrated:
            if engine not in self._migrated:
                self._migrated[engine] = self.new(engine=engine)
                self._migrated[engine].ok("migrate", "--noinput")
            return self.clone(self._migrated[engine])
        self.count += 1
        data_dir = self.folder / f"installation-{self.count}"
        data_dir.mkdir()
        return Installation(data_dir, self._database() if engine == "postgresql" else "")

    def clone(self, source: Installation) -> Installation:
        """A copy of ``source`` (its database and stored files), made without the code under test."""
        self.count += 1
        data_dir = self.folder / f"installation-{self.count}"
        data_dir.mkdir()
        if source.media_root.exists():
            shutil.copytree(source.media_root, data_dir / "files")
        if not source.database_url:
            with (
                closing(sqlite3.connect(source.data_dir / SQLITE_NAME)) as original,
                closing(sqlite3.connect(data_dir / SQLITE_NAME)) as copy,
            ):
                original.backup(copy)
        return Installation(data_dir, self._database(template=source.database_url) if source.database_url else "")

    def close(self) -> None:
        if not self.databases:
            return
        from psycopg import sql

        with self._admin() as conn:
            for name in self.databases:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def installations(tmp_path_factory) -> Iterator[Installations]:
    made = Installations(tmp_path_factory.mktemp("installations"))
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(scope="module")
def empty_target(installations) -> Installation:
    """A new, empty installation shared by the tests of refused restores: each leaves it as it found it."""
    return installations.new()


@pytest.fixture(scope="module")
def source(installations) -> Installation:
    """The installation that is backed up: the demo, a released report and instrument files."""
    installation = installations.new(migrated=True)
    installation.ok("signing-key", "--self-signed", "--if-missing")
    installation.ok("seed-demo")
    installation.call("seed_casework")
    return installation


@dataclass
class Backup:
    path: Path
    manifest: dict
    source_state: dict  # the source right after the backup (it has recorded the backup.created event)


@pytest.fixture(scope="module")
def backup(source, tmp_path_factory) -> Backup:
    path = tmp_path_factory.mktemp("backups") / "nightly"
    output = source.ok("backup", str(path))
    assert output.startswith(f"Backup written to {path}:"), output
    return Backup(path, json.loads((path / "manifest.json").read_text()), source.state())


def copy_of(backup: Backup, folder: Path) -> Path:
    copy = folder / "backup-copy"
    shutil.copytree(backup.path, copy)
    return copy


def assert_restored_copy_of(restored: Installation, backup: Backup) -> dict:
    """The restored installation holds exactly the backed-up data, plus the restore's own audit event; its chains
    verify and its ledgers are append-only again."""
    expected, found = backup.source_state, restored.state()
    assert {k: v for k, v in found["counts"].items() if k != "audit_auditevent"} == {
        k: v for k, v in expected["counts"].items() if k != "audit_auditevent"
    }
    last_id = backup.manifest["audit"]["last_event_id"]
    backed_up = [event for event in expected["chain"] if event[0] <= last_id]
    assert found["chain"][: len(backed_up)] == backed_up  # the same chain, event for event, to the same last hash
    assert backed_up[-1][2] == backup.manifest["audit"]["last_event_hash"]
    assert [event[1] for event in expected["chain"][len(backed_up) :]] == ["backup.created"]
    assert [event[1] for event in found["chain"][len(backed_up) :]] == ["backup.restored"]
    assert found["files"] == expected["files"]
    assert all(f["on_disk"] == f["recorded"] for f in found["files"].values())
    checked = restored.verify()
    assert "Audit chain intact" in checked["output"] and "Custody ledger intact" in checked["output"]
    assert checked["refused"] == ["audit.AuditEvent", "evidence.CustodyEvent"]
    assert not (restored.data_dir / MARKER).exists()
    return found


# --- round trips ---------------------------------------------------------------------------------------------------


def test_backup_holds_the_snapshot_the_files_and_a_manifest(backup, source):
    manifest, listed = backup.manifest, {entry["path"] for entry in backup.manifest["files"]}
    database_file = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}[ENGINE]
    assert manifest["engine"] == ENGINE and manifest["database"] == database_file
    assert listed == {p.relative_to(backup.path).as_posix() for p in backup.path.rglob("*") if p.is_file()} - {
        "manifest.json"
    }
    # Every stored file of the source (a report PDF, the attachments) is in the backup, byte for byte.
    stored = source.stored_files()
    assert len(stored) == ATTACHMENTS + 1 and any(p.suffix == ".pdf" for p in stored)
    for path in stored:
        copy = backup.path / "files" / path.relative_to(source.media_root)
        assert filecmp.cmp(path, copy, shallow=False)
        entry = next(e for e in manifest["files"] if e["path"] == f"files/{path.relative_to(source.media_root)}")
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    counted = backup.source_state["counts"]
    assert manifest["row_counts"]["cases_case"] == counted["cases_case"] > 0
    assert manifest["row_counts"]["evidence_custodyevent"] == counted["evidence_custodyevent"] > 0
    assert manifest["migrations"]["audit"] == "0002_append_only"
    assert not list(backup.path.parent.glob(".*partial*"))  # the temporary name is gone


def test_round_trip_into_a_new_database(backup, installations):
    target = installations.new()
    result = target.run("restore", str(backup.path))
    assert result.returncode == 0, result.stderr
    assert "Audit chain intact" in result.stdout and "Custody ledger intact" in result.stdout
    assert_restored_copy_of(target, backup)
    # Files byte-identical: the restored data directory holds exactly the source's stored files.
    source_files = {p.relative_to(backup.path / "files") for p in (backup.path / "files").rglob("*") if p.is_file()}
    assert {p.relative_to(target.media_root) for p in target.stored_files()} == source_files
    for relative in source_files:
        assert filecmp.cmp(backup.path / "files" / relative, target.media_root / relative, shallow=False)


def test_round_trip_into_a_migrated_empty_installation(backup, installations):
    target = installations.new(migrated=True)
    target.ok("restore", str(backup.path))
    assert_restored_copy_of(target, backup)


def test_backup_while_in_use(source, installations, tmp_path):
    """A writer keeps changing custody and attaching files during the backup: the restored copy's chains verify
    and every file its database names is there with its sum. A torn snapshot, or files listed from another moment
    than the database's, would fail here. First, with the writer paused but connected (its last commits still
    in SQLite's write-ahead log), a backup must hold exactly what was committed."""
    writer = subprocess.Popen(
        [
            _forensis(),
            "shell",
            "-c",
            f"from tests.core.test_backup import keep_writing; keep_writing({str(tmp_path)!r})",
        ],
        env=source.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    progress = tmp_path / "progress"

    def rounds() -> int:
        return int(progress.read_text()) if progress.exists() else 0

    def wait_until(condition, what: str) -> None:
        deadline = time.monotonic() + 120
        while not condition() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert condition(), f"the writer did not get to {what}: {writer.poll()}"

    try:
        wait_until(lambda: rounds() >= 3, "round 3")
        (tmp_path / "pause").touch()
        wait_until((tmp_path / "paused").exists, "its pause")
        committed = source.query("SELECT MAX(id) FROM audit_auditevent")[0][0]
        source.ok("backup", str(tmp_path / "backup-paused"))
        (tmp_path / "pause").unlink()
        paused_manifest = json.loads((tmp_path / "backup-paused" / "manifest.json").read_text())
        assert paused_manifest["audit"]["last_event_id"] == committed  # all that was committed, nothing torn

        target = rounds() + 3
        wait_until(lambda: rounds() >= target, f"round {target}")
        before = rounds()
        dest = tmp_path / "backup-in-use"
        source.ok("backup", str(dest))
        during = rounds() - before
        target = rounds() + 3
        wait_until(lambda: rounds() >= target, f"round {target}")
    finally:
        (tmp_path / "stop").touch()
        _out, errors = writer.communicate(timeout=120)
    assert writer.returncode == 0, errors
    assert during > 0, "the writer made no change while the backup ran: this test tested nothing"

    manifest = json.loads((dest / "manifest.json").read_text())
    live = source.state()
    assert manifest["audit"]["last_event_id"] < live["chain"][-1][0]  # the writer went on after the snapshot

    target = installations.new()
    result = target.run("restore", str(dest))
    assert result.returncode == 0, result.stderr
    restored = target.state()
    checked = target.verify()
    assert "Audit chain intact" in checked["output"] and "Custody ledger intact" in checked["output"]
    assert restored["files"], restored
    for name, found in restored["files"].items():
        assert found["on_disk"] is not None, f"{name} is named by the restored database but missing"
        assert found["recorded"] == found["on_disk"], name
        assert live["files"][name]["on_disk"] == found["on_disk"]
    # The snapshot is one moment of the live chain: the same events, event for event, up to its last one.
    backed_up = [event for event in live["chain"] if event[0] <= manifest["audit"]["last_event_id"]]
    assert restored["chain"][: len(backed_up)] == backed_up
    assert restored["counts"]["evidence_custodyevent"] == manifest["row_counts"]["evidence_custodyevent"]
    assert restored["counts"]["lab_attachment"] == manifest["row_counts"]["lab_attachment"] > ATTACHMENTS


# --- refusals --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["not empty", "a file"])
def test_backup_refuses_a_destination_that_is_not_a_new_or_empty_directory(source, tmp_path, kind):
    if kind == "a file":
        dest = tmp_path / "dest"
        dest.write_text("keep me")
        keep = dest
    else:
        dest = tmp_path / "dest"
        dest.mkdir()
        keep = dest / "notes.txt"
        keep.write_text("keep me")
    result = source.run("backup", str(dest))
    assert result.returncode != 0
    assert ("is not empty" if kind == "not empty" else "is not a directory") in result.stderr
    assert "Traceback" not in result.stderr
    assert keep.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest"]


def test_backup_refuses_a_stored_file_that_no_longer_matches_its_sum(installations, source, tmp_path):
    copy = installations.clone(source)
    report = next(p for p in copy.stored_files() if p.suffix == ".pdf")
    report.write_bytes(report.read_bytes().replace(b"%%EOF", b"%%EOX"))
    result = copy.run("backup", str(tmp_path / "dest"))
    assert result.returncode != 0
    assert f"{report.relative_to(copy.media_root)}" in result.stderr and "does not match" in result.stderr
    assert list(tmp_path.iterdir()) == []  # neither the backup nor its temporary folder


@pytest.mark.parametrize("kind", ["missing", "no manifest", "broken manifest", "interrupted"])
def test_restore_refuses_what_is_not_a_backup(empty_target, backup, tmp_path, kind):
    src = tmp_path / "src"
    expected = {
        "missing": "does not exist",
        "no manifest": "has no manifest.json",
        "broken manifest": "is not valid JSON",
        "interrupted": "has no manifest.json",
    }[kind]
    if kind == "no manifest":
        src.mkdir()
        (src / "database.sqlite3").write_bytes(b"not a database")
    elif kind == "broken manifest":
        src = copy_of(backup, tmp_path)
        (src / "manifest.json").write_text((src / "manifest.json").read_text()[:-40])
    elif kind == "interrupted":  # what a killed backup leaves: everything but the manifest, under its own name
        src = copy_of(backup, tmp_path)
        (src / "manifest.json").unlink()
    target = empty_target
    result = target.run("restore", str(src))
    assert result.returncode != 0
    assert expected in result.stderr and "Traceback" not in result.stderr
    target.assert_untouched_and_empty()


def test_restore_refuses_a_tampered_file_and_leaves_the_target_untouched(installations, backup, tmp_path):
    src = copy_of(backup, tmp_path)
    report = next((src / "files").rglob("*.pdf"))
    data = bytearray(report.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, same size
    report.write_bytes(bytes(data))
    target = installations.new(migrated=True)
    tables = target.tables()
    result = target.run("restore", str(src))
    assert result.returncode != 0
    assert f"{report.relative_to(src)} does not match the SHA-256" in result.stderr
    assert "Nothing was restored" in result.stderr
    assert target.tables() == tables and target.stored_files() == []
    assert not (target.data_dir / MARKER).exists() and not (target.data_dir / ".restore-staging").exists()
    assert target.state()["chain"] == []


def _edit_sum(manifest: dict) -> str:
    entry = next(e for e in manifest["files"] if e["path"].endswith(".pdf"))
    entry["sha256"] = "0" * 64
    return f"{entry['path']} does not match the SHA-256"


def _drop_entry(manifest: dict) -> str:
    entry = next(e for e in manifest["files"] if e["path"].startswith("files/examinations/"))
    manifest["files"].remove(entry)
    return f"holds {entry['path']}, which its manifest does not list"


def _escape(manifest: dict) -> str:
    manifest["files"].append({"path": "files/../../outside", "sha256": "0" * 64, "size": 1})
    return "is not a relative path inside the backup"


def _edit_counts(manifest: dict) -> str:
    """A change the sums cannot see: caught when the loaded database is compared with the manifest, and undone."""
    manifest["row_counts"]["cases_case"] += 1
    manifest["audit"]["events"] += 1
    return "table cases_case has"


def _newer(manifest: dict) -> str:
    manifest["migrations"]["audit"] = "0099_from_the_future"
    return "made by a newer Forensis"


@pytest.mark.parametrize("edit", [_edit_sum, _drop_entry, _escape, _edit_counts, _newer], ids=lambda f: f.__name__)
def test_restore_refuses_a_tampered_manifest(empty_target, backup, tmp_path, edit):
    src = copy_of(backup, tmp_path)
    manifest = json.loads((src / "manifest.json").read_text())
    expected = edit(manifest)
    (src / "manifest.json").write_text(json.dumps(manifest))
    target = empty_target
    result = target.run("restore", str(src))
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    target.assert_untouched_and_empty()
    assert not (tmp_path / "outside").exists()


def test_restore_refuses_a_non_empty_installation_and_changes_nothing(source, backup):
    before = source.state()
    result = source.run("restore", str(backup.path))
    assert result.returncode != 0
    assert "restore only into an empty installation" in result.stderr
    assert source.state() == before
    assert not (source.data_dir / MARKER).exists()


def test_restore_refuses_a_database_with_data_and_changes_nothing(installations, backup):
    target = installations.new(migrated=True)
    target.ok(
        "shell",
        "-c",
        "from forensis.accounts import services; services.create_agency(None, code='X', name='X', type='police')",
    )
    before = target.state()
    result = target.run("restore", str(backup.path))
    assert result.returncode != 0
    assert "database is not empty: accounts_agency holds 1 row(s)" in result.stderr
    assert target.state() == before and target.stored_files() == []


def test_restore_refuses_an_installation_with_stored_files_left_over(installations, backup):
    target = installations.new()
    stray = target.media_root / "reports" / "2026" / "left-over.pdf"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"%PDF-1.7 left over")
    result = target.run("restore", str(backup.path))
    assert result.returncode != 0 and "already holds stored files" in result.stderr
    assert target.stored_files() == [stray] and target.tables() == []


def test_restore_refuses_a_backup_of_the_other_engine(empty_target, backup, tmp_path):
    """This engine's backup dressed as the other engine's (its database file renamed, the manifest rewritten to
    match): refused before anything else is looked at."""
    other = {"sqlite": "postgresql", "postgresql": "sqlite"}[ENGINE]
    names = {"sqlite": ("SQLite", "database.sqlite3"), "postgresql": ("PostgreSQL", "database.pgdump")}
    src = copy_of(backup, tmp_path)
    manifest = json.loads((src / "manifest.json").read_text())
    (src / manifest["database"]).rename(src / names[other][1])
    next(e for e in manifest["files"] if e["path"] == manifest["database"])["path"] = names[other][1]
    manifest.update(engine=other, database=names[other][1])
    (src / "manifest.json").write_text(json.dumps(manifest))
    result = empty_target.run("restore", str(src))
    assert result.returncode != 0
    assert f"backup of a {names[other][0]} database and this installation uses {names[ENGINE][0]}" in result.stderr
    assert "not supported" in result.stderr
    empty_target.assert_untouched_and_empty()


@pytest.mark.postgres
@pytest.mark.skipif(not BASE_URL, reason="needs PostgreSQL (DATABASE_URL) as well as SQLite")
def test_restore_refuses_a_postgresql_backup_in_a_sqlite_installation(installations, backup):
    sqlite_target = installations.new(engine="sqlite")
    result = sqlite_target.run("restore", str(backup.path))
    assert result.returncode != 0
    assert "backup of a PostgreSQL database and this installation uses SQLite" in result.stderr
    sqlite_target.assert_untouched_and_empty()


@pytest.mark.postgres
@pytest.mark.skipif(not BASE_URL, reason="stops pg_dump with a table lock, to kill the backup at a known point")
def test_a_killed_backup_never_looks_complete(source, empty_target, tmp_path):
    """Killed while pg_dump waits for a table another session holds: no DEST, only the hidden partial folder,
    which restore refuses."""
    import psycopg

    dest = tmp_path / "nightly"
    with (
        psycopg.connect(source.database_url) as locker,
        psycopg.connect(source.database_url, autocommit=True) as watcher,  # sees pg_stat_activity afresh
    ):
        locker.execute("LOCK TABLE cases_case IN ACCESS EXCLUSIVE MODE")
        backup = subprocess.Popen([_forensis(), "backup", str(dest)], env=source.env, cwd=ROOT, start_new_session=True)
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'"
        )
        try:
            deadline = time.monotonic() + 120
            while watcher.execute(waiting).fetchone()[0] == 0:
                assert backup.poll() is None, "the backup ended although pg_dump could not lock every table"
                assert time.monotonic() < deadline, "pg_dump never waited for the lock"
                time.sleep(0.1)
        finally:
            os.killpg(backup.pid, signal.SIGKILL)
            backup.wait(timeout=60)
        locker.rollback()
    # The killed pg_dump's server process ends once it has its lock and finds its client gone; later tests copy
    # the source database as a template, which needs it alone.
    others = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    deadline = time.monotonic() + 60
    while source.query(others)[0][0] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not dest.exists()
    (partial,) = tmp_path.glob(".nightly.partial-*")
    for candidate in (dest, partial):
        result = empty_target.run("restore", str(candidate))
        assert result.returncode != 0 and ("does not exist" in result.stderr or "no manifest.json" in result.stderr)
    empty_target.assert_untouched_and_empty()


def test_restore_verifies_the_audit_chain_and_says_so_when_it_is_broken(installations, source, tmp_path):
    """The backup copies what is there; the restore's verification finds the changed event, exits non-zero and
    leaves the marker — and a second restore into that half-restored installation is refused."""
    tampered = installations.clone(source)
    event_id = int(tampered.call("tamper_audit_event"))
    tampered.ok("backup", str(tmp_path / "tampered"))
    target = installations.new()
    result = target.run("restore", str(tmp_path / "tampered"))
    assert result.returncode != 0
    assert f"audit chain is BROKEN at event #{event_id}" in result.stderr
    marker = target.data_dir / MARKER
    assert "verification FAILED" in marker.read_text()
    again = target.run("restore", str(tmp_path / "tampered"))
    assert again.returncode != 0 and "holds an incomplete restore" in again.stderr
