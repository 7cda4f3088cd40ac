"""Custody screens: what I hold, the scanning workbench, overdue items and the gap check (locations and items
have their own modules).

Rows are read through ``visible_to`` (another agency's item is a 404); nothing here writes a model: every change
goes through ``evidence.services``, whose messages are shown to the person as they are.
"""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

import django_tables2 as tables
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from forensis.accounts.models import User
from forensis.core.services import call_with_form_errors

from . import services
from .forms import (
    HandOverForm,
    OverdueForm,
    ScanForm,
)
from .models import CustodyEvent, Item, ItemStatus, StorageLocation, Transfer, TransferStatus

SESSION_BATCH = "custody_batch"  # [[item pk, custody sequence when scanned], …]
SESSION_RECEIVER = "custody_receiver"  # pk of the person the batch is being handed to
SESSION_DETAILS = "custody_details"  # purpose, seal, condition, witness, note typed for the next move
MAX_BATCH = 500
DEFAULT_OVERDUE_DAYS = 14

view_items = permission_required("evidence.view_item", raise_exception=True)
manage_locations = permission_required("evidence.manage_locations", raise_exception=True)


def any_permission(*permissions: str):
    """Like ``permission_required(raise_exception=True)``, but one of ``permissions`` is enough."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not any(request.user.has_perm(p) for p in permissions):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _error_messages(request, exc: ValidationError | PermissionDenied) -> None:
    if isinstance(exc, PermissionDenied):
        messages.error(request, str(exc) or _("You do not have permission to do this."))
        return
    for message in exc.messages:
        messages.error(request, message)


# --- tables -----------------------------------------------------------------------------------------


class ItemTable(tables.Table):
    label = tables.Column(
        verbose_name=gettext_lazy("Item"),
        linkify=("evidence:item", [tables.A("label")]),
        attrs={"td": {"class": "text-nowrap"}},
    )
    description = tables.Column(verbose_name=gettext_lazy("Description"))
    case = tables.Column(
        verbose_name=gettext_lazy("Case"),
        accessor="case__lab_number",
        linkify=("cases:detail", [tables.A("case__lab_number")]),
        attrs={"td": {"class": "text-nowrap"}},
    )
    location = tables.Column(
        verbose_name=gettext_lazy("Location"), order_by=("location__path",), default=gettext_lazy("in hand")
    )
    holder_name = tables.Column(verbose_name=gettext_lazy("Held by"), default="—")
    last_moved_at = tables.DateTimeColumn(verbose_name=gettext_lazy("Since"), format="Y-m-d H:i", default="—")

    class Meta:
        model = Item
        fields = ("label", "description", "case", "location", "holder_name", "last_moved_at")
        attrs = {"class": "table table-sm table-hover align-middle"}
        order_by = ("-last_moved_at",)

    def render_location(self, record):
        return format_html(
            '<a href="{}">{}</a>', reverse("evidence:location", args=[record.location.code]), record.location.path
        )


class HeldTable(ItemTable):
    class Meta(ItemTable.Meta):
        exclude = ("holder_name",)
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "held-items"}


class ContentsTable(ItemTable):
    class Meta(ItemTable.Meta):
        exclude = ("location",)
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "location-contents"}


class OverdueTable(ItemTable):
    holder_name = tables.Column(verbose_name=gettext_lazy("Held by"))
    days = tables.Column(verbose_name=gettext_lazy("Days"), accessor="last_moved_at", order_by=("last_moved_at",))

    class Meta(ItemTable.Meta):
        exclude = ("location",)
        fields = ("label", "description", "case", "holder_name", "last_moved_at", "days")
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "overdue-items"}
        order_by = ("last_moved_at",)

    def render_days(self, value):
        return (timezone.now() - value).days


# --- what I hold ------------------------------------------------------------------------------------


def _pending(user, **who):
    return (
        Transfer.objects.filter(status=TransferStatus.PENDING, **who)
        .select_related("released_by", "received_by")
        .prefetch_related(Prefetch("items", queryset=Item.objects.visible_to(user).select_related("case")))
    )


@login_required
@view_items
def my_custody(request):
    held = Item.objects.visible_to(request.user).filter(holder=request.user).select_related("case", "location")
    table = HeldTable(held)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    return render(
        request,
        "evidence/custody_mine.html",
        {
            "table": table,
            "held_count": held.count(),
            "incoming": _pending(request.user, received_by=request.user),
            "outgoing": _pending(request.user, released_by=request.user),
        },
    )


@login_required
@view_items
@require_POST
def transfer_action(request, pk: int, action: str):
    """Accept or decline a hand-over offered to me, or cancel one I offered."""
    if action not in ("accept", "decline", "cancel"):
        raise Http404
    transfer = get_object_or_404(
        Transfer.objects.filter(Q(received_by=request.user) | Q(released_by=request.user)), pk=pk
    )
    count = transfer.items.count()
    try:
        if action == "accept":
            services.accept_transfer(request.user, transfer)
            messages.success(
                request,
                _("You now hold %(count)s item(s) from %(person)s.")
                % {"count": count, "person": services.person_name(transfer.released_by)},
            )
        else:
            services.close_transfer(request.user, transfer, decline=action == "decline")
            if action == "decline":
                messages.info(
                    request,
                    _("Declined: the items stay with %(person)s.")
                    % {"person": services.person_name(transfer.released_by)},
                )
            else:
                messages.info(request, _("Hand-over cancelled: the items stay with you."))
    except ValidationError as exc:
        _error_messages(request, exc)
    return redirect("evidence:my_custody")


# --- the scanning workbench -------------------------------------------------------------------------


def _batch(request) -> list[list[int]]:
    return [list(entry) for entry in request.session.get(SESSION_BATCH, [])]


def _save_batch(request, batch: list[list[int]]) -> None:
    request.session[SESSION_BATCH] = batch


def _clear(request) -> None:
    for key in (SESSION_BATCH, SESSION_RECEIVER, SESSION_DETAILS):
        request.session.pop(key, None)


def _batch_items(request) -> tuple[list[Item], dict[int, int]]:
    """The batch's items as they are now (in scanning order), and the ledger position of each when scanned."""
    expected = {entry[0]: entry[1] for entry in _batch(request)}
    found = Item.objects.visible_to(request.user).select_related("case", "location").in_bulk(expected)
    items = [found[pk] for pk in expected if pk in found]
    for item in items:
        item.moved_since_scan = item.custody_sequence != expected[item.pk]
    return items, {item.pk: expected[item.pk] for item in items}


def _receiver(request) -> User | None:
    pk = request.session.get(SESSION_RECEIVER)
    return User.objects.filter(pk=pk, is_active=True).first() if pk else None


def _where(item: Item) -> str:
    return item.location.path if item.location_id else _("in hand")


def _add_item(request, item: Item) -> None:
    problem = services.movement_problem(item)
    if problem:
        messages.error(request, problem)
        return
    batch = _batch(request)
    for entry in batch:
        if entry[0] == item.pk:
            entry[1] = item.custody_sequence
            _save_batch(request, batch)
            messages.info(request, _("%(label)s is already in the batch.") % {"label": item.label})
            return
    if len(batch) >= MAX_BATCH:
        messages.error(request, _("A batch holds at most %(max)s items. Finish this one first.") % {"max": MAX_BATCH})
        return
    batch.append([item.pk, item.custody_sequence])
    _save_batch(request, batch)
    messages.success(
        request,
        _("Added %(label)s: held by %(holder)s, %(where)s.")
        % {"label": item.label, "holder": item.holder_name or "—", "where": _where(item)},
    )


def _choose_person(request, person: User | None, code: str) -> None:
    if not _batch(request):
        messages.error(request, _("Scan the items first, then the person who receives them."))
        return
    if person is None:
        messages.error(
            request, _("No person is known as %(code)s. Check the name or badge and try again.") % {"code": code}
        )
        return
    if not person.is_laboratory_staff:
        messages.error(
            request,
            _("%(person)s cannot receive evidence inside the laboratory.") % {"person": services.person_name(person)},
        )
        return
    request.session[SESSION_RECEIVER] = person.pk
    messages.info(
        request,
        _(
            "Handing the batch to %(person)s: choose the purpose, then they type their password here, "
            "or send it to their queue."
        )
        % {"person": services.person_name(person)},
    )


def _move(request, location: StorageLocation, details: dict) -> None:
    items, expected = _batch_items(request)
    if not items:
        messages.error(request, _("Scan the items first, then the location they go to."))
        return
    try:
        services.move_items(
            request.user,
            items,
            location,
            purpose=details["purpose"],
            expected_sequences=expected,
            seal_number=details["seal_number"],
            condition=details["condition"],
            note=details["note"],
            witness_name=details["witness_name"],
        )
    except (ValidationError, PermissionDenied) as exc:
        _error_messages(request, exc)
        return
    _clear(request)
    messages.success(
        request, _("Moved %(count)s item(s) to %(location)s.") % {"count": len(items), "location": location.path}
    )


def _scan(request, form: ScanForm) -> None:
    code = form.cleaned_data["code"].strip()
    details = {k: v for k, v in form.cleaned_data.items() if k != "code"}
    request.session[SESSION_DETAILS] = details
    if code.startswith("@"):
        username = code[1:].strip()
        _choose_person(request, User.objects.filter(username__iexact=username, is_active=True).first(), code)
        return
    try:
        _add_item(request, services.find_item(request.user, code))
        return
    except ValidationError:
        pass
    location = StorageLocation.objects.filter(code__iexact=code).first()
    if location is not None:
        _move(request, location, details)
        return
    person = User.objects.filter(badge_number__iexact=code, is_active=True).exclude(badge_number="").first()
    if person is not None:
        _choose_person(request, person, code)
        return
    messages.error(
        request,
        _(
            "Nothing is known by the code %(code)s: it is not an item you may see, a storage location or a staff "
            "badge. Check the label and scan again."
        )
        % {"code": code},
    )


def _hand_over(request, form: HandOverForm, receiver: User) -> bool:
    """Hand the batch to ``receiver``: in person (their password, typed here) or to their queue."""
    items, expected = _batch_items(request)
    data = form.cleaned_data
    if request.POST.get("how") == "queue":
        extra = [
            f"{label}: {value}"
            for label, value in (
                (_("Seal number"), data["seal_number"]),
                (_("Condition"), data["condition"]),
                (_("Witness"), data["witness_name"]),
            )
            if value
        ]
        note = " · ".join(filter(None, [data["note"], *extra]))[:500]
        transfer = call_with_form_errors(
            form,
            services.hand_over,
            request.user,
            items,
            receiver,
            purpose=data["purpose"],
            confirmed_in_person=False,
            note=note,
            expected_sequences=expected,
        )
        if transfer is None:
            return False
        messages.success(
            request,
            _("Offered %(count)s item(s) to %(person)s. They stay with you until %(person)s accepts them.")
            % {"count": len(items), "person": services.person_name(receiver)},
        )
        return True
    if not data["receiver_password"]:
        form.add_error(
            "receiver_password",
            _("%(person)s types their password here to confirm, or send the items to their queue.")
            % {"person": services.person_name(receiver)},
        )
        return False
    if authenticate(request, username=receiver.username, password=data["receiver_password"]) is None:
        form.add_error(
            "receiver_password",
            _("The password of %(person)s is not correct.") % {"person": services.person_name(receiver)},
        )
        return False
    events = call_with_form_errors(
        form,
        services.hand_over,
        request.user,
        items,
        receiver,
        purpose=data["purpose"],
        confirmed_in_person=True,
        note=data["note"],
        witness_name=data["witness_name"],
        seal_number=data["seal_number"],
        condition=data["condition"],
        expected_sequences=expected,
    )
    if events is None:
        return False
    messages.success(
        request,
        _("%(person)s now holds %(count)s item(s).") % {"count": len(events), "person": services.person_name(receiver)},
    )
    return True


@login_required
@view_items
def scan(request):
    """One box for the scanner: items join the batch; a location barcode moves the batch; a person receives it."""
    receiver = _receiver(request)
    scan_form = ScanForm(initial=request.session.get(SESSION_DETAILS, {}), autofocus=receiver is None)
    hand_over_form = HandOverForm(prefix="handover") if receiver else None
    if request.method == "POST":
        action = "remove" if "remove" in request.POST else request.POST.get("action", "scan")
        if action == "scan":
            form = ScanForm(request.POST, autofocus=receiver is None)
            if form.is_valid():
                _scan(request, form)
            else:
                messages.error(request, _("Scan a barcode or type a number first."))
            return redirect("evidence:scan")
        if action == "clear":
            _clear(request)
            messages.info(request, _("The batch is empty."))
            return redirect("evidence:scan")
        if action == "remove":
            batch = [e for e in _batch(request) if str(e[0]) != request.POST["remove"]]
            _save_batch(request, batch)
            if not batch:
                request.session.pop(SESSION_RECEIVER, None)
            return redirect("evidence:scan")
        if action == "forget_person":
            request.session.pop(SESSION_RECEIVER, None)
            return redirect("evidence:scan")
        if action == "hand_over":
            if receiver is None:
                messages.error(request, _("Choose the person first: type @ and their username, or scan their badge."))
                return redirect("evidence:scan")
            hand_over_form = HandOverForm(request.POST, prefix="handover")
            if hand_over_form.is_valid() and _hand_over(request, hand_over_form, receiver):
                _clear(request)
                return redirect("evidence:scan")
    items, _expected = _batch_items(request)
    return render(
        request,
        "evidence/custody_scan.html",
        {"form": scan_form, "items": items, "receiver": receiver, "hand_over_form": hand_over_form},
    )


# --- storage locations ------------------------------------------------------------------------------


@login_required
@any_permission("evidence.move_item", "accounts.view_user")
def overdue(request):
    """Items out of the store, in a person's hands, for longer than ``?days=`` (default 14)."""
    form = OverdueForm(request.GET or None, initial={"days": DEFAULT_OVERDUE_DAYS})
    days = form.cleaned_data["days"] if form.is_bound and form.is_valid() else DEFAULT_OVERDUE_DAYS
    items = (
        Item.objects.visible_to(request.user)
        .filter(
            location__isnull=True,
            holder__isnull=False,
            status=ItemStatus.IN_CUSTODY,
            last_moved_at__lt=timezone.now() - timedelta(days=days),
        )
        .select_related("case", "holder")
    )
    table = OverdueTable(items)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    return render(request, "evidence/custody_overdue.html", {"form": form, "table": table, "days": days})


@login_required
@any_permission("audit.view_auditevent", "accounts.view_user")
def gap_check(request):
    """Every visible item's ledger against its recorded holder and place (or one case's, with ``?case=``)."""
    case = request.GET.get("case", "").replace("\x00", "").strip()  # no NUL: PostgreSQL refuses it in a query
    items = Item.objects.visible_to(request.user)
    events = CustodyEvent.objects.visible_to(request.user)
    if case:
        items = items.filter(case__lab_number__iexact=case)
        events = events.filter(item__case__lab_number__iexact=case)
    chain = services.verify_ledger(events)
    return render(
        request,
        "evidence/custody_check.html",
        {
            "problems": chain.problems + services.gap_check(items),
            "checked": items.count(),
            "events": chain.events,
            "case": case,
        },
    )


urlpatterns = [
    path("custody/", my_custody, name="my_custody"),
    path("custody/scan/", scan, name="scan"),
    path("custody/overdue/", overdue, name="overdue"),
    path("custody/check/", gap_check, name="gap_check"),
    path("custody/transfers/<int:pk>/<str:action>/", transfer_action, name="transfer_action"),
]
