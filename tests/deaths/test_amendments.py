"""Amending a released autopsy: the manner of death changes only through an amendment, with a reason, and both
the autopsy report and the certificate are re-issued as version 2 while version 1 stays as it was."""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from forensis.audit.models import AuditEvent
from forensis.deaths import services
from forensis.deaths.models import AutopsyRecord
from forensis.lab import services as lab_services
from forensis.lab.models import RequestStatus
from forensis.reports import services as report_services
from forensis.reports.models import Amendment, Report, ReportKind
from tests.deaths.conftest import ADMINISTRATIVE, GUNSHOT_AUTOPSY, TECHNICAL, counts, missing_from
from tests.reports.conftest import pdf_bytes, pdf_text

REASON = "Police found a suicide note and gunshot residue on the deceased's hand; the manner is suicide."
SUICIDE = {
    **GUNSHOT_AUTOPSY,
    "underlying_cause": "Intentional self-harm by handgun discharge",
    "underlying_icd10": "X72",
    "manner": "suicide",
}


def reports_of(morgue) -> dict[str, Report]:
    return {report.kind: report for report in Report.objects.filter(request=morgue.autopsy_request())}


def test_changing_a_released_autopsy_without_an_amendment_is_refused(morgue):
    morgue.recorded()
    morgue.released()
    before = counts()
    with pytest.raises(ValidationError, match="is released; this step is not possible now"):
        services.record_autopsy(
            morgue.pathologist, morgue.reload(), performed_on=timezone.localdate(), reason=REASON, **SUICIDE
        )
    assert counts() == before
    assert AutopsyRecord.objects.get().manner == "homicide"
    assert morgue.autopsy_request().status == RequestStatus.RELEASED


def test_amending_the_manner_of_death_reissues_both_reports(morgue):
    morgue.recorded()
    morgue.released()
    reports = reports_of(morgue)
    originals = {kind: report.versions.get() for kind, report in reports.items()}
    original_pdfs = {kind: pdf_bytes(version) for kind, version in originals.items()}

    report_services.request_amendment(morgue.manager, reports[ReportKind.AUTOPSY], REASON)
    assert morgue.autopsy_request().status == RequestStatus.IN_PROGRESS
    # Both versions 1 stay current until the amendment is released.
    assert all(version.is_current for version in originals.values())

    # After release every change is a new version of what was signed: the reason is required.
    before = counts()
    with pytest.raises(ValidationError) as refused:
        services.record_autopsy(morgue.pathologist, morgue.reload(), performed_on=timezone.localdate(), **SUICIDE)
    assert refused.value.message_dict == {"reason": ["This autopsy was reviewed: give the reason for the change."]}
    assert counts() == before
    services.record_autopsy(
        morgue.pathologist, morgue.investigation, performed_on=timezone.localdate(), reason=REASON, **SUICIDE
    )
    event = AuditEvent.objects.get(action="autopsy.updated")
    assert event.before == {
        "underlying_cause": "Assault by handgun discharge",
        "underlying_icd10": "X93",
        "manner": "homicide",
    }
    assert event.after == {
        "underlying_cause": "Intentional self-harm by handgun discharge",
        "underlying_icd10": "X72",
        "manner": "suicide",
    }
    assert event.reason == REASON

    morgue.signed()
    morgue.approve(morgue.second_pathologist, TECHNICAL)
    morgue.approve(morgue.manager, ADMINISTRATIVE)
    lab_services.release(morgue.manager, morgue.autopsy_request(), reauthenticated=True)

    assert Report.objects.filter(request=morgue.autopsy_request()).count() == 2
    for kind, report in reports.items():
        original = originals[kind]
        original.refresh_from_db()
        amended = report.current_version
        assert (amended.version, amended.supersedes, amended.amendment_reason) == (2, original, REASON), kind
        assert not original.is_current and original.superseded_at == amended.issued_at
        assert report.versions.count() == 2
        # Version 1's file is kept exactly as issued.
        assert pdf_bytes(original) == original_pdfs[kind]
        assert hashlib.sha256(original_pdfs[kind]).hexdigest() == original.sha256
        old_text, new_text = pdf_text(original_pdfs[kind]), pdf_text(pdf_bytes(amended))
        assert missing_from(old_text, ["Manner of death Homicide", "X93 — Assault by handgun discharge"]) == []
        assert "amends and supersedes" not in old_text
        assert (
            missing_from(
                new_text,
                [
                    f"{report.number} · version 2",
                    "This version amends and supersedes version 1 of this report.",
                    f"Reason: {REASON}",
                    "Manner of death Suicide",
                    "X72 — Intentional self-harm by handgun discharge",
                ],
            )
            == []
        ), kind
        assert "Homicide" not in new_text
    assert Amendment.objects.get().issued_version == reports[ReportKind.AUTOPSY].current_version
    assert AuditEvent.objects.filter(action="report.amended", reason=REASON).count() == 2


def test_amending_the_certificate_reopens_the_autopsy_and_one_amendment_at_a_time(morgue):
    morgue.recorded()
    morgue.released()
    reports = reports_of(morgue)
    report_services.request_amendment(morgue.manager, reports[ReportKind.DEATH_CERTIFICATE], "Wrong place of death.")
    assert morgue.autopsy_request().status == RequestStatus.IN_PROGRESS
    before = counts()
    with pytest.raises(ValidationError, match="already has an amendment in progress"):
        report_services.request_amendment(morgue.manager, reports[ReportKind.AUTOPSY], REASON)
    assert counts() == before
    assert Amendment.objects.count() == 1
    # A correction of the investigation while the report is out needs its reason too.
    services.update_investigation(
        morgue.pathologist, morgue.reload(), death_place="Lake Independence, Belize District", reason="Address check."
    )
    morgue.reviewed()
    lab_services.release(morgue.manager, morgue.autopsy_request(), reauthenticated=True)
    for report in reports.values():
        amended = report.current_version
        assert (amended.version, amended.amendment_reason) == (2, "Wrong place of death.")
        assert "Lake Independence, Belize District" in " ".join(pdf_text(pdf_bytes(amended)).split())
