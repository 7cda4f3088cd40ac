from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db.models import Max, Prefetch
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render

from forensis.audit.services import record, record_read
from forensis.evidence.documents import render_custody_report
from forensis.evidence.labels import render_labels
from forensis.evidence.models import CustodyEvent, Item
from forensis.intake.views import pdf_response

from .models import Case


def visible_case(request, lab_number: str) -> Case:
    return get_object_or_404(Case.objects.visible_to(request.user).select_related("agency"), lab_number=lab_number)


@login_required
@permission_required("cases.view_case", raise_exception=True)
def case_detail(request, lab_number: str):
    case = visible_case(request, lab_number)
    record_read(request.user, "case.viewed", obj=case)
    items = case.items.prefetch_related(
        Prefetch("custody_events", queryset=CustodyEvent.objects.order_by("sequence"))
    ).select_related("submission_item")
    return render(
        request,
        "cases/case_detail.html",
        {
            "case": case,
            "offences": case.offences.all(),
            "people": case.people.all(),
            "items": items,
            "requests": case.requests.select_related("discipline").prefetch_related("items"),
            "reports": case.reports.select_related("request__discipline").annotate(
                latest_version=Max("versions__version"), latest_issued=Max("versions__issued_at")
            ),
            "submissions": case.submissions.select_related("submitting_officer", "received_by"),
            "legacy_results": case.legacy_results.select_related("item", "discipline"),
        },
    )


def _item_asked(request) -> str:
    """The item label of ``?item=``, without NUL characters (no label has one; PostgreSQL refuses them)."""
    return request.GET.get("item", "").replace("\x00", "")


@login_required
@permission_required("cases.view_case", raise_exception=True)
def labels_pdf(request, lab_number: str):
    """One label per item (or only ``?item=LABEL``), sized ``?w=&h=`` in millimetres (default: the settings)."""
    case = visible_case(request, lab_number)
    items = Item.objects.filter(case=case).select_related("case")
    if _item_asked(request):
        items = items.filter(label=_item_asked(request))
    try:
        width = float(request.GET.get("w") or settings.FORENSIS_LABEL_WIDTH_MM)
        height = float(request.GET.get("h") or settings.FORENSIS_LABEL_HEIGHT_MM)
        data = render_labels(list(items), width_mm=width, height_mm=height)
    except (ValueError, ValidationError) as exc:
        # Plain text: the message may repeat what was typed in the address (never shown as HTML).
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    record_read(request.user, "case.labels_printed", obj=case, after={"item": _item_asked(request) or "all"})
    return pdf_response(data, f"{lab_number}-labels.pdf")


@login_required
@permission_required("cases.view_case", raise_exception=True)
def custody_report(request, lab_number: str):
    """The chain-of-custody report (PDF) of a whole case, or of one item with ``?item=LABEL``."""
    case = visible_case(request, lab_number)
    items = Item.objects.filter(case=case).select_related("case", "holder", "location").order_by("number", "sub_number")
    single = _item_asked(request)
    if single:
        items = items.filter(label=single)
        if not items:
            raise Http404
    record("case.custody_report_downloaded", actor=request.user, obj=case, after={"item": single or "all"})
    data = render_custody_report(list(items), title_case=None if single else case)
    return pdf_response(data, f"{(single or lab_number).replace('/', '-')}-custody.pdf")
