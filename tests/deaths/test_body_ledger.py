"""The body's chain of custody passes the same checks as any item's: scene → morgue → release, hash-chained."""

from __future__ import annotations

from forensis.deaths import body_custody
from forensis.evidence.models import Purpose
from forensis.evidence.services import gap_check, verify_ledger


def test_a_body_ledger_from_scene_to_release_passes_the_custody_checks(morgue):
    morgue.recorded()
    morgue.signed()
    body_custody.release_body(
        morgue.pathologist,
        morgue.reload(),
        receiver_kind="family",
        receiver_name="John Roe",
        relationship="Brother",
        identity_document="Passport P1234567",
        acknowledged=True,
    )
    body = morgue.reload().body
    purposes = list(body.custody_events.order_by("sequence").values_list("purpose", flat=True))
    assert purposes == [Purpose.SCENE, Purpose.RECEIPT, Purpose.BODY_RELEASE]
    assert gap_check() == []
    assert verify_ledger().intact
