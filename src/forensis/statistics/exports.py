"""A figure's table as a file: CSV (UTF-8 with a byte-order mark, so spreadsheet programs read accents) or XLSX.

The first row is the column headings, the rest the values as the page shows them; an empty value stays empty.
The XLSX workbook has a second sheet, "About", with the figure's title, the filters it was made with, when, and
its note.
"""

from __future__ import annotations

import csv
import io
import re

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from .dashboards import Figure

#: Characters Excel refuses in a sheet name, and its length limit.
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_SHEET_LENGTH = 31


def _cell(value):
    return "" if value is None else value


def figure_csv(figure: Figure) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(figure.headings)
    for row in figure.values():
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue().encode("utf-8-sig")


def figure_xlsx(figure: Figure, filters_text: str) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _SHEET_FORBIDDEN.sub(" ", figure.title)[:_SHEET_LENGTH]
    sheet.append(figure.headings)
    for row in figure.values():
        sheet.append([_cell(value) for value in row])
    sheet.freeze_panes = "A2"
    about = workbook.create_sheet(_("About"))
    about.append([_("Figure"), figure.title])
    about.append([_("Filters"), filters_text])
    about.append([_("Made"), timezone.localtime().strftime("%Y-%m-%d %H:%M")])
    if figure.note:
        about.append([_("Note"), figure.note])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
