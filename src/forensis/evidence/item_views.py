"""One item: its state, amounts, sub-items and full custody ledger, and the actions on it."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _

from forensis.audit.services import record_read
from forensis.core.services import call_with_form_errors

from . import services
from .forms import (
    DERIVATIONS,
    DERIVED_TYPES,
    AmountForm,
    ConsumeForm,
    DeriveForm,
    LegalHoldForm,
)
from .models import FINAL_STATUSES, Item, TransferStatus

ITEM_ACTIONS = {"derive", "amount", "consume", "hold"}


def _item_forms(data=None, action: str = "", item: Item | None = None) -> dict:
    def bound(name):
        return data if action == name else None

    return {
        "derive_form": DeriveForm(bound("derive"), prefix="derive"),
        "amount_form": AmountForm(
            bound("amount"), prefix="amount", initial={"unit": item.amount_unit} if item and item.amount_unit else None
        ),
        "consume_form": ConsumeForm(
            bound("consume"),
            prefix="consume",
            initial={"unit": item.amount_unit} if item and item.amount_unit else None,
        ),
        "hold_form": LegalHoldForm(bound("hold"), prefix="hold"),
    }


def _item_action(request, item: Item, action: str, form) -> Item | None:
    """Run the service of ``action``; the item to show next (the new sub-item after a derivation), or None."""
    data = form.cleaned_data
    user = request.user
    if action == "derive":
        label = dict(DERIVATIONS)[data["derivation"]]
        description = data["description"].strip()
        if not description.lower().startswith(str(label).lower()):
            description = f"{label}: {description}"
        child = call_with_form_errors(
            form,
            services.derive_sub_item,
            user,
            item,
            type=DERIVED_TYPES.get(data["derivation"], item.type),
            description=description[:500],
            reason=data["reason"],
            quantity=data["quantity"],
            amount=data["amount"],
            amount_unit=data["amount_unit"],
        )
        if child is not None:
            messages.success(
                request, _("Sub-item %(label)s derived from %(parent)s.") % {"label": child.label, "parent": item.label}
            )
        return child
    if action == "amount":
        saved = call_with_form_errors(
            form, services.record_amount, user, item, data["amount"], data["unit"], reason=data["reason"]
        )
        if saved is not None:
            messages.success(request, _("Amount recorded."))
        return saved
    if action == "consume":
        used = call_with_form_errors(
            form, services.consume, user, item, data["amount"], data["unit"], reason=data["reason"]
        )
        if used is not None:
            messages.success(
                request, _("%(amount)s %(unit)s recorded as used.") % {"amount": used.amount, "unit": used.unit}
            )
            return item
        return None
    saved = call_with_form_errors(form, services.set_legal_hold, user, item, not item.legal_hold, data["reason"])
    if saved is not None:
        messages.success(request, _("Legal hold placed.") if saved.legal_hold else _("Legal hold lifted."))
    return saved


def _number(value: Decimal) -> str:
    """12.5000 → "12.5", 100.0000 → "100"."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@login_required
@permission_required("cases.view_case", raise_exception=True)
def item_detail(request, label: str):
    """An item: its case, status, amounts, sub-items and the whole custody ledger. Officers see their agency's."""
    item = get_object_or_404(
        Item.objects.visible_to(request.user).select_related("case", "parent", "holder", "location"), label=label
    )
    user = request.user
    action = request.POST.get("action", "") if request.method == "POST" else ""
    forms = _item_forms(request.POST if action else None, action, item)
    if request.method == "POST":
        if not user.has_perm("evidence.view_item") or action not in ITEM_ACTIONS:
            raise PermissionDenied
        form = forms[f"{action}_form"]
        if form.is_valid():
            shown = _item_action(request, item, action, form)
            if shown is not None:
                return redirect("evidence:item", label=shown.label)
    record_read(user, "item.viewed", obj=item)
    consumptions = list(item.consumptions.select_related("recorded_by"))
    for consumption in consumptions:
        consumption.shown = _number(consumption.amount)
    lab = user.has_perm("evidence.view_item")
    movable = services.movement_problem(item) is None
    return render(
        request,
        "evidence/item_detail.html",
        {
            "item": item,
            "events": item.custody_events.select_related("storage_location").order_by("sequence"),
            "children": Item.objects.visible_to(user).filter(parent=item).select_related("location"),
            "consumptions": consumptions,
            "pending": item.transfers.filter(status=TransferStatus.PENDING).select_related("received_by").first(),
            "amounts": {
                "received": _number(item.amount_received),
                "used": _number(item.amount_received - item.amount_remaining),
                "remaining": _number(item.amount_remaining),
            }
            if item.amount_received is not None
            else None,
            "final": item.status in FINAL_STATUSES,
            "can_derive": lab and movable and (item.holder_id == user.pk or user.has_perm("evidence.move_item")),
            "can_record_amount": user.has_perm("evidence.move_item") and item.status not in FINAL_STATUSES,
            "can_consume": item.holder_id == user.pk and item.amount_received is not None,
            "can_hold": user.has_perm("evidence.dispose_item") and item.status not in FINAL_STATUSES,
            **forms,
        },
    )


# --- oversight --------------------------------------------------------------------------------------


urlpatterns = [path("items/<path:label>/", item_detail, name="item")]
