"""The evidence documents: custody report, outsourcing manifest and destruction list, read back with pypdf."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone, translation
from pypdf import PdfReader

from forensis.accounts.roles import Role
from forensis.core import append_only
from forensis.core.pdf import local_time
from forensis.evidence import disposition, outsourcing
from forensis.evidence import services as evidence_services
from forensis.evidence.documents import HASH_PREFIX, render_custody_report, render_destruction_list, render_manifest
from forensis.evidence.models import CustodyEvent, Item, Purpose
from forensis.intake import services as intake
from forensis.intake.services import ItemCheck, ItemData
from forensis.lab.models import Discipline


def receive_case(officer, custodian, agency_case_number: str, offences: list[str], items: list[dict]) -> list[Item]:
    """A case received at the laboratory through the intake services; its items held by ``custodian``."""
    serology = Discipline.objects.get(code="serology")
    submission = intake.create_submission(officer)
    intake.update_submission(
        officer,
        submission,
        fields={
            "agency_case_number": agency_case_number,
            "offence_codes": offences,
            "incident_at": timezone.now() - timedelta(days=1),
            "district": "BZ",
        },
        people=[],
        items=[ItemData(fields, [serology]) for fields in items],
    )
    intake.submit_submission(officer, submission)
    case = intake.receive_submission(
        custodian,
        submission,
        handed_over_by=officer,
        checks={listed.pk: ItemCheck(condition="Sealed bag, dry") for listed in submission.items.all()},
    )
    return list(Item.objects.filter(case=case).select_related("case").order_by("number"))


def pdf_text(data: bytes) -> str:
    """The text of every page, whitespace collapsed (table cells wrap words onto new lines)."""
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


@pytest.fixture
def officer_named(officer):
    officer.first_name, officer.last_name = "Oscar", "Ortiz"
    officer.save()
    return officer


@pytest.fixture
def custodian(make_user):
    return make_user(Role.EVIDENCE_CUSTODIAN, username="custodian", first_name="Carla", last_name="Castillo")


@pytest.fixture
def analyst(make_user):
    return make_user(Role.ANALYST, username="analyst", first_name="José", last_name="Peña")


@pytest.fixture
def witness(make_user):
    return make_user(Role.ANALYST, username="witness", first_name="Wendy", last_name="Witness")


@pytest.fixture
def drugs(officer_named, custodian, analyst):
    """Two packages of seized drugs, weighed; the first went to the analyst and came back (three events)."""
    items = receive_case(
        officer_named,
        custodian,
        "BZ-DR-2026-0042",
        ["06012"],
        [
            {"type": "seized_drugs", "description": "Plastic bag, white powder", "seal_number": "SEAL-1001"},
            {"type": "seized_drugs", "description": "Ten small packets", "seal_number": "SEAL-1002"},
        ],
    )
    evidence_services.record_amount(custodian, items[0], Decimal("12.5000"), "g")
    evidence_services.record_amount(custodian, items[1], Decimal("3.0000"), "g")
    evidence_services.consume(custodian, items[1], Decimal("0.2500"), "g", reason="Colour test")
    evidence_services.hand_over(
        custodian,
        items[:1],
        analyst,
        purpose=Purpose.ANALYSIS,
        confirmed_in_person=True,
        note="GC-MS of the powder",
        witness_name="Walter Wong",
    )
    evidence_services.hand_over(
        analyst,
        items[:1],
        custodian,
        purpose=Purpose.STORAGE,
        confirmed_in_person=True,
        seal_number="SEAL-2002",
        condition="Re-sealed after sampling",
    )
    return [Item.objects.select_related("case").get(pk=item.pk) for item in items]


# --- custody report -------------------------------------------------------------------------------


def test_custody_report_of_one_item_has_every_astm_e1492_field(drugs, custodian, analyst):
    item = drugs[0]
    events = list(CustodyEvent.objects.filter(item=item).order_by("sequence"))
    data = render_custody_report([item])

    reader = PdfReader(io.BytesIO(data))
    text = pdf_text(data)
    assert "Chain of custody report" in text
    assert item.case.lab_number in text and item.label in text  # case number, item number
    assert "Plastic bag, white powder" in text  # description
    for event in events:
        assert local_time(event.occurred_at) in text  # date and time
        assert event.hash[:HASH_PREFIX] in text
    assert "Oscar Ortiz (confirmed)" in text  # who released it at the counter
    assert "Carla Castillo (confirmed)" in text and "José Peña (confirmed)" in text  # who received it
    assert "Evidence reception" in text  # location
    assert "Receipt at the laboratory" in text and "Analysis" in text  # purpose
    assert "SEAL-1001" in text and "Seal intact" in text and "SEAL-2002" in text  # seals
    assert "Sealed bag, dry" in text and "Re-sealed after sampling" in text and "GC-MS of the powder" in text
    assert "Walter Wong" in text  # witness
    assert "Chain verified" in text and "the 3 custody events of the 1 item(s)" in text
    assert f"Page 1 of {len(reader.pages)}" in text
    assert "Ten small packets" not in text


def test_custody_report_of_a_case_lists_every_item(drugs):
    case = drugs[0].case
    data = render_custody_report(list(case.items.order_by("number")), title_case=case)

    text = pdf_text(data)
    assert case.lab_number in text and case.agency_case_number in text
    for item in drugs:
        assert f"Item {item.label}" in text and item.description in text
    assert "the 4 custody events of the 2 item(s)" in text


def test_custody_report_states_a_broken_chain(drugs):
    table = "evidence_custodyevent"
    append_only.remove(connection, table)
    try:
        event = CustodyEvent.objects.filter(item=drugs[0]).order_by("sequence")[1]
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET witness_name = %s WHERE id = %s", ["Nobody", event.pk])
        text = pdf_text(render_custody_report(drugs))
    finally:
        append_only.install(connection, table)
    assert "CHAIN VERIFICATION FAILED" in text
    assert f"{drugs[0].label}: event 2 was changed after it was written" in text
    assert "2 (!)" in text  # the event's row is marked
    assert "Chain verified" not in text


def test_custody_report_needs_an_item_or_a_case():
    with pytest.raises(ValueError, match="at least one item"):
        render_custody_report([])


def test_custody_report_renders_in_spanish(drugs):
    with translation.override("es"):
        data = render_custody_report(drugs[:1])
    assert drugs[0].label in pdf_text(data)


# --- outsourcing manifest -------------------------------------------------------------------------


def test_manifest_lists_items_with_case_seal_and_signature_lines(drugs, custodian):
    shipment = outsourcing.prepare_shipment(custodian, drugs, laboratory="Bode Cellmark Forensics", rush=True)
    shipment = outsourcing.ship(custodian, shipment, tracking_number="1Z999AA10123456784")

    text = pdf_text(render_manifest(shipment))
    assert "Outsourcing manifest" in text and shipment.reference in text
    assert "Bode Cellmark Forensics" in text
    assert "Yes — rush analysis (paid)" in text and "RUSH" in text
    assert "1Z999AA10123456784" in text
    for item in drugs:
        assert item.case.lab_number in text and item.label in text and item.description in text
    assert "SEAL-2002" in text  # the first item's seal as it leaves: re-sealed after sampling
    assert "SEAL-1002" in text
    assert "Released by (custodian)" in text and "Received by (courier)" in text
    assert "Signature" in text and "Page 1 of 1" in text


def test_manifest_without_rush(drugs, custodian):
    shipment = outsourcing.prepare_shipment(custodian, drugs[1:], laboratory="Lab abroad")
    text = pdf_text(render_manifest(shipment))
    assert "Rush No" in text and "RUSH" not in text


# --- destruction list -----------------------------------------------------------------------------


def test_destruction_list_has_items_amounts_and_both_signatories(drugs, custodian, witness):
    destruction = disposition.destroy_items(custodian, drugs, witness, method="Incineration")

    text = pdf_text(render_destruction_list(destruction))
    assert "Destruction record" in text and destruction.reference in text
    assert "Incineration" in text
    assert local_time(destruction.performed_at) in text
    for item in drugs:
        assert item.case.lab_number in text and item.label in text and item.description in text
    assert "12.5 g" in text  # nothing consumed from the first package
    assert "2.75 g" in text and "3 g" in text  # the second: 3 g received, 0.25 g used in a colour test
    assert "Total destroyed: 15.25 g" in text
    assert "Carla Castillo" in text and "Wendy Witness" in text
    assert "Destroyed by" in text and "Witness" in text and "Signature" in text
    assert "Page 1 of 1" in text
