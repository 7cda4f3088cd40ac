"""The load benchmark's own logic (bench/userload.py, bench/benchmarks/load_mix.py), without Forensis servers: the
authenticator's codes, forms read as a browser reads them, the figures, the stepping rule, the people's clicks
against stand-in pages, and one real HTTP exchange with a small aiohttp server on loopback. No timing is asserted."""

from __future__ import annotations

import asyncio
import random
import re

import pytest
from aiohttp import web
from django_otp.oath import TOTP

from bench.benchmarks.load_mix import (
    DISCIPLINES,
    RESULT_VALUES,
    WRITES,
    Analyst,
    Custodian,
    Officer,
    _mismatches,
    interleave,
)
from bench.userload import (
    Click,
    Failure,
    Figures,
    Page,
    Recorder,
    Session,
    best_step,
    form_with,
    forms_of,
    loopback_only,
    nearest_rank,
    next_concurrency,
    page_problem,
    run_paced,
    run_unpaced,
    sign_in_all,
    summarize,
    totp,
)
from forensis.lab.results import validate_result

# --- the authenticator ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("at", [0, 29.9, 30, 1_764_000_000, 1_800_000_017.5])
@pytest.mark.parametrize("key", [b"\x00" * 20, bytes(range(20)), b"12345678901234567890"])
def test_totp_is_the_code_django_otp_accepts(key, at):
    expected = TOTP(key, step=30, digits=6)
    expected.time = at
    assert totp(key, at) == f"{expected.token():06d}"


def test_totp_matches_rfc_6238_test_vector():
    # RFC 6238, appendix B (SHA-1, the last six of the eight digits).
    assert totp(b"12345678901234567890", 59) == "287082"
    assert totp(b"12345678901234567890", 1111111109) == "081804"


# --- forms ----------------------------------------------------------------------------------------------------

PAGE = """
<html><head><title>Edit SUB-2026-00001</title></head><body>
<form method="post" action="/i18n/setlang/"><input type="hidden" name="csrfmiddlewaretoken" value="t0">
  <button name="language" value="es">ES</button></form>
<div class="alert alert-danger" role="alert">Enter the <b>agency</b>
  case number.</div>
<form method="post" novalidate><input type="hidden" name="csrfmiddlewaretoken" value="t1">
  <input name="agency_case_number" value="">
  <input type="checkbox" name="items-0-biological" checked>
  <input type="checkbox" name="items-1-biological">
  <input type="checkbox" name="items-0-disciplines" value="4" checked>
  <input type="checkbox" name="items-0-disciplines" value="5" checked>
  <input type="text" name="locked" value="x" disabled>
  <select name="district"><option value="">---------</option><option value="BZ">Belize</option></select>
  <select name="kit"><option value="">No kit</option><option value="2" selected>Toxicology kit</option></select>
  <select name="offence_codes" multiple><option value="0101">Homicide</option><option value="02072">DUI</option>
  </select>
  <textarea name="narrative">
Two lines &amp; more</textarea>
  <button type="submit" name="action" value="save">Save</button>
  <button type="submit" name="action" value="submit">Submit</button>
</form>
<form method="get"><input name="q" value=""></form>
</body></html>
"""


def test_forms_are_read_as_a_browser_submits_them():
    language, edit, search = forms_of(PAGE)
    assert (language.method, language.action, search.method) == ("post", "/i18n/setlang/", "get")
    assert edit.action == ""
    assert edit.fields == [
        ("csrfmiddlewaretoken", "t1"),
        ("agency_case_number", ""),
        ("items-0-biological", "on"),
        ("items-0-disciplines", "4"),
        ("items-0-disciplines", "5"),
        ("district", ""),  # a single select without a selected option sends its first
        ("kit", "2"),
        ("narrative", "Two lines & more"),  # the newline right after <textarea> is not part of the value
    ]
    assert {"items-1-biological", "offence_codes", "action", "locked"} <= edit.names  # there, though not sent


def test_filled_replaces_and_adds_fields():
    edit = forms_of(PAGE)[1]
    pairs = edit.filled({"agency_case_number": "BZ-1", "offence_codes": ["0101", "02072"], "action": "submit"})
    assert ("agency_case_number", "BZ-1") in pairs and ("agency_case_number", "") not in pairs
    assert [value for key, value in pairs if key == "offence_codes"] == ["0101", "02072"]
    assert ("action", "submit") in pairs
    assert ("csrfmiddlewaretoken", "t1") in pairs


def test_form_with_finds_the_post_form_that_has_the_fields():
    assert form_with(PAGE, "agency_case_number").value("csrfmiddlewaretoken") == "t1"
    assert form_with(PAGE, "language").action == "/i18n/setlang/"
    assert form_with(PAGE, "kit", kit="2") is not None
    assert form_with(PAGE, "kit", kit="3") is None
    assert form_with(PAGE, "q") is None  # a GET form


def test_page_problem_is_the_error_alert_or_the_title():
    assert page_problem(PAGE) == "Enter the agency case number."
    assert page_problem("<title>\n Sign in | Forensis </title>") == "Sign in | Forensis"


def test_only_loopback_addresses_are_loaded():
    assert loopback_only("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    for url in ("http://10.0.0.5:8000", "https://127.0.0.1:8000", "http://example.org", "http://127.0.0.1.evil:80"):
        with pytest.raises(ValueError, match="loopback"):
            loopback_only(url)


# --- figures --------------------------------------------------------------------------------------------------


def click(action: str, ms: float, ok: bool = True, requests: int = 1, phase: str = "window") -> Click:
    return Click(phase=phase, action=action, started=0.0, ms=ms, ok=ok, requests=requests)


def test_nearest_rank():
    values = list(range(1, 101))
    assert (nearest_rank(values, 50), nearest_rank(values, 95), nearest_rank(values, 99)) == (50, 95, 99)
    assert nearest_rank([7], 95) == 7
    assert nearest_rank([], 95) == 0


def test_summary_per_action_and_overall():
    clicks = [click("a", ms) for ms in (10, 20, 30, 40)] + [click("b", 100, ok=False, requests=2)]
    summary = summarize(clicks, seconds=2.0)
    assert summary.overall == Figures(clicks=5, requests=6, errors=1, p50=30, p95=100, p99=100, max=100)
    assert summary.actions["a"].p95 == 40 and summary.actions["b"].errors == 1
    assert (summary.throughput, summary.request_rate) == (2.5, 3.0)


def test_recorder_keeps_phases_apart():
    recorder = Recorder()
    recorder.clicks += [click("a", 1, phase="ramp"), click("a", 2), click("a", 3, phase="×10")]
    recorder.failures.append(Failure("ramp", "a", "GET", "http://127.0.0.1/x", 500, "boom"))
    assert [c.ms for c in recorder.in_phase("window")] == [2]
    assert len(recorder.failures_in("ramp", "window")) == 1 and not recorder.failures_in("×10")


def test_stepping_stops_when_throughput_stops_rising():
    steps = (10, 25, 50, 100)
    assert next_concurrency([], steps) == 10
    assert next_concurrency([(10, 50.0)], steps) == 25
    assert next_concurrency([(10, 50.0), (25, 50.5)], steps) == 50  # at least three steps are tried
    assert next_concurrency([(10, 50.0), (25, 70.0), (50, 72.0)], steps) is None  # +3 %: saturated
    assert next_concurrency([(10, 50.0), (25, 70.0), (50, 80.0)], steps) == 100
    assert next_concurrency([(10, 50.0), (25, 70.0), (50, 80.0), (100, 99.0)], steps) is None  # the last step
    assert best_step([(10, 50.0), (25, 70.0), (50, 70.0)]) == (25, 70.0)


def test_interleave_keeps_the_mix_in_every_prefix():
    counts = {"officer": 200, "custodian": 40, "analyst": 40, "manager": 20}
    order = interleave(counts)
    assert {role: order.count(role) for role in counts} == counts
    assert {role: order[:10].count(role) for role in counts} == {"officer": 7, "custodian": 1, "analyst": 1,
                                                                 "manager": 1}  # fmt: skip
    for n in (25, 50, 100):
        for role, count in counts.items():
            assert abs(order[:n].count(role) - count * n / 300) < 1


def test_count_mismatches_name_what_differs():
    counts = {"submission.created": 3, "submission.submitted": 2, "result.saved": 5, "custody.moved": 4}
    written = {"submissions created": 3, "submissions submitted": 2, "results saved": 5, "custody events": 4}
    assert _mismatches(counts, written) == []
    written["custody events"] = 3
    assert _mismatches(counts, written) == [
        "custody events: the client saw 4 succeed and 0 go unanswered, the database has 3"
    ]
    written["custody events"] = 6  # two moves the client gave up on, done by the server after
    counts["custody.moved?"] = 2
    assert _mismatches(counts, written) == []
    written["custody events"] = 7
    assert len(_mismatches(counts, written)) == 1
    assert {what for what, _key in WRITES} == set(written)


@pytest.mark.parametrize("discipline", DISCIPLINES)
def test_result_values_are_valid_and_change_at_every_save(discipline):
    values = [RESULT_VALUES[discipline](n) for n in range(1, 8)]
    for data in values:
        validate_result(discipline, data)  # raises ValidationError for a value the form would refuse
    assert all(before != after for before, after in zip(values, values[1:], strict=False))


# --- the people, against stand-in pages ------------------------------------------------------------------------


class FakeSession:
    """Answers each click with what ``pages(path, data)`` gives: the page's text, or (where the redirects ended, the
    text), or None for a failed click."""

    def __init__(self, pages):
        self.pages = pages
        self.recorder = Recorder("window")
        self.clicks: list[tuple[str, str, list | None]] = []

    async def click(self, action, path, *, data=None, ends=None, says=None, counts=None):
        self.clicks.append((action, path, None if data is None else list(data)))
        answer = self.pages(path, data)
        if answer is None:
            return None
        if counts:
            self.recorder.count(counts)
        final, text = answer if isinstance(answer, tuple) else (path.split("?")[0], answer)
        return Page(url=f"http://127.0.0.1:9{final}", path=final, text=text)


SCAN_FORM = (
    '<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="c"><input type="hidden" '
    'name="action" value="scan"><input name="code"><select name="purpose"><option value="storage" selected>'
    "Storage</option></select></form>"
)


def test_custodian_scans_an_item_then_moves_it_to_the_other_shelf():
    session = FakeSession(lambda path, data: SCAN_FORM)
    account = {"items": [["BEN-0000001/01", "BEN-0000001"], ["BEN-0000002/01", "BEN-0000002"]],
               "shelves": ["LOC00002", "LOC00003"]}  # fmt: skip
    custodian = Custodian(session, account, {}, random.Random(3))
    custodian.rng = random.Random(0)  # rolls ≥ 0.3 below: scans, not other pages
    custodian.rng.random = lambda: 0.9
    for _ in range(5):
        asyncio.run(custodian.act())
    actions = [action for action, _path, _data in session.clicks]
    assert actions == ["custodian: scanning page", "custodian: scan item", "custodian: scan shelf (move)",
                       "custodian: scan item", "custodian: scan shelf (move)"]  # fmt: skip
    codes = [dict(data)["code"] for _action, _path, data in session.clicks[1:]]
    first = codes[0]
    assert codes[1] == "LOC00003" and codes[3] == "LOC00003" and codes[2] != first
    assert dict(session.clicks[1][2])["purpose"] == "storage"  # the form's other fields go with it
    assert session.recorder.counts == {"custody.moved": 2}


def test_custodian_clears_a_batch_left_over_before_scanning():
    leftover = SCAN_FORM + '<table><tr data-testid="batch-item"><td>BEN-0000009/01</td></tr></table>'
    session = FakeSession(lambda path, data: leftover if data is None else SCAN_FORM)
    account = {"items": [["BEN-0000001/01", "BEN-0000001"]], "shelves": ["LOC00002", "LOC00003"]}
    custodian = Custodian(session, account, {}, random.Random(3))
    custodian.rng.random = lambda: 0.9
    for _ in range(3):
        asyncio.run(custodian.act())
    assert [action for action, _path, _data in session.clicks] == [
        "custodian: scanning page",
        "custodian: clear batch",
        "custodian: scan item",
    ]
    assert session.clicks[1][2] == [("csrfmiddlewaretoken", "c"), ("action", "clear")]


def test_officer_pre_logs_in_three_clicks_with_the_form_filled_in():
    edit = (
        '<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="c">'
        '<input name="agency_case_number"><select name="offence_codes" multiple><option value="02072">DUI</option>'
        '</select><input name="incident_at"><select name="district"><option value="">-</option></select>'
        '<input name="town"><input name="items-0-seal_number"><input name="items-1-seal_number">'
        '<input type="hidden" name="items-TOTAL_FORMS" value="2"></form>'
    )
    new_form = '<form method="post"><select name="kit"><option value="">-</option></select></form>'
    edit_path = "/submissions/SUB-2026-00007/edit/"

    def answer(path, data):
        if path == "/submissions/new/":
            return new_form if data is None else (edit_path, edit)  # the draft's redirect ends at its edit page
        if path == edit_path:
            return ("/submissions/SUB-2026-00007/", "<p>was sent to the laboratory</p>")
        return None

    session = FakeSession(answer)
    shared = {"lab_numbers": {"BZ-POLICE": ["BEN-0000001"]}, "agency_case_numbers": {"BZ-POLICE": ["LOAD-1"]},
              "references": {"BZ-POLICE": ["SUB-2026-00001"]}, "kit": 2}  # fmt: skip
    account = {"username": "load.officer000", "agency": "BZ-POLICE", "district": "BZ"}
    officer = Officer(session, account, shared, random.Random(0))
    asyncio.run(officer.new_submission())
    asyncio.run(officer.act())  # the draft
    asyncio.run(officer.act())  # the submission
    (new, _, _), (draft, _, draft_data), (submit, submit_path, posted) = session.clicks
    assert (new, draft, submit) == ("officer: pre-log: new", "officer: pre-log: draft", "officer: pre-log: submit")
    assert ("kit", "2") in draft_data
    values = dict(posted)
    assert submit_path == "/submissions/SUB-2026-00007/edit/"
    assert values["action"] == "submit" and values["district"] == "BZ" and values["offence_codes"] == "02072"
    assert values["agency_case_number"] == "LOAD-officer000-1"
    assert values["items-0-seal_number"] == "LOAD-officer000-1-0" and values["items-TOTAL_FORMS"] == "2"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d", values["incident_at"])
    assert session.recorder.counts == {"submission.created": 1, "submission.submitted": 1}
    assert officer.references[-1] == "SUB-2026-00007"


def test_analyst_saves_results_with_new_values_each_time():
    exam = (
        '<form method="post"><input type="hidden" name="action" value="result"><input type="hidden" name="item" '
        'value="11"><input name="result-11-test"><input name="result-11-result"><input name="result-11-reason">'
        "</form>"
    )
    session = FakeSession(lambda path, data: exam)
    account = {"requests": [[5, 11, "BEN-0000001/01"]], "discipline": "serology"}
    analyst = Analyst(session, account, {}, random.Random(0))
    analyst.rng.random = lambda: 0.9  # open the examination first …
    asyncio.run(analyst.act())
    analyst.rng.random = lambda: 0.1  # … then save, twice
    asyncio.run(analyst.act())
    asyncio.run(analyst.act())
    (_, opened, _), (_, saved, first), (_, _, second) = session.clicks
    assert opened == saved == "/requests/5/examination/"
    assert dict(first)["result-11-test"] and dict(first) != dict(second)
    assert session.recorder.counts == {"result.saved": 2}


# --- the runners, with people that need no server -----------------------------------------------------------


class Stub:
    def __init__(self, recorder: Recorder, fails_sign_in: bool = False):
        self.recorder = recorder
        self.fails = fails_sign_in
        self.signed_in = False
        self.acts = 0

    async def sign_in(self, pause) -> bool:
        self.signed_in = not self.fails
        return self.signed_in

    async def act(self) -> None:
        self.acts += 1
        self.recorder.clicks.append(click("stub", 1.0, phase=self.recorder.phase))
        await asyncio.sleep(0.001)


def test_sign_in_then_paced_run_labels_phases():
    recorder = Recorder()
    people = [Stub(recorder), Stub(recorder, fails_sign_in=True), Stub(recorder)]
    asyncio.run(sign_in_all(people, recorder, concurrency=2))
    assert [person.signed_in for person in people] == [True, False, True]
    signed = [person for person in people if person.signed_in]
    windows = []
    window_s = asyncio.run(
        run_paced(signed, recorder, ramp_s=0.02, window_s=0.1, pause_s=(0.0, 0.005), seed=1, on_window=windows.append)
    )
    assert window_s > 0 and windows == [True, False]
    assert people[1].acts == 0
    assert {c.phase for c in recorder.clicks} <= {"ramp", "window", "after"}
    assert recorder.phase == "after"


def test_unpaced_run_labels_its_clicks():
    recorder = Recorder()
    people = [Stub(recorder), Stub(recorder)]
    seconds = asyncio.run(run_unpaced(people, recorder, label="×2", warm_s=0.01, measure_s=0.05))
    assert seconds > 0
    assert {c.phase for c in recorder.clicks} <= {"warm ×2", "×2", "after"}


# --- one real exchange over HTTP on loopback -----------------------------------------------------------------


async def _exchange() -> Recorder:
    async def login(request):
        response = web.HTTPFound("/home/")
        response.set_cookie("sessionid", "s1", secure=True, httponly=True)  # as the production profile sets it
        raise response

    async def home(request):
        who = request.cookies.get("sessionid", "nobody")
        return web.Response(text=f"<title>Home</title><p>signed in as {who}</p>", content_type="text/html")

    async def broken(request):
        return web.Response(
            status=500, text='<div class="alert alert-danger">It broke.</div>', content_type="text/html"
        )

    async def expired(request):
        raise web.HTTPFound("/accounts/login/")

    app = web.Application()
    app.router.add_post("/login/", login)
    app.router.add_get("/home/", home)
    app.router.add_get("/broken/", broken)
    app.router.add_get("/expired/", expired)
    app.router.add_get("/accounts/login/", home)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    recorder = Recorder("window")
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0)
    session = Session.open(connector, f"http://127.0.0.1:{port}", recorder)
    try:
        page = await session.click(
            "sign in", "/login/", data=[("username", "a")], ends="/home/", says="signed in as s1", counts="signed in"
        )
        assert page is not None and page.path == "/home/"
        assert await session.click("home", "/home/", says="signed in as s1") is not None
        assert await session.click("broken", "/broken/", counts="broken") is None  # answered: nothing written
        assert await session.click("expired", "/expired/") is None
    finally:
        await session.close()
        await connector.close()
        await runner.cleanup()
    return recorder


def test_a_click_follows_redirects_keeps_secure_cookies_and_records_failures():
    recorder = asyncio.run(_exchange())
    assert [(c.action, c.ok, c.requests) for c in recorder.clicks] == [
        ("sign in", True, 2),
        ("home", True, 1),
        ("broken", False, 1),
        ("expired", False, 2),
    ]
    broken, expired = recorder.failures
    assert (broken.status, broken.problem, broken.method) == (500, "answered 500: It broke.", "GET")
    assert broken.url.endswith("/broken/")
    assert expired.problem.startswith("ended at /accounts/login/ (302→200)")
    assert recorder.counts == {"signed in": 1}
