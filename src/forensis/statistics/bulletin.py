"""The monthly statistics bulletin: a printable PDF for the minister and the crime observatory.

It covers the twelve months ending with the month asked for and comes out in the active language: headline
numbers; homicide victims per month and by sex and age group; the homicide rate per 100,000; sexual-violence and
firearm cases per month; the laboratory's backlog and turnaround per discipline — each drawn with ReportLab
graphics from the dashboards' figures (``statistics.dashboards``), the figure's table beneath it — then the
data-quality notes of the homicide figures and the definitions.

Cells are not suppressed: the bulletin is internal to the ministry, not a publication (the open data files
suppress small cells, see ``statistics.opendata``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from reportlab.graphics.charts.barcharts import BarChart, HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, Group, Line, Rect, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, KeepTogether, Spacer, TableStyle

from forensis.core.pdf import (
    EMPTY,
    GRID_COLOR,
    MUTED,
    build_document,
    content_width,
    data_table,
    field_table,
    fonts,
    heading,
    local_time,
    para,
    styles,
    title_block,
)
from forensis.evidence.documents import printed_footer

from .dashboards import (
    Figure,
    Section,
    backlog_section,
    firearm_section,
    homicide_rates_section,
    homicide_section,
    sexual_violence_section,
    turnaround_section,
)
from .filters import Filters

#: How many months the bulletin covers, the month asked for last.
MONTHS_COVERED = 12

#: Series colours (Okabe–Ito: told apart with the common colour-vision deficiencies, and in greyscale).
PALETTE = [colors.HexColor(code) for code in ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")]
LABEL_SIZE = 7
LEGEND_SIZE = 7.5
#: Chart geometry, in points: a chart with categories along the bottom, the room for its axes and legend.
COLUMN_CHART_HEIGHT = 140
VALUE_AXIS_WIDTH = 34
CATEGORY_LABELS_HEIGHT = 16
LEGEND_HEIGHT = 18
RIGHT_MARGIN = 8
#: Height of one category of a horizontal bar chart: per bar when grouped, in all when stacked.
BAR_HEIGHT = 8
CATEGORY_GAP = 6

ChartWidget = BarChart | HorizontalLineChart
#: Lays out one figure: its title, chart and table (or a line saying there is no data).
Render = Callable[[Figure], list[Flowable]]


# --- the period ------------------------------------------------------------------------------------------


def bulletin_filters(month: str) -> Filters:
    """The twelve months ending with ``month`` ("YYYY-MM"); a ``ValidationError`` for anything else."""
    message = _("Give a month as YYYY-MM.")
    # Filters takes "" for "no limit" (a bulletin needs a month) and its pattern lets a trailing newline through.
    if not isinstance(month, str) or len(month) != len("YYYY-MM"):
        raise ValidationError(message, code="invalid")
    try:
        Filters(month_to=month)
    except ValidationError as error:
        raise ValidationError(message, code="invalid") from error
    first = int(month[:4]) * 12 + int(month[5:7]) - MONTHS_COVERED  # the first month, counted from year 0
    return Filters(month_from=f"{first // 12:04d}-{first % 12 + 1:02d}", month_to=month)


def month_name(month: str) -> str:
    """ "March 2026" (in the active language) for "2026-03"."""
    return formats.date_format(date(int(month[:4]), int(month[5:7]), 1), "YEAR_MONTH_FORMAT")


# --- numbers ---------------------------------------------------------------------------------------------


def _number(value: object) -> float:
    """A plotted value: a missing one is drawn as zero (the table beneath shows it as a dash)."""
    return float(value) if isinstance(value, int | float | Decimal) and not isinstance(value, bool) else 0.0


def _cell(value: object) -> str:
    """A table cell or headline value: numbers grouped and with the decimal mark of the active language."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return formats.number_format(value, force_grouping=True)
    return str(value)


def _scale(top: float, whole: bool) -> tuple[float, float]:
    """The value axis's maximum and step for data reaching ``top``: about five steps of 1, 2 or 5 × 10ⁿ, whole
    numbers for counts."""
    top = top if top > 0 else 1
    rough = top / 5
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    if whole:
        step = max(1, round(step))
    return math.ceil(top / step) * step, step


# --- charts ----------------------------------------------------------------------------------------------


def _categories(figure: Figure, rows: list[dict]) -> list[str]:
    label_key = figure.columns[0][0]
    return [str(row.get(label_key, "")) for row in rows]


def _series(figure: Figure, rows: list[dict]) -> list[tuple[str, list[float]]]:
    """(heading, values) for each plotted column of ``figure``."""
    headings = dict(figure.columns)
    return [(headings[key], [_number(row.get(key)) for row in rows]) for key in figure.chart.series]


def _text_width(text: str) -> float:
    return stringWidth(text, fonts().regular, LABEL_SIZE)


def _labels_fit_below(labels: list[str], plot_width: float) -> bool:
    """Whether the category labels fit side by side under a chart ``plot_width`` wide."""
    return max(_text_width(label) for label in labels) <= 0.9 * plot_width / len(labels)


def _style_axes(chart: ChartWidget, series: list[tuple[str, list[float]]], *, stacked: bool) -> None:
    """Fonts, grid and a value axis from zero in round steps (whole steps for counts)."""
    font = fonts().regular
    for axis in (chart.categoryAxis, chart.valueAxis):
        axis.strokeColor = GRID_COLOR
        axis.strokeWidth = 0.5
        axis.labels.fontName = font
        axis.labels.fontSize = LABEL_SIZE
        axis.labels.fillColor = MUTED
    values = [values for _heading, values in series]
    top = max(map(sum, zip(*values, strict=True))) if stacked else max(max(v) for v in values)
    whole = all(value == int(value) for column in values for value in column)
    axis = chart.valueAxis
    axis.valueMin = 0
    axis.valueMax, axis.valueStep = _scale(top, whole)
    axis.labelTextFormat = (lambda value: _cell(int(value))) if whole else (lambda value: _cell(round(value, 2)))
    axis.visibleGrid = True
    axis.gridStrokeColor = colors.HexColor("#d5dae0")
    axis.gridStrokeWidth = 0.4
    if stacked:
        chart.categoryAxis.style = "stacked"


def _legend(names: list[str], x: float, y: float, *, lines: bool = False) -> Group:
    """The series' names on one row from (x, y) down, each after its colour: a square, or a stroke for lines."""
    group = Group()
    font = fonts().regular
    swatch = 12 if lines else 7
    baseline = y - LEGEND_SIZE
    for index, name in enumerate(names):
        color = PALETTE[index % len(PALETTE)]
        if lines:
            group.add(Line(x, baseline + 2.5, x + swatch, baseline + 2.5, strokeColor=color, strokeWidth=1.5))
        else:
            group.add(Rect(x, baseline - 0.5, swatch, swatch, fillColor=color, strokeColor=None))
        x += swatch + 3
        group.add(String(x, baseline, name, fontName=font, fontSize=LEGEND_SIZE, fillColor=colors.black))
        x += stringWidth(name, font, LEGEND_SIZE) + 12
    return group


def _column_geometry(chart: ChartWidget, width: float) -> None:
    """Place a chart whose categories run along the bottom in a drawing ``width`` × COLUMN_CHART_HEIGHT."""
    chart.x, chart.y = VALUE_AXIS_WIDTH, CATEGORY_LABELS_HEIGHT
    chart.width = width - VALUE_AXIS_WIDTH - RIGHT_MARGIN
    chart.height = COLUMN_CHART_HEIGHT - CATEGORY_LABELS_HEIGHT - LEGEND_HEIGHT
    chart.categoryAxis.labels.boxAnchor = "n"
    chart.categoryAxis.labels.dy = -3


def _bar_chart(figure: Figure, *, rows: list[dict] | None = None) -> Drawing:
    """The bars of ``figure`` (of ``rows``, default all its rows): stacked or grouped as the figure says, and
    horizontal when it says so or when its category labels would not fit side by side under the bars."""
    rows = figure.rows if rows is None else rows
    labels, series = _categories(figure, rows), _series(figure, rows)
    stacked = figure.chart.stacked
    width = content_width()
    plot_width = width - VALUE_AXIS_WIDTH - RIGHT_MARGIN
    chart: BarChart
    if figure.chart.horizontal or not _labels_fit_below(labels, plot_width):
        label_width = min(max(map(_text_width, labels)) + 8, 0.4 * width)
        band = BAR_HEIGHT * (1 if stacked else len(series)) + CATEGORY_GAP
        height = len(labels) * band + CATEGORY_LABELS_HEIGHT + LEGEND_HEIGHT
        chart = HorizontalBarChart()
        chart.x, chart.y = label_width, CATEGORY_LABELS_HEIGHT
        chart.width, chart.height = width - label_width - RIGHT_MARGIN, len(labels) * band
        chart.categoryAxis.reverseDirection = True  # the first row on top, as in the table
        chart.categoryAxis.labels.boxAnchor = "e"
        chart.categoryAxis.labels.dx = -3
        chart.valueAxis.labels.dy = -2
    else:
        height = COLUMN_CHART_HEIGHT
        chart = VerticalBarChart()
        _column_geometry(chart, width)
    order = list(range(len(series)))
    if isinstance(chart, HorizontalBarChart) and not stacked:
        order.reverse()  # ReportLab draws a group's first bar lowest: the first series on top, as in the legend
    chart.data = [series[index][1] for index in order]
    chart.categoryAxis.categoryNames = labels
    chart.barSpacing = 1
    for position, index in enumerate(order):
        chart.bars[position].fillColor = PALETTE[index % len(PALETTE)]
        chart.bars[position].strokeColor = None
    _style_axes(chart, series, stacked=stacked)
    drawing = Drawing(width, height)
    drawing.add(chart)
    drawing.add(_legend([name for name, _values in series], chart.x, height))
    return drawing


def _line_chart(figure: Figure) -> Drawing:
    """The lines of ``figure`` over its categories (months), a dot on each value."""
    labels, series = _categories(figure, figure.rows), _series(figure, figure.rows)
    width = content_width()
    chart = HorizontalLineChart()
    _column_geometry(chart, width)
    chart.data = [values for _heading, values in series]
    chart.categoryAxis.categoryNames = labels
    chart.joinedLines = True
    for index in range(len(series)):
        color = PALETTE[index % len(PALETTE)]
        chart.lines[index].strokeColor = color
        chart.lines[index].strokeWidth = 1.5
        chart.lines[index].symbol = makeMarker("FilledCircle", size=3.5, fillColor=color, strokeColor=color)
    _style_axes(chart, series, stacked=False)
    drawing = Drawing(width, COLUMN_CHART_HEIGHT)
    drawing.add(chart)
    drawing.add(_legend([name for name, _values in series], chart.x, COLUMN_CHART_HEIGHT, lines=True))
    return drawing


# --- the story -------------------------------------------------------------------------------------------


def _column_widths(headings: list[str], rows: list[list[str]]) -> list[float]:
    """Widths across the page in proportion to what each column holds: its longest cell, or half its heading
    (a heading may take two lines, but a word is not broken)."""
    f, size, padding = fonts(), styles()["cell"].fontSize, 8
    natural = []
    for index, title in enumerate(headings):
        longest_word = max(stringWidth(word, f.bold, size) for word in title.split() or [""])
        cells = (stringWidth(row[index], f.regular, size) for row in rows)
        natural.append(max(longest_word, stringWidth(title, f.bold, size) / 2, *cells) + padding)
    scale = content_width() / sum(natural)
    return [width * scale for width in natural]


def _table(headings: list[str], values: list[list]) -> Flowable:
    """A table of figures, its rows closer together than a report's (a year of months fits under its chart)."""
    rows = [[_cell(value) for value in row] for row in values]
    table = data_table(headings, rows, _column_widths(headings, rows))
    table.setStyle(TableStyle([("TOPPADDING", (0, 1), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 1), (-1, -1), 1.5)]))
    return table


def _figure(figure: Figure, draw: Callable[[Figure], Flowable]) -> list[Flowable]:
    """The figure's title, its chart (``draw``) and its table beneath; one line instead when it has no data."""
    title = para(figure.title, "subheading")
    if figure.is_empty:
        return [title, para(_("No data for this period."))]
    return [title, Spacer(1, 2 * mm), draw(figure), Spacer(1, 2 * mm), _table(figure.headings, figure.values())]


def _rates_figure(figure: Figure) -> list[Flowable]:
    """The rates with a population figure, charted; the table lists every year and place, rate or not."""
    title = para(figure.title, "subheading")
    if not figure.rows:
        return [title, para(_("No data for this period."))]
    table = _table(figure.headings, figure.values())
    rated = [row for row in figure.rows if row.get("rate") is not None]
    if not rated:
        no_rate = para(_("No population figure covers this period, so there is no rate to chart."))
        return [title, no_rate, Spacer(1, 2 * mm), table]
    return [title, Spacer(1, 2 * mm), _bar_chart(figure, rows=rated), Spacer(1, 2 * mm), table]


def _find(section: Section, key: str) -> Figure:
    return next(figure for figure in section.figures if figure.key == key)


def _section(section: Section, *figures: list[Flowable]) -> list[Flowable]:
    """The section's figures, each kept on one page, the heading with the first and the note with the last."""
    blocks = [list(figure) for figure in figures]
    blocks[0].insert(0, para(section.title, "heading"))
    if section.note:
        blocks[-1] += [Spacer(1, 1.5 * mm), para(section.note, "small")]
    story: list[Flowable] = []
    for block in blocks:
        story += [KeepTogether(block), Spacer(1, 4 * mm)]
    return story


def _opening(month: str, filters: Filters) -> list[Flowable]:
    width = content_width()
    period = _("%(first)s to %(last)s (%(count)s months)") % {
        "first": month_name(filters.month_from),
        "last": month_name(filters.month_to),
        "count": MONTHS_COVERED,
    }
    about = [
        (_("Period covered"), period),
        (_("Made"), f"{local_time(timezone.now())} ({settings.TIME_ZONE})"),
        (_("For"), _("The minister and the crime observatory: internal, not for publication.")),
    ]
    return [
        title_block(_("Monthly statistics bulletin"), _("Month"), month_name(month), width=width),
        Spacer(1, 4 * mm),
        field_table(about, width),
    ]


def _headlines(sections: dict[str, Section]) -> list[Flowable]:
    backlog, turnaround = sections["backlog"], sections["turnaround"]
    pairs = [
        (_("Homicide victims"), sections["homicide"].headline("victims")),
        (_("Sexual-violence cases"), sections["sexual_violence"].headline("cases")),
        (_("Firearm cases"), sections["firearms"].headline("cases")),
        (_("Requests released"), turnaround.headline("released")),
        (_("Median days, receipt to release"), turnaround.headline("median_days")),
        (_("Backlog: requests without a released report"), backlog.headline("open")),
        (_("Backlog: open more than 30 days after receipt"), backlog.headline("over_30_days")),
    ]
    rows = [(label, _cell(value)) for label, value in pairs]
    return [*heading(_("Headline numbers")), field_table(rows, content_width(), label_width=95 * mm)]


def _quality(section: Section) -> list[Flowable]:
    """The homicide section's data-quality notes, a small table."""
    title = para(_("Data quality of the homicide figures"), "heading")
    if not section.quality:
        return [KeepTogether([title, para(_("No data for this period."))])]
    return [KeepTogether([title, _table([_("Note"), _("Value")], [list(pair) for pair in section.quality])])]


def _definitions() -> list[Flowable]:
    lines = [
        _(
            "A homicide victim is counted once: from the released autopsy when there is a death record, otherwise "
            "from the victims of a case coded ICCS 0101. Autopsies not yet released are not counted."
        ),
        _(
            "Sexual-violence cases (ICCS 0301 and its sub-codes) and firearm cases (ICCS 0901 and its sub-codes, or "
            "with a firearm among their items) are counted in the month the laboratory received them."
        ),
        _(
            "The backlog is counted at the end of the month (or now, for the current month): requests without a "
            "released report, and those of them open more than 30 days after receipt. Turnaround is from receipt "
            "to release, for the requests released in the period."
        ),
        _("Small counts are not suppressed in this internal bulletin: it is for the ministry, not for publication."),
    ]
    story = heading(_("Definitions"))
    for line in lines:
        story += [para(line, "small"), Spacer(1, 1.5 * mm)]
    return story


def _bars(figure: Figure) -> list[Flowable]:
    return _figure(figure, _bar_chart)


def _lines(figure: Figure) -> list[Flowable]:
    return _figure(figure, _line_chart)


#: What the bulletin shows, in order: each section and, of its figures, those drawn and how.
CONTENT: list[tuple[Callable[[Filters], Section], tuple[tuple[str, Render], ...]]] = [
    (homicide_section, (("homicide_by_month", _bars), ("homicide_by_sex_age", _bars))),
    (homicide_rates_section, (("homicide_rates", _rates_figure),)),
    (sexual_violence_section, (("sexual_violence_by_month", _lines),)),
    (firearm_section, (("firearms_by_month", _lines),)),
    (backlog_section, (("backlog", _bars),)),
    (turnaround_section, (("turnaround_by_discipline", _bars),)),
]


def bulletin_pdf(month: str) -> bytes:
    """The monthly statistics bulletin for ``month`` ("YYYY-MM") as a PDF, in the active language.

    It covers the twelve months ending with ``month``: headline numbers, charts with their tables, the
    data-quality notes of the homicide figures and the definitions. Raises ``ValidationError`` when ``month``
    is not a month.
    """
    filters = bulletin_filters(month)
    built = [(build(filters), shown) for build, shown in CONTENT]
    sections = {section.key: section for section, _shown in built}
    story: list[Flowable] = [*_opening(month, filters), *_headlines(sections)]
    for section, shown in built:
        story += _section(section, *[render(_find(section, key)) for key, render in shown])
    story += [*_quality(sections["homicide"]), *_definitions()]
    title = _("Monthly statistics bulletin")
    return build_document(story, title=title, reference=month, footer=printed_footer(month))
