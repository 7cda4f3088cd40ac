"""Brute force against the sign-in: the lockout (django-axes, ``FORENSIS_LOCKOUT_FAILURES``, default 5) holds.

"Evaluated" means the password was actually compared with the stored hash: each test counts the calls of
``User.check_password``. After the limit no password is compared at all — the right one is refused like the others
— and every attempt, refused or not, is in the audit log. The concurrent tests fire the attempts from many threads
at once, each on its own connection, on PostgreSQL with real commits (``tests/conftest.py``: ``race``): a lockout
that only counts failures after they are written would let a burst of parallel guesses through.

A user name that does not exist is answered exactly like one that does, before and after the lockout.
"""

from __future__ import annotations

import re
import threading

import pytest
from django.db import connection
from django.test import Client

from forensis.accounts.models import User
from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from tests.conftest import PASSWORD, race

LOGIN = "/accounts/login/"


@pytest.fixture
def evaluations(monkeypatch) -> list[str]:
    """The user names whose password was compared, one entry per comparison (thread-safe)."""
    compared: list[str] = []
    lock = threading.Lock()
    original = User.check_password

    def counting(user, raw_password):
        with lock:
            compared.append(user.username)
        return original(user, raw_password)

    monkeypatch.setattr(User, "check_password", counting)
    return compared


@pytest.fixture
def person(make_user, police, settings):
    settings.FORENSIS_MFA_FOR_AGENCY_USERS = False
    return make_user(Role.AGENCY_OFFICER, agency=police, username="target")


def attempt(username: str, password: str, address: str = "10.0.0.1", client: Client | None = None):
    client = client or Client()
    return client.post(LOGIN, {"username": username, "password": password, "acknowledge": "on"}, REMOTE_ADDR=address)


def audited(action: str, username: str) -> int:
    return AuditEvent.objects.filter(action=action, actor_username=username).count()


def test_after_the_limit_no_password_is_compared_and_every_attempt_is_audited(db, person, evaluations, settings):
    limit = settings.AXES_FAILURE_LIMIT
    statuses = [attempt("target", f"wrong-{n}", f"10.0.1.{n}").status_code for n in range(limit + 3)]
    assert statuses == [200] * (limit - 1) + [429] * 4
    assert len(evaluations) == limit, f"{len(evaluations)} passwords compared, the limit is {limit}"
    right = attempt("target", PASSWORD, "10.0.2.1")
    assert right.status_code == 429 and "Sign-in locked" in right.content.decode()
    assert len(evaluations) == limit, "the right password was compared while the account was locked"
    assert audited("auth.login_failed", "target") == limit + 3 + 1, "an attempt is missing from the audit log"
    assert audited("auth.locked_out", "target") >= 4
    assert not audited("auth.login", "target")


def test_an_unknown_user_name_is_answered_like_a_known_one(db, person, evaluations, settings):
    """Same status, same message, same lockout: the sign-in never tells which user names exist."""
    limit = settings.AXES_FAILURE_LIMIT

    def answers(username, first_address):
        pages = [attempt(username, "wrong-password", f"{first_address}.{n}") for n in range(limit + 1)]
        return [page.status_code for page in pages], [normalised(page.content.decode(), username) for page in pages]

    known_statuses, known_pages = answers("target", "10.0.3")
    unknown_statuses, unknown_pages = answers("no.such.person", "10.0.4")
    assert known_statuses == unknown_statuses == [200] * (limit - 1) + [429, 429]
    assert known_pages == unknown_pages
    assert audited("auth.login_failed", "no.such.person") == limit + 1


def normalised(page: str, username: str) -> str:
    """A page without what differs between any two requests: the CSRF tokens and the user name typed."""
    page = re.sub(r"\b[A-Za-z0-9]{64}\b", "CSRF-TOKEN", page)
    return page.replace(f'value="{username}"', 'value=""')


def test_the_lockout_message_is_the_same_page_for_every_locked_name(db, person, settings):
    limit = settings.AXES_FAILURE_LIMIT
    for n in range(limit):
        attempt("target", "wrong", f"10.0.5.{n}")
        attempt("nobody.here", "wrong", f"10.0.6.{n}")
    known, unknown = attempt("target", PASSWORD, "10.0.5.99"), attempt("nobody.here", PASSWORD, "10.0.6.99")
    assert known.status_code == unknown.status_code == 429
    assert normalised(known.content.decode(), "target") == normalised(unknown.content.decode(), "nobody.here")


# --- in parallel, on PostgreSQL ---------------------------------------------------------------------------------

THREADS = 16


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's concurrent connections")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("committed_ledgers")
@pytest.mark.parametrize("spread", ["one account from many addresses", "many accounts from one address"])
def test_parallel_guesses_never_exceed_the_limit(make_user, police, settings, evaluations, spread):
    settings.FORENSIS_MFA_FOR_AGENCY_USERS = False
    limit = settings.AXES_FAILURE_LIMIT
    if spread == "one account from many addresses":
        make_user(Role.AGENCY_OFFICER, agency=police, username="target")
        guesses = [("target", f"10.1.0.{n}") for n in range(THREADS)]
        right = ("target", "10.1.1.1")
    else:
        for n in range(THREADS):
            make_user(Role.AGENCY_OFFICER, agency=police, username=f"user{n}")
        guesses = [(f"user{n}", "10.2.0.1") for n in range(THREADS)]
        right = ("user0", "10.2.0.1")

    results, errors = race([lambda u=u, a=a: attempt(u, "wrong-guess", a).status_code for u, a in guesses])
    assert not errors, errors
    assert sorted(set(results)) <= [200, 429], results
    assert len(evaluations) <= limit, (
        f"{len(evaluations)} of {THREADS} parallel guesses had their password compared; the limit is {limit}"
    )
    assert attempt(right[0], PASSWORD, right[1]).status_code == 429, "the right password got in after the burst"
    failed = AuditEvent.objects.filter(action="auth.login_failed").count()
    assert failed == THREADS + 1, f"{failed} failures audited for {THREADS + 1} attempts"
