"""SQL injection: classic payloads in every filter and search parameter of the list pages and the API's lists.

The parameters are not typed in here: the web pages' and the API's django-filter FilterSets give their own names
(``tests/security/conftest.py``: ``WEB_FILTERSETS``, ``API_FILTERSETS``), and the few parameters views read from
``request.GET`` by hand are listed beside them; two tests fail when a FilterSet or a ``request.GET`` read is not
attacked. For each parameter and payload:

- the answer is never a server error;
- the payload reaches the database only as a bound parameter, never in the SQL text (every statement is captured
  with ``connection.execute_wrapper``) — which is what makes the time-based ``pg_sleep`` payloads harmless, without
  a timing assertion;
- an officer's pages and a partner token's API answers never show the other agency's case, and an API list never
  holds more rows than the unfiltered list;
- and afterwards every table is still there, with its rows.

The same world as the cross-site scripting tests (``hostile_world``) holds both agencies' cases. ``make security``
runs sqlmap against a live server for the same parameters (``tests/security/sqlmap_scan.py``).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from tests.security.conftest import (
    API_COMMON_PARAMETERS,
    API_FILTERSETS,
    EXTRA_PARAMETERS,
    OTHER_AGENCY_CASE,
    WEB_FILTERSETS,
    api_parameters,
    requests_for,
    search_parameters,
)

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"

#: The payloads, and for each the words that would be in the SQL text if it were pasted into it.
PAYLOADS = {
    "' OR '1'='1": "'1'='1",
    "' OR 1=1--": "OR 1=1--",
    "1;DROP TABLE cases_case;--": "DROP TABLE",
    "') UNION SELECT username, password FROM accounts_user--": "UNION SELECT username",
    "1' AND (SELECT 1 FROM pg_sleep(3)) IS NOT NULL--": "pg_sleep(3)",
    "'; SELECT pg_sleep(3);--": "pg_sleep(3)",
    '" OR ""="': 'OR ""="',
    "%' OR agency_case_number LIKE '%": "OR agency_case_number LIKE",
    "1 AND 1=CAST((SELECT version()) AS int)": "SELECT version()",
    "\x00' OR '1'='1": "'1'='1",
}


@contextmanager
def sql_text_captured():
    """Every SQL statement sent while inside, as text without its bound parameters."""
    statements: list[str] = []

    def capture(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        yield statements


def pasted(statements: list[str], words: str) -> list[str]:
    return [sql for sql in statements if words.lower() in sql.lower()]


@pytest.fixture(scope="module")
def clients(hostile_world):
    found = {}
    for key in ("admin", "officer"):
        client = Client(raise_request_exception=False)  # a server error is an answer to report, with the others
        client.force_login(hostile_world.users[key], backend=MODEL_BACKEND)
        found[key] = client
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {hostile_world.token.key}")
    found["api"] = api
    return found


def _rows(page: str) -> int:
    body = page.split("<tbody", 1)[1] if "<tbody" in page else ""
    return body.count("<tr")


def test_every_filterset_is_attacked(db):
    """Every django-filter FilterSet the site defines is listed (the web pages' or the API's)."""
    import django_filters

    import forensis.urls  # noqa: F401  (loads every view, and with it every FilterSet)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    defined = {
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in subclasses(django_filters.FilterSet)
        if cls.__module__.startswith("forensis.")
    }
    listed = set(WEB_FILTERSETS) | set(API_FILTERSETS)
    assert defined - listed == set(), "FilterSets no attack test covers: list them in tests/security/conftest.py"
    assert listed - defined == set(), "listed FilterSets that no longer exist"


def test_every_query_parameter_is_attacked():
    """Every parameter a view reads from ``request.GET`` by hand is attacked (or is listed as not a search)."""
    source = Path(__import__("forensis").__file__).parent
    read = set()
    for path in source.rglob("*.py"):
        read |= set(re.findall(r"""request\.GET(?:\.get\(|\[)\s*["'](\w+)["']""", path.read_text()))
    attacked = {name for _page, names, _together in EXTRA_PARAMETERS for name in names}
    assert read - attacked == set(), "request.GET reads no attack test covers: list them in EXTRA_PARAMETERS"


#: The web pages get the payloads of each kind (the API, quicker to answer, gets them all).
WEB_PAYLOADS = {
    payload: PAYLOADS[payload]
    for payload in (
        "' OR '1'='1",
        "1;DROP TABLE cases_case;--",
        "') UNION SELECT username, password FROM accounts_user--",
        "'; SELECT pg_sleep(3);--",
        "%' OR agency_case_number LIKE '%",
        "\x00' OR '1'='1",
    )
}


def test_web_filters_take_payloads_as_data(db, hostile_world, clients):
    checked, parameters, problems = 0, 0, []
    for url, names, together in search_parameters(hostile_world):
        parameters += len(names)
        for who in ("admin", "officer"):
            client = clients[who]
            if client.get(url).status_code != 200:
                continue  # a page this person may not open: refused before any filter is read
            for payload, words in WEB_PAYLOADS.items():
                for attacked, query in requests_for(url, names, together, payload):
                    with sql_text_captured() as statements:
                        response = client.get(url, query)
                    checked += 1
                    where = f"{who} {url}?{attacked}={payload!r}"
                    if response.status_code >= 500:
                        problems.append(f"{where}: {response.status_code}")
                    if pasted(statements, words):
                        problems.append(f"{where}: the payload is in the SQL text: {pasted(statements, words)[0]}")
                    body = response.content.decode(errors="replace") if not response.streaming else ""
                    if who == "officer" and OTHER_AGENCY_CASE in body:
                        problems.append(f"{where}: shows the other agency's case")
    assert not problems, "\n".join(problems[:20])
    assert parameters >= 70, f"only {parameters} parameters: the lists are shorter than they should be"
    print(
        f"\nweb: {parameters} parameters × {len(WEB_PAYLOADS)} payloads in {checked} requests (admin and officer):"
        " none answered 5xx, pasted SQL or showed the other agency's case"
    )


def test_api_filters_take_payloads_as_data(db, hostile_world, clients):
    api = clients["api"]
    other = hostile_world.other_case.lab_number
    checked, problems = 0, []
    for url, names in api_parameters():
        unfiltered = api.get(url, {"page_size": 200})
        assert unfiltered.status_code == 200, (url, unfiltered.content[:200])
        visible = unfiltered.content.decode()
        everything = unfiltered.json()
        rows = everything.get("results", everything.get("changes"))
        assert other not in visible, f"{url} shows the other agency's case"
        for name in names:
            for payload, words in PAYLOADS.items():
                with sql_text_captured() as statements:
                    response = api.get(url, {name: payload})
                checked += 1
                where = f"{url}?{name}={payload!r}"
                if response.status_code not in (200, 400, 404):
                    problems.append(f"{where}: {response.status_code} {response.content[:120]!r}")
                    continue
                if pasted(statements, words):
                    problems.append(f"{where}: the payload is in the SQL text: {pasted(statements, words)[0]}")
                if other in response.content.decode():
                    problems.append(f"{where}: shows the other agency's case")
                if response.status_code == 200:
                    found = response.json()
                    found = found.get("results", found.get("changes"))
                    if name not in API_COMMON_PARAMETERS and len(found) > len(rows):
                        problems.append(f"{where}: {len(found)} rows, more than the {len(rows)} unfiltered")
    assert not problems, "\n".join(problems[:20])
    assert checked >= 150
    print(f"\nAPI: {checked} requests (parameter × payload), none answered 5xx, pasted SQL or leaked a row")


def test_the_tables_survive_the_payloads(db, hostile_world, clients):
    """After a request with each payload in each web list's first parameter, every table is there with its rows."""
    from django.apps import apps

    from forensis.accounts.models import User
    from forensis.cases.models import Case

    before = {model._meta.db_table: model.objects.count() for model in (Case, User)}
    for url, names, together in search_parameters(hostile_world)[:6]:
        for payload in PAYLOADS:
            for _attacked, query in requests_for(url, names, together, payload):
                clients["admin"].get(url, query)
    tables = set(connection.introspection.table_names())
    missing = [m._meta.db_table for m in apps.get_models() if m._meta.managed and m._meta.db_table not in tables]
    assert not missing, f"tables gone: {missing}"
    assert {model._meta.db_table: model.objects.count() for model in (Case, User)} == before


def test_the_capture_sees_pasted_sql(db):
    """The check itself: SQL built by pasting text is caught (so a passing run means the payloads stayed data)."""
    payload = "' OR '1'='1"
    with sql_text_captured() as statements, connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 WHERE 'a' = '{payload}'")  # noqa: S608  (the unsafe way, on purpose)
    assert pasted(statements, PAYLOADS[payload])


# --- make security: reading sqlmap's output (tests/security/sqlmap_scan.py) ------------------------------------

CLEAN_RUN = """\
[09:33:11] [INFO] testing for SQL injection on GET parameter 'agency_case_number'
[09:33:21] [WARNING] GET parameter 'agency_case_number' does not seem to be injectable
[09:33:28] [WARNING] GET parameter 'cursor' does not seem to be injectable
[09:33:48] [CRITICAL] all tested parameters do not appear to be injectable. Try to increase values for '--level'
"""
FALSE_POSITIVE = """\
[09:26:55] [INFO] GET parameter 'object_id' appears to be 'AND boolean-based blind - WHERE or HAVING clause' injectable
[09:27:02] [INFO] checking if the injection point on GET parameter 'object_id' is a false positive
[09:27:02] [WARNING] false positive or unexploitable injection point detected
[09:27:02] [WARNING] GET parameter 'object_id' does not seem to be injectable
"""
INJECTABLE = """\
[10:01:02] [INFO] GET parameter 'q' appears to be 'AND boolean-based blind - WHERE or HAVING clause' injectable
[10:01:09] [INFO] GET parameter 'q' is 'Generic UNION query (NULL) - 1 to 20 columns' injectable
GET parameter 'q' is vulnerable. Do you want to keep testing the others (if any)? [y/N] N
sqlmap identified the following injection point(s) with a total of 48 HTTP(s) requests:
"""
CUT_SHORT = """\
[10:01:02] [INFO] GET parameter 'case' appears to be 'OR boolean-based blind - WHERE or HAVING clause' injectable
"""
UNREACHABLE = """\
[10:02:00] [CRITICAL] unable to connect to the target URL. sqlmap is going to retry the request(s)
[10:02:30] [WARNING] HTTP error codes detected during run:
"""


def test_the_sqlmap_output_parser():
    from tests.security.sqlmap_scan import Target, parse_sqlmap_output, problems_of

    clean = parse_sqlmap_output(CLEAN_RUN)
    assert clean.tested == {"agency_case_number", "cursor"} and not clean.findings and clean.finished
    ruled_out = parse_sqlmap_output(FALSE_POSITIVE)
    assert ruled_out.tested == {"object_id"} and not ruled_out.findings
    found = parse_sqlmap_output(INJECTABLE)
    assert found.injectable == {"q"} and found.injection_points and found.findings
    assert parse_sqlmap_output(CUT_SHORT).injectable == {"case"}, "a candidate never ruled out is a finding"
    unreachable = parse_sqlmap_output(UNREACHABLE)
    assert unreachable.unreachable and not unreachable.tested

    target = Target("API /api/v1/cases/", "/api/v1/cases/", {"agency_case_number": "1", "offence": "1"}, {})
    target.result = {"tested": ["agency_case_number"], "untested": ["offence"], "injectable": []}
    assert problems_of(target) == ["not tested: ['offence']"]
    target.result = {"tested": ["offence"], "injectable": ["offence"], "untested": []}
    assert problems_of(target)[0].startswith("FINDING")
