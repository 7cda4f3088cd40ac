"""The analyst's screens: the worklist, the examination record and batch worksheets.

Requests are read through ``ServiceRequest.objects.visible_to`` (another agency's request is a 404 before any
permission is looked at); only the assigned analyst opens an examination (403 for anyone else). Nothing here
writes a model: every change goes through ``lab.services`` or ``evidence.services``, and their refusals are shown
to the analyst in their own words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import django_filters
import django_tables2 as tables
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import BooleanField, Case, F, OuterRef, Prefetch, Subquery, Value, When
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from forensis.core.forms import BootstrapForm
from forensis.core.services import call_with_form_errors
from forensis.deaths.views import summary_for_request
from forensis.evidence import services as evidence_services
from forensis.evidence.models import Item

from . import services
from .examination_forms import (
    AttachmentForm,
    ChildRequestForm,
    ConsumeForm,
    ResultForm,
    SetupForm,
    SignForm,
    WorksheetForm,
)
from .models import (
    Attachment,
    Discipline,
    Examination,
    RequestStatus,
    Result,
    Review,
    ServiceRequest,
    SignatureMeaning,
    Worksheet,
)
from .results import describe_result, fields_for

EXAMINE = "lab.perform_examination"
WORK_STATUSES = (RequestStatus.ASSIGNED, RequestStatus.IN_PROGRESS)


def _call(form, service, *args: Any, **kwargs: Any):
    """``call_with_form_errors``, also turning a ``PermissionDenied`` with a reason into a form error, and marking
    the fields the service refused as invalid (the form marks only its own errors)."""
    try:
        result = call_with_form_errors(form, service, *args, **kwargs)
    except PermissionDenied as exc:
        form.add_error(None, str(exc) or _("You do not have permission to do this."))
        return None
    for name in form.errors:
        if name in form.fields:
            widget = form.fields[name].widget
            if "is-invalid" not in widget.attrs.get("class", ""):
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
    return result


def amount_text(value: Decimal | None) -> str:
    """12.5000 → "12.5", 100.0000 → "100" (amounts are stored with four decimals)."""
    if value is None:
        return ""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _latest_review(field_name: str):
    return Subquery(
        Review.objects.filter(request=OuterRef("pk")).order_by("-reviewed_at", "-pk").values(field_name)[:1]
    )


# --- the worklist -----------------------------------------------------------------------------------


class WorklistFilter(django_filters.FilterSet):
    discipline = django_filters.ModelChoiceFilter(
        queryset=Discipline.objects.filter(is_active=True),
        label=gettext_lazy("Discipline"),
        empty_label=gettext_lazy("All disciplines"),
    )
    status = django_filters.ChoiceFilter(
        choices=[(s.value, s.label) for s in WORK_STATUSES],
        label=gettext_lazy("Status"),
        empty_label=gettext_lazy("Assigned and in progress"),
    )
    case = django_filters.CharFilter(
        field_name="case__lab_number", lookup_expr="icontains", label=gettext_lazy("Lab case")
    )

    class Meta:
        model = ServiceRequest
        form = BootstrapForm
        fields = ["discipline", "status", "case"]


class WorklistTable(tables.Table):
    select = tables.TemplateColumn(
        template_name="lab/worklist_select.html",
        verbose_name=gettext_lazy("Select"),
        orderable=False,
        attrs={"th": {"class": "text-nowrap"}},
    )
    case = tables.Column(
        verbose_name=gettext_lazy("Lab case"),
        accessor="case__lab_number",
        linkify=("cases:detail", [tables.A("case__lab_number")]),
        attrs={"td": {"class": "text-nowrap"}},
    )
    discipline = tables.Column(verbose_name=gettext_lazy("Discipline"), order_by=("discipline__name",))
    items = tables.Column(verbose_name=gettext_lazy("Items"), empty_values=(), orderable=False)
    status = tables.TemplateColumn(
        template_name="lab/worklist_status.html", verbose_name=gettext_lazy("Status"), order_by=("status",)
    )
    priority = tables.Column(verbose_name=gettext_lazy("Priority"))
    court_date = tables.DateColumn(verbose_name=gettext_lazy("Court date"), format="Y-m-d", default="—")
    age = tables.Column(verbose_name=gettext_lazy("Age (days)"), accessor="requested_at", order_by=("requested_at",))
    open = tables.TemplateColumn(template_name="lab/worklist_open.html", verbose_name="", orderable=False)

    class Meta:
        model = ServiceRequest
        fields = ("select", "case", "discipline", "items", "status", "priority", "court_date", "age", "open")
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "worklist"}
        row_attrs = {
            "data-testid": "worklist-row",
            "data-request": lambda record: record.pk,
            "class": lambda record: "table-warning" if record.sent_back else "",
        }
        empty_text = gettext_lazy("Nothing assigned to you at the moment.")

    def render_items(self, record):
        return ", ".join(item.label for item in record.items.all())

    def render_priority(self, record, value):
        if record.priority:
            return format_html('<span class="badge text-bg-danger">{}</span>', value)
        return value

    def render_age(self, value):
        return (timezone.now() - value).days


def _worklist_queryset(user):
    return (
        ServiceRequest.objects.visible_to(user)
        .filter(assigned_to=user, status__in=WORK_STATUSES)
        .select_related("case", "discipline")
        .prefetch_related(Prefetch("items", queryset=Item.objects.order_by("number", "sub_number")))
        .annotate(
            last_review_approved=_latest_review("approved"),
            last_review_reason=_latest_review("reason"),
            worksheet_reference=F("examination__worksheet__reference"),
        )
        .annotate(
            # In progress after a review: the latest review sent it back (a review only happens after the draft).
            sent_back=Case(
                When(status=RequestStatus.IN_PROGRESS, last_review_approved=False, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
    )


@login_required
@permission_required(EXAMINE, raise_exception=True)
def worklist(request):
    """The requests assigned to me (assigned or in progress); several assigned ones can start as one worksheet."""
    found = WorklistFilter(request.GET, queryset=_worklist_queryset(request.user))
    table = WorklistTable(found.qs)
    RequestConfig(request, paginate={"per_page": 100}).configure(table)
    return render(
        request,
        "lab/worklist.html",
        {
            "filter": found,
            "table": table,
            "sent_back_count": found.qs.filter(sent_back=True).count(),
            "assigned_count": found.qs.filter(status=RequestStatus.ASSIGNED).count(),
        },
    )


# --- the examination record -------------------------------------------------------------------------


def own_request(request, pk: int) -> ServiceRequest:
    """The request, if visible (else 404) and assigned to this analyst (else 403)."""
    found = get_object_or_404(
        ServiceRequest.objects.visible_to(request.user).select_related("case", "discipline", "assigned_to"), pk=pk
    )
    if not request.user.has_perm(EXAMINE) or found.assigned_to_id != request.user.pk:
        raise PermissionDenied(_("Only the analyst assigned to this request may open its examination."))
    return found


@dataclass
class ItemPanel:
    item: Item
    result_form: ResultForm | None
    consume_form: ConsumeForm | None
    versions: list[Result] = field(default_factory=list)
    consumptions: list = field(default_factory=list)

    @property
    def current(self) -> Result | None:
        return next((r for r in self.versions if r.is_current), None)


def _examination_of(service_request: ServiceRequest) -> Examination | None:
    return (
        Examination.objects.filter(request=service_request)
        .select_related("method", "instrument", "worksheet", "analyst")
        .prefetch_related("reagent_lots")
        .first()
    )


ACTIONS = {
    RequestStatus.ASSIGNED: {"start"},
    RequestStatus.IN_PROGRESS: {"setup", "result", "consume", "attach", "child", "complete"},
}


@login_required
def examination(request, pk: int):
    """Start, record and sign the examination of one request. Read-only once the draft is complete."""
    service_request = own_request(request, pk)
    user = request.user
    exam = _examination_of(service_request)
    specs = fields_for(service_request.discipline.code)
    status = service_request.status
    editable = status == RequestStatus.IN_PROGRESS
    items = list(service_request.items.order_by("number", "sub_number"))

    action = request.POST.get("action", "") if request.method == "POST" else ""
    target = None
    if action:
        if action not in ACTIONS.get(status, set()):
            messages.error(
                request,
                _("Request %(request)s is %(status)s; this step is not possible now.")
                % {"request": service_request, "status": service_request.get_status_display().lower()},
            )
            return redirect("lab:examination", pk=pk)
        if action in ("result", "consume"):
            target = next((i for i in items if str(i.pk) == request.POST.get("item")), None)
            if target is None:
                raise Http404

    def bound(name: str, item: Item | None = None):
        return request.POST if action == name and (item is None or item == target) else None

    setup_form = None
    if status in ACTIONS:
        setup_form = SetupForm(
            bound("start" if status == RequestStatus.ASSIGNED else "setup"),
            prefix="setup",
            analyst=user,
            discipline=service_request.discipline,
            examination=exam,
        )
    versions: dict[int, list[Result]] = {}
    if exam is not None:
        for result in exam.results.select_related("recorded_by").order_by("item", "version"):
            result.shown = describe_result(specs, result.data)
            versions.setdefault(result.item_id, []).append(result)
    panels = []
    for item in items:
        item.remaining_text = amount_text(item.amount_remaining)
        consumptions = list(item.consumptions.select_related("recorded_by"))
        for consumption in consumptions:
            consumption.amount_text = amount_text(consumption.amount)
        item_versions = versions.get(item.pk, [])
        current = next((r for r in item_versions if r.is_current), None)
        panels.append(
            ItemPanel(
                item=item,
                result_form=ResultForm(
                    bound("result", item),
                    prefix=f"result-{item.pk}",
                    specs=specs,
                    initial=dict(current.data) if current else None,
                )
                if editable
                else None,
                consume_form=ConsumeForm(
                    bound("consume", item),
                    prefix=f"consume-{item.pk}",
                    initial={
                        "unit": item.amount_unit,
                        "reason": _("%(discipline)s examination") % {"discipline": service_request.discipline},
                    },
                )
                if editable
                else None,
                versions=item_versions,
                consumptions=consumptions,
            )
        )
    attach_form = AttachmentForm(bound("attach"), request.FILES if action == "attach" else None, prefix="attach")
    child_form = ChildRequestForm(bound("child"), prefix="child", case=service_request.case)
    sign_form = SignForm(bound("complete"), prefix="sign")

    if action:
        done = _examination_action(
            request, service_request, action, target, setup_form, panels, attach_form, child_form, sign_form
        )
        if done is not None:
            return redirect(f"{reverse('lab:examination', args=[pk])}{done}")

    latest_review = service_request.reviews.select_related("reviewer").order_by("-reviewed_at", "-pk").first()
    return render(
        request,
        "lab/examination_detail.html",
        {
            "service_request": service_request,
            "exam": exam,
            "editable": editable,
            "setup_form": setup_form,
            "panels": panels,
            "attachments": list(exam.attachments.select_related("uploaded_by")) if exam else [],
            "attach_form": attach_form,
            "child_form": child_form,
            "children": service_request.children.select_related("discipline").prefetch_related("items"),
            "sign_form": sign_form,
            "autopsy_summary": summary_for_request(service_request),
            "sent_back": latest_review if editable and latest_review and not latest_review.approved else None,
            "authored": service_request.signatures.filter(meaning=SignatureMeaning.AUTHORED)
            .order_by("-signed_at")
            .first(),
        },
    )


def _examination_action(
    request, service_request, action, target, setup_form, panels, attach_form, child_form, sign_form
) -> str | None:
    """Run the service of ``action``; the fragment to go back to after success, or None (errors on the form)."""
    user = request.user
    panel = next((p for p in panels if p.item == target), None)
    if action in ("start", "setup"):
        if not setup_form.is_valid():
            return None
        service = services.start_examination if action == "start" else services.update_examination
        if _call(setup_form, service, user, service_request, **setup_form.setup()) is None:
            return None
        messages.success(request, _("Examination started.") if action == "start" else _("Set-up saved."))
        return "#setup"
    if action == "result":
        form = panel.result_form
        if not form.is_valid():
            return None
        before = panel.current
        result = _call(
            form,
            services.record_result,
            user,
            service_request,
            target,
            form.result_data(),
            reason=form.cleaned_data["reason"],
        )
        if result is None:
            return None
        if before is not None and result.version > before.version:
            messages.success(
                request,
                _("Version %(version)s of the result for %(item)s recorded; version %(old)s is kept.")
                % {"version": result.version, "item": target.label, "old": before.version},
            )
        elif before is not None and result.data == before.data:
            messages.info(request, _("The result for %(item)s is unchanged.") % {"item": target.label})
        else:
            messages.success(request, _("Result for %(item)s saved.") % {"item": target.label})
        return f"#item-{target.pk}"
    if action == "consume":
        form = panel.consume_form
        if not form.is_valid():
            return None
        data = form.cleaned_data
        used = _call(
            form,
            evidence_services.consume,
            user,
            target,
            data["amount"],
            data["unit"],
            reason=data["reason"],
            service_request=service_request,
        )
        if used is None:
            return None
        messages.success(
            request,
            _("%(amount)s %(unit)s of %(item)s recorded as used.")
            % {"amount": amount_text(data["amount"]), "unit": used.get_unit_display(), "item": target.label},
        )
        return f"#item-{target.pk}"
    if action == "attach":
        if not attach_form.is_valid():
            return None
        attachment = _call(attach_form, services.attach_file, user, service_request, attach_form.cleaned_data["file"])
        if attachment is None:
            return None
        messages.success(
            request,
            _("%(name)s attached (SHA-256 %(hash)s).") % {"name": attachment.original_name, "hash": attachment.sha256},
        )
        return "#attachments"
    if action == "child":
        if not child_form.is_valid():
            return None
        child = _call(
            child_form,
            services.raise_child_request,
            user,
            service_request,
            child_form.cleaned_data["discipline"],
            child_form.cleaned_data["items"],
        )
        if child is None:
            return None
        messages.success(
            request,
            _("Follow-up request for %(discipline)s raised; it waits for assignment.")
            % {"discipline": child.discipline},
        )
        return "#follow-up"
    # action == "complete"
    if not sign_form.is_valid():
        return None
    if authenticate(request, username=user.get_username(), password=sign_form.cleaned_data["password"]) is None:
        sign_form.add_error("password", _("The password is not correct; the draft was not signed."))
        return None
    if _call(sign_form, services.complete_draft, user, service_request, reauthenticated=True) is None:
        return None
    messages.success(request, _("Draft completed and signed; it now waits for technical review."))
    return ""


@login_required
def attachment_download(request, pk: int, attachment_pk: int):
    """An examination's file, for its analyst and for laboratory staff who may read requests."""
    service_request = get_object_or_404(ServiceRequest.objects.visible_to(request.user), pk=pk)
    if service_request.assigned_to_id != request.user.pk and not request.user.has_perm("lab.view_servicerequest"):
        raise PermissionDenied
    attachment = get_object_or_404(Attachment, pk=attachment_pk, examination__request=service_request)
    # Always a download of opaque bytes: the type is never guessed from the name the uploader chose (x.pdf.html).
    return FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.original_name,
        content_type="application/octet-stream",
    )


# --- worksheets -------------------------------------------------------------------------------------


@login_required
@permission_required(EXAMINE, raise_exception=True)
@require_POST
def worksheet_new(request):
    """Start the requests chosen on the worklist as one worksheet: one method, instrument and set of lots."""
    user = request.user
    startable = ServiceRequest.objects.visible_to(user).filter(assigned_to=user, status=RequestStatus.ASSIGNED)
    chosen = [pk for pk in request.POST.getlist("requests") if pk.isdigit()]
    selected = list(startable.filter(pk__in=chosen).select_related("case", "discipline").prefetch_related("items"))
    if not selected:
        messages.error(request, _("Tick the assigned requests to run together, then start them as a worksheet."))
        return redirect("lab:worklist")
    disciplines = {r.discipline for r in selected}
    if len(disciplines) > 1:
        messages.error(
            request,
            _("A worksheet holds requests of one discipline; you chose %(disciplines)s.")
            % {"disciplines": ", ".join(sorted(str(d) for d in disciplines))},
        )
        return redirect("lab:worklist")
    discipline = disciplines.pop()
    creating = request.POST.get("action") == "create"
    form = WorksheetForm(
        request.POST if creating else None,
        initial={"requests": [r.pk for r in selected]},
        analyst=user,
        discipline=discipline,
        requests=startable.filter(discipline=discipline),
    )
    if creating and form.is_valid():
        worksheet = _call(form, services.create_worksheet, user, form.cleaned_data["requests"], **form.setup())
        if worksheet is not None:
            messages.success(
                request,
                _("Worksheet %(reference)s started with %(count)s request(s).")
                % {"reference": worksheet.reference, "count": len(form.cleaned_data["requests"])},
            )
            return redirect("lab:worksheet", reference=worksheet.reference)
    return render(request, "lab/worksheet_new.html", {"form": form, "selected": selected, "discipline": discipline})


@dataclass
class GridRow:
    request: ServiceRequest
    item: Item
    form: ResultForm
    current: Result | None
    editable: bool
    shown: list[tuple[str, str]]


class _Rollback(Exception):
    """Raised inside the grid's transaction to undo every row when one of them was refused."""


def save_grid(user, rows: list[GridRow]) -> tuple[int, int]:
    """Save every changed row of a worksheet grid: all or nothing. Returns (rows saved, rows refused).

    One instrument run is one unit of work: if any row is refused (a result out of range, a wrong unit, a
    reviewed result without a reason), nothing of the grid is saved, so a run is never half recorded. Every row
    is still checked — each ``record_result`` runs in its own savepoint inside the one transaction — so the grid
    comes back with all the refusals at once, next to their rows, and the values typed in every row kept.
    Blank rows without an earlier result are skipped (not measured yet).
    """
    saved = refused = 0
    try:
        with transaction.atomic():
            for row in rows:
                if not row.editable:
                    continue
                if not row.form.is_valid():
                    refused += 1
                    continue
                if row.current is None and row.form.is_blank():
                    continue
                result = _call(
                    row.form,
                    services.record_result,
                    user,
                    row.request,
                    row.item,
                    row.form.result_data(),
                    reason=row.form.cleaned_data["reason"],
                )
                if result is None:
                    refused += 1
                elif row.current is None or result.pk != row.current.pk or result.data != row.current.data:
                    saved += 1
            if refused:
                raise _Rollback
    except _Rollback:
        return 0, refused
    return saved, 0


@login_required
@permission_required(EXAMINE, raise_exception=True)
def worksheet(request, reference: str):
    """One grid for a worksheet: a row per request and item, the discipline's result fields as inputs."""
    sheet = get_object_or_404(Worksheet.objects.select_related("discipline", "analyst"), reference=reference)
    user = request.user
    if sheet.analyst_id != user.pk:
        raise PermissionDenied(_("Only the analyst who runs this worksheet may open it."))
    specs = fields_for(sheet.discipline.code)
    exams = list(
        sheet.examinations.filter(request__in=ServiceRequest.objects.visible_to(user))
        .select_related("request__case", "request__discipline", "method", "instrument")
        .prefetch_related(
            "reagent_lots",
            Prefetch("request__items", queryset=Item.objects.order_by("number", "sub_number")),
            Prefetch("results", queryset=Result.objects.filter(is_current=True), to_attr="current_results"),
        )
        .order_by("request__case__lab_number", "request__pk")
    )
    data = request.POST if request.method == "POST" else None
    rows = []
    for exam in exams:
        sr = exam.request
        editable = sr.status == RequestStatus.IN_PROGRESS and sr.assigned_to_id == user.pk
        current = {r.item_id: r for r in exam.current_results}
        for item in sr.items.all():
            result = current.get(item.pk)
            rows.append(
                GridRow(
                    request=sr,
                    item=item,
                    form=ResultForm(
                        data if editable else None,
                        prefix=f"row-{sr.pk}-{item.pk}",
                        specs=specs,
                        compact=True,
                        initial=dict(result.data) if result else None,
                    ),
                    current=result,
                    editable=editable,
                    shown=describe_result(specs, result.data) if result else [],
                )
            )
    if data is not None:
        saved, refused = save_grid(user, rows)
        if refused:
            messages.error(
                request,
                _("Nothing was saved: %(count)s row(s) were refused. Correct them and save the grid again.")
                % {"count": refused},
            )
        else:
            if saved:
                messages.success(request, _("%(count)s result(s) saved.") % {"count": saved})
            else:
                messages.info(request, _("Nothing to save: no result was entered or changed."))
            return redirect("lab:worksheet", reference=reference)
    first = exams[0] if exams else None
    return render(
        request,
        "lab/worksheet_detail.html",
        {
            "sheet": sheet,
            "setup": first,
            "exams": exams,
            "specs": specs,
            "rows": rows,
            "editable_rows": sum(1 for row in rows if row.editable),
            "required_names": {spec.name for spec in specs if spec.required},
        },
    )


urlpatterns = [
    path("worklist/", worklist, name="worklist"),
    path("requests/<int:pk>/examination/", examination, name="examination"),
    path("requests/<int:pk>/attachments/<int:attachment_pk>/", attachment_download, name="attachment"),
    path("worksheets/new/", worksheet_new, name="worksheet_new"),
    path("worksheets/<str:reference>/", worksheet, name="worksheet"),
]
