"""The discovery packet: one ZIP per case with the packet PDF, the stored files byte for byte, and a manifest."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from pypdf import PdfReader

from forensis.accounts.models import AgencyType
from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from forensis.evidence import outsourcing
from forensis.lab import services as lab_services
from forensis.lab.models import Attachment
from forensis.reports import services as report_services
from forensis.reports.discovery import build_discovery_packet, render_discovery_pdf, safe_name, unique_path
from forensis.reports.models import Report, ReportVersion
from tests.lab import test_review_services as review_tests
from tests.lab.test_review_services import ADMINISTRATIVE, BLOOD_ALCOHOL, TECHNICAL, Lab

CORRECTED = {**BLOOD_ALCOHOL, "concentration": "0.095"}
SEND_BACK = "Integrate the internal standard peak again."
AMENDMENT = "Concentration transcribed wrongly from the instrument printout."
CHROMATOGRAM = b"time,signal\n0.00,12\n0.01,15\n"


def release_both_reviews(lab: Lab) -> None:
    lab_services.complete_draft(lab.analyst, lab.request, reauthenticated=True)
    lab.approve(lab.reviewer, TECHNICAL)
    lab.approve(lab.manager, ADMINISTRATIVE)
    lab_services.release(lab.manager, lab.request, reauthenticated=True)
    lab.reload()


@pytest.fixture
def case_file(lab, prosecutors):
    """A released toxicology case with two attachments of the same name, a send-back, an amended report (two
    versions, two result versions) and the prosecutor's office as its contact."""
    lab_services.assign(lab.manager, lab.request, lab.analyst)
    lab_services.start_examination(
        lab.analyst, lab.request, method=lab.method, instrument=lab.instrument, reagent_lots=[lab.lot]
    )
    lab_services.record_result(lab.analyst, lab.request, lab.item, BLOOD_ALCOHOL)
    lab_services.attach_file(lab.analyst, lab.request, SimpleUploadedFile("chromatogram.csv", CHROMATOGRAM))
    lab_services.attach_file(lab.analyst, lab.request, SimpleUploadedFile("Chromatogram.csv", b"second run\n"))
    lab_services.complete_draft(lab.analyst, lab.request, reauthenticated=True)
    lab_services.review(lab.reviewer, lab.request, stage=TECHNICAL, approve=False, reason=SEND_BACK)
    lab.reload()
    release_both_reviews(lab)
    report = Report.objects.get(request=lab.request)
    report_services.request_amendment(lab.manager, report, AMENDMENT)
    lab.reload()
    lab_services.record_result(lab.analyst, lab.request, lab.item, CORRECTED, reason="Transcription error")
    release_both_reviews(lab)
    report_services.add_case_contact(
        lab.custodian, lab.request.case, role="prosecutor", agency=prosecutors, name="Paula Reyes", email="p@dpp.bz"
    )
    return lab.request.case


def unpack(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def names_in_order(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.namelist()


def pdf_words(data: bytes) -> str:
    """The PDF's text with every run of white space made one space (table cells wrap lines anywhere)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def stored_bytes(obj) -> bytes:
    with obj.file.open("rb") as handle:
        return handle.read()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_packet_holds_the_pdf_every_report_version_the_attachments_and_a_manifest(case_file, lab, prosecutor):
    data = build_discovery_packet(prosecutor, case_file)
    files = unpack(data)
    versions = list(ReportVersion.objects.filter(report__case=case_file).order_by("version"))
    first, second = Attachment.objects.filter(examination__request=lab.request).order_by("pk")
    folder = f"attachments/{lab.request.pk}-toxicology"
    expected = [
        "packet.pdf",
        *(f"reports/{version.report.number}-v{version.version}.pdf" for version in versions),
        f"{folder}/chromatogram.csv",
        f"{folder}/Chromatogram (2).csv",  # the same name in another letter case: not overwritten on unzip
        "manifest.json",
        "MANIFEST.txt",
    ]
    assert names_in_order(data) == expected
    assert len(versions) == 2 and versions[0].superseded_at is not None
    for version in versions:
        pdf = files[f"reports/{version.report.number}-v{version.version}.pdf"]
        assert pdf == stored_bytes(version)
        assert sha256(pdf) == version.sha256
    assert files[f"{folder}/chromatogram.csv"] == CHROMATOGRAM == stored_bytes(first)
    assert files[f"{folder}/Chromatogram (2).csv"] == stored_bytes(second)
    assert files["packet.pdf"].startswith(b"%PDF")

    manifest = json.loads(files["manifest.json"])
    assert manifest["case"] == case_file.lab_number
    assert [entry["path"] for entry in manifest["files"]] == expected[:-2]
    for entry in manifest["files"]:
        assert entry["sha256"] == sha256(files[entry["path"]])
        assert entry["size"] == len(files[entry["path"]])
        if entry["path"] != "packet.pdf":
            assert (entry["status"], entry["recorded_sha256"]) == ("ok", entry["sha256"])
    assert [entry.get("original_name") for entry in manifest["files"][3:]] == ["chromatogram.csv", "Chromatogram.csv"]
    text = files["MANIFEST.txt"].decode()
    for entry in manifest["files"]:
        assert f"{entry['sha256']}  {entry['size']:>12}  {entry['path']}" in text
    assert "CHANGED SINCE STORED" not in text


def test_packet_pdf_tells_the_whole_story(case_file, lab):
    text = pdf_words(render_discovery_pdf(case_file))
    versions = ReportVersion.objects.filter(report__case=case_file).order_by("version")
    for expected in (
        "Discovery packet",
        case_file.lab_number,
        "Director of Public Prosecutions",  # the contact
        "Paula Reyes",
        lab.item.label,
        "Blood sample, grey-top tube",
        "Receipt at the laboratory",  # the custody event at receipt
        "Verification of the custody ledger",
        "TOX-BAC-HS",
        "Blood alcohol by headspace GC-FID",
        "GC-FID Agilent 8890",
        "NP-2611",
        "Rosa Cal",  # the technical reviewer
        "Sent back",
        SEND_BACK,
        "The method was followed.: Yes",  # checklist answer
        "0.085 g/100 mL",  # result version 1, superseded
        "0.095 g/100 mL",  # result version 2, current
        "Transcription error",
        AMENDMENT,
        "Superseded",
        "chromatogram.csv",
        "Technically reviewed",  # a signature's meaning
        "result.recorded",  # audit actions
        "examination.file_attached",
        "report.issued",
        "report.amended",
        "case.contact_added",
    ):
        assert expected in text, expected
    for version in versions:
        assert version.sha256[:16] in text
    assert text.index("report.issued") < text.index("report.amended")  # the audit extract is chronological


def test_the_download_is_audited_once(case_file, lab):
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    data = build_discovery_packet(lab.manager, case_file)
    events = list(AuditEvent.objects.filter(pk__gt=last))
    assert [(event.action, event.object_id, event.actor_id) for event in events] == [
        ("case.discovery_downloaded", str(case_file.pk), lab.manager.pk)
    ]
    files = unpack(data)
    assert events[0].after == {"files": len(files), "sha256": sha256(files["manifest.json"])}


@pytest.mark.parametrize("tampered", ["attachment", "report"])
def test_a_stored_file_changed_on_disk_is_flagged(case_file, lab, prosecutor, tampered):
    if tampered == "attachment":
        stored = Attachment.objects.filter(examination__request=lab.request).order_by("pk").first()
    else:
        stored = ReportVersion.objects.filter(report__case=case_file).order_by("version").first()
    Path(stored.file.path).write_bytes(b"not what was stored")

    files = unpack(build_discovery_packet(prosecutor, case_file))

    manifest = json.loads(files["manifest.json"])
    flagged = [entry for entry in manifest["files"] if entry.get("status") == "changed"]
    assert len(flagged) == 1
    assert flagged[0]["recorded_sha256"] == stored.sha256
    assert flagged[0]["sha256"] == sha256(b"not what was stored") == sha256(files[flagged[0]["path"]])
    text = files["MANIFEST.txt"].decode()
    assert f"CHANGED SINCE STORED: the SHA-256 recorded when stored was {stored.sha256}" in text
    assert "Files flagged: 1." in text


def test_hostile_original_names_stay_inside_their_folder(case_file, lab, prosecutor):
    """Names kept from elsewhere (an imported record, another client) never reach outside their folder."""
    first, second = Attachment.objects.filter(examination__request=lab.request).order_by("pk")
    Attachment.objects.filter(pk=first.pk).update(original_name="../../../etc/cron.d/evil.sh")
    Attachment.objects.filter(pk=second.pk).update(original_name="..")
    names = names_in_order(build_discovery_packet(prosecutor, case_file))
    folder = f"attachments/{lab.request.pk}-toxicology"
    assert [name for name in names if name.startswith("attachments/")] == [f"{folder}/evil.sh", f"{folder}/attachment"]
    assert not any(".." in name or name.startswith("/") for name in names)


def test_a_stored_file_missing_from_storage_is_flagged(case_file, lab, prosecutor):
    attachment = Attachment.objects.filter(examination__request=lab.request).order_by("pk").first()
    Path(attachment.file.path).unlink()
    files = unpack(build_discovery_packet(prosecutor, case_file))
    entry = next(e for e in json.loads(files["manifest.json"])["files"] if e["path"].endswith("/chromatogram.csv"))
    assert (entry["status"], entry["sha256"]) == ("missing", None)
    assert entry["path"] not in files
    assert "MISSING FROM STORAGE" in files["MANIFEST.txt"].decode()


def test_external_results_of_the_case_shipments_are_included(lab, prosecutor):
    shipment = outsourcing.prepare_shipment(lab.custodian, [lab.item], laboratory="DNA Labs International")
    shipment = outsourcing.ship(lab.custodian, shipment, tracking_number="FX-1")
    result = outsourcing.attach_result(
        lab.custodian, shipment, SimpleUploadedFile("results/STR profile.pdf", b"%PDF-1.4 external")
    )
    case = lab.request.case
    manager_data = build_discovery_packet(lab.manager, case)
    files = unpack(manager_data)
    path = f"external-results/{shipment.reference}/STR profile.pdf"
    assert files[path] == b"%PDF-1.4 external"
    entry = next(e for e in json.loads(files["manifest.json"])["files"] if e["path"] == path)
    assert entry["recorded_sha256"] == result.sha256 == entry["sha256"]
    text = pdf_words(files["packet.pdf"])
    assert "DNA Labs International" in text and shipment.reference in text
    assert "Outsourcing" in text  # the custody event of the shipment
    assert "No report has been issued in this case." in text


def test_a_shipment_that_also_carried_another_cases_items_keeps_its_file_out(lab, officer):
    """Its results file may name the other case's people; the packet goes to the defence."""
    other = review_tests.receive_toxicology_case(officer, lab.custodian, "CY-TR-2026-0199").items.get()
    shipment = outsourcing.prepare_shipment(lab.custodian, [lab.item, other], laboratory="DNA Labs International")
    shipment = outsourcing.ship(lab.custodian, shipment, tracking_number="FX-2")
    outsourcing.attach_result(lab.custodian, shipment, SimpleUploadedFile("batch.pdf", b"%PDF-1.4 both cases"))
    files = unpack(build_discovery_packet(lab.manager, lab.request.case))
    assert not any(name.startswith("external-results/") for name in files)
    assert shipment.reference in pdf_words(files["packet.pdf"])


def test_refused_without_the_right_or_without_sight_of_the_case(case_file, make_user, make_agency, officer):
    elsewhere = make_agency(AgencyType.PROSECUTOR, code="DPP-N", name="Northern Prosecutions")
    refused = [
        make_user(Role.PROSECUTOR, agency=elsewhere),  # a prosecutor, but not the case's contact
        officer,  # sees the case (their agency's), but may not download packets
        make_user(Role.STATISTICIAN),
    ]
    before = AuditEvent.objects.count()
    for user in refused:
        with pytest.raises(PermissionDenied):
            build_discovery_packet(user, case_file)
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\lab\\run 1.csv", "run 1.csv"),
        ("..", "file"),
        ("...csv", "csv"),
        ("a..b.pdf", "a.b.pdf"),
        ("CON.txt", "_CON.txt"),
        ('bad<>:"|?*\x00name.raw', "bad________name.raw"),
        ("x" * 300 + ".fid", "x" * 116 + ".fid"),
    ],
)
def test_safe_name(name, safe):
    assert safe_name(name) == safe


def test_unique_path_counts_up_in_any_letter_case():
    taken: set[str] = set()
    paths = [unique_path("attachments/1-dna", name, taken) for name in ("a.csv", "A.csv", "a.csv", "b")]
    assert paths == [
        "attachments/1-dna/a.csv",
        "attachments/1-dna/A (2).csv",
        "attachments/1-dna/a (3).csv",
        "attachments/1-dna/b",
    ]
