"""The change feed as a partner follows it: pull, let the laboratory work, pull ``after`` the cursor, and get
exactly what happened in between, in order, once.

The entries come from the service functions themselves (a submission received, a request moved on, a report
released, items returned), never from test code writing ``Change`` rows. The last test runs on PostgreSQL only:
writers in many threads publish while a reader follows the feed, which proves the commit-order numbering.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from forensis.accounts.models import AgencyType
from forensis.api import feed
from forensis.api.models import Change, Resource, Topic
from forensis.evidence import disposition
from forensis.lab import services as lab_services
from forensis.reports import services as report_services
from forensis.reports.models import ContactRole, Report
from tests.evidence.conftest import receive_case
from tests.lab import test_review_services as review_tests

FEED = "/api/v1/feed/"
DRUGS = (("seized_drugs", "Plastic bag, white powder", False), ("seized_drugs", "Ten small packets", False))

REQUEST = Topic.REQUEST_STATUS


@pytest.fixture(autouse=True)
def report_files(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def lab(make_user, officer) -> review_tests.Lab:
    """A toxicology section with one received case of police agency A (its request waiting for assignment)."""
    return review_tests.Lab(make_user, officer)


@pytest.fixture
def prosecutors(make_agency):
    return make_agency(AgencyType.PROSECUTOR, code="ODPP", name="Public Prosecutions")


def pull(client, **query) -> dict:
    response = client.get(FEED, query)
    assert response.status_code == 200, response.content
    return response.json()


def pull_all(client, after: str | None = None, **query) -> tuple[list[dict], str | None]:
    """Every entry after ``after``, page by page; the entries and the cursor to keep."""
    entries: list[dict] = []
    while True:
        page = pull(client, **({"after": after} if after else {}), **query)
        entries += page["changes"]
        after = page["next_cursor"]
        if not page["has_more"]:
            return entries, after


def more_work(lab: review_tests.Lab, officer) -> list[tuple[str, str]]:
    """The laboratory's next steps through the services; the (topic, case) entries they should publish."""
    drugs = receive_case(officer, lab.custodian, offences=("06012",), items=DRUGS, agency_case_number="BZ-DR-1")
    drug_case = drugs[0].case.lab_number
    tox_case = lab.request.case.lab_number
    lab.administratively_reviewed()
    lab_services.release(lab.manager, lab.request, reauthenticated=True)
    disposition.return_to_agency(lab.custodian, drugs, officer, note="Case closed by the court")
    return [
        (Topic.CASE_RECEIVED, drug_case),
        (REQUEST, drug_case),  # requested
        *[(REQUEST, tox_case)] * 5,  # assigned, in progress, draft complete, technically, administratively reviewed
        (REQUEST, tox_case),  # released
        (Topic.REPORT_RELEASED, tox_case),
        (Topic.ITEM_RETURNED, drug_case),
        (Topic.ITEM_RETURNED, drug_case),
    ]


def test_a_partner_gets_exactly_the_new_entries_in_order_once(lab, officer, police, issue_token, api_client):
    client = api_client(issue_token(police, resources=[Resource.FEED]).key)
    first = pull(client)
    assert [(e["topic"], e["case"]) for e in first["changes"]] == [
        (Topic.CASE_RECEIVED, lab.request.case.lab_number),
        (REQUEST, lab.request.case.lab_number),
    ]
    assert first["has_more"] is False and first["next_cursor"] == first["changes"][-1]["cursor"]
    cursor = first["next_cursor"]

    expected = more_work(lab, officer)

    second = pull(client, after=cursor)
    entries = second["changes"]
    assert [(e["topic"], e["case"]) for e in entries] == expected
    statuses = [e["data"]["status"] for e in entries if e["topic"] == REQUEST]
    assert statuses == ["requested", "assigned", "in_progress", "draft_complete"] + [
        "technical_review",
        "administrative_review",
        "released",
    ]
    released = next(e for e in entries if e["topic"] == Topic.REPORT_RELEASED)
    report = Report.objects.get(request=lab.request)
    assert released["data"]["report"] == report.number and released["data"]["version"] == 1
    assert released["data"]["sha256"] == report.current_version.sha256
    assert [e["data"]["item"] for e in entries if e["topic"] == Topic.ITEM_RETURNED] == [
        f"{entries[0]['case']}/01",
        f"{entries[0]['case']}/02",
    ]
    # No gap, no duplicate: the two pulls together are the feed, in cursor order, and the database agrees.
    cursors = [int(e["cursor"]) for e in first["changes"] + entries]
    assert cursors == sorted(set(cursors))
    assert cursors == list(Change.objects.filter(agency=police).order_by("pk").values_list("pk", flat=True))
    assert second["next_cursor"] == entries[-1]["cursor"] and second["has_more"] is False
    # Pulling again with the same cursor gives nothing new, and keeps the cursor.
    again = pull(client, after=second["next_cursor"])
    assert again == {"changes": [], "next_cursor": second["next_cursor"], "has_more": False}
    # Reading is repeatable: the same cursor gives the same entries.
    assert pull(client, after=cursor) == second


def test_limit_pages_through_a_long_feed(lab, officer, police, issue_token, api_client):
    more_work(lab, officer)
    client = api_client(issue_token(police, resources=[Resource.FEED]).key)
    whole = pull(client, limit=500)["changes"]
    assert len(whole) == 13
    for limit in (1, 3, 4, 13):
        pages, after = [], None
        while True:
            page = pull(client, limit=limit, **({"after": after} if after else {}))
            assert len(page["changes"]) <= limit
            pages.append(page)
            after = page["next_cursor"]
            if not page["has_more"]:
                break
        assert [e for page in pages for e in page["changes"]] == whole, limit
        assert all(len(page["changes"]) == limit for page in pages[:-1])
        assert len(pages) == -(-len(whole) // limit), limit  # the last page says has_more=False, not one after it
        assert pull(client, limit=limit, after=after) == {"changes": [], "next_cursor": after, "has_more": False}


def test_topic_filter(lab, officer, police, issue_token, api_client):
    more_work(lab, officer)
    client = api_client(issue_token(police, resources=[Resource.FEED]).key)
    whole = pull(client, limit=500)["changes"]
    for topic in Topic.values:
        entries, cursor = pull_all(client, topic=topic, limit=2)
        assert entries == [e for e in whole if e["topic"] == topic], topic
        assert entries, topic
        assert cursor == entries[-1]["cursor"]
    returned = pull(client, topic=Topic.ITEM_RETURNED, after=whole[0]["cursor"], limit=1)
    assert [e["topic"] for e in returned["changes"]] == [Topic.ITEM_RETURNED] and returned["has_more"] is True


@pytest.mark.parametrize(
    "query, field",
    [
        ({"after": "abc"}, "after"),
        ({"after": "-1"}, "after"),
        ({"after": "1.5"}, "after"),
        ({"after": ""}, "after"),
        ({"after": "9" * 19}, "after"),
        ({"after": "MTA="}, "after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": ""}, "limit"),
        ({"topic": "case.deleted"}, "topic"),
    ],
)
def test_bad_arguments_are_a_400_validation_error(police, issue_token, api_client, query, field):
    client = api_client(issue_token(police, resources=[Resource.FEED]).key)
    response = client.get(FEED, query)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "validation_error" and list(error["fields"]) == [field], error
    assert error["message"]


def test_another_agency_sees_none_of_these_entries(lab, officer, other_officer, other_police, issue_token, api_client):
    custodian = lab.custodian
    client = api_client(issue_token(other_police, resources=[Resource.FEED]).key)
    assert pull(client) == {"changes": [], "next_cursor": None, "has_more": False}
    more_work(lab, officer)
    assert pull(client)["changes"] == []
    for topic in Topic.values:
        assert pull(client, topic=topic)["changes"] == []
    # Its own case is in its feed, and only that.
    own = receive_case(other_officer, custodian, agency_case_number="CY-CR-9")[0].case
    entries = pull(client)["changes"]
    assert {(e["case"], e["agency"]) for e in entries} == {(own.lab_number, other_police.code)}
    assert [e["topic"] for e in entries] == [Topic.CASE_RECEIVED, REQUEST]


def test_a_prosecutor_contact_sees_the_report_released(lab, officer, prosecutors, issue_token, api_client):
    client = api_client(issue_token(prosecutors, resources=[Resource.FEED, Resource.REPORTS]).key)
    tox_case = lab.request.case
    report_services.add_case_contact(
        officer, tox_case, role=ContactRole.PROSECUTOR, agency=prosecutors, name="Paula Reyes", email="p@odpp.bz"
    )
    more_work(lab, officer)
    entries = pull(client)["changes"]
    assert entries and {e["case"] for e in entries} == {tox_case.lab_number}  # not the drugs case
    released = [e for e in entries if e["topic"] == Topic.REPORT_RELEASED]
    assert len(released) == 1
    report = client.get(f"/api/v1/reports/{released[0]['data']['report']}/")
    assert report.status_code == 200 and report.json()["case"] == tox_case.lab_number
    assert pull(client, topic=Topic.ITEM_RETURNED)["changes"] == []


# --- PostgreSQL: many writers, one reader -----------------------------------------------------------------

#: Threads moving requests through the lab services (each move audited, then published) and how many each moves.
MOVERS, REQUESTS_EACH = 4, 4
#: Threads calling ``feed.publish`` alone (no audit event first, whose lock would order their entries anyway).
PUBLISHERS, PUBLISHES_EACH = 8, 20
READERS = 2
TIMEOUT_S = 120


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's concurrent connections")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_readers_following_concurrent_writers_get_every_entry_once(
    committed_ledgers, lab, officer, police, issue_token, api_client
):
    """Writers in many threads publish, each holding its transaction open a moment after its entry is numbered,
    while readers pull with their cursors: each reader ends with every entry, once, in cursor order. Without
    the numbering under the lock a reader soon sees a larger number commit before a smaller one, and skips it."""
    now = timezone.now()
    requests = [
        lab_services.create_service_request(lab.manager, lab.request.case, lab.toxicology, [lab.item], requested_at=now)
        for _ in range(MOVERS * REQUESTS_EACH)
    ]
    # The entries published alone name another case of the agency: the services lock a moved request's case row
    # (FOR UPDATE) before the chain lock, so publishing on that very case could deadlock with them.
    other_case = review_tests.receive_toxicology_case(officer, lab.custodian, "CY-TR-2026-0300").case
    client = api_client(issue_token(police, resources=[Resource.FEED]).key)
    cursor = pull(client, limit=500)["next_cursor"]
    barrier = threading.Barrier(MOVERS + PUBLISHERS + READERS)
    writers_done = threading.Event()
    errors: list[BaseException] = []
    seen: list[list[dict]] = [[] for _ in range(READERS)]

    def pause(longest: float) -> None:
        time.sleep(random.uniform(0, longest))

    def move(mine: list) -> None:
        for request in mine:
            for step in (
                lambda r: lab_services.assign(lab.manager, r, lab.analyst),
                lambda r: lab_services.cancel(lab.manager, r, "Withdrawn by the agency"),
            ):
                with transaction.atomic():
                    request = step(request)
                    pause(0.004)  # commit a moment after the entry is numbered

    def publish_only(n: int) -> None:
        for m in range(PUBLISHES_EACH):
            pause(0.02)
            with transaction.atomic():
                feed.publish(Topic.CASE_RECEIVED, other_case, writer=n, number=m)
                pause(0.02)

    def run(work, *args) -> None:
        try:
            barrier.wait(timeout=TIMEOUT_S)
            work(*args)
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    def read(mine: list[dict]) -> None:
        after = cursor
        while True:
            finished = writers_done.is_set()  # read before pulling: a pull after the last commit ends it
            page = pull(client, after=after, limit=7)
            mine.extend(page["changes"])
            after = page["next_cursor"]
            if finished and not page["has_more"]:
                return

    writers = [threading.Thread(target=run, args=(move, requests[n::MOVERS])) for n in range(MOVERS)]
    writers += [threading.Thread(target=run, args=(publish_only, n)) for n in range(PUBLISHERS)]
    readers = [threading.Thread(target=run, args=(read, mine)) for mine in seen]
    for thread in [*writers, *readers]:
        thread.start()
    for thread in writers:
        thread.join(timeout=TIMEOUT_S)
    writers_done.set()
    for thread in readers:
        thread.join(timeout=TIMEOUT_S)
    assert not any(thread.is_alive() for thread in [*writers, *readers]), "a thread is still running (deadlock?)"
    assert not errors, errors

    published = list(
        Change.objects.filter(agency=police, pk__gt=int(cursor)).order_by("pk").values_list("pk", flat=True)
    )
    assert len(published) == MOVERS * REQUESTS_EACH * 2 + PUBLISHERS * PUBLISHES_EACH
    for mine in seen:
        # Every entry, once, in order: none skipped because a larger number committed first.
        assert [int(entry["cursor"]) for entry in mine] == published
        moves = [(e["data"]["request"], e["data"]["status"]) for e in mine if e["topic"] == REQUEST]
        for request in requests:
            assert [status for pk, status in moves if pk == request.pk] == ["assigned", "cancelled"]
        alone = [(e["data"]["writer"], e["data"]["number"]) for e in mine if e["topic"] == Topic.CASE_RECEIVED]
        for n in range(PUBLISHERS):
            assert [number for writer, number in alone if writer == n] == list(range(PUBLISHES_EACH))
