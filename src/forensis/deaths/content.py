"""What an autopsy report and a cause-of-death certificate say, gathered once as plain data.

As for examination reports (``reports.content``), the same dictionary is hashed (the fingerprint in each
page's QR code) and rendered, so the fingerprint stands for exactly what the pages say. Values are codes and
raw values; the renderer (``deaths.documents``) turns them into words in the report's language.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings

from forensis.core import icd10
from forensis.evidence.models import Purpose
from forensis.lab.models import RequestStatus, Result, ServiceRequest
from forensis.reports.content import signatures, when

from .models import AutopsyRecord, DeathInvestigation


def _decedent(investigation: DeathInvestigation) -> dict[str, Any]:
    return {
        "number": investigation.number,
        "identified": investigation.identified,
        "name": investigation.decedent_name,
        "tag_number": investigation.tag_number,
        "sex": investigation.sex,
        "age": investigation.age,
        "age_min": investigation.age_min,
        "age_max": investigation.age_max,
        "nationality": investigation.nationality,
        "pregnancy": investigation.pregnancy,
        "death_at": when(investigation.death_at),
        "death_time_estimated": investigation.death_time_estimated,
        "district": investigation.district,
        "death_place": investigation.death_place,
        "discovered_at": when(investigation.discovered_at),
        "discovery_place": investigation.discovery_place,
    }


def _causes(autopsy: AutopsyRecord) -> list[dict[str, str]]:
    """Part I of the certificate: the chain from the immediate to the underlying cause, with WHO titles."""
    lines = []
    for line, text_field, code_field in AutopsyRecord.CAUSE_CHAIN:
        text, code = getattr(autopsy, text_field), getattr(autopsy, code_field)
        if text or code:
            lines.append({"line": line, "text": text, "code": code, "title": icd10.describe(code) if code else ""})
    return lines


def _body(investigation: DeathInvestigation) -> dict[str, Any]:
    body = investigation.body
    receipt = body.custody_events.filter(purpose=Purpose.RECEIPT).order_by("sequence").first()
    return {
        "label": body.label,
        "seal_number": body.seal_number,
        "condition": body.condition_at_receipt,
        "received_at_morgue": when(receipt.occurred_at) if receipt else None,
        "received_from": receipt.released_by_name if receipt else "",
    }


def _ancillary(request: ServiceRequest) -> list[dict[str, Any]]:
    """The tests raised from the autopsy; results are shown only once their own report is released."""
    rows = []
    children = request.children.select_related("discipline").prefetch_related("items", "reports").order_by("pk")
    for child in children:
        released = child.status == RequestStatus.RELEASED
        results = (
            Result.objects.filter(examination__request=child, is_current=True).select_related("item").order_by("pk")
            if released
            else []
        )
        rows.append(
            {
                "discipline": child.discipline.code,
                "discipline_name": child.discipline.name,
                "items": sorted(item.label for item in child.items.all()),
                "status": child.status,
                "reports": sorted(report.number for report in child.reports.all()),
                "results": [{"item": r.item.label, "data": r.data} for r in results],
            }
        )
    return rows


def autopsy_content(
    request: ServiceRequest, *, number: str, version: int, language: str, issued_at: datetime, amendment: dict | None
) -> dict[str, Any]:
    """The autopsy report of a released pathology request as plain, JSON-serialisable data."""
    examination = request.examination
    autopsy: AutopsyRecord = examination.autopsy
    investigation = autopsy.investigation
    case = request.case
    return {
        "kind": "autopsy",
        "number": number,
        "version": version,
        "language": language,
        "issued_at": when(issued_at),
        "laboratory": {"name": settings.FORENSIS_LAB_NAME, "address": settings.FORENSIS_LAB_ADDRESS},
        "customer": {"agency": case.agency.name, "agency_code": case.agency.code},
        "case": {
            "lab_number": case.lab_number,
            "agency_case_number": case.agency_case_number,
            "offences": list(case.offences.values_list("code", flat=True)),
        },
        "decedent": _decedent(investigation),
        "body": _body(investigation),
        "autopsy": {
            "performed_on": autopsy.performed_on.isoformat(),
            "type": autopsy.type,
            "pathologist": str(examination.analyst),
            "method": {
                "code": examination.method.code,
                "name": examination.method.name,
                "version": examination.method.version,
            },
            "findings": autopsy.findings,
            "causes": _causes(autopsy),
            "contributing_conditions": autopsy.contributing_conditions,
            "manner": autopsy.manner,
            "mechanism": autopsy.mechanism,
        },
        "ancillary": _ancillary(request),
        "signatures": signatures(request),
        "amendment": amendment,
    }


#: What the cause-of-death certificate leaves out of the autopsy report: the findings and the ancillary tests.
_CERTIFICATE_OMITS = ("findings", "method")


def certificate_content(
    request: ServiceRequest, *, number: str, version: int, language: str, issued_at: datetime, amendment: dict | None
) -> dict[str, Any]:
    """The cause-of-death certificate: who died, when and where, the cause chain, the manner, who certifies."""
    report = autopsy_content(
        request, number=number, version=version, language=language, issued_at=issued_at, amendment=amendment
    )
    report["kind"] = "death_certificate"
    report["autopsy"] = {key: value for key, value in report["autopsy"].items() if key not in _CERTIFICATE_OMITS}
    del report["ancillary"], report["body"]
    return report
