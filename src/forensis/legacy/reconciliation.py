"""The control of an import (ISO/IEC 17025 7.11): per entity and year, the rows in the source beside the records
found in the Forensis database, with the rows rejected, collapsed and skipped. A line balances when
``source rows = imported + rejected + collapsed + skipped``."""

from __future__ import annotations

from collections import Counter
from typing import Any

from forensis.cases.models import Case, Person
from forensis.core.models import migrated
from forensis.evidence.models import CustodyEvent, Item, Purpose

from .models import LegacyRecord, LegacyResult
from .records import ENTITIES, UNKNOWN_YEAR, ImportState, year_of


def reconcile(state: ImportState) -> list[dict[str, Any]]:
    """Per entity and year: rows in the source, records in Forensis, rows rejected, collapsed and skipped.

    "In Forensis" is counted in the database (after a dry run: what would be imported), each record under its own
    year there, so a record lost between validation and the database would show as unexplained.
    """
    imported = _imported_by_year(state)
    collapsed = {entity: Counter() for entity in ENTITIES}
    for entity in ENTITIES:
        held = state.held[entity]
        for key in state.saved[entity]:
            found = held[key]
            collapsed[entity][found.year] += len(found.rows) - 1
    lines = []
    for entity in ENTITIES:
        if entity not in state.mapping.entities:
            continue
        years = set(state.rows_by_year[entity]) | set(imported[entity])
        for year in sorted(years, key=lambda y: (y is None, y or 0)):
            line = {
                "entity": entity,
                "year": UNKNOWN_YEAR if year is None else year,
                "source_rows": state.rows_by_year[entity][year],
                "imported": imported[entity][year],
                "rejected": state.rejected_by_year[entity][year],
                "collapsed": collapsed[entity][year],
                "skipped": state.skipped_by_year[entity][year],
            }
            line["explained"] = line["source_rows"] == (
                line["imported"] + line["rejected"] + line["collapsed"] + line["skipped"]
            )
            lines.append(line)
    return lines


def _imported_by_year(state: ImportState) -> dict[str, Counter]:
    counts = {entity: Counter() for entity in ENTITIES}
    if state.dry_run:
        for entity in ENTITIES:
            held = state.held[entity]
            for key in state.saved[entity]:
                counts[entity][held[key].year] += 1
        return counts
    source = state.source_name
    queries = {
        "cases": migrated(Case.objects.all(), source).values_list("legacy_id", "received_at"),
        "people": migrated(Person.objects.all(), source).values_list("legacy_id", "case__received_at"),
        "items": migrated(Item.objects.all(), source).values_list("legacy_id", "received_at"),
        "results": migrated(LegacyResult.objects.all(), source).values_list("legacy_id", "reported_at"),
    }
    for entity, query in queries.items():
        wanted = state.saved[entity]
        for legacy_id, moment in query.iterator(chunk_size=5000):
            if legacy_id in wanted:
                counts[entity][year_of(moment)] += 1
    events = dict(
        CustodyEvent.objects.filter(purpose=Purpose.MIGRATED, item__in=migrated(Item.objects.all(), source))
        .order_by()
        .values_list("pk", "item__received_at")
    )
    wanted = state.saved["locations"]
    for legacy_id, event_pk in LegacyRecord.objects.filter(legacy_source=source, entity="locations").values_list(
        "legacy_id", "object_pk"
    ):
        if legacy_id in wanted and event_pk in events:
            counts["locations"][year_of(events[event_pk])] += 1
    return counts
