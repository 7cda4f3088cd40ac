"""The legacy import (issue 8): seconds to import 30,000 cases on SQLite and PostgreSQL, and the peak memory of
reading and validating 1,000,000 cases.

The export is made by ``forensis.legacy.synthetic`` (seeded, so always the same files): Windows-1252 CSV files with
';' between the columns, as the shipped sample, read with the sample's own mapping — 30,000 cases with about
45,000 people, 75,000 items, 37,000 results and 64,000 last known locations, about one row in a hundred with a
defect the import must reject (impossible or future dates, districts not in the map, conflicting duplicates,
orphans, ambiguous weights, missing keys) or collapse (identical duplicates).

- ``legacy_import_30k_sqlite`` / ``_pg`` — **value**: seconds of ``run_import`` (what ``forensis import-legacy``
  runs, without the progress line: reading and validating, saving in chunks of 500 cases, reconciling, writing
  the reports) into a fresh migrated database (a SQLite file in a temporary data directory; a throw-away
  PostgreSQL database). **baseline**: seconds to insert the same records — the cases with their offences, people,
  items, their one custody event each and results, exactly those the import creates — with plain
  ``bulk_create`` in chunks of 500 cases, one transaction each, without reading, validating, fingerprints, audit
  events or hash chains, into an equally fresh database. The benchmark fails when the import's counts differ from
  what the export says a correct import creates, or when the custody ledger does not verify afterwards.
- ``legacy_read_1m_sqlite_peak_mb`` — **value**: the peak resident memory (``ru_maxrss``) of a process that
  reads and validates 1,000,000 cases (phase 1 of an import, all of it: the save phase holds one chunk more at a
  time, see docs/benchmarks.md). **baseline**: the peak of the same process streaming the same rows through the
  source reader without keeping anything. The export has cases only: with their children a million cases are
  some eight million rows, over three minutes of reading and several GB held (docs/benchmarks.md, "Notes").

Every step runs in a fresh interpreter (``python -m bench.benchmarks.legacy_import STEP …``), so that its time
and memory are its own. About 2½ minutes; ``--quick``: 3,000 cases (figures scaled to 30,000) and 50,000 cases
for the memory, about 30 s.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Generator, Iterator
from pathlib import Path

from bench.registry import Measurement, Run, SkipBenchmark, benchmark
from bench.servers import (
    PG_ADMIN_URL,
    _clean_env,
    _run_setup,
    postgres_unreachable_reason,
    run_worker_step,
    temporary_postgres_database,
)

IMPORT_CASES, QUICK_IMPORT_CASES = 30_000, 3_000
READ_CASES, QUICK_READ_CASES = 1_000_000, 50_000
#: Cases per transaction, for the import (its default) and the baseline alike.
CHUNK = 500
STEP_TIMEOUT_S = 900
NAMES = ("legacy_import_30k_sqlite", "legacy_import_30k_pg", "legacy_read_1m_sqlite_peak_mb")


# --- the harness side ----------------------------------------------------------------------------------


def _step(env: dict[str, str], *args: str) -> dict:
    return run_worker_step("legacy_import", env, *args, timeout_s=STEP_TIMEOUT_S)


def _environment(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = _clean_env(FORENSIS_DATA_DIR=str(data_dir), FORENSIS_ENV="development", FORENSIS_DEBUG="0")
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


@contextlib.contextmanager
def _postgres_copy(url: str) -> Iterator[str]:
    """A second database made from the (migrated, prepared) database at ``url``, dropped afterwards."""
    import psycopg
    from psycopg import sql

    source = url.rsplit("/", 1)[1]
    name = f"{source}_copy"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(source)))
    try:
        yield f"{url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _prepared(env: dict[str, str]) -> None:
    """Migrate, then create the agencies the export maps to and the administrator who imports."""
    _run_setup([sys.executable, "-m", "forensis", "migrate", "--noinput"], env)
    _step(env, "prepare")


def _sqlite_database(root: Path, name: str) -> dict[str, str]:
    """A fresh SQLite data directory ``root/name``: a copy of one migrated and prepared once for the whole run."""
    template = root / "sqlite-template"
    if not template.exists():
        _prepared(_environment(template, None))
    (root / name).mkdir()
    for file in ("forensis.sqlite3", "secret_key"):
        shutil.copy2(template / file, root / name / file)
    return _environment(root / name, None)


def _import_measurement(run: Run, name: str, env: dict, baseline_env: dict, export: dict, cases: int) -> Measurement:
    """Import the export into the database of ``env``, insert the same records into that of ``baseline_env``."""
    made = _step(env, "import", export["mapping"], json.dumps(export["expected"]))
    phases = made["phases"]
    run.log(
        f"  import: {made['seconds']:.1f} s (read {phases['read']:.1f}, save {phases['save']:.1f}, "
        f"reconcile {phases['reconcile']:.1f}; {made['cpu_seconds']:.1f} s of CPU), peak {made['peak_mb']:.0f} MB"
    )
    baseline = _step(baseline_env, "baseline", str(cases))
    run.log(f"  bulk_create baseline: {baseline['seconds']:.1f} s for {baseline['records']:,} records")
    if baseline["records"] != made["records"]:
        raise RuntimeError(f"the baseline made {baseline['records']:,} records, the import {made['records']:,}")
    scale = IMPORT_CASES / cases
    return Measurement(
        name,
        value=made["seconds"] * scale,
        unit="s",
        baseline=baseline["seconds"] * scale,
        note=f"{cases:,} cases, {made['records']:,} records: read {phases['read']:.1f} s, save {phases['save']:.1f} s, "
        f"reconcile {phases['reconcile']:.1f} s; peak {made['peak_mb']:.0f} MB"
        + (f"; scaled ×{scale:g}" if scale != 1 else ""),
    )


@benchmark(*NAMES)
def legacy_import(run: Run) -> Generator[Measurement, None, None]:
    """Seconds to import 30,000 legacy cases (SQLite, PostgreSQL) against bulk_create; peak MB reading 1,000,000."""
    cases = QUICK_IMPORT_CASES if run.quick else IMPORT_CASES
    with tempfile.TemporaryDirectory(prefix="forensis-bench-legacy-") as folder:
        root = Path(folder)
        export = None
        if run.wants("legacy_import_30k_sqlite") or run.wants("legacy_import_30k_pg"):
            started = time.monotonic()
            export = _step(_environment(root / "export", None), "generate", str(root / "export"), str(cases))
            run.log(f"  export of {cases:,} cases written in {time.monotonic() - started:.1f} s: {export['rows']}")
        if run.wants("legacy_import_30k_sqlite"):
            envs = [_sqlite_database(root, name) for name in ("sqlite-import", "sqlite-baseline")]
            yield _import_measurement(run, "legacy_import_30k_sqlite", envs[0], envs[1], export, cases)
        if run.wants("legacy_read_1m_sqlite_peak_mb"):
            yield _read_measurement(run, root, QUICK_READ_CASES if run.quick else READ_CASES)
        if run.wants("legacy_import_30k_pg"):
            if reason := postgres_unreachable_reason():
                raise SkipBenchmark(reason)
            with temporary_postgres_database() as url:
                env = _environment(root / "pg", url)
                _prepared(env)
                with _postgres_copy(url) as copy_url:
                    baseline_env = _environment(root / "pg", copy_url)
                    yield _import_measurement(run, "legacy_import_30k_pg", env, baseline_env, export, cases)


def _read_measurement(run: Run, root: Path, cases: int) -> Measurement:
    started = time.monotonic()
    env = _sqlite_database(root, "read")
    export = _step(env, "generate", str(root / "big"), str(cases), "--cases-only")
    run.log(f"  export of {cases:,} cases (cases only) written in {time.monotonic() - started:.1f} s")
    mapping = str(root / "big" / "mapping.toml")
    bare = _step(env, "stream", mapping)
    run.log(f"  streaming the rows alone: {bare['seconds']:.1f} s, peak {bare['peak_mb']:.0f} MB")
    read = _step(env, "read", mapping)
    run.log(f"  reading and validating: {read['seconds']:.1f} s, peak {read['peak_mb']:.0f} MB ({read['held']:,} held)")
    if read["held"] != export["expected"]["cases"]:
        raise RuntimeError(f"the read phase held {read['held']:,} cases, expected {export['expected']['cases']:,}")
    return Measurement(
        "legacy_read_1m_sqlite_peak_mb",
        value=read["peak_mb"],
        unit="MB",
        baseline=bare["peak_mb"],
        note=f"{cases:,} cases ({read['rows']:,} rows) read and validated in {read['seconds']:.0f} s "
        f"({read['rows'] / read['seconds']:,.0f} rows/s); {read['held']:,} held",
    )


# --- the worker side (a fresh interpreter with Django set up) --------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "forensis.settings")
    import django

    django.setup()


def generate(folder: str, cases: str, *options: str) -> dict:
    from forensis.legacy.synthetic import write_export

    export = write_export(Path(folder), int(cases), children="--cases-only" not in options)
    return {"mapping": str(export.mapping), "rows": export.rows, "expected": export.expected}


def prepare() -> dict:
    _setup_django()
    from forensis.legacy.synthetic import prepare_database

    prepare_database()
    return {}


def do_import(mapping_path: str, expected_json: str) -> dict:
    """``run_import`` as the command runs it, timed; then its counts (against what the export says a correct
    import creates) and the custody ledger are checked."""
    _setup_django()
    from django.contrib.auth import get_user_model

    from forensis.evidence.services import gap_check, verify_ledger
    from forensis.legacy import pipeline
    from forensis.legacy.mapping import load_mapping

    phases: dict[str, float] = {}
    for name in ("read", "save", "reconcile"):  # each phase timed where run_import calls it
        phase = getattr(pipeline, name)

        def timed(*args, _phase=phase, _name=name, **kwargs):
            started = time.perf_counter()
            try:
                return _phase(*args, **kwargs)
            finally:
                phases[_name] = time.perf_counter() - started

        setattr(pipeline, name, timed)
    mapping = load_mapping(Path(mapping_path))
    actor = get_user_model().objects.get(username="importer")
    with tempfile.TemporaryDirectory() as reports:
        started, cpu = time.perf_counter(), time.process_time()
        batch = pipeline.run_import(mapping, actor=actor, report_dir=reports)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    expected = json.loads(expected_json)
    entities = batch.counts["entities"]
    created = {entity: entities[entity]["created"] for entity in expected}
    if created != expected:
        raise RuntimeError(f"the import created {created}, a correct import creates {expected}")
    ledger, gaps = verify_ledger(), gap_check()
    if not ledger.intact or ledger.events != expected["items"] or gaps:
        raise RuntimeError(f"the custody ledger does not verify: {ledger.problems[:3]} {gaps[:3]}")
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "phases": phases,
        # Cases, people, items with their one custody event each, results (as the baseline counts them).
        "records": created["cases"] + created["people"] + 2 * created["items"] + created["results"],
        "peak_mb": _peak_mb(),
    }


def baseline(cases: str) -> dict:
    """The floor: the records the import creates, made with plain ``bulk_create`` (chunks of CHUNK cases)."""
    _setup_django()
    from datetime import UTC, datetime

    from django.db import transaction
    from django.utils import timezone

    from forensis.accounts.models import Agency, User
    from forensis.audit.chain import GENESIS_HASH
    from forensis.cases.models import Case, CaseOffence, Person
    from forensis.evidence.models import CustodyEvent, Item, Purpose
    from forensis.evidence.services import item_label
    from forensis.lab.models import Discipline
    from forensis.legacy.models import LegacyResult
    from forensis.legacy.synthetic import SOURCE_NAME, synthetic_cases

    zone = timezone.get_default_timezone()
    agencies = dict(Agency.objects.values_list("code", "pk"))
    disciplines = dict(Discipline.objects.values_list("code", "pk"))
    actor = User.objects.get(username="importer")

    def moment(value) -> datetime:
        if not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        return value.replace(tzinfo=zone).astimezone(UTC)

    accepted = (case for case in synthetic_cases(int(cases)) if case.accepted)
    records = events = offences_made = 0
    started = time.perf_counter()
    while chunk := [case for _, case in zip(range(CHUNK), accepted, strict=False)]:
        with transaction.atomic():
            made = Case.objects.bulk_create(
                Case(
                    lab_number=case.lab_number,
                    agency_id=agencies[case.agency],
                    agency_case_number=case.agency_case_number,
                    received_at=moment(case.received),
                    received_month=case.received.strftime("%Y-%m"),
                    created_by=actor,
                    district=case.district,
                    incident_at=moment(case.incident),
                    town=case.town,
                    narrative=case.narrative,
                    legacy_source=SOURCE_NAME,
                    legacy_id=case.key,
                )
                for case in chunk
            )
            offences = CaseOffence.objects.bulk_create(
                CaseOffence(case=row, code=code)
                for row, case in zip(made, chunk, strict=True)
                for code in case.offences
            )
            people = Person.objects.bulk_create(
                Person(
                    case=row,
                    role=person.role,
                    name=person.name,
                    sex=person.sex,
                    age=person.age,
                    legacy_source=SOURCE_NAME,
                    legacy_id=person.key,
                )
                for row, case in zip(made, chunk, strict=True)
                for person in case.people
            )
            pairs = [  # (case row, case, item, its number in the case)
                (row, case, item, number)
                for row, case in zip(made, chunk, strict=True)
                for number, item in enumerate((item for item in case.items if item.accepted), start=1)
            ]
            items = Item.objects.bulk_create(
                Item(
                    case=row,
                    number=number,
                    label=item_label(row.lab_number, number),
                    type=item.type,
                    description=item.description,
                    quantity=item.quantity,
                    seal_number=item.seal_number,
                    received_at=moment(item.received or case.received),
                    amount_received=item.amount,
                    amount_remaining=item.amount,
                    amount_unit=item.amount_unit,
                    last_moved_at=moment(item.as_of or item.received or case.received),
                    custody_sequence=1,
                    legacy_source=SOURCE_NAME,
                    legacy_id=item.key,
                )
                for row, case, item, number in pairs
            )
            custody = CustodyEvent.objects.bulk_create(
                CustodyEvent(
                    item=row,
                    sequence=1,
                    occurred_at=row.last_moved_at,
                    released_by_name="Legacy records",
                    received_by_name="Legacy records",
                    location=item.location or "",
                    purpose=Purpose.MIGRATED,
                    seal_number=item.seal_number,
                    note="Brought over",
                    prev_hash=GENESIS_HASH,
                    hash=f"{events + index:064x}",
                )
                for index, (row, (_case_row, _case, item, _number)) in enumerate(zip(items, pairs, strict=True))
            )
            events += len(custody)
            results = LegacyResult.objects.bulk_create(
                LegacyResult(
                    case=case_row,
                    item=row,
                    discipline_id=disciplines[result.discipline],
                    result=result.finding,
                    value=result.value,
                    unit=result.unit,
                    reported_at=moment(result.reported),
                    legacy_source=SOURCE_NAME,
                    legacy_id=result.key,
                )
                for row, (case_row, _case, item, _number) in zip(items, pairs, strict=True)
                for result in item.results
            )
            records += len(made) + len(people) + len(items) + len(custody) + len(results)
            offences_made += len(offences)
    return {"seconds": time.perf_counter() - started, "records": records, "offences": offences_made}


def stream(mapping_path: str) -> dict:
    """Every row of the export through the source reader, nothing kept: the memory of streaming alone."""
    _setup_django()
    from forensis.legacy.mapping import load_mapping
    from forensis.legacy.sources import open_source

    mapping = load_mapping(Path(mapping_path))
    started, rows = time.perf_counter(), 0
    with open_source(mapping.source) as source:
        for spec in mapping.entities.values():
            rows += sum(1 for _row in source.rows(spec))
    return {"seconds": time.perf_counter() - started, "rows": rows, "peak_mb": _peak_mb()}


def read(mapping_path: str) -> dict:
    """Phase 1 of an import (``legacy.reading.read``) over the whole export, in a dry-run batch."""
    _setup_django()
    from django.contrib.auth import get_user_model

    from forensis.legacy import services
    from forensis.legacy.mapping import load_mapping
    from forensis.legacy.reading import read as read_phase
    from forensis.legacy.records import ImportState
    from forensis.legacy.sources import open_source

    mapping = load_mapping(Path(mapping_path))
    actor = get_user_model().objects.get(username="importer")
    batch = services.start_batch(actor, source_name=mapping.source.name, mapping_name="", mapping_text="", dry_run=True)
    started = time.perf_counter()
    state = ImportState(mapping, batch, actor, dry_run=True)
    try:
        with open_source(mapping.source) as source:
            read_phase(state, source)
    finally:
        state.held.close()
    return {
        "seconds": time.perf_counter() - started,
        "rows": sum(stats.read for stats in state.stats.values()),
        "held": len(state.held["cases"]),
        "peak_mb": _peak_mb(),
    }


def _worker(argv: list[str]) -> int:
    steps = {
        "generate": generate,
        "prepare": prepare,
        "import": do_import,
        "baseline": baseline,
        "stream": stream,
        "read": read,
    }
    print(json.dumps(steps[argv[0]](*argv[1:])))
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1:]))
