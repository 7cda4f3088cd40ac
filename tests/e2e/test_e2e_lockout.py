"""Five wrong passwords lock the account (and the address) even against the right password."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from forensis.core.management.commands.seed_demo import DEMO_PASSWORD

from .helpers import sign_in

pytestmark = pytest.mark.e2e

PASSWORD = "Lockout-test-pass-42"
WRONG_LOGIN = "The username or password is not correct."


def test_five_failures_lock_the_account(lockout_server, page: Page):
    lockout_server.create_user("lockout.victim", PASSWORD)

    for attempt in range(1, 5):
        sign_in(page, lockout_server.url, "lockout.victim", f"wrong-password-{attempt}")
        expect(page.get_by_text(WRONG_LOGIN)).to_be_visible()
        expect(page.get_by_test_id("locked")).to_have_count(0)
    sign_in(page, lockout_server.url, "lockout.victim", "wrong-password-5")

    sign_in(page, lockout_server.url, "lockout.victim", PASSWORD)
    expect(page.get_by_test_id("locked")).to_be_visible()
    page.goto(f"{lockout_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))

    # The five failures came from this address too, so another account is locked out from here as well.
    sign_in(page, lockout_server.url, "analyst", DEMO_PASSWORD)
    expect(page.get_by_test_id("locked")).to_be_visible()
