"""Reports end to end: release a request, the officer downloads the signed report, the public page verifies it.

The demo firearms request of the Belize District shooting case goes from received to released through the manager's,
analyst's and reviewer's browsers (the casework test takes the Cayo toxicology request, so the two share the demo
server without meeting); release issues report version 1. The submitting officer finds it in the portal and downloads
the PDF. A visitor who is not signed in uploads it to the verification page (authentic and current), uploads a copy
with one byte changed (not authentic), and opens the address in its QR code (current). The manager then amends the
report; the analyst corrects a result with a reason, the corrected draft is reviewed and released again, and version 1
is then "superseded by version 2" while version 2 is current. Both versions stay on the report page and download.
Last, the amended request's own page must not flag its stage timestamps as inconsistent.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

import pypdfium2 as pdfium
import pytest
import zxingcpp
from playwright.sync_api import Browser, Locator, Page, expect
from pypdf import PdfReader

from forensis.core.management.commands.seed_demo import DEMO_PASSWORD
from tests.e2e.test_e2e_casework import alert, approve, complete_draft, option_value, person, queue_row, shell_json

pytestmark = pytest.mark.e2e

AGENCY_CASE = "BZ-CR-2026-0311"  # the demo shooting case, submitted by the demo user "officer" (Belize District)
AGENCY = "Belize District Police — Queen Street Station"
CONCLUSIONS = ("identification", "identification", "inconclusive")  # firearm, cartridge cases, bullets
IBIS_ENTRY = "BZ-IBIS-2026-0311"
CORRECTION = "Bullet re-examined under higher magnification: sufficient agreement of individual characteristics."
AMENDMENT_REASON = "The comparison conclusion for the fired bullets was revised after re-examination."
ITEMS_TESTED_ONLY = "The results in this report relate only to the items tested, as received."

FIND_REQUEST = f"""
import json
from forensis.accounts.models import User
from forensis.lab.models import ServiceRequest
r = ServiceRequest.objects.get(case__agency_case_number={AGENCY_CASE!r}, discipline__code="firearms")
print(json.dumps({{"pk": r.pk, "case": r.case.lab_number, "agency": r.case.agency.code, "status": r.status,
                  "items": r.items.count(), "analyst": User.objects.get(username="analyst").pk}}))
"""


# --- what the people do --------------------------------------------------------------------------------------------


def record_conclusion(page: Page, index: int, conclusion: str, *, ibis_entry: str = "", reason: str = "") -> None:
    """The analyst records (or, with a reason, corrects) the comparison conclusion for one item."""
    form = page.get_by_test_id("item-panel").nth(index).get_by_test_id("result-form")
    form.locator("select[name$='-conclusion']").select_option(conclusion)
    form.locator("[name$='-ibis_entry']").fill(ibis_entry)
    form.locator("[name$='-reason']").fill(reason)
    label = form.locator(f"select[name$='-conclusion'] option[value='{conclusion}']").inner_text().strip()
    form.get_by_test_id("save-result").click()
    current = page.get_by_test_id("item-panel").nth(index).get_by_test_id("current-result")
    expect(current).to_contain_text(f"Comparison conclusion: {label}")


def review_and_release(reviewer: Page, manager: Page, base: str, pk: int, case: str) -> None:
    """Technical review by the reviewer, administrative review and release by the manager, each signed."""
    reviewer.goto(f"{base}/reviews/")
    queue_row(reviewer, "technical", case).get_by_test_id("queue-review-link").click()
    expect(reviewer).to_have_url(f"{base}/requests/{pk}/review/")
    approve(reviewer)
    expect(alert(reviewer, "Technical review of request")).to_be_visible()

    manager.goto(f"{base}/reviews/")
    queue_row(manager, "administrative", case).get_by_test_id("queue-review-link").click()
    approve(manager)
    expect(manager).to_have_url(f"{base}/requests/{pk}/release/")
    manager.get_by_test_id("release-form").locator("input[name=password]").fill(DEMO_PASSWORD)
    manager.get_by_test_id("release").click()
    expect(manager).to_have_url(f"{base}/requests/{pk}/")
    expect(alert(manager, "was released")).to_be_visible()
    expect(manager.get_by_test_id("request-status")).to_have_text("Released")


def download(page: Page, test_id: str, folder: Path) -> Path:
    """Click a download button; the file arrives as an attachment, saved under its suggested name."""
    with page.expect_download() as started:
        page.get_by_test_id(test_id).click()
    arrived = started.value
    assert arrived.failure() is None, arrived.failure()
    target = folder / arrived.suggested_filename
    arrived.save_as(target)
    return target


def verify_upload(page: Page, base: str, pdf: Path) -> Locator:
    """Upload a file on the public verification page; return the verdict section."""
    page.goto(f"{base}/verify/")
    expect(page.get_by_test_id("verdict")).to_have_count(0)
    form = page.get_by_test_id("verify-form")
    form.locator("input[name=file]").set_input_files(pdf)
    form.get_by_test_id("verify").click()
    verdict = page.get_by_test_id("verdict")
    expect(verdict).to_be_visible()
    return verdict


# --- what the PDF says ---------------------------------------------------------------------------------------------


def pdf_text(pdf: Path) -> str:
    """All pages' text, runs of white space made one space (the layout breaks lines anywhere)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(pdf).pages).split())


def qr_codes_by_page(pdf: Path) -> list[set[str]]:
    """The QR codes printed on each page, read from the rendered page as a phone camera would."""
    with pdfium.PdfDocument(pdf) as document:
        images = [page.render(scale=3).to_pil() for page in document]
    return [{code.text for code in zxingcpp.read_barcodes(image) if code.format.name == "QRCode"} for image in images]


def verification_path(pdf: Path, number: str) -> str:
    """The path of the one verification address in every page's QR code; its fingerprint is the printed one."""
    pages = qr_codes_by_page(pdf)
    assert pages and all(len(codes) == 1 for codes in pages), pages
    (address,) = pages[0]
    assert all(codes == {address} for codes in pages), pages
    path = urlsplit(address).path
    found = re.fullmatch(rf"/verify/{re.escape(number)}/([0-9a-f]{{64}})/", path)
    assert found, address
    assert f"Content fingerprint (SHA-256): {found[1]}" in pdf_text(pdf)
    return path


def test_released_report_is_downloaded_verified_and_superseded_by_its_amendment(
    demo_server, browser: Browser, page: Page, screenshot_dir, tmp_path
):
    base = demo_server.url
    demo = shell_json(demo_server, FIND_REQUEST)
    assert demo["status"] == "requested" and demo["agency"] == "BPD-BZ" and demo["items"] == 3, demo
    pk, case = demo["pk"], demo["case"]
    visitor = page  # a browser of its own that never signs in

    with (
        person(browser, base, "manager") as manager,
        person(browser, base, "analyst") as analyst,
        person(browser, base, "reviewer") as reviewer,
    ):
        # The manager assigns the request; the analyst examines the three items and signs the draft.
        manager.goto(f"{base}/triage/")
        row = manager.get_by_test_id(f"request-{pk}")
        row.get_by_test_id("assign-analyst").select_option(str(demo["analyst"]))
        row.get_by_test_id("assign-submit").click()
        expect(alert(manager, "assigned to Andre Flowers")).to_be_visible()

        analyst.goto(f"{base}/requests/{pk}/examination/")
        start = analyst.get_by_test_id("start-form")
        start.locator("select[name=setup-method]").select_option(
            option_value(analyst, "select[name=setup-method]", "FA-COMP")
        )
        start.locator("select[name=setup-instrument]").select_option(
            option_value(analyst, "select[name=setup-instrument]", "LFSC-3391")
        )
        start.get_by_test_id("start-examination").click()
        expect(analyst.get_by_test_id("request-status")).to_have_text("In progress")
        expect(analyst.get_by_test_id("item-panel")).to_have_count(3)
        for index, conclusion in enumerate(CONCLUSIONS):
            record_conclusion(analyst, index, conclusion, ibis_entry=IBIS_ENTRY if index == 1 else "")
        complete_draft(analyst)

        # Reviewed twice and released: the request page links to the report it issued.
        review_and_release(reviewer, manager, base, pk, case)
        manager.get_by_test_id("report-link").click()
        number = manager.get_by_test_id("report-number").inner_text().strip()
        assert re.fullmatch(r"[A-Z0-9]+-R-\d{4}-\d+", number), number
        expect(manager).to_have_url(f"{base}/reports/{number}/")
        expect(manager.get_by_test_id("versions").locator("tbody tr")).to_have_count(1)
        expect(manager.get_by_test_id("version-status")).to_have_text(["Current", "Current"])

        # The submitting officer is told in the app, finds the report in the portal and downloads it.
        with person(browser, base, "officer") as officer:
            officer.goto(f"{base}/notifications/")
            expect(officer.get_by_test_id("notifications")).to_contain_text(
                f"Report {number} for case {case} was released."
            )
            officer.goto(f"{base}/reports/")
            officer.get_by_test_id("report-table").get_by_role("link", name=number).click()
            expect(officer).to_have_url(f"{base}/reports/{number}/")
            expect(officer.get_by_test_id("amend-panel")).to_have_count(0)
            expect(officer.get_by_test_id("access-log")).to_have_count(0)  # shown to laboratory staff only
            v1 = download(officer, "download-current", tmp_path)
        assert v1.name == f"{number}-v1.pdf"
        v1_bytes = v1.read_bytes()
        assert v1_bytes.startswith(b"%PDF-")
        manager.reload()
        expect(manager.get_by_test_id("versions")).to_contain_text(hashlib.sha256(v1_bytes).hexdigest())
        access = manager.get_by_test_id("access-log").locator("tbody tr").filter(has_text="officer")
        expect(access.filter(has_text="Downloaded")).to_have_count(1)
        expect(access.filter(has_text="Opened")).to_have_count(1)

        # What the report says: number, case, customer, results, the ISO/IEC 17025 statement; page 1 as an image.
        text = pdf_text(v1)
        for expected in (number, case, AGENCY_CASE, AGENCY, "FA-COMP", "LFSC-3391", IBIS_ENTRY, ITEMS_TESTED_ONLY):
            assert expected in text, expected
        assert "Amendment" not in text
        with pdfium.PdfDocument(v1) as document:
            document[0].render(scale=1.5).to_pil().save(screenshot_dir / "report-page1.png")

        # Anyone may verify it, signed in or not: authentic and current, and nothing about the case is shown.
        verdict = verify_upload(visitor, base, v1)
        expect(verdict).to_have_attribute("data-verdict", "current")
        expect(verdict).to_contain_text("Authentic and current")
        expect(verdict.get_by_test_id("verified-number")).to_have_text(number)
        expect(verdict.get_by_test_id("signature-check")).to_contain_text("Its digital signature is valid")
        for private in (case, AGENCY_CASE, AGENCY, "Andre Flowers", "Omar Garcia"):
            expect(visitor.locator("main")).not_to_contain_text(private)
        visitor.screenshot(path=screenshot_dir / "verify-current.png", full_page=True)

        # One byte changed anywhere and it is not the report the laboratory issued.
        changed = bytearray(v1_bytes)
        changed[len(changed) // 2] ^= 0x01
        forged = tmp_path / "forged.pdf"
        forged.write_bytes(bytes(changed))
        verdict = verify_upload(visitor, base, forged)
        expect(verdict).to_have_attribute("data-verdict", "not_authentic")
        expect(verdict).to_contain_text("Not authentic")
        expect(verdict.get_by_test_id("verified-number")).to_have_count(0)
        expect(verdict.get_by_test_id("signature-check")).to_contain_text("no valid digital signature")

        # The QR code on every page opens the same answer without uploading anything.
        v1_link = verification_path(v1, number)
        visitor.goto(base + v1_link)
        expect(visitor.get_by_test_id("verdict")).to_have_attribute("data-verdict", "current")
        expect(visitor.get_by_test_id("verified-number")).to_have_text(number)

        # The manager opens an amendment: the work goes back to the analyst.
        manager.goto(f"{base}/reports/{number}/")
        panel = manager.get_by_test_id("amend-panel")
        panel.locator("textarea[name=reason]").fill(AMENDMENT_REASON)
        panel.get_by_test_id("amend").click()
        expect(alert(manager, f"The amendment of {number} is open")).to_be_visible()
        expect(manager.get_by_test_id("amendment-open")).to_contain_text(AMENDMENT_REASON)
        expect(manager.get_by_test_id("amend-panel")).to_have_count(0)

        # The analyst corrects the reviewed result (a new version, with the reason) and signs again.
        analyst.goto(f"{base}/requests/{pk}/examination/")
        expect(analyst.get_by_test_id("request-status")).to_have_text("In progress")
        record_conclusion(analyst, 2, "identification", reason=CORRECTION)
        expect(alert(analyst, "Version 2 of the result")).to_be_visible()
        complete_draft(analyst)

        # Reviewed and released again: version 2 supersedes version 1.
        review_and_release(reviewer, manager, base, pk, case)
        manager.get_by_test_id("report-link").click()
        expect(manager.get_by_test_id("versions").locator("tbody tr")).to_have_count(2)

        # The officer sees both versions on the report page; both download, version 1 byte for byte as before.
        with person(browser, base, "officer") as officer:
            officer.goto(f"{base}/notifications/")
            expect(officer.get_by_test_id("notifications")).to_contain_text(
                f"Report {number} for case {case} was amended (version 2)."
            )
            officer.goto(f"{base}/reports/{number}/")
            rows = officer.get_by_test_id("versions").locator("tbody tr")
            expect(rows).to_have_count(2)
            expect(rows.nth(0)).to_contain_text("v2")
            expect(rows.nth(0)).to_contain_text(AMENDMENT_REASON)
            expect(rows.nth(0).get_by_test_id("version-status")).to_have_text("Current")
            expect(rows.nth(1)).to_contain_text("v1")
            expect(rows.nth(1).get_by_test_id("version-status")).to_have_text("Superseded by version 2")
            expect(officer.get_by_test_id("download-current")).to_contain_text("Download version 2")
            v1_again = download(officer, "download-v1", tmp_path / "again")
            v2 = download(officer, "download-v2", tmp_path)
        assert v1_again.name == v1.name and v1_again.read_bytes() == v1_bytes
        assert v2.name == f"{number}-v2.pdf" and v2.read_bytes() != v1_bytes
        v2_text = pdf_text(v2)
        assert f"This version amends and supersedes version 1 of this report. Reason: {AMENDMENT_REASON}" in v2_text
        assert "Inconclusive" not in v2_text and "Inconclusive" in text

    # Version 1 is authentic but superseded, by upload and by its QR code; version 2 is current.
    verdict = verify_upload(visitor, base, v1)
    expect(verdict).to_have_attribute("data-verdict", "superseded")
    expect(verdict).to_contain_text("Authentic, but superseded by version 2")
    expect(verdict.get_by_test_id("verified-number")).to_have_text(number)
    visitor.screenshot(path=screenshot_dir / "verify-superseded.png", full_page=True)

    verdict = verify_upload(visitor, base, v2)
    expect(verdict).to_have_attribute("data-verdict", "current")
    expect(verdict).to_contain_text("Authentic and current")

    visitor.goto(base + v1_link)
    expect(visitor.get_by_test_id("verdict")).to_have_attribute("data-verdict", "superseded")
    v2_link = verification_path(v2, number)
    assert v2_link != v1_link
    visitor.goto(base + v2_link)
    expect(visitor.get_by_test_id("verdict")).to_have_attribute("data-verdict", "current")

    # An amended, re-released request is not a data error: its request page raises no stage-timestamp alarm.
    with person(browser, base, "manager") as manager:
        manager.goto(f"{base}/requests/{pk}/")
        expect(manager.get_by_test_id("request-status")).to_have_text("Released")
        expect(manager.get_by_test_id("stage-released_at")).not_to_have_text("—")
        expect(manager.get_by_test_id("stages-inconsistent")).to_have_count(0)
