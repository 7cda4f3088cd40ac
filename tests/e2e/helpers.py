"""What a person does in the browser, in a few words each; and an authenticator app for the MFA tests."""

from __future__ import annotations

import base64
import re
import time

from django_otp.oath import TOTP
from playwright.sync_api import Page, expect

TOTP_STEP = 30  # seconds, django-otp's default for TOTP devices


def sign_in(page: Page, base_url: str, username: str, password: str) -> None:
    """Fill in the sign-in form (accepting the system-use notice) and submit it."""
    page.goto(f"{base_url}/accounts/login/")
    form = page.locator("main form")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(password)
    form.locator("input[name=acknowledge]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()


def sign_out(page: Page) -> None:
    page.get_by_test_id("user-menu").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))


def submit_code(page: Page, code: str) -> None:
    """Enter a 6-digit code on the enrolment or verification page."""
    form = page.locator("main form")
    form.locator("input[name=token]").fill(code)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()


class Authenticator:
    """The phone app: TOTP codes from the key shown on the enrolment page (groups of 4 base32 characters)."""

    def __init__(self, grouped_key: str):
        key = grouped_key.replace(" ", "").upper()
        key += "=" * (-len(key) % 8)
        self.key = base64.b32decode(key)

    @staticmethod
    def current_step() -> int:
        return int(time.time()) // TOTP_STEP

    def code_at(self, step: int) -> str:
        totp = TOTP(self.key, step=TOTP_STEP, digits=6)
        totp.time = step * TOTP_STEP
        return f"{totp.token():06d}"

    def wrong_code(self) -> str:
        """A code that is not valid for any step near now."""
        near = {self.code_at(self.current_step() + offset) for offset in range(-3, 4)}
        candidate = int(self.code_at(self.current_step()))
        while f"{candidate:06d}" in near:
            candidate = (candidate + 123_457) % 1_000_000
        return f"{candidate:06d}"
