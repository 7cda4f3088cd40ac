"""The audit watch itself (tests/audit_watch.py): it finds the services, and it catches an unaudited write."""

from __future__ import annotations

import pytest

from forensis.audit.models import AuditEvent
from forensis.audit.services import record
from forensis.core.models import Notification
from forensis.intake import services as intake_services
from tests import audit_watch


def test_every_service_module_is_found_and_views_are_not():
    names = set(audit_watch.service_functions())
    for expected in (
        "forensis.intake.services.receive_submission",
        "forensis.evidence.services.hand_over",
        "forensis.evidence.disposition.return_to_agency",
        "forensis.evidence.outsourcing.ship",
        "forensis.lab.services.review",
        "forensis.reports.services.issue_report",
        "forensis.deaths.body_custody.release_body",
        "forensis.api.tokens.issue_token",
        "forensis.core.corrections.correct_migrated",
        "forensis.statistics.services.set_population",
    ):
        assert expected in names, expected
    assert not [name for name in names if ".views." in name or name.endswith("_views")]
    assert len(names) > 100


def test_the_exemptions_name_real_service_functions():
    functions = audit_watch.service_functions()
    assert not set(audit_watch.NOT_AUDITED) - set(functions)
    assert not audit_watch.PASS_THROUGH & set(functions)


def test_the_suites_services_are_watched_also_in_dispatch_tables():
    from forensis.accounts import manage_views

    assert intake_services.receive_submission.__audit_watched__
    assert manage_views._USER_ACTIONS["reset-mfa"][0].__audit_watched__


def _notify_silently(user):
    return Notification.objects.create(recipient=user, message="unaudited")


def _notify_and_record(user):
    Notification.objects.create(recipient=user, message="audited")
    record("test.notified", actor=user, obj=user)


def test_a_write_without_an_audit_event_is_caught(admin_user):
    silent = audit_watch.watched("tests.silent", _notify_silently)
    with pytest.raises(audit_watch.AuditGap, match="tests.silent wrote core_notification"):
        silent(admin_user)
    audit_watch.observed.gaps.remove("tests.silent wrote core_notification and recorded no audit event")


def test_a_write_with_its_audit_event_passes_and_so_does_a_read(admin_user):
    before = AuditEvent.objects.count()
    audit_watch.watched("tests.audited", _notify_and_record)(admin_user)
    assert AuditEvent.objects.count() == before + 1
    assert audit_watch.watched("tests.read", lambda: Notification.objects.count())() >= 1


def test_a_building_block_is_covered_by_the_audited_service_that_calls_it(admin_user):
    silent = audit_watch.watched("tests.silent", _notify_silently)

    def outer(user):
        silent(user)
        record("test.outer", actor=user, obj=user)

    audit_watch.watched("tests.outer", outer)(admin_user)
    with pytest.raises(audit_watch.AuditGap, match="tests.outer wrote core_notification"):
        audit_watch.watched("tests.outer", lambda user: silent(user))(admin_user)
    audit_watch.observed.gaps.remove("tests.outer wrote core_notification and recorded no audit event")
