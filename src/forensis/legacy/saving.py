"""Phase 2 of an import: save the accepted cases in chunks, each with all its people, items, results, locations.

Each chunk is one transaction (rolled back in a dry run), so a case never arrives in part and a killed import keeps
every chunk it finished. A record whose fingerprint (the SHA-256 of its text) equals the one of its last import is
left alone; the others are given to the app that owns them — ``cases.services.migrate_cases``,
``evidence.migration.migrate_items``, ``legacy.services.migrate_results`` — which create the new ones in bulk and
correct the changed ones (audited). The fingerprints of what they saved are remembered (``LegacyRecord``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from forensis.cases.models import Case, CaseOffence, Person
from forensis.cases.services import MigratedCase, MigratedPerson, migrate_cases
from forensis.core.bulk import refresh_statistics
from forensis.core.models import MigrationOutcome, in_chunks, migrated
from forensis.evidence.migration import MigratedItem, migrate_items
from forensis.evidence.models import CustodyEvent, Item

from . import services
from .mapping import DATE, FIELDS, NUMBER
from .models import LegacyRecord, LegacyResult
from .records import ENTITIES, AfterChunk, ImportState, Problem, fingerprint


def save(state: ImportState, after_chunk: AfterChunk | None = None) -> None:
    """Save the accepted cases ``state.chunk_size`` at a time; ``after_chunk(index, cases saved)`` after each."""
    keys = list(state.held["cases"])
    done = 0
    for index, start in enumerate(range(0, len(keys), state.chunk_size)):
        chunk = keys[start : start + state.chunk_size]
        with transaction.atomic():
            Chunk(state).save(chunk)
            if state.dry_run:
                transaction.set_rollback(True)
        done += len(chunk)
        if not state.dry_run and (index + 1) & index == 0:  # after chunks 1, 2, 4, 8…: the tables doubled
            refresh_statistics(Case, CaseOffence, Person, Item, CustodyEvent, LegacyResult, LegacyRecord)
        if state.progress:
            state.progress("saving", done, len(keys))
        if after_chunk:
            after_chunk(index, done)
    for entity in ENTITIES:
        held = state.held[entity]
        state.stats[entity].collapsed = sum(len(held[key].rows) - 1 for key in state.saved[entity])


class Chunk:
    """The saving of one chunk of cases with their children."""

    def __init__(self, state: ImportState):
        self.state, self.held = state, state.held
        self.fingerprints: dict[str, dict[str, str]] = {entity: {} for entity in ENTITIES}
        self.saved: dict[str, dict[str, int]] = {entity: {} for entity in ENTITIES}  # legacy ID → Forensis key

    def save(self, case_keys: list[str]) -> None:
        children = self.state.children
        person_keys = [key for case in case_keys for key in children["people"].get(case, ())]
        item_keys = [key for case in case_keys for key in children["items"].get(case, ())]
        result_keys = [key for item in item_keys for key in children["results"].get(item, ())]
        location_keys = [key for item in item_keys for key in children["locations"].get(item, ())]

        cases_to_save, cases_known = self._plan("cases", case_keys)
        people_to_save, people_known = self._plan("people", person_keys)
        new_cases = [self._migrated_case(key) for key in cases_to_save]
        new_people = [self._migrated_person(key) for key in people_to_save]
        if new_cases or new_people:
            outcomes = migrate_cases(self.state.actor, self.state.batch, new_cases, new_people)
            self._outcome("cases", outcomes["cases"], cases_known)
            self._outcome("people", outcomes["people"], people_known)
        case_pks = self._pks(Case, "cases", case_keys)

        items_to_save, items_known = self._plan("items", item_keys)
        location_of = {self.held["locations"][key].parent: key for key in location_keys}
        locations_to_save, locations_known = self._plan("locations", location_keys)
        for key in locations_to_save:
            item = self.held["locations"][key].parent
            if item in items_known:  # the item was imported before: its ledger is never rewritten
                reason = _(
                    "the last known location differs from the one already in the custody ledger of item %(item)s; "
                    "custody events are never rewritten: record a move in Forensis instead"
                ) % {"item": item}
                self.state.reject_key("locations", key, [Problem("ledger_not_rewritten", "", key, reason)])
        if items_to_save:
            outcome = migrate_items(
                self.state.actor,
                self.state.batch,
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
        item_pks = self._pks(Item, "items", item_keys)

        results_to_save, results_known = self._plan("results", result_keys)
        if results_to_save:
            outcome = services.migrate_results(
                self.state.actor,
                self.state.batch,
                [self._migrated_result(key, case_pks, item_pks) for key in results_to_save],
            )
            self._outcome("results", outcome, results_known)

    def _plan(self, entity: str, keys: list[str]) -> tuple[list[str], dict[str, services.Known]]:
        """Which of ``keys`` are new or changed since their last import (the rest are unchanged)."""
        known = services.fingerprints(self.state.source_name, entity, keys)
        held, fingerprints = self.held[entity], self.fingerprints[entity]
        stats, saved = self.state.stats[entity], self.state.saved[entity]
        to_save = []
        for key in keys:
            fingerprints[key] = value = fingerprint(self.held.text(held[key]))
            legacy = known.get(key)
            if legacy is None or legacy.fingerprint != value:
                to_save.append(key)
            else:
                stats.unchanged += 1
                saved.add(key)
        return to_save, known

    def _outcome(self, entity: str, outcome: MigrationOutcome, known: dict[str, services.Known]) -> None:
        """Count what a service did, reject what it refused, remember the fingerprints of what it saved."""
        stats = self.state.stats[entity]
        stats.created += len(outcome.created)
        stats.updated += len(outcome.updated)
        stats.unchanged += len(outcome.unchanged)
        for key, reason in outcome.refused.items():
            self.state.reject_key(entity, key, [Problem("correction_refused", "", key, reason)])
        saved = outcome.saved
        self.state.saved[entity].update(saved)
        self.saved[entity].update(saved)
        fingerprints = self.fingerprints[entity]
        services.save_fingerprints(
            self.state.batch, entity, {key: (fingerprints[key], pk) for key, pk in saved.items()}, known
        )

    def _pks(self, model, entity: str, keys: list[str]) -> dict[str, int]:
        """The Forensis keys of these legacy IDs: of those saved by this chunk, and of the others in Forensis."""
        saved = self.saved[entity]
        found = {key: saved[key] for key in keys if key in saved}
        for chunk in in_chunks([key for key in keys if key not in saved]):
            found.update(migrated(model.objects.all(), self.state.source_name, chunk).values_list("legacy_id", "pk"))
        return found

    def _record(self, entity: str, key: str) -> dict[str, Any]:
        """A held record with its dates and numbers as Python values again."""
        record = self.held.record(entity, key)
        for name, kind in FIELDS[entity].items():
            value = record.get(name)
            if value is not None and kind == DATE:
                record[name] = datetime.fromisoformat(value)
            elif isinstance(value, str) and kind == NUMBER:
                record[name] = Decimal(value)
        return record

    def _migrated_case(self, key: str) -> MigratedCase:
        record = self._record("cases", key)
        return MigratedCase(
            legacy_id=key,
            lab_number=record["lab_number"],
            agency_id=self.state.agencies[record["agency"]],
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
            discipline_id=self.state.disciplines[record["discipline"]],
            result=record["result"],
            value=record["value"],
            unit=record["unit"],
            reported_at=record["reported_at"],
            analyst=record["analyst"],
        )
