"""Issuing, amending, distributing and verifying reports. Every state change here is audited.

A version is issued inside the release transaction (``lab.services.release``): content gathered, rendered in
the agency's language, signed with the laboratory's key (PAdES), stored with its SHA-256, the previous version
marked superseded, and the recipients told by a link (never an attachment) once the transaction commits.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from forensis.accounts.models import Agency, AgencyType, User
from forensis.accounts.services import require_permission
from forensis.api.feed import publish
from forensis.api.models import Topic
from forensis.audit.services import record
from forensis.cases.models import Case
from forensis.core.models import yearly_number
from forensis.core.notifications import notify
from forensis.lab import services as lab_services
from forensis.lab.models import RequestStatus, ServiceRequest

from .content import content_hash, report_language
from .kinds import KINDS, kinds_for
from .models import Amendment, CaseContact, ContactRole, Report, ReportKind, ReportVersion
from .signing import SigningKeyMissing, check_signature, sign_pdf

logger = logging.getLogger(__name__)

#: The longest reason for an amendment: it is printed on the new version and kept on the request's stage change.
AMENDMENT_REASON_MAX = 400

#: The largest PDF the public verification page accepts.
MAX_VERIFY_BYTES = 50 * 1024 * 1024


def _report_number(moment: datetime) -> str:
    return yearly_number(f"{settings.FORENSIS_CASE_PREFIX}-R", "report", moment)


@transaction.atomic
def issue_report(actor: User, request: ServiceRequest) -> list[ReportVersion]:
    """Issue the reports of a just-released request: version 1 of each, or the next versions after an amendment.

    An amendment of any of the request's reports re-issues all of them (an autopsy report and its certificate
    must say the same), each naming the version it supersedes and the amendment's reason.
    """
    if request.status != RequestStatus.RELEASED:
        raise ValidationError(_("Only released work is reported."))
    now = timezone.now()
    amendment = (
        Amendment.objects.select_for_update()
        .filter(report__request=request, issued_version__isnull=True)
        .select_related("report")
        .first()
    )
    versions = [_issue(actor, request, kind, now, amendment) for kind in kinds_for(request)]
    if amendment is not None:
        amended = next(version for version in versions if version.report_id == amendment.report_id)
        Amendment.objects.filter(pk=amendment.pk).update(issued_version=amended)
    return versions


def _issue(
    actor: User, request: ServiceRequest, kind: str, now: datetime, amendment: Amendment | None
) -> ReportVersion:
    """One report version: content gathered, rendered in the agency's language, signed, stored once."""
    report = Report.objects.select_for_update().filter(request=request, kind=kind).first()
    previous = report.current_version if report else None
    if report is None:
        report = Report.objects.create(
            number=_report_number(now), kind=kind, case=request.case, request=request, created_at=now
        )
    elif amendment is None:
        raise ValidationError(_("Report %(number)s is already issued; amend it instead.") % {"number": report})
    version_number = previous.version + 1 if previous else 1
    language = report_language(request.case)
    spec = KINDS[kind]
    content = spec.gather(
        request,
        number=report.number,
        version=version_number,
        language=language,
        issued_at=now,
        amendment={"supersedes": previous.version, "reason": amendment.reason} if amendment and previous else None,
    )
    fingerprint = content_hash(content)
    with translation.override(language):
        reason = _("%(kind)s %(number)s version %(version)s issued by %(lab)s") % {
            "kind": ReportKind(kind).label,
            "number": report.number,
            "version": version_number,
            "lab": settings.FORENSIS_LAB_NAME,
        }
    try:
        pdf = sign_pdf(spec.render(content, fingerprint), reason=reason)
    except SigningKeyMissing as exc:
        raise ValidationError(str(exc)) from None
    version = ReportVersion(
        report=report,
        version=version_number,
        sha256=hashlib.sha256(pdf).hexdigest(),
        size=len(pdf),
        content_hash=fingerprint,
        language=language,
        issued_at=now,
        issued_by=actor,
        supersedes=previous,
        amendment_reason=amendment.reason if amendment and previous else "",
    )
    version.file.save(f"{report.number}-v{version_number}-{version.sha256[:16]}.pdf", ContentFile(pdf), save=False)
    version.save()
    record(
        "report.issued" if previous is None else "report.amended",
        actor=actor,
        obj=version,
        after={
            "report": report.number,
            "kind": kind,
            "version": version_number,
            "sha256": version.sha256,
            "language": language,
        },
        reason=amendment.reason if amendment and previous else "",
    )
    publish(
        Topic.REPORT_RELEASED,
        report.case,
        report=report.number,
        kind=kind,
        version=version_number,
        request=request.pk,
        sha256=version.sha256,
        amended=previous is not None,
    )
    transaction.on_commit(lambda: distribute(version))
    return version


@transaction.atomic
def request_amendment(actor: User, report: Report, reason: str) -> Amendment:
    """Open an amendment: the work goes back to its analyst; re-release issues the next version."""
    require_permission(actor, "reports.amend_report")
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the amendment; it is printed on the new version.")})
    if len(reason) > AMENDMENT_REASON_MAX:
        raise ValidationError(
            {"reason": _("Keep the reason under %(max)s characters.") % {"max": AMENDMENT_REASON_MAX}}
        )
    report = Report.objects.select_for_update().get(pk=report.pk)
    # Reports of the same work (an autopsy report and its certificate) are amended together, so one at a time.
    if (
        report.request_id
        and Amendment.objects.filter(report__request=report.request_id, issued_version__isnull=True).exists()
    ):
        raise ValidationError(_("Report %(number)s already has an amendment in progress.") % {"number": report})
    if report.request is None or report.request.status != RequestStatus.RELEASED:
        raise ValidationError(_("Report %(number)s cannot be amended now.") % {"number": report})
    amendment = Amendment.objects.create(report=report, reason=reason, requested_by=actor, requested_at=timezone.now())
    lab_services.reopen_for_amendment(
        actor,
        report.request,
        _("Amendment of %(number)s: %(reason)s")
        % {
            "number": report.number,
            "reason": reason,
        },
    )
    record("report.amendment_requested", actor=actor, obj=report, reason=reason)
    if report.request.assigned_to is not None:
        notify(
            report.request.assigned_to,
            _("Report %(number)s is to be amended: %(reason)s") % {"number": report.number, "reason": reason},
            reverse("lab:request", args=[report.request.pk]),
        )
    return amendment


# --- distribution and access ---------------------------------------------------------------------


def recipients(case: Case) -> list[User]:
    """The people of the submitting agency told in the app: the officers who submitted the case's evidence."""
    officers = {s.submitting_officer for s in case.submissions.select_related("submitting_officer")}
    return sorted((u for u in officers if u is not None and u.is_active), key=lambda u: u.pk)


def distribute(version: ReportVersion) -> None:
    """Tell the submitting officers (in the app) and the case's prosecutor and court contacts (by e-mail) that a
    report version is out. A link only: the PDF is fetched by a signed-in user, and that download is logged."""
    report = version.report
    url = reverse("reports:detail", args=[report.number])
    with translation.override(version.language):
        if version.version == 1:
            message = _("Report %(number)s for case %(case)s was released.")
        else:
            message = _("Report %(number)s for case %(case)s was amended (version %(version)s).")
        message %= {"number": report.number, "case": report.case.lab_number, "version": version.version}
    with transaction.atomic():
        notified = []
        for user in recipients(report.case):
            notify(user, message, url)
            notified.append(user.get_username())
        if notified:
            record("report.notified", obj=version, after={"users": notified}, actor_username="system")
    for contact in report.case.contacts.all():
        try:
            send_mail("Forensis", f"{message}\n\n{settings.FORENSIS_BASE_URL}{url}", None, [contact.email])
        except OSError:
            logger.exception("Could not e-mail report %s to %s", report.number, contact.email)
            continue
        record("report.sent", obj=version, after={"to": contact.email, "role": contact.role}, actor_username="system")


def record_access(user: User, version: ReportVersion, *, download: bool) -> None:
    """Who viewed or downloaded a report, and when (ISO/IEC 17025 7.8.1: reports issued to whom)."""
    record("report.downloaded" if download else "report.viewed", actor=user, obj=version)


@transaction.atomic
def add_case_contact(actor: User, case: Case, *, role: str, agency: Agency, name: str, email: str) -> CaseContact:
    """Name the prosecutor or court that receives the case's reports (their agency then sees the case)."""
    require_permission(actor, "reports.add_casecontact")
    if not Case.objects.visible_to(actor).filter(pk=case.pk).exists():
        raise PermissionDenied
    expected = AgencyType.PROSECUTOR if role == ContactRole.PROSECUTOR else AgencyType.COURT
    if agency.type != expected or not agency.is_active:
        raise ValidationError({"agency": _("Choose an active %(type)s agency.") % {"type": expected.label.lower()}})
    contact = CaseContact(case=case, role=role, agency=agency, name=name.strip(), email=email.strip().lower())
    contact.added_by = actor
    contact.full_clean()
    contact.save()
    record("case.contact_added", actor=actor, obj=case, after={"role": role, "agency": agency.code, "email": email})
    return contact


@transaction.atomic
def remove_case_contact(actor: User, contact: CaseContact) -> None:
    require_permission(actor, "reports.delete_casecontact")
    if not Case.objects.visible_to(actor).filter(pk=contact.case_id).exists():
        raise PermissionDenied
    record(
        "case.contact_removed",
        actor=actor,
        obj=contact.case,
        before={"role": contact.role, "agency": contact.agency.code, "email": contact.email},
    )
    contact.delete()


# --- verification ---------------------------------------------------------------------------------


class Verdict:
    CURRENT = "current"
    SUPERSEDED = "superseded"
    NOT_AUTHENTIC = "not_authentic"


@dataclass(frozen=True)
class Verification:
    """What the public verification page may say: no case details beyond number, issue date and status."""

    verdict: str
    number: str = ""
    version: int | None = None
    issued_at: datetime | None = None
    current_version: int | None = None
    signature_valid: bool | None = None
    signer: str = ""


def _verdict(version: ReportVersion | None, **extra) -> Verification:
    if version is None:
        return Verification(Verdict.NOT_AUTHENTIC, **extra)
    current = version.report.current_version
    return Verification(
        Verdict.CURRENT if version.is_current else Verdict.SUPERSEDED,
        number=version.report.number,
        version=version.version,
        issued_at=version.issued_at,
        current_version=current.version if current else None,
        **extra,
    )


def verify_pdf(data: bytes) -> Verification:
    """Is this file a report this laboratory issued, byte for byte? Any change of a single byte says no."""
    if len(data) > MAX_VERIFY_BYTES:
        raise ValidationError({"file": _("The file is larger than %(mb)s MB.") % {"mb": MAX_VERIFY_BYTES // 2**20}})
    digest = hashlib.sha256(data).hexdigest()
    version = ReportVersion.objects.select_related("report").filter(sha256=digest).first()
    check = check_signature(data)
    return _verdict(version, signature_valid=check.ok, signer=check.signer)


def verify_reference(number: str, fingerprint: str) -> Verification:
    """The answer for a QR link: the report number and content fingerprint must both match an issued version."""
    version = (
        ReportVersion.objects.select_related("report")
        .filter(report__number=number, content_hash=fingerprint.lower())
        .first()
    )
    return _verdict(version)
