"""The legacy import: read every entity of the old database, validate, then save case by case in chunks.

Two phases.

1. **Read and validate** each entity in turn (cases, people, items, results, locations). Every row is read
   with the mapping (``transforms.read_record``) and checked against Forensis (agency, district, ICCS, item
   type, discipline, … exist; lengths fit); identical rows of one key collapse, different rows of one key are
   all rejected; a child whose case (or item) is missing or rejected is rejected as an orphan. What is kept in
   memory is each accepted record as its canonical JSON text (a few hundred bytes), its row numbers, its year,
   and the keys of the children of each case and item.
2. **Save** the accepted cases in chunks (``chunk_size`` cases with all their people, items, results and
   locations per transaction, so a case never arrives in part and a killed import keeps every chunk it
   finished). A record whose fingerprint (SHA-256 of its canonical JSON) equals the one of its last import is
   left alone; a new one is created in bulk by the owning app's service; a changed one is corrected by it,
   audited before/after. Nothing is deleted.

A dry run does all of it inside transactions that are rolled back, so it reports exactly what a real run would
create, correct and reject.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from time import monotonic
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from forensis.accounts.models import Agency, User
from forensis.cases.models import Case, Person, PersonRole
from forensis.cases.services import MigratedCase, MigratedPerson, migrate_cases
from forensis.core import iccs
from forensis.core.models import MigrationOutcome, in_chunks, migrated
from forensis.core.vocabulary import District, Sex
from forensis.evidence.migration import MigratedItem, migrate_items
from forensis.evidence.models import AmountUnit, CustodyEvent, Item, ItemType, Purpose
from forensis.lab.models import Discipline
from forensis.legacy.mapping import DATE, FIELDS, NUMBER, UNIT_FIELDS, EntitySpec, Mapping
from forensis.legacy.sources import Source, open_source
from forensis.legacy.transforms import RowProblem, read_record

from . import services
from .models import BatchStatus, Entity, ImportBatch, LegacyRecord, LegacyResult, Rejection
from .reports import write_reports

ENTITIES = [entity.value for entity in Entity]
#: Whose key a child names: people and items name a case; results and locations an item (and its case).
PARENT = {"people": "cases", "items": "cases", "results": "items", "locations": "items"}
#: Years that no date could be found for are reported as this.
UNKNOWN_YEAR = "unknown"
LAB_NUMBER_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._")
#: Lengths the Forensis fields take (longer text is rejected, never cut).
MAX_LENGTH = {
    "lab_number": 32,
    "agency_case_number": 64,
    "town": 100,
    "name": 200,
    "description": 500,
    "seal_number": 64,
    "analyst": 200,
    "unit": 32,
    "location": 450,
}
LEGACY_ID_LENGTH = 64
# The codes Forensis knows (Django's ``Choices.values`` builds a new list on every use).
DISTRICTS = frozenset(District.values)
SEXES = frozenset(Sex.values)
ROLES = frozenset(PersonRole.values)
ITEM_TYPES = frozenset(ItemType.values)
AMOUNT_UNITS = frozenset(AmountUnit.values)

Progress = Callable[[str, int, int | None], None]
AfterChunk = Callable[[int, int], None]


@dataclass
class EntityCounts:
    """What happened to the rows of one entity (rows: ``read`` = ``imported`` + collapsed + rejected + skipped)."""

    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    collapsed: int = 0
    skipped: int = 0
    reasons: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "collapsed": self.collapsed,
            "skipped": self.skipped,
            "reasons": dict(sorted(self.reasons.items())),
        }


class _Held:
    """An accepted record in memory: its canonical JSON, the source rows that gave it, its reconciliation year."""

    __slots__ = ("rows", "text", "year")

    def __init__(self, text: str, row: int, year: int | None):
        self.text, self.rows, self.year = text, [row], year


@dataclass
class _Problem:
    code: str
    column: str
    value: str
    reason: str


def canonical(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def as_datetime(value: date | datetime | None) -> datetime | None:
    """A date read from the source as an aware moment: a date alone is midnight in the laboratory's zone."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = timezone.make_aware(datetime.combine(value, time.min), timezone.get_default_timezone())
    return value.astimezone(UTC)


def year_of(moment: str | datetime | None) -> int | None:
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return timezone.localtime(moment).year


def run_import(
    mapping: Mapping,
    *,
    actor: User,
    dry_run: bool = False,
    limit: int | None = None,
    report_dir: str | Path | None = None,
    progress: Progress | None = None,
    chunk_size: int = 500,
    after_chunk: AfterChunk | None = None,
    queued: ImportBatch | None = None,
) -> ImportBatch:
    """Import what ``mapping`` describes; returns the finished batch (its ``counts`` hold the summary).

    ``progress(stage, done, total)`` is called as rows are read and cases saved; ``after_chunk(index, cases
    saved)`` after each chunk has committed (tests use it to stop an import half way). ``queued`` is the batch
    the administrator's page queued for this run (its progress is then stored on it). MappingError and
    SourceError from the mapping or the source propagate, as does any other error, after the batch is marked
    failed; a batch still "running" from a process that was killed is marked interrupted first.
    """
    services.check_may_import(actor)
    services.mark_interrupted()
    batch = services.start_batch(
        actor,
        source_name=mapping.source.name,
        mapping_name=mapping.path.name,
        mapping_text=services.read_text(mapping.path),
        dry_run=dry_run,
        limit=limit,
        queued=queued,
    )
    if queued is not None:
        progress = _stored_progress(batch, progress)
    importer = Importer(mapping, batch, actor, dry_run=dry_run, limit=limit, chunk_size=chunk_size, progress=progress)
    try:
        with open_source(mapping.source) as source:
            importer.read(source)
        importer.save(after_chunk)
        reconciliation = importer.reconcile()
    except BaseException as exc:
        status = BatchStatus.INTERRUPTED if isinstance(exc, KeyboardInterrupt) else BatchStatus.FAILED
        services.save_rejections(batch, importer.rejections)
        services.finish_batch(actor, batch, status=status, counts=importer.counts(), error=str(exc) or repr(exc))
        raise
    folder = Path(report_dir) if report_dir else Path(settings.DATA_DIR) / "legacy-reports" / batch.number
    counts = importer.counts(reconciliation)
    services.save_rejections(batch, importer.rejections)
    batch.counts = counts
    write_reports(batch, importer.rejections, reconciliation, folder)
    return services.finish_batch(actor, batch, status=BatchStatus.COMPLETED, counts=counts, report_dir=str(folder))


def _stored_progress(batch: ImportBatch, also: Progress | None) -> Progress:
    """Progress kept on the batch for its page: at most one write a second, and always the last of a stage."""
    last = {"at": 0.0}

    def report(stage: str, done: int, total: int | None) -> None:
        now = monotonic()
        if now - last["at"] >= 1 or done == total:
            last["at"] = now
            services.record_progress(batch, stage, done, total)
        if also:
            also(stage, done, total)

    return report


class Importer:
    def __init__(
        self,
        mapping: Mapping,
        batch: ImportBatch,
        actor: User,
        *,
        dry_run: bool = False,
        limit: int | None = None,
        chunk_size: int = 500,
        progress: Progress | None = None,
    ):
        self.mapping, self.batch, self.actor = mapping, batch, actor
        self.source_name = mapping.source.name
        self.dry_run, self.limit, self.chunk_size, self.progress = dry_run, limit, max(chunk_size, 1), progress
        self.now = timezone.now()
        self.agencies = dict(Agency.objects.values_list("code", "pk"))
        self.disciplines = dict(Discipline.objects.values_list("code", "pk"))
        self.stats = {entity: EntityCounts() for entity in ENTITIES}
        self.held: dict[str, dict[str, _Held]] = {entity: {} for entity in ENTITIES}
        self.children: dict[str, dict[str, list[str]]] = {entity: defaultdict(list) for entity in ENTITIES}
        self.skipped: dict[str, set[str]] = {entity: set() for entity in ENTITIES}
        self.tables: dict[str, str] = {}
        self.rejections: list[Rejection] = []
        # Reconciliation: source rows, rejected, skipped per entity and year; what was saved, per entity.
        self.rows_by_year: dict[str, Counter] = {entity: Counter() for entity in ENTITIES}
        self.rejected_by_year: dict[str, Counter] = {entity: Counter() for entity in ENTITIES}
        self.skipped_by_year: dict[str, Counter] = {entity: Counter() for entity in ENTITIES}
        self.saved: dict[str, set[str]] = {entity: set() for entity in ENTITIES}
        # Every case and item key whose date could be read (accepted or not): children take their year from it.
        self.case_dates: dict[str, str] = {}
        self.item_years: dict[str, int | None] = {}
        self.item_case: dict[str, str] = {}
        self.seen: dict[str, set[str]] = {entity: set() for entity in ENTITIES}  # every key in the source
        self.limited_cases: set[str] = set()  # with --limit: the first N case keys

    # --- phase 1: read and validate ------------------------------------------------------------------------

    def read(self, source: Source) -> None:
        for entity in ENTITIES:
            spec = self.mapping.entities.get(entity)
            if spec is not None:
                self.tables[entity] = source.describe(spec)
                self._read_entity(source, spec)

    def _read_entity(self, source: Source, spec: EntitySpec) -> None:
        entity = spec.name
        stats, held = self.stats[entity], self.held[entity]
        conflicts: dict[str, set[str]] = {}
        total = source.count(spec) if self.progress else None
        for row in source.rows(spec):
            stats.read += 1
            if self.progress and (stats.read % 500 == 0 or stats.read == total):
                self.progress(entity, stats.read, total)
            record, row_problems = read_record(spec, row, self.mapping.maps, now=self.now)
            key = record.get("_key")
            if key:
                self.seen[entity].add(key)
            year = self._row_year(entity, record)
            self.rows_by_year[entity][year] += 1
            if self._beyond_limit(entity, record):
                stats.skipped += 1
                self.skipped_by_year[entity][year] += 1
                if key:
                    self.skipped[entity].add(key)
                continue
            problems = [self._from_row_problem(spec, problem) for problem in row_problems]
            normal = self._normalise(spec, record, row.values, problems)
            if problems:
                self._reject(entity, [row.number], key or "", problems, year)
                continue
            text = canonical(normal)
            found = held.get(key)
            if found is None:
                held[key] = _Held(text, row.number, year)
                if entity == "items":
                    self.item_years[key], self.item_case[key] = year, normal["_case"]
            else:
                found.rows.append(row.number)
                if found.text != text:
                    first = json.loads(found.text)
                    conflicts.setdefault(key, set()).update(name for name in normal if first.get(name) != normal[name])
        if self.progress and total is None:
            self.progress(entity, stats.read, stats.read)
        for key, differing in conflicts.items():
            found = held.pop(key)
            if entity == "items":
                self.item_years.pop(key, None)
            reason = _(
                "conflicting duplicate of key %(key)s: rows %(rows)s have the same key but different %(fields)s; "
                "none of them is imported"
            ) % {
                "key": key,
                "rows": ", ".join(str(number) for number in found.rows),
                "fields": ", ".join(sorted(differing)),
            }
            self._reject(
                entity, found.rows, key, [_Problem("conflicting_duplicate", spec.key, key, reason)], found.year
            )
        if entity == "cases":
            self._check_lab_numbers_in_source()
            self._check_lab_numbers_in_use()
        if entity == "locations":
            self._check_one_location_per_item()
        parent = PARENT.get(entity)
        if parent:
            for key, found in held.items():
                self.children[entity][json.loads(found.text)["_case" if parent == "cases" else "_item"]].append(key)

    def _beyond_limit(self, entity: str, record: dict) -> bool:
        """With ``--limit N``: rows of the cases after the N first (and their children) are skipped, not read."""
        if self.limit is None:
            return False
        if entity == "cases":
            key = record.get("_key")
            if key and key not in self.limited_cases:
                if len(self.limited_cases) >= self.limit:
                    return True
                self.limited_cases.add(key)
            return False
        if record.get("_case") in self.skipped["cases"]:
            return True
        return PARENT[entity] == "items" and record.get("_item") in self.skipped["items"]

    def _row_year(self, entity: str, record: dict) -> int | None:
        """The year a row counts under in the reconciliation (cases and items: received; results: reported;
        people: their case's; locations: their item's)."""
        if entity == "cases":
            return year_of(as_datetime(record.get("received_at")))
        if entity == "people":
            return year_of(self.case_dates.get(record.get("_case") or ""))
        if entity == "items":
            own = record.get("received_at")
            return year_of(as_datetime(own)) if own else year_of(self.case_dates.get(record.get("_case") or ""))
        if entity == "results":
            return year_of(as_datetime(record.get("reported_at")))
        return self.item_years.get(record.get("_item") or "")

    def _from_row_problem(self, spec: EntitySpec, problem: RowProblem) -> _Problem:
        if problem.column and problem.column == spec.key:
            code = "missing_key"
        elif problem.column and problem.column in (spec.case, spec.item):
            code = "missing_parent_key"
        elif not problem.column:
            code = "row"
        else:
            names = [
                name
                for name, field_spec in spec.fields.items()
                if problem.column in (field_spec.column, field_spec.unit)
            ]
            code = f"invalid_{names[0]}" if names else "invalid"
        return _Problem(code, problem.column, problem.value, problem.reason)

    # --- checks against Forensis --------------------------------------------------------------------------

    def _normalise(self, spec: EntitySpec, record: dict, values: dict, problems: list[_Problem]) -> dict[str, Any]:
        """The record as Forensis will hold it (JSON-ready: moments as UTC ISO text, decimals as text); each
        value Forensis cannot take is added to ``problems``."""
        entity = spec.name
        normal: dict[str, Any] = dict.fromkeys(FIELDS[entity])
        normal.update({name: value for name, value in record.items() if name in normal or name.startswith("_")})
        for (owner, name), unit_field in UNIT_FIELDS.items():
            if owner == entity and record.get(f"{name}_unit") is not None:
                normal[unit_field] = record[f"{name}_unit"]

        def column(name: str) -> str:
            field_spec = spec.fields.get(name)
            return (field_spec.column if field_spec else "") or ""

        def problem(code: str, name: str, reason: str, value: Any = None) -> None:
            col = (
                column(name)
                if name in FIELDS[entity]
                else {"_key": spec.key, "_case": spec.case, "_item": spec.item}.get(name, "")
            )
            raw = values.get(col) if col else None
            problems.append(_Problem(code, col or "", raw if raw is not None else str(value or ""), reason))

        def unknown(code: str, name: str, what: str, value: Any) -> None:
            problem(
                code, name, _("%(value)s is not a known %(what)s in Forensis") % {"value": value, "what": what}, value
            )

        def text(name: str) -> str:
            value = normal.get(name)
            if value is None:
                return ""
            value = str(value)
            limit = MAX_LENGTH.get(name)
            if limit and len(value) > limit:
                problem(
                    "too_long",
                    name,
                    _("%(field)s is longer than %(limit)s characters")
                    % {"field": name.replace("_", " "), "limit": limit},
                )
            return value

        for name in ("_key", "_case", "_item"):
            if normal.get(name) and len(normal[name]) > LEGACY_ID_LENGTH:
                problem(
                    "too_long", name, _("the key is longer than %(limit)s characters") % {"limit": LEGACY_ID_LENGTH}
                )
        for name, kind in FIELDS[entity].items():
            if kind == DATE:
                normal[name] = as_datetime(normal.get(name))
        if entity == "cases":
            self._normalise_case(normal, text, problem, unknown)
        elif entity == "people":
            normal["role"] = text("role")
            if normal["role"] and normal["role"] not in ROLES:
                unknown("unknown_role", "role", _("role"), normal["role"])
            normal["name"] = text("name")
            normal["sex"] = normal.get("sex") or Sex.UNKNOWN
            if normal["sex"] not in SEXES:
                unknown("unknown_sex", "sex", _("sex"), normal["sex"])
            normal["age"] = self._whole(normal.get("age"), "age", 0, 120, problem)
        elif entity == "items":
            self._normalise_item(normal, text, problem, unknown)
        elif entity == "results":
            if normal.get("discipline") and normal["discipline"] not in self.disciplines:
                unknown("unknown_discipline", "discipline", _("discipline"), normal["discipline"])
            normal["result"], normal["analyst"] = text("result"), text("analyst")
            normal["unit"] = normal.get("unit") or ""
            if len(normal["unit"]) > MAX_LENGTH["unit"]:
                problem(
                    "too_long",
                    "unit",
                    _("the unit is longer than %(limit)s characters") % {"limit": MAX_LENGTH["unit"]},
                )
            normal["value"] = self._decimal(normal.get("value"), "value", 14, 6, problem)
            self._check_parent(normal, "items", problem)
        elif entity == "locations":
            normal["location"] = text("location")
            self._check_parent(normal, "items", problem)
        if entity in ("people", "items"):
            self._check_parent(normal, "cases", problem)
        return {name: value.isoformat() if isinstance(value, datetime) else value for name, value in normal.items()}

    def _normalise_case(self, normal: dict, text, problem, unknown) -> None:
        normal["lab_number"] = text("lab_number")
        if normal["lab_number"] and not set(normal["lab_number"]) <= LAB_NUMBER_CHARACTERS:
            problem(
                "lab_number_unusable",
                "lab_number",
                _(
                    "the lab number %(value)s has characters Forensis cannot print in item numbers and links "
                    "(only letters, digits, '-', '.' and '_'); transform it in the mapping"
                )
                % {"value": normal["lab_number"]},
            )
        if normal.get("agency") and normal["agency"] not in self.agencies:
            unknown("unknown_agency", "agency", _("agency code"), normal["agency"])
        normal["district"] = normal.get("district") or ""
        if normal["district"] and normal["district"] not in DISTRICTS:
            unknown("unknown_district", "district", _("district code"), normal["district"])
        offences = normal.get("offences") or []
        for code in offences:
            if not iccs.is_known(code):
                unknown("unknown_offence", "offences", _("ICCS offence code"), code)
        normal["offences"] = sorted(set(offences))
        for name in ("agency_case_number", "town", "narrative"):
            normal[name] = text(name)
        if normal.get("received_at"):
            self.case_dates[normal["_key"] or ""] = normal["received_at"].isoformat()

    def _normalise_item(self, normal: dict, text, problem, unknown) -> None:
        if normal.get("type") and normal["type"] not in ITEM_TYPES:
            unknown("unknown_item_type", "type", _("item type"), normal["type"])
        normal["description"], normal["seal_number"] = text("description"), text("seal_number")
        quantity = normal.get("quantity")
        normal["quantity"] = 1 if quantity is None else self._whole(quantity, "quantity", 1, 2_147_483_647, problem)
        normal["amount"] = self._decimal(normal.get("amount"), "amount", 10, 4, problem)
        unit = normal.get("amount_unit") or ""
        if normal["amount"] is None:
            unit = ""
        elif not unit:
            problem("missing_unit", "amount", _("the amount %(value)s has no unit") % {"value": normal["amount"]})
        elif unit not in AMOUNT_UNITS:
            unknown("unknown_unit", "amount_unit", _("unit"), unit)
        normal["amount_unit"] = unit
        if normal.get("received_at") is None and normal.get("_case") in self.case_dates:
            normal["received_at"] = datetime.fromisoformat(self.case_dates[normal["_case"]])

    def _whole(self, value: Decimal | None, name: str, low: int, high: int, problem) -> int | None:
        if value is None:
            return None
        if value != value.to_integral_value() or not low <= value <= high:
            problem(
                "invalid_" + name,
                name,
                _("%(value)s is not a whole number from %(low)s to %(high)s")
                % {"value": value, "low": low, "high": high},
                value,
            )
            return None
        return int(value)

    def _decimal(self, value: Decimal | None, name: str, whole_digits: int, decimals: int, problem) -> str | None:
        if value is None:
            return None
        exponent = value.normalize().as_tuple().exponent
        if abs(value) >= Decimal(10) ** whole_digits or (isinstance(exponent, int) and -exponent > decimals):
            problem(
                "invalid_" + name,
                name,
                _("%(value)s does not fit (at most %(whole)s digits before and %(decimals)s after the decimal point)")
                % {"value": value, "whole": whole_digits, "decimals": decimals},
                value,
            )
            return None
        if name == "amount" and value <= 0:
            problem("invalid_amount", name, _("the amount must be more than zero"), value)
            return None
        return format(value.normalize(), "f")

    def _check_parent(self, normal: dict, parent: str, problem) -> None:
        """A child whose case or item is not imported is an orphan; a result's item must be of its case."""
        if parent == "cases":
            key = normal.get("_case")
            if key and key not in self.held["cases"]:
                reason = (
                    _("orphan: its case %(key)s was rejected (see the cases' rejections)")
                    if key in self.seen["cases"]
                    else _("orphan: there is no case %(key)s in the source")
                )
                problem("orphan", "_case", reason % {"key": key}, key)
            return
        item = normal.get("_item")
        if not item:
            return
        if item not in self.held["items"]:
            reason = (
                _("its item %(key)s was rejected (see the items' rejections)")
                if item in self.seen["items"]
                else _("there is no item %(key)s in the source")
            )
            problem("missing_item", "_item", reason % {"key": item}, item)
            return
        item_case = self.item_case.get(item)
        if normal.get("_case") is None:
            normal["_case"] = item_case
        elif normal["_case"] != item_case:
            problem(
                "item_of_other_case",
                "_case",
                _("its item %(item)s belongs to case %(other)s, not to case %(case)s")
                % {"item": item, "other": item_case, "case": normal["_case"]},
                normal["_case"],
            )

    def _check_lab_numbers_in_source(self) -> None:
        """Two legacy cases with one lab number: neither is imported (the importer cannot know which is right)."""
        by_number: dict[str, list[str]] = defaultdict(list)
        for key, held in self.held["cases"].items():
            by_number[json.loads(held.text)["lab_number"]].append(key)
        spec = self.mapping.entities["cases"]
        for number, keys in by_number.items():
            if len(keys) < 2:
                continue
            for key in keys:
                held = self.held["cases"].pop(key)
                reason = _("the lab number %(number)s is used by several cases of the source (keys %(keys)s)") % {
                    "number": number,
                    "keys": ", ".join(keys),
                }
                self._reject(
                    "cases",
                    held.rows,
                    key,
                    [_Problem("lab_number_duplicate", spec.fields["lab_number"].column, number, reason)],
                    held.year,
                )

    def _check_lab_numbers_in_use(self) -> None:
        """A lab number already used in Forensis by another case (made here, or from another source or key)."""
        numbers = {json.loads(held.text)["lab_number"]: key for key, held in self.held["cases"].items()}
        column = self.mapping.entities["cases"].fields["lab_number"].column
        taken = []
        for chunk in in_chunks(sorted(numbers)):
            rows = Case.objects.filter(lab_number__in=chunk).order_by()
            for number, source, legacy_id in rows.values_list("lab_number", "legacy_source", "legacy_id"):
                if (source, legacy_id) != (self.source_name, numbers[number]):
                    taken.append((number, source, legacy_id))
        for number, source, legacy_id in taken:
            key = numbers[number]
            reason = (
                _("the lab number %(number)s is already used in Forensis by case %(key)s of %(source)s")
                % {"number": number, "key": legacy_id, "source": source}
                if legacy_id
                else _("the lab number %(number)s is already used in Forensis by a case opened in Forensis")
                % {"number": number}
            )
            self._reject_key("cases", key, [_Problem("lab_number_in_use", column, number, reason)])

    def _check_one_location_per_item(self) -> None:
        by_item: dict[str, list[str]] = defaultdict(list)
        for key, held in self.held["locations"].items():
            by_item[json.loads(held.text)["_item"]].append(key)
        spec = self.mapping.entities["locations"]
        for item, keys in by_item.items():
            if len(keys) > 1:
                rows = sorted(row for key in keys for row in self.held["locations"][key].rows)
                reason = _(
                    "several last known locations for item %(item)s (rows %(rows)s); none is imported and the item's "
                    "location is 'unknown'"
                ) % {"item": item, "rows": ", ".join(map(str, rows))}
                for key in keys:
                    self._reject_key("locations", key, [_Problem("several_locations", spec.item or "", item, reason)])

    # --- rejections -------------------------------------------------------------------------------------------

    def _reject(self, entity: str, rows: list[int], key: str, problems: list[_Problem], year: int | None) -> None:
        stats = self.stats[entity]
        stats.rejected += len(rows)
        self.rejected_by_year[entity][year] += len(rows)
        table = self.tables.get(entity, entity)
        for number in rows:
            for found in problems:
                stats.reasons[found.code] += 1
                self.rejections.append(
                    Rejection(
                        entity=entity,
                        source_table=table,
                        row_number=number,
                        legacy_id=key[:64],
                        column=found.column[:255],
                        value=found.value or "",
                        code=found.code,
                        reason=found.reason,
                    )
                )

    def _reject_key(self, entity: str, key: str, problems: list[_Problem]) -> None:
        held = self.held[entity].pop(key, None)
        if held is not None:
            self._reject(entity, held.rows, key, problems, held.year)

    # --- phase 2: save --------------------------------------------------------------------------------------

    def save(self, after_chunk: AfterChunk | None = None) -> None:
        keys = list(self.held["cases"])
        done = 0
        for index, start in enumerate(range(0, len(keys), self.chunk_size)):
            chunk = keys[start : start + self.chunk_size]
            with transaction.atomic():
                self._save_chunk(chunk)
                if self.dry_run:
                    transaction.set_rollback(True)
            done += len(chunk)
            if self.progress:
                self.progress("saving", done, len(keys))
            if after_chunk:
                after_chunk(index, done)
        for entity in ENTITIES:
            stats = self.stats[entity]
            stats.collapsed = sum(len(self.held[entity][key].rows) - 1 for key in self.saved[entity])

    def _record(self, entity: str, key: str) -> dict[str, Any]:
        record = json.loads(self.held[entity][key].text)
        for name, kind in FIELDS[entity].items():
            value = record.get(name)
            if value is not None and kind == DATE:
                record[name] = datetime.fromisoformat(value)
            elif isinstance(value, str) and kind == NUMBER:
                record[name] = Decimal(value)
        return record

    def _plan(self, entity: str, keys: list[str]) -> tuple[list[str], dict[str, services.Known]]:
        """Which of ``keys`` are new or changed since their last import (the rest are unchanged)."""
        known = services.fingerprints(self.source_name, entity, keys)
        to_save = []
        for key in keys:
            legacy = known.get(key)
            if legacy is None or legacy.fingerprint != fingerprint(self.held[entity][key].text):
                to_save.append(key)
            else:
                self.stats[entity].unchanged += 1
                self.saved[entity].add(key)
        return to_save, known

    def _outcome(self, entity: str, outcome: MigrationOutcome, known: dict[str, services.Known]) -> None:
        """Count what a service did, reject what it refused, remember the fingerprints of what it saved."""
        stats = self.stats[entity]
        stats.created += len(outcome.created)
        stats.updated += len(outcome.updated)
        stats.unchanged += len(outcome.unchanged)
        for key, reason in outcome.refused.items():
            self._reject_key(entity, key, [_Problem("correction_refused", "", key, reason)])
        saved = outcome.saved
        self.saved[entity].update(saved)
        services.save_fingerprints(
            self.batch,
            entity,
            {key: (fingerprint(self.held[entity][key].text), saved[key]) for key in saved},
            known,
        )

    def _save_chunk(self, case_keys: list[str]) -> None:
        person_keys = [key for case in case_keys for key in self.children["people"].get(case, ())]
        item_keys = [key for case in case_keys for key in self.children["items"].get(case, ())]
        result_keys = [key for item in item_keys for key in self.children["results"].get(item, ())]
        location_keys = [key for item in item_keys for key in self.children["locations"].get(item, ())]

        cases_to_save, cases_known = self._plan("cases", case_keys)
        people_to_save, people_known = self._plan("people", person_keys)
        new_cases = [self._migrated_case(key) for key in cases_to_save]
        new_people = [self._migrated_person(key) for key in people_to_save]
        if new_cases or new_people:
            outcomes = migrate_cases(self.actor, self.batch, new_cases, new_people)
            self._outcome("cases", outcomes["cases"], cases_known)
            self._outcome("people", outcomes["people"], people_known)
        case_pks = self._pks(Case, case_keys)

        items_to_save, items_known = self._plan("items", item_keys)
        location_of = {json.loads(self.held["locations"][key].text)["_item"]: key for key in location_keys}
        locations_to_save, locations_known = self._plan("locations", location_keys)
        for key in locations_to_save:
            item = json.loads(self.held["locations"][key].text)["_item"]
            if item in items_known:  # the item was imported before: its ledger is never rewritten
                reason = _(
                    "the last known location differs from the one already in the custody ledger of item %(item)s; "
                    "custody events are never rewritten: record a move in Forensis instead"
                ) % {"item": item}
                self._reject_key("locations", key, [_Problem("ledger_not_rewritten", "", key, reason)])
        if items_to_save:
            outcome = migrate_items(
                self.actor,
                self.batch,
                [self._migrated_item(key, case_pks, location_of.get(key)) for key in items_to_save],
            )
            self._outcome("items", outcome, items_known)
            created_locations = {location_of[key]: pk for key, pk in outcome.created.items() if key in location_of}
            if created_locations:
                events = dict(
                    CustodyEvent.objects.filter(item_id__in=created_locations.values(), sequence=1).values_list(
                        "item_id", "pk"
                    )
                )
                location_outcome = MigrationOutcome(created={key: events[pk] for key, pk in created_locations.items()})
                self._outcome("locations", location_outcome, locations_known)
        item_pks = self._pks(Item, item_keys)

        results_to_save, results_known = self._plan("results", result_keys)
        if results_to_save:
            outcome = services.migrate_results(
                self.actor, self.batch, [self._migrated_result(key, case_pks, item_pks) for key in results_to_save]
            )
            self._outcome("results", outcome, results_known)

    def _pks(self, model, keys: list[str]) -> dict[str, int]:
        found = {}
        for chunk in in_chunks(keys):
            found.update(migrated(model.objects.all(), self.source_name, chunk).values_list("legacy_id", "pk"))
        return found

    def _migrated_case(self, key: str) -> MigratedCase:
        record = self._record("cases", key)
        return MigratedCase(
            legacy_id=key,
            lab_number=record["lab_number"],
            agency_id=self.agencies[record["agency"]],
            received_at=record["received_at"],
            agency_case_number=record["agency_case_number"],
            district=record["district"],
            offences=record["offences"],
            incident_at=record["incident_at"],
            town=record["town"],
            narrative=record["narrative"],
        )

    def _migrated_person(self, key: str) -> MigratedPerson:
        record = self._record("people", key)
        return MigratedPerson(
            legacy_id=key,
            case_legacy_id=record["_case"],
            role=record["role"],
            name=record["name"],
            sex=record["sex"],
            age=record["age"],
        )

    def _migrated_item(self, key: str, case_pks: dict[str, int], location_key: str | None) -> MigratedItem:
        record = self._record("items", key)
        location = self._record("locations", location_key) if location_key in self.held["locations"] else None
        return MigratedItem(
            legacy_id=key,
            case_id=case_pks[record["_case"]],
            type=record["type"],
            description=record["description"],
            received_at=record["received_at"],
            quantity=record["quantity"],
            seal_number=record["seal_number"],
            amount=record["amount"],
            amount_unit=record["amount_unit"],
            location=location["location"] if location else "",
            location_as_of=location["as_of"] if location else None,
        )

    def _migrated_result(self, key: str, case_pks: dict[str, int], item_pks: dict[str, int]) -> services.MigratedResult:
        record = self._record("results", key)
        return services.MigratedResult(
            legacy_id=key,
            case_id=case_pks[record["_case"]],
            item_id=item_pks[record["_item"]],
            discipline_id=self.disciplines[record["discipline"]],
            result=record["result"],
            value=record["value"],
            unit=record["unit"],
            reported_at=record["reported_at"],
            analyst=record["analyst"],
        )

    # --- reconciliation ---------------------------------------------------------------------------------

    def reconcile(self) -> list[dict[str, Any]]:
        """Per entity and year: rows in the source, records in Forensis, rows rejected, collapsed and skipped.

        "In Forensis" is counted in the database (after a dry run: what would be imported), each record under
        its own year there, so a record lost between validation and the database would show as unexplained.
        """
        imported = self._imported_by_year()
        collapsed = {entity: Counter() for entity in ENTITIES}
        for entity in ENTITIES:
            for key in self.saved[entity]:
                held = self.held[entity][key]
                collapsed[entity][held.year] += len(held.rows) - 1
        lines = []
        for entity in ENTITIES:
            if entity not in self.mapping.entities:
                continue
            years = set(self.rows_by_year[entity]) | set(imported[entity])
            for year in sorted(years, key=lambda y: (y is None, y or 0)):
                line = {
                    "entity": entity,
                    "year": UNKNOWN_YEAR if year is None else year,
                    "source_rows": self.rows_by_year[entity][year],
                    "imported": imported[entity][year],
                    "rejected": self.rejected_by_year[entity][year],
                    "collapsed": collapsed[entity][year],
                    "skipped": self.skipped_by_year[entity][year],
                }
                line["explained"] = line["source_rows"] == (
                    line["imported"] + line["rejected"] + line["collapsed"] + line["skipped"]
                )
                lines.append(line)
        return lines

    def _imported_by_year(self) -> dict[str, Counter]:
        counts = {entity: Counter() for entity in ENTITIES}
        if self.dry_run:
            for entity in ENTITIES:
                for key in self.saved[entity]:
                    counts[entity][self.held[entity][key].year] += 1
            return counts
        source = self.source_name
        queries = {
            "cases": migrated(Case.objects.all(), source).values_list("legacy_id", "received_at"),
            "people": migrated(Person.objects.all(), source).values_list("legacy_id", "case__received_at"),
            "items": migrated(Item.objects.all(), source).values_list("legacy_id", "received_at"),
            "results": migrated(LegacyResult.objects.all(), source).values_list("legacy_id", "reported_at"),
        }
        for entity, query in queries.items():
            wanted = self.saved[entity]
            for legacy_id, moment in query.iterator(chunk_size=5000):
                if legacy_id in wanted:
                    counts[entity][year_of(moment)] += 1
        events = dict(
            CustodyEvent.objects.filter(purpose=Purpose.MIGRATED, item__in=migrated(Item.objects.all(), source))
            .order_by()
            .values_list("pk", "item__received_at")
        )
        wanted = self.saved["locations"]
        for legacy_id, event_pk in LegacyRecord.objects.filter(legacy_source=source, entity="locations").values_list(
            "legacy_id", "object_pk"
        ):
            if legacy_id in wanted and event_pk in events:
                counts["locations"][year_of(events[event_pk])] += 1
        return counts

    # --- the summary ----------------------------------------------------------------------------------

    def counts(self, reconciliation: list[dict] | None = None) -> dict[str, Any]:
        entities = {entity: self.stats[entity].as_dict() for entity in ENTITIES if entity in self.mapping.entities}
        totals = Counter()
        for values in entities.values():
            totals.update({name: value for name, value in values.items() if name != "reasons"})
        return {
            "source": self.source_name,
            "dry_run": self.dry_run,
            "limit": self.limit,
            "entities": entities,
            "totals": dict(totals),
            "reconciliation": reconciliation or [],
        }
