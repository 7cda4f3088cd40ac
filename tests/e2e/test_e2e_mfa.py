"""A laboratory user with no authenticator must enrol one; afterwards every sign-in asks for a code."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from .helpers import Authenticator, sign_in, sign_out, submit_code

pytestmark = pytest.mark.e2e

PASSWORD = "Mfa-test-pass-2026"
WRONG_CODE = "That code is not correct or has expired."
# django-otp throttles a device after a wrong code: the next attempt within 1 s (then 2, 4, … s) is refused.
THROTTLE_AFTER_ONE_FAILURE = 1.0


def test_enrol_then_verify_at_the_next_sign_in(strict_server, page: Page, screenshot_dir):
    strict_server.create_user("mfa.analyst", PASSWORD, role="analyst")

    sign_in(page, strict_server.url, "mfa.analyst", PASSWORD)
    expect(page).to_have_url(re.compile(r"/accounts/mfa/enrol/$"))
    expect(page.get_by_test_id("mfa-qr")).to_be_visible()
    secret = page.get_by_test_id("mfa-secret")
    expect(secret).to_have_text(re.compile(r"^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$"))
    key = secret.inner_text().strip()
    page.screenshot(path=screenshot_dir / "mfa-enrol.png", full_page=True)
    app = Authenticator(key)

    # Nothing else opens before enrolment.
    page.goto(f"{strict_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/mfa/enrol/$"))
    expect(page.get_by_test_id("mfa-secret")).to_have_text(key)

    submit_code(page, app.wrong_code())
    failed_at = time.monotonic()
    expect(page.get_by_text(WRONG_CODE)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/accounts/mfa/enrol/$"))
    expect(page.get_by_test_id("mfa-secret")).to_have_text(key)  # the same key until enrolment succeeds

    time.sleep(max(0.0, THROTTLE_AFTER_ONE_FAILURE + 0.2 - (time.monotonic() - failed_at)))
    enrolled_step = app.current_step()
    submit_code(page, app.code_at(enrolled_step))
    expect(page).to_have_url(f"{strict_server.url}/")
    expect(page.get_by_text("Multi-factor authentication is set up.")).to_be_visible()
    expect(page.get_by_test_id("role-badge")).to_have_text("Analyst")

    sign_out(page)

    sign_in(page, strict_server.url, "mfa.analyst", PASSWORD)
    expect(page).to_have_url(re.compile(r"/accounts/mfa/verify/\?next=(/|%2F)$"))
    # django-otp refuses a code of a step already used (replay protection) and accepts one step either
    # side of now: the code of the step after the enrolment code is valid without waiting for it.
    submit_code(page, app.code_at(max(enrolled_step + 1, app.current_step())))
    expect(page).to_have_url(f"{strict_server.url}/")
    expect(page.get_by_test_id("role-badge")).to_have_text("Analyst")
