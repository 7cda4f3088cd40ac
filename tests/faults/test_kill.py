"""``kill -9`` of Forensis in the middle of an operation's transaction leaves no partial state, and it restarts.

For each operation — a custody transfer accepted, a technical review signed, a report released, a legacy import —
the operation is started in a real process (``forensis serve``, or ``forensis import-legacy``) that is stopped at one
of the transaction's own writes (``Pause``: after the first custody event of two, after the review row, after the
report version row with its PDF already stored, in the second chunk of an import), and the whole process group is
then killed with SIGKILL. Then:

- ``forensis audit verify`` and ``forensis custody verify`` pass, and no stored file the database names is missing;
- nothing of the operation is in the database: every table has the rows it had before (the audit log, leaving out
  the sign-ins, has the same events) — or, for the import, the chunks committed before the kill are whole;
- ``forensis serve`` starts again on the same data and the same request succeeds, exactly once: the tables gain
  exactly the operation's rows and the audit log its events; an interrupted import run again ends complete, with no
  duplicate and no gap.

A file stored by the killed transaction (the release's PDF) stays on disk without a database row: harmless (nothing
refers to it, and the repeated release stores its own), listed by the test, and accepted.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests

from forensis.core.management.commands.seed_demo import DEMO_PASSWORD
from forensis.legacy.synthetic import synthetic_cases, write_export
from tests.e2e.conftest import ROOT, _forensis_command
from tests.faults.conftest import (
    STEP_TIMEOUT_S,
    Lab,
    Person,
    added,
    domain_audit,
    domain_rows,
    in_background,
    last_json_line,
)


@dataclass(frozen=True)
class Operation:
    name: str
    person: str
    pause_at: str  # the statement after which the process is stopped, inside the transaction
    path: Callable[[dict], str]
    form: Callable[[dict], dict]
    rows: dict[str, int]  # what the operation adds when it succeeds
    audit: dict[str, int]
    done: Callable[[dict, dict], None]  # what else must hold once it succeeded (facts, scenario)
    pause_param: str = ""  # the statement must also have this text in a parameter

    def send(self, person: Person, scenario: dict) -> requests.Response:
        return person.post(self.path(scenario), self.form(scenario))


def transfer_accepted(facts: dict, scenario: dict) -> None:
    transfer = scenario["transfer"]
    assert facts["transfers"][str(transfer["pk"])] == "accepted"
    assert {facts["items"][str(pk)]["holder"] for pk in transfer["items"]} == {"analyst"}


def technically_reviewed(facts: dict, scenario: dict) -> None:
    request = facts["requests"][str(scenario["review"]["request"])]
    assert request["status"] == "technical_review"
    assert request["reviews"] == [["technical", True]]
    assert request["signatures"] == ["authored", "technically_reviewed"]


def released(facts: dict, scenario: dict) -> None:
    request = facts["requests"][str(scenario["release"]["request"])]
    assert request["status"] == "released"
    assert "released" in request["signatures"]
    (version,) = request["versions"]
    assert version["version"] == 1 and version["file"].endswith(".pdf")
    assert version["number"].endswith("-00001"), version  # the killed release's number was rolled back with it


OPERATIONS = [
    Operation(
        name="custody transfer",
        person="analyst",
        pause_at=r'^INSERT INTO "audit_auditevent"',  # its last write: both items' events written, not audited
        pause_param="custody.transfer_accepted",
        path=lambda s: f"/custody/transfers/{s['transfer']['pk']}/accept/",
        form=lambda s: {},
        rows={"evidence.CustodyEvent": 2},
        audit={"custody.transfer_accepted": 1},
        done=transfer_accepted,
    ),
    Operation(
        name="review",
        person="reviewer",
        pause_at=r'^INSERT INTO "lab_review"',  # its signature written, the request not yet moved nor audited
        path=lambda s: f"/requests/{s['review']['request']}/review/",
        form=lambda s: {
            "stage": "technical",
            "decision": "approve",
            "reason": "",
            "password": DEMO_PASSWORD,
            **{f"question_{pk}": "on" for pk in s["review"]["checklist"]},
        },
        rows={"lab.Review": 1, "lab.Signature": 1, "lab.RequestTransition": 1, "api.Change": 1},
        audit={"request.technical_review": 1},
        done=technically_reviewed,
    ),
    Operation(
        name="report release",
        person="manager",
        pause_at=r'^INSERT INTO "reports_reportversion"',  # rendered, signed, its PDF stored; not yet audited
        path=lambda s: f"/requests/{s['release']['request']}/release/",
        form=lambda s: {"password": DEMO_PASSWORD},
        rows={
            "lab.Signature": 1,
            "lab.RequestTransition": 1,
            "reports.Report": 1,
            "reports.ReportVersion": 1,
            "api.Change": 2,
            "core.Notification": 1,
            "core.Counter": 1,  # the year's first report number
        },
        audit={"request.released": 1, "report.issued": 1, "report.notified": 1},
        done=released,
    ),
]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name.replace(" ", "-"))
def test_kill_9_in_the_middle_of_the_transaction_leaves_nothing_and_the_server_restarts(
    operation: Operation, lab: Lab, pause, snapshot
):
    before = snapshot.facts
    stop = pause(operation.pause_at, param=operation.pause_param)

    with lab.serve(pause=stop, FORENSIS_TASK_WORKER="0") as server:  # (the task worker has no part in it)
        answer = in_background(operation.send, server.sign_in(operation.person), lab.scenario)
        stop.wait(server.proc)
        server.kill()
        with pytest.raises(requests.ConnectionError):  # the person's browser gets no answer
            answer.result(timeout=STEP_TIMEOUT_S)

    after_kill = lab.facts()  # both chains verified, no stored file missing
    assert added(domain_rows(after_kill), domain_rows(before)) == {}, "rows of the killed transaction were kept"
    assert added(domain_audit(after_kill), domain_audit(before)) == {}, "audit events of the killed transaction"
    assert after_kill["counters"] == before["counters"], "a number was used up by the killed transaction"
    orphans = set(after_kill["files"]["orphans"]) - set(before["files"]["orphans"])
    # A file written inside the killed transaction may stay behind (no row names it); only the release writes one.
    assert all(name.endswith(".pdf") for name in orphans) and len(orphans) <= (operation.name == "report release")

    with lab.serve() as server:  # the same data, a new server
        answer = operation.send(server.sign_in(operation.person), lab.scenario)
        assert answer.status_code == 302, answer.text[:3000]

    done = lab.facts()
    assert added(domain_rows(done), domain_rows(before)) == operation.rows
    assert added(domain_audit(done), domain_audit(before)) == operation.audit
    operation.done(done, lab.scenario)


# --- the legacy import -------------------------------------------------------------------------------------------

CASES = 1_200  # three chunks of up to 500 accepted cases
#: Run with ``forensis shell -c``: what the import left, per case (its people, items, custody events, results).
IMPORT_FACTS = r"""
import json
from django.db.models import Count
from forensis.cases.models import Case, Person
from forensis.evidence.models import CustodyEvent, Item
from forensis.legacy.models import ImportBatch, LegacyRecord, LegacyResult
from forensis.legacy.synthetic import SOURCE_NAME

cases = Case.objects.filter(legacy_source=SOURCE_NAME)
tables = {
    "cases": cases,
    "people": Person.objects.filter(case__legacy_source=SOURCE_NAME),
    "items": Item.objects.filter(case__legacy_source=SOURCE_NAME),
    "results": LegacyResult.objects.filter(case__legacy_source=SOURCE_NAME),
}
children = cases.annotate(
    people_n=Count("people", distinct=True), items_n=Count("items", distinct=True),
    events_n=Count("items__custody_events", distinct=True), results_n=Count("legacy_results", distinct=True),
).values_list("legacy_id", "people_n", "items_n", "events_n", "results_n")
print(json.dumps({
    "batches": [b.status for b in ImportBatch.objects.order_by("started_at")],
    "cases": {key: rest for key, *rest in children},
    "rows": {entity: rows.count() for entity, rows in tables.items()},
    "distinct": {entity: rows.values("legacy_id").distinct().count() for entity, rows in tables.items()},
    "custody_events": CustodyEvent.objects.filter(item__case__legacy_source=SOURCE_NAME).count(),
    "remembered": dict(
        LegacyRecord.objects.filter(legacy_source=SOURCE_NAME).values_list("entity").annotate(n=Count("id"))
    ),
}))
"""


def test_kill_9_in_the_middle_of_an_import_chunk_keeps_whole_chunks_and_a_rerun_completes(lab: Lab, pause, tmp_path):
    export = write_export(tmp_path / "export", CASES)
    # The second chunk's last write: the audit event announcing its results, which names them (the rows themselves
    # go by COPY on PostgreSQL, past Django). Its cases, people, items and custody events are written by then.
    second_chunk = [case for case in synthetic_cases(CASES) if case.accepted][500:1000]
    result = next(r.key for case in second_chunk[250:] for item in case.items if item.accepted for r in item.results)
    stop = pause(r'^INSERT INTO "audit_auditevent"', param=f'"{result}"')
    command = [_forensis_command(), "import-legacy", "--mapping", str(export.mapping), "--report"]

    importing = subprocess.Popen(
        [*command, str(tmp_path / "killed-report")],
        env={**lab.env, **stop.env()},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        stop.wait(importing)
        os.killpg(importing.pid, signal.SIGKILL)
        assert importing.wait(timeout=STEP_TIMEOUT_S) == -signal.SIGKILL
    finally:
        if importing.poll() is None:
            importing.kill()
            importing.wait(timeout=STEP_TIMEOUT_S)

    lab.facts()  # both chains verified, no stored file missing
    after_kill = last_json_line(lab.manage("shell", "-c", IMPORT_FACTS))
    assert after_kill["batches"] == ["running"]  # until the next import finds its process gone
    assert after_kill["rows"]["cases"] == 500, "only the first chunk, whole, was committed"

    lab.manage("import-legacy", "--mapping", str(export.mapping), "--report", str(tmp_path / "again-report"))
    lab.facts()
    done = last_json_line(lab.manage("shell", "-c", IMPORT_FACTS))
    assert done["batches"] == ["interrupted", "completed"]
    assert done["remembered"] == export.expected  # nothing missing: every record the export holds, once
    assert done["rows"] == done["distinct"] == {entity: export.expected[entity] for entity in done["rows"]}
    assert done["custody_events"] == export.expected["items"]  # one migrated event per item, none twice
    # Each case saved before the kill already had everything it has now: its chunk was committed whole.
    assert {key: done["cases"][key] for key in after_kill["cases"]} == after_kill["cases"]
