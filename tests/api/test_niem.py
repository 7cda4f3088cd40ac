"""The NIEM export of a case (``GET /api/v1/cases/<lab_number>/niem/``): the properties partners read, who may
read them, and a number of queries that does not grow with the case."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from forensis.accounts.models import AgencyType
from forensis.accounts.roles import Role
from forensis.api import niem
from forensis.evidence import services as evidence_services
from forensis.evidence.models import CustodyEvent, Item, LocationKind
from forensis.lab.models import Result
from forensis.reports.models import Report
from forensis.reports.services import add_case_contact
from tests.deaths.conftest import GUNSHOT_AUTOPSY, Morgue
from tests.reports.conftest import CONDITION, Lab, release

UTC_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")


@pytest.fixture(autouse=True)
def report_files(settings, tmp_path):
    """Issued PDFs are stored under MEDIA_ROOT: each test gets its own directory."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def lab(make_user, officer) -> Lab:
    """A toxicology section with a received blood sample of the police agency (tests.lab.test_review_services)."""
    return Lab(make_user, officer, condition=CONDITION)


@pytest.fixture
def released(lab) -> Report:
    lab.administratively_reviewed()
    return release(lab)


def niem_url(lab_number: str) -> str:
    return f"/api/v1/cases/{lab_number}/niem/"


def export(client, lab_number: str) -> dict:
    response = client.get(niem_url(lab_number))
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def times(value) -> list[str]:
    """Every ``nc:DateTime`` in the document."""
    if isinstance(value, dict):
        found = [value["nc:DateTime"]] if "nc:DateTime" in value else []
        return found + [t for v in value.values() for t in times(v)]
    if isinstance(value, list):
        return [t for v in value for t in times(v)]
    return []


def test_a_released_toxicology_case_in_niem(police_api, lab, released):
    case = lab.request.case
    # After the release the sample goes back on a shelf: a second link in its chain.
    shelf = evidence_services.save_location(lab.manager, None, name="Toxicology fridge", kind=LocationKind.UNIT)
    evidence_services.move_items(lab.custodian, [Item.objects.get(pk=lab.item.pk)], shelf)
    document = export(police_api, case.lab_number)

    assert document["@context"] == {
        "nc": "https://docs.oasis-open.org/niemopen/ns/model/niem-core/6.0/#",
        "j": "https://docs.oasis-open.org/niemopen/ns/model/domains/justice/6.0/#",
        "fns": "urn:forensis:niem:1.0#",
    }
    assert document["nc:Case"]["nc:CaseTrackingID"] == case.lab_number
    assert document["nc:Case"]["j:CaseAugmentation"]["j:CaseOtherIdentification"]["nc:IdentificationID"] == (
        "CY-TR-2026-0102"
    )
    assert document["j:Offense"] == [
        {
            "j:OffenseCategoryText": "Driving under the influence of alcohol or drugs",
            "fns:OffenseICCSIdentification": {
                "nc:IdentificationID": "02072",
                "nc:IdentificationCategoryDescriptionText": "ICCS",
            },
        }
    ]

    # The item as evidence: its number, receipt, condition, seal, and its chain of custody in order with hashes.
    (evidence,) = document["j:Evidence"]
    item = lab.item
    assert evidence["j:EvidenceNumberIdentification"]["nc:IdentificationID"] == item.label
    assert evidence["j:EvidenceItem"]["@id"] == f"#item-{item.label}"
    assert evidence["j:EvidenceItem"]["nc:ItemCategoryText"] == "blood"
    assert evidence["j:EvidenceItem"]["nc:ItemConditionText"] == CONDITION
    assert evidence["fns:SealNumberText"] == "T-1"
    assert evidence["j:EvidenceReturnedIndicator"] is False
    assert evidence["fns:EvidenceReceiptDate"]["nc:DateTime"] == niem.utc(item.received_at)
    ledger = list(CustodyEvent.objects.filter(item=item).order_by("sequence"))
    transfers = evidence["j:EvidenceCustodyTransfer"]
    assert [t["nc:ActivitySequenceNumeric"] for t in transfers] == [e.sequence for e in ledger] == [1, 2]
    assert [t["fns:CustodyEventHashText"] for t in transfers] == [e.hash for e in ledger]
    assert [t["fns:PreviousCustodyEventHashText"] for t in transfers[1:]] == [e.hash for e in ledger[:-1]]
    receipt = transfers[0]
    assert receipt["j:CustodyTransferActionText"] == "receipt"
    assert receipt["j:CustodyTransferReleasingEnforcementOfficial"] == {
        "nc:PersonName": {"nc:PersonFullName": ledger[0].released_by_name}
    }
    assert receipt["j:CustodyTransferReceivingEnforcementOfficial"] == {
        "nc:PersonName": {"nc:PersonFullName": ledger[0].received_by_name}
    }
    assert receipt["nc:ActivityDate"] == {"nc:DateTime": niem.utc(ledger[0].occurred_at)}
    assert transfers[1]["j:CustodyTransferActionText"] == "storage"
    assert transfers[1]["nc:ActivityLocation"] == {"nc:LocationDescriptionText": "Toxicology fridge"}
    assert evidence["fns:CurrentStorageLocationText"] == "Toxicology fridge"

    # The examination: a drug test on that specimen (the same JSON-LD node as the evidence item), released.
    (test,) = document["j:DrugTest"]
    assert "j:DNATest" not in document and "fns:ForensicExamination" not in document
    assert test["nc:ActivityCategoryText"] == "toxicology"
    assert test["nc:ActivityStatus"] == {"nc:StatusText": "released"}
    assert test["nc:ActivityCompletedIndicator"] is True
    assert test["j:TestMethodText"] == "Blood alcohol by headspace GC-FID (TOX-BAC-HS v4.2)"
    assert test["j:ForensicSpecimen"] == [{"@id": f"#item-{item.label}", "j:ForensicSpecimenCategoryText": "blood"}]
    assert test["fns:ReleasedDate"] == {"nc:DateTime": niem.utc(lab.reload().released_at)}

    # The released report: number, version, SHA-256 of the signed PDF, issue date, where to download it.
    version = released.current_version
    (document_,) = document["nc:Document"]
    assert document_["nc:DocumentIdentification"]["nc:IdentificationID"] == released.number
    assert document_["nc:DocumentSequenceID"] == "1"
    assert document_["j:BinaryHashValue"] == {
        "j:HashValueText": version.sha256,
        "j:HashValueMethodAlgorithmText": "SHA-256",
    }
    assert document_["nc:DocumentIssueDate"] == {"nc:DateTime": niem.utc(version.issued_at)}
    assert document_["nc:DocumentLocationURI"].endswith(f"/api/v1/reports/{released.number}/pdf/?version=1")
    assert document_["fns:ReportedExamination"] == {"@id": test["@id"]}

    assert "j:CauseOfDeathAssessment" not in document
    assert times(document) and all(UTC_TIME.fullmatch(t) for t in times(document))


def test_the_people_and_the_incident(police_api, received_case):
    document = export(police_api, received_case.lab_number)
    assert document["nc:Person"] == [
        {
            "@id": "#person-1",
            "nc:PersonName": {"nc:PersonFullName": "John Doe"},
            "nc:PersonSexText": "M",
            "nc:PersonAgeMeasure": {"nc:MeasureIntegerValue": 31, "nc:MeasureUnitText": "year"},
            "fns:PersonCaseRoleCode": "victim",
        }
    ]
    incident = document["nc:Incident"]
    assert incident["nc:ActivityDate"]["nc:DateTime"] == niem.utc(received_case.incident_at)
    assert incident["nc:ActivityLocation"]["nc:Address"] == {"nc:AddressCityName": "Belize City"}
    assert incident["nc:ActivityLocation"]["fns:DistrictCode"] == "BZ"
    # Nothing released yet: requests listed with their status, no report.
    assert {t["nc:ActivityCategoryText"] for t in document["fns:ForensicExamination"]} == {"serology"}
    assert [t["nc:ActivityCategoryText"] for t in document["j:DNATest"]] == ["dna"]
    assert all(t["nc:ActivityStatus"] == {"nc:StatusText": "requested"} for t in document["j:DNATest"])
    assert "nc:Document" not in document


def test_an_ibis_number_from_a_result_is_on_the_evidence(received_case):
    """The builder takes the released results the view prefetched (``ibis_results``) and lists their numbers."""
    item = Item.objects.filter(case=received_case).first()
    item.ibis_results = [
        SimpleNamespace(data={"ibis_entry": "BZ-IBIS-2026-0007"}),
        SimpleNamespace(data={"conclusion": "identified"}),
        SimpleNamespace(data={"ibis_entry": "BZ-IBIS-2026-0007"}),
    ]
    assert niem.evidence_type(item)["j:IBISNumberText"] == ["BZ-IBIS-2026-0007"]
    item.ibis_results = []
    assert "j:IBISNumberText" not in niem.evidence_type(item)


def add_ibis_entry(lab: Lab) -> None:
    """Write an IBIS entry number into the request's current result, as a firearms result would hold it."""
    results = Result.objects.filter(examination__request=lab.request, is_current=True)
    for result in results:
        Result.objects.filter(pk=result.pk).update(data={**result.data, "ibis_entry": "BZ-IBIS-2026-0007"})


def test_the_ibis_number_of_a_released_result(police_api, lab, released):
    add_ibis_entry(lab)
    (evidence,) = export(police_api, lab.request.case.lab_number)["j:Evidence"]
    assert evidence["j:IBISNumberText"] == ["BZ-IBIS-2026-0007"]


def test_no_ibis_number_from_work_not_yet_released(police_api, lab):
    lab.drafted()
    add_ibis_entry(lab)
    (evidence,) = export(police_api, lab.request.case.lab_number)["j:Evidence"]
    assert "j:IBISNumberText" not in evidence


def test_another_agency_gets_404(other_police_api, received_case):
    response = other_police_api.get(niem_url(received_case.lab_number))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert other_police_api.get(niem_url("NO-SUCH-CASE")).status_code == 404


def test_a_prosecutor_named_on_the_case_gets_it_with_its_reports(issue_token, api_client, make_agency, lab, released):
    """A shared case: its people and released reports; items and requests stay scoped to the submitting agency."""
    prosecutors = make_agency(AgencyType.PROSECUTOR, code="ODPP", name="Office of the DPP")
    case = lab.request.case
    add_case_contact(lab.manager, case, role="prosecutor", agency=prosecutors, name="Paula Reyes", email="p@odpp.bz")
    document = export(api_client(issue_token(prosecutors).key), case.lab_number)
    assert document["nc:Case"]["nc:CaseTrackingID"] == case.lab_number
    assert [d["nc:DocumentIdentification"]["nc:IdentificationID"] for d in document["nc:Document"]] == [released.number]
    assert "j:Evidence" not in document and "j:DrugTest" not in document


def test_a_token_without_the_cases_resource_gets_403(issue_token, api_client, police, received_case):
    client = api_client(issue_token(police, resources=["reports", "requests"]).key)
    response = client.get(niem_url(received_case.lab_number))
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "This token was not issued for cases."


def test_a_statistics_token_gets_403(issue_token, api_client, make_agency, received_case):
    observatory = make_agency(AgencyType.OBSERVATORY, code="OBS-NIEM", name="Crime Observatory")
    client = api_client(issue_token(observatory, resources=["statistics"]).key)
    assert client.get(niem_url(received_case.lab_number)).status_code == 403
    assert client.get(f"/api/v1/cases/{received_case.lab_number}/").status_code == 403


def test_no_credentials_is_401(api_client, received_case):
    response = api_client().get(niem_url(received_case.lab_number))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def grow(case, make_user, extra_items: int) -> None:
    """More items, each received and then put on a shelf (two custody events each)."""
    custodian = make_user(Role.EVIDENCE_CUSTODIAN)
    shelf = evidence_services.save_location(make_user(Role.LAB_MANAGER), None, name="Shelf A", kind=LocationKind.SHELF)
    for n in range(extra_items):
        item = evidence_services.create_item(
            custodian, case, received_at=timezone.now(), type="swab", description=f"Swab {n}", seal_number=f"X-{n}"
        )
        evidence_services.append_custody_event(
            item, released_by=None, released_by_name="Cpl. Ana Ruiz", received_by=custodian, purpose="receipt"
        )
        evidence_services.move_items(custodian, [item], shelf)


def test_the_number_of_queries_does_not_grow_with_the_case(police_api, received_case, make_user):
    url = niem_url(received_case.lab_number)
    police_api.get(url)  # warm caches (content types, the token's account)
    with CaptureQueriesContext(connection) as small:
        assert police_api.get(url).status_code == 200
    grow(received_case, make_user, 6)
    with CaptureQueriesContext(connection) as large:
        document = police_api.get(url).json()
    assert len(document["j:Evidence"]) == 8
    assert all(len(e["j:EvidenceCustodyTransfer"]) >= 1 for e in document["j:Evidence"])
    assert len(large) == len(small), [q["sql"] for q in large.captured_queries]


def test_a_case_with_several_items_in_few_queries(police_api, received_case, make_user, django_assert_max_num_queries):
    grow(received_case, make_user, 5)
    with django_assert_max_num_queries(24):
        assert police_api.get(niem_url(received_case.lab_number)).status_code == 200


# --- a death ---------------------------------------------------------------------------------------------


@pytest.fixture
def morgue(make_user, officer) -> Morgue:
    return Morgue(make_user, officer)


def test_the_cause_of_death_only_once_the_autopsy_is_released(police_api, morgue):
    morgue.recorded()
    case = morgue.investigation.case
    (pending,) = export(police_api, case.lab_number)["j:CauseOfDeathAssessment"]
    assert pending["nc:ActivityIdentification"]["nc:IdentificationID"] == morgue.investigation.number
    assert pending["nc:ActivityStatus"] == {"nc:StatusText": "pending"}
    assert pending["nc:ActivityCompletedIndicator"] is False
    assert not {key for key in pending if "Cause" in key or "Manner" in key or "ICD10" in key}

    morgue.released()
    (assessment,) = export(police_api, case.lab_number)["j:CauseOfDeathAssessment"]
    assert assessment["nc:ActivityStatus"] == {"nc:StatusText": "released"}
    assert assessment["fns:MannerOfDeathCode"] == "homicide"
    assert assessment["j:CauseOfDeathHomicideIndicator"] is True
    assert assessment["j:CauseOfDeathAssessmentAutopsyPerformedIndicator"] is True
    assert assessment["j:CauseOfDeathAssessmentImmediateCauseText"] == GUNSHOT_AUTOPSY["immediate_cause"]
    assert assessment["fns:ImmediateCauseICD10Code"] == "R58"
    assert assessment["fns:AntecedentCauseICD10Code"] == "S21.1"
    assert assessment["j:CauseOfDeathAssessmentUnderlyingConditionText"] == GUNSHOT_AUTOPSY["underlying_cause"]
    assert assessment["fns:UnderlyingCauseICD10Code"] == "X93"
    assert assessment["nc:AssessmentPerson"] == {"nc:PersonName": {"nc:PersonFullName": "Jane Roe"}}


def test_a_death_of_another_agency_is_not_exported(other_police_api, morgue):
    morgue.recorded()
    assert other_police_api.get(niem_url(morgue.investigation.case.lab_number)).status_code == 404
