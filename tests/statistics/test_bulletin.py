"""The monthly statistics bulletin: a PDF of the twelve months ending with a month, from the known records of
conftest.py, in English and Spanish; a malformed month is refused."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from pypdf import PdfReader

from forensis.statistics.bulletin import bulletin_filters, bulletin_pdf


def text_of(pdf: bytes) -> str:
    """The text of every page, whitespace collapsed."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


def test_the_bulletin_covers_the_twelve_months_ending_with_the_month():
    filters = bulletin_filters("2026-04")
    assert (filters.month_from, filters.month_to) == ("2025-05", "2026-04")
    assert bulletin_filters("2026-12").month_from == "2026-01"
    assert bulletin_filters("2027-01").month_from == "2026-02"


def test_a_bulletin_with_known_figures(homicides, casework):
    pdf = bulletin_pdf("2026-04")
    assert pdf.startswith(b"%PDF")
    text = text_of(pdf)
    assert "Monthly statistics bulletin" in text
    assert "April 2026" in text
    assert "May 2025 to April 2026" in text
    # D1, D2, D3, D6 from death records; K1, K2 (two victims), K5 from cases.
    assert "Homicide victims 8" in text
    # T1, T2, T3, S1, S2 were released in 2026-01 to 2026-03 (RL only in July): 10, 20, 40, 6 and 10 days.
    assert "Requests released 5" in text
    assert "Median days, receipt to release 10.0" in text
    assert "Homicide victims per month" in text
    assert "Data quality of the homicide figures" in text


def test_a_bulletin_of_an_empty_period_is_still_a_document(db):
    pdf = bulletin_pdf("2020-01")
    assert pdf.startswith(b"%PDF")
    text = text_of(pdf)
    assert "Monthly statistics bulletin" in text
    assert "Homicide victims 0" in text
    assert "No data for this period." in text
    assert "No population figure covers this period" in text


def test_a_bulletin_in_spanish(homicides):
    with translation.override("es"):
        pdf = bulletin_pdf("2026-04")
    assert pdf.startswith(b"%PDF")
    text = text_of(pdf)  # the words may not be translated yet: only what does not depend on them
    assert "2026-04" in text


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "2026-4", "202604", "April", "", "2026-04\n", None])
def test_a_malformed_month_is_refused(db, month):
    with pytest.raises(ValidationError) as caught:
        bulletin_pdf(month)
    assert caught.value.messages == ["Give a month as YYYY-MM."]
