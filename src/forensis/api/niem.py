"""One case as a NIEM 6 JSON document (JSON-LD form) for partners who speak the Justice domain (docs/niem.md).

The builders are plain functions, one per NIEM type. Each takes rows the view fetched (``fetch``, a fixed number
of queries whatever the size of the case) and returns a dict; properties without a value are left out. Property
names are NIEM 6's where NIEM has the concept (``nc:`` NIEM Core, ``j:`` Justice domain); what NIEM lacks is under
the local extension prefix ``fns:``. The document is NIEM-*aligned*: the names are NIEM's, but a few properties
sit where NIEM's schemas would not put them (docs/niem.md says which), so it is not a conformant IEPD instance.

Every time is ISO 8601 in UTC. Offences carry their ICCS code. Only released work is described beyond its status:
IBIS numbers come from results of released requests, and a death's manner and cause only once the autopsy is
released.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import quote

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.response import Response

from forensis.cases.models import Case, CaseOffence, Person
from forensis.core import iccs
from forensis.deaths.models import AutopsyRecord, DeathInvestigation, Manner
from forensis.evidence.models import CustodyEvent, Item, ItemStatus
from forensis.lab.models import Examination, Priority, RequestStatus, Result, ServiceRequest
from forensis.reports.models import Report, ReportVersion

from .base import ForensisAPIMixin
from .models import Resource

#: The namespaces of the document. ``nc`` and ``j`` are NIEM 6.0's (niemopen/niem-model, csv/Namespace.csv); ``fns``
#: is Forensis's extension for what NIEM lacks.
CONTEXT = {
    "nc": "https://docs.oasis-open.org/niemopen/ns/model/niem-core/6.0/#",
    "j": "https://docs.oasis-open.org/niemopen/ns/model/domains/justice/6.0/#",
    "fns": "urn:forensis:niem:1.0#",
}

#: Disciplines whose examinations are drug tests (toxicology, drug chemistry) and DNA tests; the others are
#: ``fns:ForensicExamination`` (a ``j:TestType``).
DRUG_TEST_DISCIPLINES = frozenset({"toxicology", "seized-drugs"})
DNA_TEST_DISCIPLINES = frozenset({"dna", "rapid-dna"})

#: The result field that holds an IBIS entry number (``lab.results``).
IBIS_FIELD = "ibis_entry"


# --- values -------------------------------------------------------------------------------------------------


def utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``; None stays None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def date_time(moment: datetime | None) -> dict | None:
    """An ``nc:DateType`` holding a date and time."""
    return {"nc:DateTime": utc(moment)} if moment else None


def day(value: date | None) -> dict | None:
    """An ``nc:DateType`` holding a calendar date."""
    return {"nc:Date": value.isoformat()} if value else None


def identification(value: str, category: str = "") -> dict | None:
    """An ``nc:IdentificationType``."""
    if not value:
        return None
    return compact({"nc:IdentificationID": value, "nc:IdentificationCategoryDescriptionText": category})


def status(code: str) -> dict | None:
    """An ``nc:StatusType`` holding one of our status codes."""
    return {"nc:StatusText": code} if code else None


def person_name(name: str) -> dict | None:
    """An ``nc:PersonType`` known only by its printed name (collectors, custodians, officials)."""
    return {"nc:PersonName": {"nc:PersonFullName": name}} if name else None


def number(value: Decimal | None) -> str | None:
    """A decimal as text, so that no precision is lost in JSON."""
    return None if value is None else format(value.normalize(), "f")


def compact(values: dict) -> dict:
    """The dict without the properties that have no value (None, "" or empty); False and 0 are kept."""
    return {key: value for key, value in values.items() if value is not None and value not in ("", [], {})}


def item_ref(item: Item) -> str:
    """The JSON-LD ``@id`` of an item: the same node whether it is seen as evidence or as a specimen."""
    return "#item-" + quote(item.label, safe="/.-")


def request_ref(request_id: int) -> str:
    return f"#request-{request_id}"


# --- the rows -----------------------------------------------------------------------------------------------


@dataclass
class CaseRows:
    """Everything the document describes, each kind of row fetched through its own ``visible_to``."""

    case: Case
    items: list[Item] = field(default_factory=list)
    requests: list[ServiceRequest] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    deaths: list[DeathInvestigation] = field(default_factory=list)


def fetch(user, lab_number: str) -> CaseRows:
    """The case ``lab_number`` and its rows as ``user`` may see them (Http404 when the case is not visible).

    A fixed number of queries: the case, its offences and people, items with their custody events and IBIS
    results, requests with their items, reports with their versions, and death investigations.
    """
    case = get_object_or_404(
        Case.objects.visible_to(user)
        .select_related("agency")
        .prefetch_related(
            Prefetch("offences", queryset=CaseOffence.objects.order_by("code")),
            Prefetch("people", queryset=Person.objects.order_by("pk")),
        ),
        lab_number=lab_number,
    )
    ibis_results = Result.objects.filter(
        is_current=True, examination__request__status=RequestStatus.RELEASED, data__has_key=IBIS_FIELD
    ).order_by("recorded_at", "pk")
    items = list(
        Item.objects.visible_to(user)
        .filter(case=case)
        .select_related("parent", "location")
        .prefetch_related(
            Prefetch(
                "custody_events",
                queryset=CustodyEvent.objects.visible_to(user).select_related("storage_location").order_by("sequence"),
            ),
            Prefetch("results", queryset=ibis_results, to_attr="ibis_results"),
        )
        .order_by("number", "sub_number")
    )
    requests = list(
        ServiceRequest.objects.visible_to(user)
        .filter(case=case)
        .select_related("discipline", "examination__method")
        .prefetch_related(Prefetch("items", queryset=Item.objects.visible_to(user).order_by("number", "sub_number")))
        .order_by("requested_at", "pk")
    )
    reports = list(
        Report.objects.visible_to(user)
        .filter(case=case)
        .prefetch_related(Prefetch("versions", queryset=ReportVersion.objects.visible_to(user).order_by("version")))
        .order_by("created_at", "pk")
    )
    deaths = list(
        DeathInvestigation.objects.visible_to(user)
        .filter(case=case)
        .select_related("autopsy__examination__request")
        .order_by("logged_at", "pk")
    )
    return CaseRows(case=case, items=items, requests=requests, reports=reports, deaths=deaths)


# --- one function per NIEM type ---------------------------------------------------------------------------


def case_type(case: Case) -> dict:
    """``nc:CaseType``: the laboratory case, and the agency's own case number in ``j:CaseAugmentation``."""
    return compact(
        {
            "nc:ActivityIdentification": identification(case.lab_number, "Laboratory case number"),
            "nc:CaseTrackingID": case.lab_number,
            "nc:ActivityDescriptionText": case.narrative,
            "j:CaseAugmentation": compact(
                {
                    "j:CaseOtherIdentification": compact(
                        {
                            "nc:IdentificationID": case.agency_case_number,
                            "nc:IdentificationCategoryDescriptionText": "Agency case number",
                            "nc:IdentificationIssuerText": case.agency.code,
                        }
                    )
                    if case.agency_case_number
                    else None
                }
            ),
            "fns:CaseReceiptDate": date_time(case.received_at),
            "fns:SubmittingAgencyCode": case.agency.code,
            "fns:MigratedIndicator": case.is_migrated,
        }
    )


def incident_type(case: Case) -> dict:
    """``nc:IncidentType``: when and where it happened, as the agency reported it."""
    coordinates = None
    if case.latitude is not None and case.longitude is not None:
        coordinates = {"fns:LatitudeDecimal": number(case.latitude), "fns:LongitudeDecimal": number(case.longitude)}
    location = compact(
        {
            "nc:LocationDescriptionText": case.place,
            "nc:Address": compact({"nc:AddressFullText": case.address, "nc:AddressCityName": case.town}),
            "fns:DistrictCode": case.district,
            "fns:LocationCoordinates": coordinates,
        }
    )
    return compact({"nc:ActivityDate": date_time(case.incident_at), "nc:ActivityLocation": location})


def offense_type(offence: CaseOffence) -> dict:
    """``j:OffenseType``: the offence in words, and its ICCS code as an identification."""
    return compact(
        {
            "j:OffenseCategoryText": str(iccs.label(offence.code)),
            "j:OffenseAttemptedIndicator": True if offence.code == "0102" else None,
            "fns:OffenseICCSIdentification": identification(offence.code, "ICCS"),
        }
    )


def person_type(person: Person, position: int) -> dict:
    """``nc:PersonType``: a person involved, with their role in the case (``fns:``, see docs/niem.md)."""
    age = {"nc:MeasureIntegerValue": person.age, "nc:MeasureUnitText": "year"} if person.age is not None else None
    return compact(
        {
            "@id": f"#person-{position}",
            "nc:PersonName": {"nc:PersonFullName": person.name},
            "nc:PersonSexText": person.sex,
            "nc:PersonAgeMeasure": age,
            "nc:PersonBirthDate": day(person.date_of_birth),
            "fns:PersonCaseRoleCode": person.role,
            "fns:RelationshipToVictimCode": person.relationship_to_victim,
        }
    )


def custody_transfer_type(event: CustodyEvent) -> dict:
    """``j:CustodyTransferType``: one link of an item's chain of custody, with its hash (``fns:``)."""
    return compact(
        {
            "nc:ActivitySequenceNumeric": event.sequence,
            "nc:ActivityDate": date_time(event.occurred_at),
            "j:CustodyTransferActionText": event.purpose,
            "j:CustodyTransferReleasingEnforcementOfficial": person_name(event.released_by_name),
            "j:CustodyTransferReceivingEnforcementOfficial": person_name(event.received_by_name),
            "nc:ActivityLocation": {"nc:LocationDescriptionText": event.location} if event.location else None,
            "nc:ActivityDescriptionText": event.note,
            "fns:SealNumberText": event.seal_number,
            "fns:SealStatusCode": event.seal_status,
            "fns:ItemConditionText": event.condition,
            "fns:WitnessName": event.witness_name,
            "fns:CustodyEventHashText": event.hash,
            "fns:PreviousCustodyEventHashText": event.prev_hash,
        }
    )


def item_type(item: Item) -> dict:
    """``nc:ItemType`` (as ``j:EvidenceItem``): the physical thing, identified by its ``@id``."""
    amount = None
    if item.amount_received is not None:
        amount = {"nc:MeasureDecimalValue": number(item.amount_received), "nc:MeasureUnitText": item.amount_unit}
    return compact(
        {
            "@id": item_ref(item),
            "nc:ItemCategoryText": item.type,
            "nc:ItemDescriptionText": item.description,
            "nc:ItemQuantity": item.quantity,
            "nc:ItemConditionText": item.condition_at_receipt,
            "nc:ItemStatus": status(item.status),
            "fns:PackagingText": item.packaging,
            "fns:BiologicalMaterialIndicator": item.biological,
            "fns:AmountReceivedMeasure": amount,
        }
    )


def evidence_type(item: Item) -> dict:
    """``j:EvidenceType``: an item as evidence, with its receipt, collection, seal and chain of custody."""
    ibis = [str(result.data[IBIS_FIELD]) for result in getattr(item, "ibis_results", []) if result.data.get(IBIS_FIELD)]
    return compact(
        {
            "j:EvidenceItem": item_type(item),
            "j:EvidenceNumberIdentification": identification(item.label, "Item number"),
            "j:EvidenceCollector": person_name(item.collected_by),
            "j:EvidenceTakenLocation": (
                {"nc:LocationDescriptionText": item.collected_place} if item.collected_place else None
            ),
            "j:EvidenceReturnedIndicator": item.status == ItemStatus.RETURNED,
            "j:IBISNumberText": list(dict.fromkeys(ibis)),
            "j:EvidenceCustodyTransfer": [custody_transfer_type(event) for event in item.custody_events.all()],
            "fns:EvidenceReceiptDate": date_time(item.received_at),
            "fns:EvidenceCollectionDate": date_time(item.collected_at),
            "fns:SealNumberText": item.seal_number,
            "fns:ParentEvidence": {"@id": item_ref(item.parent)} if item.parent_id else None,
            "fns:DerivationReasonText": item.derivation_reason,
            "fns:LegalHoldIndicator": item.legal_hold,
            "fns:CurrentCustodianName": item.holder_name,
            "fns:CurrentStorageLocationText": item.location.path if item.location_id else None,
        }
    )


def forensic_specimen_type(item: Item) -> dict:
    """``j:ForensicSpecimenType``: an item examined. Its ``@id`` is the evidence item's: the same thing."""
    return {"@id": item_ref(item), "j:ForensicSpecimenCategoryText": item.type}


def _examination(request: ServiceRequest) -> Examination | None:
    try:
        return request.examination
    except Examination.DoesNotExist:
        return None


def forensic_test_type(request: ServiceRequest) -> dict:
    """``j:TestType`` (and its ``j:DrugTestType`` and ``j:DNATestType`` extensions): one request's examination,
    where it stands and when each stage was reached. Results are in the released report, not here."""
    examination = _examination(request)
    method = examination.method if examination else None
    return compact(
        {
            "@id": request_ref(request.pk),
            "nc:ActivityIdentification": identification(str(request.pk), "Request number"),
            "nc:ActivityCategoryText": request.discipline.code,
            "nc:ActivityName": str(request.discipline),
            "nc:ActivityStatus": status(request.status),
            "nc:ActivityCompletedIndicator": request.status == RequestStatus.RELEASED,
            "nc:ActivityDate": date_time(request.requested_at),
            "j:TestMethodText": f"{method.name} ({method.code} v{method.version})" if method else None,
            "j:ForensicSpecimen": [forensic_specimen_type(item) for item in request.items.all()],
            "fns:ParentRequest": {"@id": request_ref(request.parent_id)} if request.parent_id else None,
            "fns:PriorityCode": Priority(request.priority).name.lower(),
            "fns:CourtDate": day(request.court_date),
            "fns:AssignedDate": date_time(request.assigned_at),
            "fns:ExaminationStartedDate": date_time(request.started_at),
            "fns:DraftCompletedDate": date_time(request.draft_completed_at),
            "fns:TechnicalReviewDate": date_time(request.technical_reviewed_at),
            "fns:AdministrativeReviewDate": date_time(request.administrative_reviewed_at),
            "fns:ReleasedDate": date_time(request.released_at),
            "fns:CancelledDate": date_time(request.cancelled_at),
        }
    )


def test_property(request: ServiceRequest) -> str:
    """The property a request's examination is listed under: ``j:DrugTest``, ``j:DNATest`` or the extension's."""
    code = request.discipline.code
    if code in DRUG_TEST_DISCIPLINES:
        return "j:DrugTest"
    if code in DNA_TEST_DISCIPLINES:
        return "j:DNATest"
    return "fns:ForensicExamination"


def document_type(report: Report, version: ReportVersion, *, pdf_url: str = "") -> dict:
    """``nc:DocumentType``: one released version of a report, with the SHA-256 of its signed PDF."""
    return compact(
        {
            "nc:DocumentIdentification": identification(report.number, "Report number"),
            "nc:DocumentSequenceID": str(version.version),
            "nc:DocumentCategoryDescriptionText": report.kind,
            "nc:DocumentIssueDate": date_time(version.issued_at),
            "nc:DocumentFileName": version.filename,
            "nc:DocumentLocationURI": pdf_url,
            "j:BinaryHashValue": {"j:HashValueText": version.sha256, "j:HashValueMethodAlgorithmText": "SHA-256"},
            "fns:DocumentLanguageCode": version.language,
            "fns:AmendmentReasonText": version.amendment_reason,
            "fns:SupersedesVersionNumeric": version.version - 1 if version.supersedes_id else None,
            "fns:ReportedExamination": {"@id": request_ref(report.request_id)} if report.request_id else None,
        }
    )


def _released_autopsy(investigation: DeathInvestigation) -> AutopsyRecord | None:
    """The autopsy record when its report is released (a record under amendment is not: it may be changing)."""
    try:
        autopsy = investigation.autopsy
    except AutopsyRecord.DoesNotExist:
        return None
    return autopsy if autopsy.examination.request.status == RequestStatus.RELEASED else None


def cause_of_death_assessment_type(investigation: DeathInvestigation) -> dict:
    """``j:CauseOfDeathAssessmentType``: the manner and the cause-of-death chain with ICD-10 codes, once the
    autopsy is released; before that only that an assessment is pending."""
    autopsy = _released_autopsy(investigation)
    assessment = {
        "nc:ActivityIdentification": identification(investigation.number, "Death investigation number"),
        "nc:AssessmentPerson": {"nc:PersonName": {"nc:PersonFullName": investigation.decedent}},
        "nc:ActivityStatus": status("released" if autopsy else "pending"),
        "nc:ActivityCompletedIndicator": autopsy is not None,
    }
    if autopsy is not None:
        assessment.update(
            {
                "nc:ActivityDate": day(autopsy.performed_on),
                "j:CauseOfDeathAssessmentAutopsyPerformedIndicator": autopsy.type == "full",
                "j:CauseOfDeathAssessmentImmediateCauseText": autopsy.immediate_cause,
                "fns:ImmediateCauseICD10Code": autopsy.immediate_icd10,
                "fns:AntecedentCauseText": autopsy.antecedent_cause,
                "fns:AntecedentCauseICD10Code": autopsy.antecedent_icd10,
                "j:CauseOfDeathAssessmentUnderlyingConditionText": autopsy.underlying_cause,
                "fns:UnderlyingCauseICD10Code": autopsy.underlying_icd10,
                "j:CauseOfDeathAssessmentOtherSignificantConditionsText": autopsy.contributing_conditions,
                "j:CauseOfDeathHomicideIndicator": autopsy.manner == Manner.HOMICIDE,
                "fns:MannerOfDeathCode": autopsy.manner,
                "fns:MechanismOfDeathCode": autopsy.mechanism,
            }
        )
    return compact(assessment)


def case_document(rows: CaseRows, *, pdf_url=None) -> dict:
    """The whole document: ``@context``, then the case and everything about it.

    ``pdf_url(report, version)`` gives a report version's download address (the view passes one that builds
    absolute URLs); without it the address is left out.
    """
    case = rows.case
    tests: dict[str, list[dict]] = {"j:DrugTest": [], "j:DNATest": [], "fns:ForensicExamination": []}
    for request in rows.requests:
        tests[test_property(request)].append(forensic_test_type(request))
    documents = [
        document_type(report, version, pdf_url=pdf_url(report, version) if pdf_url else "")
        for report in rows.reports
        for version in report.versions.all()
    ]
    return {
        "@context": CONTEXT,
        **compact(
            {
                "fns:DocumentCreationDate": date_time(timezone.now()),
                "nc:Case": case_type(case),
                "nc:Incident": incident_type(case),
                "j:Offense": [offense_type(offence) for offence in case.offences.all()],
                "nc:Person": [person_type(person, n) for n, person in enumerate(case.people.all(), start=1)],
                "j:Evidence": [evidence_type(item) for item in rows.items],
                **tests,
                "nc:Document": documents,
                "j:CauseOfDeathAssessment": [cause_of_death_assessment_type(death) for death in rows.deaths],
            }
        ),
    }


# --- the view -------------------------------------------------------------------------------------------------

EXAMPLE = {
    "@context": CONTEXT,
    "fns:DocumentCreationDate": {"nc:DateTime": "2026-03-02T15:04:05Z"},
    "nc:Case": {
        "nc:ActivityIdentification": {
            "nc:IdentificationID": "NFS-2026-00042",
            "nc:IdentificationCategoryDescriptionText": "Laboratory case number",
        },
        "nc:CaseTrackingID": "NFS-2026-00042",
        "j:CaseAugmentation": {
            "j:CaseOtherIdentification": {
                "nc:IdentificationID": "CY-TR-2026-0102",
                "nc:IdentificationCategoryDescriptionText": "Agency case number",
                "nc:IdentificationIssuerText": "POL-CY",
            }
        },
        "fns:CaseReceiptDate": {"nc:DateTime": "2026-03-01T16:20:00Z"},
        "fns:SubmittingAgencyCode": "POL-CY",
        "fns:MigratedIndicator": False,
    },
    "j:Offense": [
        {
            "j:OffenseCategoryText": "Driving under the influence of alcohol or drugs",
            "fns:OffenseICCSIdentification": {
                "nc:IdentificationID": "02072",
                "nc:IdentificationCategoryDescriptionText": "ICCS",
            },
        }
    ],
    "j:Evidence": [
        {
            "j:EvidenceItem": {
                "@id": "#item-NFS-2026-00042/01",
                "nc:ItemCategoryText": "blood",
                "nc:ItemDescriptionText": "Blood sample, grey-top tube",
                "nc:ItemQuantity": 1,
                "nc:ItemStatus": {"nc:StatusText": "in_custody"},
            },
            "j:EvidenceNumberIdentification": {
                "nc:IdentificationID": "NFS-2026-00042/01",
                "nc:IdentificationCategoryDescriptionText": "Item number",
            },
            "j:EvidenceReturnedIndicator": False,
            "j:EvidenceCustodyTransfer": [
                {
                    "nc:ActivitySequenceNumeric": 1,
                    "nc:ActivityDate": {"nc:DateTime": "2026-03-01T16:20:00Z"},
                    "j:CustodyTransferActionText": "receipt",
                    "j:CustodyTransferReleasingEnforcementOfficial": {
                        "nc:PersonName": {"nc:PersonFullName": "Cpl. Ana Ruiz"}
                    },
                    "j:CustodyTransferReceivingEnforcementOfficial": {
                        "nc:PersonName": {"nc:PersonFullName": "Evidence Custodian"}
                    },
                    "fns:SealNumberText": "T-1",
                    "fns:SealStatusCode": "intact",
                    "fns:CustodyEventHashText": "9f2c…",
                    "fns:PreviousCustodyEventHashText": "0000…",
                }
            ],
            "fns:EvidenceReceiptDate": {"nc:DateTime": "2026-03-01T16:20:00Z"},
            "fns:SealNumberText": "T-1",
        }
    ],
    "j:DrugTest": [
        {
            "@id": "#request-17",
            "nc:ActivityIdentification": {
                "nc:IdentificationID": "17",
                "nc:IdentificationCategoryDescriptionText": "Request number",
            },
            "nc:ActivityCategoryText": "toxicology",
            "nc:ActivityStatus": {"nc:StatusText": "released"},
            "nc:ActivityCompletedIndicator": True,
            "j:TestMethodText": "Blood alcohol by headspace GC-FID (TOX-BAC-HS v4.2)",
            "j:ForensicSpecimen": [{"@id": "#item-NFS-2026-00042/01", "j:ForensicSpecimenCategoryText": "blood"}],
            "fns:ReleasedDate": {"nc:DateTime": "2026-03-02T14:00:00Z"},
        }
    ],
    "nc:Document": [
        {
            "nc:DocumentIdentification": {
                "nc:IdentificationID": "R-2026-00017",
                "nc:IdentificationCategoryDescriptionText": "Report number",
            },
            "nc:DocumentSequenceID": "1",
            "nc:DocumentCategoryDescriptionText": "examination",
            "nc:DocumentIssueDate": {"nc:DateTime": "2026-03-02T14:00:00Z"},
            "j:BinaryHashValue": {"j:HashValueText": "3a7b…", "j:HashValueMethodAlgorithmText": "SHA-256"},
            "fns:ReportedExamination": {"@id": "#request-17"},
        }
    ],
}


class NiemCaseView(ForensisAPIMixin, generics.GenericAPIView):
    """A visible case as a NIEM 6 JSON-LD document: people, evidence and custody, examinations, released reports
    and, for a death, the cause-of-death assessment (docs/niem.md has the mapping)."""

    resource = Resource.CASES
    permission_required = "cases.view_case"
    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        operation_id="cases_niem_retrieve",
        tags=["cases"],
        responses={
            200: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                description="NIEM 6 JSON (JSON-LD): `@context` maps `nc` (NIEM Core), `j` (Justice) and `fns` "
                "(Forensis extension). Times are ISO 8601 UTC.",
                examples=[OpenApiExample("A toxicology case with its released report", value=EXAMPLE)],
            ),
            401: OpenApiResponse(description="No, an unknown, an expired or a revoked token."),
            403: OpenApiResponse(description="The token was not issued for cases, or the person may not see cases."),
            404: OpenApiResponse(description="No such case, or not visible to this agency."),
            429: OpenApiResponse(description="Over the token's rate limit; wait `Retry-After` seconds."),
        },
    )
    def get(self, request, lab_number: str):
        rows = fetch(request.user, lab_number)

        def pdf_url(report: Report, version: ReportVersion) -> str:
            path = reverse("api:report-pdf", kwargs={"number": report.number}) + f"?version={version.version}"
            return request.build_absolute_uri(path)

        return Response(case_document(rows, pdf_url=pdf_url))
