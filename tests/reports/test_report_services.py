"""Issuing, amending, distributing and verifying examination reports (ISO/IEC 17025 7.8): what the PDF says, that
it is signed and stored once, that an amendment supersedes without erasing, and that forgeries are told apart."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.urls import reverse
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

import forensis
from forensis.accounts import services as accounts
from forensis.audit.models import AuditEvent
from forensis.core.models import Notification
from forensis.core.pdf import local_time
from forensis.lab import services as lab_services
from forensis.lab.models import Discipline, RequestStatus, Result, SignatureMeaning
from forensis.reports import documents, services
from forensis.reports.content import content_hash, report_content
from forensis.reports.models import Amendment, CaseContact, ContactRole, Report, ReportVersion
from forensis.reports.services import Verdict
from forensis.reports.signing import generate_self_signed, reset_signer_cache, sign_pdf, signing_certificate
from tests.lab.test_review_services import ADMINISTRATIVE, TECHNICAL, snapshot
from tests.reports.conftest import (
    AGENCY_CASE_NUMBER,
    BLOOD_ALCOHOL,
    CONDITION,
    DEVIATIONS,
    amend,
    pdf_bytes,
    pdf_pages,
    pdf_text,
    receive_blood_sample,
    release,
)

REASON = "The concentration was transcribed wrongly from run 0412; the correct value is 0.081 g/100 mL."
CORRECTED = {**BLOOD_ALCOHOL, "concentration": "0.081"}
SPANISH_PO = Path(forensis.__file__).parent / "locale" / "es" / "LC_MESSAGES" / "django.po"


def squashed(text: str) -> str:
    """Text without whitespace: the PDF wraps long values (a label breaks after its "/") wherever it must."""
    return "".join(text.split())


def missing_from(text: str, expected: list[str]) -> list[str]:
    body = squashed(text)
    return [value for value in expected if squashed(value) not in body]


def reviewed(lab, *, deviations: str = "") -> None:
    """``Lab.administratively_reviewed`` with deviations from the method recorded when the examination starts."""
    lab_services.assign(lab.manager, lab.request, lab.analyst)
    lab_services.start_examination(
        lab.analyst,
        lab.request,
        method=lab.method,
        instrument=lab.instrument,
        reagent_lots=[lab.lot],
        deviations=deviations,
    )
    lab_services.record_result(lab.analyst, lab.request, lab.item, BLOOD_ALCOHOL)
    lab_services.complete_draft(lab.analyst, lab.request, reauthenticated=True)
    lab.approve(lab.reviewer, TECHNICAL)
    lab.approve(lab.manager, ADMINISTRATIVE)
    lab.reload()


def amendment_state(report: Report) -> dict:
    """Everything a refused amendment must leave as it was."""
    return {
        "request": snapshot(report.request),
        "amendments": list(Amendment.objects.filter(report=report).values_list("pk", "reason", "issued_version")),
        "versions": [(v.pk, v.version, v.sha256, v.superseded_at) for v in report.versions.order_by("pk")],
        "events": AuditEvent.objects.filter(action__startswith="report.").count(),
        "notifications": Notification.objects.count(),
    }


# --- what the PDF says (ISO/IEC 17025 7.8.2.1) ---------------------------------------------------------------


def test_issued_pdf_states_every_field_the_standard_requires(lab, settings):
    reviewed(lab, deviations=DEVIATIONS)
    report = release(lab)
    version = report.versions.get()
    data = pdf_bytes(version)
    pages = pdf_pages(data)
    text = "\n".join(pages)

    request, case = lab.request, lab.request.case
    examination, item = request.examination, lab.item
    signatures = list(request.signatures.order_by("signed_at", "pk"))
    assert [s.meaning for s in signatures] == [
        SignatureMeaning.AUTHORED,
        SignatureMeaning.TECHNICALLY_REVIEWED,
        SignatureMeaning.ADMINISTRATIVELY_REVIEWED,
        SignatureMeaning.RELEASED,
    ]
    expected = [
        report.number,
        settings.FORENSIS_LAB_NAME,
        settings.FORENSIS_LAB_ADDRESS,
        "Police A",  # the customer: the submitting agency
        f"Agency case number {AGENCY_CASE_NUMBER}",
        f"Lab case number {case.lab_number}",
        f"{item.label} Blood sample, grey-top tube",
        CONDITION,
        f"Case received {local_time(case.received_at)}",
        local_time(item.received_at),
        f"Examination started {local_time(examination.started_at)}",
        f"Examination completed {local_time(request.draft_completed_at)}",
        "TOX-BAC-HS v4.2 — Blood alcohol by headspace GC-FID",
        DEVIATIONS,
        "Concentration: 0.085 g/100 mL",
        "Expanded uncertainty (±, same unit): 0.004",
        "relate only to the items tested",
        # each signature's row: name, role, meaning and time
        f"Andre Flowers Analyst Authored {local_time(signatures[0].signed_at)}",
        f"Rosa Cal Reviewer Technically reviewed {local_time(signatures[1].signed_at)}",
        f"Marcus Young Laboratory manager Administratively reviewed {local_time(signatures[2].signed_at)}",
        f"Marcus Young Laboratory manager Released {local_time(signatures[3].signed_at)}",
        f"Content fingerprint (SHA-256): {version.content_hash}",
    ]
    assert missing_from(text, expected) == []
    assert len(pages) >= 1
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page, f"page {number} lacks its page number"
        assert report.number in page, f"page {number} lacks the report number"
    assert "OUTSOURCED" not in text  # toxicology is done in house
    assert "Amendment" not in text  # the original version amends nothing


def test_report_of_an_outsourced_discipline_is_flagged_outsourced(lab):
    lab_services.save_catalogue_entry(lab.manager, Discipline, lab.toxicology, outsourced=True)
    lab.administratively_reviewed()
    report = release(lab)
    text = pdf_text(pdf_bytes(report.versions.get()))
    assert "OUTSOURCED: these results were obtained by an external laboratory" in " ".join(text.split())


def test_report_numbers_are_unique_per_report(lab, officer):
    lab.administratively_reviewed()
    first = release(lab)
    lab.request = receive_blood_sample(officer, lab.custodian, "CY-TR-2026-0103")
    lab.item = lab.request.items.get()
    lab.administratively_reviewed()
    second = release(lab)
    assert first.number != second.number
    assert first.number not in pdf_text(pdf_bytes(second.versions.get()))
    assert second.number not in pdf_text(pdf_bytes(first.versions.get()))


def test_report_for_a_spanish_speaking_agency_is_in_spanish(lab, officer):
    """The catalogue is compiled by ``make test`` (``forensis compilemessages``), as on deployment."""
    accounts.update_agency(None, officer.agency, report_language="es")
    lab.administratively_reviewed()
    version = release(lab).versions.get()
    assert version.language == "es"
    pages = pdf_pages(pdf_bytes(version))
    assert "Página 1 de" in pages[0]
    text = " ".join("\n".join(pages).split())
    assert "Informe" in text
    assert "Resultados" in text
    assert "Examination report" not in text and "Page 1 of" not in text
    assert "se refieren únicamente a los indicios analizados" in text  # ISO/IEC 17025 7.8.2.1 (l)


def test_report_is_rendered_once_and_stored_with_its_hashes(released, lab):
    version = released.versions.get()
    data = pdf_bytes(version)
    assert hashlib.sha256(data).hexdigest() == version.sha256
    assert len(data) == version.size
    assert version.file.name.endswith(".pdf") and version.version == 1 and version.is_current
    assert version.issued_by == lab.manager and version.language == "en"
    content = report_content(
        lab.request,
        number=released.number,
        version=1,
        language="en",
        issued_at=version.issued_at,
        amendment=None,
    )
    assert content_hash(content) == version.content_hash
    # Issuing again is refused: the stored file is the report, never regenerated.
    with pytest.raises(ValidationError, match="already issued; amend it instead"):
        services.issue_report(lab.manager, lab.request)
    assert pdf_bytes(ReportVersion.objects.get(pk=version.pk)) == data
    assert released.versions.count() == 1
    issued = AuditEvent.objects.get(action="report.issued")
    assert (issued.actor_username, issued.object_id) == ("manager", str(version.pk))
    assert issued.after == {
        "report": released.number,
        "kind": "examination",
        "version": 1,
        "sha256": version.sha256,
        "language": "en",
    }


def test_issued_report_is_authentic_and_current(released):
    version = released.versions.get()
    outcome = services.verify_pdf(pdf_bytes(version))
    assert outcome.verdict == Verdict.CURRENT
    assert (outcome.number, outcome.version, outcome.current_version) == (released.number, 1, 1)
    assert outcome.signature_valid is True
    assert outcome.signer == "Forensis test laboratory"


def test_one_changed_byte_makes_the_report_not_authentic(released):
    data = bytearray(pdf_bytes(released.versions.get()))
    for position in (len(data) // 3, len(data) // 2):  # inside the signed bytes, away from the signature itself
        changed = bytearray(data)
        changed[position] ^= 0x01
        outcome = services.verify_pdf(bytes(changed))
        assert outcome.verdict == Verdict.NOT_AUTHENTIC, position
        assert outcome.signature_valid is False, position
        assert outcome.number == "" and outcome.version is None


def test_pades_signature_validates_with_pyhanko(released):
    data = pdf_bytes(released.versions.get())
    signatures = PdfFileReader(io.BytesIO(data)).embedded_signatures
    assert len(signatures) == 1
    signature = signatures[0]
    assert signature.field_name == "Laboratory"
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    context = ValidationContext(trust_roots=[signing_certificate()], allow_fetching=False)
    status = validate_pdf_signature(signature, context)
    assert status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.signing_cert.dump() == signing_certificate().dump()


def test_pdf_signed_by_another_laboratory_is_not_authentic(released, lab, tmp_path):
    version = released.versions.get()
    # Another laboratory renders a report under the same number and signs it with its own key.
    generate_self_signed(tmp_path / "key.pem", tmp_path / "cert.pem", common_name="Forensis test laboratory")
    content = report_content(
        lab.request, number=released.number, version=1, language="en", issued_at=version.issued_at, amendment=None
    )
    with override_settings(FORENSIS_SIGNING_KEY=tmp_path / "key.pem", FORENSIS_SIGNING_CERT=tmp_path / "cert.pem"):
        reset_signer_cache()
        forged = sign_pdf(documents.render_examination_report(content, content_hash(content)), reason="Forged")
    reset_signer_cache()
    assert released.number in pdf_text(forged)
    outcome = services.verify_pdf(forged)
    assert outcome.verdict == Verdict.NOT_AUTHENTIC
    assert outcome.signature_valid is False
    assert outcome.number == ""
    # The genuine report still verifies under the laboratory's key.
    assert services.verify_pdf(pdf_bytes(version)).signature_valid is True


@pytest.mark.parametrize(
    "data",
    [b"", b"not a pdf at all", b"%PDF-1.7\n%%EOF\n", bytes(range(256)) * 8],
    ids=["empty", "text", "pdf-header-only", "binary"],
)
def test_garbage_bytes_are_not_authentic(db, data):
    outcome = services.verify_pdf(data)
    assert outcome.verdict == Verdict.NOT_AUTHENTIC
    assert outcome.signature_valid is False
    assert outcome.number == ""


def test_qr_reference_needs_the_number_and_fingerprint_together(released, lab, officer):
    version = released.versions.get()
    right = services.verify_reference(released.number, version.content_hash)
    assert (right.verdict, right.number, right.version) == (Verdict.CURRENT, released.number, 1)
    assert services.verify_reference(released.number, version.content_hash.upper()).verdict == Verdict.CURRENT

    forged_hash = hashlib.sha256(b"another content").hexdigest()
    assert services.verify_reference(released.number, forged_hash).verdict == Verdict.NOT_AUTHENTIC
    assert services.verify_reference(released.number, version.content_hash[:-1]).verdict == Verdict.NOT_AUTHENTIC
    # The right fingerprint under another (real) report's number is not authentic either.
    lab.request = receive_blood_sample(officer, lab.custodian, "CY-TR-2026-0103")
    lab.item = lab.request.items.get()
    lab.administratively_reviewed()
    other = release(lab)
    swapped = services.verify_reference(other.number, version.content_hash)
    assert swapped.verdict == Verdict.NOT_AUTHENTIC and swapped.number == ""
    assert services.verify_reference("NFSS-R-2026-99999", version.content_hash).verdict == Verdict.NOT_AUTHENTIC


def test_release_without_a_signing_key_is_refused_and_nothing_is_released(lab, tmp_path, report_files):
    lab.administratively_reviewed()
    before = snapshot(lab.request)
    with override_settings(FORENSIS_SIGNING_KEY=tmp_path / "missing" / "key.pem"):
        reset_signer_cache()
        with pytest.raises(ValidationError, match="signing key does not exist"):
            lab_services.release(lab.manager, lab.request, reauthenticated=True)
    reset_signer_cache()
    assert snapshot(lab.request) == before
    assert lab.reload().status == RequestStatus.ADMINISTRATIVE_REVIEW and lab.request.released_at is None
    assert not lab.request.signatures.filter(meaning=SignatureMeaning.RELEASED).exists()
    assert Report.objects.count() == 0 and ReportVersion.objects.count() == 0
    assert not AuditEvent.objects.filter(action__in=["report.issued", "request.released"]).exists()
    assert not any(path.is_file() for path in Path(report_files).rglob("*"))


# --- amendments -------------------------------------------------------------------------------------------


def test_amendment_supersedes_and_both_versions_stay_retrievable(
    released, lab, officer, django_capture_on_commit_callbacks
):
    original = released.versions.get()
    original_pdf = pdf_bytes(original)
    with django_capture_on_commit_callbacks(execute=True):
        amendment = services.request_amendment(lab.manager, released, f"  {REASON}  ")
    assert amendment.reason == REASON and amendment.issued_version is None
    assert lab.reload().status == RequestStatus.IN_PROGRESS
    assert lab.request.draft_completed_at is None and lab.request.administrative_reviewed_at is None
    assert lab.request.transitions.last().to_status == RequestStatus.IN_PROGRESS
    assert Notification.objects.filter(recipient=lab.analyst, message__contains=REASON).exists()
    assert AuditEvent.objects.filter(action="report.amendment_requested", reason=REASON).count() == 1
    # While the amendment is open, version 1 is still the current one.
    assert ReportVersion.objects.get(pk=original.pk).superseded_at is None
    assert released.current_version == original

    with django_capture_on_commit_callbacks(execute=True):
        amended = amend_rest(lab)

    original.refresh_from_db()
    assert (amended.version, amended.supersedes, amended.amendment_reason) == (2, original, REASON)
    assert original.superseded_at == amended.issued_at and not original.is_current
    assert released.current_version == amended
    assert Amendment.objects.get(pk=amendment.pk).issued_version == amended
    assert Result.objects.get(item=lab.item, is_current=True).data["concentration"] == "0.081"

    # Both files are kept as issued.
    assert pdf_bytes(original) == original_pdf
    assert hashlib.sha256(original_pdf).hexdigest() == original.sha256
    amended_pdf = pdf_bytes(amended)
    assert hashlib.sha256(amended_pdf).hexdigest() == amended.sha256 != original.sha256
    amended_text = pdf_text(amended_pdf)
    assert missing_from(amended_text, ["amends and supersedes version 1", REASON, "0.081 g/100 mL"]) == []
    assert f"{released.number} · version 2" in amended_text
    assert "0.085 g/100 mL" in pdf_text(original_pdf)

    # Verification tells the old version from the current one.
    old = services.verify_pdf(original_pdf)
    assert (old.verdict, old.version, old.current_version) == (Verdict.SUPERSEDED, 1, 2)
    assert services.verify_pdf(amended_pdf).verdict == Verdict.CURRENT
    assert services.verify_reference(released.number, original.content_hash).verdict == Verdict.SUPERSEDED
    assert services.verify_reference(released.number, amended.content_hash).verdict == Verdict.CURRENT

    event = AuditEvent.objects.get(action="report.amended")
    assert (event.actor_username, event.object_id, event.reason) == ("manager", str(amended.pk), REASON)
    told = Notification.objects.filter(recipient=officer, url=reverse("reports:detail", args=[released.number]))
    assert told.filter(message__contains="was amended (version 2)").count() == 1


def amend_rest(lab) -> ReportVersion:
    """After the amendment was opened: the analyst corrects the result, both reviews approve, and it is released."""
    lab_services.record_result(lab.analyst, lab.request, lab.item, CORRECTED, reason="Transcription error.")
    lab_services.complete_draft(lab.analyst, lab.request, reauthenticated=True)
    lab.approve(lab.reviewer, TECHNICAL)
    lab.approve(lab.manager, ADMINISTRATIVE)
    report = release(lab)
    return report.current_version


def test_amended_report_carries_only_the_new_drafts_signatures(released, lab):
    amended = amend(lab, released, REASON, corrected=CORRECTED, result_reason="Transcription error.")
    text = " ".join(pdf_text(pdf_bytes(amended)).split())
    assert text.count("Technically reviewed") == 1 and text.count("Authored") == 1


@pytest.mark.parametrize("reason", ["", "   \n  "])
def test_amendment_without_a_reason_is_refused_and_changes_nothing(released, lab, reason):
    before = amendment_state(released)
    with pytest.raises(ValidationError) as refused:
        services.request_amendment(lab.manager, released, reason)
    assert refused.value.message_dict == {
        "reason": ["Give the reason for the amendment; it is printed on the new version."]
    }
    assert amendment_state(released) == before
    assert lab.reload().status == RequestStatus.RELEASED


def test_an_overlong_amendment_reason_is_refused_and_changes_nothing(released, lab):
    """The reason also goes on the request's stage change (500 characters): refused in words, not a database error."""
    before = amendment_state(released)
    with pytest.raises(ValidationError) as refused:
        services.request_amendment(lab.manager, released, "x" * (services.AMENDMENT_REASON_MAX + 1))
    assert refused.value.message_dict == {"reason": ["Keep the reason under 400 characters."]}
    assert amendment_state(released) == before
    assert lab.reload().status == RequestStatus.RELEASED
    services.request_amendment(lab.manager, released, "x" * services.AMENDMENT_REASON_MAX)
    assert lab.reload().status == RequestStatus.IN_PROGRESS


def test_amendment_by_someone_without_the_amend_permission_is_refused(released, lab, officer):
    before = amendment_state(released)
    for person in (lab.reviewer, lab.analyst, lab.custodian, officer):
        assert not person.has_perm("reports.amend_report")
        with pytest.raises(PermissionDenied):
            services.request_amendment(person, released, REASON)
    assert amendment_state(released) == before


def test_a_second_open_amendment_is_refused(released, lab):
    services.request_amendment(lab.manager, released, REASON)
    before = amendment_state(released)
    with pytest.raises(ValidationError, match="already has an amendment in progress"):
        services.request_amendment(lab.manager, released, "Another reason")
    assert amendment_state(released) == before
    assert Amendment.objects.filter(report=released, issued_version__isnull=True).count() == 1


def test_after_an_amendment_is_issued_another_may_be_opened(released, lab):
    amend(lab, released, REASON, corrected=CORRECTED, result_reason="Transcription error.")
    second = services.request_amendment(lab.manager, released, "The item description was wrong.")
    assert second.issued_version is None
    assert Amendment.objects.filter(report=released).count() == 2


# --- distribution ------------------------------------------------------------------------------------------


def test_release_tells_officers_in_the_app_and_contacts_by_a_link_not_an_attachment(
    lab, officer, prosecutors, court, settings, django_capture_on_commit_callbacks
):
    case = lab.request.case
    services.add_case_contact(
        officer, case, role=ContactRole.PROSECUTOR, agency=prosecutors, name="Paula Reyes", email="P.Reyes@odpp.bz"
    )
    services.add_case_contact(
        officer, case, role=ContactRole.COURT, agency=court, name="Clerk of court", email="clerk@court.bz"
    )
    lab.administratively_reviewed()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        report = release(lab)
    version = report.versions.get()
    link = f"{settings.FORENSIS_BASE_URL}{reverse('reports:detail', args=[report.number])}"

    sent = {message.to[0]: message for message in mail.outbox}
    assert set(sent) == {"p.reyes@odpp.bz", "clerk@court.bz"}
    for message in sent.values():
        assert link in message.body
        assert report.number in message.body and case.lab_number in message.body
        assert message.attachments == [] and "%PDF" not in message.body
    events = AuditEvent.objects.filter(action="report.sent", object_id=str(version.pk))
    assert sorted(e.after["to"] for e in events) == ["clerk@court.bz", "p.reyes@odpp.bz"]
    assert {e.actor_username for e in events} == {"system"}
    notice = Notification.objects.get(recipient=officer, url=reverse("reports:detail", args=[report.number]))
    assert notice.message == f"Report {report.number} for case {case.lab_number} was released."


def test_nothing_is_sent_before_the_release_commits(lab, officer, prosecutors):
    services.add_case_contact(
        officer, lab.request.case, role=ContactRole.PROSECUTOR, agency=prosecutors, name="P", email="p@odpp.bz"
    )
    lab.administratively_reviewed()
    mail.outbox.clear()
    release(lab)  # the test's transaction never commits
    assert mail.outbox == []
    assert not Notification.objects.filter(recipient=officer, url__startswith="/reports/").exists()
    assert not AuditEvent.objects.filter(action="report.sent").exists()


# --- case contacts -----------------------------------------------------------------------------------------


def test_a_contact_of_the_wrong_agency_type_is_refused(lab, officer, police, court, prosecutors):
    case = lab.request.case
    for role, agency, expected in [
        (ContactRole.PROSECUTOR, police, "Choose an active prosecutor agency."),
        (ContactRole.PROSECUTOR, court, "Choose an active prosecutor agency."),
        (ContactRole.COURT, prosecutors, "Choose an active court agency."),
    ]:
        with pytest.raises(ValidationError) as refused:
            services.add_case_contact(officer, case, role=role, agency=agency, name="X", email="x@example.org")
        assert refused.value.message_dict == {"agency": [expected]}
    assert not CaseContact.objects.exists()


def test_an_officer_of_another_agency_cannot_name_contacts(lab, other_officer, prosecutors):
    with pytest.raises(PermissionDenied):
        services.add_case_contact(
            other_officer,
            lab.request.case,
            role=ContactRole.PROSECUTOR,
            agency=prosecutors,
            name="P",
            email="p@odpp.bz",
        )
    assert not CaseContact.objects.exists()


def test_a_named_prosecutor_sees_the_case_report_and_another_does_not(
    released, officer, prosecutor, other_prosecutor, prosecutors
):
    assert not Report.objects.visible_to(prosecutor).exists()
    services.add_case_contact(
        officer, released.case, role=ContactRole.PROSECUTOR, agency=prosecutors, name="P", email="p@odpp.bz"
    )
    assert list(Report.objects.visible_to(prosecutor)) == [released]
    assert list(ReportVersion.objects.visible_to(prosecutor)) == list(released.versions.all())
    assert not Report.objects.visible_to(other_prosecutor).exists()
    assert not ReportVersion.objects.visible_to(other_prosecutor).exists()
