"""The discovery packet of a case: one download with everything the laboratory holds on it, for the prosecutor
(who discloses it to the defence).

A ZIP holding ``packet.pdf`` (case summary, every report version, each item's full chain of custody, every
examination record with its results, attachments, signatures, reviews and transitions, the methods used and an
extract of the audit log), the original files byte for byte as stored (signed report PDFs, examination
attachments, external laboratories' results), and a manifest (``manifest.json`` and ``MANIFEST.txt``) of the
SHA-256 and size of every other file. For a stored file the manifest also gives the SHA-256 recorded when it was
stored and says plainly when the file no longer matches it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import F, Q, QuerySet
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer

from forensis.accounts.models import User
from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent, Outcome
from forensis.audit.services import record
from forensis.cases.models import Case
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
    title_block,
)
from forensis.evidence.documents import CUSTODY_PAGE, custody_notes, custody_sections, printed_footer
from forensis.evidence.models import Item, Shipment, ShipmentResult
from forensis.lab.models import (
    Attachment,
    ChecklistQuestion,
    Examination,
    Method,
    Result,
    Review,
    ServiceRequest,
)
from forensis.lab.results import describe_result, fields_for
from forensis.lab.services import STAGE_TIMESTAMPS

from .models import Report, ReportVersion

logger = logging.getLogger(__name__)

PACKET_PDF = "packet.pdf"
MANIFEST_JSON = "manifest.json"
MANIFEST_TEXT = "MANIFEST.txt"
MANIFEST_FORMAT = "forensis-discovery-packet/1"

#: Status of a stored file in the manifest (codes in manifest.json), and the words that flag it in MANIFEST.txt.
OK, CHANGED, MISSING = "ok", "changed", "missing"
FLAGS = {CHANGED: gettext_lazy("CHANGED SINCE STORED"), MISSING: gettext_lazy("MISSING FROM STORAGE")}

#: The longest file name written into the packet (extension included).
MAX_NAME = 120
#: Characters no file name in the packet may contain (path separators, control and Windows-reserved characters).
_UNSAFE_CHARACTERS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)), *(f"LPT{n}" for n in range(1, 10))}

#: Role code → its name, for the roles written with each audit entry.
ROLE_NAMES = dict(Role.choices)

#: The page of the packet: landscape, so each item's custody table (from the custody report) fits.
PAGE = CUSTODY_PAGE


# --- file names -------------------------------------------------------------------------------------


def safe_name(name: str, fallback: str = "file") -> str:
    """``name`` as one harmless path component: no folders, no "..", no control or reserved characters, at most
    ``MAX_NAME`` characters with its extension kept; ``fallback`` when nothing usable is left."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_CHARACTERS.sub("_", name)
    name = re.sub(r"\.{2,}", ".", name).strip(" .")
    stem, extension = os.path.splitext(name)
    if len(extension) > 16:  # not an extension, just a dot in a long name
        stem, extension = name, ""
    stem = stem[: MAX_NAME - len(extension)].rstrip(" .")
    if stem.upper() in _WINDOWS_RESERVED:
        stem = f"_{stem}"
    return f"{stem}{extension}" if stem else f"{fallback}{extension}"


def unique_path(folder: str, name: str, taken: set[str]) -> str:
    """``folder/name``, or ``folder/stem (2).ext`` and so on when that path (in any letter case) is taken."""
    stem, extension = os.path.splitext(name)
    path, n = f"{folder}/{name}", 2
    while path.lower() in taken:
        path, n = f"{folder}/{stem} ({n}){extension}", n + 1
    taken.add(path.lower())
    return path


# --- what goes in the packet ------------------------------------------------------------------------


@dataclass(frozen=True)
class PacketFile:
    """A stored file copied into the packet: where it goes, and what was recorded when it was stored."""

    path: str
    kind: str  # "report", "attachment" or "external-result"
    obj: ReportVersion | Attachment | ShipmentResult
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def stored(self) -> FieldFile:
        return self.obj.file

    @property
    def recorded_sha256(self) -> str:
        return self.obj.sha256

    @property
    def recorded_size(self) -> int:
        return self.obj.size

    @property
    def key(self) -> tuple[str, int]:
        return self.obj._meta.label_lower, self.obj.pk


def report_versions(case: Case) -> QuerySet[ReportVersion]:
    """Every version of every report of ``case``, superseded ones too, by report number and version."""
    return (
        ReportVersion.objects.filter(report__case=case)
        .select_related("report", "issued_by")
        .order_by("report__number", "version")
    )


def case_items(case: Case) -> list[Item]:
    """The case's items and sub-items in number order (a parent before its sub-items on every database)."""
    return list(
        Item.objects.filter(case=case)
        .select_related("case", "location")
        .order_by("number", F("sub_number").asc(nulls_first=True), "pk")
    )


def case_requests(case: Case) -> list[ServiceRequest]:
    return list(
        ServiceRequest.objects.filter(case=case)
        .select_related("discipline", "assigned_to", "case")
        .prefetch_related("items")
        .order_by("requested_at", "pk")
    )


def case_shipments(case: Case) -> QuerySet[Shipment]:
    """The shipments to external laboratories that held an item of ``case``."""
    return Shipment.objects.filter(pk__in=Shipment.objects.filter(items__case=case).values("pk")).order_by(
        "reference", "pk"
    )


def _report_files(case: Case, taken: set[str]) -> list[PacketFile]:
    return [
        PacketFile(
            unique_path("reports", safe_name(version.filename, "report.pdf"), taken),
            "report",
            version,
            {"report": version.report.number, "version": version.version},
        )
        for version in report_versions(case)
    ]


def _attachment_files(case: Case, taken: set[str]) -> list[PacketFile]:
    attachments = (
        Attachment.objects.filter(examination__request__case=case)
        .select_related("examination__request__discipline")
        .order_by("examination__request__requested_at", "examination__request_id", "pk")
    )
    files = []
    for attachment in attachments:
        request = attachment.examination.request
        folder = f"attachments/{request.pk}-{safe_name(request.discipline.code, 'discipline')}"
        path = unique_path(folder, safe_name(attachment.original_name, "attachment"), taken)
        files.append(PacketFile(path, "attachment", attachment, {"original_name": attachment.original_name}))
    return files


def _external_result_files(case: Case, taken: set[str]) -> list[PacketFile]:
    """Result files of the case's shipments. A shipment that also carried other cases' items is left out: its
    file may name their people, and a packet goes to the defence. Its shipment is still listed in the PDF."""
    mixed = Shipment.objects.filter(items__in=Item.objects.exclude(case=case)).values("pk")
    results = (
        ShipmentResult.objects.filter(shipment__in=case_shipments(case))
        .exclude(shipment__in=mixed)
        .select_related("shipment")
        .order_by("shipment__reference", "pk")
    )
    files = []
    for result in results:
        folder = f"external-results/{safe_name(result.shipment.reference, 'shipment')}"
        path = unique_path(folder, safe_name(result.original_name, "result"), taken)
        details = {"shipment": result.shipment.reference, "original_name": result.original_name}
        files.append(PacketFile(path, "external-result", result, details))
    return files


def packet_files(case: Case) -> list[PacketFile]:
    """The stored files of ``case`` that go into its packet, each with its path there, in packet order."""
    taken = {PACKET_PDF, MANIFEST_JSON, MANIFEST_TEXT.lower()}
    return [*_report_files(case, taken), *_attachment_files(case, taken), *_external_result_files(case, taken)]


# --- the PDF: shared pieces -------------------------------------------------------------------------


def _width() -> float:
    return content_width(PAGE)


def _hash(value: str) -> Flowable:
    """A SHA-256 in four groups of 16, so it wraps in a narrow column and is still read off easily."""
    if not value:
        return para(EMPTY, "small")
    return para(" ".join(value[i : i + 16] for i in range(0, len(value), 16)), "small")


def _person(user: User | None) -> str:
    return str(user) if user else EMPTY


def _lines(pairs: Iterable[tuple[str, str]]) -> Flowable:
    return para("\n".join(f"{label}: {value}" for label, value in pairs) or EMPTY, "cell", multiline=True)


def _columns(*fixed_mm: float) -> list[float]:
    """Column widths: the given ones (in mm), and the rest of the page for the one given as 0."""
    widths = [value * mm for value in fixed_mm]
    widths[widths.index(0)] = _width() - sum(widths)
    return widths


def _subheading(text: str) -> list[Flowable]:
    """The heading of a part of a section, kept with the start of its table."""
    return [*heading(text, "subheading"), Spacer(1, 1 * mm)]


def _none(text: str) -> list[Flowable]:
    return [para(text, "body")]


# --- the PDF: sections ------------------------------------------------------------------------------


def _case_summary(case: Case, items: Sequence[Item]) -> list[Flowable]:
    offences = [f"{code} {iccs.label(code)}" for code in case.offences.values_list("code", flat=True)]
    submissions = case.submissions.select_related("submitting_officer")
    officers = sorted({str(s.submitting_officer) for s in submissions if s.submitting_officer_id})
    contacts = [
        f"{contact.get_role_display()}: {contact.name}, {contact.agency.name} <{contact.email}>"
        for contact in case.contacts.select_related("agency")
    ]
    incident = " · ".join(part for part in (local_time(case.incident_at), case.place) if part and part != EMPTY)
    pairs = [
        (_("Lab case number"), case.lab_number),
        (_("Agency"), case.agency.name),
        (_("Agency case number"), case.agency_case_number),
        (_("Received"), local_time(case.received_at)),
        (_("Offences"), "; ".join(offences) or EMPTY),
        (_("Incident"), incident or EMPTY),
        (_("Submitting officers"), ", ".join(officers) or EMPTY),
        (_("Contacts"), para("\n".join(contacts) or EMPTY, "cell", multiline=True)),
        (_("Items"), ", ".join(item.label for item in items) or _("None.")),
        (_("Packet printed"), local_time(timezone.now())),
    ]
    return [*heading(_("Case summary")), field_table(pairs, _width(), label_width=50 * mm)]


def _reports_section(case: Case, paths: dict[tuple[str, int], str]) -> list[Flowable]:
    story = heading(_("Reports"))
    versions = list(report_versions(case))
    if not versions:
        return story + _none(_("No report has been issued in this case."))
    rows = [
        [
            version.report.number,
            version.version,
            local_time(version.issued_at),
            _person(version.issued_by),
            _("Current")
            if version.is_current
            else _("Superseded %(time)s") % {"time": local_time(version.superseded_at)},
            _hash(version.sha256),
            para(version.amendment_reason or EMPTY, "cell", multiline=True),
            paths.get((version._meta.label_lower, version.pk), EMPTY),
        ]
        for version in versions
    ]
    headers = [
        _("Report number"),
        _("Version"),
        _("Issued"),
        _("Issued by"),
        _("Status"),
        _("SHA-256 of the PDF"),
        _("Reason for the amendment"),
        _("File in this packet"),
    ]
    note = _(
        "Each version's signed PDF is in this packet exactly as it was issued; its SHA-256 must match the one above "
        "and the one in the manifest."
    )
    return story + [
        data_table(headers, rows, _columns(38, 17, 26, 32, 28, 34, 0, 52)),
        Spacer(1, 2 * mm),
        para(note, "small"),
    ]


def _custody_section(items: Sequence[Item]) -> list[Flowable]:
    story = heading(_("Items and their chain of custody"))
    if not items:
        return story + _none(_("No items are recorded for this case."))
    return story + custody_sections(items, _width()) + custody_notes()


#: The stage timestamps of a request, in workflow order (a send-back clears the later ones).
STAGE_FIELDS = ("requested_at", *STAGE_TIMESTAMPS)


def _stage_times(request: ServiceRequest) -> list[tuple[str, str]]:
    """Each stage's time, labelled with the model's own field names; the cancellation only when cancelled."""
    names = STAGE_FIELDS + (("cancelled_at",) if request.cancelled_at else ())
    return [
        (capfirst(ServiceRequest._meta.get_field(name).verbose_name), local_time(getattr(request, name)))
        for name in names
    ]


def _request_fields(request: ServiceRequest, examination: Examination | None) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = [
        (_("Discipline"), str(request.discipline)),
        (_("Items"), ", ".join(sorted(item.label for item in request.items.all())) or EMPTY),
        (_("Status"), request.get_status_display()),
        (_("Priority"), request.get_priority_display()),
        (_("Analyst"), _person(request.assigned_to)),
        *_stage_times(request),
    ]
    if request.cancel_reason:
        pairs.append((_("Reason for cancelling"), request.cancel_reason))
    if examination is None:
        return pairs + [(_("Examination"), _("Not started."))]
    method = examination.method
    lots = "; ".join(str(lot) for lot in examination.reagent_lots.order_by("reagent", "lot_number"))
    return pairs + [
        (_("Examination recorded by"), _person(examination.analyst)),
        (_("Examination started"), local_time(examination.started_at)),
        (_("Method"), f"{method.code} v{method.version} — {method.name}"),
        (_("Instrument"), str(examination.instrument) if examination.instrument else EMPTY),
        (_("Reagent lots"), lots or EMPTY),
        (_("Worksheet"), examination.worksheet.reference if examination.worksheet else EMPTY),
        (_("Notes"), para(examination.notes or EMPTY, "cell", multiline=True)),
        (_("Deviations from the method"), para(examination.deviations or _("None"), "cell", multiline=True)),
    ]


def _results_table(request: ServiceRequest, examination: Examination) -> list[Flowable]:
    results = (
        Result.objects.filter(examination=examination)
        .select_related("item", "recorded_by")
        .order_by("item__number", F("item__sub_number").asc(nulls_first=True), "item_id", "version")
    )
    specs = fields_for(request.discipline.code)
    rows = [
        [
            result.item.label,
            result.version,
            _("Current") if result.is_current else _("Superseded"),
            _lines(describe_result(specs, result.data)),
            _person(result.recorded_by),
            local_time(result.recorded_at),
            para(result.change_reason or EMPTY, "cell", multiline=True),
        ]
        for result in results
    ]
    story = _subheading(_("Results (every version)"))
    if not rows:
        return story + _none(_("No results recorded."))
    headers = [
        _("Item"),
        _("Version"),
        _("Status"),
        _("Result"),
        _("Recorded by"),
        _("Recorded"),
        _("Reason for the change"),
    ]
    return story + [data_table(headers, rows, _columns(36, 17, 22, 0, 36, 26, 55))]


def _attachments_table(examination: Examination, paths: dict[tuple[str, int], str]) -> list[Flowable]:
    attachments = examination.attachments.select_related("uploaded_by").order_by("pk")
    rows = [
        [
            attachment.original_name,
            attachment.size,
            _person(attachment.uploaded_by),
            local_time(attachment.uploaded_at),
            _hash(attachment.sha256),
            paths.get((attachment._meta.label_lower, attachment.pk), EMPTY),
        ]
        for attachment in attachments
    ]
    story = _subheading(_("Attachments"))
    if not rows:
        return story + _none(_("No files attached."))
    headers = [
        _("File"),
        _("Bytes"),
        _("Uploaded by"),
        _("Uploaded"),
        _("SHA-256 recorded at upload"),
        _("File in this packet"),
    ]
    return story + [data_table(headers, rows, _columns(0, 20, 36, 26, 34, 62))]


def _signatures_table(request: ServiceRequest) -> list[Flowable]:
    rows = [
        [
            signature.signer_name,
            signature.get_meaning_display(),
            local_time(signature.signed_at),
            _hash(signature.content_hash),
        ]
        for signature in request.signatures.order_by("signed_at", "pk")
    ]
    story = _subheading(_("Electronic signatures"))
    if not rows:
        return story + _none(_("No signatures."))
    headers = [_("Name"), _("Meaning"), _("Date and time"), _("Hash of what was signed")]
    return story + [data_table(headers, rows, _columns(0, 55, 30, 40))]


def _checklist(review: Review, questions: dict[str, str]) -> Flowable:
    answers = [
        (questions.get(str(key), f"#{key}"), _("Yes") if answer else _("No"))
        for key, answer in review.checklist.items()
    ]
    return _lines(answers)


def _reviews_table(request: ServiceRequest) -> list[Flowable]:
    reviews = list(request.reviews.select_related("reviewer").order_by("reviewed_at", "pk"))
    keys = {str(key) for review in reviews for key in review.checklist}
    numeric = [int(key) for key in keys if key.isdigit()]
    questions = {str(q.pk): q.text for q in ChecklistQuestion.objects.filter(pk__in=numeric)}
    rows = [
        [
            review.get_stage_display(),
            _person(review.reviewer),
            _("Approved") if review.approved else _("Sent back"),
            para(review.reason or EMPTY, "cell", multiline=True),
            _checklist(review, questions),
            local_time(review.reviewed_at),
        ]
        for review in reviews
    ]
    story = _subheading(_("Reviews"))
    if not rows:
        return story + _none(_("No reviews."))
    headers = [_("Review"), _("Reviewer"), _("Decision"), _("Reason"), _("Checklist answers"), _("Date and time")]
    return story + [data_table(headers, rows, _columns(36, 36, 24, 50, 0, 26))]


def _transitions_table(request: ServiceRequest) -> list[Flowable]:
    rows = [
        [
            local_time(transition.at),
            transition.get_from_status_display(),
            transition.get_to_status_display(),
            _person(transition.actor),
            para(transition.reason or EMPTY, "cell", multiline=True),
        ]
        for transition in request.transitions.select_related("actor").order_by("at", "pk")
    ]
    story = _subheading(_("Stages (every change)"))
    if not rows:
        return story + _none(_("No changes of stage."))
    headers = [_("Date and time"), _("From"), _("To"), _("By"), _("Reason")]
    return story + [data_table(headers, rows, _columns(26, 55, 55, 36, 0))]


def _request_section(request: ServiceRequest, paths: dict[tuple[str, int], str]) -> list[Flowable]:
    examination = (
        Examination.objects.filter(request=request)
        .select_related("method", "instrument", "analyst", "worksheet")
        .first()
    )
    labels = ", ".join(sorted(item.label for item in request.items.all()))
    story = heading(_("Examination: %(discipline)s (%(items)s)") % {"discipline": request.discipline, "items": labels})
    story.append(field_table(_request_fields(request, examination), _width(), label_width=55 * mm))
    if examination is not None:
        story += _results_table(request, examination) + _attachments_table(examination, paths)
    return story + _signatures_table(request) + _reviews_table(request) + _transitions_table(request)


def _examinations_section(requests: Sequence[ServiceRequest], paths: dict[tuple[str, int], str]) -> list[Flowable]:
    if not requests:
        return heading(_("Examinations")) + _none(_("No examination was requested in this case."))
    return [flowable for request in requests for flowable in _request_section(request, paths)]


def _methods_section(case: Case) -> list[Flowable]:
    methods = Method.objects.filter(examination__request__case=case).select_related("discipline").distinct()
    rows = [
        [method.code, method.version, method.name, str(method.discipline), str(method.effective_from)]
        for method in methods.order_by("code", "version")
    ]
    story = heading(_("Methods used"))
    if not rows:
        return story + _none(_("No method has been used in this case yet."))
    headers = [_("Code"), _("Version"), _("Name"), _("Discipline"), _("Effective from")]
    return story + [data_table(headers, rows, _columns(40, 20, 0, 45, 30))]


def _shipments_section(case: Case) -> list[Flowable]:
    shipments = list(case_shipments(case))
    if not shipments:
        return []
    rows = []
    for shipment in shipments:
        labels = shipment.items.filter(case=case).order_by("number", F("sub_number").asc(nulls_first=True))
        rows.append(
            [
                shipment.reference,
                shipment.laboratory,
                shipment.get_status_display(),
                local_time(shipment.shipped_at),
                local_time(shipment.returned_at),
                ", ".join(item.label for item in labels),
            ]
        )
    headers = [_("Shipment number"), _("External laboratory"), _("Status"), _("Shipped"), _("Returned"), _("Items")]
    return heading(_("External laboratories")) + [data_table(headers, rows, _columns(32, 0, 36, 26, 26, 60))]


def _files_section(files: Sequence[PacketFile]) -> list[Flowable]:
    story = heading(_("Files in this packet"))
    rows = [[file.path, file.recorded_size, _hash(file.recorded_sha256)] for file in files]
    text = _(
        "Besides this document, the packet holds the files below, byte for byte as the laboratory stored them. "
        "%(json)s and %(text)s give the SHA-256 and size of every file in the packet as it was assembled, and say "
        "when a stored file no longer matches the SHA-256 recorded when it was stored."
    ) % {"json": MANIFEST_JSON, "text": MANIFEST_TEXT}
    story.append(para(text, "body"))
    if not rows:
        return story
    headers = [_("File in this packet"), _("Bytes"), _("SHA-256 recorded when stored")]
    return story + [Spacer(1, 2 * mm), data_table(headers, rows, _columns(0, 24, 40))]


def audit_objects(case: Case, items: Sequence[Item], requests: Sequence[ServiceRequest]) -> dict[str, list[int]]:
    """The objects whose audit events belong in the case's extract, as object type → ids."""
    examinations = list(Examination.objects.filter(request__in=requests).values_list("pk", flat=True))
    return {
        "cases.case": [case.pk],
        "intake.submission": list(case.submissions.values_list("pk", flat=True)),
        "evidence.item": [item.pk for item in items],
        "lab.servicerequest": [request.pk for request in requests],
        "lab.examination": examinations,
        "lab.result": list(Result.objects.filter(examination__in=examinations).values_list("pk", flat=True)),
        "reports.report": list(Report.objects.filter(case=case).values_list("pk", flat=True)),
        "reports.reportversion": list(report_versions(case).values_list("pk", flat=True)),
    }


def audit_extract(objects: dict[str, list[int]]) -> QuerySet[AuditEvent]:
    """The audit events about ``objects``, oldest first."""
    condition = Q(pk__in=[])
    for object_type, ids in objects.items():
        if ids:
            condition |= Q(object_type=object_type, object_id__in=[str(pk) for pk in ids])
    return AuditEvent.objects.filter(condition).order_by("occurred_at", "pk")


def _audit_time(value: datetime) -> str:
    """To the second, in the laboratory's zone: entries written within a minute stay distinguishable."""
    return timezone.localtime(value, timezone.get_default_timezone()).strftime("%Y-%m-%d %H:%M:%S")


def _audit_user(event: AuditEvent) -> str:
    """The username written with the entry, and the roles the person held then (by their names)."""
    roles = [str(ROLE_NAMES.get(code, code)) for code in event.actor_roles.split(",") if code]
    user = event.actor_username or EMPTY
    return f"{user} ({', '.join(roles)})" if roles else user


def _audit_section(events: Iterable[AuditEvent]) -> list[Flowable]:
    rows = []
    for event in events:
        action = event.action if event.outcome == Outcome.SUCCESS else f"{event.action} ({event.get_outcome_display()})"
        rows.append(
            [
                _audit_time(event.occurred_at),
                _audit_user(event),
                action,
                event.object_repr or EMPTY,
                para(event.reason or EMPTY, "cell", multiline=True),
            ]
        )
    story = heading(_("Audit extract"))
    story.append(
        para(
            _(
                "Every entry of the laboratory's audit log about this case, its submissions, items, examinations, "
                "results and reports, in the order they were written (before this packet was assembled)."
            ),
            "body",
        )
    )
    if not rows:
        return story + _none(_("No audit entries."))
    headers = [_("Date and time"), _("User"), _("Action"), _("Object"), _("Reason")]
    return story + [Spacer(1, 2 * mm), data_table(headers, rows, _columns(36, 52, 50, 52, 0))]


def render_discovery_pdf(case: Case) -> bytes:
    """The packet's one PDF, in the active language, landscape Letter: case summary, reports, each item's chain
    of custody, each examination (set-up, every result version, attachments, signatures, reviews, stages), the
    methods used, external laboratories, the files of the packet and the audit extract."""
    items = case_items(case)
    requests = case_requests(case)
    files = packet_files(case)
    paths = {file.key: file.path for file in files}
    title = _("Discovery packet")
    story: list[Flowable] = [
        title_block(title, _("Lab case number"), case.lab_number, width=_width()),
        *_case_summary(case, items),
        *_reports_section(case, paths),
        *_custody_section(items),
        *_examinations_section(requests, paths),
        *_methods_section(case),
        *_shipments_section(case),
        *_files_section(files),
        *_audit_section(audit_extract(audit_objects(case, items, requests))),
        Spacer(1, 3 * mm),
        para(_("Times are in %(zone)s.") % {"zone": settings.TIME_ZONE}, "small"),
    ]
    return build_document(
        story, title=title, reference=case.lab_number, footer=printed_footer(case.lab_number), pagesize=PAGE
    )


# --- the ZIP ----------------------------------------------------------------------------------------


def check_access(actor: User, case: Case) -> None:
    """Only holders of ``reports.download_discovery`` who may see ``case`` get its packet."""
    if not actor.has_perm("reports.download_discovery"):
        raise PermissionDenied(_("You may not download discovery packets."))
    if not Case.objects.visible_to(actor).filter(pk=case.pk).exists():
        raise PermissionDenied(_("You may not see this case."))


def _zip_info(path: str, moment: datetime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(path, date_time=timezone.localtime(moment).timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _write_bytes(archive: zipfile.ZipFile, path: str, data: bytes, moment: datetime) -> dict[str, Any]:
    archive.writestr(_zip_info(path, moment), data)
    return {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _stored_exists(stored: FieldFile) -> bool:
    try:
        return bool(stored.name) and stored.storage.exists(stored.name)
    except OSError:
        return False


def _copy_stored(archive: zipfile.ZipFile, file: PacketFile, moment: datetime) -> dict[str, Any]:
    """Copy a stored file into the packet as it is, hashing it on the way; its manifest entry."""
    entry: dict[str, Any] = {"path": file.path, "kind": file.kind, **file.details}
    entry |= {"recorded_sha256": file.recorded_sha256, "recorded_size": file.recorded_size}
    if not _stored_exists(file.stored):
        logger.error("Discovery packet: %s (%s) is missing from storage", file.path, file.stored.name)
        return entry | {"size": None, "sha256": None, "status": MISSING}
    digest, size = hashlib.sha256(), 0
    large = file.stored.size >= zipfile.ZIP64_LIMIT
    with file.stored.open("rb") as source, archive.open(_zip_info(file.path, moment), "w", force_zip64=large) as target:
        for chunk in source.chunks():
            digest.update(chunk)
            target.write(chunk)
            size += len(chunk)
    sha256 = digest.hexdigest()
    status = OK if sha256 == file.recorded_sha256 and size == file.recorded_size else CHANGED
    if status == CHANGED:
        logger.error("Discovery packet: %s no longer matches the SHA-256 recorded when stored", file.path)
    return entry | {"size": size, "sha256": sha256, "status": status}


def manifest_text(manifest: dict[str, Any], moment: datetime) -> str:
    """The manifest for people: one line per file (SHA-256, bytes, path), flags on the line below."""
    lines = [
        _("Discovery packet of case %(case)s (%(lab)s)") % {"case": manifest["case"], "lab": manifest["laboratory"]},
        _("Assembled %(time)s (%(zone)s) for %(user)s.")
        % {"time": local_time(moment), "zone": settings.TIME_ZONE, "user": manifest["assembled_for"]},
        _("SHA-256 and size in bytes of every file of the packet as it was assembled."),
        "",
    ]
    for entry in manifest["files"]:
        size = EMPTY if entry["size"] is None else str(entry["size"])
        lines.append(f"{entry['sha256'] or '-' * 64}  {size:>12}  {entry['path']}")
        if entry.get("status") in FLAGS:
            lines.append(
                "    "
                + _("%(flag)s: the SHA-256 recorded when stored was %(sha256)s (%(size)s bytes).")
                % {"flag": FLAGS[entry["status"]], "sha256": entry["recorded_sha256"], "size": entry["recorded_size"]}
            )
    flagged = sum(1 for entry in manifest["files"] if entry.get("status") in FLAGS)
    lines += ["", _("Files flagged: %(count)s.") % {"count": flagged}]
    return "\n".join(lines) + "\n"


def build_discovery_packet(actor: User, case: Case) -> bytes:
    """The discovery packet of ``case`` as a ZIP, for a holder of ``reports.download_discovery`` who may see the
    case (else ``PermissionDenied``); the download is audited with the number of files and the manifest's hash."""
    check_access(actor, case)
    moment = timezone.now()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entries = [_write_bytes(archive, PACKET_PDF, render_discovery_pdf(case), moment) | {"kind": "packet"}]
        entries += [_copy_stored(archive, file, moment) for file in packet_files(case)]
        manifest = {
            "format": MANIFEST_FORMAT,
            "laboratory": str(settings.FORENSIS_LAB_NAME),
            "case": case.lab_number,
            "agency_case_number": case.agency_case_number,
            "assembled_at": moment.isoformat(),
            "assembled_for": actor.get_username(),
            "files": entries,
        }
        manifest_json = json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True).encode()
        _write_bytes(archive, MANIFEST_JSON, manifest_json, moment)
        _write_bytes(archive, MANIFEST_TEXT, manifest_text(manifest, moment).encode(), moment)
        count = len(archive.infolist())
    after = {"files": count, "sha256": hashlib.sha256(manifest_json).hexdigest()}
    record("case.discovery_downloaded", actor=actor, obj=case, after=after)
    return buffer.getvalue()
