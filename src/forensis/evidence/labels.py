"""Item labels for thermal label printers: one label per PDF page.

Each label carries the item number as a Code 128 barcode (for hand scanners) and as a QR code (for phone
cameras), and in words the lab case number, the item number and the start of the description.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from django.utils.translation import gettext as _
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas as pdfcanvas

from forensis.cases.models import Case
from forensis.core.pdf import draw_qr, fonts

from .models import Item

#: Label sizes the layout supports, in millimetres: (min, max) of width and of height.
LABEL_WIDTH_RANGE_MM = (25.0, 150.0)
LABEL_HEIGHT_RANGE_MM = (15.0, 100.0)
#: The default: a 2 × 1 inch thermal label.
DEFAULT_WIDTH_MM = 50.8
DEFAULT_HEIGHT_MM = 25.4

#: Code 128 quiet zone on each side, in modules (the symbology's minimum is 10).
QUIET_ZONE_MODULES = 10
#: Widest bar module drawn, however large the label (wider bars gain nothing for a scanner).
MAX_MODULE_MM = 0.5
ELLIPSIS = "…"


def _check_size(width_mm: float, height_mm: float) -> None:
    (min_w, max_w), (min_h, max_h) = LABEL_WIDTH_RANGE_MM, LABEL_HEIGHT_RANGE_MM
    if not (min_w <= width_mm <= max_w and min_h <= height_mm <= max_h):
        raise ValueError(
            f"Label size {width_mm:g} × {height_mm:g} mm is not supported: the width must be "
            f"{min_w:g}–{max_w:g} mm and the height {min_h:g}–{max_h:g} mm."
        )


def _fit(text: str, font: str, size: float, width: float) -> str:
    """``text`` cut (with an ellipsis) to fit ``width`` points."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + ELLIPSIS, font, size) > width:
        text = text[:-1]
    return text.rstrip() + ELLIPSIS


def _wrap(text: str, font: str, size: float, width: float, max_lines: int) -> list[str]:
    """Word wrap into at most ``max_lines`` lines; if text is left over, the last line ends in an ellipsis."""
    words = text.split()
    lines: list[str] = []
    i = 0
    while i < len(words) and len(lines) < max_lines:
        line = words[i]
        i += 1
        while i < len(words) and stringWidth(f"{line} {words[i]}", font, size) <= width:
            line = f"{line} {words[i]}"
            i += 1
        lines.append(line)
    if i < len(words):
        lines[-1] = " ".join([lines[-1], *words[i:]])
    return [_fit(line, font, size, width) for line in lines]


def _code128(value: str, width: float, height: float) -> Code128:
    """A Code 128 symbol whose modules are as wide as ``width`` allows, quiet zones of 10 modules included."""
    modules = Code128(value, barWidth=1, quiet=1, lquiet=QUIET_ZONE_MODULES, rquiet=QUIET_ZONE_MODULES).width
    module = min(width / modules, MAX_MODULE_MM * mm)
    return Code128(
        value,
        barWidth=module,
        barHeight=height,
        quiet=1,
        lquiet=QUIET_ZONE_MODULES * module,
        rquiet=QUIET_ZONE_MODULES * module,
        humanReadable=0,
    )


def _item_number(item: Item) -> str:
    number = f"{item.number:02d}"
    return f"{number}.{item.sub_number}" if item.sub_number else number


def _draw_label(
    canv: pdfcanvas.Canvas, item: Item, lab_number: str, width: float, height: float, font: str, bold: str
) -> None:
    margin = max(1 * mm, min(width, height) * 0.05)
    inner_w, inner_h = width - 2 * margin, height - 2 * margin
    gap = max(0.8 * mm, inner_h * 0.04)

    # Top band: the Code 128 barcode, centred across the full width.
    bar_h = inner_h * 0.34
    barcode = _code128(item.label, inner_w, bar_h)
    barcode.drawOn(canv, margin + (inner_w - barcode.width) / 2, height - margin - bar_h)

    # Lower band: the QR code on the left, the words on the right.
    band_h = inner_h - bar_h - gap
    qr_size = min(band_h, inner_w * 0.45)
    draw_qr(canv, item.label, margin, margin + (band_h - qr_size) / 2, qr_size)

    text_x = margin + qr_size + gap
    text_w = width - margin - text_x
    size = min(band_h / 5.2, 4 * mm)  # about five lines fill the band; capped on big labels
    small = size * 0.85
    y = margin + band_h - size * 0.9

    # The case number shrinks (to 70 %) before it is cut.
    case_size = max(size * 0.7, min(size, size * text_w / max(stringWidth(lab_number, bold, size), 1)))
    canv.setFont(bold, case_size)
    canv.drawString(text_x, y, _fit(lab_number, bold, case_size, text_w))
    y -= size * 1.2
    canv.setFont(bold, size)
    canv.drawString(text_x, y, _fit(_("Item %(number)s") % {"number": _item_number(item)}, bold, size, text_w))
    y -= size * 1.25
    canv.setFont(font, small)
    leading = small * 1.2
    lines = max(1, int((y - margin) // leading) + 1)
    for line in _wrap(item.description, font, small, text_w, lines):
        canv.drawString(text_x, y, line)
        y -= leading


def _lab_numbers(items: Sequence[Item]) -> dict[int, str]:
    """Each item's lab case number, in one query for the cases not already loaded with the items."""
    case_field = Item._meta.get_field("case")
    numbers = {item.case_id: item.case.lab_number for item in items if case_field.is_cached(item)}
    missing = {item.case_id for item in items} - numbers.keys()
    if missing:
        numbers.update(Case.objects.filter(pk__in=missing).values_list("pk", "lab_number"))
    return numbers


def render_labels(
    items: Sequence[Item], *, width_mm: float = DEFAULT_WIDTH_MM, height_mm: float = DEFAULT_HEIGHT_MM
) -> bytes:
    """A PDF with one page per item label (a thermal printer prints page by page), in ``items``' order.

    Raises ``ValueError`` for no items, and for a size outside :data:`LABEL_WIDTH_RANGE_MM` ×
    :data:`LABEL_HEIGHT_RANGE_MM`. Load the items with ``select_related("case")`` or their cases cost one query.
    """
    _check_size(width_mm, height_mm)
    if not items:
        raise ValueError("No items to print labels for.")
    width, height = width_mm * mm, height_mm * mm
    f = fonts()
    buffer = io.BytesIO()
    canv = pdfcanvas.Canvas(buffer, pagesize=(width, height), pageCompression=1)
    canv.setTitle(_("Item labels"))
    canv.setCreator("Forensis")
    lab_numbers = _lab_numbers(items)
    for item in items:
        _draw_label(canv, item, lab_numbers[item.case_id], width, height, f.regular, f.bold)
        canv.showPage()
    canv.save()
    return buffer.getvalue()
