"""The statistics pages through the test client: who may open them (and that a statistician opens no case page),
the figures and exports on the known records of conftest.py, open data, the reconciliation upload, the population
form, and the court-date list shown to laboratory staff only."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from openpyxl import load_workbook

from forensis.accounts.models import AgencyType
from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from forensis.cases.models import Case
from forensis.deaths.models import DeathInvestigation
from forensis.lab.models import Discipline, ServiceRequest
from forensis.statistics import opendata, reconciliation
from forensis.statistics.dashboards import DASHBOARDS, MANAGEMENT, POLICY
from forensis.statistics.filters import Filters
from forensis.statistics.models import Population

from .conftest import Casework, legacy_case

# --- people and clients ------------------------------------------------------------------------------------

#: Roles holding ``statistics.view_statistics``, and every other role (agency officers of both agencies).
ALLOWED = ["statistician", "lab_manager", "administrator", "medical_examiner"]
REFUSED = [
    "officer",
    "other_officer",
    "prosecutor",
    "analyst",
    "evidence_custodian",
    "reviewer",
    "scene_technician",
    "auditor",
]


@pytest.fixture
def person(request, make_user, make_agency):
    """Someone of the role named by the test's ``person`` parameter (see ``ALLOWED`` and ``REFUSED``)."""

    def make(name: str):
        if name in ("officer", "other_officer"):
            return request.getfixturevalue(name)
        if name == "statistician":
            return request.getfixturevalue("statistician")
        if name == "prosecutor":
            return make_user(Role.PROSECUTOR, agency=make_agency(AgencyType.PROSECUTOR))
        return make_user(Role(name))

    return make


@pytest.fixture
def media(settings, tmp_path):
    """Issued reports and uploaded files are stored under MEDIA_ROOT: each test gets its own directory."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def text(response) -> str:
    return html.unescape(response.content.decode())


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def cell(value) -> object:
    """A cell as a CSV and a spreadsheet both give it back: numbers compared as numbers (XLSX returns 8.0 as 8)."""
    if value is None or value == "":
        return ""
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def sheet_rows(sheet) -> list[list]:
    return [[cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def same_as_csv(rows: list[list[str]]) -> list[list]:
    return [[cell(v) for v in row] for row in rows]


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and response.url.startswith(reverse("accounts:login"))


# --- 1. who may open the statistics pages --------------------------------------------------------------------


def statistics_pages() -> list[str]:
    """Every statistics page a person opens (GET), an export in both formats, an open-data file and the bulletin."""
    return [
        reverse("statistics:policy"),
        reverse("statistics:management"),
        reverse("statistics:reconciliation"),
        reverse("statistics:population"),
        reverse("statistics:open_data"),
        reverse("statistics:export", args=["management", "backlog", "csv"]) + "?month_to=2026-06",
        reverse("statistics:export", args=["policy", "homicide_by_month", "xlsx"]) + "?month_to=2026-06",
        reverse("statistics:open_data_file", args=["homicide_victims_by_month", "csv"]),
        reverse("statistics:open_data_file", args=["all", "json"]),
        reverse("statistics:bulletin") + "?month=2026-04",
    ]


@pytest.mark.parametrize("role", ALLOWED)
def test_the_statistics_roles_open_every_page(client_for, person, role, casework, homicides):
    client = client_for(person(role))
    for page in statistics_pages():
        response = client.get(page)
        assert response.status_code == 200, page
    assert 'data-testid="section-homicide"' in text(client.get(reverse("statistics:policy")))
    assert 'data-testid="section-backlog"' in text(client.get(reverse("statistics:management")))
    assert client.get(reverse("statistics:bulletin") + "?month=2026-04").content.startswith(b"%PDF")
    assert client.get(reverse("statistics:index")).url == reverse("statistics:policy")


@pytest.mark.parametrize("role", REFUSED)
def test_every_other_role_gets_403(client_for, person, role):
    client = client_for(person(role))
    for page in statistics_pages():
        assert client.get(page).status_code == 403, page
    for page in (reverse("statistics:reconciliation"), reverse("statistics:population")):
        assert client.post(page, {**GOOD_FIGURE, "police_list": ""}).status_code == 403, page
    assert not Population.objects.filter(year=2026).exists()


def test_the_anonymous_user_is_sent_to_sign_in(client, db):
    for page in statistics_pages():
        assert is_login_redirect(client.get(page)), page
    assert client.get(reverse("statistics:index")).url == reverse("statistics:policy")  # then the line above
    population = {"district": "CY", "year": "2026", "population": "104500"}
    assert is_login_redirect(client.post(reverse("statistics:population"), population))
    assert is_login_redirect(client.post(reverse("statistics:reconciliation"), {}))
    assert not Population.objects.filter(year=2026).exists()


# --- population figures through the page -----------------------------------------------------------------------


def population_figures() -> dict:
    return {(p.district, p.year): (p.population, p.source) for p in Population.objects.all()}


GOOD_FIGURE = {"district": "CY", "year": "2026", "population": "104500", "source": "SIB mid-year estimate 2026"}


@pytest.mark.parametrize("role", ["lab_manager", "statistician", "medical_examiner"])
def test_only_an_administrator_may_post_a_population_figure(client_for, person, role):
    before = population_figures()
    client = client_for(person(role))
    page = client.get(reverse("statistics:population"))
    assert page.status_code == 200
    assert 'data-testid="population-table"' in text(page) and 'data-testid="population-form"' not in text(page)
    assert client.post(reverse("statistics:population"), GOOD_FIGURE).status_code == 403
    assert population_figures() == before
    assert not AuditEvent.objects.filter(action="population.set").exists()


def test_an_administrator_saves_a_figure_and_it_is_audited(client_for, make_user):
    admin = make_user(Role.ADMINISTRATOR, username="pop.admin")
    client = client_for(admin)
    assert 'data-testid="population-form"' in text(client.get(reverse("statistics:population")))
    response = client.post(reverse("statistics:population"), {**GOOD_FIGURE, "reason": "Mid-year estimate"})
    assert response.status_code == 302 and response.url == reverse("statistics:population")
    assert population_figures()[("CY", 2026)] == (104_500, "SIB mid-year estimate 2026")
    event = AuditEvent.objects.get(action="population.set")
    assert event.actor_username == "pop.admin"
    assert event.after == {"district": "CY", "year": 2026, "population": 104500, "source": "SIB mid-year estimate 2026"}
    assert event.reason == "Mid-year estimate"
    page = text(client.get(response.url))
    assert "Population figure saved: Cayo 2026: 104500." in page
    assert "SIB mid-year estimate 2026" in page


@pytest.mark.parametrize(
    ("changes", "messages"),
    [
        ({"year": "1800"}, ["Ensure this value is greater than or equal to 1900."]),
        ({"population": "abc"}, ["Enter a whole number."]),
        ({"district": "XX"}, ["Select a valid choice. XX is not one of the available choices."]),
        ({"population": "0"}, ["Ensure this value is greater than or equal to 1."]),
        ({"population": "100000001"}, ["The population must be a whole number above zero."]),
        (
            {"year": "1800", "population": "abc", "district": "XX"},
            [
                "Ensure this value is greater than or equal to 1900.",
                "Enter a whole number.",
                "Select a valid choice. XX is not one of the available choices.",
            ],
        ),
    ],
)
def test_invalid_figures_are_shown_on_the_form_and_nothing_is_saved(client_for, make_user, changes, messages):
    before = population_figures()
    client = client_for(make_user(Role.ADMINISTRATOR))
    response = client.post(reverse("statistics:population"), {**GOOD_FIGURE, **changes})
    assert response.status_code == 200
    page = text(response)
    assert 'data-testid="population-form"' in page
    for message in messages:
        assert message in page
    assert "invalid-feedback" in page or "alert-danger" in page
    assert population_figures() == before
    assert not AuditEvent.objects.filter(action="population.set").exists()


# --- 2. a statistician opens no case page ---------------------------------------------------------------------

#: Pages a statistician may open (each answers 200 or redirects), and why none of them names a case.
ALLOW_LIST = {
    "core:home": "the home page: the statistician's shortcuts; Submission.objects.visible_to() is empty for them",
    "core:notifications": "the statistician's own notifications (none name another person's case)",
    "accounts:login": "the sign-in page",
    "accounts:logout": "signing out (POST only; never posted here, it would end the walk's session)",
    "accounts:mfa_verify": "the statistician's own MFA step",
    "accounts:mfa_enrol": "the statistician's own MFA enrolment",
    "accounts:change_password": "the statistician's own password",
    "reports:verify": "public report verification by upload: shows only number, version and issue date",
    "reports:verify_link": "public QR-code verification link: shows only number, version and issue date",
    "set_language": "the language switch",
    "healthz": "the health check (database and migrations status only)",
}
#: Every page of the statistics app is aggregate-only by design (tested above and below).
#: Walked elsewhere: the statistics pages are the statistician's own; the REST API's routes (regular expressions,
#: which reverse() cannot fill from converters) are walked for a statistician's session and a statistics-only token
#: by tests/api/test_scoping.py, which fails on any API route it does not cover.
ALLOWED_NAMESPACES = ("statistics", "api")


def url_patterns():
    """Every named URL pattern of the project: (full name, pattern, its parameters)."""

    def walk(patterns, namespaces):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, [*namespaces, entry.namespace] if entry.namespace else namespaces)
            elif isinstance(entry, URLPattern):
                name = ":".join([*namespaces, entry.name]) if entry.name else None
                converters = getattr(entry.pattern, "converters", None)
                # A regular expression has named groups instead of converters.
                parameters = dict.fromkeys(entry.pattern.regex.groupindex) if converters is None else dict(converters)
                yield name, entry, parameters

    return list(walk(get_resolver().url_patterns, []))


def dummy(converter) -> object:
    """A value for a parameter no record fills: a number or a text that names nothing."""
    if converter is not None and converter.regex == "[0-9]+":
        return 987654
    return "ZZ-NONE-0"


@pytest.fixture
def everything(make_user, officer, media):
    """One of every record a case page shows, made through the services where practical: a received toxicology
    case with its item, request, examination, attachment and released (signed) report; a death investigation; a
    migrated case; a transfer, a shipment with a result file, a destruction, a worksheet and an import batch."""
    from forensis.core.files import store_upload
    from forensis.evidence.models import Destruction, RetentionRule, Shipment, ShipmentResult, Transfer
    from forensis.intake.models import Kit, Submission
    from forensis.lab import services as lab_services
    from forensis.lab.models import Attachment, ChecklistQuestion, Worksheet
    from forensis.legacy.models import BatchStatus, ImportBatch
    from forensis.reports.models import Report
    from tests.deaths.conftest import Morgue

    morgue = Morgue(make_user, officer)
    lab = morgue.lab
    lab.administratively_reviewed()
    lab_services.release(lab.manager, lab.request, reauthenticated=True)
    request = lab.reload()
    report = Report.objects.get(request=request)
    version = report.current_version
    examination = request.examination
    attachment = store_upload(
        Attachment(examination=examination, uploaded_by=lab.analyst),
        SimpleUploadedFile("chromatogram.txt", b"peak at 2.31 min"),
        stem="test-attachment",
        max_bytes=1024 * 1024,
    )
    death = morgue.logged(decedent_name="Walk Decedent", agency_case_number="BZ-WALK-1")
    morgue.recorded()
    migrated = legacy_case(lab.custodian, officer.agency, "W1", received=timezone.now(), district="BZ", codes=["0101"])
    transfer = Transfer.objects.create(released_by=lab.custodian, received_by=lab.analyst, purpose="analysis")
    transfer.items.set([lab.item])
    shipment = Shipment.objects.create(reference="OUT-WALK-1", laboratory="Bode", created_by=lab.custodian)
    shipment.items.set([lab.item])
    result = store_upload(
        ShipmentResult(shipment=shipment, uploaded_by=lab.custodian),
        SimpleUploadedFile("results.txt", b"profile"),
        stem="test-result",
        max_bytes=1024 * 1024,
    )
    destruction = Destruction.objects.create(
        reference="DES-WALK-1",
        method="Incineration",
        performed_by=lab.custodian,
        witnessed_by=lab.manager,
        performed_at=timezone.now(),
    )
    destruction.items.set([lab.item])
    worksheet = Worksheet.objects.create(reference="WS-WALK-1", discipline=lab.toxicology, analyst=lab.analyst)
    batch = ImportBatch.objects.create(
        number="IMP-WALK-1",
        source_name="s",
        mapping_name="m.toml",
        started_by=lab.manager,
        status=BatchStatus.COMPLETED,
    )
    submission = Submission.objects.get(case=request.case)
    kit, rule = Kit.objects.first(), RetentionRule.objects.first()
    assert kit is not None and rule is not None  # seeded by migrations
    lab_number, item_label = request.case.lab_number, lab.item.label
    kwargs = {
        "accounts:agency_edit": {"pk": officer.agency.pk},
        "accounts:agency_set_active": {"pk": officer.agency.pk},
        "accounts:user_edit": {"pk": officer.pk},
        "accounts:user_set_password": {"pk": officer.pk},
        "accounts:user_action": {"pk": officer.pk, "action": "deactivate"},
        "intake:detail": {"reference": submission.reference},
        "intake:edit": {"reference": submission.reference},
        "intake:submit": {"reference": submission.reference},
        "intake:form_pdf": {"reference": submission.reference},
        "intake:receipt_pdf": {"reference": submission.reference},
        "intake:receive": {"reference": submission.reference},
        "intake:kit_edit": {"pk": kit.pk},
        "cases:detail": {"lab_number": lab_number},
        "cases:labels": {"lab_number": lab_number},
        "cases:custody_report": {"lab_number": lab_number},
        "evidence:transfer_action": {"pk": transfer.pk, "action": "accept"},
        "evidence:location": {"code": morgue.cold_room.code},
        "evidence:location_edit": {"code": morgue.cold_room.code},
        "evidence:location_label": {"code": morgue.cold_room.code},
        "evidence:item": {"label": item_label},
        "evidence:destruction": {"reference": destruction.reference},
        "evidence:destruction_pdf": {"reference": destruction.reference},
        "evidence:retention_rule": {"pk": rule.pk},
        "evidence:shipment": {"reference": shipment.reference},
        "evidence:shipment_manifest": {"reference": shipment.reference},
        "evidence:shipment_result": {"reference": shipment.reference, "pk": result.pk},
        "lab:discipline": {"pk": lab.toxicology.pk},
        "lab:method": {"pk": lab.method.pk},
        "lab:instrument": {"pk": lab.instrument.pk},
        "lab:reagent_lot": {"pk": lab.lot.pk},
        "lab:checklist": {"pk": ChecklistQuestion.objects.first().pk},
        "lab:examination": {"pk": request.pk},
        "lab:attachment": {"pk": request.pk, "attachment_pk": attachment.pk},
        "lab:worksheet": {"reference": worksheet.reference},
        "lab:request": {"pk": request.pk},
        "lab:review": {"pk": request.pk},
        "lab:release": {"pk": request.pk},
        "reports:detail": {"number": report.number},
        "reports:pdf": {"number": report.number, "version": version.version},
        "reports:amend": {"number": report.number},
        "reports:verify_link": {"number": report.number, "fingerprint": version.content_hash},
        "reports:case_contacts": {"lab_number": lab_number},
        "reports:discovery": {"lab_number": lab_number},
        "deaths:detail": {"number": death.number},
        "deaths:edit": {"number": death.number},
        "deaths:release_form": {"number": death.number},
        "deaths:receive": {"number": death.number},
        "deaths:release": {"number": death.number},
        "deaths:autopsy": {"number": death.number},
        "legacy:correct": {"kind": "case", "pk": migrated.pk},
        "legacy:detail": {"number": batch.number},
        "legacy:progress": {"number": batch.number},
        "legacy:repeat": {"number": batch.number},
        "legacy:report": {"number": batch.number, "name": "summary.txt"},
    }
    # What no page a statistician opens may show.
    secrets = [
        *Case.objects.values_list("lab_number", flat=True),
        *DeathInvestigation.objects.values_list("number", flat=True),
        submission.reference,
        item_label,
        "Walk Decedent",
        "BZ-WALK-1",
        lab.request.case.agency_case_number,
    ]
    return {"kwargs": kwargs, "secrets": secrets, "report_number": report.number, "manager": lab.manager}


def test_a_statistician_gets_403_or_404_on_every_case_page(client_for, statistician, everything):
    client = client_for(statistician)
    filled, refused, problems = [], [], []
    for name, pattern, parameters in url_patterns():
        assert name, f"an unnamed URL pattern: {pattern}"
        if name.split(":")[0] in ALLOWED_NAMESPACES:
            continue
        real = everything["kwargs"].get(name)
        if parameters and real is None:
            real = {parameter: dummy(converter) for parameter, converter in parameters.items()}
        else:
            filled.append(name)
        url = reverse(name, kwargs=real or None)
        if name in ALLOW_LIST:
            if name == "accounts:logout":
                continue
            response = client.get(url)
            assert response.status_code in (200, 302, 405), (name, response.status_code)
            secrets = [s for s in everything["secrets"] if s != everything["report_number"]]
            leaked = [secret for secret in secrets if secret in response.content.decode(errors="replace")]
            assert not leaked, (name, leaked)
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if response.status_code in (403, 404, 405) or is_login_redirect(response):
                refused.append((method, name))
            else:
                problems.append((method.upper(), name, url, response.status_code, response.get("Location", "")))
    assert not problems, "\n".join(str(problem) for problem in problems)
    # The walk covered the case-level apps with real records, and the statistician was signed in all along.
    assert set(everything["kwargs"]) <= set(filled)
    assert {name.split(":")[0] for _method, name in refused} >= {
        "accounts",
        "audit",
        "intake",
        "cases",
        "evidence",
        "lab",
        "reports",
        "deaths",
        "legacy",
    }
    assert client.get(reverse("core:home")).status_code == 200
    assert client.get(reverse("statistics:policy")).status_code == 200
    # The identifiers are real: laboratory staff open the same pages.
    manager = client_for(everything["manager"])
    for name in ("cases:detail", "intake:detail", "evidence:item", "lab:request", "reports:detail", "deaths:detail"):
        assert manager.get(reverse(name, kwargs=everything["kwargs"][name])).status_code == 200, name


def test_the_allow_list_names_real_pages():
    names = {name for name, _pattern, _parameters in url_patterns()}
    assert set(ALLOW_LIST) <= names


# --- 3. figures through the pages, and the exports ---------------------------------------------------------------

PERIOD = {"month_from": "2026-01", "month_to": "2026-06"}
#: The backlog at the end of June (1 July 00:00): conftest's ``OPEN`` and ``RL`` (test_management.py).
BACKLOG_AT_END_OF_JUNE = {"toxicology": (5, 3), "seized-drugs": (1, 1), "firearms": (2, 2)}


def expected_backlog_rows() -> list[list[str]]:
    disciplines = [d for d in Discipline.objects.order_by("name") if d.is_active or d.code in BACKLOG_AT_END_OF_JUNE]
    return [[d.name, *(str(n) for n in BACKLOG_AT_END_OF_JUNE.get(d.code, (0, 0)))] for d in disciplines]


def export_url(board: str, figure: str, fmt: str) -> str:
    return reverse("statistics:export", args=[board, figure, fmt])


def test_the_backlog_csv_export(client_for, statistician, casework: Casework):
    response = client_for(statistician).get(export_url("management", "backlog", "csv"), PERIOD)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="backlog-2026-01-2026-06.csv"'
    assert response.content.startswith("\ufeff".encode())
    rows = csv_rows(response)
    assert rows[0] == ["Discipline", "Without a released report", "Open more than 30 days after receipt"]
    assert rows[1:] == expected_backlog_rows()
    assert sum(int(row[1]) for row in rows[1:]) == 8 and sum(int(row[2]) for row in rows[1:]) == 6


def test_the_backlog_xlsx_export_holds_the_same_values_and_an_about_sheet(client_for, statistician, casework):
    client = client_for(statistician)
    response = client.get(export_url("management", "backlog", "xlsx"), {**PERIOD, "district": "BZ"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="backlog-2026-01-2026-06.xlsx"'
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Backlog per discipline", "About"]
    values = sheet_rows(workbook.worksheets[0])
    as_csv = csv_rows(client.get(export_url("management", "backlog", "csv"), {**PERIOD, "district": "BZ"}))
    assert values == same_as_csv(as_csv)
    # Belize: the toxicology requests (5, 3 over 30 days) and O4 (seized drugs); the firearms ones are in Cayo.
    by_name = {row[0]: row[1:] for row in values[1:]}
    assert by_name["Toxicology"] == [5, 3] and by_name["Seized drugs"] == [1, 1]
    assert by_name["Firearms"] == [0, 0]
    about = {row[0]: row[1] for row in workbook["About"].iter_rows(values_only=True)}
    assert about["Figure"] == "Backlog per discipline"
    assert about["Filters"] == "2026-01 – 2026-06 · District: Belize"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", about["Made"])
    assert about["Note"] == "Counted at 2026-07-01 00:00."


def test_the_homicide_by_month_csv_export(client_for, statistician, homicides):
    response = client_for(statistician).get(
        export_url("policy", "homicide_by_month", "csv"), {"month_from": "2026-01", "month_to": "2026-04"}
    )
    assert response.status_code == 200
    assert csv_rows(response) == [
        ["Month", "Death records (released autopsies)", "Cases coded ICCS 0101", "Victims"],
        ["2026-01", "2", "1", "3"],  # D1, D2; K5
        ["2026-02", "1", "1", "2"],  # D3; K1
        ["2026-03", "0", "2", "2"],  # K2's two victims
        ["2026-04", "1", "0", "1"],  # D6
    ]


def test_the_dashboards_show_the_known_figures(client_for, make_user, casework, homicides):
    client = client_for(make_user(Role.LAB_MANAGER))
    management = text(client.get(reverse("statistics:management"), PERIOD))
    assert 'data-testid="figure-backlog"' in management and "Counted at 2026-07-01 00:00." in management
    assert f'href="{export_url("management", "backlog", "csv")}?month_from=2026-01&amp;month_to=2026-06' in (
        client.get(reverse("statistics:management"), PERIOD).content.decode()
    )
    policy = client.get(reverse("statistics:policy"), {"month_from": "2026-01", "month_to": "2026-12"})
    headlines = dict(re.findall(r'data-testid="headline-homicide-([a-z_]+)">([^<]*)<', policy.content.decode()))
    assert headlines == {"victims": "8", "death_records": "4", "cases": "4"}


@pytest.mark.parametrize(
    ("board", "figure"),
    [
        ("management", "nonexistent"),
        ("policy", "backlog"),  # a management figure is not on the policy dashboard
        ("management", "homicide_by_month"),
    ],
)
def test_an_unknown_figure_is_404(client_for, statistician, board, figure):
    client = client_for(statistician)
    for fmt in ("csv", "xlsx"):
        assert client.get(export_url(board, figure, fmt)).status_code == 404


BAD_FILTERS = [
    ({"month_from": "2026-13"}, "Give a month as YYYY-MM."),
    ({"month_from": "2026-07", "month_to": "2026-06"}, "The period ends before it starts."),
    ({"district": "XX"}, "Select a valid choice. XX is not one of the available choices."),
    ({"discipline": "astrology"}, "Select a valid choice. astrology is not one of the available choices."),
    ({"agency": "NOPE"}, "Select a valid choice. NOPE is not one of the available choices."),
]


@pytest.mark.parametrize(("params", "message"), BAD_FILTERS)
def test_bad_filters_are_shown_on_the_page_and_refused_by_the_export(client_for, statistician, params, message):
    client = client_for(statistician)
    page = client.get(reverse("statistics:management"), params)
    assert page.status_code == 200
    body = text(page)
    assert message in body
    assert "Correct the filters to see the figures." in body
    assert 'data-testid="figure-' not in body and 'data-testid="section-' not in body
    for fmt in ("csv", "xlsx"):
        export = client.get(export_url("management", "backlog", fmt), params)
        assert export.status_code == 400
        assert message in export.content.decode()


@pytest.mark.parametrize(("params", "message"), BAD_FILTERS[:3] + BAD_FILTERS[4:])
def test_bad_filters_on_the_policy_dashboard(client_for, statistician, params, message):
    client = client_for(statistician)
    page = text(client.get(reverse("statistics:policy"), params))
    assert message in page and 'data-testid="figure-' not in page
    export = client.get(export_url("policy", "homicide_by_month", "csv"), params)
    assert export.status_code == 400 and message in export.content.decode()


def test_the_policy_dashboard_has_no_discipline_filter(client_for, statistician, homicides):
    """The policy figures are not per discipline: the filter is not offered, and a discipline given is ignored."""
    client = client_for(statistician)
    page = text(client.get(reverse("statistics:policy"), {"discipline": "astrology", "month_to": "2026-04"}))
    assert 'name="discipline"' not in page and 'data-testid="figure-homicide_by_month"' in page


def test_a_bad_bulletin_month_is_400(client_for, statistician):
    response = client_for(statistician).get(reverse("statistics:bulletin"), {"month": "2026-13"})
    assert response.status_code == 400 and "Give a month as YYYY-MM." in response.content.decode()


def test_every_declared_figure_exports_in_both_formats(client_for, statistician, casework, homicides, shipments):
    client = client_for(statistician)
    for board, dashboard in DASHBOARDS.items():
        for key in [key for builder in dashboard.sections for key in builder.figure_keys]:
            as_csv = client.get(export_url(board, key, "csv"), PERIOD)
            assert as_csv.status_code == 200, key
            rows = csv_rows(as_csv)
            figure = dashboard.figure(key, Filters(**PERIOD))
            assert rows[0] == figure.headings and len(rows) == len(figure.rows) + 1, key
            as_xlsx = client.get(export_url(board, key, "xlsx"), PERIOD)
            assert as_xlsx.status_code == 200, key
            workbook = load_workbook(io.BytesIO(as_xlsx.content))
            assert workbook.sheetnames[1] == "About" and workbook["About"]["B1"].value == figure.title, key
            assert sheet_rows(workbook.worksheets[0]) == same_as_csv(rows), key


# --- years the figures cannot handle ----------------------------------------------------------------------------

# A period must lie within 1900-01..2100-12 (the years of the population table). Before that rule, a year like
# 9999 made ``months_between`` run forever ("10000-01" <= "9999-12" as text) and years 0000-0999 crashed the month
# arithmetic. ``guard_months`` cuts a runaway period short, so that a regression fails instead of hanging.

MONTHS_GUARD = 5000


@pytest.fixture
def guard_months(monkeypatch):
    """Cut ``months_between`` short after MONTHS_GUARD months (a runaway period), recording that it happened."""
    from forensis.statistics import filters, homicide
    from forensis.statistics import reconciliation as reconciliation_module

    real = filters.months_between
    runaway = []

    def months_between(first, last):
        for count, month in enumerate(real(first, last)):
            if count >= MONTHS_GUARD:
                runaway.append((first, last))
                raise RuntimeError(f"months_between({first!r}, {last!r}) ran past {MONTHS_GUARD} months")
            yield month

    for module in (filters, homicide, reconciliation_module):
        monkeypatch.setattr(module, "months_between", months_between)
    return runaway


EXTREME_PERIODS = [
    ("statistics:management", {"month_from": "0000-01", "month_to": "0000-12"}),
    ("statistics:policy", {"month_from": "0000-01", "month_to": "0000-12"}),
    ("statistics:management", {"month_from": "9999-01", "month_to": "9999-12"}),
    ("statistics:policy", {"month_from": "9999-01", "month_to": "9999-12"}),
    ("export-backlog", {"month_from": "0000-01", "month_to": "0000-12"}),
    ("export-homicide_by_month", {"month_from": "9999-01", "month_to": "9999-12"}),
    ("statistics:bulletin", {"month": "0001-01"}),
    ("statistics:bulletin", {"month": "9999-12"}),
    ("statistics:open_data", {"year_from": "0000", "year_to": "0000"}),
    ("open-data-all", {"year_from": "9999", "year_to": "9999"}),
]


def extreme_url(name: str) -> str:
    if name == "export-backlog":
        return export_url("management", "backlog", "csv")
    if name == "export-homicide_by_month":
        return export_url("policy", "homicide_by_month", "csv")
    if name == "open-data-all":
        return open_data_url("all", "json")
    return reverse(name)


@pytest.mark.parametrize(("name", "params"), EXTREME_PERIODS)
def test_a_period_in_the_years_0000_or_9999_is_refused_not_a_server_error(
    client_for, statistician, guard_months, name, params
):
    client = client_for(statistician)
    client.raise_request_exception = False
    response = client.get(extreme_url(name), params)
    assert not guard_months, f"the months of the period never end: {guard_months}"
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 200 and name.startswith("statistics:") and name != "statistics:bulletin":
        assert 'data-testid="figure-' not in response.content.decode()  # refused on the form, not computed


@pytest.mark.parametrize("period", [("2026-01", "9999-12"), ("0000-01", "2026-01")])
def test_a_reconciliation_period_at_the_ends_of_the_calendar_is_refused_on_the_form(
    client_for, statistician, guard_months, period
):
    client = client_for(statistician)
    client.raise_request_exception = False
    response = compare(client, POLICE_LIST, month_from=period[0], month_to=period[1])
    assert not guard_months
    assert response.status_code == 200, response.status_code  # 500 today: reconcile() raises ValidationError
    assert 'data-testid="reconciliation-result"' not in response.content.decode()


# --- 4. open data ---------------------------------------------------------------------------------------------


def open_data_url(name: str, fmt: str) -> str:
    return reverse("statistics:open_data_file", args=[name, fmt])


YEAR_2026 = {"year_from": "2026", "year_to": "2026"}


def test_a_small_count_is_published_as_under_five(client_for, statistician, homicides):
    response = client_for(statistician).get(open_data_url("homicide_victims_by_month", "csv"), YEAR_2026)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="homicide_victims_by_month.csv"'
    rows = {row["month"]: row["victims"] for row in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))}
    assert len(rows) == 12
    assert rows["2026-01"] == "<5"  # 3 victims
    assert rows["2026-05"] == "0"  # zero describes no one
    as_json = json.loads(
        client_for(statistician).get(open_data_url("homicide_victims_by_month", "json"), YEAR_2026).content
    )
    assert (
        as_json["name"] == "homicide_victims_by_month"
        and {"month": "2026-01", "victims": "<5"}.items()
        <= next(row for row in as_json["rows"] if row["month"] == "2026-01").items()
    )


def test_every_table_as_json_with_its_dictionary(client_for, statistician, homicides, casework):
    client = client_for(statistician)
    response = client.get(open_data_url("all", "json"), YEAR_2026)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    document = json.loads(response.content)
    assert set(document) == {"dictionary", "tables"}
    assert [t["name"] for t in document["tables"]] == [t.name for t in opendata.tables(Filters())]
    assert "suppression" in document["dictionary"]
    dictionary = json.loads(client.get(open_data_url("dictionary", "json")).content)
    assert {t["name"] for t in dictionary["tables"]} == {t["name"] for t in document["tables"]}
    page = client.get(reverse("statistics:open_data"), YEAR_2026)
    assert page.status_code == 200 and 'data-testid="open-table-homicide_victims_by_month"' in text(page)


@pytest.mark.parametrize("params", [{"year_from": "abc"}, {"year_to": "26"}, {"year_from": "2026-01"}])
def test_a_malformed_year_is_400_with_a_readable_message(client_for, statistician, params):
    client = client_for(statistician)
    for url in (open_data_url("all", "json"), open_data_url("homicide_victims_by_month", "csv")):
        response = client.get(url, params)
        assert response.status_code == 400
        assert response.content.decode() == "Give a year as four digits."


# The error page keeps what was typed in the year fields (it once lost them).
@pytest.mark.parametrize("params", [{"year_from": "abc"}, {"year_to": "26"}])
def test_the_open_data_page_shows_a_malformed_year(client_for, statistician, params):
    page = client_for(statistician).get(reverse("statistics:open_data"), params)
    assert page.status_code == 400
    body = text(page)
    assert "Give a year as four digits." in body
    name, value = next(iter(params.items()))
    assert f'name="{name}" value="{value}"' in body  # what was typed is shown back, to be corrected


@pytest.mark.parametrize(
    ("name", "fmt"), [("no_such_table", "csv"), ("no_such_table", "json"), ("all", "csv"), ("dictionary", "csv")]
)
def test_an_unknown_open_data_file_is_404(client_for, statistician, name, fmt):
    assert client_for(statistician).get(open_data_url(name, fmt)).status_code == 404


def test_no_download_names_a_person_a_case_or_an_exact_date(client_for, statistician, homicides, casework):
    client = client_for(statistician)
    downloads = [client.get(open_data_url("all", "json")), client.get(open_data_url("dictionary", "json"))]
    for table in opendata.tables(Filters()):
        downloads += [client.get(open_data_url(table.name, "csv")), client.get(open_data_url(table.name, "json"))]
    assert all(response.status_code == 200 for response in downloads)
    published = "\n".join(response.content.decode("utf-8-sig") for response in downloads)
    names = [d.decedent_name for d in DeathInvestigation.objects.all() if d.decedent_name]
    assert "Victim 1" in names
    forbidden = [
        *names,
        "Named person",
        "Legacy person",
        "Andre Flowers",
        "Bella Young",
        "T-2026-77",
        *Case.objects.values_list("lab_number", flat=True),
        *Case.objects.values_list("agency_case_number", flat=True),
        *DeathInvestigation.objects.values_list("number", flat=True),
    ]
    assert [value for value in forbidden if value in published] == []
    assert re.findall(r"\d{4}-\d{2}-\d{2}", published) == []  # no date finer than a month


# --- 5. the reconciliation upload ------------------------------------------------------------------------------

POLICE_HEADER = "police_reference,date_of_death,district,sex,age,victim_name\n"
#: One row matching D1 by its police reference, one matching nothing.
POLICE_LIST = (
    POLICE_HEADER + "BZ-STAT-001,2026-01-10,BZ,F,27,Police Named Victim\nZZ-404,2026-01-15,BZ,M,30,Nobody Known\n"
)
JANUARY = {"month_from": "2026-01", "month_to": "2026-01"}


def upload(content: str | bytes, name: str = "police.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode() if isinstance(content, str) else content, "text/csv")


def totals_of(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-testid="total-([a-z-]+)">(\d+)<', page))


def compare(client, content, **fields):
    return client.post(reverse("statistics:reconciliation"), {"police_list": upload(content), **fields})


def test_the_reconciliation_totals_and_what_a_laboratory_manager_sees(client_for, make_user, homicides):
    response = compare(client_for(make_user(Role.LAB_MANAGER)), POLICE_LIST, **JANUARY)
    assert response.status_code == 200
    page = text(response)
    assert 'data-testid="reconciliation-result"' in page
    # January: D1 and D2 (Belize) from death records, K5 (migrated, district unknown) from cases.
    assert totals_of(page) == {"police": "2", "forensis": "3", "matched": "1", "police-only": "1", "forensis-only": "2"}
    assert 'data-testid="forensis-only"' in page and 'data-testid="forensis-only-hidden"' not in page
    forensis_only = page.split('data-testid="forensis-only"')[1].split("</table>")[0]
    assert homicides.deaths[2].number in forensis_only and homicides.cases["K5"].lab_number in forensis_only
    assert homicides.deaths[1].number not in forensis_only  # matched
    police_only = page.split('data-testid="police-only"')[1].split("</table>")[0]
    assert "ZZ-404" in police_only and "Nobody Known" in police_only and "2026-01-15" in police_only


def test_a_statistician_sees_the_counts_but_no_record(client_for, statistician, homicides):
    response = compare(client_for(statistician), POLICE_LIST, **JANUARY)
    page = text(response)
    assert totals_of(page) == {"police": "2", "forensis": "3", "matched": "1", "police-only": "1", "forensis-only": "2"}
    assert 'data-testid="forensis-only"' not in page
    assert 'data-testid="forensis-only-hidden"' in page
    assert "2 victims in Forensis are not in the police list." in page
    secrets = [
        *Case.objects.values_list("lab_number", flat=True),
        *DeathInvestigation.objects.values_list("number", flat=True),
        *[d.decedent_name for d in homicides.deaths.values() if d.decedent_name],
        "BZ-STAT-002",  # D2's police number, missing from the list
        "ZZ-404",
        "Nobody Known",
        "Police Named Victim",
    ]
    assert [secret for secret in secrets if secret in page] == []
    police_only = page.split('data-testid="police-only"')[1].split("</table>")[0]
    assert "2026-01" in police_only and "2026-01-15" not in police_only  # the month, not the date


def test_a_malformed_list_is_refused_with_line_numbered_errors(client_for, statistician, homicides):
    client = client_for(statistician)
    missing = text(compare(client, "reference,date_of_death\nA,2026-01-01\n"))
    assert "Line 1, police_reference: This column is missing from the header row." in missing
    assert "Line 1, district: This column is missing from the header row." in missing
    assert 'data-testid="reconciliation-result"' not in missing
    bad_date = text(
        compare(client, POLICE_HEADER + "A1,2026-01-10,BZ,F,27,\nA2,10 Jan 2026,BZ,M,,\nA3,31/02/2026,CY,F,,\n")
    )
    assert "Line 3, date_of_death: “10 Jan 2026” is not a date (YYYY-MM-DD or DD/MM/YYYY)." in bad_date
    assert "Line 4, date_of_death: “31/02/2026” is not a date (YYYY-MM-DD or DD/MM/YYYY)." in bad_date
    assert "Line 2" not in bad_date
    assert 'data-testid="reconciliation-result"' not in bad_date and 'data-testid="total-police"' not in bad_date
    assert 'data-testid="police-list-form"' in bad_date


def test_a_bad_period_on_the_upload_form_is_shown(client_for, statistician, homicides):
    client = client_for(statistician)
    page = text(compare(client, POLICE_LIST, month_from="2026-02", month_to="2026-01"))
    assert "The period ends before it starts." in page and 'data-testid="reconciliation-result"' not in page
    page = text(compare(client, POLICE_LIST, month_from="2026-13"))
    assert "Give a month as YYYY-MM." in page and 'data-testid="reconciliation-result"' not in page
    page = text(compare(client, POLICE_LIST, district="XX"))
    assert "Select a valid choice. XX is not one of the available choices." in page
    assert 'data-testid="reconciliation-result"' not in page


def test_a_list_without_rows_is_refused(client_for, statistician, homicides):
    page = text(compare(client_for(statistician), POLICE_HEADER, **JANUARY))
    assert "File: The list has no rows." in page and 'data-testid="reconciliation-result"' not in page


def test_a_list_bigger_than_the_limit_is_refused(client_for, statistician):
    client = client_for(statistician)
    oversized = (POLICE_HEADER + "A1,2026-01-10,BZ,F,27,\n").encode() + b"x" * reconciliation.MAX_BYTES
    page = text(client.post(reverse("statistics:reconciliation"), {"police_list": upload(oversized)}))
    assert "The list is larger than 5 MB; split it by year." in page
    assert 'data-testid="reconciliation-result"' not in page


def test_the_upload_form_is_shown_on_get(client_for, statistician):
    page = text(client_for(statistician).get(reverse("statistics:reconciliation")))
    assert 'data-testid="police-list-form"' in page and 'enctype="multipart/form-data"' in page
    assert 'data-testid="reconciliation-result"' not in page


# --- 6. the court-date list -----------------------------------------------------------------------------------


@pytest.fixture
def court_soon(casework) -> ServiceRequest:
    """O1 (open toxicology, Belize) with a court date in five days: at risk on the page, whatever the period."""
    request = casework.requests["O1"]
    Casework.stamp(request, court_date=timezone.localdate() + timedelta(days=5))
    return ServiceRequest.objects.select_related("case").get(pk=request.pk)


def test_the_court_date_list_is_shown_to_a_laboratory_manager(client_for, make_user, court_soon):
    page = text(client_for(make_user(Role.LAB_MANAGER)).get(reverse("statistics:management")))
    assert 'data-testid="court-date-list"' in page
    listing = page.split('data-testid="court-date-list"')[1].split("</table>")[0]
    assert court_soon.case.lab_number in listing
    assert f'href="{reverse("cases:detail", args=[court_soon.case.lab_number])}"' in listing
    assert ">5<" in listing  # days left


def test_the_court_date_list_is_hidden_from_a_statistician(client_for, statistician, court_soon, casework):
    page = text(client_for(statistician).get(reverse("statistics:management")))
    assert 'data-testid="figure-court_dates"' in page  # the count per discipline is an aggregate
    assert 'data-testid="court-date-list"' not in page
    lab_numbers = [request.case.lab_number for request in casework.requests.values()]
    assert [number for number in lab_numbers if number in page] == []


# --- 7. the dashboards' sections -----------------------------------------------------------------------------


def test_each_section_builds_exactly_the_figures_it_declares(casework, homicides, shipments):
    filters = Filters(month_from="2026-01", month_to="2026-06")
    for dashboard in (MANAGEMENT, POLICY):
        for builder in dashboard.sections:
            declared = builder.figure_keys
            section = builder(filters)
            assert [figure.key for figure in section.figures] == list(declared), builder.__name__
            for key in declared:
                figure = dashboard.figure(key, filters)
                assert figure is not None and figure.key == key, key
                assert figure.headings and all(len(row) == len(figure.headings) for row in figure.values())


def test_figure_keys_are_unique_within_each_dashboard():
    for dashboard in DASHBOARDS.values():
        keys = [key for builder in dashboard.sections for key in builder.figure_keys]
        assert len(keys) == len(set(keys)), dashboard.key
        assert all(re.fullmatch(r"[a-z0-9_]+", key) for key in keys)  # the export URL's pattern
    assert set(DASHBOARDS) == {"management", "policy"}
