"""The kinds of report a released request issues, and how each kind is gathered and rendered.

An examination issues its examination report; an autopsy (the pathology request) issues the autopsy report and
the cause-of-death certificate. Each kind gathers its content as plain data (hashed: the fingerprint printed in
each page's QR code) and renders that data, and only that, to PDF.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from forensis.deaths import content as death_content
from forensis.deaths import documents as death_documents
from forensis.lab.models import ServiceRequest
from forensis.lab.services import AUTOPSY_DISCIPLINE

from .content import report_content
from .documents import render_examination_report
from .models import ReportKind


@dataclass(frozen=True)
class Kind:
    #: (request, *, number, version, language, issued_at, amendment) → the content dictionary.
    gather: Callable[..., dict[str, Any]]
    #: (content, content hash) → PDF bytes (unsigned).
    render: Callable[[dict[str, Any], str], bytes]


KINDS: dict[str, Kind] = {
    ReportKind.EXAMINATION: Kind(report_content, render_examination_report),
    ReportKind.AUTOPSY: Kind(death_content.autopsy_content, death_documents.render_autopsy_report),
    ReportKind.DEATH_CERTIFICATE: Kind(death_content.certificate_content, death_documents.render_death_certificate),
}


def kinds_for(request: ServiceRequest) -> list[str]:
    """The reports a released request issues, in the order they are numbered."""
    if request.discipline.code == AUTOPSY_DISCIPLINE:
        return [ReportKind.AUTOPSY, ReportKind.DEATH_CERTIFICATE]
    return [ReportKind.EXAMINATION]
