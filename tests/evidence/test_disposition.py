"""Disposition: return to the agency, witnessed destruction, retention rules and legal holds."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from forensis.evidence import disposition, outsourcing
from forensis.evidence import services as evidence_services
from forensis.evidence.models import (
    CustodyEvent,
    Destruction,
    Item,
    ItemStatus,
    LocationKind,
    Purpose,
    RetentionRule,
)
from tests.conftest import PASSWORD
from tests.evidence.conftest import receive_case

DRUGS = (("seized_drugs", "Plastic bag, white powder", False), ("seized_drugs", "Ten small packets", False))
HOMICIDE = (("swab", "Swab of blood stain", True), ("bullet", "Projectile from the wall", False))


@pytest.fixture
def custodian(make_user):
    return make_user(Role.EVIDENCE_CUSTODIAN, username="custodian")


@pytest.fixture
def witness(make_user):
    return make_user(Role.ANALYST, username="witness", first_name="Wendy", last_name="Witness")


@pytest.fixture
def drugs(officer, custodian):
    return receive_case(officer, custodian, offences=("06012",), items=DRUGS)


@pytest.fixture
def homicide(officer, custodian):
    return receive_case(officer, custodian, offences=("0101",), items=HOMICIDE)


def statuses(items):
    return list(Item.objects.filter(pk__in=[i.pk for i in items]).order_by("pk").values_list("status", flat=True))


# --- return to the agency -------------------------------------------------------------------------


def test_return_to_the_submitting_agencys_officer(custodian, officer, drugs):
    events = disposition.return_to_agency(custodian, drugs, officer, note="Case closed by the court")
    assert statuses(drugs) == [ItemStatus.RETURNED] * 2
    for event, item in zip(events, drugs, strict=True):
        assert event.item == item and event.purpose == Purpose.RETURN
        assert event.released_by == custodian and event.received_by == officer
        assert event.location == officer.agency.name
        assert event.acknowledged_by_releaser and event.acknowledged_by_receiver
    assert Item.objects.get(pk=drugs[0].pk).holder == officer
    audit = AuditEvent.objects.get(action="item.returned")
    assert audit.after["items"] == [i.label for i in drugs] and audit.reason == "Case closed by the court"
    assert evidence_services.verify_ledger().intact


def test_another_agencys_officer_is_refused(custodian, other_officer, drugs):
    events = CustodyEvent.objects.count()
    with pytest.raises(ValidationError, match="not an active member of the agency"):
        disposition.return_to_agency(custodian, drugs, other_officer)
    assert statuses(drugs) == [ItemStatus.IN_CUSTODY] * 2 and CustodyEvent.objects.count() == events


def test_return_needs_the_dispose_permission(make_user, officer, drugs):
    analyst = make_user(Role.ANALYST)
    with pytest.raises(PermissionDenied):
        disposition.return_to_agency(analyst, drugs, officer)


# --- destruction ----------------------------------------------------------------------------------


def test_witnessed_destruction(custodian, witness, drugs):
    destruction = disposition.destroy_items(custodian, drugs, witness, method=" Incineration ")
    assert destruction.reference.startswith("DES-") and destruction.method == "Incineration"
    assert destruction.performed_by == custodian and destruction.witnessed_by == witness
    assert set(destruction.items.all()) == set(drugs)
    assert statuses(drugs) == [ItemStatus.DESTROYED] * 2
    event = Item.objects.get(pk=drugs[0].pk).custody_events.order_by("sequence").last()
    assert event.purpose == Purpose.DESTRUCTION and event.witness_name == "Wendy Witness"
    assert destruction.reference in event.note
    assert AuditEvent.objects.get(action="item.destroyed").after["witness"] == "witness"


def test_destruction_needs_a_different_staff_witness(custodian, officer, drugs):
    for not_a_witness in (custodian, officer):
        with pytest.raises(ValidationError, match="another member of the laboratory staff"):
            disposition.destroy_items(custodian, drugs, not_a_witness, method="Incineration")
    assert statuses(drugs) == [ItemStatus.IN_CUSTODY] * 2 and not Destruction.objects.exists()


def test_destruction_needs_a_method(custodian, witness, drugs):
    with pytest.raises(ValidationError, match="Describe how"):
        disposition.destroy_items(custodian, drugs, witness, method="  ")
    assert not Destruction.objects.exists()


# --- retention rules and legal hold ---------------------------------------------------------------


def test_homicide_biological_item_is_kept_indefinitely(custodian, officer, witness, homicide):
    swab, bullet = homicide
    assert RetentionRule.objects.filter(offence_prefix="0101", biological_only=True, retain_years=None).exists()
    assert "must be kept indefinitely" in disposition.retention_problem(swab)
    assert disposition.retention_problem(bullet) is None
    events = CustodyEvent.objects.count()
    with pytest.raises(ValidationError, match=f"Item {swab.label} must be kept indefinitely"):
        disposition.return_to_agency(custodian, homicide, officer)
    with pytest.raises(ValidationError, match="must be kept indefinitely"):
        disposition.destroy_items(custodian, [swab], witness, method="Incineration")
    assert statuses(homicide) == [ItemStatus.IN_CUSTODY] * 2 and CustodyEvent.objects.count() == events
    assert not Destruction.objects.exists()
    disposition.return_to_agency(custodian, [bullet], officer)
    assert statuses(homicide) == [ItemStatus.IN_CUSTODY, ItemStatus.RETURNED]


def test_rule_with_years_keeps_until_the_date(custodian, officer):
    swab = receive_case(officer, custodian, offences=("0102",), items=HOMICIDE[:1])[0]
    problem = disposition.retention_problem(swab)
    until = (timezone.localtime(swab.received_at).date()).replace(year=swab.received_at.year + 25)
    assert problem.startswith(f"Item {swab.label} must be kept until {until}")
    later = swab.received_at + timedelta(days=366 * 25)
    assert disposition.retention_problem(swab, now=later) is None


def test_leap_day_receipt_counts_to_the_first_of_march():
    leap = timezone.make_aware(datetime(2024, 2, 29, 12, 0))
    assert disposition._years_after(leap, 1).date().isoformat() == "2025-03-01"
    assert disposition._years_after(leap, 4).date().isoformat() == "2028-02-29"


def test_legal_hold_blocks_every_disposition_and_nothing_is_half_written(custodian, officer, witness, drugs):
    free, held = drugs
    evidence_services.set_legal_hold(custodian, held, True, "Court order CR-55/2026")
    events = CustodyEvent.objects.count()
    with pytest.raises(ValidationError, match=r"on legal hold \(Court order CR-55/2026\)"):
        disposition.return_to_agency(custodian, drugs, officer)
    with pytest.raises(ValidationError, match="on legal hold"):
        disposition.destroy_items(custodian, drugs, witness, method="Incineration")
    assert statuses(drugs) == [ItemStatus.IN_CUSTODY] * 2
    assert CustodyEvent.objects.count() == events and not Destruction.objects.exists()
    assert not AuditEvent.objects.filter(action__in=["item.returned", "item.destroyed"]).exists()
    evidence_services.set_legal_hold(custodian, held, False, "Order lifted")
    disposition.destroy_items(custodian, drugs, witness, method="Incineration")
    assert statuses(drugs) == [ItemStatus.DESTROYED] * 2


def test_destroyed_item_cannot_be_returned_or_moved(custodian, officer, witness, make_user, drugs):
    disposition.destroy_items(custodian, drugs[:1], witness, method="Incineration")
    events = CustodyEvent.objects.count()
    with pytest.raises(ValidationError, match="is destroyed; it can no longer be moved"):
        disposition.return_to_agency(custodian, drugs[:1], officer)
    with pytest.raises(ValidationError, match="is destroyed"):
        disposition.destroy_items(custodian, drugs[:1], witness, method="Again")
    shelf = evidence_services.save_location(None, None, name="Drug vault", kind=LocationKind.ROOM)
    with pytest.raises(ValidationError, match="is destroyed"):
        evidence_services.move_items(custodian, drugs, shelf)
    colleague = make_user(Role.EVIDENCE_CUSTODIAN)
    with pytest.raises(ValidationError, match="is destroyed"):
        evidence_services.hand_over(custodian, drugs[:1], colleague, purpose=Purpose.ANALYSIS, confirmed_in_person=True)
    assert CustodyEvent.objects.count() == events
    assert statuses(drugs) == [ItemStatus.DESTROYED, ItemStatus.IN_CUSTODY]


def test_item_listed_on_an_unsent_shipment_cannot_be_disposed_of(custodian, officer, witness, drugs):
    shipment = outsourcing.prepare_shipment(custodian, drugs[:1], laboratory="External lab")
    with pytest.raises(ValidationError, match=f"already in shipment {shipment.reference}"):
        disposition.return_to_agency(custodian, drugs, officer)
    with pytest.raises(ValidationError, match=f"already in shipment {shipment.reference}"):
        disposition.destroy_items(custodian, drugs[:1], witness, method="Incineration")
    assert statuses(drugs) == [ItemStatus.IN_CUSTODY] * 2
    disposition.return_to_agency(custodian, drugs[1:], officer)
    assert statuses(drugs) == [ItemStatus.IN_CUSTODY, ItemStatus.RETURNED]


# --- editing retention rules ----------------------------------------------------------------------


@pytest.fixture
def rule_editor(make_user):
    manager = make_user(Role.LAB_MANAGER, username="manager")
    manager.user_permissions.add(Permission.objects.get(codename="change_retentionrule"))
    return manager


def test_new_rule_takes_effect_and_is_audited(rule_editor, custodian, witness, drugs):
    rule = disposition.save_retention_rule(
        rule_editor, None, offence_prefix=" 0601 ", biological_only=False, retain_years=2, note="Drug exhibits"
    )
    assert rule.offence_prefix == "0601" and rule.retain_years == 2
    with pytest.raises(ValidationError, match="must be kept until"):
        disposition.destroy_items(custodian, drugs, witness, method="Incineration")
    event = AuditEvent.objects.get(action="retention_rule.created")
    assert event.before is None and event.after["retain_years"] == 2


def test_changing_a_rule_needs_a_reason_and_keeps_the_before(rule_editor):
    rule = RetentionRule.objects.get(offence_prefix="0102", biological_only=True)
    with pytest.raises(ValidationError, match="reason"):
        disposition.save_retention_rule(rule_editor, rule, retain_years=30)
    assert RetentionRule.objects.get(pk=rule.pk).retain_years == 25
    disposition.save_retention_rule(rule_editor, rule, reason="New statute", retain_years=30)
    assert RetentionRule.objects.get(pk=rule.pk).retain_years == 30
    event = AuditEvent.objects.get(action="retention_rule.changed")
    assert event.before["retain_years"] == 25 and event.after["retain_years"] == 30 and event.reason == "New statute"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"offence_prefix": "9999"}, "not an ICCS offence code"),
        ({"offence_prefix": "0101", "biological_only": True}, "already a rule for 0101"),
        ({"offence_prefix": "0601", "retain_years": 0}, "at least one year"),
    ],
)
def test_bad_rules_are_refused(rule_editor, fields, message):
    count = RetentionRule.objects.count()
    with pytest.raises(ValidationError, match=message):
        disposition.save_retention_rule(rule_editor, None, **fields)
    assert RetentionRule.objects.count() == count


def test_custodians_cannot_edit_rules(custodian):
    with pytest.raises(PermissionDenied):
        disposition.save_retention_rule(custodian, None, offence_prefix="0601")


# --- pages ----------------------------------------------------------------------------------------


@pytest.fixture
def custodian_client(signed_in, custodian):
    return signed_in(custodian)


def labels(items):
    return "\n".join(i.label for i in items)


DISPOSITION_PAGES = ["evidence:return", "evidence:destroy", "evidence:destructions", "evidence:retention_rules"]


@pytest.mark.parametrize("url_name", DISPOSITION_PAGES)
def test_pages_open_for_custodians(custodian_client, url_name):
    assert custodian_client.get(reverse(url_name)).status_code == 200


@pytest.mark.parametrize("role", [Role.AGENCY_OFFICER, Role.ANALYST])
def test_officers_and_analysts_get_403(signed_in, make_user, police, custodian, witness, drugs, role):
    destruction = disposition.destroy_items(custodian, drugs, witness, method="Incineration")
    client = signed_in(make_user(role, agency=police if role == Role.AGENCY_OFFICER else None))
    urls = [reverse(name) for name in DISPOSITION_PAGES] + [
        reverse("evidence:destruction", args=[destruction.reference]),
        reverse("evidence:destruction_pdf", args=[destruction.reference]),
        reverse("evidence:retention_rule_new"),
    ]
    for url in urls:
        assert client.get(url).status_code == 403, url
    response = client.post(
        reverse("evidence:return"),
        {"action": "return", "labels": labels(drugs), "officer_username": "officer", "officer_password": PASSWORD},
    )
    assert response.status_code == 403


def test_scanning_adds_the_label_and_warns_of_retention(custodian_client, homicide):
    swab = homicide[0]
    response = custodian_client.post(
        reverse("evidence:destroy"), {"action": "add", "scan": swab.label, "method": "Incineration"}
    )
    page = response.content.decode()
    assert f"{swab.label}</textarea>" in page and 'data-testid="item-problem"' in page
    assert "must be kept indefinitely" in page and 'value="Incineration"' in page
    assert Item.objects.get(pk=swab.pk).status == ItemStatus.IN_CUSTODY


def test_return_through_the_page(custodian_client, officer, drugs):
    response = custodian_client.post(
        reverse("evidence:return"),
        {
            "action": "return",
            "labels": labels(drugs),
            "officer_username": "officer",
            "officer_password": PASSWORD,
            "note": "Court released the exhibits",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("evidence:return")
    assert "Returned to" in response.content.decode() and drugs[1].label in response.content.decode()
    assert statuses(drugs) == [ItemStatus.RETURNED] * 2


def test_wrong_officer_password_changes_nothing(custodian_client, officer, drugs):
    events = CustodyEvent.objects.count()
    response = custodian_client.post(
        reverse("evidence:return"),
        {"action": "return", "labels": labels(drugs), "officer_username": "officer", "officer_password": "wrong"},
    )
    assert response.status_code == 200
    assert "The officer&#x27;s username or password is not correct." in response.content.decode()
    assert statuses(drugs) == [ItemStatus.IN_CUSTODY] * 2 and CustodyEvent.objects.count() == events
    assert AuditEvent.objects.filter(action="auth.login_failed", actor_username="officer").exists()
    assert not AuditEvent.objects.filter(action="item.returned").exists()


def test_another_agencys_officer_is_refused_on_the_page(custodian_client, other_officer, drugs):
    response = custodian_client.post(
        reverse("evidence:return"),
        {"action": "return", "labels": labels(drugs), "officer_username": "officer.b", "officer_password": PASSWORD},
    )
    assert "is not an active member of the agency that submitted" in response.content.decode()
    assert statuses(drugs) == [ItemStatus.IN_CUSTODY] * 2


def test_legal_hold_refusal_is_shown_on_the_return_page(custodian_client, custodian, drugs):
    evidence_services.set_legal_hold(custodian, drugs[0], True, "Appeal pending")
    response = custodian_client.post(
        reverse("evidence:return"),
        {"action": "return", "labels": labels(drugs), "officer_username": "officer", "officer_password": PASSWORD},
    )
    assert f"Item {drugs[0].label} is on legal hold (Appeal pending)." in response.content.decode()
    assert statuses(drugs) == [ItemStatus.IN_CUSTODY] * 2


def test_destruction_through_the_page_links_the_list(custodian_client, witness, drugs):
    response = custodian_client.post(
        reverse("evidence:destroy"),
        {
            "action": "destroy",
            "labels": labels(drugs),
            "method": "Incineration",
            "witness_username": "witness",
            "witness_password": PASSWORD,
        },
        follow=True,
    )
    destruction = Destruction.objects.get()
    assert response.redirect_chain[-1][0] == reverse("evidence:destruction", args=[destruction.reference])
    page = response.content.decode()
    assert reverse("evidence:destruction_pdf", args=[destruction.reference]) in page
    assert drugs[0].label in page and "Wendy Witness" in page
    assert statuses(drugs) == [ItemStatus.DESTROYED] * 2
    register = custodian_client.get(reverse("evidence:destructions")).content.decode()
    assert destruction.reference in register


def test_retention_refusal_is_shown_on_the_destroy_page(custodian_client, witness, homicide):
    response = custodian_client.post(
        reverse("evidence:destroy"),
        {
            "action": "destroy",
            "labels": labels(homicide),
            "method": "Incineration",
            "witness_username": "witness",
            "witness_password": PASSWORD,
        },
    )
    assert f"Item {homicide[0].label} must be kept indefinitely" in response.content.decode()
    assert statuses(homicide) == [ItemStatus.IN_CUSTODY] * 2 and not Destruction.objects.exists()


def test_wrong_witness_password_or_self_as_witness_changes_nothing(custodian_client, witness, drugs):
    base = {"action": "destroy", "labels": labels(drugs), "method": "Incineration"}
    wrong = custodian_client.post(
        reverse("evidence:destroy"), {**base, "witness_username": "witness", "witness_password": "nope"}
    )
    assert "The witness&#x27;s username or password is not correct." in wrong.content.decode()
    itself = custodian_client.post(
        reverse("evidence:destroy"), {**base, "witness_username": "custodian", "witness_password": PASSWORD}
    )
    assert "The witness must be another member of the laboratory staff." in itself.content.decode()
    assert statuses(drugs) == [ItemStatus.IN_CUSTODY] * 2 and not Destruction.objects.exists()


def test_destruction_pdf(custodian_client, custodian, witness, drugs):
    pytest.importorskip("forensis.evidence.documents")
    destruction = disposition.destroy_items(custodian, drugs, witness, method="Incineration")
    response = custodian_client.get(reverse("evidence:destruction_pdf", args=[destruction.reference]))
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")


def test_another_agencys_officer_gets_404_on_item_pages_even_with_the_permission(
    signed_in, other_officer, custodian, witness, drugs
):
    destruction = disposition.destroy_items(custodian, drugs, witness, method="Incineration")
    other_officer.user_permissions.add(Permission.objects.get(codename="dispose_item"))
    client = signed_in(other_officer)
    for name in ("evidence:destruction", "evidence:destruction_pdf"):
        assert client.get(reverse(name, args=[destruction.reference])).status_code == 404
    assert destruction.reference not in client.get(reverse("evidence:destructions")).content.decode()
    scanned = client.post(reverse("evidence:return"), {"action": "add", "scan": drugs[0].label})
    assert f"No item with the number {drugs[0].label}" in scanned.content.decode()


def test_retention_rules_page_and_editing(signed_in, custodian_client, rule_editor):
    page = custodian_client.get(reverse("evidence:retention_rules")).content.decode()
    assert "Biological evidence in homicide cases is kept indefinitely" in page and "Indefinitely" in page
    assert reverse("evidence:retention_rule_new") not in page
    rule = RetentionRule.objects.get(offence_prefix="0102")
    assert custodian_client.get(reverse("evidence:retention_rule", args=[rule.pk])).status_code == 403

    client = signed_in(rule_editor)
    url = reverse("evidence:retention_rule", args=[rule.pk])
    assert client.get(url).status_code == 200
    payload = {"offence_prefix": "0102", "biological_only": "on", "retain_years": "30", "note": rule.note}
    refused = client.post(url, payload)
    assert "This field is required." in refused.content.decode()
    assert RetentionRule.objects.get(pk=rule.pk).retain_years == 25
    assert client.post(url, {**payload, "reason": "Statute of 2026"}).status_code == 302
    assert RetentionRule.objects.get(pk=rule.pk).retain_years == 30

    new = client.post(reverse("evidence:retention_rule_new"), {"offence_prefix": "06", "retain_years": ""})
    assert new.status_code == 302
    created = RetentionRule.objects.get(offence_prefix="06")
    assert created.retain_years is None and not created.biological_only
    clash = client.post(reverse("evidence:retention_rule_new"), {"offence_prefix": "06"})
    assert "There is already a rule for 06" in clash.content.decode()
