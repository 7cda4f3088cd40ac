"""The death investigation pages: who may open what (another agency's death is a 404, a missing permission a
403), each form driving its service, refused input shown on the form with nothing written, and the list filters."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from forensis.audit.models import AuditEvent
from forensis.cases.models import Case
from forensis.deaths import body_custody, services
from forensis.deaths.models import FRAMEWORK_INDICATORS, AutopsyRecord, BodyRelease, DeathInvestigation
from forensis.evidence.models import CustodyEvent, Item
from forensis.lab.models import RequestStatus, ServiceRequest
from forensis.reports.models import Report
from tests.conftest import PASSWORD
from tests.deaths.conftest import GUNSHOT_AUTOPSY
from tests.reports.conftest import pdf_text

NUMBERED_PAGES = ["deaths:detail", "deaths:edit", "deaths:receive", "deaths:autopsy", "deaths:release"]


def text(response) -> str:
    return html.unescape(response.content.decode())


def url(name: str, investigation: DeathInvestigation | None = None) -> str:
    return reverse(name, args=[investigation.number]) if investigation else reverse(name)


def local(moment) -> str:
    """A moment as the browser's datetime-local input sends it, in the laboratory's time zone."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def log_payload(morgue, **overrides) -> dict:
    now = timezone.now()
    data = {
        "agency": morgue.officer.agency.pk,
        "agency_case_number": "BZ-HOM-2026-0099",
        "offence_codes": ["0101"],
        "body_seal_number": "BAG-0042",
        "identified": "on",
        "decedent_name": "John Moody",
        "tag_number": "",
        "sex": "M",
        "age": "34",
        "age_min": "",
        "age_max": "",
        "nationality": "Belizean",
        "pregnancy": "na",
        "death_at": local(now - timedelta(hours=6)),
        "district": "CY",
        "death_place": "Macal River bank, San Ignacio",
        "discovered_at": local(now - timedelta(hours=3)),
        "discovery_place": "Macal River bank",
        "pathologist": morgue.pathologist.pk,
        "scene_technician": "",
        "relationship": "stranger",
        "perpetrator_sex": "M",
        "circumstances": "Found by fishermen at dawn.",
        **dict.fromkeys(FRAMEWORK_INDICATORS, "unknown"),
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def autopsy_payload(**overrides) -> dict:
    data = {"performed_on": timezone.localdate().isoformat(), **GUNSHOT_AUTOPSY, "reason": ""}
    data.update(overrides)
    return {"action": "autopsy", **{f"autopsy-{key}": value for key, value in data.items()}}


def counts() -> tuple[int, int, int, int]:
    return (
        DeathInvestigation.objects.count(),
        Case.objects.count(),
        Item.objects.count(),
        CustodyEvent.objects.count(),
    )


# --- who may open what ------------------------------------------------------------------------------


def test_each_page_renders_for_the_role_that_uses_it(morgue, client_for):
    investigation = morgue.logged()
    scenetech = client_for(morgue.scenetech)
    for page in (url("deaths:list"), url("deaths:pending"), url("deaths:new"), url("deaths:detail", investigation)):
        assert scenetech.get(page).status_code == 200, page
    assert scenetech.get(url("deaths:edit", investigation)).status_code == 200
    custodian = client_for(morgue.custodian)
    page = custodian.get(url("deaths:receive", investigation))
    assert page.status_code == 200 and 'data-testid="receive-form"' in page.content.decode()
    assert custodian.get(url("deaths:release", investigation)).status_code == 200
    pathologist = client_for(morgue.pathologist)
    assert 'data-testid="not-received"' in pathologist.get(url("deaths:autopsy", investigation)).content.decode()


def test_roles_without_the_permission_get_403(morgue, client_for):
    investigation = morgue.logged()
    analyst = client_for(morgue.lab.analyst)
    assert analyst.get(url("deaths:detail", investigation)).status_code == 200
    for name in ("deaths:edit", "deaths:receive", "deaths:release"):
        assert analyst.get(url(name, investigation)).status_code == 403, name
    assert analyst.get(url("deaths:new")).status_code == 403
    custodian = client_for(morgue.custodian)
    assert custodian.get(url("deaths:new")).status_code == 403
    assert custodian.get(url("deaths:edit", investigation)).status_code == 403
    morgue.received()
    # Only the pathologist the autopsy is assigned to posts to the autopsy page.
    for person in (morgue.second_pathologist, morgue.custodian, morgue.lab.manager):
        response = client_for(person).post(url("deaths:autopsy", investigation), {"action": "start"})
        assert response.status_code == 403, person


def test_statistician_sees_no_death(morgue, client_for, statistician):
    investigation = morgue.logged()
    morgue.recorded()
    morgue.released()
    body_custody.release_body(
        morgue.custodian,
        morgue.reload(),
        receiver_kind="family",
        receiver_name="Ruth Roe",
        relationship="Mother",
        identity_document="SSN 5512",
        acknowledged=True,
    )
    client = client_for(statistician)
    for page in (url("deaths:list"), url("deaths:pending"), url("deaths:new")):
        assert client.get(page).status_code == 403, page
    for name in [*NUMBERED_PAGES, "deaths:release_form"]:
        assert client.get(url(name, investigation)).status_code in (403, 404), name


def test_another_agency_gets_404_and_its_lists_stay_empty(morgue, client_for, other_officer):
    investigation = morgue.logged()
    morgue.recorded()
    morgue.released()
    body_custody.release_body(
        morgue.custodian,
        morgue.reload(),
        receiver_kind="funeral_home",
        receiver_name="Joe Doe",
        organisation="Lord's Funeral Home",
        identity_document="SSN 1234",
        acknowledged=True,
    )
    other = client_for(other_officer)
    for name in [*NUMBERED_PAGES, "deaths:release_form"]:
        assert other.get(url(name, investigation)).status_code == 404, name
    assert other.post(url("deaths:autopsy", investigation), {"action": "autopsy"}).status_code == 404
    for name in ("deaths:edit", "deaths:receive", "deaths:release"):
        assert other.post(url(name, investigation), {"nationality": "X", "reason": "x"}).status_code == 404, name
    assert DeathInvestigation.objects.get().nationality == "Belizean"
    assert BodyRelease.objects.get().receiver_name == "Joe Doe"
    assert investigation.number not in other.get(url("deaths:list")).content.decode()
    assert investigation.number not in other.get(url("deaths:pending")).content.decode()

    own = client_for(morgue.officer)
    listing = own.get(url("deaths:list")).content.decode()
    assert investigation.number in listing
    detail = own.get(url("deaths:detail", investigation))
    page = detail.content.decode()
    assert detail.status_code == 200 and "Jane Roe" in page
    # A read of a death record by someone outside the laboratory is logged; the other agency's 404s are not reads.
    reads = AuditEvent.objects.filter(action="death.viewed")
    assert list(reads.values_list("actor_username", "object_id")) == [("officer", str(investigation.pk))]
    assert 'data-testid="edit-link"' not in page and 'data-testid="release-link"' not in page
    assert own.get(url("deaths:edit", investigation)).status_code == 403


# --- logging a death --------------------------------------------------------------------------------


def test_log_a_death_through_the_form(morgue, client_for):
    client = client_for(morgue.scenetech)
    response = client.post(url("deaths:new"), log_payload(morgue))
    investigation = DeathInvestigation.objects.get()
    assert response.status_code == 302 and response.url == url("deaths:detail", investigation)
    assert investigation.decedent_name == "John Moody" and investigation.district == "CY"
    assert investigation.case.agency_case_number == "BZ-HOM-2026-0099"
    assert investigation.body.holder == morgue.scenetech and investigation.body.seal_number == "BAG-0042"
    assert investigation.scene_technician == morgue.scenetech and investigation.pathologist == morgue.pathologist
    page = text(client.get(response.url))
    assert 'data-stage="logged"' in page and "John Moody" in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"age": "130"}, "age", "120"),
        ({"decedent_name": ""}, "decedent_name", "Give the name of the deceased"),
        ({"death_at": "later"}, "death_at", "cannot come after the body was discovered"),
        ({"pathologist": "999999"}, "pathologist", "Select a valid choice"),
        ({"identified": None, "decedent_name": "", "tag_number": ""}, "tag_number", "tag number"),
        ({"agency_case_number": ""}, "agency_case_number", "required"),
    ],
)
def test_log_refusals_show_on_the_form_and_nothing_is_created(morgue, client_for, overrides, field, message):
    if overrides.get("death_at") == "later":
        overrides["death_at"] = local(timezone.now() - timedelta(hours=1))
    before = counts()
    response = client_for(morgue.scenetech).post(url("deaths:new"), log_payload(morgue, **overrides))
    assert response.status_code == 200
    page = text(response)
    assert f'data-testid="error-{field}"' in page and message in page
    assert counts() == before


def test_log_with_a_user_who_is_not_a_pathologist_is_refused(morgue, client_for):
    before = counts()
    response = client_for(morgue.scenetech).post(
        url("deaths:new"), log_payload(morgue, pathologist=str(morgue.custodian.pk))
    )
    assert 'data-testid="error-pathologist"' in response.content.decode()
    assert counts() == before


def test_edit_after_the_report_needs_a_reason(morgue, client_for):
    investigation = morgue.logged()
    morgue.recorded()
    morgue.released()
    client = client_for(morgue.pathologist)
    edit = url("deaths:edit", investigation)
    form = client.get(edit)
    assert 'data-testid="reason-needed"' in form.content.decode()
    payload = log_payload(
        morgue, decedent_name="Jane A. Roe", district="BZ", sex="F", age="27", relationship="intimate_partner"
    )
    for name in ("agency", "agency_case_number", "offence_codes", "body_seal_number"):
        payload.pop(name)
    response = client.post(edit, payload)
    assert "give the reason for the change" in text(response)
    assert DeathInvestigation.objects.get().decedent_name == "Jane Roe"
    response = client.post(edit, {**payload, "reason": "Identified by her sister; middle initial added."})
    assert response.status_code == 302
    assert DeathInvestigation.objects.get().decedent_name == "Jane A. Roe"


# --- the morgue ---------------------------------------------------------------------------------------


def receive_payload(morgue, **overrides) -> dict:
    return {
        "handed_over_by": morgue.scenetech.pk,
        "password": PASSWORD,
        "location_code": "",
        "location": morgue.cold_room.pk,
        "seal_status": "none",
        "condition": "Body bag closed",
        "note": "",
        **overrides,
    }


def test_receive_with_a_wrong_password_writes_nothing(morgue, client_for):
    investigation = morgue.logged()
    before = (counts(), ServiceRequest.objects.count())
    response = client_for(morgue.custodian).post(
        url("deaths:receive", investigation), receive_payload(morgue, password="not-the-password")
    )
    assert response.status_code == 200
    page = text(response)
    assert 'data-testid="error-password"' in page and "is not correct" in page
    assert (counts(), ServiceRequest.objects.count()) == before
    assert services.autopsy_request(investigation) is None


def test_receive_with_the_right_password_requests_the_autopsy(morgue, client_for):
    investigation = morgue.logged()
    client = client_for(morgue.custodian)
    response = client.post(
        url("deaths:receive", investigation),
        receive_payload(morgue, location="", location_code=morgue.cold_room.code.lower()),
    )
    assert response.status_code == 302 and response.url == url("deaths:detail", investigation)
    request = services.autopsy_request(investigation)
    assert request.status == RequestStatus.ASSIGNED and request.assigned_to == morgue.pathologist
    body = Item.objects.get(pk=investigation.body.pk)
    assert body.holder == morgue.custodian and body.location == morgue.cold_room
    assert body.custody_events.order_by("-sequence").first().released_by == morgue.scenetech
    # A second receipt is not offered.
    again = client.get(url("deaths:receive", investigation))
    assert again.status_code == 302


def test_receive_without_a_location_or_from_someone_else_is_refused(morgue, client_for):
    investigation = morgue.logged()
    client = client_for(morgue.custodian)
    response = client.post(url("deaths:receive", investigation), receive_payload(morgue, location=""))
    assert 'data-testid="error-location"' in response.content.decode()
    response = client.post(
        url("deaths:receive", investigation), receive_payload(morgue, handed_over_by=morgue.pathologist.pk)
    )
    assert "they must hand it over" in text(response)
    assert services.autopsy_request(investigation) is None


# --- the autopsy --------------------------------------------------------------------------------------


def test_pathologist_starts_and_records_the_autopsy(morgue, client_for):
    investigation = morgue.logged()
    morgue.received()
    client = client_for(morgue.pathologist)
    page = client.get(url("deaths:autopsy", investigation)).content.decode()
    assert 'data-testid="start-autopsy-form"' in page and 'data-testid="autopsy-form"' not in page
    response = client.post(url("deaths:autopsy", investigation), {"action": "start", "start-method": morgue.method.pk})
    assert response.status_code == 302
    assert morgue.autopsy_request().status == RequestStatus.IN_PROGRESS

    response = client.post(url("deaths:autopsy", investigation), autopsy_payload(immediate_icd10="Z99.99"))
    page = text(response)
    assert 'data-testid="error-immediate_icd10"' in page and "Z99.99 is not an ICD-10 code" in page
    assert not AutopsyRecord.objects.exists()

    response = client.post(url("deaths:autopsy", investigation), autopsy_payload(mechanism=""))
    page = text(response)
    assert 'data-testid="error-mechanism"' in page and "A homicide needs its mechanism" in page
    assert not AutopsyRecord.objects.exists()

    response = client.post(url("deaths:autopsy", investigation), autopsy_payload(antecedent_icd10="s211"))
    assert response.status_code == 302
    autopsy = AutopsyRecord.objects.get()
    assert autopsy.manner == "homicide" and autopsy.antecedent_icd10 == "S21.1"
    page = text(client.get(url("deaths:autopsy", investigation)))
    assert 'data-testid="ready-to-sign"' in page and 'data-testid="sign-draft-link"' in page
    detail = text(client.get(url("deaths:detail", investigation)))
    assert 'data-stage="autopsy"' in detail and "S21.1" in detail and "Haemorrhage" in detail


def test_take_a_sample_raises_a_child_request(morgue, client_for):
    investigation = morgue.logged()
    morgue.started()
    client = client_for(morgue.pathologist)
    response = client.post(
        url("deaths:autopsy", investigation),
        {
            "action": "sample",
            "sample-discipline": morgue.lab.toxicology.pk,
            "sample-type": "blood",
            "sample-description": "Femoral blood, 10 mL",
        },
    )
    assert response.status_code == 302
    child = ServiceRequest.objects.get(parent=morgue.autopsy_request())
    assert child.discipline == morgue.lab.toxicology
    assert child.items.get().parent == investigation.body
    page = text(client.get(url("deaths:detail", investigation)))
    assert 'data-testid="ancillary-test"' in page and "Femoral blood, 10 mL" in page


def test_an_action_out_of_turn_is_refused_with_a_message(morgue, client_for):
    investigation = morgue.logged()
    morgue.received()
    client = client_for(morgue.pathologist)
    response = client.post(url("deaths:autopsy", investigation), autopsy_payload(), follow=True)
    assert "this step is not possible now" in text(response)
    assert not AutopsyRecord.objects.exists()


def test_changing_the_manner_after_release_is_an_amendment_with_a_reason(morgue, client_for):
    investigation = morgue.logged()
    morgue.recorded(manner="pending", mechanism="")
    morgue.released()
    report = Report.objects.get(request=morgue.autopsy_request(), kind="autopsy")
    manager = client_for(morgue.lab.manager)
    manager.post(reverse("reports:amend", args=[report.number]), {"reason": "Police investigation concluded."})
    assert morgue.autopsy_request().status == RequestStatus.IN_PROGRESS
    client = client_for(morgue.pathologist)
    assert 'data-testid="amendment-banner"' in client.get(url("deaths:autopsy", investigation)).content.decode()
    response = client.post(url("deaths:autopsy", investigation), autopsy_payload())
    assert "give the reason for the change" in text(response)
    assert AutopsyRecord.objects.get().manner == "pending"
    response = client.post(
        url("deaths:autopsy", investigation), autopsy_payload(reason="Ballistics confirm a third party fired.")
    )
    assert response.status_code == 302 and AutopsyRecord.objects.get().manner == "homicide"


# --- the release of the body ---------------------------------------------------------------------------


def release_payload(**overrides) -> dict:
    return {
        "receiver_kind": "funeral_home",
        "receiver_name": "Joe Doe",
        "organisation": "Lord's Funeral Home",
        "relationship": "",
        "identity_document": "SSN 1234",
        "acknowledged": "on",
        "note": "",
        **overrides,
    }


def test_release_the_body_once_and_print_the_form(morgue, client_for):
    investigation = morgue.logged()
    morgue.recorded()
    morgue.signed()
    client = client_for(morgue.custodian)
    # Before the release the form is blank, printed for the person collecting to sign; only morgue staff print it.
    blank = pdf_text(client.get(url("deaths:release_form", investigation)).content)
    assert "Body release form" in blank and "Identity document\n____" in blank and "Joe Doe" not in blank
    assert client_for(morgue.officer).get(url("deaths:release_form", investigation)).status_code == 403
    response = client.post(url("deaths:release", investigation), release_payload(acknowledged=""))
    assert "must sign the release form first" in text(response)
    assert not BodyRelease.objects.exists()
    response = client.post(url("deaths:release", investigation), release_payload())
    assert response.status_code == 302
    release = BodyRelease.objects.get()
    assert release.receiver_name == "Joe Doe" and Item.objects.get(pk=investigation.body.pk).status == "released"
    again = client.post(url("deaths:release", investigation), release_payload(receiver_name="Someone Else"))
    assert "was already released to Joe Doe" in text(again)
    assert BodyRelease.objects.count() == 1
    pdf = client.get(url("deaths:release_form", investigation))
    assert pdf["Content-Type"] == "application/pdf" and "Released to\nJoe Doe (Funeral home)" in pdf_text(pdf.content)
    assert client_for(morgue.officer).get(url("deaths:release_form", investigation)).status_code == 200
    page = text(client.get(url("deaths:detail", investigation)))
    assert 'data-stage="released"' in page and 'data-testid="release-form-link"' in page


def test_release_before_the_autopsy_is_signed_is_refused(morgue, client_for):
    investigation = morgue.logged()
    morgue.recorded()
    client = client_for(morgue.custodian)
    assert 'data-testid="not-signed"' in client.get(url("deaths:release", investigation)).content.decode()
    response = client.post(url("deaths:release", investigation), release_payload())
    assert "not signed yet" in text(response) and not BodyRelease.objects.exists()


# --- what the pages show ---------------------------------------------------------------------------------


def test_detail_of_a_released_autopsy(morgue, client_for):
    investigation = morgue.logged()
    morgue.recorded()
    services.take_sample(
        morgue.pathologist, investigation, discipline=morgue.lab.toxicology, type="blood", description="Femoral blood"
    )
    morgue.released()
    page = text(client_for(morgue.custodian).get(url("deaths:detail", investigation)))
    assert 'data-testid="stage-indicator" data-stage="reported"' in page
    assert 'data-step="received" data-state="done"' in page and 'data-step="reported" data-state="current"' in page
    for kind in ("autopsy", "death_certificate"):
        assert f'data-testid="report-link-{kind}"' in page
    assert "X93" in page and "Assault by handgun discharge" in page
    assert 'data-testid="gender-related" data-value="yes"' in page
    assert 'data-testid="release-link"' in page and "Pending" in page  # toxicology not yet released


def test_the_pathology_request_pages_show_the_autopsy_not_item_results(morgue, client_for):
    investigation = morgue.logged()
    morgue.recorded()
    request = morgue.signed()
    for page_url, person in (
        (reverse("lab:request", args=[request.pk]), morgue.custodian),
        (reverse("lab:review", args=[request.pk]), morgue.second_pathologist),
    ):
        page = client_for(person).get(page_url).content.decode()
        assert 'data-testid="autopsy-summary"' in page and 'data-testid="request-results"' not in page, page_url
        assert url("deaths:detail", investigation) in page


def test_case_page_lists_its_deaths(morgue, client_for):
    investigation = morgue.logged()
    page = client_for(morgue.officer).get(reverse("cases:detail", args=[investigation.case.lab_number]))
    assert url("deaths:detail", investigation) in page.content.decode()


def test_list_filters(morgue, client_for):
    homicide = morgue.logged()
    morgue.recorded()
    pending = morgue.logged(
        agency_case_number="CY-2026-7", district="CY", decedent_name="", identified=False, tag_number="T-77"
    )
    client = client_for(morgue.custodian)

    def numbers(**query) -> set[str]:
        page = client.get(url("deaths:list"), query).content.decode()
        return {n for n in (homicide.number, pending.number) if f'data-number="{n}"' in page}

    assert numbers() == {homicide.number, pending.number}
    assert numbers(manner="homicide") == {homicide.number}
    assert numbers(manner="pending") == {pending.number}
    assert numbers(district="CY") == {pending.number}
    assert numbers(stage="autopsy") == {homicide.number}
    assert numbers(stage="logged") == {pending.number}
    assert numbers(q="T-77") == {pending.number}
    assert numbers(q="BZ-HOM-2026-0042") == {homicide.number}
    assert numbers(month_from=homicide.month, month_to=homicide.month) == {homicide.number, pending.number}
    assert numbers(month_to="2000-01") == set()
    assert numbers(sort="stage") == {homicide.number, pending.number}
    assert "Unidentified (tag T-77)" in text(client.get(url("deaths:list")))

    follow_up = client.get(url("deaths:pending")).content.decode()
    assert f'data-number="{pending.number}"' in follow_up and f'data-number="{homicide.number}"' not in follow_up
