"""Case intake, as people do it: an officer pre-logs a submission, the custodian scans and receives it.

The officer's submission form carries a QR code of the submission reference; at reception the custodian
"scans" it (a scanner types the code into the focused box and presses Enter), checks the items, has the
officer confirm the hand-over with their password, and takes custody: a case with numbered items whose
labels carry the item number as Code 128 and QR codes. The officer then sees the receipt and the deviation.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polib
import pypdfium2 as pdfium
import pytest
import zxingcpp
from playwright.sync_api import APIRequestContext, Browser, BrowserContext, Page, expect

import forensis
from forensis.core.management.commands.seed_demo import DEMO_PASSWORD

from .helpers import sign_in

pytestmark = pytest.mark.e2e

KIT = "Toxicology kit (driving)"  # two items in the demo data
OFFENCE = "02072"  # ICCS: driving under the influence
DISTRICT = "BZ"
TOWN = "Belize City"
LAB_TIME_ZONE = ZoneInfo("America/Belize")  # the demo server's TIME_ZONE
DEVIATION_NOTE = "Evidence tape on the blood tube cut through"
SPANISH_PO = Path(forensis.__file__).parent / "locale" / "es" / "LC_MESSAGES" / "django.po"

Translate = Callable[[str], str]


def english(text: str) -> str:
    return text


def spanish_catalogue() -> Translate:
    """msgid → msgstr from the Spanish .po file (untranslated or fuzzy entries stay in English, as Django does)."""
    catalogue = {
        entry.msgid: entry.msgstr
        for entry in polib.pofile(str(SPANISH_PO))
        if entry.msgstr and not entry.fuzzy and not entry.obsolete and not entry.msgctxt
    }
    return lambda text: catalogue.get(text, text)


@contextmanager
def another_person(browser: Browser) -> Iterator[BrowserContext]:
    """A second browser (its own cookies), set up like the ``context`` fixture."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()


def fetch_pdf(request: APIRequestContext, url: str) -> bytes:
    """Download a PDF with the page's cookies (as the browser does when the link is opened)."""
    response = request.get(url)
    assert response.ok, f"GET {url} answered {response.status}"
    assert response.headers["content-type"] == "application/pdf", response.headers
    return response.body()


def barcodes_on(pdf: bytes, page: int, *, scale: float) -> list[tuple[str, str]]:
    image = pdfium.PdfDocument(pdf)[page].render(scale=scale).to_pil()
    return sorted((barcode.format.name, barcode.text) for barcode in zxingcpp.read_barcodes(image))


def page_count(pdf: bytes) -> int:
    return len(pdfium.PdfDocument(pdf))


@dataclass
class PreLogged:
    reference: str
    agency_case_number: str
    seals: tuple[str, str]


def pre_log_and_submit(page: Page, base_url: str, _: Translate = english) -> PreLogged:
    """The signed-in officer pre-logs a submission from the toxicology kit and submits it."""
    page.goto(f"{base_url}/")
    page.get_by_role("link", name=_("New submission"), exact=True).click()
    expect(page).to_have_url(f"{base_url}/submissions/new/")
    page.locator("#id_kit").select_option(label=KIT)
    page.get_by_role("button", name=_("Create draft")).click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(base_url)}/submissions/(SUB-[0-9-]+)/edit/$"))
    reference = re.search(r"/submissions/([^/]+)/edit/$", page.url).group(1)
    expect(page.locator("main h1")).to_contain_text(reference)
    expect(page.get_by_test_id("item-row")).to_have_count(2)

    agency_case_number = f"BZ-E2E-{uuid.uuid4().hex[:8].upper()}"
    seals = (f"{agency_case_number}-S1", f"{agency_case_number}-S2")
    incident = datetime.now(LAB_TIME_ZONE) - timedelta(days=1, hours=2)
    page.locator("#id_agency_case_number").fill(agency_case_number)
    page.locator("#id_offence_codes").select_option(OFFENCE)
    page.locator("#id_incident_at").fill(incident.strftime("%Y-%m-%dT%H:%M"))
    page.locator("#id_district").select_option(DISTRICT)
    page.locator("#id_town").fill(TOWN)
    page.locator("#id_items-0-seal_number").fill(seals[0])
    page.locator("#id_items-1-seal_number").fill(seals[1])
    submit = page.get_by_role("button", name=_("Submit to the laboratory"))
    expect(submit).to_have_text(_("Submit to the laboratory"))
    submit.click()

    expect(page).to_have_url(f"{base_url}/submissions/{reference}/")
    expect(page.get_by_test_id("status-badge")).to_have_text(_("Submitted"))
    return PreLogged(reference=reference, agency_case_number=agency_case_number, seals=seals)


def receive_at_counter(
    desk: Page, base_url: str, submitted: PreLogged, *, broken_seal_note: str = "", screenshot: Path | None = None
) -> str:
    """The custodian signs in (in ``desk``, a browser of their own), scans the form and takes custody.

    With ``broken_seal_note``, item 1's seal is found broken and the note describes it. Returns the lab number.
    """
    reference = submitted.reference
    sign_in(desk, base_url, "custodian", DEMO_PASSWORD)
    expect(desk).to_have_url(f"{base_url}/")
    desk.get_by_role("navigation").get_by_role("link", name="Reception", exact=True).click()
    expect(desk).to_have_url(f"{base_url}/reception/")
    expect(desk.get_by_test_id("reception-queue")).to_contain_text(reference)
    # The scanner: it types into whatever has the focus, then presses Enter.
    expect(desk.locator("#scan")).to_be_focused()
    desk.keyboard.type(reference)
    desk.keyboard.press("Enter")

    expect(desk).to_have_url(f"{base_url}/reception/{reference}/")
    expect(desk.locator("main h1")).to_have_text(f"Receive {reference}")
    checks = desk.get_by_test_id("item-checks").locator("tbody tr")
    expect(checks).to_have_count(2)
    expect(checks.nth(0)).to_contain_text(submitted.seals[0])
    expect(checks.nth(1)).to_contain_text(submitted.seals[1])
    if broken_seal_note:
        checks.nth(0).locator("select[name$='-seal_status']").select_option(label="Seal broken")
        checks.nth(0).locator("input[name$='-deviation_note']").fill(broken_seal_note)
    desk.locator("#id_officer_username").fill("officer")
    desk.locator("#id_officer_password").fill(DEMO_PASSWORD)
    if screenshot is not None:
        desk.screenshot(path=screenshot, full_page=True)
    desk.get_by_role("button", name="Receive and take custody").click()

    expect(desk).to_have_url(re.compile(rf"^{re.escape(base_url)}/cases/[A-Z0-9]+-\d{{4}}-\d{{5}}/$"))
    lab_number = desk.get_by_test_id("lab-number").inner_text().strip()
    assert desk.url == f"{base_url}/cases/{lab_number}/"
    return lab_number


def test_officer_pre_logs_and_custodian_receives(demo_server, browser: Browser, page: Page, screenshot_dir):
    base = demo_server.url

    # 1. The officer pre-logs and submits; the printed form's QR code holds the submission reference.
    sign_in(page, base, "officer", DEMO_PASSWORD)
    expect(page).to_have_url(f"{base}/")
    submitted = pre_log_and_submit(page, base)
    reference = submitted.reference
    expect(page.get_by_role("alert").filter(has_text=reference)).to_contain_text("was sent to the laboratory")

    form_link = page.get_by_role("link", name="Submission form (PDF)")
    form_pdf = fetch_pdf(page.request, f"{base}{form_link.get_attribute('href')}")
    assert barcodes_on(form_pdf, 0, scale=4) == [("QRCode", reference)]

    # 2. The custodian scans the form at reception, checks the items and takes custody.
    with another_person(browser) as custodian_context:
        desk = custodian_context.new_page()
        lab_number = receive_at_counter(
            desk, base, submitted, broken_seal_note=DEVIATION_NOTE, screenshot=screenshot_dir / "intake-receive.png"
        )
        expect(desk.get_by_role("alert").filter(has_text=lab_number)).to_contain_text("Received as case")
        items = desk.get_by_test_id("case-items").locator("tbody tr")
        expect(items).to_have_count(2)
        expect(items.nth(0).locator("td").first).to_have_text(f"{lab_number}/01")
        expect(items.nth(1).locator("td").first).to_have_text(f"{lab_number}/02")
        expect(items.nth(0)).to_contain_text(DEVIATION_NOTE)
        desk.screenshot(path=screenshot_dir / "intake-case.png", full_page=True)

        # 3. The labels: one page per item, each with a Code 128 and a QR code of the item number.
        labels_pdf = fetch_pdf(desk.request, f"{base}{desk.get_by_test_id('labels-link').get_attribute('href')}")
        assert page_count(labels_pdf) == 2
        for index, label in enumerate([f"{lab_number}/01", f"{lab_number}/02"]):
            assert barcodes_on(labels_pdf, index, scale=8) == [("Code128", label), ("QRCode", label)]

    # 4. The officer sees the receipt, the deviation, and the notification on their home page.
    page.reload()
    expect(page.get_by_test_id("status-badge")).to_have_text("Received")
    expect(page.get_by_test_id("deviation-badge")).to_be_visible()
    expect(page.get_by_test_id("deviation-note")).to_have_text(DEVIATION_NOTE)
    expect(page.get_by_role("link", name=f"Case {lab_number}")).to_be_visible()

    page.goto(f"{base}/")
    notifications = page.get_by_test_id("home-notifications")
    expect(notifications).to_contain_text(
        f"Submission {reference} was received by the laboratory as case {lab_number}."
    )
    expect(notifications).to_contain_text(f"Deviations were recorded at receipt of {reference}: 1 item(s).")


def test_officer_pre_logs_in_spanish(demo_server, page: Page):
    _ = spanish_catalogue()
    assert _("Submit to the laboratory") != "Submit to the laboratory", "no Spanish for the submit button"
    assert _("Submitted") != "Submitted", "no Spanish for the status"
    switch = page.get_by_test_id("language-switch")

    page.goto(f"{demo_server.url}/accounts/login/")
    switch.get_by_role("button", name="ES", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    sign_in(page, demo_server.url, "officer", DEMO_PASSWORD)
    expect(page.locator("html")).to_have_attribute("lang", "es")

    pre_log_and_submit(page, demo_server.url, _)

    switch.get_by_role("button", name="EN", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("status-badge")).to_have_text("Submitted")


def test_received_submission_does_not_warn_about_its_own_case(demo_server, browser: Browser, page: Page):
    base = demo_server.url
    sign_in(page, base, "officer", DEMO_PASSWORD)
    submitted = pre_log_and_submit(page, base)
    expect(page.get_by_test_id("duplicate-warning")).to_have_count(0)
    with another_person(browser) as custodian_context:
        lab_number = receive_at_counter(custodian_context.new_page(), base, submitted)

    page.reload()
    expect(page.get_by_test_id("status-badge")).to_have_text("Received")
    expect(page.get_by_role("link", name=f"Case {lab_number}")).to_be_visible()
    # A server-rendered page, fully loaded: nothing will remove the warning later.
    expect(page.get_by_test_id("duplicate-warning")).to_have_count(0, timeout=1_000)
