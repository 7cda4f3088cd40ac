"""The printed documents of intake: the submission form the officer brings with the evidence, and the
receipt the laboratory hands back once it has taken custody (ASTM E1492: a signed receipt for the submitter).

Both are rendered in the language active at the time of the call.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer

from forensis.core import iccs
from forensis.core.pdf import (
    EMPTY,
    build_document,
    content_width,
    data_table,
    field_table,
    heading,
    local_time,
    para,
    signature_block,
    title_block,
)
from forensis.evidence.models import SealStatus

from .models import Presence, Submission, SubmissionItem, SubmissionStatus


def _person_name(user) -> str:
    return str(user) if user is not None else EMPTY


def _offences(submission: Submission) -> Flowable:
    codes = submission.offence_codes or []
    if not codes:
        return para(EMPTY, "cell")
    return para("\n".join(f"{code} — {iccs.label(code)}" for code in codes), "cell", multiline=True)


def _items(submission: Submission) -> list[SubmissionItem]:
    return list(submission.items.select_related("item").prefetch_related("disciplines"))


def _printed_footer(reference: str) -> str:
    return _("%(reference)s · printed %(time)s (%(zone)s)") % {
        "reference": reference,
        "time": local_time(timezone.now()),
        "zone": settings.TIME_ZONE,
    }


# --- submission form ------------------------------------------------------------------------------


def render_submission_form(submission: Submission) -> bytes:
    """The printable submission form (Letter): what the officer brings to the counter with the evidence.

    Its QR code holds exactly the submission reference, which a scanner types into the reception search.
    """
    width = content_width()
    title = _("Evidence submission form")
    story: list[Flowable] = [
        title_block(title, _("Submission number"), submission.reference, qr_value=submission.reference),
        Spacer(1, 4 * mm),
    ]

    status = submission.get_status_display()
    if submission.status == SubmissionStatus.DRAFT:
        status = _("%(status)s — not yet submitted to the laboratory") % {"status": status}
    story += heading(_("Submission"))
    story.append(
        field_table(
            [
                (_("Agency"), submission.agency.name),
                (_("Submitting officer"), _person_name(submission.submitting_officer)),
                (_("Agency case number"), submission.agency_case_number),
                (_("Status"), status),
                (_("Submitted"), local_time(submission.submitted_at)),
            ],
            width,
        )
    )

    story += heading(_("Offences and incident"))
    story.append(
        field_table(
            [
                (_("Offences (ICCS)"), _offences(submission)),
                (_("Incident date and time"), local_time(submission.incident_at)),
                (_("Place"), submission.place or EMPTY),
            ],
            width,
        )
    )

    story += heading(_("Narrative"))
    story.append(para(submission.narrative, "body", multiline=True))

    people = list(submission.people.all())
    story += heading(_("People involved"))
    if people:
        story.append(
            data_table(
                [_("Role"), _("Name"), _("Sex"), _("Age")],
                [
                    [p.get_role_display(), p.name, p.get_sex_display(), EMPTY if p.age is None else p.age]
                    for p in people
                ],
                [45 * mm, width - 45 * mm - 30 * mm - 18 * mm, 30 * mm, 18 * mm],
            )
        )
    else:
        story.append(para(_("None listed."), "body"))

    items = _items(submission)
    story += heading(_("Items"))
    if items:
        widths = [9 * mm, 25 * mm, 0, 11 * mm, 25 * mm, 22 * mm, 32 * mm]
        widths[2] = width - sum(widths)
        story.append(
            data_table(
                [
                    "#",
                    _("Type"),
                    _("Description"),
                    _("Qty"),
                    _("Packaging"),
                    _("Seal number"),
                    _("Requested examinations"),
                ],
                [
                    [
                        i.position,
                        i.get_type_display(),
                        i.description,
                        i.quantity,
                        i.packaging,
                        i.seal_number,
                        ", ".join(str(d) for d in i.disciplines.all()),
                    ]
                    for i in items
                ],
                widths,
            )
        )
    else:
        story.append(para(_("None listed."), "body"))

    story.append(signature_block(_("Submitted by"), _("Received by")))
    return build_document(
        story, title=title, reference=submission.reference, footer=_printed_footer(submission.reference)
    )


# --- receipt --------------------------------------------------------------------------------------


def _deviation_text(listed: SubmissionItem) -> str:
    reasons = []
    if listed.presence in (Presence.MISSING, Presence.EXTRA):
        reasons.append(str(listed.get_presence_display()))
    if listed.seal_status == SealStatus.BROKEN or (listed.seal_number and listed.seal_status == SealStatus.NONE):
        reasons.append(str(listed.get_seal_status_display()))
    if listed.deviation_note:
        reasons.append(listed.deviation_note)
    return "; ".join(reasons)


def render_receipt(submission: Submission) -> bytes:
    """The receipt for the submitter once the laboratory has taken custody (ASTM E1492).

    Raises ``ValueError`` if the submission has not been received.
    """
    if submission.status != SubmissionStatus.RECEIVED:
        raise ValueError(f"Submission {submission.reference} is not received yet: there is no receipt to print.")
    width = content_width()
    title = _("Evidence receipt")
    items = _items(submission)
    first_events = []
    for listed in items:
        if listed.item_id:
            event = listed.item.custody_events.order_by("sequence").first()
            if event is not None:
                first_events.append(event)
    handed_over = list(dict.fromkeys(e.released_by_name for e in first_events if e.released_by_name))
    received_by = _person_name(submission.received_by)
    received_at = local_time(submission.received_at)

    story: list[Flowable] = [
        title_block(title, _("Receipt number"), submission.receipt_number),
        Spacer(1, 4 * mm),
        field_table(
            [
                (_("Lab case number"), submission.case.lab_number if submission.case else EMPTY),
                (_("Submission number"), submission.reference),
                (_("Agency"), submission.agency.name),
                (_("Agency case number"), submission.agency_case_number),
                (_("Handed over by"), ", ".join(handed_over) or EMPTY),
                (_("Received by"), received_by),
                (_("Time of receipt"), received_at),
            ],
            width,
        ),
    ]

    story += heading(_("Items"))
    widths = [40 * mm, 0, 24 * mm, 24 * mm, 30 * mm, 22 * mm]
    widths[1] = width - sum(widths)
    story.append(
        data_table(
            [_("Item number"), _("Description"), _("Seal number"), _("Seal"), _("Condition"), _("Present?")],
            [
                [
                    listed.item.label if listed.item_id else EMPTY,
                    listed.description,
                    listed.seal_number,
                    listed.get_seal_status_display() if listed.seal_status else EMPTY,
                    listed.condition,
                    listed.get_presence_display() if listed.presence else EMPTY,
                ]
                for listed in items
            ],
            widths,
        )
    )

    story += heading(_("Deviations at receipt"))
    deviations = [listed for listed in items if listed.deviation]
    if deviations:
        story.append(
            data_table(
                [_("Item"), _("Item number"), _("Deviation")],
                [
                    [listed.position, listed.item.label if listed.item_id else EMPTY, _deviation_text(listed)]
                    for listed in deviations
                ],
                [14 * mm, 40 * mm, width - 54 * mm],
            )
        )
    else:
        story.append(para(_("None recorded."), "body"))

    story += heading(_("Acknowledgement"))
    acknowledged = bool(first_events) and all(
        e.acknowledged_by_releaser and e.acknowledged_by_receiver for e in first_events
    )
    if acknowledged:
        text = _(
            "%(released)s (handing over) and %(received)s (receiving) confirmed this transfer of custody "
            "electronically at %(time)s (%(zone)s)."
        )
    else:
        text = _(
            "This transfer of custody from %(released)s to %(received)s at %(time)s (%(zone)s) was not "
            "confirmed electronically by both parties; it must be signed below."
        )
    story.append(
        para(
            text
            % {
                "released": ", ".join(handed_over) or EMPTY,
                "received": received_by,
                "time": received_at,
                "zone": settings.TIME_ZONE,
            },
            "body",
        )
    )
    if not acknowledged:
        story.append(signature_block(_("Handed over by"), _("Received by")))
    return build_document(
        story, title=title, reference=submission.receipt_number, footer=_printed_footer(submission.receipt_number)
    )
