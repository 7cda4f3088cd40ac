"""The language buttons switch the interface between English and Spanish."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import forensis

pytestmark = pytest.mark.e2e

SPANISH_CATALOGUE = Path(forensis.__file__).parent / "locale" / "es" / "LC_MESSAGES" / "django"


def _switch(page: Page, code: str) -> None:
    page.get_by_test_id("language-switch").locator(f"button[value={code}]").click()
    page.wait_for_load_state()


def _spanish_compiled() -> bool:
    po, mo = SPANISH_CATALOGUE.with_suffix(".po"), SPANISH_CATALOGUE.with_suffix(".mo")
    return po.exists() and mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime


def test_language_switch_on_the_login_page(demo_server, page: Page):
    page.goto(f"{demo_server.url}/accounts/login/")
    switch = page.get_by_test_id("language-switch")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(switch.locator("button[value=en]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("main h1")).to_have_text("Sign in to Forensis")

    _switch(page, "es")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(switch.locator("button[value=es]")).to_have_attribute("aria-pressed", "true")
    expect(switch.locator("button[value=en]")).not_to_have_attribute("aria-pressed", "true")
    assert page.url == f"{demo_server.url}/accounts/login/"

    _switch(page, "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(switch.locator("button[value=en]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("main h1")).to_have_text("Sign in to Forensis")


@pytest.mark.skipif(not _spanish_compiled(), reason="Spanish catalogue not compiled: run `forensis compilemessages`")
def test_login_page_in_spanish(demo_server, page: Page, screenshot_dir):
    page.goto(f"{demo_server.url}/accounts/login/")
    _switch(page, "es")
    expect(page.locator("main h1")).to_have_text("Iniciar sesión en Forensis")
    page.screenshot(path=screenshot_dir / "login-es.png", full_page=True)
