"""Every demo user signs in, sees their home page with their role, and signs out."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from forensis.core.management.commands.seed_demo import DEMO_PASSWORD, USERS

from .helpers import sign_in, sign_out

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("username", "full_name", "role_label"),
    [(username, f"{first} {last}", str(role.label)) for username, first, last, _agency, role in USERS],
    ids=[user[0] for user in USERS],
)
def test_demo_user_signs_in_to_their_home_page_and_out(demo_server, page: Page, username, full_name, role_label):
    sign_in(page, demo_server.url, username, DEMO_PASSWORD)

    expect(page).to_have_url(f"{demo_server.url}/")
    expect(page.get_by_test_id("role-badge")).to_have_text(role_label)
    expect(page.get_by_test_id("user-menu")).to_have_text(full_name)

    sign_out(page)
    page.goto(f"{demo_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))


def test_sign_in_needs_the_notice_accepted(demo_server, page: Page):
    page.goto(f"{demo_server.url}/accounts/login/")
    form = page.locator("main form")
    form.locator("input[name=username]").fill("analyst")
    form.locator("input[name=password]").fill(DEMO_PASSWORD)
    form.locator("button[type=submit]").click()

    expect(page.get_by_text("You must accept the conditions of use to sign in.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_test_id("user-menu")).to_have_count(0)


def test_screenshots_of_the_login_and_home_pages(demo_server, page: Page, screenshot_dir):
    """For people reading a test run (and the README), not asserted on."""
    page.goto(f"{demo_server.url}/accounts/login/")
    page.screenshot(path=screenshot_dir / "login.png", full_page=True)

    sign_in(page, demo_server.url, "admin", DEMO_PASSWORD)
    expect(page.get_by_test_id("role-badge")).to_be_visible()
    page.screenshot(path=screenshot_dir / "home.png", full_page=True)
