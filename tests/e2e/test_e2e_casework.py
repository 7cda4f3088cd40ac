"""Casework end to end: a received request goes to release through three people's browsers.

The lab manager assigns the demo toxicology request of the Cayo case on the triage board; the analyst starts the
examination on a calibrated instrument with an unexpired reagent lot, records results and signs the draft; the
reviewer sends it back once with a reason, then approves the corrected draft (technical review); the manager
approves the administrative review and releases it. Every approval is an electronic signature with the password.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from playwright.sync_api import Browser, Page, expect

from forensis.core.management.commands.seed_demo import DEMO_PASSWORD
from tests.e2e.helpers import sign_in

pytestmark = pytest.mark.e2e

SEND_BACK_REASON = "The urine result has no uncertainty: add the expanded uncertainty."
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
STAGES = (
    "requested_at",
    "assigned_at",
    "started_at",
    "draft_completed_at",
    "technical_reviewed_at",
    "administrative_reviewed_at",
    "released_at",
)

#: The demo request and people, looked up on the server (the test reads, never writes, through the shell).
FIND_REQUEST = """
import json
from forensis.accounts.models import User
from forensis.lab.models import ServiceRequest
r = ServiceRequest.objects.get(case__agency__code="BPD-CY", discipline__code="toxicology")
print(json.dumps({"pk": r.pk, "case": r.case.lab_number, "status": r.status,
                  "analyst": User.objects.get(username="analyst").pk}))
"""
RELEASED_STAGES = f"""
import json
from forensis.lab.models import ServiceRequest
print(json.dumps({{str(r.pk): [getattr(r, name) and getattr(r, name).isoformat() for name in {STAGES!r}]
                  for r in ServiceRequest.objects.filter(status="released")}}))
"""


def shell_json(server, code: str):
    """What ``code`` printed last, as JSON (``forensis shell`` may print a line of its own first)."""
    return json.loads(server.shell(code).strip().splitlines()[-1])


@contextmanager
def person(browser: Browser, base_url: str, username: str) -> Iterator[Page]:
    """A browser of its own (its own cookies) signed in as ``username``."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        sign_in(page, base_url, username, DEMO_PASSWORD)
        expect(page).to_have_url(f"{base_url}/")
        yield page
    finally:
        context.close()


def alert(page: Page, text: str):
    return page.get_by_role("alert").filter(has_text=text)


def option_value(page: Page, select: str, text: str) -> str:
    return page.locator(f"{select} option", has_text=text).get_attribute("value")


def record_result(page: Page, index: int, *, concentration: str, uncertainty: str = "") -> None:
    panel = page.get_by_test_id("item-panel").nth(index)
    form = panel.get_by_test_id("result-form")
    form.locator("[name$='-analyte']").fill("Ethanol")
    form.locator("[name$='-concentration']").fill(concentration)
    form.locator("select[name$='-unit']").select_option("g/100mL")
    form.locator("[name$='-uncertainty']").fill(uncertainty)
    form.get_by_test_id("save-result").click()
    current = page.get_by_test_id("item-panel").nth(index).get_by_test_id("current-result")
    expect(current).to_contain_text(f"{concentration} g/100 mL")


def complete_draft(page: Page) -> None:
    page.get_by_test_id("sign-form").locator("input[name$='password']").fill(DEMO_PASSWORD)
    page.get_by_test_id("complete-draft").click()
    expect(alert(page, "Draft completed and signed")).to_be_visible()
    expect(page.get_by_test_id("request-status")).to_have_text("Draft complete — waiting for technical review")


def approve(page: Page) -> None:
    form = page.get_by_test_id("review-form")
    checkboxes = form.get_by_test_id("checklist").locator("input[type=checkbox]")
    expect(checkboxes.first).to_be_visible()
    for index in range(checkboxes.count()):
        checkboxes.nth(index).check()
    form.locator("input[name=password]").fill(DEMO_PASSWORD)
    form.get_by_test_id("approve").click()


def queue_row(page: Page, queue: str, case: str):
    return page.get_by_test_id(f"queue-{queue}").get_by_test_id("queue-row").filter(has_text=case)


def test_request_goes_from_received_item_to_released_through_three_people(
    demo_server, browser: Browser, screenshot_dir
):
    base = demo_server.url
    demo = shell_json(demo_server, FIND_REQUEST)
    assert demo["status"] == "requested", demo
    pk, case = demo["pk"], demo["case"]
    request_url = f"{base}/requests/{pk}/"

    with (
        person(browser, base, "manager") as manager,
        person(browser, base, "analyst") as analyst,
        person(browser, base, "reviewer") as reviewer,
    ):
        # The lab manager assigns the request to the analyst on the triage board.
        manager.goto(f"{base}/triage/")
        row = manager.get_by_test_id(f"request-{pk}")
        row.get_by_test_id("assign-analyst").select_option(str(demo["analyst"]))
        row.get_by_test_id("assign-submit").click()
        expect(alert(manager, "assigned to Andre Flowers")).to_be_visible()

        # The analyst starts on the calibrated GC-FID with an unexpired lot; the out-of-date ones are refused.
        analyst.goto(f"{base}/requests/{pk}/examination/")
        start = analyst.get_by_test_id("start-form")
        expect(start.locator("select[name=setup-method]")).to_have_value(
            option_value(analyst, "select[name=setup-method]", "TOX-BAC-HS")
        )
        expect(start.locator("select[name=setup-instrument] option", has_text="US1703A552")).to_be_disabled()
        expect(start.locator("select[name=setup-reagent_lots] option", has_text="EC-0412")).to_be_disabled()
        start.locator("select[name=setup-instrument]").select_option(
            option_value(analyst, "select[name=setup-instrument]", "US2201A001")
        )
        start.locator("select[name=setup-reagent_lots]").select_option(
            option_value(analyst, "select[name=setup-reagent_lots]", "NP-2611")
        )
        start.get_by_test_id("start-examination").click()
        expect(analyst.get_by_test_id("request-status")).to_have_text("In progress")
        expect(analyst.get_by_test_id("item-panel")).to_have_count(2)
        record_result(analyst, 0, concentration="0.085", uncertainty="0.004")
        record_result(analyst, 1, concentration="0.112")
        complete_draft(analyst)

        # The reviewer finds it in the technical queue and sends it back with a reason.
        reviewer.goto(f"{base}/reviews/")
        queue_row(reviewer, "technical", case).get_by_test_id("queue-review-link").click()
        expect(reviewer).to_have_url(f"{base}/requests/{pk}/review/")
        expect(reviewer.get_by_test_id("request-results")).to_contain_text("0.112 g/100 mL")
        reviewer.get_by_test_id("review-form").locator("textarea[name=reason]").fill(SEND_BACK_REASON)
        reviewer.get_by_test_id("send-back").click()
        expect(alert(reviewer, "was sent back to the analyst")).to_be_visible()
        expect(queue_row(reviewer, "technical", case)).to_have_count(0)

        # The analyst sees why, corrects the result and signs again.
        analyst.goto(f"{base}/worklist/")
        sent_back = analyst.locator(f"[data-testid=worklist-row][data-request='{pk}']")
        expect(sent_back).to_have_class(re.compile("table-warning"))
        analyst.goto(f"{base}/requests/{pk}/examination/")
        expect(analyst.get_by_test_id("sent-back-banner")).to_contain_text(SEND_BACK_REASON)
        record_result(analyst, 1, concentration="0.112", uncertainty="0.005")
        complete_draft(analyst)

        # The reviewer approves the technical review: the checklist and the password.
        reviewer.goto(f"{base}/reviews/")
        queue_row(reviewer, "technical", case).get_by_test_id("queue-review-link").click()
        expect(reviewer.get_by_test_id("reviews")).to_contain_text(SEND_BACK_REASON)
        reviewer.screenshot(path=screenshot_dir / "casework-review.png", full_page=True)
        approve(reviewer)
        expect(alert(reviewer, "Technical review of request")).to_be_visible()
        # The technical reviewer may not do the administrative review as well.
        reviewer.goto(f"{base}/requests/{pk}/review/")
        expect(reviewer.get_by_test_id("review-refused")).to_contain_text(
            "the administrative review needs a different person"
        )

        # The manager approves the administrative review and releases it.
        manager.goto(f"{base}/reviews/")
        manager.screenshot(path=screenshot_dir / "casework-queues.png", full_page=True)
        queue_row(manager, "administrative", case).get_by_test_id("queue-review-link").click()
        approve(manager)
        expect(manager).to_have_url(f"{base}/requests/{pk}/release/")
        expect(alert(manager, "Administrative review of request")).to_be_visible()
        manager.screenshot(path=screenshot_dir / "casework-release.png", full_page=True)
        manager.get_by_test_id("release-form").locator("input[name=password]").fill(DEMO_PASSWORD)
        manager.get_by_test_id("release").click()
        expect(manager).to_have_url(request_url)
        expect(alert(manager, "was released")).to_be_visible()

        # The request page: released, five signatures, every stage timestamp in order.
        expect(manager.get_by_test_id("request-status")).to_have_text("Released")
        meanings = manager.get_by_test_id("signature-meaning")
        expect(meanings).to_have_text(
            ["Authored", "Authored", "Technically reviewed", "Administratively reviewed", "Released"]
        )
        signers = manager.get_by_test_id("signature-row")
        expect(signers).to_have_count(5)
        for index, name in enumerate(["Andre Flowers", "Andre Flowers", "Rosa Cal", "Marcus Young", "Marcus Young"]):
            expect(signers.nth(index)).to_contain_text(name)
        for name in STAGES:
            expect(manager.get_by_test_id(f"stage-{name}")).to_have_text(TIMESTAMP)
        expect(manager.get_by_test_id("stages-inconsistent")).to_have_count(0)
        expect(manager.get_by_test_id("examination-instrument")).to_contain_text("US2201A001")
        expect(manager.get_by_test_id("examination-lots")).to_contain_text("NP-2611")
        expect(manager.get_by_test_id("review-row")).to_have_count(3)
        expect(manager.get_by_test_id("transitions")).to_contain_text(SEND_BACK_REASON)
        manager.screenshot(path=screenshot_dir / "casework-request.png", full_page=True)

    # Stage timestamps of every released request are present and each ≥ the one before.
    released = shell_json(demo_server, RELEASED_STAGES)
    assert str(pk) in released, released
    for request_pk, stamps in released.items():
        shown = (request_pk, dict(zip(STAGES, stamps, strict=True)))
        assert all(stamps), shown
        times = [datetime.fromisoformat(stamp) for stamp in stamps]
        assert times == sorted(times), shown
