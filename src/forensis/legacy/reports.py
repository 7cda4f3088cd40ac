"""The reports an import leaves in its folder: ``summary.txt``, ``rejections.csv`` and ``reconciliation.csv``.

The reconciliation (ISO/IEC 17025 7.11, control of data) sets the rows of the source beside the records in
Forensis, per entity and year: rows in the source = imported + rejected + duplicates collapsed (+ skipped with
``--limit``). Every difference is explained by a line of ``rejections.csv``; a line that does not balance says
"no".
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from .models import ImportBatch, Rejection

#: The CSV files are UTF-8 with a byte-order mark, so that Excel opens them with the accents right.
CSV_ENCODING = "utf-8-sig"
REJECTION_COLUMNS = ["source", "row", "column", "value", "reason", "entity", "legacy_id", "kind"]
RECONCILIATION_COLUMNS = [
    "entity",
    "year",
    "rows_in_source",
    "imported",
    "rejected",
    "duplicates_collapsed",
    "skipped_by_limit",
    "difference_explained",
]
COUNT_COLUMNS = ["read", "created", "updated", "unchanged", "rejected", "collapsed", "skipped"]


def reason_label(code: str) -> str:
    """A rejection kind in words (``invalid_received_at`` → "received at: value not accepted")."""
    labels = {
        "missing_key": _("missing key"),
        "missing_parent_key": _("missing case or item key"),
        "row": _("faulty row"),
        "too_long": _("text too long"),
        "unknown_agency": _("unknown agency"),
        "unknown_district": _("unknown district code"),
        "unknown_offence": _("unknown ICCS code"),
        "unknown_role": _("unknown role"),
        "unknown_sex": _("unknown sex"),
        "unknown_item_type": _("unknown item type"),
        "unknown_unit": _("unknown unit"),
        "unknown_discipline": _("unknown discipline"),
        "missing_unit": _("amount without a unit"),
        "conflicting_duplicate": _("conflicting duplicate"),
        "orphan": _("orphan (case missing or rejected)"),
        "missing_item": _("item missing or rejected"),
        "item_of_other_case": _("item of another case"),
        "several_locations": _("several locations for one item"),
        "lab_number_unusable": _("lab number unusable"),
        "lab_number_duplicate": _("lab number used twice in the source"),
        "lab_number_in_use": _("lab number already in Forensis"),
        "ledger_not_rewritten": _("location differs from the custody ledger"),
        "correction_refused": _("correction refused"),
    }
    if code in labels:
        return labels[code]
    if code.startswith("invalid_"):
        return _("%(field)s: value not accepted") % {"field": code.removeprefix("invalid_").replace("_", " ")}
    return code


def write_reports(
    batch: ImportBatch, rejections: Iterable[Rejection], reconciliation: list[dict[str, Any]], folder: Path
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_rejections(rejections, folder / "rejections.csv")
    write_reconciliation(reconciliation, folder / "reconciliation.csv")
    (folder / "summary.txt").write_text(summary_text(batch, folder) + "\n", encoding="utf-8")
    return folder


def write_rejections(rejections: Iterable[Rejection], path: Path) -> None:
    with path.open("w", encoding=CSV_ENCODING, newline="") as file:
        writer = csv.writer(file)
        writer.writerow(REJECTION_COLUMNS)
        for rejection in rejections:
            writer.writerow(
                [
                    rejection.source_table,
                    rejection.row_number if rejection.row_number is not None else "",
                    rejection.column,
                    rejection.value,
                    rejection.reason,
                    rejection.entity,
                    rejection.legacy_id,
                    rejection.code,
                ]
            )


def reconciliation_rows(reconciliation: list[dict[str, Any]]) -> list[list[Any]]:
    """The lines of the reconciliation, with a total line ("all") after each entity's years."""
    rows: list[list[Any]] = []
    names = ["source_rows", "imported", "rejected", "collapsed", "skipped"]
    entities = list(dict.fromkeys(line["entity"] for line in reconciliation))
    for entity in entities:
        lines = [line for line in reconciliation if line["entity"] == entity]
        for line in lines:
            rows.append([entity, line["year"], *(line[name] for name in names), _yes_no(line["explained"])])
        totals = [sum(line[name] for line in lines) for name in names]
        rows.append([entity, "all", *totals, _yes_no(totals[0] == sum(totals[1:]))])
    return rows


def write_reconciliation(reconciliation: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding=CSV_ENCODING, newline="") as file:
        writer = csv.writer(file)
        writer.writerow(RECONCILIATION_COLUMNS)
        writer.writerows(reconciliation_rows(reconciliation))


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def summary_text(batch: ImportBatch, folder: Path | None = None) -> str:
    """What the import did, in a few lines a person reads at the end of the command (and in summary.txt)."""
    counts = batch.counts or {}
    lines = [
        _("Import %(number)s of %(source)s (mapping %(mapping)s)")
        % {"number": batch.number, "source": batch.source_name, "mapping": batch.mapping_name}
    ]
    if batch.dry_run:
        lines.append(_("DRY RUN: nothing was saved; the numbers say what an import would do."))
    if batch.limit:
        lines.append(_("Limited to the first %(limit)s cases of the source.") % {"limit": batch.limit})
    lines.append(
        _("Started by %(user)s at %(start)s.")
        % {
            "user": batch.started_by.get_username(),
            "start": timezone.localtime(batch.started_at).strftime("%Y-%m-%d %H:%M:%S"),
        }
    )
    lines.append("")
    width = max([len(name) for name in counts.get("entities", {})] + [10])
    lines.append(" " * width + "".join(f"{name:>11}" for name in COUNT_COLUMNS))
    for entity, values in counts.get("entities", {}).items():
        lines.append(f"{entity:<{width}}" + "".join(f"{values.get(name, 0):>11,}" for name in COUNT_COLUMNS))
    totals = counts.get("totals", {})
    lines.append(f"{_('total'):<{width}}" + "".join(f"{totals.get(name, 0):>11,}" for name in COUNT_COLUMNS))
    reasons = [
        (entity, code, number)
        for entity, values in counts.get("entities", {}).items()
        for code, number in values.get("reasons", {}).items()
    ]
    if reasons:
        lines += ["", _("Rejections by reason (a row may have several):")]
        lines += [f"  {entity:<{width}} {reason_label(code):<42} {number:>7,}" for entity, code, number in reasons]
    reconciliation = counts.get("reconciliation", [])
    if reconciliation:
        unexplained = [line for line in reconciliation if not line["explained"]]
        lines.append("")
        if unexplained:
            lines.append(
                _("Reconciliation: %(count)s line(s) do NOT balance: %(lines)s.")
                % {
                    "count": len(unexplained),
                    "lines": ", ".join(f"{line['entity']} {line['year']}" for line in unexplained),
                }
            )
        else:
            lines.append(
                _(
                    "Reconciliation: every entity and year balances "
                    "(rows in the source = imported + rejected + collapsed)."
                )
            )
    if folder is not None:
        lines.append(_("Reports: %(folder)s") % {"folder": folder})
    return "\n".join(lines)
