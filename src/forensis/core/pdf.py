"""Shared building blocks for the PDF documents Forensis prints with ReportLab.

Fonts (DejaVu Sans when installed, so accented Spanish renders; Helvetica otherwise), paragraph styles,
the table style, a QR code drawing, times in the laboratory's time zone, and :func:`build_document`, which
lays out a story on Letter paper with a running header and a "Page x of y" footer on every page.

All words are passed in by the callers through gettext, so a document comes out in the active language.
"""

from __future__ import annotations

import functools
import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as pdfcanvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
DEJAVU_REGULAR = FONT_DIR / "DejaVuSans.ttf"
DEJAVU_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"

#: Shown for a value that is empty or unknown.
EMPTY = "—"

PAGE_MARGIN = 15 * mm
GRID_COLOR = colors.HexColor("#9aa3ad")
HEADER_FILL = colors.HexColor("#e8ecf0")
MUTED = colors.HexColor("#4a5560")


@dataclass(frozen=True)
class Fonts:
    regular: str
    bold: str


@functools.cache
def fonts() -> Fonts:
    """Register DejaVu Sans (regular and bold) once; fall back to Helvetica when the files are missing."""
    if DEJAVU_REGULAR.is_file() and DEJAVU_BOLD.is_file():
        try:
            pdfmetrics.registerFont(TTFont("DejaVuSans", str(DEJAVU_REGULAR)))
            pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(DEJAVU_BOLD)))
            pdfmetrics.registerFontFamily(
                "DejaVuSans",
                normal="DejaVuSans",
                bold="DejaVuSans-Bold",
                italic="DejaVuSans",
                boldItalic="DejaVuSans-Bold",
            )
        except Exception:  # an unreadable font file must not stop printing
            return Fonts("Helvetica", "Helvetica-Bold")
        return Fonts("DejaVuSans", "DejaVuSans-Bold")
    return Fonts("Helvetica", "Helvetica-Bold")


@functools.cache
def _styles(regular: str, bold: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=regular, fontSize=9.5, leading=12.5)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=10.5),
        "cell_bold": ParagraphStyle("cell_bold", parent=base, fontName=bold, fontSize=8.5, leading=10.5),
        "label": ParagraphStyle("label", parent=base, fontName=bold, fontSize=8.5, leading=10.5, textColor=MUTED),
        "heading": ParagraphStyle(
            "heading", parent=base, fontName=bold, fontSize=11.5, leading=14, spaceBefore=10, spaceAfter=4
        ),
        "subheading": ParagraphStyle("subheading", parent=base, fontName=bold, fontSize=10.5, leading=13),
        "title": ParagraphStyle("title", parent=base, fontName=bold, fontSize=16, leading=20),
        "reference": ParagraphStyle("reference", parent=base, fontName=bold, fontSize=24, leading=29),
        "lab": ParagraphStyle("lab", parent=base, fontName=bold, fontSize=11, leading=14, textColor=MUTED),
    }


def styles() -> dict[str, ParagraphStyle]:
    """The paragraph styles of the documents, in the registered fonts."""
    f = fonts()
    return _styles(f.regular, f.bold)


def para(text: Any, style: str = "body", *, multiline: bool = False) -> Paragraph:
    """A paragraph of plain text (escaped: user input never reaches ReportLab's markup parser)."""
    value = str(text) if text not in (None, "") else EMPTY
    value = escape(value)
    if multiline:
        value = value.replace("\r\n", "\n").replace("\n", "<br/>")
    return Paragraph(value, styles()[style])


def local_time(value: datetime | None) -> str:
    """``YYYY-MM-DD HH:MM`` in the laboratory's time zone (``settings.TIME_ZONE``), or a dash."""
    if value is None:
        return EMPTY
    return timezone.localtime(value, timezone.get_default_timezone()).strftime("%Y-%m-%d %H:%M")


def qr_modules(value: str, *, level: str = "M") -> list[list[bool]]:
    """The QR code of ``value`` as rows of dark (True) / light modules, top row first.

    Encoded by ReportLab's ``QrCodeWidget`` (version chosen to fit, best mask pattern).
    """
    qr = QrCodeWidget(value, barLevel=level).qr
    qr.make()
    return [[bool(module) for module in row] for row in qr.modules]


def draw_qr(
    canv: pdfcanvas.Canvas, value: str, x: float, y: float, size: float, *, level: str = "M", border: int = 4
) -> None:
    """Draw the QR code of ``value`` in the ``size`` × ``size`` square at (x, y), quiet zone of ``border`` modules.

    One filled path in module units (not one Drawing node per module): a sheet of hundreds of labels stays fast,
    and no seams appear between neighbouring modules.
    """
    modules = qr_modules(value, level=level)
    count = len(modules)
    box = size / (count + 2 * border)
    canv.saveState()
    canv.translate(x + border * box, y + border * box)
    canv.scale(box, box)
    path = canv.beginPath()
    for r, row in enumerate(modules):
        column = 0
        for dark, run in itertools.groupby(row):
            length = len(list(run))
            if dark:
                path.rect(column, count - 1 - r, length, 1)
            column += length
    canv.drawPath(path, stroke=0, fill=1)
    canv.restoreState()


class QrFlowable(Flowable):
    """A QR code as a platypus flowable, ``size`` points square (quiet zone included)."""

    def __init__(self, value: str, size: float, *, level: str = "M", border: int = 4) -> None:
        super().__init__()
        self.value, self.size, self.level, self.border = value, size, level, border
        self.width = self.height = size

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        draw_qr(self.canv, self.value, 0, 0, self.size, level=self.level, border=self.border)


def table_style(*, header: bool = True, extra: Sequence[tuple] = ()) -> TableStyle:
    """The grid used by every table: thin lines, a shaded (repeated) header row, top-aligned cells."""
    commands: list[tuple] = [
        ("GRID", (0, 0), (-1, -1), 0.5, GRID_COLOR),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL))
    commands.extend(extra)
    return TableStyle(commands)


def data_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], col_widths: Sequence[float]) -> Table:
    """A table with a header row repeated on every page; plain values become escaped paragraphs."""
    body = [[para(h, "cell_bold") for h in headers]]
    body += [[cell if isinstance(cell, Flowable) else para(cell, "cell") for cell in row] for row in rows]
    return Table(body, colWidths=list(col_widths), repeatRows=1, style=table_style())


def field_table(pairs: Sequence[tuple[str, Any]], width: float, label_width: float = 45 * mm) -> Table:
    """Label / value pairs in two columns, the labels shaded."""
    rows = [
        [para(label, "label"), value if isinstance(value, Flowable) else para(value, "cell")] for label, value in pairs
    ]
    return Table(
        rows,
        colWidths=[label_width, width - label_width],
        style=table_style(header=False, extra=[("BACKGROUND", (0, 0), (0, -1), HEADER_FILL)]),
    )


def content_width(pagesize: tuple[float, float] = LETTER) -> float:
    return pagesize[0] - 2 * PAGE_MARGIN


class _NumberedCanvas(pdfcanvas.Canvas):
    """Holds pages back until the end so each footer can say "Page x of y"."""

    def __init__(self, *args: Any, footer: str = "", page_qr: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._page_qr = page_qr
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - ReportLab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._draw_footer(total)
            super().showPage()
        super().save()

    def _draw_footer(self, total: int) -> None:
        f = fonts()
        width, _height = self._pagesize
        y = PAGE_MARGIN - 8 * mm
        self.saveState()
        self.setStrokeColor(GRID_COLOR)
        self.setLineWidth(0.5)
        right = width - PAGE_MARGIN - (PAGE_QR_SIZE + 2 * mm if self._page_qr else 0)
        self.line(PAGE_MARGIN, y + 4 * mm, right, y + 4 * mm)
        self.setFont(f.regular, 7.5)
        self.setFillColor(MUTED)
        self.drawString(PAGE_MARGIN, y, self._footer)
        page_of = _("Page %(page)s of %(total)s") % {"page": self._pageNumber, "total": total}
        if self._page_qr:
            draw_qr(self, self._page_qr, width - PAGE_MARGIN - PAGE_QR_SIZE, y - 1 * mm, PAGE_QR_SIZE, border=1)
            self.drawRightString(width - PAGE_MARGIN - PAGE_QR_SIZE - 2 * mm, y, page_of)
        else:
            self.drawRightString(width - PAGE_MARGIN, y, page_of)
        self.restoreState()


def _draw_header(canv: pdfcanvas.Canvas, doc: BaseDocTemplate, *, lab: str, title: str, reference: str) -> None:
    """The running header of pages 2 onwards (page 1 opens with the document's own title block)."""
    if doc.page == 1:
        return
    f = fonts()
    width, height = doc.pagesize
    top = height - PAGE_MARGIN + 1 * mm
    canv.saveState()
    canv.setFont(f.bold, 10)
    canv.drawString(PAGE_MARGIN, top, lab)
    canv.setFont(f.regular, 9)
    canv.setFillColor(MUTED)
    canv.drawRightString(width - PAGE_MARGIN, top, f"{title} · {reference}")
    canv.setStrokeColor(GRID_COLOR)
    canv.setLineWidth(0.5)
    canv.line(PAGE_MARGIN, top - 2.5 * mm, width - PAGE_MARGIN, top - 2.5 * mm)
    canv.restoreState()


def signature_block(*titles: str) -> Flowable:
    """Side-by-side columns (one per title) of Name / Signature / Date and time lines to sign on paper."""
    width = content_width()
    gap = 10 * mm
    label_w = 30 * mm
    column = (width - gap * (len(titles) - 1)) / len(titles)
    widths: list[float] = []
    for index in range(len(titles)):
        widths += ([gap] if index else []) + [label_w, column - label_w]
    labels = [_("Name"), _("Signature"), _("Date and time")]
    rows: list[list[Any]] = [[]]
    for index, title in enumerate(titles):
        rows[0] += ([""] if index else []) + [para(title, "subheading"), ""]
    for label in labels:
        row: list[Any] = []
        for index in range(len(titles)):
            row += ([""] if index else []) + [para(label, "small"), ""]
        rows.append(row)
    commands: list[tuple] = [
        ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    for index in range(len(titles)):
        first = index * 3
        commands += [
            ("SPAN", (first, 0), (first + 1, 0)),
            ("LINEBELOW", (first + 1, 1), (first + 1, -1), 0.75, colors.black),
        ]
    table = Table(rows, colWidths=widths, rowHeights=[7 * mm] + [8 * mm] * len(labels), style=TableStyle(commands))
    return KeepTogether([Spacer(1, 4 * mm), table])


def build_document(
    story: list[Flowable],
    *,
    title: str,
    reference: str,
    footer: str = "",
    pagesize: tuple[float, float] = LETTER,
    page_qr: str = "",
) -> bytes:
    """Lay out ``story`` and return the PDF.

    Page 1 starts with the story (which opens with the document's title block); later pages carry the
    laboratory's name, ``title`` and ``reference`` at the top, and every page has ``footer`` and "Page x of y"
    at the bottom (ISO/IEC 17025 7.8.2: the document's unique identification on each page), and, with
    ``page_qr``, a QR code of that value in the bottom right corner.
    """
    lab = str(settings.FORENSIS_LAB_NAME)
    buffer = io.BytesIO()
    width, height = pagesize
    bottom = PAGE_MARGIN + (PAGE_QR_SIZE - 6 * mm if page_qr else 0)
    frame = Frame(
        PAGE_MARGIN,
        bottom,
        width - 2 * PAGE_MARGIN,
        height - bottom - (PAGE_MARGIN + 5 * mm),
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    on_page = functools.partial(_draw_header, lab=lab, title=title, reference=reference)
    doc = BaseDocTemplate(
        buffer,
        pagesize=pagesize,
        pageTemplates=[PageTemplate("page", frames=[frame], onPage=on_page)],
        title=f"{title} {reference}",
        author=lab,
        creator="Forensis",
        lang=get_language() or settings.LANGUAGE_CODE,
    )
    doc.build(story, canvasmaker=functools.partial(_NumberedCanvas, footer=footer, page_qr=page_qr))
    return buffer.getvalue()


#: Size of the QR code beside a document's title.
TITLE_QR_SIZE = 32 * mm
#: Size of the QR code in the bottom corner of every page (``build_document(page_qr=...)``).
PAGE_QR_SIZE = 20 * mm


def title_block(
    title: str, reference_label: str, reference: str, *, width: float | None = None, qr_value: str | None = None
) -> Table:
    """Lab name, document title and the reference in large type across ``width``; a QR of ``qr_value`` beside."""
    width = width or content_width()
    left = [
        para(settings.FORENSIS_LAB_NAME, "lab"),
        para(title, "title"),
        Spacer(1, 2 * mm),
        para(reference_label, "label"),
        para(reference, "reference"),
    ]
    if qr_value is None:
        return Table([[left]], colWidths=[width], style=TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return Table(
        [[left, QrFlowable(qr_value, TITLE_QR_SIZE)]],
        colWidths=[width - TITLE_QR_SIZE, TITLE_QR_SIZE],
        style=TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        ),
    )


def heading(text: str, style: str = "heading") -> list[Flowable]:
    """A section heading kept with at least the start of what follows it."""
    return [CondPageBreak(30 * mm), para(text, style)]
