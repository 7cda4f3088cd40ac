from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from forensis.cases.models import Case
from forensis.core.models import Notification
from forensis.evidence.models import CustodyEvent, Item
from forensis.evidence.services import verify_ledger
from forensis.intake import services
from forensis.intake.models import Presence, Submission, SubmissionStatus
from forensis.lab.models import ServiceRequest
from tests.intake.conftest import CASE_FIELDS, item


def test_kit_prefills_items_and_examinations(officer, kit):
    submission = services.create_submission(officer, kit=kit)
    assert submission.reference.startswith("SUB-")
    assert submission.agency == officer.agency and submission.status == SubmissionStatus.DRAFT
    rows = list(submission.items.prefetch_related("disciplines"))
    assert [r.type for r in rows] == ["firearm", "cartridge_case", "bullet"]
    assert {d.code for d in rows[0].disciplines.all()} == {"firearms", "ibis"}


def test_submit_then_officer_cannot_change(officer, submitted):
    assert submitted.status == SubmissionStatus.SUBMITTED and submitted.submitted_at
    with pytest.raises(ValidationError, match="can no longer be changed by the agency"):
        services.update_submission(officer, submitted, fields=CASE_FIELDS, people=[], items=[item()])
    assert submitted.items.count() == 2


def test_laboratory_corrects_a_submitted_submission_with_reason(custodian, submitted):
    with pytest.raises(ValidationError, match="reason"):
        services.update_submission(custodian, submitted, fields=CASE_FIELDS, people=[], items=[item()])
    services.update_submission(
        custodian,
        submitted,
        fields={**CASE_FIELDS, "town": "Ladyville"},
        people=[],
        items=[item()],
        reason="Town misspelt on the pre-log",
    )
    event = AuditEvent.objects.get(action="submission.corrected")
    assert event.before["town"] == "Belize City" and event.after["town"] == "Ladyville"
    assert event.reason == "Town misspelt on the pre-log"


@pytest.mark.parametrize(
    ("fields", "items", "message"),
    [
        ({"incident_at": timezone.now() + timedelta(days=2)}, [{}], "in the future"),
        ({"offence_codes": ["9999"]}, [{}], "Unknown ICCS offence code: 9999"),
        ({}, [{"seal": "S-9"}, {"description": "Cap", "seal": "s-9 "}], "seal number S-9 is already used by item 1"),
        ({}, [{"type": "body"}], "a body is logged as a death investigation, not submitted"),
    ],
)
def test_bad_input_is_refused_and_nothing_changes(officer, draft, fields, items, message):
    before = list(draft.items.values_list("description", flat=True))
    with pytest.raises(ValidationError, match=message):
        services.update_submission(
            officer, draft, fields={**CASE_FIELDS, **fields}, people=[], items=[item(**row) for row in items]
        )
    assert list(draft.items.values_list("description", flat=True)) == before
    draft.refresh_from_db()
    assert draft.offence_codes == ["0101"]


@pytest.mark.parametrize(
    ("fields", "items", "message"),
    [
        ({"agency_case_number": ""}, [{}], "Enter the agency case number"),
        ({"offence_codes": []}, [{}], "Choose at least one offence"),
        ({}, [], "Add at least one item"),
        ({}, [{"disciplines": ()}], "choose at least one requested examination"),
    ],
)
def test_incomplete_draft_cannot_be_submitted(officer, draft, fields, items, message):
    services.update_submission(
        officer, draft, fields={**CASE_FIELDS, **fields}, people=[], items=[item(**row) for row in items]
    )
    with pytest.raises(ValidationError, match=message):
        services.submit_submission(officer, draft)
    draft.refresh_from_db()
    assert draft.status == SubmissionStatus.DRAFT


def test_officer_of_another_agency_cannot_touch_it(other_officer, submitted, draft):
    with pytest.raises(PermissionDenied):
        services.submit_submission(other_officer, draft)
    assert not Submission.objects.visible_to(other_officer).filter(pk=submitted.pk).exists()


def test_receive_creates_case_items_custody_and_requests(custodian, officer, submitted, checks_all_fine):
    case = services.receive_submission(custodian, submitted, checks=checks_all_fine, handed_over_by=officer)
    assert case.lab_number.startswith("NFSS-") and case.agency == officer.agency
    assert list(case.offences.values_list("code", flat=True)) == ["0101"]
    assert case.people.get().name == "John Doe"
    labels = list(Item.objects.filter(case=case).values_list("label", flat=True))
    assert labels == [f"{case.lab_number}/01", f"{case.lab_number}/02"]
    for received in Item.objects.filter(case=case):
        event = received.custody_events.get()
        assert event.released_by == officer and event.received_by == custodian and event.purpose == "receipt"
        assert event.acknowledged_by_releaser and event.acknowledged_by_receiver
        assert verify_ledger(received.custody_events.all()).intact
    disciplines = {r.discipline.code: sorted(i.label for i in r.items.all()) for r in ServiceRequest.objects.all()}
    assert disciplines == {"serology": labels, "dna": [labels[1]]}
    submitted.refresh_from_db()
    assert submitted.status == SubmissionStatus.RECEIVED and submitted.receipt_number.startswith("RCT-")
    assert Notification.objects.filter(recipient=officer, message__contains=case.lab_number).exists()


def test_deviation_is_recorded_and_shown_to_the_officer(custodian, officer, submitted, checks_all_fine):
    first, second = submitted.items.all()
    checks_all_fine[first.pk] = services.ItemCheck(seal_status="broken", deviation_note="Seal torn on one side")
    checks_all_fine[second.pk] = services.ItemCheck(presence=Presence.MISSING, deviation_note="Not in the bag")
    case = services.receive_submission(custodian, submitted, checks=checks_all_fine, handed_over_by=officer)
    assert Item.objects.filter(case=case).count() == 1  # nothing invented for the missing item
    first.refresh_from_db()
    assert first.deviation and first.item.custody_events.get().seal_status == "broken"
    assert Notification.objects.filter(recipient=officer, message__contains="Deviations").exists()
    assert submitted.has_deviations


def test_deviation_without_note_is_refused(custodian, officer, submitted, checks_all_fine):
    first = submitted.items.first()
    checks_all_fine[first.pk] = services.ItemCheck(seal_status="broken")
    with pytest.raises(ValidationError, match="describe the deviation"):
        services.receive_submission(custodian, submitted, checks=checks_all_fine, handed_over_by=officer)
    assert not Case.objects.exists() and not CustodyEvent.objects.exists()


def test_receiving_twice_is_refused_naming_the_case(custodian, officer, submitted, checks_all_fine):
    case = services.receive_submission(custodian, submitted, checks=checks_all_fine, handed_over_by=officer)
    with pytest.raises(ValidationError, match=f"already received as case {case.lab_number}"):
        services.receive_submission(custodian, submitted, checks=checks_all_fine, handed_over_by=officer)
    assert Case.objects.count() == 1 and Item.objects.count() == 2


def test_officer_of_another_agency_cannot_hand_over(custodian, other_officer, submitted, checks_all_fine):
    with pytest.raises(ValidationError, match="must be an active member"):
        services.receive_submission(custodian, submitted, checks=checks_all_fine, handed_over_by=other_officer)
    assert not Case.objects.exists()


def test_only_custodians_receive(officer, submitted, checks_all_fine):
    with pytest.raises(PermissionDenied):
        services.receive_submission(officer, submitted, checks=checks_all_fine, handed_over_by=officer)


def test_duplicate_agency_case_number_is_linked_and_attach_is_offered(custodian, officer, submitted, checks_all_fine):
    case = services.receive_submission(custodian, submitted, checks=checks_all_fine, handed_over_by=officer)
    second = services.create_submission(officer)
    second = services.update_submission(
        officer,
        second,
        fields={**CASE_FIELDS, "incident_at": timezone.now()},
        people=[],
        items=[item("Second shirt", seal="S-7")],
    )
    services.submit_submission(officer, second)
    others, cases = services.related_by_agency_case_number(second)
    assert list(others) == [submitted] and list(cases) == [case]
    services.receive_submission(
        custodian,
        second,
        checks={i.pk: services.ItemCheck() for i in second.items.all()},
        handed_over_by=officer,
        attach_to=case,
    )
    assert Case.objects.count() == 1
    assert list(case.items.values_list("label", flat=True))[-1] == f"{case.lab_number}/03"


def test_attach_to_a_case_of_another_agency_is_refused(
    custodian, officer, other_officer, submitted, checks_all_fine, make_user
):
    other = services.create_submission(other_officer)
    services.update_submission(
        other_officer, other, fields={**CASE_FIELDS, "incident_at": timezone.now()}, people=[], items=[item(seal="X-1")]
    )
    services.submit_submission(other_officer, other)
    foreign_case = services.receive_submission(
        custodian, other, checks={i.pk: services.ItemCheck() for i in other.items.all()}, handed_over_by=other_officer
    )
    with pytest.raises(ValidationError, match="is not a case of this agency"):
        services.receive_submission(
            custodian, submitted, checks=checks_all_fine, handed_over_by=officer, attach_to=foreign_case
        )


def test_walk_in_entered_by_custodian_is_received_without_submit(custodian, officer):
    walk_in = services.create_submission(custodian, submitting_officer=officer)
    assert walk_in.walk_in and walk_in.agency == officer.agency and walk_in.created_by == custodian
    services.update_submission(
        custodian, walk_in, fields={**CASE_FIELDS, "incident_at": timezone.now()}, people=[], items=[item()]
    )
    case = services.receive_submission(
        custodian, walk_in, checks={i.pk: services.ItemCheck() for i in walk_in.items.all()}, handed_over_by=officer
    )
    assert case.items.count() == 1


def test_extra_item_found_at_the_counter(custodian, officer, submitted, checks_all_fine):
    case = services.receive_submission(
        custodian,
        submitted,
        checks=checks_all_fine,
        handed_over_by=officer,
        extra_items=[item("Spent cartridge found in bag", seal="", type="cartridge_case", disciplines=("firearms",))],
    )
    extra = submitted.items.get(presence=Presence.EXTRA)
    assert extra.deviation and extra.item.label == f"{case.lab_number}/03"
    assert ServiceRequest.objects.filter(case=case, discipline__code="firearms").exists()


def test_lab_numbers_are_sequential(custodian, officer, make_user):
    numbers = []
    for n in range(3):
        submission = services.create_submission(officer)
        services.update_submission(
            officer,
            submission,
            fields={**CASE_FIELDS, "agency_case_number": f"A-{n}", "incident_at": timezone.now()},
            people=[],
            items=[item(seal=f"Q-{n}")],
        )
        services.submit_submission(officer, submission)
        numbers.append(
            services.receive_submission(
                custodian,
                submission,
                checks={i.pk: services.ItemCheck() for i in submission.items.all()},
                handed_over_by=officer,
            ).lab_number
        )
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == [1, 2, 3]


def test_every_step_is_audited(custodian, officer, submitted, checks_all_fine):
    services.receive_submission(custodian, submitted, checks=checks_all_fine, handed_over_by=officer)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "submission.created",
        "submission.updated",
        "submission.submitted",
        "submission.received",
        "case.opened",
        "item.created",
        "request.created",
    } <= actions


def test_scene_technician_may_pre_log(make_user):
    technician = make_user(Role.SCENE_TECHNICIAN)
    assert services.create_submission(technician).agency == technician.agency


def test_statistician_may_not_pre_log(make_user, make_agency):
    from forensis.accounts.models import AgencyType

    statistician = make_user(Role.STATISTICIAN, agency=make_agency(AgencyType.OBSERVATORY))
    with pytest.raises(PermissionDenied):
        services.create_submission(statistician)


def test_received_submission_is_not_its_own_duplicate(custodian, officer, submitted, checks_all_fine):
    services.receive_submission(custodian, submitted, checks=checks_all_fine, handed_over_by=officer)
    submitted.refresh_from_db()
    others, cases = services.related_by_agency_case_number(submitted)
    assert not others.exists() and not cases.exists()
