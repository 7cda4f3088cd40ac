"""The statistics pages in the browser: the policy and management dashboards, their exports and the bulletin, the
reconciliation with the police's homicide list, the population figures, and the sortable tables.

The demo has one homicide victim counted from a case (Kevin Usher, BZ-CR-2026-0311, coded ICCS 0101, received
this month in the Belize District); the stabbing's autopsy is recorded but not released, so it is not counted.
The module adds a second one in the Cayo District through the intake services (an officer's pre-log, received by
the custodian), so that the district filter has something to keep and something to leave out.

Other browser tests share the demo server (the death test adds a Corozal homicide): the assertions about counts
hold whatever else is in the database — the Cayo row and the rows the filter leaves out, never a total.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import ConsoleMessage, Locator, Page, expect

from forensis.core.management.commands.seed_demo import DEMO_PASSWORD
from tests.e2e.helpers import sign_in
from tests.e2e.test_e2e_casework import shell_json
from tests.e2e.test_e2e_reports import pdf_text

pytestmark = pytest.mark.e2e

CAYO_CASE = "CY-CR-2026-0911"
BELIZE_CASE = "BZ-CR-2026-0311"  # seeded by seed-demo: a man shot on Mahogany Street, coded 0101
DISTRICT_HEADINGS = ["District", "Death records (released autopsies)", "Cases coded ICCS 0101", "Victims"]

CAYO_HOMICIDE = """
import json
from datetime import timedelta
from django.utils import timezone
from forensis.accounts.models import User
from forensis.cases.models import Case
from forensis.intake import services as intake
from forensis.intake.models import Kit
number = {number!r}
if not Case.objects.filter(agency_case_number=number).exists():
    officer = User.objects.get(username="officer.cayo")
    custodian = User.objects.get(username="custodian")
    submission = intake.create_submission(officer, kit=Kit.objects.get(name="Firearm and ammunition set"))
    items = [
        intake.ItemData(
            {{n: getattr(i, n) for n in intake.ITEM_FIELDS}} | {{"seal_number": f"{{number}}-S{{i.position}}"}},
            list(i.disciplines.all()),
        )
        for i in submission.items.all()
    ]
    submission = intake.update_submission(
        officer, submission,
        fields={{"agency_case_number": number, "offence_codes": ["0101"], "district": "CY", "town": "Benque Viejo",
                "incident_at": timezone.now() - timedelta(hours=30), "narrative": "Man shot outside a bar."}},
        people=[{{"role": "deceased", "name": "Rodrigo Tzul", "sex": "M", "age": 31}}],
        items=items,
    )
    submission = intake.submit_submission(officer, submission)
    intake.receive_submission(
        custodian, submission, checks={{i.pk: intake.ItemCheck() for i in submission.items.all()}},
        handed_over_by=officer,
    )
case = Case.objects.get(agency_case_number=number)
print(json.dumps({{"lab_number": case.lab_number, "month": case.received_month, "district": case.district}}))
"""


@pytest.fixture(scope="module")
def cayo_homicide(demo_server) -> dict:
    """A second homicide victim counted from a case: Cayo District, received this month."""
    case = shell_json(demo_server, CAYO_HOMICIDE.format(number=CAYO_CASE))
    assert case["district"] == "CY" and case["month"] == this_month(), case
    return case


# --- small helpers ----------------------------------------------------------------------------------------


def this_month() -> str:
    return timezone.localdate().strftime("%Y-%m")


def months_before(month: str, count: int) -> str:
    year, number = divmod(int(month[:4]) * 12 + int(month[5:7]) - 1 - count, 12)
    return f"{year}-{number + 1:02d}"


def watch_console(page: Page) -> list[str]:
    """Errors the page logs or throws from now on (a missing favicon excepted)."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "favicon" not in (message.location or {}).get("url", ""):
            errors.append(f"console: {message.text} ({message.location})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    return errors


def sign_in_as(page: Page, base: str, username: str) -> None:
    sign_in(page, base, username, DEMO_PASSWORD)
    expect(page).to_have_url(f"{base}/")


def open_from_menu(page: Page, label: str) -> None:
    page.locator("#mainnav .dropdown-toggle", has_text="Statistics").click()
    page.locator("#mainnav .dropdown-menu").get_by_role("link", name=label, exact=True).click()
    page.wait_for_load_state()


def wait_for_charts(page: Page) -> int:
    """Wait until the chart script has drawn every chart on the page; return how many there are."""
    canvases = page.locator("canvas[data-chart]")
    count = canvases.count()
    assert count > 0, "no chart on the page"
    for index in range(count):
        expect(canvases.nth(index)).to_have_attribute("data-rendered", re.compile(r"^\d+$"))
    return count


def table(figure: Locator) -> tuple[list[str], list[list[str]]]:
    """A figure's (or any) table as its headings and its rows of cell texts, as shown now."""
    headings = figure.locator("thead th").all_inner_texts()
    rows = figure.locator("tbody tr").evaluate_all(
        "rows => rows.map(row => Array.from(row.cells, cell => cell.textContent.trim()))"
    )
    return [heading.strip() for heading in headings], rows


def row_for(rows: list[list[str]], label: str) -> list[str]:
    found = [row for row in rows if row[0] == label]
    assert len(found) == 1, (label, rows)
    return found[0]


def headline(section: Locator, label: str) -> Locator:
    """The headline number shown under ``label`` in a dashboard section."""
    card = section.locator(".card-body").filter(has=section.page.get_by_text(label, exact=True))
    return card.locator("[data-testid^=headline]")


def download(page: Page, test_id: str, folder) -> tuple[str, bytes]:
    with page.expect_download() as started:
        page.get_by_test_id(test_id).click()
    arrived = started.value
    assert arrived.failure() is None, arrived.failure()
    target = folder / arrived.suggested_filename
    arrived.save_as(target)
    return arrived.suggested_filename, target.read_bytes()


# --- the tests ----------------------------------------------------------------------------------------


def test_the_statistician_filters_the_policy_dashboard(demo_server, page: Page, cayo_homicide, screenshot_dir):
    base = demo_server.url
    errors = watch_console(page)
    sign_in_as(page, base, "statistician")
    open_from_menu(page, "Policy indicators")
    expect(page).to_have_url(f"{base}/statistics/policy/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Policy indicators")
    wait_for_charts(page)

    # The last twelve months by default: both victims counted from cases, each in its district.
    month = this_month()
    filters = page.get_by_test_id("filters")
    expect(filters.locator("input[name=month_to]")).to_have_value(month)
    expect(filters.locator("input[name=month_from]")).to_have_value(months_before(month, 11))
    by_district = page.get_by_test_id("figure-homicide_by_district")
    headings, rows = table(by_district)
    assert headings == DISTRICT_HEADINGS
    assert int(row_for(rows, "Cayo")[2]) >= 1 and int(row_for(rows, "Belize")[2]) >= 1, rows
    by_month = page.get_by_test_id("figure-homicide_by_month")
    _headings, month_rows = table(by_month)
    assert month_rows[0][0] == months_before(month, 11) and month_rows[-1][0] == month, month_rows
    # The chart is drawn with one category per row of the table beneath it.
    expect(by_month.locator("canvas")).to_have_attribute("data-rendered", str(len(month_rows)))
    page.screenshot(path=str(screenshot_dir / "e2e-statistics-policy.png"), full_page=True)

    # Cayo only, over the last three months.
    start = months_before(month, 2)
    filters.locator("input[name=month_from]").fill(start)
    filters.locator("input[name=month_to]").fill(month)
    filters.locator("select[name=district]").select_option("CY")
    filters.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    query = parse_qs(urlsplit(page.url).query)
    assert query["month_from"] == [start] and query["month_to"] == [month] and query["district"] == ["CY"], page.url
    wait_for_charts(page)
    filters = page.get_by_test_id("filters")
    expect(filters.locator("input[name=month_from]")).to_have_value(start)
    expect(filters.locator("select[name=district]")).to_have_value("CY")

    _headings, month_rows = table(page.get_by_test_id("figure-homicide_by_month"))
    assert [row[0] for row in month_rows] == [start, months_before(month, 1), month], month_rows
    expect(page.get_by_test_id("figure-homicide_by_month").locator("canvas")).to_have_attribute("data-rendered", "3")
    _headings, rows = table(page.get_by_test_id("figure-homicide_by_district"))
    cayo = int(row_for(rows, "Cayo")[3])
    assert cayo >= 1 and int(row_for(rows, "Cayo")[2]) >= 1, rows
    assert all(row[3] == "0" for row in rows if row[0] != "Cayo"), rows
    assert int(month_rows[-1][3]) == cayo, month_rows
    expect(headline(page.get_by_test_id("section-homicide"), "Homicide victims")).to_have_text(str(cayo))
    # The export links carry the filters.
    href = page.get_by_test_id("export-homicide_by_district-csv").get_attribute("href")
    assert "district=CY" in href and f"month_from={start}" in href, href
    assert errors == [], errors


def test_a_figure_exports_as_csv_and_xlsx(demo_server, page: Page, cayo_homicide, tmp_path):
    base = demo_server.url
    month = this_month()
    sign_in_as(page, base, "statistician")
    page.goto(f"{base}/statistics/policy/?month_from={month}&month_to={month}&district=CY")
    figure = page.get_by_test_id("figure-homicide_by_district")
    headings, rows = table(figure)

    name, content = download(page, "export-homicide_by_district-csv", tmp_path)
    assert name == f"homicide_by_district-{month}-{month}.csv", name
    assert content.startswith(b"\xef\xbb\xbf"), content[:10]  # a byte-order mark, for spreadsheet programs
    lines = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert lines[0] == headings == DISTRICT_HEADINGS
    assert lines[1:] == rows, (lines, rows)

    name, content = download(page, "export-homicide_by_district-xlsx", tmp_path)
    assert name == f"homicide_by_district-{month}-{month}.xlsx", name
    workbook = load_workbook(io.BytesIO(content), read_only=True)
    sheet = workbook.worksheets[0]
    values = [["" if cell is None else str(cell) for cell in row] for row in sheet.iter_rows(values_only=True)]
    assert values[0] == headings
    assert values[1:] == rows
    about = {row[0]: row[1] for row in workbook["About"].iter_rows(values_only=True)}
    assert about["Figure"] == "Homicide victims by district", about
    assert month in about["Filters"] and "Cayo" in about["Filters"], about


def test_the_management_dashboard_draws_its_charts_and_prints_the_bulletin(
    demo_server, page: Page, screenshot_dir, tmp_path
):
    base = demo_server.url
    errors = watch_console(page)
    sign_in_as(page, base, "manager")
    open_from_menu(page, "Laboratory management")
    expect(page).to_have_url(f"{base}/statistics/management/")
    charts = wait_for_charts(page)
    backlog = page.get_by_test_id("figure-backlog")
    expect(backlog.locator("canvas")).to_have_attribute("data-rendered", re.compile(r"^[1-9]\d*$"))
    _headings, rows = table(backlog)
    assert sum(int(row[1]) for row in rows) >= 1, rows  # the demo's received cases wait for their analyses
    expect(page.get_by_test_id("filters").locator("select[name=discipline]")).to_be_visible()
    open_requests = headline(page.get_by_test_id("section-backlog"), "Requests without a released report")
    expect(open_requests).to_have_text(str(sum(int(row[1]) for row in rows)))
    page.screenshot(path=str(screenshot_dir / "e2e-statistics-management.png"), full_page=True)
    assert charts >= 2

    # The monthly bulletin: a PDF for the month asked for.
    bulletin = page.get_by_test_id("bulletin-form")
    expect(bulletin.locator("input[name=month]")).to_have_value(this_month())
    previous = months_before(this_month(), 1)
    bulletin.locator("input[name=month]").fill(previous)
    with page.expect_response(re.compile(r"/statistics/bulletin/\?month=")) as answered:
        bulletin.get_by_role("button", name="PDF").click()
    response = answered.value
    assert response.ok and response.headers["content-type"] == "application/pdf", response.headers
    assert f"bulletin-{previous}.pdf" in response.headers["content-disposition"]
    # The same address fetched with the page's cookies, to read the file (the browser may show or save it).
    pdf = page.context.request.get(response.url)
    assert pdf.ok and pdf.body().startswith(b"%PDF"), pdf.body()[:20]
    (tmp_path / "bulletin.pdf").write_bytes(pdf.body())
    text = pdf_text(tmp_path / "bulletin.pdf")
    month_name = date(int(previous[:4]), int(previous[5:]), 1).strftime("%B %Y")
    assert "Monthly statistics bulletin" in text and f"Month {month_name}" in text, text[:300]
    assert errors == [], errors


def test_the_statistician_reconciles_the_police_list(demo_server, page: Page, tmp_path):
    base = demo_server.url
    month = this_month()
    today = timezone.localdate()
    police_list = tmp_path / "police-homicides.csv"
    police_list.write_text(
        "police_reference,date_of_death,district,sex,age,victim_name\n"
        f"{BELIZE_CASE.lower()},{today.isoformat()},BZ,M,27,Kevin Usher\n",
        encoding="utf-8",
    )
    errors = watch_console(page)
    sign_in_as(page, base, "statistician")
    open_from_menu(page, "Homicide reconciliation")
    form = page.get_by_test_id("police-list-form")
    form.locator("input[name=police_list]").set_input_files(police_list)
    form.locator("input[name=month_from]").fill(month)
    form.locator("input[name=month_to]").fill(month)
    form.locator("select[name=district]").select_option("BZ")
    form.get_by_role("button", name="Compare").click()
    page.wait_for_load_state()

    result = page.get_by_test_id("reconciliation-result")
    expect(result).to_be_visible()
    expect(result.get_by_role("heading", level=2)).to_have_text(f"From {month} to {month}")
    expect(result.get_by_test_id("total-police")).to_have_text("1")
    expect(result.get_by_test_id("total-matched")).to_have_text("1")  # matched by the police reference
    expect(result.get_by_test_id("total-police-only")).to_have_text("0")
    forensis = int(result.get_by_test_id("total-forensis").inner_text())
    forensis_only = int(result.get_by_test_id("total-forensis-only").inner_text())
    assert forensis >= 1 and forensis == 1 + forensis_only, (forensis, forensis_only)
    _headings, rows = table(result.get_by_test_id("reconciliation-table"))
    assert [row[:5] for row in rows] == [[month, "BZ", "1", str(forensis), "1"]], rows
    # A statistician sees no case of Forensis's side, only how many there are.
    expect(result.get_by_test_id("forensis-only-hidden")).to_be_visible()
    expect(result.get_by_test_id("forensis-only")).to_have_count(0)
    wait_for_charts(page)
    assert errors == [], errors

    # The population figures are shown to the statistician, who may not change them.
    open_from_menu(page, "Population figures")
    expect(page.get_by_test_id("population-table")).to_be_visible()
    expect(page.get_by_test_id("population-form")).to_have_count(0)
    # The open data page offers every table as a download.
    open_from_menu(page, "Open data")
    everything = page.context.request.get(base + page.get_by_test_id("download-all").get_attribute("href"))
    assert everything.ok and everything.headers["content-type"] == "application/json"
    assert everything.json(), "no open data tables"


def test_the_administrator_sets_a_population_figure(demo_server, page: Page):
    base = demo_server.url
    year = date.today().year - 1
    sign_in_as(page, base, "admin")
    open_from_menu(page, "Population figures")
    form = page.get_by_test_id("population-form")
    form.locator("select[name=district]").select_option("CY")
    form.locator("input[name=year]").fill(str(year))
    form.locator("input[name=population]").fill("81234")
    form.locator("input[name=source]").fill("Statistical Institute of Belize, mid-year estimate")
    form.locator("input[name=reason]").fill("The mid-year estimate was published")
    form.get_by_role("button", name="Save").click()
    expect(page).to_have_url(f"{base}/statistics/population/")
    expect(page.get_by_role("alert").filter(has_text="Population figure saved")).to_be_visible()
    _headings, rows = table(page.get_by_test_id("population-table"))
    assert [str(year), "Cayo", "81234", "Statistical Institute of Belize, mid-year estimate"] in rows, rows


def test_a_sortable_table_sorts_on_a_heading_click(demo_server, page: Page):
    base = demo_server.url
    sign_in_as(page, base, "statistician")
    page.goto(f"{base}/statistics/population/")
    population = page.get_by_test_id("population-table")
    heading = population.locator("thead th", has_text="Population")

    def column() -> list[int]:
        return [int(row[2]) for row in table(population)[1]]

    before = column()
    assert len(before) >= 3 and before != sorted(before), before  # newest year first, not by population
    heading.click()
    expect(heading).to_have_class(re.compile(r"\basc\b"))
    assert column() == sorted(before)
    heading.click()
    expect(heading).to_have_class(re.compile(r"\bdesc\b"))
    assert column() == sorted(before, reverse=True)
    # A text column sorts too, and a figure's table on a dashboard likewise.
    page.goto(f"{base}/statistics/policy/")
    by_district = page.get_by_test_id("figure-homicide_by_district")
    labels = [row[0] for row in table(by_district)[1]]
    district = by_district.locator("thead th", has_text="District")
    district.click()
    district.click()  # the districts are listed in alphabetical order already: the second click reverses them
    expect(district).to_have_class(re.compile(r"\bdesc\b"))
    assert [row[0] for row in table(by_district)[1]] == sorted(labels, key=str.lower, reverse=True) != labels
