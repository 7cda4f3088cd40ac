"""``kill -9`` in the middle of an import, for real: ``forensis import-legacy`` is killed once some chunks have
committed, run again, and must end exactly where an import that was never stopped ends.

Each import runs as the command an operator types, in its own process, on its own SQLite file (``DATABASE_URL``),
over a made-up export of 4,000 cases (``forensis.legacy.synthetic``). The uninterrupted import runs beside the
killed one and its second run, so the test takes about 15 s on two cores. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from forensis.legacy.synthetic import write_export

CASES = 4_000
STEP_TIMEOUT_S = 180
KILL_DEADLINE_S = 90

#: Run with ``forensis shell -c``: every migrated record as plain values (no database keys, no batches), the
#: batches, the rejections of the last batch, and what the verifications of the ledger and the audit log say.
DUMP = """
import json
from forensis.audit.services import verify_chain
from forensis.cases.models import Case, CaseOffence, Person
from forensis.evidence.models import CustodyEvent, Item
from forensis.evidence.services import gap_check, verify_ledger
from forensis.legacy.models import ImportBatch, LegacyRecord, LegacyResult, Rejection

def rows(queryset, *fields):
    return [list(row) for row in queryset.order_by(*fields[:2]).values_list(*fields)]

ledger = verify_ledger()
batches = list(ImportBatch.objects.order_by("started_at"))
state = {
    "cases": rows(Case.objects.all(), "legacy_id", "lab_number", "agency__code", "received_at", "received_month",
                  "agency_case_number", "district", "incident_at", "town", "narrative", "legacy_source"),
    "offences": rows(CaseOffence.objects.all(), "case__legacy_id", "code"),
    "people": rows(Person.objects.all(), "legacy_id", "case__legacy_id", "role", "name", "sex", "age"),
    "items": rows(Item.objects.all(), "legacy_id", "case__legacy_id", "number", "label", "type", "description",
                  "quantity", "biological", "seal_number", "received_at", "amount_received", "amount_remaining",
                  "amount_unit", "status", "holder_id", "location_id", "last_moved_at", "custody_sequence"),
    "events": rows(CustodyEvent.objects.all(), "item__legacy_id", "sequence", "occurred_at", "released_by_id",
                   "released_by_name", "received_by_id", "received_by_name", "storage_location_id", "location",
                   "purpose", "seal_number", "note", "prev_hash"),
    "results": rows(LegacyResult.objects.all(), "legacy_id", "case__legacy_id", "item__legacy_id",
                    "discipline__code", "result", "value", "unit", "reported_at", "analyst"),
    "fingerprints": rows(LegacyRecord.objects.all(), "entity", "legacy_id", "fingerprint"),
}
print(json.dumps({
    "state": state,
    "batches": [{"status": b.status, "counts": b.counts.get("entities", {})} for b in batches],
    "rejections": rows(Rejection.objects.filter(batch=batches[-1]), "entity", "row_number", "code", "legacy_id"),
    "ledger": {"intact": ledger.intact, "events": ledger.events, "problems": ledger.problems[:5]},
    "gaps": gap_check()[:5],
    "audit_intact": verify_chain().intact,
}, default=str))
"""


def forensis(env: dict[str, str], *args: str, timeout: float = STEP_TIMEOUT_S) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "forensis", *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"forensis {args[0]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done.stdout


def environment(database: Path, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORENSIS_") and k != "DJANGO_SETTINGS_MODULE"}
    return {**env, "DATABASE_URL": f"sqlite:///{database}", "FORENSIS_DATA_DIR": str(data_dir), "FORENSIS_DEBUG": "0"}


def cases_committed(database: Path) -> int:
    """Cases in the database as another process sees it (0 while the import still holds the file locked)."""
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0.5) as connection:
            return connection.execute("SELECT count(*) FROM cases_case").fetchone()[0]
    except sqlite3.OperationalError:  # locked by the writer for a moment
        return 0


def dump(env: dict[str, str]) -> dict:
    return json.loads(forensis(env, "shell", "-c", DUMP).strip().splitlines()[-1])


def test_an_import_killed_half_way_and_run_again_ends_as_one_never_stopped(tmp_path):
    export = write_export(tmp_path / "export", CASES)
    mapping = str(export.mapping)
    killed_db, whole_db = tmp_path / "killed.sqlite3", tmp_path / "whole.sqlite3"
    killed, whole = environment(killed_db, tmp_path / "killed"), environment(whole_db, tmp_path / "whole")
    forensis(killed, "migrate", "--noinput")
    forensis(killed, "shell", "-c", "from forensis.legacy.synthetic import prepare_database; prepare_database()")
    shutil.copy2(killed_db, whole_db)  # two databases alike: migrated, the sample's agencies, an administrator

    import_argv = [sys.executable, "-m", "forensis", "import-legacy", "--mapping", mapping, "--report"]
    uninterrupted = subprocess.Popen(
        [*import_argv, str(tmp_path / "whole-report")], env=whole, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        victim = subprocess.Popen(
            [*import_argv, str(tmp_path / "killed-report")],
            env=killed,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + KILL_DEADLINE_S
            while (saved := cases_committed(killed_db)) == 0:
                assert victim.poll() is None, "the import ended before any chunk could be seen committed"
                assert time.monotonic() < deadline, "no chunk committed in time"
                time.sleep(0.02)
            os.kill(victim.pid, signal.SIGKILL)
            assert victim.wait(timeout=30) == -signal.SIGKILL, "the import ended before it could be killed"
        finally:
            if victim.poll() is None:
                victim.kill()
                victim.wait(timeout=30)
        assert 0 < cases_committed(killed_db) < export.expected["cases"], "nothing left to finish after the kill"

        forensis(killed, "import-legacy", "--mapping", mapping, "--report", str(tmp_path / "again-report"))
        _out, errors = uninterrupted.communicate(timeout=STEP_TIMEOUT_S)
        assert uninterrupted.returncode == 0, errors.decode()[-2000:]
    finally:
        if uninterrupted.poll() is None:
            uninterrupted.kill()
            uninterrupted.wait(timeout=30)

    after_kill, never_stopped = dump(killed), dump(whole)
    assert after_kill["state"] == never_stopped["state"]
    assert after_kill["rejections"] == never_stopped["rejections"]
    # The killed run was found still "running" by the next one and marked interrupted; that one completed.
    assert [batch["status"] for batch in after_kill["batches"]] == ["interrupted", "completed"]
    assert [batch["status"] for batch in never_stopped["batches"]] == ["completed"]
    created = {entity: counts["created"] for entity, counts in never_stopped["batches"][0]["counts"].items()}
    assert created == export.expected  # what the export says a correct import creates
    resumed = after_kill["batches"][1]["counts"]
    assert resumed["cases"]["unchanged"] >= saved  # the chunks saved before the kill were recognised, not redone
    for entity, counts in resumed.items():
        assert counts["created"] + counts["unchanged"] == export.expected[entity], entity
    for end in (after_kill, never_stopped):
        assert end["ledger"] == {"intact": True, "events": export.expected["items"], "problems": []}
        assert end["gaps"] == []
        assert end["audit_intact"]
