"""The examination report as a PDF (ISO/IEC 17025 7.8.2.1), rendered from :func:`reports.content.report_content`.

Everything printed comes from the content dictionary, so the content hash in each page's QR code stands for
exactly what the pages say. Labels are translated into the report's language (the agency's choice).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Image, Spacer, Table, TableStyle

from forensis.accounts.roles import Role
from forensis.core import iccs
from forensis.core.pdf import (
    EMPTY,
    TITLE_QR_SIZE,
    QrFlowable,
    build_document,
    content_width,
    data_table,
    field_table,
    heading,
    local_time,
    para,
)
from forensis.evidence.models import ItemType, SealStatus
from forensis.lab.models import SignatureMeaning
from forensis.lab.results import describe_result, fields_for

#: The statement ISO/IEC 17025 7.8.2.1 (l) asks for; marked for extraction, translated when rendered.
ITEMS_TESTED_ONLY = gettext_noop("The results in this report relate only to the items tested, as received.")

LOGO_HEIGHT = 18 * mm


def verification_url(number: str, content_hash: str) -> str:
    """The public address that answers whether this report version is authentic and current."""
    return settings.FORENSIS_BASE_URL + reverse("reports:verify_link", args=[number, content_hash])


def time_text(value: str | None) -> str:
    return local_time(datetime.fromisoformat(value)) if value else EMPTY


def choice_text(choices, value: str) -> str:
    return str(dict(choices).get(value, value)) if value else EMPTY


def letterhead(content: dict[str, Any], qr_value: str, title: str) -> Table:
    """Logo (when configured), laboratory name and address, the title and the report number; the QR beside."""
    width = content_width()
    lab = content["laboratory"]
    left: list[Flowable] = []
    logo = Path(settings.FORENSIS_LAB_LOGO) if settings.FORENSIS_LAB_LOGO else None
    if logo and logo.is_file():
        image = Image(str(logo))
        scale = LOGO_HEIGHT / image.imageHeight
        image.drawHeight, image.drawWidth = LOGO_HEIGHT, image.imageWidth * scale
        image.hAlign = "LEFT"
        left += [image, Spacer(1, 2 * mm)]
    left += [para(lab["name"], "lab")]
    left += [para(line.strip(), "small") for line in lab["address"].split("|") if line.strip()]
    left += [Spacer(1, 2 * mm), para(title, "title"), Spacer(1, 1 * mm), para(_("Report number"), "label")]
    number = f"{content['number']} · " + _("version %(version)s") % {"version": content["version"]}
    left.append(para(number, "reference"))
    return Table(
        [[left, QrFlowable(qr_value, TITLE_QR_SIZE)]],
        colWidths=[width - TITLE_QR_SIZE, TITLE_QR_SIZE],
        style=TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        ),
    )


def _summary(content: dict[str, Any]) -> Table:
    case, customer, examination = content["case"], content["customer"], content["examination"]
    offences = [f"{code} {iccs.label(code)}" for code in case["offences"]]
    return field_table(
        [
            (_("Issued"), time_text(content["issued_at"])),
            (_("Customer (agency)"), customer["agency"]),
            (_("Submitting officers"), ", ".join(customer["officers"]) or EMPTY),
            (_("Agency case number"), case["agency_case_number"]),
            (_("Lab case number"), case["lab_number"]),
            (_("Offences"), "; ".join(offences) or EMPTY),
            (_("Case received"), time_text(case["received_at"])),
            (_("Examination started"), time_text(examination["started_at"])),
            (_("Examination completed"), time_text(examination["completed_at"])),
        ],
        content_width(),
    )


def amendment_section(content: dict[str, Any]) -> list[Flowable]:
    amendment = content["amendment"]
    if not amendment:
        return []
    text = _("This version amends and supersedes version %(version)s of this report. Reason: %(reason)s") % {
        "version": amendment["supersedes"],
        "reason": amendment["reason"],
    }
    return [*heading(_("Amendment")), para(text)]


def _items(content: dict[str, Any]) -> list[Flowable]:
    width = content_width()
    rows = []
    for item in content["items"]:
        condition = [choice_text(SealStatus.choices, item["seal_status"])] if item["seal_status"] else []
        condition += [item["condition"]] if item["condition"] else []
        condition += [_("Deviation: %(note)s") % {"note": item["deviation"]}] if item["deviation"] else []
        description = f"{item['description']} ({choice_text(ItemType.choices, item['type'])})"
        if item["seal_number"]:
            description += " · " + _("seal %(number)s") % {"number": item["seal_number"]}
        rows.append([item["label"], description, "; ".join(condition) or EMPTY, time_text(item["received_at"])])
    return [
        *heading(_("Items examined")),
        data_table(
            [_("Item"), _("Description"), _("Condition at receipt"), _("Received")],
            rows,
            [32 * mm, width - 32 * mm - 55 * mm - 30 * mm, 55 * mm, 30 * mm],
        ),
    ]


def _method(content: dict[str, Any]) -> list[Flowable]:
    examination = content["examination"]
    method = examination["method"]
    pairs = [
        (_("Method"), f"{method['code']} v{method['version']} — {method['name']}"),
        (_("Instrument"), examination["instrument"] or EMPTY),
        (_("Reagent lots"), "; ".join(examination["reagent_lots"]) or EMPTY),
        (_("Deviations from the method"), examination["deviations"] or _("None")),
    ]
    return [*heading(_("Method")), field_table(pairs, content_width())]


def _outsourcing_note(content: dict[str, Any]) -> list[Flowable]:
    laboratories = sorted({lab for item in content["items"] for lab in item["external_laboratories"]})
    if not content["request"]["outsourced"] and not laboratories:
        return []
    text = _("OUTSOURCED: these results were obtained by an external laboratory%(where)s.") % {
        "where": f" ({', '.join(laboratories)})" if laboratories else ""
    }
    return [Spacer(1, 2 * mm), para(text, "cell_bold")]


def _results(content: dict[str, Any]) -> list[Flowable]:
    width = content_width()
    specs = fields_for(content["request"]["discipline"])
    rows = []
    for result in content["results"]:
        shown = describe_result(specs, result["data"])
        lines = "\n".join(f"{label}: {value}" for label, value in shown)
        rows.append([result["item"], para(lines, "cell", multiline=True)])
    return [
        *heading(_("Results")),
        data_table(
            [_("Item"), _("Result (with unit and uncertainty where measured)")], rows, [32 * mm, width - 32 * mm]
        ),
        *_outsourcing_note(content),
        Spacer(1, 2 * mm),
        para(_(ITEMS_TESTED_ONLY), "cell_bold"),
    ]


def signatures_section(content: dict[str, Any]) -> list[Flowable]:
    width = content_width()
    rows = []
    for signature in content["signatures"]:
        roles = ", ".join(str(Role(code).label) for code in signature["roles"])
        rows.append(
            [
                signature["name"],
                roles or EMPTY,
                choice_text(SignatureMeaning.choices, signature["meaning"]),
                time_text(signature["signed_at"]),
            ]
        )
    note = _(
        "Electronic signatures: each was given after the signer re-entered their password, and binds the "
        "examination record and results shown above. This PDF also carries the laboratory's digital signature."
    )
    return [
        *heading(_("Authorisation")),
        data_table(
            [_("Name"), _("Role"), _("Meaning"), _("Date and time")],
            rows,
            [50 * mm, 45 * mm, width - 50 * mm - 45 * mm - 32 * mm, 32 * mm],
        ),
        Spacer(1, 2 * mm),
        para(note, "small"),
    ]


def verification_section(content_hash_value: str, url: str) -> list[Flowable]:
    text = _(
        "Check that this report is authentic and current by scanning the QR code on any page, or at %(url)s. "
        "Content fingerprint (SHA-256): %(hash)s"
    ) % {"url": url, "hash": content_hash_value}
    return [Spacer(1, 4 * mm), para(text, "small")]


def render_examination_report(content: dict[str, Any], content_hash_value: str) -> bytes:
    """The PDF of an examination report, in ``content['language']``."""
    url = verification_url(content["number"], content_hash_value)
    with translation.override(content["language"]):
        story: list[Flowable] = [
            letterhead(content, url, _("Examination report") + f" — {_(content['request']['discipline_name'])}"),
            Spacer(1, 4 * mm),
            _summary(content),
            *amendment_section(content),
            *_items(content),
            *_method(content),
            *_results(content),
            *signatures_section(content),
            *verification_section(content_hash_value, settings.FORENSIS_BASE_URL + reverse("reports:verify")),
        ]
        title = _("Examination report")
        reference = f"{content['number']} v{content['version']}"
        footer = f"{content['laboratory']['name']} · {title} {reference} · {content['case']['lab_number']}"
        return build_document(story, title=title, reference=reference, footer=footer, page_qr=url)
