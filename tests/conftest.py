"""Shared fixtures: agencies and users made through the same services the application uses."""

from __future__ import annotations

import itertools

import pytest
from django.test import Client

from forensis.accounts import services
from forensis.accounts.models import AgencyType
from forensis.accounts.roles import Role
from tests import audit_watch

PASSWORD = "Correct-horse-battery-9"
ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings, request):
    """Argon2 is slow on purpose; tests hash with MD5 unless marked ``argon2`` (the setting is tested once)."""
    if "argon2" not in request.keywords:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", ARGON2]


@pytest.fixture(autouse=True)
def tasks_run_at_once(settings):
    """Background tasks run in the test's own process as soon as they are queued (no worker to wait for)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(scope="session", autouse=True)
def laboratory_signing_key():
    """Reports are signed at release: a demo key pair at the configured paths (made once, kept in var/test)."""
    from django.conf import settings

    from forensis.reports.signing import generate_self_signed, reset_signer_cache

    if not (settings.FORENSIS_SIGNING_KEY.exists() and settings.FORENSIS_SIGNING_CERT.exists()):
        generate_self_signed(
            settings.FORENSIS_SIGNING_KEY, settings.FORENSIS_SIGNING_CERT, common_name="Forensis test laboratory"
        )
    reset_signer_cache()


# --- the audit watch (tests/audit_watch.py) ---------------------------------------------------------------------


def pytest_collection_finish(session):
    session.config.stash[_WATCHED] = audit_watch.install()


def _whole_suite(config) -> bool:
    option = config.option
    return (
        config.args_source == pytest.Config.ArgsSource.TESTPATHS
        and not (option.keyword or option.markexpr or option.deselect or option.maxfail)
        and not getattr(option, "lf", False)  # absent with -p no:cacheprovider
    )


def pytest_sessionfinish(session, exitstatus):
    """A whole-suite run fails when a service wrote without an audit event, or no test called a service."""
    functions = session.config.stash.get(_WATCHED, {})
    problems = audit_watch.summary(functions) if _whole_suite(session.config) else list(audit_watch.observed.gaps)
    if problems:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.write_sep("=", "audit watch", red=True)
        for problem in problems:
            reporter.write_line(problem)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_WATCHED = pytest.StashKey[dict]()
_counter = itertools.count(1)


@pytest.fixture
def make_agency(db):
    def make(agency_type: str = AgencyType.POLICE, **fields):
        n = next(_counter)
        return services.create_agency(
            None, code=fields.pop("code", f"AG{n}"), name=fields.pop("name", f"Agency {n}"), type=agency_type, **fields
        )

    return make


@pytest.fixture
def laboratory(make_agency):
    return make_agency(AgencyType.LABORATORY, code="LAB", name="Forensic Laboratory")


@pytest.fixture
def police(make_agency):
    return make_agency(AgencyType.POLICE, code="POL-A", name="Police A", district="BZ")


@pytest.fixture
def other_police(make_agency):
    return make_agency(AgencyType.POLICE, code="POL-B", name="Police B", district="CY")


@pytest.fixture
def make_user(db, laboratory):
    def make(role: str, agency=None, **fields):
        n = next(_counter)
        return services.create_user(
            None,
            username=fields.pop("username", f"{role}{n}"),
            password=PASSWORD,
            agency=agency or laboratory,
            roles=[role],
            **fields,
        )

    return make


@pytest.fixture
def admin_user(make_user):
    return make_user(Role.ADMINISTRATOR, username="admin")


@pytest.fixture
def officer(make_user, police):
    return make_user(Role.AGENCY_OFFICER, agency=police, username="officer")


@pytest.fixture
def other_officer(make_user, other_police):
    return make_user(Role.AGENCY_OFFICER, agency=other_police, username="officer.b")


@pytest.fixture
def client_for(settings):
    """A separate browser (test client, ``options`` passed on) signed in as ``user``, MFA already verified."""
    settings.FORENSIS_DEFER_MFA_ENROLMENT = True

    def sign_in(user, **options) -> Client:
        client = Client(**options)
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return sign_in


@pytest.fixture
def statistician(make_user, make_agency):
    """A statistician of the crime observatory (outside the laboratory: aggregates only)."""
    observatory = make_agency(AgencyType.OBSERVATORY, code="OBS", name="Crime Observatory")
    return make_user(Role.STATISTICIAN, agency=observatory, username="statistician")


@pytest.fixture
def signed_in(client, settings):
    """A test client signed in as ``user`` with MFA already verified (the MFA flow has its own tests)."""

    def sign_in(user):
        settings.FORENSIS_DEFER_MFA_ENROLMENT = True
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return sign_in


# --- tests that commit (concurrency on PostgreSQL) --------------------------------------------------------------

RACE_TIMEOUT_S = 60


def _reinstall_ledger_triggers() -> None:
    from django.db import connection

    from forensis.core import append_only

    for table in append_only.LEDGER_TABLES:
        append_only.remove(connection, table)
        append_only.install(connection, table)


@pytest.fixture(scope="module")
def ledger_triggers_after_the_module(django_db_blocker):
    """Module teardown runs after the last test's flush: protect the ledgers again for the rest of the session."""
    yield
    with django_db_blocker.unblock():
        _reinstall_ledger_triggers()


@pytest.fixture
def committed_ledgers(transactional_db, ledger_triggers_after_the_module):
    """For a committing test: the append-only triggers on at the start, dropped before the flush at the end
    (pytest-django empties the tables with TRUNCATE, which they refuse)."""
    from django.db import connection

    from forensis.core import append_only

    _reinstall_ledger_triggers()
    yield
    for table in append_only.LEDGER_TABLES:
        append_only.remove(connection, table)


def race(attempts, timeout_s: float = RACE_TIMEOUT_S) -> tuple[list, list[BaseException]]:
    """Run the attempts in as many threads, released together by a barrier; each on its own connection."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(len(attempts))
    results: list = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(attempt) -> None:
        try:
            barrier.wait(timeout=timeout_s)
            outcome = attempt()
            with lock:
                results.append(outcome)
        except Exception as exc:  # collected and asserted on by the test
            with lock:
                errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(attempt,)) for attempt in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout_s)
    assert not any(thread.is_alive() for thread in threads), "a thread is still waiting (deadlock?)"
    return results, errors
