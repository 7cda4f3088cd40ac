"""What the fault tests' database holds, as code run by ``forensis shell -c`` in the server's own environment.

``SETUP`` is run once, after migrating and loading the demo (``seed-demo``): it brings the demo's casework to the
point where each operation under test is one request away, through the same services the screens use, and prints
what the tests need (database keys, the checklist to answer) as one JSON line. ``FACTS`` is run after each step:
it runs ``forensis audit verify`` and ``forensis custody verify`` (the commands themselves; a broken chain fails
the run) and prints, as one JSON line, everything the tests assert on.
"""

from __future__ import annotations

SETUP = r"""
import json
from datetime import timedelta

from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

call_command("migrate", interactive=False, verbosity=0)
call_command("signing_key", self_signed=True, if_missing=True, verbosity=0)
call_command("seed_demo", verbosity=0)

from forensis.accounts.models import User
from forensis.evidence import services as evidence
from forensis.evidence.models import Item, Purpose
from forensis.intake import services as intake
from forensis.intake.models import Kit, Submission
from forensis.lab import services as lab
from forensis.lab.models import Instrument, Method, ReagentLot, ReviewStage, ServiceRequest

users = {user.username: user for user in User.objects.all()}
manager, analyst, reviewer = users["manager"], users["analyst"], users["reviewer"]
custodian, officer = users["custodian"], users["officer"]
BLOOD_ALCOHOL = {"analyte": "Ethanol", "concentration": "0.085", "unit": "g/100mL", "uncertainty": "0.004"}


def drafted(request):
    lab.assign(manager, request, analyst)
    lab.start_examination(
        analyst,
        request,
        method=Method.objects.get(code="TOX-BAC-HS"),
        instrument=Instrument.objects.get(serial_number="US2201A001"),
        reagent_lots=[ReagentLot.objects.get(lot_number="NP-2611")],
    )
    request = ServiceRequest.objects.get(pk=request.pk)
    for item in request.items.all():
        lab.record_result(analyst, request, item, BLOOD_ALCOHOL)
    return lab.complete_draft(analyst, request, reauthenticated=True)


def approved(request, person, stage):
    checklist = {str(q.pk): True for q in lab.checklist_for(request, stage)}
    lab.review(person, request, stage=stage, approve=True, checklist=checklist, reauthenticated=True)
    return ServiceRequest.objects.get(pk=request.pk)


with transaction.atomic():
    # To review: the Cayo driver's blood sample, its draft signed by the analyst.
    to_review = drafted(
        ServiceRequest.objects.get(case__agency_case_number="CY-TR-2026-0102", discipline__code="toxicology")
    )
    # To release: the Belize driver's pre-log, submitted, received, drafted and reviewed twice.
    prelog = Submission.objects.get(agency_case_number="BZ-TR-2026-0077")
    prelog = intake.submit_submission(officer, prelog)
    case = intake.receive_submission(
        custodian, prelog, checks={i.pk: intake.ItemCheck() for i in prelog.items.all()}, handed_over_by=officer
    )
    to_release = drafted(case.requests.get(discipline__code="toxicology"))
    to_release = approved(to_release, reviewer, ReviewStage.TECHNICAL)
    to_release = approved(to_release, manager, ReviewStage.ADMINISTRATIVE)
    # To accept: two items of the shooting case, offered by the custodian to the analyst (waiting in her queue).
    items = list(Item.objects.filter(case__agency_case_number="BZ-CR-2026-0311").order_by("pk")[:2])
    transfer = evidence.hand_over(custodian, items, analyst, purpose=Purpose.ANALYSIS, confirmed_in_person=False)

print(json.dumps({
    "review": {
        "request": to_review.pk,
        "checklist": [q.pk for q in lab.checklist_for(to_review, ReviewStage.TECHNICAL)],
    },
    "release": {"request": to_release.pk},
    "transfer": {"pk": transfer.pk, "items": [item.pk for item in items]},
    "kit": Kit.objects.get(name="Toxicology kit (driving)").pk,
}))
"""

FACTS = r"""
import io
import json
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import models

from forensis.accounts.models import User
from forensis.audit.models import AuditEvent
from forensis.core.models import Counter
from forensis.evidence.models import CustodyEvent, Item, Transfer
from forensis.evidence.services import gap_check
from forensis.intake.models import Submission
from forensis.lab.models import RequestTransition, Review, ServiceRequest, Signature
from forensis.reports.models import Report, ReportVersion

out = io.StringIO()
call_command("audit", "verify", stdout=out)
call_command("custody", "verify", stdout=out)

stored = set()
missing = []
for model in apps.get_models():
    for field in model._meta.get_fields():
        if isinstance(field, models.FileField):
            for name in model.objects.exclude(**{field.name: ""}).values_list(field.name, flat=True):
                stored.add(name)
                if not (Path(settings.MEDIA_ROOT) / name).is_file():
                    missing.append(f"{model._meta.label}.{field.name}: {name}")
media = Path(settings.MEDIA_ROOT)
on_disk = {str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()} if media.exists() else set()


def request_facts(pk):
    request = ServiceRequest.objects.get(pk=pk)
    return {
        "status": request.status,
        "reviews": list(Review.objects.filter(request=request).values_list("stage", "approved")),
        "signatures": sorted(Signature.objects.filter(request=request).values_list("meaning", flat=True)),
        "transitions": RequestTransition.objects.filter(request=request).count(),
        "reports": list(Report.objects.filter(request=request).values_list("number", flat=True)),
        "versions": [
            {"number": v.report.number, "version": v.version, "sha256": v.sha256, "file": v.file.name}
            for v in ReportVersion.objects.filter(report__request=request).select_related("report")
        ],
    }


officer = User.objects.get(username="officer")
print(json.dumps({
    "rows": {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
    },
    "verified": out.getvalue(),
    "audit": dict(AuditEvent.objects.values_list("action").annotate(n=models.Count("id"))),
    "audit_events": AuditEvent.objects.count(),
    "counters": dict(Counter.objects.values_list("key", "value")),
    "custody_events": CustodyEvent.objects.count(),
    "gaps": gap_check(),
    "requests": {str(r.pk): request_facts(r.pk) for r in ServiceRequest.objects.all()},
    "transfers": {str(t.pk): t.status for t in Transfer.objects.all()},
    "items": {
        str(i.pk): {"holder": i.holder.username if i.holder else None, "sequence": i.custody_sequence}
        for i in Item.objects.select_related("holder")
    },
    "submissions": sorted(Submission.objects.filter(created_by=officer).values_list("reference", flat=True)),
    "submission_items": {s.reference: s.items.count() for s in Submission.objects.filter(created_by=officer)},
    "files": {"missing": missing, "orphans": sorted(on_disk - stored)},
}, default=str))
"""
