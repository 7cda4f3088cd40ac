"""Helpers shared by the evidence tests."""

from datetime import timedelta

from django.utils import timezone

from forensis.evidence.models import Item
from forensis.intake import services
from forensis.intake.services import ItemCheck, ItemData
from forensis.lab.models import Discipline


def receive_case(
    officer,
    custodian,
    *,
    offences=("0201",),
    items=(("swab", "Swab from door handle", True),),
    discipline="serology",
    agency_case_number="",
):
    """A submission received at the laboratory through the intake services; its items, held by ``custodian``."""
    requested = Discipline.objects.get(code=discipline)
    submission = services.create_submission(officer)
    services.update_submission(
        officer,
        submission,
        fields={
            "agency_case_number": agency_case_number or f"BZ-{'-'.join(offences)}",
            "offence_codes": list(offences),
            "incident_at": timezone.now() - timedelta(days=2),
            "district": "BZ",
        },
        people=[],
        items=[
            ItemData({"type": kind, "description": description, "biological": biological}, [requested])
            for kind, description, biological in items
        ],
    )
    services.submit_submission(officer, submission)
    case = services.receive_submission(
        custodian,
        submission,
        handed_over_by=officer,
        checks={listed.pk: ItemCheck() for listed in submission.items.all()},
    )
    return list(Item.objects.filter(case=case).order_by("number"))
