"""The submission form and the receipt: rendered from data made through the intake services, read back."""

from __future__ import annotations

import io
from datetime import timedelta

import pypdfium2 as pdfium
import pytest
import zxingcpp
from django.utils import timezone, translation
from pypdf import PdfReader

from forensis.accounts.roles import Role
from forensis.cases.models import PersonRole
from forensis.core import pdf
from forensis.core.vocabulary import District, Sex
from forensis.evidence.models import ItemType, SealStatus
from forensis.intake import services
from forensis.intake.documents import render_receipt, render_submission_form
from forensis.intake.models import Presence, SubmissionStatus
from forensis.intake.services import ItemCheck, ItemData
from forensis.lab.models import Discipline

NARRATIVE = "Victim found at the roadside.\nTwo shots heard around 02:00 by neighbours."
BROKEN_NOTE = "Seal torn on the left side; bag re-sealed by the custodian."
MISSING_NOTE = "Cartridge case not in the box."


@pytest.fixture
def custodian(make_user):
    return make_user(Role.EVIDENCE_CUSTODIAN, first_name="Carla", last_name="Castillo")


@pytest.fixture
def submitted(officer):
    """A homicide submission with two people and three items, submitted by the officer."""
    officer.first_name, officer.last_name = "Oscar", "Ortiz"
    officer.save()
    serology = Discipline.objects.get(code="serology")
    firearms = Discipline.objects.get(code="firearms")
    ibis = Discipline.objects.get(code="ibis")
    submission = services.create_submission(officer)
    services.update_submission(
        officer,
        submission,
        fields={
            "agency_case_number": "BZ-CR-2026-0042",
            "offence_codes": ["0101", "0901"],
            "incident_at": timezone.now() - timedelta(days=1),
            "district": District.CAYO,
            "town": "San Ignacio",
            "address": "Mile 3, Western Highway",
            "narrative": NARRATIVE,
        },
        people=[
            {"role": PersonRole.DECEASED, "name": "John Doe", "sex": Sex.MALE, "age": 34},
            {"role": PersonRole.SUSPECT, "name": "José Peña", "sex": Sex.UNKNOWN},
        ],
        items=[
            ItemData(
                {
                    "type": ItemType.CLOTHING,
                    "description": "Blue T-shirt with apparent bloodstains",
                    "packaging": "Paper bag",
                    "seal_number": "S-1001",
                },
                [serology],
            ),
            ItemData(
                {"type": ItemType.FIREARM, "description": "9 mm pistol, Glock 17", "seal_number": "S-1002"},
                [firearms, ibis],
            ),
            ItemData(
                {"type": ItemType.CARTRIDGE_CASE, "description": "Spent cartridge case", "quantity": 2},
                [firearms],
            ),
        ],
    )
    return services.submit_submission(officer, submission)


@pytest.fixture
def received(submitted, officer, custodian):
    """The same submission received: item 2's seal broken, item 3 missing."""
    first, second, third = submitted.items.all()
    services.receive_submission(
        custodian,
        submitted,
        handed_over_by=officer,
        checks={
            first.pk: ItemCheck(condition="Dry, folded"),
            second.pk: ItemCheck(seal_status=SealStatus.BROKEN, deviation_note=BROKEN_NOTE),
            third.pk: ItemCheck(presence=Presence.MISSING, seal_status=SealStatus.NONE, deviation_note=MISSING_NOTE),
        },
    )
    submitted.refresh_from_db()
    return submitted


def _text(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def _flat(data: bytes) -> str:
    """All pages' text with line breaks folded into spaces (table cells wrap)."""
    return " ".join(" ".join(_text(data)).split())


def test_submission_form_shows_the_pre_log(submitted):
    data = render_submission_form(submitted)

    assert data.startswith(b"%PDF")
    pages = _text(data)
    assert "Page 1 of" in pages[0]
    assert all(f"Page {n} of {len(pages)}" in text for n, text in enumerate(pages, start=1))
    text = _flat(data)
    for expected in (
        "National Forensic Science Service",
        "Evidence submission form",
        submitted.reference,
        "Police A",
        "Oscar Ortiz",
        "BZ-CR-2026-0042",
        "0101 — Intentional homicide",
        "0901 — Weapons and explosives",
        "Mile 3, Western Highway, San Ignacio, Cayo",
        timezone.localtime(submitted.incident_at).strftime("%Y-%m-%d %H:%M"),
        "Two shots heard around 02:00 by neighbours.",
        "Deceased",
        "John Doe",
        "Male",
        "José Peña",
        "34",
        "Blue T-shirt with apparent bloodstains",
        "9 mm pistol, Glock 17",
        "Spent cartridge case",
        "Paper bag",
        "S-1001",
        "Serology",
        "Firearms, IBIS ballistic imaging",
        "Submitted by",
        "Received by",
    ):
        assert expected in text, expected


def test_submission_form_qr_code_is_the_reference(submitted):
    """The reception scanner reads the QR code and types the reference into the search box."""
    image = pdfium.PdfDocument(render_submission_form(submitted))[0].render(scale=3).to_pil()

    found = zxingcpp.read_barcodes(image)

    assert [(b.format, b.text) for b in found] == [(zxingcpp.BarcodeFormat.QRCode, submitted.reference)]


def test_submission_form_of_a_draft_says_so(officer):
    submission = services.create_submission(officer)

    text = _flat(render_submission_form(submission))

    assert submission.reference in text
    assert "not yet submitted to the laboratory" in text
    assert "None listed." in text


def test_long_submission_form_numbers_every_page(submitted, officer, custodian):
    serology = Discipline.objects.get(code="serology")
    items = [
        ItemData({"type": ItemType.SWAB, "description": f"Swab {n} from the door handle <left & right>"}, [serology])
        for n in range(1, 61)
    ]
    services.update_submission(
        custodian, submitted, fields={}, people=[], items=items, reason="Swabs listed one by one."
    )

    pages = _text(render_submission_form(submitted))

    assert len(pages) > 1
    assert all(f"Page {n} of {len(pages)}" in text for n, text in enumerate(pages, start=1))
    assert "Swab 60 from the door handle <left & right>" in " ".join(" ".join(pages).split())


def test_receipt_lists_items_custody_and_deviations(received, custodian):
    data = render_receipt(received)

    pages = _text(data)
    assert "Page 1 of" in pages[0]
    text = _flat(data)
    case = received.case
    labels = list(case.items.values_list("label", flat=True))
    assert labels == [f"{case.lab_number}/01", f"{case.lab_number}/02"]
    for expected in (
        "National Forensic Science Service",
        "Evidence receipt",
        received.receipt_number,
        case.lab_number,
        received.reference,
        "Police A",
        "BZ-CR-2026-0042",
        "Oscar Ortiz",
        "Carla Castillo",
        timezone.localtime(received.received_at).strftime("%Y-%m-%d %H:%M"),
        *labels,
        "Blue T-shirt with apparent bloodstains",
        "Dry, folded",
        "S-1002",
        "Seal intact",
        "Seal broken",
        "Missing",
        "Deviations at receipt",
        BROKEN_NOTE,
        MISSING_NOTE,
        "confirmed this transfer of custody electronically",
    ):
        assert expected in text, expected
    assert "None recorded." not in text


def test_receipt_without_deviations_says_none_recorded(submitted, officer, custodian):
    services.receive_submission(
        custodian,
        submitted,
        handed_over_by=officer,
        checks={listed.pk: ItemCheck() for listed in submitted.items.all()},
    )
    submitted.refresh_from_db()

    text = _flat(render_receipt(submitted))

    assert "Deviations at receipt None recorded." in text
    assert f"{submitted.case.lab_number}/03" in text


def test_no_receipt_before_the_submission_is_received(submitted):
    assert submitted.status == SubmissionStatus.SUBMITTED

    with pytest.raises(ValueError, match="not received yet"):
        render_receipt(submitted)


def test_helvetica_when_dejavu_is_missing(submitted, monkeypatch, tmp_path):
    monkeypatch.setattr(pdf, "DEJAVU_REGULAR", tmp_path / "missing.ttf")
    pdf.fonts.cache_clear()
    try:
        assert pdf.fonts() == pdf.Fonts("Helvetica", "Helvetica-Bold")
        text = _flat(render_submission_form(submitted))
    finally:
        pdf.fonts.cache_clear()

    assert submitted.reference in text
    assert "José Peña" in text
    assert pdf.fonts().regular == ("DejaVuSans" if pdf.DEJAVU_REGULAR.is_file() else "Helvetica")


def test_documents_render_in_spanish(received):
    """Rendered in the active language; accented names survive (the Spanish catalogue may still lag)."""
    with translation.override("es"):
        form = render_submission_form(received)
        receipt = render_receipt(received)

    form_text, receipt_text = _flat(form), _flat(receipt)
    assert received.reference in form_text
    assert "José Peña" in form_text
    assert "Masculino" in form_text
    assert "Blue T-shirt with apparent bloodstains" in form_text
    assert received.receipt_number in receipt_text
    assert received.case.lab_number in receipt_text
    assert BROKEN_NOTE in receipt_text
