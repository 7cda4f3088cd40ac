"""Outsourcing: a batch to the external DNA laboratory, shipped, acknowledged, returned, with results attached."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from forensis.evidence import disposition, outsourcing
from forensis.evidence import services as evidence_services
from forensis.evidence.models import CustodyEvent, Item, ItemStatus, Purpose, Shipment, ShipmentResult, ShipmentStatus
from tests.evidence.conftest import receive_case as shared_receive_case

LAB = "Bode Technology, Virginia"


def receive_case(officer, custodian, **kwargs):
    """Received items requested for DNA (outsourced)."""
    return shared_receive_case(
        officer, custodian, **{"discipline": "dna", "agency_case_number": "BZ-CR-2026-0099", **kwargs}
    )


@pytest.fixture
def custodian(make_user):
    return make_user(Role.EVIDENCE_CUSTODIAN, username="custodian", first_name="Carla", last_name="Custodio")


@pytest.fixture
def items(officer, custodian):
    return receive_case(
        officer,
        custodian,
        items=(("swab", "Swab from door handle", True), ("blood", "Blood card, victim", True)),
    )


@pytest.fixture
def shipment(custodian, items):
    return outsourcing.prepare_shipment(custodian, items, laboratory=LAB)


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "files"


def refreshed(shipment: Shipment) -> Shipment:
    return Shipment.objects.get(pk=shipment.pk)


# --- services -------------------------------------------------------------------------------------


def test_full_lifecycle_moves_custody_out_and_back(custodian, items, shipment):
    assert shipment.status == ShipmentStatus.PREPARED and shipment.reference.startswith("OUT-")
    assert set(shipment.items.all()) == set(items)
    assert all(i.status == ItemStatus.IN_CUSTODY for i in Item.objects.filter(pk__in=[i.pk for i in items]))

    outsourcing.ship(custodian, shipment, tracking_number="1Z999AA10123456784")
    shipment = refreshed(shipment)
    assert shipment.status == ShipmentStatus.SHIPPED and shipment.shipped_at is not None
    for item in Item.objects.filter(pk__in=[i.pk for i in items]):
        assert item.status == ItemStatus.OUTSOURCED
        assert item.holder is None and item.holder_name == LAB
        last = item.custody_events.order_by("sequence").last()
        assert last.purpose == Purpose.OUTSOURCING and last.released_by == custodian
        assert last.received_by_name == LAB and shipment.reference in last.note

    outsourcing.confirm_arrival(custodian, shipment, received_at=timezone.now())
    assert refreshed(shipment).status == ShipmentStatus.AT_LABORATORY

    Shipment.objects.filter(pk=shipment.pk).update(shipped_at=timezone.now() - timedelta(days=45, hours=1))
    outsourcing.receive_back(custodian, refreshed(shipment), condition="Seals intact")
    shipment = refreshed(shipment)
    assert shipment.status == ShipmentStatus.RETURNED and shipment.returned_at is not None
    assert shipment.turnaround_days == 45 and outsourcing.days_out(shipment) == 45
    for item in Item.objects.filter(pk__in=[i.pk for i in items]):
        assert item.status == ItemStatus.IN_CUSTODY and item.holder == custodian
        purposes = list(item.custody_events.order_by("sequence").values_list("purpose", flat=True))
        assert purposes == [Purpose.RECEIPT, Purpose.OUTSOURCING, Purpose.RECEIPT]
        assert item.custody_events.order_by("sequence").last().released_by_name == LAB
    assert evidence_services.verify_ledger().intact
    actions = set(AuditEvent.objects.filter(object_id=str(shipment.pk)).values_list("action", flat=True))
    assert {"shipment.prepared", "shipment.shipped", "shipment.arrived", "shipment.returned"} <= actions


def test_days_out_counts_while_away_and_is_empty_before_shipping(custodian, shipment):
    assert outsourcing.days_out(shipment) is None
    outsourcing.ship(custodian, shipment)
    Shipment.objects.filter(pk=shipment.pk).update(shipped_at=timezone.now() - timedelta(days=10, minutes=5))
    shipment = refreshed(shipment)
    assert outsourcing.days_out(shipment) == 10 and shipment.turnaround_days is None


def test_wrong_status_transitions_are_refused_and_change_nothing(custodian, shipment):
    with pytest.raises(ValidationError, match="is prepared"):
        outsourcing.confirm_arrival(custodian, shipment, received_at=timezone.now())
    with pytest.raises(ValidationError, match="is prepared"):
        outsourcing.receive_back(custodian, shipment)
    with pytest.raises(ValidationError, match="sent"):
        outsourcing.attach_result(custodian, shipment, SimpleUploadedFile("r.pdf", b"%PDF-1.4"))
    outsourcing.ship(custodian, shipment)
    events = CustodyEvent.objects.count()
    with pytest.raises(ValidationError, match="is shipped"):
        outsourcing.ship(custodian, shipment)
    with pytest.raises(ValidationError, match="is shipped"):
        outsourcing.receive_back(custodian, shipment)
    assert CustodyEvent.objects.count() == events
    assert refreshed(shipment).status == ShipmentStatus.SHIPPED
    assert not ShipmentResult.objects.exists()


def test_arrival_must_fall_between_shipping_and_now(custodian, shipment):
    outsourcing.ship(custodian, shipment)
    shipment = refreshed(shipment)
    for moment in (shipment.shipped_at - timedelta(days=1), timezone.now() + timedelta(days=1)):
        with pytest.raises(ValidationError, match="between shipping and now"):
            outsourcing.confirm_arrival(custodian, shipment, received_at=moment)
    assert refreshed(shipment).status == ShipmentStatus.SHIPPED


def test_result_is_stored_with_its_sha256(custodian, shipment):
    outsourcing.ship(custodian, shipment)
    content = b"Sample,D8S1179,D21S11\nBZ-1,13/14,29/30\n"
    result = outsourcing.attach_result(custodian, refreshed(shipment), SimpleUploadedFile("profiles.csv", content))
    assert result.sha256 == hashlib.sha256(content).hexdigest() and result.size == len(content)
    assert result.original_name == "profiles.csv"
    with result.file.open("rb") as stored:
        assert stored.read() == content
    event = AuditEvent.objects.get(action="shipment.result_attached")
    assert event.after["sha256"] == result.sha256


def test_result_larger_than_the_limit_is_refused(custodian, shipment, monkeypatch):
    outsourcing.ship(custodian, shipment)
    monkeypatch.setattr(outsourcing, "MAX_RESULT_BYTES", 8)
    with pytest.raises(ValidationError, match="larger than"):
        outsourcing.attach_result(custodian, refreshed(shipment), SimpleUploadedFile("big.bin", b"x" * 9))
    assert not ShipmentResult.objects.exists()


def test_an_item_goes_in_one_open_shipment_at_a_time(custodian, items, shipment):
    with pytest.raises(ValidationError, match=f"already in shipment {shipment.reference}"):
        outsourcing.prepare_shipment(custodian, items[:1], laboratory="Another lab")
    assert Shipment.objects.count() == 1


def test_item_on_legal_hold_or_destroyed_cannot_be_shipped(custodian, officer, make_user):
    held, other = receive_case(officer, custodian, items=(("swab", "Swab A", True), ("swab", "Swab B", True)))
    evidence_services.set_legal_hold(custodian, held, True, "Court order 12/2026")
    with pytest.raises(ValidationError, match="legal hold") as refused:
        outsourcing.prepare_shipment(custodian, [held, other], laboratory=LAB)
    assert "Court order 12/2026" in str(refused.value)
    assert not Shipment.objects.exists()

    witness = make_user(Role.EVIDENCE_CUSTODIAN)
    disposition.destroy_items(custodian, [other], witness, method="Incineration")
    with pytest.raises(ValidationError, match="destroyed"):
        outsourcing.prepare_shipment(custodian, [other], laboratory=LAB)


def test_outsourced_item_cannot_be_returned_to_the_agency(custodian, officer, items, shipment):
    outsourcing.ship(custodian, shipment)
    with pytest.raises(ValidationError, match=LAB):
        disposition.return_to_agency(custodian, items, officer)
    assert Item.objects.filter(status=ItemStatus.OUTSOURCED).count() == len(items)


@pytest.mark.parametrize("role", [Role.ANALYST, Role.AGENCY_OFFICER])
def test_only_shipment_managers_prepare(make_user, police, items, role):
    person = make_user(role, agency=police if role == Role.AGENCY_OFFICER else None)
    with pytest.raises(PermissionDenied):
        outsourcing.prepare_shipment(person, items, laboratory=LAB)


# --- pages ----------------------------------------------------------------------------------------


@pytest.fixture
def custodian_client(signed_in, custodian):
    return signed_in(custodian)


def detail_url(shipment):
    return reverse("evidence:shipment", args=[shipment.reference])


def test_list_shows_status_items_and_turnaround(custodian_client, custodian, shipment):
    outsourcing.ship(custodian, shipment)
    outsourcing.confirm_arrival(custodian, refreshed(shipment), received_at=timezone.now())
    Shipment.objects.filter(pk=shipment.pk).update(shipped_at=timezone.now() - timedelta(days=50, hours=1))
    outsourcing.receive_back(custodian, refreshed(shipment))
    prepared = outsourcing.prepare_shipment(custodian, list(shipment.items.all())[:1], laboratory="Lab two", rush=True)
    page = custodian_client.get(reverse("evidence:shipments")).content.decode()
    assert shipment.reference in page and prepared.reference in page
    assert "Returned" in page and "Prepared" in page and ">50<" in page.replace(" ", "").replace("\n", "")
    filtered = custodian_client.get(reverse("evidence:shipments"), {"status": "prepared"}).content.decode()
    assert prepared.reference in filtered and shipment.reference not in filtered


def test_new_shipment_by_scanning_labels(custodian_client, items):
    url = reverse("evidence:shipment_new")
    assert custodian_client.get(url).status_code == 200
    page = custodian_client.post(url, {"action": "add", "scan": items[0].label.lower(), "laboratory": LAB})
    assert page.status_code == 200
    text = page.content.decode()
    assert items[0].description in text and f"{items[0].label.lower()}</textarea>" in text
    assert LAB in text and not Shipment.objects.exists()
    response = custodian_client.post(
        url,
        {
            "action": "prepare",
            "labels": items[0].label.lower(),
            "scan": items[1].label,
            "laboratory": LAB,
            "rush": "on",
        },
    )
    shipment = Shipment.objects.get()
    assert response.status_code == 302 and response.url == detail_url(shipment)
    assert set(shipment.items.all()) == set(items) and shipment.rush and shipment.laboratory == LAB


def test_unknown_label_is_named_and_nothing_is_prepared(custodian_client, items):
    response = custodian_client.post(
        reverse("evidence:shipment_new"),
        {"action": "prepare", "labels": f"{items[0].label}\nNOPE-1/01", "laboratory": LAB},
    )
    assert "No item with the number NOPE-1/01" in response.content.decode()
    assert not Shipment.objects.exists()


def test_legal_hold_refusal_shows_the_service_message(custodian_client, custodian, items):
    evidence_services.set_legal_hold(custodian, items[1], True, "Appeal pending")
    response = custodian_client.post(
        reverse("evidence:shipment_new"),
        {"action": "prepare", "labels": "\n".join(i.label for i in items), "laboratory": LAB},
    )
    assert f"Item {items[1].label} is on legal hold (Appeal pending)." in response.content.decode()
    assert not Shipment.objects.exists()


def test_detail_steps_through_the_lifecycle(custodian_client, shipment):
    url = detail_url(shipment)
    page = custodian_client.get(url).content.decode()
    assert 'data-testid="manifest-link"' in page and "not shipped yet" in page
    assert custodian_client.post(url, {"action": "ship", "ship-tracking_number": "DHL 123"}).status_code == 302
    shipment = refreshed(shipment)
    assert shipment.status == ShipmentStatus.SHIPPED and shipment.tracking_number == "DHL 123"
    today = timezone.localdate().isoformat()
    assert custodian_client.post(url, {"action": "arrival", "arrival-received_on": today}).status_code == 302
    assert refreshed(shipment).status == ShipmentStatus.AT_LABORATORY
    assert custodian_client.post(url, {"action": "receive", "receive-condition": "Intact"}).status_code == 302
    shipment = refreshed(shipment)
    assert shipment.status == ShipmentStatus.RETURNED
    page = custodian_client.get(url).content.decode()
    assert "Turnaround" in page and "0 days" in page


def test_arrival_before_shipping_is_refused_on_the_page(custodian_client, custodian, shipment):
    outsourcing.ship(custodian, shipment)
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = custodian_client.post(detail_url(shipment), {"action": "arrival", "arrival-received_on": yesterday})
    assert response.status_code == 200 and "between shipping and now" in response.content.decode()
    assert refreshed(shipment).status == ShipmentStatus.SHIPPED


def test_step_that_does_not_match_the_status_changes_nothing(custodian_client, shipment):
    response = custodian_client.post(detail_url(shipment), {"action": "receive", "receive-condition": "x"}, follow=True)
    assert "that step is not possible now" in response.content.decode()
    assert refreshed(shipment).status == ShipmentStatus.PREPARED
    assert CustodyEvent.objects.filter(purpose=Purpose.OUTSOURCING).count() == 0


def test_result_upload_shows_its_hash_and_downloads_as_attachment(custodian_client, custodian, shipment):
    outsourcing.ship(custodian, shipment)
    content = b"<html><script>alert(1)</script></html>"
    upload = SimpleUploadedFile("report.html", content, content_type="text/html")
    response = custodian_client.post(detail_url(shipment), {"action": "results", "results-file": upload}, follow=True)
    digest = hashlib.sha256(content).hexdigest()
    page = response.content.decode()
    assert f"SHA-256: {digest}" in page and f'data-testid="result-sha256">{digest}<' in page
    result = ShipmentResult.objects.get()
    download = custodian_client.get(reverse("evidence:shipment_result", args=[shipment.reference, result.pk]))
    assert download.status_code == 200
    assert (
        download["Content-Disposition"].startswith("attachment;") and "report.html" in download["Content-Disposition"]
    )
    assert download["Content-Type"] == "application/octet-stream"
    assert b"".join(download.streaming_content) == content
    assert AuditEvent.objects.filter(action="shipment.result_downloaded").exists()


def test_oversized_upload_is_refused_on_the_page(custodian_client, custodian, shipment, monkeypatch):
    outsourcing.ship(custodian, shipment)
    monkeypatch.setattr(outsourcing, "MAX_RESULT_BYTES", 4)
    upload = SimpleUploadedFile("big.csv", b"12345")
    response = custodian_client.post(detail_url(shipment), {"action": "results", "results-file": upload})
    assert response.status_code == 200 and "larger than" in response.content.decode()
    assert not ShipmentResult.objects.exists()


def test_manifest_pdf(custodian_client, shipment):
    pytest.importorskip("forensis.evidence.documents")
    response = custodian_client.get(reverse("evidence:shipment_manifest", args=[shipment.reference]))
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")


@pytest.fixture
def result(custodian, shipment):
    outsourcing.ship(custodian, shipment)
    return outsourcing.attach_result(custodian, refreshed(shipment), SimpleUploadedFile("r.csv", b"a,b\n"))


def shipment_pages(shipment, result):
    return [
        reverse("evidence:shipments"),
        reverse("evidence:shipment_new"),
        detail_url(shipment),
        reverse("evidence:shipment_manifest", args=[shipment.reference]),
        reverse("evidence:shipment_result", args=[shipment.reference, result.pk]),
    ]


@pytest.mark.parametrize("role", [Role.AGENCY_OFFICER, Role.ANALYST])
def test_officers_and_analysts_get_403(signed_in, make_user, police, shipment, result, role):
    client = signed_in(make_user(role, agency=police if role == Role.AGENCY_OFFICER else None))
    for url in shipment_pages(shipment, result):
        assert client.get(url).status_code == 403, url


def test_another_agencys_officer_gets_404_even_with_the_permission(signed_in, other_officer, shipment, result):
    other_officer.user_permissions.add(Permission.objects.get(codename="manage_shipments"))
    client = signed_in(other_officer)
    for url in shipment_pages(shipment, result)[2:]:
        assert client.get(url).status_code == 404, url
    assert shipment.reference not in client.get(reverse("evidence:shipments")).content.decode()


def test_own_agencys_officer_with_the_permission_sees_the_shipment(signed_in, officer, shipment):
    officer.user_permissions.add(Permission.objects.get(codename="manage_shipments"))
    assert signed_in(officer).get(detail_url(shipment)).status_code == 200
