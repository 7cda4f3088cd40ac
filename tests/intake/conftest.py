from datetime import timedelta

import pytest
from django.utils import timezone

from forensis.accounts.roles import Role
from forensis.intake import services
from forensis.intake.models import Kit
from forensis.lab.models import Discipline


def item(description="Blue T-shirt", seal="S-1", disciplines=("serology",), **fields):
    return services.ItemData(
        {
            "type": fields.pop("type", "clothing"),
            "description": description,
            "quantity": 1,
            "seal_number": seal,
            **fields,
        },
        list(Discipline.objects.filter(code__in=disciplines)),
    )


CASE_FIELDS = {
    "agency_case_number": "BZ-CR-2026-0042",
    "offence_codes": ["0101"],
    "district": "BZ",
    "town": "Belize City",
    "narrative": "Shooting on Mahogany Street.",
}


@pytest.fixture
def custodian(make_user):
    return make_user(Role.EVIDENCE_CUSTODIAN, username="custodian")


@pytest.fixture
def draft(officer):
    submission = services.create_submission(officer)
    return services.update_submission(
        officer,
        submission,
        fields={**CASE_FIELDS, "incident_at": timezone.now() - timedelta(days=1)},
        people=[{"role": "victim", "name": "John Doe", "sex": "M", "age": 31}],
        items=[item(), item("Swab from door handle", seal="S-2", disciplines=("dna", "serology"), type="swab")],
    )


@pytest.fixture
def submitted(officer, draft):
    return services.submit_submission(officer, draft)


@pytest.fixture
def checks_all_fine(submitted):
    return {i.pk: services.ItemCheck() for i in submitted.items.all()}


@pytest.fixture
def kit():
    return Kit.objects.get(name="Firearm and ammunition set")
