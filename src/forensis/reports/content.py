"""What an examination report says, gathered once as plain data.

The same dictionary is hashed (the content hash printed in every page's QR code) and rendered to PDF, so
the hash stands for exactly what the report shows. Values are stored as codes and raw values; the renderer
turns them into words in the report's language.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from django.conf import settings

from forensis.accounts.roles import Role
from forensis.lab.models import Result, ServiceRequest, SignatureMeaning


def report_language(case) -> str:
    """The language the case's agency receives its reports in (a language the laboratory offers)."""
    language = case.agency.report_language
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _items(request: ServiceRequest) -> list[dict[str, Any]]:
    rows = []
    items = request.items.select_related("submission_item").prefetch_related("shipments").order_by("number", "pk")
    for item in items:
        receipt = getattr(item, "submission_item", None)
        rows.append(
            {
                "label": item.label,
                "description": item.description,
                "type": item.type,
                "seal_number": item.seal_number,
                "seal_status": receipt.seal_status if receipt else "",
                "condition": item.condition_at_receipt,
                "deviation": receipt.deviation_note if receipt else "",
                "received_at": when(item.received_at),
                "external_laboratories": sorted({s.laboratory for s in item.shipments.all()}),
            }
        )
    return rows


def signatures(request: ServiceRequest) -> list[dict[str, Any]]:
    """The signatures of the released draft: its author's, both reviews' and the release.

    Signatures given to earlier drafts (sent back, or before an amendment) signed other content and are left out.
    """
    signatures = request.signatures.select_related("signer").order_by("signed_at", "pk")
    authored = signatures.filter(meaning=SignatureMeaning.AUTHORED).last()
    if authored is not None:
        signatures = signatures.filter(signed_at__gte=authored.signed_at)
    return [
        {
            "name": signature.signer_name,
            "roles": [code for code in signature.signer.role_codes if code in Role.values],
            "meaning": signature.meaning,
            "signed_at": when(signature.signed_at),
            "content_hash": signature.content_hash,
        }
        for signature in signatures
    ]


def report_content(
    request: ServiceRequest, *, number: str, version: int, language: str, issued_at: datetime, amendment: dict | None
) -> dict[str, Any]:
    """The report of a released request as plain, JSON-serialisable data."""
    case = request.case
    examination = request.examination
    officers = sorted(
        {
            str(submission.submitting_officer)
            for submission in case.submissions.select_related("submitting_officer")
            if submission.submitting_officer_id
        }
    )
    results = (
        Result.objects.filter(examination=examination, is_current=True).select_related("item").order_by("item__number")
    )
    return {
        "number": number,
        "version": version,
        "language": language,
        "issued_at": when(issued_at),
        "laboratory": {"name": settings.FORENSIS_LAB_NAME, "address": settings.FORENSIS_LAB_ADDRESS},
        "customer": {"agency": case.agency.name, "agency_code": case.agency.code, "officers": officers},
        "case": {
            "lab_number": case.lab_number,
            "agency_case_number": case.agency_case_number,
            "received_at": when(case.received_at),
            "offences": list(case.offences.values_list("code", flat=True)),
        },
        "request": {
            "id": request.pk,
            "discipline": request.discipline.code,
            "discipline_name": request.discipline.name,
            "outsourced": request.discipline.outsourced,
            "requested_at": when(request.requested_at),
        },
        "items": _items(request),
        "examination": {
            "started_at": when(examination.started_at),
            "completed_at": when(request.draft_completed_at),
            "method": {
                "code": examination.method.code,
                "name": examination.method.name,
                "version": examination.method.version,
            },
            "instrument": str(examination.instrument or ""),
            "reagent_lots": sorted(str(lot) for lot in examination.reagent_lots.all()),
            "deviations": examination.deviations,
        },
        "results": [{"item": r.item.label, "version": r.version, "data": r.data} for r in results],
        "signatures": signatures(request),
        "amendment": amendment,
    }


def content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
