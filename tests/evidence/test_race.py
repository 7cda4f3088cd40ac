"""Concurrent moves of one item on PostgreSQL, with real connections: exactly one wins, the others are told
why, and the ledger stays whole (no event lost, duplicated or half-written).

These tests commit (``transaction=True``) so that the threads' connections see each other's work. After
such a test pytest-django empties every table with one ``TRUNCATE``, which the append-only triggers of the
custody ledger and the audit log refuse. ``flushable_ledgers`` therefore drops those triggers when the test
is over, just before the flush, and the module-scoped ``triggers_back_after_the_flush`` puts them back once
the flush has run (module teardown comes after the last test's flush), so the rest of the session keeps
its append-only tables. Each test also reinstalls them at its start, so none runs unprotected.
``serialized_rollback`` gives each test the data the migrations seeded (disciplines, roles) even when
another committing test emptied the tables before it.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from forensis.accounts.roles import Role
from forensis.evidence import services as evidence_services
from forensis.evidence.models import CustodyEvent, Item, LocationKind, Purpose
from forensis.evidence.services import gap_check, hand_over, move_items, verify_ledger
from forensis.intake import services as intake
from forensis.intake.services import ItemCheck, ItemData
from forensis.lab.models import Discipline
from tests.conftest import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's concurrent connections"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

THREADS = 20


@pytest.fixture(autouse=True)
def _committing(committed_ledgers):
    """Every test here commits from several threads."""


def received_item(officer, custodian) -> Item:
    """One item received through the intake services: its ledger holds the receipt, the custodian holds it."""
    submission = intake.create_submission(officer)
    intake.update_submission(
        officer,
        submission,
        fields={
            "agency_case_number": "BZ-CR-2026-0777",
            "offence_codes": ["0201"],
            "incident_at": timezone.now() - timedelta(days=1),
            "district": "BZ",
        },
        people=[],
        items=[ItemData({"type": "clothing", "description": "Grey hoodie"}, [Discipline.objects.get(code="serology")])],
    )
    intake.submit_submission(officer, submission)
    case = intake.receive_submission(
        custodian, submission, handed_over_by=officer, checks={i.pk: ItemCheck() for i in submission.items.all()}
    )
    return Item.objects.get(case=case)


def assert_ledger_whole(item: Item, events: int) -> None:
    ledger = list(CustodyEvent.objects.filter(item=item).order_by("sequence"))
    assert [e.sequence for e in ledger] == list(range(1, events + 1))
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(ledger, ledger[1:], strict=False))
    assert verify_ledger().intact
    assert gap_check() == []
    item.refresh_from_db()
    assert (item.custody_sequence, item.holder_id) == (events, ledger[-1].received_by_id)


def test_twenty_simultaneous_hand_overs_of_one_item(officer, make_user):
    custodian = make_user(Role.EVIDENCE_CUSTODIAN, username="custodian")
    analysts = [make_user(Role.ANALYST, username=f"analyst{n}") for n in range(THREADS)]
    item = received_item(officer, custodian)
    seen = item.custody_sequence
    assert seen == 1

    def attempt(analyst):
        return lambda: hand_over(
            custodian,
            [item],
            analyst,
            purpose=Purpose.ANALYSIS,
            confirmed_in_person=True,
            expected_sequences={item.pk: seen},
        )

    results, errors = race([attempt(analyst) for analyst in analysts])

    assert len(results) == 1, errors
    assert len(errors) == THREADS - 1
    assert all(isinstance(error, ValidationError) for error in errors), errors
    winner = results[0][0].received_by
    # Each loser is told why: the item is no longer the custodian's, and who has it now.
    pattern = re.compile(
        rf"{re.escape(item.label)} (was moved by {winner.username} at .* after you scanned it"
        rf"|is held by {winner.username}: they must hand it over)"
    )
    assert all(pattern.search(" ".join(error.messages)) for error in errors), [e.messages for e in errors]
    assert_ledger_whole(item, events=2)


def test_twenty_custodians_moving_one_item_at_once(officer, make_user):
    custodians = [make_user(Role.EVIDENCE_CUSTODIAN, username=f"custodian{n}") for n in range(THREADS)]
    store = evidence_services.save_location(custodians[0], None, name="Store", kind=LocationKind.ROOM)
    shelves = [
        evidence_services.save_location(custodians[0], None, name=f"Shelf {n}", kind=LocationKind.SHELF, parent=store)
        for n in range(THREADS)
    ]
    item = received_item(officer, custodians[0])
    move_items(custodians[0], [item], store)  # in the store, so that every custodian may move it
    seen = Item.objects.get(pk=item.pk).custody_sequence
    assert seen == 2

    def attempt(custodian, shelf):
        return lambda: move_items(custodian, [item], shelf, expected_sequences={item.pk: seen})

    results, errors = race([attempt(c, s) for c, s in zip(custodians, shelves, strict=True)])

    assert len(results) == 1, errors
    assert len(errors) == THREADS - 1
    assert all(isinstance(error, ValidationError) for error in errors), errors
    winner = results[0][0].received_by
    assert all(
        re.search(rf"{re.escape(item.label)} was moved by {winner.username} at .* after you scanned it", m)
        for error in errors
        for m in error.messages
    ), [e.messages for e in errors]
    assert_ledger_whole(item, events=3)
