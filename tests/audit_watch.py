"""The audit watch: no service function may change data without writing an audit event.

ARCHITECTURE.md: every change of domain state goes through one service function, and that is where the
audit record lives. This module checks it on every service call the whole suite makes, instead of on a
hand-kept list that a new function could slip past:

- **Which functions.** Every public function defined in a *service module*: a ``forensis`` module named
  ``services`` or one that imports ``forensis.audit.services.record`` to record changes (views and
  management commands record reads and call services; they are not service modules). :func:`service_functions`
  finds them.
- **How.** :func:`install` replaces each of them, in every loaded module that holds it, with a wrapper
  that watches the SQL the call sends (a ``connection.execute_wrapper``). An outermost service call (one
  not made by another service function) that returns normally after writing (``INSERT``, ``UPDATE``,
  ``DELETE``) to any table but the audit log's, without inserting an audit event while it ran, raises
  :class:`AuditGap` in the test that made it, naming the function and the tables. A service called by
  another (``add_offences`` inside ``open_case``) is covered by its caller's event; called on its own, it
  must write its own.
- **All of them.** The suite's run (``tests/conftest.py``, ``pytest_sessionfinish``) fails when a whole-suite
  run never called one of the functions, or never saw one of them write with its audit event: a service
  no test exercises is a service whose audit nobody checked.

Writes that are not changes of domain state are listed in :data:`NOT_AUDITED`, each with its reason.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import wraps

AUDIT_TABLE = "audit_auditevent"
_WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)

#: Functions allowed to write without an audit event of their own, and why. Each is a building block or a
#: counter; the watch still checks every audited service that calls it.
NOT_AUDITED: dict[str, str] = {
    "forensis.cases.services.add_offences": (
        "a building block of open_case, receive_submission and log_death, whose events name the offences; "
        "test fixtures call it directly to build cases"
    ),
    "forensis.evidence.services.append_custody_event": (
        "the custody ledger's own append (a hash-chained, append-only record in itself); every service that "
        "calls it (hand_over, move_items, disposition, outsourcing, reception, body custody) records its event"
    ),
    "forensis.legacy.services.save_rejections": (
        "the rows of an import's rejection report, written inside a batch whose start and finish (with the "
        "rejection count) are audited"
    ),
    "forensis.legacy.services.record_progress": (
        "the progress counters of a running import (its progress bar); the batch's start and finish are audited"
    ),
    "forensis.legacy.services.save_fingerprints": (
        "the import's record of which source rows it has seen (to skip them on a repeat), inside an audited batch"
    ),
    "forensis.api.tokens.count_call": (
        "the rate-limit counter of a partner token; the call it counts is audited as api.called"
    ),
}

#: Not services but helpers that run the service they are given; that service is watched on its own.
PASS_THROUGH = frozenset({"forensis.core.services.call_with_form_errors"})

#: Public functions of service modules that are not called as services, and why the watch leaves them out.
NOT_SERVICES = {
    "forensis.accounts.signals": "signal receivers: Django's dispatcher holds them; tests/accounts checks their events",
    "forensis.api.base.idempotent": "a decorator of API views (the service the view calls is watched)",
    "forensis.core.backup": (
        "forensis backup / restore run in their own processes in tests/core/test_backup.py, which checks the "
        "backup.created and backup.restored events"
    ),
}

#: Tables whose rows are not domain state: writing them needs no audit event.
BOOKKEEPING_TABLES = frozenset({"django_session"})


class AuditGap(AssertionError):
    """A service function changed data and wrote no audit event."""


@dataclass
class _Call:
    name: str
    tables: set[str] = field(default_factory=set)
    audited: bool = False


@dataclass
class Observations:
    calls: Counter = field(default_factory=Counter)
    audited_writes: Counter = field(default_factory=Counter)
    gaps: list[str] = field(default_factory=list)


observed = Observations()
_active = threading.local()


def _is_service_module(module) -> bool:
    from forensis.audit import services as audit_services

    name = module.__name__
    if name == audit_services.__name__ or ".migrations." in name or ".management." in name:
        return False
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "services":
        return True
    return vars(module).get("record") is audit_services.record and "views" not in leaf


def service_modules() -> list:
    import forensis

    modules = []
    for info in pkgutil.walk_packages(forensis.__path__, "forensis."):
        if ".migrations" in info.name or info.name.endswith(("wsgi", "__main__", "cli")):
            continue
        module = importlib.import_module(info.name)
        if _is_service_module(module):
            modules.append(module)
    return modules


def service_functions() -> dict[str, Callable]:
    """``module.function`` → function, for every public function defined in a service module."""
    found = {}
    for module in service_modules():
        for attr, value in vars(module).items():
            name = f"{module.__name__}.{attr}"
            public = inspect.isfunction(value) and value.__module__ == module.__name__ and not attr.startswith("_")
            if public and name not in PASS_THROUGH and not name.startswith(tuple(NOT_SERVICES)):
                found[name] = value
    return found


def _tracker(execute, sql, params, many, context):
    match = _WRITE.match(sql)
    if match:
        table = match.group(1).lower()
        for call in getattr(_active, "stack", ()):
            if table == AUDIT_TABLE:
                call.audited = True
            elif table not in BOOKKEEPING_TABLES:
                call.tables.add(table)
    return execute(sql, params, many, context)


def watched(name: str, function: Callable) -> Callable:
    @wraps(function)
    def wrapper(*args, **kwargs):
        from django.db import connections

        stack = _active.__dict__.setdefault("stack", [])
        call = _Call(name)
        stack.append(call)
        try:
            with ExitStack() as hooks:
                for connection in connections.all(initialized_only=True) or [connections["default"]]:
                    if _tracker not in connection.execute_wrappers:
                        hooks.enter_context(connection.execute_wrapper(_tracker))
                result = function(*args, **kwargs)
        finally:
            stack.pop()
        observed.calls[name] += 1
        if call.tables and call.audited:
            observed.audited_writes[name] += 1
        elif call.tables and not stack and name not in NOT_AUDITED:
            gap = f"{name} wrote {', '.join(sorted(call.tables))} and recorded no audit event"
            observed.gaps.append(gap)
            raise AuditGap(gap)
        return result

    wrapper.__audit_watched__ = function
    return wrapper


def install() -> dict[str, Callable]:
    """Watch every service function, in every loaded module that refers to it; returns the watched set."""
    functions = service_functions()
    replacements = {id(function): watched(name, function) for name, function in functions.items()}

    def swapped(value):
        replacement = replacements.get(id(value))
        return replacement if replacement is not None and value is replacement.__audit_watched__ else value

    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for attr, value in list(namespace.items()):
            if swapped(value) is not value:
                namespace[attr] = swapped(value)
            elif type(value) is dict and getattr(module, "__name__", "").startswith("forensis."):
                # a dispatch table such as {"reset-mfa": (services.reset_mfa, message)}
                for key, entry in list(value.items()):
                    if type(entry) is tuple and any(swapped(part) is not part for part in entry):
                        value[key] = tuple(map(swapped, entry))
                    elif swapped(entry) is not entry:
                        value[key] = swapped(entry)
    return functions


def summary(functions: dict[str, Callable]) -> list[str]:
    """The problems a whole-suite run leaves: gaps seen, and functions never called or never seen writing."""
    problems = list(dict.fromkeys(observed.gaps))
    never_called = sorted(name for name in functions if not observed.calls[name])
    if never_called:
        problems.append("service functions no test calls: " + ", ".join(never_called))
    return problems
