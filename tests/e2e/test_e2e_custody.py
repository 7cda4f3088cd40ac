"""Custody with a keyboard-wedge scanner and no mouse: items go into a box, then to an analyst who accepts them.

A scanner types what it reads into the focused box and presses Enter; everything else here is Tab, typing and
Enter too. The box is made through the locations screen (with the keyboard), so the test does not depend on the
demo's storage tree; the items are whatever the demo custodian holds after the demo receipts.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from forensis.core.management.commands.seed_demo import DEMO_PASSWORD

pytestmark = pytest.mark.e2e

MAX_TABS = 60


@contextmanager
def another_person(browser: Browser) -> Iterator[BrowserContext]:
    """A second browser (its own cookies), set up like the ``context`` fixture."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()


def focused(page: Page, selector: str) -> bool:
    return page.evaluate("s => document.activeElement !== null && document.activeElement.matches(s)", selector)


def tab_to(page: Page, selector: str) -> None:
    """Press Tab until the element matching ``selector`` has the focus, as a person without a mouse does."""
    for _ in range(MAX_TABS):
        if focused(page, selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never got the focus with Tab")


def enter(page: Page) -> None:
    """Press Enter and wait for the page it submits to."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def scan(page: Page, code: str) -> None:
    """What a keyboard-wedge scanner does: type into the focused box, then Enter."""
    expect(page.get_by_test_id("scan-form").locator("input[name=code]")).to_be_focused()
    page.keyboard.type(code)
    enter(page)


def sign_in_with_keyboard(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    tab_to(page, "main form input[name=username]")
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    tab_to(page, "main form input[name=acknowledge]")
    page.keyboard.press("Space")
    tab_to(page, "main form button[type=submit]")
    enter(page)
    expect(page).to_have_url(f"{base_url}/")


def held_labels(page: Page, base_url: str) -> list[str]:
    page.goto(f"{base_url}/custody/")
    rows = page.get_by_test_id("held-items").locator("tbody tr")
    expect(rows.first).to_be_visible()
    return [rows.nth(i).locator("td").first.inner_text().strip() for i in range(rows.count())]


def new_box(page: Page, base_url: str, name: str) -> str:
    """Make a box on the locations screen with the keyboard; return its barcode."""
    page.goto(f"{base_url}/locations/new/")
    expect(page.locator("#id_name")).to_be_focused()
    page.keyboard.type(name)
    tab_to(page, "#id_kind")
    page.keyboard.type("Box")  # type-to-select in a closed <select>
    expect(page.locator("#id_kind")).to_have_value("box")
    tab_to(page, "#id_capacity")
    page.keyboard.type("20")
    enter(page)
    expect(page.locator("main h1")).to_have_text(name)
    code = page.get_by_test_id("location-code").inner_text().strip()
    assert re.fullmatch(r"LOC\d{5}", code), code
    return code


def test_keyboard_only_custodian_boxes_items_and_hands_them_to_an_analyst(
    demo_server, browser: Browser, page: Page, screenshot_dir
):
    base = demo_server.url
    box_name = f"Box E2E {uuid.uuid4().hex[:4]}"

    sign_in_with_keyboard(page, base, "custodian")
    labels = held_labels(page, base)[:2]
    assert len(labels) == 2, labels
    box_code = new_box(page, base, box_name)

    # Scan two items, then the box's barcode: the batch moves into the box.
    page.goto(f"{base}/custody/scan/")
    for count, label in enumerate(labels, start=1):
        scan(page, label)
        expect(page.get_by_test_id("batch-count")).to_have_text(str(count))
        expect(page.get_by_role("alert").filter(has_text=f"Added {label}")).to_be_visible()
    expect(page.get_by_test_id("batch-item")).to_have_count(2)
    page.screenshot(path=screenshot_dir / "custody-scan-batch.png", full_page=True)
    scan(page, box_code)
    expect(page.get_by_role("alert").filter(has_text=f"Moved 2 item(s) to {box_name}.")).to_be_visible()
    expect(page.get_by_test_id("batch-count")).to_have_text("0")
    page.goto(f"{base}/locations/{box_code}/")
    for label in labels:
        expect(page.get_by_test_id("location-contents")).to_contain_text(label)

    # Scan them again and name the analyst: the hand-over goes to the analyst's queue.
    page.goto(f"{base}/custody/scan/")
    for label in labels:
        scan(page, label)
    scan(page, "@analyst")
    hand_over = page.get_by_test_id("hand-over-form")
    expect(hand_over).to_contain_text("Hand 2 item(s) to Andre Flowers")
    expect(hand_over.locator("select[name='handover-purpose']")).to_be_focused()
    expect(hand_over.locator("select[name='handover-purpose']")).to_have_value("analysis")
    page.keyboard.press("Tab")
    page.keyboard.type("DEMO-SEAL-1")  # the seal number, the field after the purpose
    page.screenshot(path=screenshot_dir / "custody-scan-hand-over.png", full_page=True)
    tab_to(page, "[data-testid=send-to-queue]")
    enter(page)
    expect(
        page.get_by_role("alert").filter(has_text="Offered 2 item(s) to Andre Flowers. They stay with you")
    ).to_be_visible()
    page.goto(f"{base}/custody/")
    expect(page.get_by_test_id("outgoing-transfers")).to_contain_text("Andre Flowers")
    for label in labels:
        expect(page.get_by_test_id("held-items")).to_contain_text(label)  # still with the custodian

    # The analyst signs in and accepts from the queue.
    with another_person(browser) as analyst_browser:
        lab = analyst_browser.new_page()
        sign_in_with_keyboard(lab, base, "analyst")
        lab.goto(f"{base}/custody/")
        offer = lab.get_by_test_id("incoming-transfer")
        expect(offer).to_have_count(1)
        expect(offer).to_contain_text("Carla Pook")
        tab_to(lab, "[data-testid=accept-transfer]")
        enter(lab)
        expect(lab.get_by_role("alert").filter(has_text="You now hold 2 item(s) from Carla Pook.")).to_be_visible()
        expect(lab.get_by_test_id("incoming-transfer")).to_have_count(0)
        held = lab.get_by_test_id("held-items")
        for label in labels:
            expect(held).to_contain_text(label)
        lab.screenshot(path=screenshot_dir / "custody-analyst.png", full_page=True)

        lab.goto(f"{base}/items/{labels[0]}/")
        expect(lab.get_by_test_id("item-holder")).to_have_text("Andre Flowers")
        ledger = lab.get_by_test_id("ledger-row")
        expect(ledger.last).to_contain_text("Carla Pook")
        expect(ledger.last).to_contain_text("Andre Flowers")
        expect(ledger.last).to_contain_text("Seal number: DEMO-SEAL-1")
        expect(ledger.nth(-2)).to_contain_text(box_name)
        lab.screenshot(path=screenshot_dir / "custody-item.png", full_page=True)

    page.goto(f"{base}/custody/")
    for label in labels:
        expect(page.locator("main")).not_to_contain_text(label)
