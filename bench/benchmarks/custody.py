"""Custody ledger verification: events per second of ``verify_ledger`` on PostgreSQL, against a bare loop.

A fresh PostgreSQL database is migrated and filled with synthetic ledgers (10 events per item, 100,000
items; ``--quick``: 10,000 items) written with ``COPY`` and chained with the application's own
``link_hash``, so that the verification must find every chain intact. Then, each in a fresh process so
that its peak memory is its own:

- **value**: ``forensis.evidence.services.verify_ledger()`` over every event (what
  ``forensis custody verify`` runs before its per-item state check), in events per second;
- **baseline**: a bare loop that reads the same rows in the same order through a psycopg server-side
  cursor and hashes each row's fields with ``hashlib.sha256`` (no JSON, no chain logic, no Django).

Baseline and verification alternate (best of 2 rounds; quick: 1). ``custody_verify_1m_pg_peak_mb`` is the
verification's peak resident memory above what the process held before it started (``ru_maxrss``),
against the bare loop's; the note gives the same figure for a tenth of the ledger, which must be about the
same if memory does not grow with the number of events. Last, the whole ``forensis custody verify``
(start-up, ``verify_ledger`` and the per-item ``gap_check``) is timed once, for the note. About 3 minutes
(generation ~45 s, the whole command ~90 s); quick: ~20 s.

Run ``python -m bench.benchmarks.custody generate|verify|bare EVENTS`` with ``DATABASE_URL`` set for one
step on its own (the harness does exactly that, in subprocesses).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Generator
from pathlib import Path

from bench.registry import Measurement, Run, SkipBenchmark, benchmark
from bench.servers import (
    _clean_env,
    _run_setup,
    postgres_unreachable_reason,
    run_worker_step,
    temporary_postgres_database,
)

EVENTS_PER_ITEM = 10
ITEMS_PER_CASE = 10
FULL_EVENTS, QUICK_EVENTS = 1_000_000, 100_000
#: Rows per round trip, for the verification (``iterator(chunk_size=…)``) and the bare loop alike.
CHUNK_SIZE = 5000
STEP_TIMEOUT_S = 600


# --- the harness side ----------------------------------------------------------------------------------


def _step(env: dict[str, str], *args: str) -> dict:
    return run_worker_step("custody", env, *args, timeout_s=STEP_TIMEOUT_S)


def _rate(result: dict) -> float:
    return result["events"] / result["seconds"]


def _time_command(env: dict[str, str]) -> float:
    """Wall seconds of ``forensis custody verify`` (a fresh process: start-up, verify_ledger and gap_check)."""
    started = time.monotonic()
    _run_setup([sys.executable, "-m", "forensis", "custody", "verify"], env)
    return time.monotonic() - started


@benchmark("custody_verify_1m_pg", "custody_verify_1m_pg_peak_mb")
def custody_verify_pg(run: Run) -> Generator[Measurement, None, None]:
    """Events/s of the custody ledger verification over 1,000,000 events on PostgreSQL, against a bare loop."""
    if reason := postgres_unreachable_reason():
        raise SkipBenchmark(reason)
    events = QUICK_EVENTS if run.quick else FULL_EVENTS
    rounds = 1 if run.quick else 2
    with tempfile.TemporaryDirectory(prefix="forensis-bench-") as data_dir, temporary_postgres_database() as url:
        env = _clean_env(FORENSIS_DATA_DIR=data_dir, DATABASE_URL=url, FORENSIS_ENV="development", FORENSIS_DEBUG="0")
        started = time.monotonic()
        _run_setup([sys.executable, "-m", "forensis", "migrate", "--noinput"], env)
        made = _step(env, "generate", str(events))
        run.log(
            f"  migrated, then {made['events']:,} events of {made['items']:,} items written in "
            f"{time.monotonic() - started:.0f} s"
        )
        bare, verified = [], []
        for _ in range(rounds):
            for name, results in (("bare loop", bare), ("verify_ledger", verified)):
                results.append(_step(env, "bare" if results is bare else "verify", str(events)))
                run.log(
                    f"  {name}: {_rate(results[-1]):,.0f} events/s ({results[-1]['cpu_seconds']:.1f} s CPU), "
                    f"peak +{results[-1]['peak_mb']:.1f} MB"
                )
        tenth = _step(env, "verify", str(events // 10))
        run.log(f"  verify_ledger over {tenth['events']:,} events: peak +{tenth['peak_mb']:.1f} MB")
        command_s = _time_command(env)
        run.log(f"  forensis custody verify (with its per-item gap check): {command_s:.1f} s")
    for result, expected in [*((r, events) for r in verified), (tenth, events // 10)]:
        if not result["intact"] or result["events"] != expected:
            raise RuntimeError(
                f"verify_ledger saw {result['events']:,} events (expected {expected:,}), problems: {result['problems']}"
            )
    best = max(verified, key=_rate)
    if run.wants("custody_verify_1m_pg"):
        yield Measurement(
            "custody_verify_1m_pg",
            value=_rate(best),
            unit="events/s",
            baseline=max(_rate(r) for r in bare),
            note=f"{events:,} events in {best['seconds']:.1f} s, best of {rounds}; "
            f"whole command {events / command_s:,.0f} events/s",
        )
    if run.wants("custody_verify_1m_pg_peak_mb"):
        yield Measurement(
            "custody_verify_1m_pg_peak_mb",
            value=max(r["peak_mb"] for r in verified),
            unit="MB",
            baseline=max(r["peak_mb"] for r in bare),
            note=f"{tenth['events']:,} events: +{tenth['peak_mb']:.1f} MB",
        )


# --- the worker side (a fresh interpreter with Django set up on DATABASE_URL) ---------------------------


def _rss_mb() -> float:
    """The resident memory of this process now, from /proc (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "forensis.settings")
    import django

    django.setup()


def _item_count(events: int) -> int:
    return events // EVENTS_PER_ITEM


def generate(events: int) -> dict:
    """Fill the migrated database with ``events`` custody events: 10 per item, 10 items per case."""
    from datetime import UTC, datetime, timedelta

    from django.db import connection, transaction

    from forensis.accounts.models import Agency, AgencyType, User
    from forensis.audit.chain import GENESIS_HASH, link_hash
    from forensis.cases.models import Case
    from forensis.evidence.models import CustodyEvent, Item, Purpose, SealStatus, StorageLocation
    from forensis.evidence.services import HASHED_FIELDS

    started = time.monotonic()
    items = _item_count(events)
    cases = -(-items // ITEMS_PER_CASE)
    lab = Agency.objects.create(code="LAB", name="Forensic Laboratory", type=AgencyType.LABORATORY)
    police = Agency.objects.create(code="POL", name="Policía de Cayo", type=AgencyType.POLICE, district="CY")
    people = [
        User.objects.create(username=f"staff{n}", first_name=first, last_name=last, agency=lab)
        for n, (first, last) in enumerate(
            [("Carla", "Castillo"), ("José", "Peña"), ("Ana", "O'Neil"), ("Zoë", "Martínez"), ("Li", "Wú")]
        )
    ]
    officer = User.objects.create(username="officer", first_name="Oscar", last_name="Ortiz", agency=police)
    building = StorageLocation.objects.create(code="B1", name="Main building", kind="building", path="Main building")
    places = [
        StorageLocation.objects.create(
            code=f"S{n}",
            name=f"Shelf {n}",
            kind="shelf",
            parent=building,
            path=f"Main building › Vault “A” › Shelf {n}",
        )
        for n in range(1, 6)
    ]

    def names(user: User) -> str:
        return f"{user.first_name} {user.last_name}"

    t0 = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
    purposes = [p.value for p in (Purpose.RECEIPT, Purpose.STORAGE, Purpose.ANALYSIS, Purpose.COURT)]

    def copy_rows(model, rows, fields: list[str]) -> None:
        table = model._meta.db_table
        columns = [model._meta.get_field(name).column for name in fields]
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def defaults(model, given: list[str]) -> tuple[list[str], tuple]:
        """The model's other concrete fields and their defaults (so a column added later does not break this)."""
        rest = [f for f in model._meta.concrete_fields if f.name not in given and not f.primary_key]
        return [f.name for f in rest], tuple(f.get_default() for f in rest)

    with transaction.atomic():
        case_fields = [
            "id",
            "lab_number",
            "agency",
            "agency_case_number",
            "received_at",
            "received_month",
            "created_by",
        ]
        extra_names, extra_values = defaults(Case, case_fields)
        copy_rows(
            Case,
            (
                (
                    n,
                    f"FL-2024-{n:06d}",
                    police.pk,
                    f"CY-CR-2024-{n:05d}",
                    t0 + timedelta(hours=n),
                    "2024-01",
                    people[0].pk,
                    *extra_values,
                )
                for n in range(1, cases + 1)
            ),
            case_fields + extra_names,
        )

        def ledger(item_id: int):
            """The item's events as (HASHED_FIELDS values…, prev_hash, hash)."""
            prev = GENESIS_HASH
            holder = officer
            for sequence in range(1, EVENTS_PER_ITEM + 1):
                receiver = people[(item_id + sequence) % len(people)]
                place = places[(item_id + sequence) % len(places)] if sequence % 3 else None
                occurred = t0 + timedelta(minutes=item_id * 20 + sequence, microseconds=(item_id * sequence) % 7 * 1001)
                values = {
                    "item_id": item_id,
                    "sequence": sequence,
                    "occurred_at": occurred,
                    "released_by_id": holder.pk if sequence > 1 or item_id % 2 else None,
                    "released_by_name": names(holder),
                    "received_by_id": receiver.pk,
                    "received_by_name": names(receiver),
                    "storage_location_id": place.pk if place else None,
                    "location": place.path if place else "Evidence reception",
                    "purpose": purposes[0] if sequence == 1 else purposes[1 + sequence % 3],
                    "seal_number": f"S-{item_id:06d}" if item_id % 4 else "",
                    "seal_status": SealStatus.INTACT.value if sequence == 1 else "",
                    "condition": 'Bag torn at the corner; re-sealed "as found"'
                    if sequence == 1 and item_id % 9 == 0
                    else "",
                    "witness_name": "Ñandú Ávila" if sequence == EVENTS_PER_ITEM else "",
                    "note": f"Examination {sequence}\nback\\slash" if item_id % 5 == 0 else "",
                    "acknowledged_by_releaser": True,
                    "acknowledged_by_receiver": sequence % 4 != 0,
                }
                digest = link_hash(values, prev)
                yield values, prev, digest
                prev, holder = digest, receiver

        last_events: dict[int, tuple] = {}
        last_fields = (
            "seal_number",
            "received_by_id",
            "received_by_name",
            "storage_location_id",
            "occurred_at",
            "sequence",
        )

        def event_rows():
            event_id = 0
            for item_id in range(1, items + 1):
                for values, prev, digest in ledger(item_id):
                    event_id += 1
                    yield (event_id, *(values[name] for name in HASHED_FIELDS), prev, digest)
                last_events[item_id] = tuple(values[name] for name in last_fields)

        event_fields = ["id", *(name.removesuffix("_id") for name in HASHED_FIELDS), "prev_hash", "hash"]
        copy_rows(CustodyEvent, event_rows(), event_fields)

        item_fields = [
            "id",
            "case",
            "number",
            "label",
            "type",
            "description",
            "seal_number",
            "received_at",
            "holder",
            "holder_name",
            "location",
            "last_moved_at",
            "custody_sequence",
        ]
        extra_names, extra_values = defaults(Item, item_fields)

        def item_rows():
            for item_id in range(1, items + 1):
                case_id, number = (item_id - 1) // ITEMS_PER_CASE + 1, (item_id - 1) % ITEMS_PER_CASE + 1
                seal, holder, holder_name, place, moved_at, sequence = last_events.pop(item_id)
                yield (
                    item_id,
                    case_id,
                    number,
                    f"FL-2024-{case_id:06d}/{number:02d}",
                    "clothing",
                    f"Camiseta azul, talla M (item {number})",
                    seal,
                    t0 + timedelta(hours=case_id),
                    holder,
                    holder_name,
                    place,
                    moved_at,
                    sequence,
                    *extra_values,
                )

        # The events go in before their items (whose holder and place come from each item's last event):
        # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED, checked at the commit.
        copy_rows(Item, item_rows(), item_fields + extra_names)
        with connection.cursor() as cursor:
            for model in (Case, Item, CustodyEvent):
                table = model._meta.db_table
                cursor.execute(  # the table names come from the models
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
                )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"events": CustodyEvent.objects.count(), "items": items, "seconds": time.monotonic() - started}


def verify(events: int) -> dict:
    """``verify_ledger`` over the events of the first ``events // 10`` items."""
    from django.db import connection

    from forensis.evidence.models import CustodyEvent
    from forensis.evidence.services import verify_ledger

    # Item ids are dense from 1; the full run filters too, so that both loops send the same query shape.
    queryset = CustodyEvent.objects.filter(item_id__lte=_item_count(events))
    connection.ensure_connection()
    before = max(_rss_mb(), _peak_mb())
    started, cpu_started = time.perf_counter(), time.process_time()
    report = verify_ledger(queryset, chunk_size=CHUNK_SIZE)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "events": report.events,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_mb": max(0.0, _peak_mb() - before),
        "intact": report.intact,
        "problems": report.problems[:5],
    }


def bare(events: int) -> dict:
    """The floor: read the same rows in the same order with psycopg and hash each row's fields."""
    import hashlib

    import psycopg

    from forensis.evidence.services import HASHED_FIELDS

    columns = ", ".join(["prev_hash", "hash", *HASHED_FIELDS])  # what verify_ledger selects, in its order
    sql = (  # constant SQL: the columns are HASHED_FIELDS, the limit an int
        f"SELECT {columns} FROM evidence_custodyevent WHERE item_id <= {_item_count(events)} "  # noqa: S608
        "ORDER BY item_id, sequence"
    )
    sha256 = hashlib.sha256
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn, conn.cursor(name="bare") as cursor:
        cursor.itersize = CHUNK_SIZE
        before = max(_rss_mb(), _peak_mb())
        started, cpu_started = time.perf_counter(), time.process_time()
        cursor.execute(sql)
        count = matches = 0
        for row in cursor:  # the hash compares with the stored one, as verify_ledger's does (it never matches)
            matches += sha256(("|".join(map(str, row[2:])) + row[0]).encode()).hexdigest() == row[1]
            count += 1
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return {"events": count, "seconds": seconds, "cpu_seconds": cpu_seconds, "peak_mb": max(0.0, _peak_mb() - before)}


def _worker(argv: list[str]) -> int:
    step, events = argv[0], int(argv[1])
    _setup_django()  # the bare loop too: it only takes the column names from it, but starts from the same RSS
    result = {"generate": generate, "verify": verify, "bare": bare}[step](events)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1:]))
