"""Partner API tokens in the browser: the administrator issues one, the partner's system uses the key read off the
page, and once revoked in the browser the same call is refused."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from forensis.core.management.commands.seed_demo import DEMO_PASSWORD
from tests.e2e.helpers import sign_in

pytestmark = pytest.mark.e2e

TOKEN_NAME = "police-rms-e2e"
AGENCY_LABEL = "Belize District Police — Queen Street Station"  # BPD-BZ in the demo


def call_cases(base_url: str, key: str) -> tuple[int, dict]:
    """GET /api/v1/cases/ as the partner's system would: the status and the JSON body."""
    url = f"{base_url}/api/v1/cases/"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})  # noqa: S310  (our server)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  (our own test server)
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_administrator_issues_and_revokes_a_token(demo_server, page: Page, screenshot_dir):
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    sign_in(page, demo_server.url, "admin", DEMO_PASSWORD)
    page.get_by_role("button", name="Administration").click()
    page.get_by_role("link", name="Partner API tokens").click()
    expect(page.get_by_role("heading", name="Partner API tokens")).to_be_visible()

    page.get_by_role("link", name="Issue a token").click()
    form = page.get_by_test_id("issue-form")
    form.locator("input[name=name]").fill(TOKEN_NAME)
    form.locator("select[name=agency]").select_option(label=AGENCY_LABEL)
    form.get_by_label("Cases, people, items and custody").check()
    form.get_by_label("Read only").check()
    page.screenshot(path=screenshot_dir / "api-token-form.png", full_page=True)
    form.get_by_role("button", name="Issue token").click()

    expect(page.get_by_test_id("shown-once")).to_contain_text("shown only once")
    key = page.get_by_test_id("token-key").input_value().strip()
    assert re.fullmatch(r"fns_[0-9a-f]{8}_[A-Za-z0-9_-]{20,}", key), key
    page.screenshot(path=screenshot_dir / "api-token-issued.png", full_page=True)

    status, body = call_cases(demo_server.url, key)
    assert status == 200, body
    assert "results" in body

    page.get_by_role("link", name="I have copied it: go to the token").click()
    expect(page.get_by_role("heading", name=TOKEN_NAME)).to_be_visible()
    expect(page.locator("main")).not_to_contain_text(key)
    revoke = page.get_by_test_id("revoke")
    revoke.get_by_label("Reason").fill("Partner system replaced")
    revoke.get_by_label("I understand").check()
    page.screenshot(path=screenshot_dir / "api-token-detail.png", full_page=True)
    revoke.get_by_role("button", name="Revoke token").click()

    expect(page.get_by_role("alert")).to_contain_text(f"Token {TOKEN_NAME} revoked")
    expect(page.get_by_test_id("status-badge")).to_have_attribute("data-status", "revoked")
    expect(page.get_by_test_id("revoke-reason")).to_have_text("Partner system replaced")

    status, body = call_cases(demo_server.url, key)
    assert status == 401, body
    assert body["error"]["code"] == "token_revoked"

    page.locator(".breadcrumb").get_by_role("link", name="Partner API tokens").click()
    row = page.locator("tbody tr", has_text=TOKEN_NAME)
    expect(row.get_by_test_id("status-badge")).to_have_attribute("data-status", "revoked")
    expect(row).to_contain_text(f"fns_{key.split('_')[1]}_…")
    page.screenshot(path=screenshot_dir / "api-token-list.png", full_page=True)

    assert not problems, problems  # no script errors and no Content-Security-Policy violations
