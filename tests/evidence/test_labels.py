"""Item labels: one page per label, both barcodes scan back to the item number."""

from __future__ import annotations

import io
from datetime import timedelta

import pypdfium2 as pdfium
import pytest
import zxingcpp
from django.utils import timezone
from pypdf import PdfReader

from forensis.accounts.roles import Role
from forensis.core.vocabulary import District
from forensis.evidence.labels import LABEL_HEIGHT_RANGE_MM, LABEL_WIDTH_RANGE_MM, render_labels
from forensis.evidence.models import Item, ItemType
from forensis.intake import services
from forensis.intake.services import ItemCheck, ItemData
from forensis.lab.models import Discipline

LONG_DESCRIPTION = (
    "Black hooded sweatshirt, size XL, with apparent bloodstains on both cuffs and a tear near the left "
    "pocket; collected from the back seat of the vehicle"
)


@pytest.fixture
def items(officer, make_user):
    """Two items of a case, numbered by receiving a submission at the laboratory."""
    custodian = make_user(Role.EVIDENCE_CUSTODIAN)
    serology = Discipline.objects.get(code="serology")
    submission = services.create_submission(officer)
    services.update_submission(
        officer,
        submission,
        fields={
            "agency_case_number": "CY-2026-117",
            "offence_codes": ["0201"],
            "incident_at": timezone.now() - timedelta(hours=5),
            "district": District.BELIZE,
        },
        people=[],
        items=[
            ItemData({"type": ItemType.CLOTHING, "description": LONG_DESCRIPTION, "seal_number": "A-1"}, [serology]),
            ItemData({"type": ItemType.SWAB, "description": "Swab, café stain"}, [serology]),
        ],
    )
    services.submit_submission(officer, submission)
    services.receive_submission(
        custodian,
        submission,
        handed_over_by=officer,
        checks={listed.pk: ItemCheck() for listed in submission.items.all()},
    )
    return list(Item.objects.select_related("case").order_by("number"))


def _decoded(data: bytes, page: int) -> dict[str, str]:
    image = pdfium.PdfDocument(data)[page].render(scale=8).to_pil()
    return {barcode.format.name: barcode.text for barcode in zxingcpp.read_barcodes(image)}


def test_one_page_per_label_with_both_barcodes(items):
    data = render_labels(items)

    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == len(items) == 2
    for page, item in enumerate(items):
        assert item.label == f"{item.case.lab_number}/{item.number:02d}"
        assert _decoded(data, page) == {"Code128": item.label, "QRCode": item.label}


def test_default_size_is_two_by_one_inch(items):
    box = PdfReader(io.BytesIO(render_labels(items[:1]))).pages[0].mediabox

    assert (round(float(box.width)), round(float(box.height))) == (144, 72)


def test_label_text_names_case_item_and_description(items):
    pages = PdfReader(io.BytesIO(render_labels(items))).pages
    first, second = (" ".join(page.extract_text().split()) for page in pages)

    lab_number = items[0].case.lab_number
    assert lab_number in first
    assert "Item 01" in first
    assert "Black hooded sweatshirt" in first
    assert "collected from the back seat of the vehicle" not in first  # truncated to fit
    assert "…" in first
    assert "Item 02" in second
    assert "Swab, café stain" in second


@pytest.mark.parametrize(("width_mm", "height_mm"), [(25, 15), (101.6, 50.8), (150, 100), (38, 25)])
def test_other_sizes_still_scan(items, width_mm, height_mm):
    data = render_labels(items[:1], width_mm=width_mm, height_mm=height_mm)

    box = PdfReader(io.BytesIO(data)).pages[0].mediabox
    assert float(box.width) == pytest.approx(width_mm / 25.4 * 72, abs=0.01)
    assert _decoded(data, 0) == {"Code128": items[0].label, "QRCode": items[0].label}


@pytest.mark.parametrize(("width_mm", "height_mm"), [(24.9, 25.4), (151, 25.4), (50.8, 14), (50.8, 101)])
def test_unsupported_sizes_are_refused(items, width_mm, height_mm):
    assert LABEL_WIDTH_RANGE_MM == (25, 150) and LABEL_HEIGHT_RANGE_MM == (15, 100)

    with pytest.raises(ValueError, match="width must be 25–150 mm and the height 15–100 mm"):
        render_labels(items, width_mm=width_mm, height_mm=height_mm)


def test_items_without_their_case_loaded_cost_one_query(items, django_assert_num_queries):
    fresh = list(Item.objects.order_by("number"))

    with django_assert_num_queries(1):
        render_labels(fresh)


def test_no_items_is_refused():
    with pytest.raises(ValueError, match="No items"):
        render_labels([])
