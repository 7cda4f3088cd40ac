"""The printed documents of evidence management: the chain-of-custody report (per item or per case), the
manifest that travels with a shipment to an external laboratory, and the list of a witnessed destruction.

The custody report carries the fields ASTM E1492 asks of every custody entry (case number, item number,
description, who released, who received, date and time) and states whether the ledger's hash chains
verified when it was printed. All three are rendered in the language active at the time of the call,
with the layout helpers of ``core.pdf`` (fonts, tables, running header, "Page x of y").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer, Table, TableStyle

from forensis.core.pdf import (
    EMPTY,
    HEADER_FILL,
    build_document,
    content_width,
    data_table,
    field_table,
    heading,
    local_time,
    para,
    signature_block,
    table_style,
    title_block,
)

from .models import CustodyEvent, Destruction, Item, Shipment
from .services import gap_check, person_name, verify_ledger

#: Characters of an event's chain hash printed in the custody report: enough to match it with the ledger.
HASH_PREFIX = 12
#: The custody report's event table has ten columns: it is printed across a landscape page.
CUSTODY_PAGE = landscape(LETTER)
#: The background of an event row the chain verification found a problem with.
FLAGGED_FILL = colors.HexColor("#f6d5d1")


# --- shared pieces --------------------------------------------------------------------------------


def printed_footer(reference: str) -> str:
    """The footer of a printed document: its reference, and when it was printed in the laboratory's zone."""
    return _("%(reference)s · printed %(time)s (%(zone)s)") % {
        "reference": reference,
        "time": local_time(timezone.now()),
        "zone": settings.TIME_ZONE,
    }


def _times_note() -> Flowable:
    return para(_("Times are in %(zone)s.") % {"zone": settings.TIME_ZONE}, "small")


def _amount(value: Decimal | None, unit: str) -> str:
    """``12.5 g`` (no trailing zeros), or a dash when nothing was measured."""
    if value is None:
        return EMPTY
    return f"{format(value.normalize(), 'f')} {unit}".strip()


def _current_seals(items: Sequence[Item]) -> dict[int, str]:
    """Each item's seal as it leaves: the last seal number written in its ledger, else the one at receipt."""
    seals = {item.pk: item.seal_number for item in items}
    rows = (
        CustodyEvent.objects.filter(item__in=[item.pk for item in items])
        .exclude(seal_number="")
        .order_by("item_id", "sequence")
        .values_list("item_id", "seal_number")
    )
    seals.update(rows)  # later events overwrite earlier ones
    return seals


# --- chain-of-custody report ----------------------------------------------------------------------


def _event_person(name: str, acknowledged: bool) -> str:
    if not name:
        return EMPTY
    return _("%(name)s (confirmed)") % {"name": name} if acknowledged else name


def _event_seal(event: CustodyEvent) -> str:
    parts = [event.seal_number, event.get_seal_status_display() if event.seal_status else ""]
    return " · ".join(str(p) for p in parts if p) or EMPTY


def _event_condition(event: CustodyEvent) -> Flowable:
    lines = [event.condition, event.note]
    return para("\n".join(line for line in lines if line) or EMPTY, "cell", multiline=True)


def _verification(items: Sequence[Item]) -> tuple[list[Flowable], set[tuple[int, int]]]:
    """The result of recomputing the chains of ``items`` now, as a statement (and the problems, if any), and
    the (item id, sequence) of the events the problems are about."""
    ids = [item.pk for item in items]
    report = verify_ledger(CustodyEvent.objects.filter(item__in=ids))
    problems = report.problems + gap_check(Item.objects.filter(pk__in=ids))
    values = {
        "events": report.events,
        "items": len(ids),
        "time": local_time(timezone.now()),
        "zone": settings.TIME_ZONE,
    }
    if not problems:
        statement = [
            para(
                _(
                    "Chain verified at %(time)s (%(zone)s): the %(events)s custody events of the %(items)s item(s) "
                    "below were recomputed from the ledger. Each event links to the one before it, none was "
                    "changed after it was written, and each item's recorded holder and place match its last event."
                )
                % values,
                "body",
            )
        ]
        return statement, set()
    flowables: list[Flowable] = [
        para(
            _(
                "CHAIN VERIFICATION FAILED at %(time)s (%(zone)s): recomputing the %(events)s custody events of the "
                "%(items)s item(s) below found the following problems. Report them to the quality manager before "
                "this record is relied on."
            )
            % values,
            "subheading",
        ),
        Spacer(1, 1.5 * mm),
    ]
    flowables += [para(f"• {problem}", "body") for problem in problems]
    return flowables, report.flagged


def _item_table(item: Item, width: float) -> Table:
    """The item's identity and present state in two label / value column pairs."""
    left = [
        (_("Case number"), item.case.lab_number),
        (_("Item number"), item.label),
        (_("Description"), item.description),
        (_("Type"), item.get_type_display()),
    ]
    right = [
        (_("Seal number at receipt"), item.seal_number or EMPTY),
        (_("Received"), local_time(item.received_at)),
        (_("Status"), item.get_status_display()),
        (_("Held by now"), item.holder_name or EMPTY),
    ]
    location = item.location.path if item.location_id else EMPTY
    rows = [
        [para(a, "label"), para(b, "cell"), para(c, "label"), para(d, "cell")]
        for (a, b), (c, d) in zip(left, right, strict=True)
    ]
    rows.append([para(_("Location now"), "label"), para(location, "cell"), "", ""])
    label = 42 * mm
    value = (width - 2 * label) / 2
    return Table(
        rows,
        colWidths=[label, value, label, value],
        style=table_style(
            header=False,
            extra=[
                ("BACKGROUND", (0, 0), (0, -1), HEADER_FILL),
                ("BACKGROUND", (2, 0), (2, -2), HEADER_FILL),
                ("SPAN", (1, -1), (3, -1)),
            ],
        ),
    )


def _item_section(
    item: Item, events: list[CustodyEvent], flagged: set[tuple[int, int]], width: float
) -> list[Flowable]:
    story = heading(_("Item %(label)s") % {"label": item.label})
    story += [_item_table(item, width), Spacer(1, 3 * mm)]
    if not events:
        story.append(para(_("No custody events are recorded for this item."), "body"))
        return story
    widths = [9 * mm, 22 * mm, 30 * mm, 30 * mm, 24 * mm, 30 * mm, 24 * mm, 0, 22 * mm, 25 * mm]
    widths[7] = width - sum(widths)
    table = data_table(
        [
            "#",
            _("Date and time"),
            _("Released by"),
            _("Received by"),
            _("Purpose"),
            _("Location"),
            _("Seal"),
            _("Condition and note"),
            _("Witness"),
            _("Hash"),
        ],
        [
            [
                f"{event.sequence} (!)" if (item.pk, event.sequence) in flagged else event.sequence,
                local_time(event.occurred_at),
                _event_person(event.released_by_name, event.acknowledged_by_releaser),
                _event_person(event.received_by_name, event.acknowledged_by_receiver),
                event.get_purpose_display(),
                event.location or EMPTY,
                _event_seal(event),
                _event_condition(event),
                event.witness_name or EMPTY,
                para(event.hash[:HASH_PREFIX], "small"),
            ]
            for event in events
        ],
        widths,
    )
    for row, event in enumerate(events, start=1):
        if (item.pk, event.sequence) in flagged:
            table.setStyle(TableStyle([("BACKGROUND", (0, row), (-1, row), FLAGGED_FILL)]))
    story.append(table)
    return story


def custody_sections(items: Sequence[Item], width: float) -> list[Flowable]:
    """The body of the chain-of-custody report, for any document that includes it (``width``: at least the
    landscape Letter content width): the verification of the items' ledger, then each item's identity and every
    custody event in order. Follow it with :func:`custody_notes`."""
    events_by_item: dict[int, list[CustodyEvent]] = defaultdict(list)
    for event in CustodyEvent.objects.filter(item__in=[item.pk for item in items]).order_by("item_id", "sequence"):
        events_by_item[event.item_id].append(event)
    statement, flagged = _verification(items)
    story = heading(_("Verification of the custody ledger"))
    story.append(KeepTogether(statement))
    for item in items:
        story += _item_section(item, events_by_item.get(item.pk, []), flagged, width)
    return story


def custody_notes() -> list[Flowable]:
    """What the marks and columns of :func:`custody_sections` mean, and the time zone of its times."""
    return [
        Spacer(1, 3 * mm),
        _times_note(),
        para(
            _(
                "“(confirmed)”: the person confirmed the transfer electronically (password at the same desk, or "
                "acceptance in their custody queue). “(!)”: an event named by the verification above. Hash: the "
                "first %(n)s characters of the event's SHA-256 chain hash in the custody ledger."
            )
            % {"n": HASH_PREFIX},
            "small",
        ),
    ]


def render_custody_report(items: Sequence[Item], *, title_case=None) -> bytes:
    """The chain-of-custody report of ``items`` (one item, or every item of ``title_case``), landscape Letter.

    For each item: its case and item number, description and current state, then every custody event in
    order with the ASTM E1492 fields (date and time, who released, who received) and the location,
    purpose, seal, condition, witness and the start of the event's chain hash. Above them, the result of
    verifying those items' hash chains (``verify_ledger``) and derived state (``gap_check``) at printing.
    Raises ``ValueError`` when there is neither an item nor a case to report on.
    """
    items = list(items)
    if not items and title_case is None:
        raise ValueError("A custody report needs at least one item or a case.")
    width = content_width(CUSTODY_PAGE)
    cases = {item.case_id: item.case for item in items}
    case = title_case or (next(iter(cases.values())) if len(cases) == 1 else None)
    if title_case is None and len(items) == 1:
        reference_label, reference = _("Item number"), items[0].label
    elif case is not None:
        reference_label, reference = _("Case number"), case.lab_number
    else:
        more = "…" if len(items) > 3 else ""
        reference_label, reference = _("Items"), ", ".join(item.label for item in items[:3]) + more
    title = _("Chain of custody report")

    summary: list[tuple[str, object]] = []
    if case is not None:
        summary += [
            (_("Case number"), case.lab_number),
            (_("Agency"), case.agency.name),
            (_("Agency case number"), case.agency_case_number),
        ]
    summary.append((_("Items"), ", ".join(item.label for item in items) or _("None.")))
    story: list[Flowable] = [
        title_block(title, reference_label, reference, width=width),
        Spacer(1, 4 * mm),
        field_table(summary, width, label_width=50 * mm),
    ]
    story += custody_sections(items, width)
    story += custody_notes()
    return build_document(
        story, title=title, reference=reference, footer=printed_footer(reference), pagesize=CUSTODY_PAGE
    )


# --- outsourcing manifest -------------------------------------------------------------------------


def render_manifest(shipment: Shipment) -> bytes:
    """The manifest packed with a shipment to an external laboratory, signed by the custodian who releases
    the package and the courier who takes it (Letter)."""
    width = content_width()
    title = _("Outsourcing manifest")
    items = list(shipment.items.select_related("case").order_by("case__lab_number", "number", "sub_number"))
    seals = _current_seals(items)
    rush = _("Yes — rush analysis (paid)") if shipment.rush else _("No")
    story: list[Flowable] = [
        title_block(title, _("Shipment number"), shipment.reference, width=width),
        Spacer(1, 4 * mm),
        field_table(
            [
                (_("External laboratory"), shipment.laboratory),
                (_("Rush"), rush),
                (_("Status"), shipment.get_status_display()),
                (_("Prepared by"), person_name(shipment.created_by)),
                (_("Prepared"), local_time(shipment.created_at)),
                (_("Shipped"), local_time(shipment.shipped_at)),
                (_("Courier tracking number"), shipment.tracking_number or EMPTY),
                (_("Number of items"), len(items)),
            ],
            width,
        ),
    ]
    if shipment.rush:
        story += [Spacer(1, 2 * mm), para(_("RUSH — paid priority analysis requested."), "subheading")]
    story += heading(_("Items"))
    widths = [9 * mm, 32 * mm, 36 * mm, 0, 30 * mm]
    widths[3] = width - sum(widths)
    story.append(
        data_table(
            ["#", _("Case number"), _("Item number"), _("Description"), _("Seal number")],
            [
                [n, item.case.lab_number, item.label, item.description, seals[item.pk] or EMPTY]
                for n, item in enumerate(items, start=1)
            ],
            widths,
        )
    )
    story += [
        Spacer(1, 3 * mm),
        para(
            _(
                "The items above leave the laboratory sealed. The courier confirms the number of packages and "
                "that every seal is intact; the receiving laboratory records any deviation on arrival."
            ),
            "body",
        ),
        _times_note(),
        signature_block(_("Released by (custodian)"), _("Received by (courier)")),
    ]
    return build_document(story, title=title, reference=shipment.reference, footer=printed_footer(shipment.reference))


# --- destruction list -----------------------------------------------------------------------------


def render_destruction_list(destruction: Destruction) -> bytes:
    """The record of a witnessed destruction (seized drugs): the items with what remained of each, and the
    signatures of the person who destroyed them and the witness (Letter)."""
    width = content_width()
    title = _("Destruction record")
    items = list(destruction.items.select_related("case").order_by("case__lab_number", "number", "sub_number"))
    performed_by, witness = person_name(destruction.performed_by), person_name(destruction.witnessed_by)
    story: list[Flowable] = [
        title_block(title, _("Destruction number"), destruction.reference, width=width),
        Spacer(1, 4 * mm),
        field_table(
            [
                (_("Method"), destruction.method),
                (_("Date and time"), local_time(destruction.performed_at)),
                (_("Destroyed by"), performed_by),
                (_("Witness"), witness),
                (_("Number of items"), len(items)),
            ],
            width,
        ),
    ]
    story += heading(_("Items destroyed"))
    widths = [9 * mm, 32 * mm, 38 * mm, 0, 24 * mm, 24 * mm]
    widths[3] = width - sum(widths)
    story.append(
        data_table(
            ["#", _("Case number"), _("Item number"), _("Description"), _("Amount received"), _("Amount remaining")],
            [
                [
                    n,
                    item.case.lab_number,
                    item.label,
                    item.description,
                    _amount(item.amount_received, item.amount_unit),
                    _amount(item.amount_remaining, item.amount_unit),
                ]
                for n, item in enumerate(items, start=1)
            ],
            widths,
        )
    )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for item in items:
        if item.amount_remaining is not None:
            totals[item.amount_unit] += item.amount_remaining
    if totals:
        story += [
            Spacer(1, 2 * mm),
            para(
                _("Total destroyed: %(totals)s")
                % {"totals": ", ".join(_amount(total, unit) for unit, total in sorted(totals.items()))},
                "subheading",
            ),
        ]
    story += [
        Spacer(1, 3 * mm),
        para(
            _(
                "We, the undersigned, certify that the items listed above were destroyed on %(time)s (%(zone)s) "
                "by %(performer)s in the presence of %(witness)s. Method: %(method)s."
            )
            % {
                "method": destruction.method,
                "time": local_time(destruction.performed_at),
                "zone": settings.TIME_ZONE,
                "performer": performed_by,
                "witness": witness,
            },
            "body",
        ),
        signature_block(_("Destroyed by"), _("Witness")),
    ]
    return build_document(
        story, title=title, reference=destruction.reference, footer=printed_footer(destruction.reference)
    )
