"""The legacy import from its page, end to end, with the real background worker that ``forensis serve`` starts.

The administrator opens the import pages from the menu, uploads the shipped sample mapping and its CSV files and
starts a dry run; the page shows the worker's progress (polled with htmx) and, when it has finished, reloads to
the summary and the reconciliation. Nothing is saved by the dry run. "Import for real" queues the same files
again; the import creates the sample's cases, and its rejections.csv downloads as an attachment.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from forensis.core.management.commands.seed_demo import DEMO_PASSWORD
from tests.e2e.helpers import sign_in
from tests.e2e.test_e2e_casework import shell_json
from tests.e2e.test_e2e_reports import download

pytestmark = pytest.mark.e2e

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "forensis" / "legacy" / "sample"
SOURCE = "sample-access-export"
#: An import runs in the background: the worker looks for work every 2 s, the page polls every 2 s.
WORKER_TIMEOUT_MS = 90_000

SAMPLE_AGENCIES = """
from forensis.accounts import services
from forensis.accounts.models import Agency, AgencyType
for code, name, district in [
    ("BPD-BZ", "Belize Police (sample)", "BZ"),
    ("BPD-CY", "Cayo Police (sample)", "CY"),
    ("BPD-OW", "Orange Walk Police (sample)", "OW"),
]:
    if not Agency.objects.filter(code=code).exists():
        services.create_agency(None, code=code, name=name, type=AgencyType.POLICE, district=district)
"""

RUNNING = "IMP-E2E-00001"
#: A batch the worker is running, as the page sees it (the progress is what the worker writes as it goes).
PROGRESS = """
from forensis.accounts.models import User
from forensis.legacy.models import ImportBatch
ImportBatch.objects.update_or_create(
    number={number!r},
    defaults=dict(source_name="e2e", mapping_name="e2e.toml", started_by=User.objects.get(username="admin"),
                  status={status!r}, progress={progress!r}, upload_dir="/nonexistent"),
)
"""

IMPORTED = """
import json
from forensis.cases.models import Case
print(json.dumps({{"cases": Case.objects.filter(legacy_source={source!r}).count()}}))
"""


def wait_until_finished(page: Page) -> None:
    """The page polls the progress while the worker runs, then reloads itself with the summary."""
    expect(page.get_by_test_id("summary")).to_be_visible(timeout=WORKER_TIMEOUT_MS)
    expect(page.get_by_test_id("progress")).to_have_count(0)
    expect(page.get_by_test_id("status-badge")).to_have_attribute("data-status", "completed")


def summary_row(page: Page, label: str):
    return page.get_by_test_id("summary-row").filter(has=page.locator("th", has_text=label))


def test_an_administrator_imports_the_sample_from_the_page(demo_server, page: Page, screenshot_dir, tmp_path):
    base = demo_server.url
    demo_server.shell(SAMPLE_AGENCIES)
    sign_in(page, base, "admin", DEMO_PASSWORD)

    # The menu leads to the imports; a new import is a dry run unless asked otherwise.
    page.get_by_role("button", name="Administration").click()
    page.get_by_role("link", name="Legacy import").click()
    expect(page).to_have_url(re.compile(r"/legacy/$"))
    page.get_by_test_id("new-import-link").click()
    form = page.get_by_test_id("import-form")

    # A mapping with mistakes is refused with each of them, next to the field; nothing is queued.
    bad = tmp_path / "mapping.toml"
    bad.write_bytes(
        (SAMPLE / "mapping.toml")
        .read_bytes()
        .replace(b'kind = "csv"', b'kind = "cvs"')
        .replace(b"[cases]", b"[casses]")
    )
    form.get_by_test_id("field-mapping_file").set_input_files(bad)
    form.get_by_test_id("field-source_files").set_input_files(sorted((SAMPLE / "data").glob("*.csv")))
    form.get_by_test_id("field-mode-import").check()
    form.get_by_test_id("start-import").click()
    errors = form.get_by_test_id("error-mapping_file")
    expect(errors.first).to_be_visible()
    assert errors.count() >= 2
    expect(form.get_by_test_id("field-mode-import")).to_be_checked()
    page.screenshot(path=screenshot_dir / "legacy-refused.png", full_page=True)
    form.get_by_test_id("field-mode-dry_run").check()

    form.get_by_test_id("field-mapping_file").set_input_files(SAMPLE / "mapping.toml")
    form.get_by_test_id("field-source_files").set_input_files(sorted((SAMPLE / "data").glob("*.csv")))
    expect(form.get_by_test_id("field-mode-dry_run")).to_be_checked()
    page.screenshot(path=screenshot_dir / "legacy-new.png", full_page=True)
    form.get_by_test_id("start-import").click()

    # The dry run: queued, taken by the worker, finished; its page shows what an import would do.
    expect(page).to_have_url(re.compile(r"/legacy/IMP-\d{4}-\d+/$"))
    dry_run_number = page.get_by_test_id("batch-number").inner_text()
    page.screenshot(path=screenshot_dir / "legacy-queued.png", full_page=True)
    expect(page.get_by_role("alert").filter(has_text=f"Dry run {dry_run_number} queued.")).to_be_visible()
    wait_until_finished(page)
    expect(page.get_by_test_id("dry-run-note")).to_be_visible()
    expect(summary_row(page, "Cases").locator("td").nth(1)).to_have_text("16")  # created
    expect(page.get_by_test_id("reconciliation-verdict")).to_have_attribute("data-balances", "yes")
    expect(page.get_by_test_id("reconciliation-row").first).to_be_visible()
    expect(page.get_by_test_id("reason-row").filter(has_text="orphan").first).to_be_visible()
    expect(page.get_by_test_id("rejection-row").first).to_be_visible()
    page.get_by_test_id("mapping").locator("summary").click()
    expect(page.get_by_test_id("mapping-text")).to_contain_text('name = "sample-access-export"')
    page.screenshot(path=screenshot_dir / "legacy-dry-run.png", full_page=True)
    assert shell_json(demo_server, IMPORTED.format(source=SOURCE)) == {"cases": 0}

    # For real: the same files are queued again, and the cases arrive.
    page.get_by_test_id("import-for-real").click()
    expect(page).not_to_have_url(re.compile(re.escape(dry_run_number)))
    import_number = page.get_by_test_id("batch-number").inner_text()
    expect(page.get_by_role("alert").filter(has_text=f"Import {import_number} queued.")).to_be_visible()
    wait_until_finished(page)
    expect(page.get_by_test_id("dry-run-note")).to_have_count(0)
    expect(page.get_by_test_id("import-for-real")).to_have_count(0)
    expect(summary_row(page, "Cases").locator("td").nth(1)).to_have_text("16")
    expect(summary_row(page, "Items").locator("td").nth(1)).to_have_text("41")
    expect(page.get_by_test_id("reconciliation-verdict")).to_have_attribute("data-balances", "yes")
    page.screenshot(path=screenshot_dir / "legacy-import.png", full_page=True)
    assert shell_json(demo_server, IMPORTED.format(source=SOURCE)) == {"cases": 16}

    rejections = download(page, "report-rejections.csv", tmp_path)
    assert rejections.name == f"{import_number}-rejections.csv"
    lines = rejections.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "source,row,column,value,reason,entity,legacy_id,kind"
    assert len(lines) > 1

    # Both runs are in the list, newest first.
    page.goto(f"{base}/legacy/")
    rows = page.get_by_test_id("batch-row")
    expect(rows.first).to_have_attribute("data-number", import_number)
    expect(rows.filter(has_text=dry_run_number).get_by_test_id("dry-run-badge")).to_be_visible()
    page.screenshot(path=screenshot_dir / "legacy-list.png", full_page=True)


def test_the_progress_bar_follows_the_worker_and_the_page_reloads_when_it_ends(demo_server, page: Page, screenshot_dir):
    base = demo_server.url
    demo_server.shell(
        PROGRESS.format(number=RUNNING, status="running", progress={"stage": "cases", "done": 500, "total": 2000})
    )
    sign_in(page, base, "admin", DEMO_PASSWORD)
    page.goto(f"{base}/legacy/{RUNNING}/")
    progress = page.get_by_test_id("progress")
    expect(progress.get_by_test_id("progress-stage")).to_have_text("Reading the cases")
    expect(progress.get_by_test_id("progress-count")).to_have_text("500 / 2,000 (25 %)")
    expect(progress.get_by_test_id("progress-bar")).to_have_attribute("value", "500")
    page.screenshot(path=screenshot_dir / "legacy-progress.png", full_page=True)

    demo_server.shell(
        PROGRESS.format(number=RUNNING, status="running", progress={"stage": "saving", "done": 900, "total": 1200})
    )
    expect(progress.get_by_test_id("progress-count")).to_have_text("900 / 1,200 (75 %)")
    expect(progress.get_by_test_id("progress-stage")).to_have_text("Saving the cases")

    demo_server.shell(
        PROGRESS.format(number=RUNNING, status="failed", progress={"stage": "saving", "done": 900, "total": 1200})
    )
    expect(page.get_by_test_id("batch-error")).to_be_visible()
    expect(page.get_by_test_id("progress")).to_have_count(0)
    expect(page.get_by_test_id("status-badge")).to_have_attribute("data-status", "failed")
