"""Webhooks against a real HTTP server on 127.0.0.1: signed deliveries, retries with backoff, giving up,
revocation, and two workers never sending one delivery twice.

The tasks run as the application runs them: ``publish`` queues ``deliver_due_webhooks_task`` on commit, and the
tests' ImmediateBackend runs it at once, inside ``django_capture_on_commit_callbacks(execute=True)``. Retries are
driven by calling ``deliver_due_webhooks`` with the clock (``django.utils.timezone.now``) moved forward.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.utils import timezone

from forensis.api import tokens, webhooks
from forensis.api.models import Change, DeliveryStatus, Resource, Topic, WebhookDelivery
from forensis.lab import services as lab_services
from tests.api import test_feed
from tests.api.test_feed import more_work, pull

# The feed tests' fixtures: agency A's toxicology section and report files.
lab = test_feed.lab
report_files = test_feed.report_files

REAL_NOW = timezone.now


class Receiver:
    """A partner's webhook endpoint: records every POST and answers with the status it is told to."""

    def __init__(self):
        self.calls: list[dict] = []
        self.answers: list[int] = []  # statuses to answer next, in order; then ``status``
        self.status = 200
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.calls.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    status = receiver.answers.pop(0) if receiver.answers else receiver.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/forensis-hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def entries(self) -> list[dict]:
        return [json.loads(call["body"]) for call in self.calls]

    def deliveries(self) -> Counter:
        return Counter(call["headers"]["X-Forensis-Delivery"] for call in self.calls)


@pytest.fixture
def receiver():
    """A fresh endpoint per use (``receiver()``), shut down after the test."""
    started: list[Receiver] = []

    def start() -> Receiver:
        endpoint = Receiver()
        endpoint.thread.start()
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in started:
        endpoint.server.shutdown()
        endpoint.server.server_close()


@pytest.fixture
def clock(monkeypatch):
    """``timezone.now`` under the test's control: ``clock.freeze()`` stops it, ``clock.advance(s)`` moves it."""

    class Clock:
        now = None

        def freeze(self):
            self.now = REAL_NOW()

        def advance(self, seconds: float):
            if self.now is None:
                self.freeze()
            self.now += timedelta(seconds=seconds)

        def to(self, moment):
            self.now = moment

    controlled = Clock()
    monkeypatch.setattr(timezone, "now", lambda: controlled.now or REAL_NOW())
    return controlled


def assert_signed(call: dict, secret: str) -> None:
    """The receiver's check: ``t=<unix>,v1=HMAC-SHA256(secret, "<t>." + body)``, with a recent ``t``."""
    parts = dict(part.split("=", 1) for part in call["headers"]["X-Forensis-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + call["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected), "the signature does not match the body"
    assert abs(int(parts["t"]) - time.time()) < 300, "stale timestamp"


def one_entry(lab) -> None:
    """One feed entry of agency A's case: its request assigned."""
    lab_services.assign(lab.manager, lab.request, lab.analyst)


def test_each_feed_entry_is_posted_signed_with_its_cursor(
    lab, officer, police, issue_token, api_client, receiver, django_capture_on_commit_callbacks
):
    endpoint = receiver()
    issued = issue_token(police, resources=[Resource.FEED], webhook_url=endpoint.url)
    assert issued.webhook_secret and len(issued.webhook_secret) == 64
    cursor = Change.objects.order_by("pk").last().pk
    with django_capture_on_commit_callbacks(execute=True):
        more_work(lab, officer)
    feed = pull(api_client(issued.key), after=cursor, limit=500)
    assert len(feed["changes"]) == 11
    assert endpoint.entries() == feed["changes"]  # each entry once, in order, exactly as the feed gives it
    for call, entry in zip(endpoint.calls, feed["changes"], strict=True):
        assert_signed(call, issued.webhook_secret)
        assert call["headers"]["X-Forensis-Cursor"] == entry["cursor"]
        assert call["headers"]["X-Forensis-Topic"] == entry["topic"]
        assert call["headers"]["Content-Type"] == "application/json"
        assert call["path"] == "/forensis-hook"
    deliveries = WebhookDelivery.objects.filter(subscription__token=issued.token)
    assert set(deliveries.values_list("status", "attempts", "last_status_code")) == {(DeliveryStatus.DELIVERED, 1, 200)}
    assert endpoint.deliveries() == Counter({str(pk): 1 for pk in deliveries.values_list("pk", flat=True)})
    # A forged or altered body does not pass the check.
    forged = {**endpoint.calls[0], "body": endpoint.calls[0]["body"].replace(b"case.received", b"item.returned")}
    with pytest.raises(AssertionError, match="does not match"):
        assert_signed(forged, issued.webhook_secret)


def test_webhooks_get_only_what_their_token_may_follow(
    lab, officer, police, other_police, issue_token, receiver, django_capture_on_commit_callbacks
):
    other, no_feed, reports_only = receiver(), receiver(), receiver()
    issue_token(other_police, webhook_url=other.url)
    issue_token(police, resources=[Resource.CASES, Resource.REPORTS], webhook_url=no_feed.url)
    issued = issue_token(police, webhook_url=reports_only.url, webhook_topics=[Topic.REPORT_RELEASED])
    with django_capture_on_commit_callbacks(execute=True):
        more_work(lab, officer)
    assert other.calls == [] and no_feed.calls == []
    assert [entry["topic"] for entry in reports_only.entries()] == [Topic.REPORT_RELEASED]
    assert_signed(reports_only.calls[0], issued.webhook_secret)
    assert WebhookDelivery.objects.count() == 1


def test_a_failed_delivery_is_retried_after_a_minute(
    lab, police, issue_token, receiver, clock, django_capture_on_commit_callbacks
):
    endpoint = receiver()
    endpoint.answers = [500]
    issued = issue_token(police, webhook_url=endpoint.url)
    with django_capture_on_commit_callbacks(execute=True):
        one_entry(lab)
    delivery = WebhookDelivery.objects.get()
    now = REAL_NOW()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 1, 500)
    assert delivery.last_error == "HTTP 500" and delivery.delivered_at is None
    assert abs((delivery.next_attempt_at - (now + timedelta(seconds=60))).total_seconds()) < 5
    assert webhooks.next_retry_at() == delivery.next_attempt_at
    assert webhooks.deliver_due_webhooks() == 0 and len(endpoint.calls) == 1  # not due yet

    clock.to(delivery.next_attempt_at + timedelta(seconds=1))
    assert webhooks.deliver_due_webhooks() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 2, 200)
    assert delivery.delivered_at == clock.now and delivery.last_error == ""
    first, second = endpoint.calls
    assert first["body"] == second["body"]
    assert first["headers"]["X-Forensis-Delivery"] == second["headers"]["X-Forensis-Delivery"] == str(delivery.pk)
    assert_signed(second, issued.webhook_secret)
    assert webhooks.deliver_due_webhooks() == 0 and len(endpoint.calls) == 2
    assert webhooks.next_retry_at() is None


def test_the_task_queues_itself_for_the_next_retry(lab, police, issue_token, receiver, settings):
    """With a task backend that can defer (the database worker's), a failed delivery wakes a worker again on time."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    endpoint = receiver()
    endpoint.status = 502
    issue_token(police, webhook_url=endpoint.url)
    one_entry(lab)
    assert webhooks.deliver_due_webhooks_task.call() == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, len(endpoint.calls)) == (DeliveryStatus.PENDING, 1, 1)
    queued = webhooks.deliver_due_webhooks_task.get_backend().results
    assert [result.task.run_after for result in queued] == [delivery.next_attempt_at]


def test_an_unreachable_address_is_a_failed_attempt(lab, police, issue_token, django_capture_on_commit_callbacks):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    issue_token(police, webhook_url=f"http://127.0.0.1:{port}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        one_entry(lab)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 1, None)
    assert delivery.last_error


def test_after_the_last_backoff_step_the_delivery_is_given_up(
    lab, police, issue_token, api_client, receiver, clock, django_capture_on_commit_callbacks
):
    endpoint = receiver()
    endpoint.status = 503
    issued = issue_token(police, webhook_url=endpoint.url)
    clock.freeze()
    with django_capture_on_commit_callbacks(execute=True):
        one_entry(lab)
    delivery = WebhookDelivery.objects.get()
    waits = []
    while delivery.status == DeliveryStatus.PENDING:
        assert len(waits) <= len(webhooks.BACKOFF_S), "never given up"
        waits.append((delivery.next_attempt_at - clock.now).total_seconds())
        clock.to(delivery.next_attempt_at)
        assert webhooks.deliver_due_webhooks() == 1
        delivery.refresh_from_db()
    assert waits == list(webhooks.BACKOFF_S)  # 1 min, 5 min, 30 min, 2 h, 12 h
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.FAILED, 6, 503)
    assert len(endpoint.calls) == 6 and delivery.delivered_at is None
    clock.advance(86400)
    assert webhooks.deliver_due_webhooks() == 0 and len(endpoint.calls) == 6
    assert webhooks.next_retry_at() is None
    # The feed still has the entry.
    entries = pull(api_client(issued.key))["changes"]
    assert str(delivery.change_id) in [entry["cursor"] for entry in entries]


@pytest.mark.parametrize("ended", ["revoked", "expired"])
def test_a_revoked_or_expired_tokens_webhook_receives_nothing_more(
    lab, officer, police, issue_token, admin_user, receiver, clock, django_capture_on_commit_callbacks, ended
):
    endpoint = receiver()
    endpoint.answers = [500]  # the first attempt fails, so a retry is pending when the token ends
    issued = issue_token(police, webhook_url=endpoint.url, expires_at=timezone.now() + timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        one_entry(lab)
    pending = WebhookDelivery.objects.get()
    assert pending.status == DeliveryStatus.PENDING and len(endpoint.calls) == 1
    if ended == "revoked":
        tokens.revoke_token(admin_user, issued.token, reason="Contract ended")
    else:
        clock.to(issued.token.expires_at + timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        more_work(lab, officer)
    clock.to(max(pending.next_attempt_at, issued.token.expires_at) + timedelta(days=1))
    webhooks.deliver_due_webhooks()
    assert len(endpoint.calls) == 1, [entry["topic"] for entry in endpoint.entries()[1:]]
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [pending.pk]  # nothing new queued
    pending.refresh_from_db()
    assert pending.status != DeliveryStatus.DELIVERED
    assert webhooks.next_retry_at() is None  # nothing left to wake a worker for


def test_a_second_worker_never_sends_what_the_first_has_claimed(lab, police, issue_token, receiver, monkeypatch):
    """Two workers at once, made deterministic: while the first is sending, a second runs to completion."""
    endpoint = receiver()
    issue_token(police, webhook_url=endpoint.url)
    # No on-commit callbacks run here: the three deliveries wait, due, for the workers.
    one_entry(lab)
    lab_services.cancel(lab.manager, lab.request, "Withdrawn by the agency")
    lab_services.create_service_request(
        lab.manager, lab.request.case, lab.toxicology, [lab.item], requested_at=timezone.now()
    )
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).count() == 3
    send, second = webhooks._send, []

    def send_while_another_worker_runs(delivery):
        if not second:  # the first send only (the second worker's own sends do not start a third)
            second.append(None)
            second[0] = webhooks.deliver_due_webhooks()
        return send(delivery)

    monkeypatch.setattr(webhooks, "_send", send_while_another_worker_runs)
    first = webhooks.deliver_due_webhooks()
    assert first + second[0] == 3 and second[0] == 2
    assert sorted(endpoint.deliveries().values()) == [1, 1, 1]
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {(DeliveryStatus.DELIVERED, 1)}


WORKERS, DELIVERIES = 8, 30


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's concurrent connections")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_workers_send_each_delivery_once(committed_ledgers, lab, police, issue_token, receiver, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # queued, not run
    endpoint = receiver()
    endpoint.delay = 0.01
    issue_token(police, webhook_url=endpoint.url)
    now = timezone.now()
    for _ in range(DELIVERIES):  # the tasks these queue are not run: the due deliveries wait for the workers
        lab_services.create_service_request(lab.manager, lab.request.case, lab.toxicology, [lab.item], requested_at=now)
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).count() == DELIVERIES
    barrier = threading.Barrier(WORKERS)
    attempted: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(timeout=60)
            attempted.append(webhooks.deliver_due_webhooks())
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads) and not errors, errors
    assert sum(attempted) == DELIVERIES
    assert len(endpoint.calls) == DELIVERIES and set(endpoint.deliveries().values()) == {1}
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {(DeliveryStatus.DELIVERED, 1)}
