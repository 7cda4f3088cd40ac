"""Outsourcing screens: batches of items sent to an external laboratory, their manifest, return and results.

Every state change goes through ``evidence.outsourcing``; these views only read forms and show results.
"""

from __future__ import annotations

from datetime import datetime, time

import django_filters
import django_tables2 as tables
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count, Q
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tables2 import RequestConfig

from forensis.accounts.scoping import Scope, access_scope
from forensis.audit.services import record
from forensis.core.forms import BootstrapForm
from forensis.core.services import call_with_form_errors

from . import outsourcing
from .disposition_forms import ArrivalForm, ItemLabelsForm, ReceiveBackForm, ResultForm, ShipForm, ShipmentForm
from .disposition_views import item_rows
from .models import Item, Shipment, ShipmentResult, ShipmentStatus

shipments_permission = permission_required("evidence.manage_shipments", raise_exception=True)


def visible_shipments(user):
    """Shipments all of whose items ``user`` may see (laboratory staff: all of them)."""
    shipments = Shipment.objects.all()
    if access_scope(user) is not Scope.ALL:
        hidden = Item.objects.exclude(pk__in=Item.objects.visible_to(user).values("pk"))
        shipments = shipments.exclude(items__in=hidden)
    return shipments


def _visible_shipment(request, reference: str) -> Shipment:
    return get_object_or_404(visible_shipments(request.user), reference=reference)


# --- list -----------------------------------------------------------------------------------------


class ShipmentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=gettext_lazy("Search"), method="search")
    status = django_filters.ChoiceFilter(choices=ShipmentStatus.choices, label=gettext_lazy("Status"))

    class Meta:
        model = Shipment
        form = BootstrapForm
        fields = ["q", "status"]

    def search(self, queryset, name, value):
        """Shipment number, laboratory, tracking number or an item number in it."""
        value = value.strip()
        return queryset.filter(
            Q(reference__icontains=value)
            | Q(laboratory__icontains=value)
            | Q(tracking_number__icontains=value)
            | Q(items__label__iexact=value)
        ).distinct()


class ShipmentTable(tables.Table):
    reference = tables.Column(linkify=("evidence:shipment", {"reference": tables.A("reference")}))
    status = tables.TemplateColumn(
        '{% include "evidence/shipment_status_badge.html" with shipment=record %}',
        verbose_name=gettext_lazy("Status"),
    )
    item_count = tables.Column(verbose_name=gettext_lazy("Items"), attrs={"td": {"data-testid": "item-count"}})
    rush = tables.BooleanColumn(verbose_name=gettext_lazy("Rush"))
    shipped_at = tables.DateColumn(format="Y-m-d", default="—")
    returned_at = tables.DateColumn(format="Y-m-d", default="—")
    turnaround = tables.Column(
        verbose_name=gettext_lazy("Days out"), empty_values=(), orderable=False, attrs={"td": {"class": "text-end"}}
    )

    class Meta:
        model = Shipment
        fields = ("reference", "status", "laboratory", "item_count", "rush", "shipped_at", "returned_at")
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "shipments"}

    def render_turnaround(self, record):
        days = outsourcing.days_out(record)
        if days is None:
            return "—"
        return days if record.returned_at else _("%(days)s so far") % {"days": days}


@login_required
@shipments_permission
def shipment_list(request):
    shipments = ShipmentFilter(
        request.GET, queryset=visible_shipments(request.user).annotate(item_count=Count("items", distinct=True))
    )
    table = ShipmentTable(shipments.qs)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    return render(request, "evidence/shipment_list.html", {"filter": shipments, "table": table})


# --- new ------------------------------------------------------------------------------------------


@login_required
@shipments_permission
def shipment_new(request):
    """Scan or type the items, name the laboratory; Enter in the scan box adds the label to the list."""
    posted = request.method == "POST"
    final = posted and request.POST.get("action") == "prepare"
    labels = ItemLabelsForm(request.POST if posted else None, actor=request.user)
    form = ShipmentForm(
        request.POST if final else None,
        initial={"laboratory": request.POST.get("laboratory", ""), "rush": request.POST.get("rush")} if posted else {},
    )
    if posted:
        labels_ok = labels.is_valid()
        if final and form.is_valid() and labels_ok:
            shipment = call_with_form_errors(
                labels,
                outsourcing.prepare_shipment,
                request.user,
                labels.cleaned_data["items"],
                laboratory=form.cleaned_data["laboratory"],
                rush=form.cleaned_data["rush"],
            )
            if shipment is not None:
                messages.success(
                    request,
                    _("Shipment %(ref)s prepared. Print the manifest, pack it with the items, then record shipping.")
                    % {"ref": shipment.reference},
                )
                return redirect("evidence:shipment", reference=shipment.reference)
    return render(
        request,
        "evidence/shipment_new.html",
        {"labels_form": labels, "form": form, "rows": item_rows(labels.items, disposal=False)},
    )


# --- detail and its actions -----------------------------------------------------------------------


def _arrival_moment(day):
    """The moment to record for an acknowledgement dated ``day``: now if today, else the end of that day."""
    now = timezone.now()
    if day == timezone.localdate(now):
        return now
    return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


ACTIONS = {
    ShipmentStatus.PREPARED: ("ship", ShipForm),
    ShipmentStatus.SHIPPED: ("arrival", ArrivalForm),
    ShipmentStatus.AT_LABORATORY: ("receive", ReceiveBackForm),
}


def _run_action(request, shipment: Shipment, action: str, form) -> object | None:
    data = form.cleaned_data
    if action == "ship":
        done = call_with_form_errors(
            form, outsourcing.ship, request.user, shipment, tracking_number=data["tracking_number"].strip()
        )
        message = _("Shipment %(ref)s recorded as shipped.")
    elif action == "arrival":
        done = call_with_form_errors(
            form, outsourcing.confirm_arrival, request.user, shipment, received_at=_arrival_moment(data["received_on"])
        )
        message = _("Arrival of %(ref)s at the external laboratory recorded.")
    elif action == "receive":
        done = call_with_form_errors(
            form, outsourcing.receive_back, request.user, shipment, condition=data["condition"].strip()
        )
        message = _("The items of %(ref)s are back in your custody.")
    else:
        done = call_with_form_errors(form, outsourcing.attach_result, request.user, shipment, data["file"])
        if done is not None:
            messages.success(
                request,
                _("Results file %(name)s attached. SHA-256: %(sha)s")
                % {"name": done.original_name, "sha": done.sha256},
            )
        return done
    if done is not None:
        messages.success(request, message % {"ref": shipment.reference})
    return done


@login_required
@shipments_permission
def shipment_detail(request, reference: str):
    shipment = _visible_shipment(request, reference)
    next_action, action_class = ACTIONS.get(shipment.status, (None, None))
    posted_action = request.POST.get("action") if request.method == "POST" else None
    action_form = (
        action_class(request.POST if posted_action == next_action else None, prefix=next_action)
        if action_class
        else None
    )
    result_form = None
    if shipment.status != ShipmentStatus.PREPARED:
        result_form = ResultForm(
            request.POST if posted_action == "results" else None,
            request.FILES if posted_action == "results" else None,
            prefix="results",
        )
    if posted_action is not None:
        form = result_form if posted_action == "results" else action_form if posted_action == next_action else None
        if form is None:
            messages.error(
                request,
                _("Shipment %(ref)s is %(status)s: that step is not possible now.")
                % {"ref": shipment.reference, "status": shipment.get_status_display().lower()},
            )
            return redirect("evidence:shipment", reference=shipment.reference)
        if form.is_valid() and _run_action(request, shipment, posted_action, form) is not None:
            return redirect("evidence:shipment", reference=shipment.reference)
    items = (
        Item.objects.visible_to(request.user)
        .filter(shipments=shipment)
        .select_related("case", "holder", "location")
        .order_by("label")
    )
    return render(
        request,
        "evidence/shipment_detail.html",
        {
            "shipment": shipment,
            "items": items,
            "results": shipment.results.select_related("uploaded_by").order_by("uploaded_at"),
            "days_out": outsourcing.days_out(shipment),
            "next_action": next_action,
            "action_form": action_form,
            "result_form": result_form,
            "max_result_mb": outsourcing.MAX_RESULT_BYTES // 2**20,
        },
    )


@login_required
@shipments_permission
def shipment_result(request, reference: str, pk: int):
    """A results file, always as a download (never shown inline: it came from outside)."""
    shipment = _visible_shipment(request, reference)
    result = get_object_or_404(ShipmentResult, shipment=shipment, pk=pk)
    record(
        "shipment.result_downloaded",
        actor=request.user,
        obj=shipment,
        after={"file": result.original_name, "sha256": result.sha256},
    )
    response = FileResponse(
        result.file.open("rb"),
        as_attachment=True,
        filename=result.original_name,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@shipments_permission
def shipment_manifest(request, reference: str):
    shipment = _visible_shipment(request, reference)
    from forensis.intake.views import pdf_response

    from .documents import render_manifest  # written alongside; imported here so this module never depends on it

    record("shipment.manifest_printed", actor=request.user, obj=shipment)
    return pdf_response(render_manifest(shipment), f"{shipment.reference}-manifest.pdf")


urlpatterns = [
    path("shipments/", shipment_list, name="shipments"),
    path("shipments/new/", shipment_new, name="shipment_new"),
    path("shipments/<str:reference>/", shipment_detail, name="shipment"),
    path("shipments/<str:reference>/manifest.pdf", shipment_manifest, name="shipment_manifest"),
    path("shipments/<str:reference>/results/<int:pk>/", shipment_result, name="shipment_result"),
]
