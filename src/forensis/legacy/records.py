"""What one import holds and counts as it goes, and the vocabulary its phases share.

``ImportState`` is passed from phase to phase (``reading`` → ``saving`` → ``reconciliation``): the run's options,
the accepted records (``HeldRecords``), the counts per entity, the rejections, and the keys saved.

An accepted record is kept as its canonical JSON text (sorted keys, no spaces): the text its fingerprint is the
SHA-256 of, and what phase 2 turns into a Forensis record. The texts are written to a temporary file as they are
accepted, so that memory holds, per record, only its key, where its text is, its source row(s), its year and its
parent's key — a few hundred bytes, whatever the length of a narrative.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from django.utils import timezone

from forensis.accounts.models import Agency, User
from forensis.lab.models import Discipline

from .mapping import Mapping
from .models import Entity, ImportBatch, Rejection

ENTITIES = [entity.value for entity in Entity]
#: Whose key a child names: people and items name a case; results and locations an item (and its case).
PARENT = {"people": "cases", "items": "cases", "results": "items", "locations": "items"}
#: Years that no date could be found for are reported as this.
UNKNOWN_YEAR = "unknown"

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


@dataclass(frozen=True)
class Problem:
    """Why a row is rejected: a stable ``code``, the source column and its text, and a sentence."""

    code: str
    column: str
    value: str
    reason: str


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


#: What ``json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` uses, built once.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_iso)


def canonical(record: dict[str, Any]) -> str:
    """The record as the text it is fingerprinted by (moments as ISO text, as ``datetime.isoformat`` writes them)."""
    return _CANONICAL.encode(record)


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def as_datetime(value: date | datetime | None) -> datetime | None:
    """A date read from the source as an aware moment: a date alone is midnight in the laboratory's zone."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.min, tzinfo=timezone.get_default_timezone())
    return value.astimezone(UTC)


def year_of(moment: str | datetime | None) -> int | None:
    """The year of a moment in the laboratory's time zone (ISO text, as in a record, or a datetime)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(timezone.get_default_timezone()).year


class Held:
    """An accepted record: where its text is, the source rows that gave it, its year and its parent's key."""

    __slots__ = ("first_row", "more_rows", "parent", "position", "year")

    def __init__(self, position: int, row: int, year: int | None, parent: str | None):
        self.position, self.first_row, self.more_rows, self.year, self.parent = position, row, None, year, parent

    @property
    def rows(self) -> list[int]:
        return [self.first_row, *self.more_rows] if self.more_rows else [self.first_row]

    def add_row(self, row: int) -> None:
        self.more_rows = [*(self.more_rows or ()), row]


#: One int object per year: the same few years are held for every record.
_YEARS: dict[int, int] = {}


class HeldRecords:
    """The accepted records of each entity by key, their texts in a temporary file (closed by ``close``)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close(), at the end of the import
        self._written = self._flushed = 0
        self._entities: dict[str, dict[str, Held]] = {entity: {} for entity in ENTITIES}

    def __getitem__(self, entity: str) -> dict[str, Held]:
        return self._entities[entity]

    def add(self, entity: str, key: str, text: str, row: int, year: int | None, parent: str | None) -> Held:
        data = text.encode()
        self._file.write(data)
        position = self._written << 32 | len(data)
        self._written += len(data)
        held = Held(position, row, year if year is None else _YEARS.setdefault(year, year), parent)
        self._entities[entity][key] = held
        return held

    def text(self, held: Held) -> str:
        offset, size = held.position >> 32, held.position & 0xFFFFFFFF
        if offset + size > self._flushed:
            self._file.flush()
            self._flushed = self._written
        return os.pread(self._file.fileno(), size, offset).decode()

    def record(self, entity: str, key: str) -> dict[str, Any]:
        return json.loads(self.text(self._entities[entity][key]))

    def close(self) -> None:
        self._file.close()


@dataclass
class ImportState:
    """One import as it goes, passed from phase to phase: its options, what it holds, what it counted and rejected."""

    mapping: Mapping
    batch: ImportBatch
    actor: User
    dry_run: bool = False
    limit: int | None = None
    chunk_size: int = 500
    progress: Progress | None = None
    now: datetime = field(default_factory=timezone.now)
    held: HeldRecords = field(default_factory=HeldRecords)
    #: Entity → parent key → the keys of its accepted children, in source order (filled as each entity is read).
    children: dict[str, dict[str, list[str]]] = field(default_factory=lambda: {e: defaultdict(list) for e in ENTITIES})
    stats: dict[str, EntityCounts] = field(default_factory=lambda: {entity: EntityCounts() for entity in ENTITIES})
    tables: dict[str, str] = field(default_factory=dict)  # entity → where it is read from, in words
    rejections: list[Rejection] = field(default_factory=list)
    #: Every key rejected (an orphan's reason says whether its parent was rejected or is missing from the source).
    rejected_keys: dict[str, set[str]] = field(default_factory=lambda: {entity: set() for entity in ENTITIES})
    # Reconciliation: source rows, rejected, skipped per entity and year; what was saved, per entity.
    rows_by_year: dict[str, Counter] = field(default_factory=lambda: {entity: Counter() for entity in ENTITIES})
    rejected_by_year: dict[str, Counter] = field(default_factory=lambda: {entity: Counter() for entity in ENTITIES})
    skipped_by_year: dict[str, Counter] = field(default_factory=lambda: {entity: Counter() for entity in ENTITIES})
    saved: dict[str, set[str]] = field(default_factory=lambda: {entity: set() for entity in ENTITIES})

    def __post_init__(self) -> None:
        self.chunk_size = max(self.chunk_size, 1)
        self.agencies = dict(Agency.objects.values_list("code", "pk"))
        self.disciplines = dict(Discipline.objects.values_list("code", "pk"))

    @property
    def source_name(self) -> str:
        return self.mapping.source.name

    def reject(self, entity: str, rows: list[int], key: str, problems: list[Problem], year: int | None) -> None:
        stats = self.stats[entity]
        stats.rejected += len(rows)
        self.rejected_by_year[entity][year] += len(rows)
        if key:
            self.rejected_keys[entity].add(key)
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

    def reject_key(self, entity: str, key: str, problems: list[Problem]) -> None:
        """Reject an accepted record (all of its rows) after all."""
        held = self.held[entity].pop(key, None)
        if held is not None:
            self.reject(entity, held.rows, key, problems, held.year)

    def counts(self, reconciliation: list[dict] | None = None) -> dict[str, Any]:
        """The summary kept in the batch and printed at the end."""
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
