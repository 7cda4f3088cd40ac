"""The autopsy report, the cause-of-death certificate and the body release form as PDF.

The report and the certificate are rendered from ``deaths.content`` (and only from it) with the same letterhead,
amendment note, signatures and verification text as examination reports; the release form is a paper record the
person collecting the body signs.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, Spacer

from forensis.core import iccs
from forensis.core.pdf import (
    EMPTY,
    build_document,
    content_width,
    data_table,
    field_table,
    heading,
    para,
    signature_block,
    title_block,
)
from forensis.core.vocabulary import District, Sex
from forensis.lab.models import RequestStatus
from forensis.lab.results import describe_result, fields_for
from forensis.reports.content import report_language
from forensis.reports.documents import (
    amendment_section,
    choice_text,
    letterhead,
    signatures_section,
    time_text,
    verification_section,
    verification_url,
)

from .models import AutopsyType, BodyReceiver, BodyRelease, DeathInvestigation, Manner, Mechanism, Pregnancy


def _age(decedent: dict[str, Any]) -> str:
    if decedent["age"] is not None:
        return _("%(age)s years") % {"age": decedent["age"]}
    if decedent["age_min"] is not None or decedent["age_max"] is not None:
        return _("estimated %(low)s–%(high)s years") % {
            "low": decedent["age_min"] if decedent["age_min"] is not None else "?",
            "high": decedent["age_max"] if decedent["age_max"] is not None else "?",
        }
    return _("Unknown")


def _name(decedent: dict[str, Any]) -> str:
    if decedent["identified"] and decedent["name"]:
        return decedent["name"]
    return _("Unidentified (tag %(tag)s)") % {"tag": decedent["tag_number"] or EMPTY}


def _death_time(decedent: dict[str, Any]) -> str:
    shown = time_text(decedent["death_at"])
    if decedent["death_at"] and decedent["death_time_estimated"]:
        shown += " " + _("(estimated)")
    return shown


def _summary(content: dict[str, Any]) -> Flowable:
    case, decedent = content["case"], content["decedent"]
    offences = [f"{code} {iccs.label(code)}" for code in case["offences"]]
    return field_table(
        [
            (_("Issued"), time_text(content["issued_at"])),
            (_("Death investigation"), decedent["number"]),
            (_("Requesting agency"), content["customer"]["agency"]),
            (_("Agency case number"), case["agency_case_number"]),
            (_("Lab case number"), case["lab_number"]),
            (_("Offences"), "; ".join(offences) or EMPTY),
        ],
        content_width(),
    )


def _decedent(content: dict[str, Any]) -> list[Flowable]:
    decedent = content["decedent"]
    pairs = [
        (_("Name"), _name(decedent)),
        (_("Sex"), choice_text(Sex.choices, decedent["sex"])),
        (_("Age"), _age(decedent)),
        (_("Nationality"), decedent["nationality"] or EMPTY),
        (_("Pregnancy status"), choice_text(Pregnancy.choices, decedent["pregnancy"])),
        (_("Date and time of death"), _death_time(decedent)),
        (_("Place of death"), f"{decedent['death_place']}, {choice_text(District.choices, decedent['district'])}"),
        (_("Date and time of discovery"), time_text(decedent["discovered_at"])),
        (_("Place of discovery"), decedent["discovery_place"] or EMPTY),
    ]
    return [*heading(_("The deceased")), field_table(pairs, content_width())]


def _cause_rows(autopsy: dict[str, Any]) -> list[list[Any]]:
    names = {
        "immediate": _("(a) Immediate cause"),
        "antecedent": _("(b) Due to (antecedent cause)"),
        "underlying": _("(c) Underlying cause"),
    }
    rows = []
    for cause in autopsy["causes"]:
        code = f"{cause['code']} — {cause['title']}" if cause["code"] else EMPTY
        rows.append([names[cause["line"]], para(cause["text"] or EMPTY, "cell"), para(code, "cell")])
    return rows


def _cause_of_death(content: dict[str, Any]) -> list[Flowable]:
    width = content_width()
    autopsy = content["autopsy"]
    # Part I and Part II read as one statement: kept on one page.
    return [
        CondPageBreak(70 * mm),
        *heading(_("Cause of death")),
        data_table(
            [_("Part I"), _("Condition"), _("ICD-10")],
            _cause_rows(autopsy),
            [45 * mm, width - 45 * mm - 60 * mm, 60 * mm],
        ),
        Spacer(1, 2 * mm),
        field_table(
            [
                (_("Part II: contributing conditions"), autopsy["contributing_conditions"] or _("None")),
                (_("Manner of death"), choice_text(Manner.choices, autopsy["manner"])),
                (_("Mechanism"), choice_text(Mechanism.choices, autopsy["mechanism"])),
            ],
            width,
        ),
    ]


def _examination(content: dict[str, Any]) -> list[Flowable]:
    autopsy, body = content["autopsy"], content["body"]
    method = autopsy["method"]
    pairs = [
        (_("Date of the autopsy"), autopsy["performed_on"]),
        (_("Type"), choice_text(AutopsyType.choices, autopsy["type"])),
        (_("Pathologist"), autopsy["pathologist"]),
        (_("Method"), f"{method['code']} v{method['version']} — {method['name']}"),
        (
            _("Body"),
            body["label"]
            + (f" · {_('seal %(number)s') % {'number': body['seal_number']}}" if body["seal_number"] else ""),
        ),
        (_("Received at the morgue"), time_text(body["received_at_morgue"])),
        (_("Condition on arrival"), body["condition"] or EMPTY),
    ]
    return [
        *heading(_("Examination")),
        field_table(pairs, content_width()),
        Spacer(1, 3 * mm),
        *heading(_("Summary of findings"), "subheading"),
        para(autopsy["findings"], multiline=True),
    ]


def _ancillary(content: dict[str, Any]) -> list[Flowable]:
    if not content["ancillary"]:
        return []
    width = content_width()
    rows = []
    for test in content["ancillary"]:
        if test["status"] == RequestStatus.RELEASED:
            specs = fields_for(test["discipline"])
            lines = [
                f"{result['item']}: "
                + "; ".join(f"{label}: {value}" for label, value in describe_result(specs, result["data"]))
                for result in test["results"]
            ]
            shown = "\n".join(lines) + (f"\n{_('Report')} {', '.join(test['reports'])}" if test["reports"] else "")
        else:
            shown = _("Pending")
        rows.append([_(test["discipline_name"]), ", ".join(test["items"]), para(shown, "cell", multiline=True)])
    return [
        *heading(_("Tests requested at autopsy")),
        data_table([_("Test"), _("Samples"), _("Result")], rows, [35 * mm, 40 * mm, width - 75 * mm]),
    ]


def _render(content: dict[str, Any], content_hash_value: str, title: str, sections: list[Flowable]) -> bytes:
    url = verification_url(content["number"], content_hash_value)
    story: list[Flowable] = [
        letterhead(content, url, title),
        Spacer(1, 4 * mm),
        _summary(content),
        *amendment_section(content),
        *sections,
        *signatures_section(content),
        *verification_section(content_hash_value, settings.FORENSIS_BASE_URL + reverse("reports:verify")),
    ]
    reference = f"{content['number']} v{content['version']}"
    footer = f"{content['laboratory']['name']} · {title} {reference} · {content['case']['lab_number']}"
    return build_document(story, title=title, reference=reference, footer=footer, page_qr=url)


def render_autopsy_report(content: dict[str, Any], content_hash_value: str) -> bytes:
    """The PDF of an autopsy report, in ``content['language']``."""
    with translation.override(content["language"]):
        sections = [*_decedent(content), *_examination(content), *_cause_of_death(content), *_ancillary(content)]
        return _render(content, content_hash_value, _("Autopsy report"), sections)


def render_death_certificate(content: dict[str, Any], content_hash_value: str) -> bytes:
    """The PDF of a cause-of-death certificate (medical certification in the WHO two-part form)."""
    with translation.override(content["language"]):
        autopsy = content["autopsy"]
        certified = _("Certified by %(pathologist)s after %(type)s on %(date)s.") % {
            "pathologist": autopsy["pathologist"],
            "type": choice_text(AutopsyType.choices, autopsy["type"]).lower(),
            "date": autopsy["performed_on"],
        }
        sections = [*_decedent(content), *_cause_of_death(content), Spacer(1, 3 * mm), para(certified)]
        return _render(content, content_hash_value, _("Cause-of-death certificate"), sections)


#: What a blank release form leaves for the person collecting the body to write in by hand.
BLANK = "_" * 40


def _release_pairs(release: BodyRelease | None) -> list[tuple[str, str]]:
    """Who took the body, as recorded; on a blank form, lines to fill in by hand."""
    if release is None:
        return [
            (_("Released to"), f"{BLANK}  ☐ {BodyReceiver.FUNERAL_HOME.label}  ☐ {BodyReceiver.FAMILY.label}"),
            (_("Funeral home or relationship"), BLANK),
            (_("Identity document"), BLANK),
        ]
    event = release.custody_event
    return [
        (_("Released to"), f"{release.receiver_name} ({release.get_receiver_kind_display()})"),
        (
            _("Funeral home") if release.organisation else _("Relationship"),
            release.organisation or release.relationship,
        ),
        (_("Identity document"), release.identity_document),
        (_("Released by"), str(release.released_by)),
        (_("Date and time"), timezone.localtime(release.released_at).strftime("%Y-%m-%d %H:%M")),
        (_("Custody record"), f"#{event.sequence} · {event.hash[:16]}"),
    ]


def render_body_release_form(investigation: DeathInvestigation, release: BodyRelease | None = None) -> bytes:
    """The paper the person collecting the body signs, in the agency's report language: blank before the release
    (printed for signing), or with the release as recorded."""
    with translation.override(report_language(investigation.case)):
        pairs = [
            (_("Death investigation"), investigation.number),
            (_("Lab case number"), investigation.case.lab_number),
            (_("Deceased"), investigation.decedent),
            (_("Body"), investigation.body.label),
            *_release_pairs(release),
        ]
        statement = _(
            "I received the body described above from the medical examiner's office of %(lab)s and take "
            "responsibility for it from the date and time of my signature."
        ) % {"lab": settings.FORENSIS_LAB_NAME}
        story = [
            title_block(_("Body release form"), _("Death investigation"), investigation.number),
            Spacer(1, 4 * mm),
            field_table(pairs, content_width()),
            Spacer(1, 4 * mm),
            para(statement),
            signature_block(_("Person collecting the body"), _("Released by")),
        ]
        return build_document(story, title=_("Body release form"), reference=investigation.number)
