"""Shared fixtures of the report tests: a toxicology section with a received case, its released report, and the
prosecutor and court who may be named as the case's contacts."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from forensis.accounts.models import AgencyType
from forensis.accounts.roles import Role
from forensis.lab import services as lab_services
from forensis.lab.models import ServiceRequest
from forensis.reports.models import Report, ReportVersion
from tests.lab import test_review_services as review_tests

Lab = review_tests.Lab
BLOOD_ALCOHOL = review_tests.BLOOD_ALCOHOL

AGENCY_CASE_NUMBER = "CY-TR-2026-0102"
CONDITION = "Grey-top tube, label legible, kept cold"
DEVIATIONS = "Sample volume below 2 mL: duplicate injection only."


def receive_blood_sample(officer, custodian, agency_case_number: str = AGENCY_CASE_NUMBER) -> ServiceRequest:
    """A toxicology case received with the condition noted at receipt; its request."""
    return review_tests.receive_toxicology_case(officer, custodian, agency_case_number, condition=CONDITION)


@pytest.fixture(autouse=True)
def report_files(settings, tmp_path):
    """Issued PDFs are stored under MEDIA_ROOT: each test gets its own directory."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def lab(make_user, officer) -> Lab:
    """The toxicology section of ``tests.lab.test_review_services``; its case's item has a noted condition."""
    return Lab(make_user, officer, condition=CONDITION)


def release(lab: Lab) -> Report:
    """Release the request (both reviews done) as the manager; the report is issued in the same step."""
    lab_services.release(lab.manager, lab.request, reauthenticated=True)
    lab.reload()
    return Report.objects.get(request=lab.request)


@pytest.fixture
def released(lab) -> Report:
    """The report of the case, version 1, issued when the reviewed request was released."""
    lab.administratively_reviewed()
    return release(lab)


def amend(lab: Lab, report: Report, reason: str, *, corrected: dict, result_reason: str) -> ReportVersion:
    """The whole amendment: opened by the manager, result corrected, reviewed twice, released again."""
    from forensis.reports import services

    services.request_amendment(lab.manager, report, reason)
    lab.reload()
    lab_services.record_result(lab.analyst, lab.request, lab.item, corrected, reason=result_reason)
    lab_services.complete_draft(lab.analyst, lab.request, reauthenticated=True)
    lab.approve(lab.reviewer, review_tests.TECHNICAL)
    lab.approve(lab.manager, review_tests.ADMINISTRATIVE)
    release(lab)
    return report.current_version


@pytest.fixture
def prosecutors(make_agency):
    return make_agency(AgencyType.PROSECUTOR, code="ODPP", name="Office of the Director of Public Prosecutions")


@pytest.fixture
def other_prosecutors(make_agency):
    return make_agency(AgencyType.PROSECUTOR, code="ODPP-N", name="Northern Prosecutions Office")


@pytest.fixture
def court(make_agency):
    return make_agency(AgencyType.COURT, code="MAG-CY", name="Cayo Magistrate's Court")


@pytest.fixture
def prosecutor(make_user, prosecutors):
    return make_user(Role.PROSECUTOR, agency=prosecutors, username="prosecutor", first_name="Paula", last_name="Reyes")


@pytest.fixture
def other_prosecutor(make_user, other_prosecutors):
    return make_user(Role.PROSECUTOR, agency=other_prosecutors, username="prosecutor.n")


def pdf_bytes(version: ReportVersion) -> bytes:
    with version.file.open("rb") as handle:
        return handle.read()


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def pdf_text(data: bytes) -> str:
    return "\n".join(pdf_pages(data))
