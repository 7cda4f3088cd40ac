"""Statistics and open data through the API: the known figures of tests/statistics/conftest.py, the same
de-identified tables as the open-data page, the pages' filter messages, and who may call (aggregates only)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from forensis.accounts.models import AgencyType
from forensis.statistics import opendata
from forensis.statistics.dashboards import DASHBOARDS
from forensis.statistics.filters import Filters
from tests.statistics.conftest import at, casework, homicides  # noqa: F401 (fixtures with known answers)
from tests.statistics.test_views import BAD_FILTERS, PERIOD, YEAR_2026

FIGURE = "/api/v1/statistics/{dashboard}/{figure}/"
OPEN_DATA = "/api/v1/statistics/open-data/"


@pytest.fixture
def observatory(make_agency):
    return make_agency(AgencyType.OBSERVATORY, code="OBS-API", name="National Crime Observatory")


@pytest.fixture
def statistics_api(issue_token, api_client, observatory):
    """A token of the crime observatory issued for statistics only (its account: the statistician role)."""
    return api_client(issue_token(observatory, resources=["statistics"]).key)


def figure(client, dashboard: str, key: str, params: dict | None = None):
    return client.get(FIGURE.format(dashboard=dashboard, figure=key), params or {})


def rows_by(document: dict, key: str) -> dict:
    return {row[key]: row for row in document["rows"]}


# --- the figures ------------------------------------------------------------------------------------------


def test_the_homicide_victims_per_month(statistics_api, homicides):  # noqa: F811
    response = figure(statistics_api, "policy", "homicide_by_month", {"month_from": "2026-01", "month_to": "2026-04"})
    assert response.status_code == 200, response.content
    document = response.json()
    assert document["dashboard"] == "policy" and document["figure"] == "homicide_by_month"
    assert document["title"] == "Homicide victims per month"
    assert document["columns"] == [
        {"key": "label", "heading": "Month"},
        {"key": "death_records", "heading": "Death records (released autopsies)"},
        {"key": "cases", "heading": "Cases coded ICCS 0101"},
        {"key": "victims", "heading": "Victims"},
    ]
    # The same numbers as the CSV export (tests/statistics/test_views.py).
    assert document["rows"] == [
        {"label": "2026-01", "death_records": 2, "cases": 1, "victims": 3},  # D1, D2; K5
        {"label": "2026-02", "death_records": 1, "cases": 1, "victims": 2},  # D3; K1
        {"label": "2026-03", "death_records": 0, "cases": 2, "victims": 2},  # K2's two victims
        {"label": "2026-04", "death_records": 1, "cases": 0, "victims": 1},  # D6
    ]
    assert document["filters"] == {"month_from": "2026-01", "month_to": "2026-04", "district": "", "agency": ""}
    assert "discipline" not in document["filters"]  # the policy figures are not per discipline
    assert document["note"].startswith("A victim is counted once")


def test_the_backlog_per_discipline_with_a_district(statistics_api, casework):  # noqa: F811
    response = figure(statistics_api, "management", "backlog", {**PERIOD, "district": "BZ"})
    assert response.status_code == 200, response.content
    document = response.json()
    assert [column["key"] for column in document["columns"]] == ["name", "open", "over_30_days"]
    by_name = rows_by(document, "name")
    # Belize at the end of June: the toxicology requests (5, 3 over 30 days) and O4; the firearms ones are in Cayo.
    assert (by_name["Toxicology"]["open"], by_name["Toxicology"]["over_30_days"]) == (5, 3)
    assert (by_name["Seized drugs"]["open"], by_name["Seized drugs"]["over_30_days"]) == (1, 1)
    assert (by_name["Firearms"]["open"], by_name["Firearms"]["over_30_days"]) == (0, 0)
    assert document["filters"] == {**PERIOD, "discipline": "", "district": "BZ", "agency": ""}
    assert document["filters_description"] == "2026-01 – 2026-06 · District: Belize"
    assert document["note"] == "Counted at 2026-07-01 00:00."


def test_figures_are_computed_in_the_laboratorys_time_zone(statistics_api, casework):  # noqa: F811
    """A request received on 30 June at 20:00 in Belize (1 July, 02:00 UTC) is open at the end of June: the API,
    which writes its own times in UTC, counts it as the page does."""
    casework.request("LATE", "toxicology", at(2026, 6, 30, 20))
    by_name = rows_by(figure(statistics_api, "management", "backlog", PERIOD).json(), "name")
    assert by_name["Toxicology"]["open"] == 6
    page_rows = DASHBOARDS["management"].figure("backlog", Filters(**PERIOD)).rows
    assert next(row for row in page_rows if row["discipline"] == "toxicology")["open"] == 6


def test_every_declared_figure_gives_the_rows_of_its_export(statistics_api, casework, homicides):  # noqa: F811
    for key, board in DASHBOARDS.items():
        for name in [name for builder in board.sections for name in builder.figure_keys]:
            response = figure(statistics_api, key, name, PERIOD)
            assert response.status_code == 200, (key, name, response.content)
            built = board.figure(name, Filters(**PERIOD))
            document = response.json()
            assert [c["heading"] for c in document["columns"]] == built.headings, name
            assert [[row[c["key"]] for c in document["columns"]] for row in document["rows"]] == json.loads(
                json.dumps(built.values(), default=str)
            ), name


def test_the_list_of_dashboards(statistics_api):
    response = statistics_api.get("/api/v1/statistics/")
    assert response.status_code == 200
    boards = {board["dashboard"]: board for board in response.json()}
    assert set(boards) == {"policy", "management"}
    assert "backlog" in boards["management"]["figures"] and "homicide_by_month" in boards["policy"]["figures"]
    assert boards["policy"]["filtered_by_discipline"] is False


@pytest.mark.parametrize(
    ("dashboard", "key"),
    [("management", "nonexistent"), ("policy", "backlog"), ("management", "homicide_by_month"), ("nope", "backlog")],
)
def test_an_unknown_dashboard_or_figure_is_404(statistics_api, dashboard, key):
    response = figure(statistics_api, dashboard, key)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("params", "message"), BAD_FILTERS)
def test_bad_filters_are_400_with_the_pages_message(statistics_api, params, message):
    response = figure(statistics_api, "management", "backlog", params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert message in error["message"]
    (name,) = params if len(params) == 1 else ["month_to"]
    assert error["fields"][name] == [message]


def test_a_discipline_is_ignored_by_the_policy_dashboard(statistics_api):
    response = figure(statistics_api, "policy", "homicide_by_month", {"discipline": "astrology", "month_to": "2026-04"})
    assert response.status_code == 200


# --- open data --------------------------------------------------------------------------------------------------


def test_the_open_data_tables_with_their_dictionary(statistics_api, homicides):  # noqa: F811
    response = statistics_api.get(OPEN_DATA, YEAR_2026)
    assert response.status_code == 200, response.content
    document = response.json()
    expected = opendata.data_dictionary(opendata.tables(Filters(month_from="2026-01", month_to="2026-12")))
    assert [t["name"] for t in document["tables"]] == [t["name"] for t in expected["tables"]]
    assert document["suppression"] == expected["suppression"]
    assert document["filters"] == YEAR_2026
    table = next(t for t in document["tables"] if t["name"] == "homicide_victims_by_month")
    assert table["title"] == "Homicide victims by month"
    assert [c["name"] for c in table["columns"]] == ["month", "victims"]
    assert table["columns"][1]["kind"] == "count"
    assert table["url"] == (
        "http://testserver/api/v1/statistics/open-data/homicide_victims_by_month/?year_from=2026&year_to=2026"
    )


def test_a_table_has_the_rows_of_the_open_data_page(statistics_api, client_for, statistician, homicides):  # noqa: F811
    response = statistics_api.get(f"{OPEN_DATA}homicide_victims_by_month/", YEAR_2026)
    assert response.status_code == 200, response.content
    document = response.json()
    rows = {row["month"]: row["victims"] for row in document["rows"]}
    assert len(rows) == 12
    assert rows["2026-01"] == "<5"  # 3 victims: suppressed
    assert rows["2026-05"] == 0  # zero describes no one
    page = client_for(statistician).get(
        reverse("statistics:open_data_file", args=["homicide_victims_by_month", "json"]), YEAR_2026
    )
    assert {key: document[key] for key in ("name", "title", "columns", "rows")} == json.loads(page.content)
    assert document["filters"] == YEAR_2026


def test_an_unknown_table_is_404(statistics_api):
    response = statistics_api.get(f"{OPEN_DATA}no_such_table/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("params", "name", "message"),
    [
        ({"year_from": "26"}, "year_from", "Give a year as four digits."),
        ({"year_to": "9999"}, "year_to", "Give a year from 1900 to 2100."),
    ],
)
def test_bad_years_are_400(statistics_api, params, name, message):
    for url in (OPEN_DATA, f"{OPEN_DATA}homicide_victims_by_month/"):
        response = statistics_api.get(url, params)
        assert response.status_code == 400, url
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert error["fields"] == {name: [message]}


# --- who may call -----------------------------------------------------------------------------------------------

URLS = [
    "/api/v1/statistics/",
    FIGURE.format(dashboard="policy", figure="homicide_by_month"),
    OPEN_DATA,
    f"{OPEN_DATA}homicide_victims_by_month/",
]


def test_a_token_without_the_statistics_resource_gets_403(issue_token, api_client, police):
    client = api_client(issue_token(police, resources=["cases", "reports", "requests", "submissions", "feed"]).key)
    for url in URLS:
        response = client.get(url)
        assert response.status_code == 403, url
        assert response.json()["error"]["message"] == "This token was not issued for statistics."


def test_an_officers_session_gets_403(client_for, officer):
    client = client_for(officer)
    for url in URLS:
        response = client.get(url)
        assert response.status_code == 403, url
        assert response.json()["error"]["code"] == "permission_denied"


def test_a_statisticians_session_may_call(client_for, statistician):
    assert client_for(statistician).get(URLS[1], PERIOD).status_code == 200


def test_a_statistics_token_never_reaches_a_case(statistics_api, received_case):
    for url in (
        "/api/v1/cases/",
        f"/api/v1/cases/{received_case.lab_number}/",
        f"/api/v1/cases/{received_case.lab_number}/niem/",
        "/api/v1/items/",
        "/api/v1/custody-events/",
        "/api/v1/requests/",
        "/api/v1/reports/",
        "/api/v1/feed/",
    ):
        assert statistics_api.get(url).status_code in (403, 404), url
