"""Phase 1 of an import: read every entity of the source, validate each row, keep what is accepted.

Each table is read in turn — cases, people, items, results, locations — and each row turned into a record by the
mapping (``transforms.read_record``) and checked against Forensis (``validation.Validator``). A row with a problem
is rejected with its reasons; identical rows of one key collapse into one record, rows of one key that differ are
all rejected (conflicting duplicates). Then the lab numbers of the cases are checked (used twice in the source, or
already used in Forensis by another case) and each item may have one location row at most. With ``--limit N`` the
rows of the cases after the first N, and of their children, are skipped.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

from django.utils.translation import gettext as _

from forensis.cases.models import Case
from forensis.core.models import in_chunks

from .mapping import EntitySpec
from .records import ENTITIES, PARENT, ImportState, Problem, as_datetime, canonical, year_of
from .sources import Source
from .transforms import RowProblem, read_record
from .validation import Validator


def read(state: ImportState, source: Source) -> None:
    """Read, validate and hold every entity the mapping names, in order."""
    reader = Reader(state)
    for entity in ENTITIES:
        spec = state.mapping.entities.get(entity)
        if spec is not None:
            state.tables[entity] = source.describe(spec)
            reader.read_entity(source, spec)


class Reader:
    """What reading needs to remember beyond what it holds: the cases' dates (children take their year, and items
    their date of receipt, from their case) and what ``--limit`` skips."""

    def __init__(self, state: ImportState):
        self.state = state
        self.case_dates: dict[str, datetime] = {}  # every case whose date could be read, accepted or not
        self.validator = Validator(state, self.case_dates)
        self.limited_cases: set[str] = set()  # with --limit: the first N case keys
        self.skipped: dict[str, set[str]] = {entity: set() for entity in ENTITIES}

    def read_entity(self, source: Source, spec: EntitySpec) -> None:
        state, entity = self.state, spec.name
        stats, held, store = state.stats[entity], state.held[entity], state.held
        rows_by_year, progress = state.rows_by_year[entity], state.progress
        parent_field = {"cases": "_case", "items": "_item"}.get(PARENT.get(entity, ""))
        conflicts: dict[str, set[str]] = {}
        lab_numbers = LabNumbers()  # of the cases held
        total = source.count(spec) if progress else None
        for row in source.rows(spec):
            stats.read += 1
            if progress and (stats.read % 500 == 0 or stats.read == total):
                progress(entity, stats.read, total)
            record, row_problems = read_record(spec, row, state.mapping.maps, now=state.now)
            key = record.get("_key")
            year = self._row_year(entity, record)
            rows_by_year[year] += 1
            if self._beyond_limit(entity, record):
                stats.skipped += 1
                state.skipped_by_year[entity][year] += 1
                if key:
                    self.skipped[entity].add(key)
                continue
            problems = [_from_row_problem(spec, problem) for problem in row_problems]
            normal = self.validator.normalise(spec, record, row.values, problems)
            if problems:
                state.reject(entity, [row.number], key or "", problems, year)
                continue
            text = canonical(normal)
            found = held.get(key)
            if found is None:
                store.add(entity, key, text, row.number, year, normal[parent_field] if parent_field else None)
                if entity == "cases":
                    lab_numbers.add(normal["lab_number"], key)
            else:
                found.add_row(row.number)
                first = store.text(found)
                if first != text:
                    first_record = json.loads(first)
                    normal = json.loads(text)
                    conflicts.setdefault(key, set()).update(
                        name for name in normal if first_record.get(name) != normal[name]
                    )
        if progress and total is None:
            progress(entity, stats.read, stats.read)
        for key, differing in conflicts.items():
            found = held.pop(key)
            reason = _(
                "conflicting duplicate of key %(key)s: rows %(rows)s have the same key but different %(fields)s; "
                "none of them is imported"
            ) % {
                "key": key,
                "rows": ", ".join(str(number) for number in found.rows),
                "fields": ", ".join(sorted(differing)),
            }
            state.reject(entity, found.rows, key, [Problem("conflicting_duplicate", spec.key, key, reason)], found.year)
        if entity == "cases":
            self._check_lab_numbers_in_source(lab_numbers)
            self._check_lab_numbers_in_use(lab_numbers)
        if entity == "locations":
            self._check_one_location_per_item()
        if entity in PARENT:
            children = state.children[entity]
            for key, found in held.items():
                children[found.parent].append(key)

    def _beyond_limit(self, entity: str, record: dict) -> bool:
        """With ``--limit N``: rows of the cases after the N first (and their children) are skipped, not read."""
        limit = self.state.limit
        if limit is None:
            return False
        if entity == "cases":
            key = record.get("_key")
            if key and key not in self.limited_cases:
                if len(self.limited_cases) >= limit:
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
        item = self.state.held["items"].get(record.get("_item") or "")
        return item.year if item else None

    def _check_lab_numbers_in_source(self, lab_numbers: LabNumbers) -> None:
        """Two legacy cases with one lab number: neither is imported (the importer cannot know which is right)."""
        state, held = self.state, self.state.held["cases"]
        column = state.mapping.entities["cases"].fields["lab_number"].column
        for number, keys in lab_numbers.shared(held):
            for key in keys:
                case = held.pop(key)
                reason = _("the lab number %(number)s is used by several cases of the source (keys %(keys)s)") % {
                    "number": number,
                    "keys": ", ".join(keys),
                }
                state.reject(
                    "cases", case.rows, key, [Problem("lab_number_duplicate", column, number, reason)], case.year
                )

    def _check_lab_numbers_in_use(self, lab_numbers: LabNumbers) -> None:
        """A lab number already used in Forensis by another case (made here, or from another source or key)."""
        state, held = self.state, self.state.held["cases"]
        column = state.mapping.entities["cases"].fields["lab_number"].column
        taken = []
        for chunk in in_chunks(sorted(number for number in lab_numbers if lab_numbers.held_key(number, held))):
            rows = Case.objects.filter(lab_number__in=chunk).order_by()
            for number, source, legacy_id in rows.values_list("lab_number", "legacy_source", "legacy_id"):
                if (source, legacy_id) != (state.source_name, lab_numbers.held_key(number, held)):
                    taken.append((number, source, legacy_id))
        for number, source, legacy_id in taken:
            reason = (
                _("the lab number %(number)s is already used in Forensis by case %(key)s of %(source)s")
                % {"number": number, "key": legacy_id, "source": source}
                if legacy_id
                else _("the lab number %(number)s is already used in Forensis by a case opened in Forensis")
                % {"number": number}
            )
            key = lab_numbers.held_key(number, held) or ""
            state.reject_key("cases", key, [Problem("lab_number_in_use", column, number, reason)])

    def _check_one_location_per_item(self) -> None:
        state, held = self.state, self.state.held["locations"]
        by_item: dict[str, list[str]] = defaultdict(list)
        for key, found in held.items():
            by_item[found.parent].append(key)
        spec = state.mapping.entities["locations"]
        for item, keys in by_item.items():
            if len(keys) > 1:
                rows = sorted(row for key in keys for row in held[key].rows)
                reason = _(
                    "several last known locations for item %(item)s (rows %(rows)s); none is imported and the item's "
                    "location is 'unknown'"
                ) % {"item": item, "rows": ", ".join(map(str, rows))}
                for key in keys:
                    state.reject_key("locations", key, [Problem("several_locations", spec.item or "", item, reason)])


class LabNumbers:
    """The lab number of each case held, in the order read: number → first key, and the other keys of a number
    used by several (rare: kept apart, so that a million cases cost one dict entry each)."""

    def __init__(self) -> None:
        self._first: dict[str, str] = {}
        self._more: dict[str, list[str]] = {}

    def add(self, number: str, key: str) -> None:
        first = self._first.setdefault(number, key)
        if first != key:
            self._more.setdefault(number, []).append(key)

    def __iter__(self):
        return iter(self._first)

    def _keys(self, number: str) -> list[str]:
        return [self._first[number], *self._more.get(number, ())]

    def shared(self, held: dict) -> list[tuple[str, list[str]]]:
        """Each number held by several cases, with their keys (in the order read)."""
        found = []
        for number in self._first:
            if number in self._more:
                keys = [key for key in self._keys(number) if key in held]  # a conflicting duplicate is rejected
                if len(keys) > 1:
                    found.append((number, keys))
        return found

    def held_key(self, number: str, held: dict) -> str | None:
        """The key of the case still held under ``number`` (one at most, once ``shared`` ones are rejected)."""
        if number not in self._more:
            key = self._first[number]
            return key if key in held else None
        return next((key for key in self._keys(number) if key in held), None)


def _from_row_problem(spec: EntitySpec, problem: RowProblem) -> Problem:
    if problem.column and problem.column == spec.key:
        code = "missing_key"
    elif problem.column and problem.column in (spec.case, spec.item):
        code = "missing_parent_key"
    elif not problem.column:
        code = "row"
    else:
        names = [
            name for name, field_spec in spec.fields.items() if problem.column in (field_spec.column, field_spec.unit)
        ]
        code = f"invalid_{names[0]}" if names else "invalid"
    return Problem(code, problem.column, problem.value, problem.reason)
