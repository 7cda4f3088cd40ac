"""Opening cases and numbering them."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from forensis.accounts.models import Agency, User
from forensis.audit.services import record
from forensis.core import iccs
from forensis.core.models import yearly_number

from .models import Case, CaseOffence


def lab_month(moment) -> str:
    """'YYYY-MM' of a moment in the laboratory's time zone (what statistics group by)."""
    return timezone.localtime(moment).strftime("%Y-%m")


def matching_cases(agency: Agency, agency_case_number: str):
    """Cases of the same agency under the same agency case number (offered at receipt, never merged silently)."""
    return Case.objects.filter(agency=agency, agency_case_number__iexact=agency_case_number.strip())


@transaction.atomic
def open_case(actor: User, *, agency: Agency, agency_case_number: str, received_at, **fields) -> Case:
    case = Case.objects.create(
        lab_number=yearly_number(settings.FORENSIS_CASE_PREFIX, "case", received_at),
        agency=agency,
        agency_case_number=agency_case_number.strip(),
        received_at=received_at,
        received_month=lab_month(received_at),
        created_by=actor,
        **fields,
    )
    record(
        "case.opened",
        actor=actor,
        obj=case,
        after={"lab_number": case.lab_number, "agency": agency.code, "agency_case_number": agency_case_number},
    )
    return case


def add_offences(case: Case, codes: list[str]) -> None:
    for code in codes:
        if iccs.is_known(code):
            CaseOffence.objects.get_or_create(case=case, code=code)
