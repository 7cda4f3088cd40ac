"""Custody screens: what I hold, the scanning workbench, storage locations, item pages, overdue items, the gap check.

Rows are read through ``visible_to`` (another agency's item is a 404); nothing here writes a model: every change
goes through ``evidence.services``, whose messages are shown to the person as they are.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import wraps

import django_tables2 as tables
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from forensis.accounts.models import User
from forensis.audit.services import record
from forensis.core.services import call_with_form_errors

from . import services
from .forms import (
    DERIVATIONS,
    DERIVED_TYPES,
    AmountForm,
    ConsumeForm,
    DeriveForm,
    HandOverForm,
    LegalHoldForm,
    LocationForm,
    OverdueForm,
    ScanForm,
)
from .models import FINAL_STATUSES, CustodyEvent, Item, ItemStatus, StorageLocation, Transfer, TransferStatus

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


def _tree(locations: list[StorageLocation]) -> list[StorageLocation]:
    """The locations in tree order (each followed by what is inside it), each with its ``depth``."""
    children: dict[int | None, list[StorageLocation]] = {}
    for location in locations:
        children.setdefault(location.parent_id, []).append(location)
    ordered: list[StorageLocation] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for location in sorted(children.get(parent_id, []), key=lambda loc: loc.name.lower()):
            location.depth = depth
            location.indent = "\u2003" * 2 * max(depth - 1, 0)
            ordered.append(location)
            walk(location.pk, depth + 1)

    walk(None, 0)
    return ordered


def _with_counts(queryset):
    return queryset.annotate(item_count=Count("items")).prefetch_related("authorized_users")


@login_required
@view_items
def locations(request):
    return render(
        request,
        "evidence/location_list.html",
        {"locations": _tree(list(_with_counts(StorageLocation.objects.all())))},
    )


def _location(code: str) -> StorageLocation:
    return get_object_or_404(StorageLocation.objects.select_related("parent"), code__iexact=code)


def _ancestors(location: StorageLocation) -> list[StorageLocation]:
    chain, current = [], location.parent
    while current is not None:
        chain.insert(0, current)
        current = current.parent
    return chain


@login_required
@view_items
def location_detail(request, code: str):
    location = _location(code)
    contents = Item.objects.visible_to(request.user).filter(location=location).select_related("case", "location")
    table = ContentsTable(contents)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    count = contents.count()
    return render(
        request,
        "evidence/location_detail.html",
        {
            "location": location,
            "ancestors": _ancestors(location),
            "children": _with_counts(location.children.all()).order_by("name"),
            "authorized": location.authorized_users.all(),
            "table": table,
            "count": count,
        },
    )


@login_required
@manage_locations
def location_edit(request, code: str | None = None):
    location = _location(code) if code else None
    if location is not None:
        initial = {
            "name": location.name,
            "kind": location.kind,
            "parent": location.parent,
            "capacity": location.capacity,
            "restricted": location.restricted,
            "authorized_users": list(location.authorized_users.all()),
            "is_active": location.is_active,
        }
    else:
        parent = StorageLocation.objects.filter(code__iexact=request.GET.get("parent", "")).first()
        initial = {"parent": parent, "is_active": True}
    form = LocationForm(request.POST or None, initial=initial, location=location)
    if request.method == "POST" and form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if k != "authorized_users"}
        saved = call_with_form_errors(
            form,
            services.save_location,
            request.user,
            location,
            authorized_users=form.cleaned_data["authorized_users"],
            **fields,
        )
        if saved is not None:
            messages.success(
                request, _("%(location)s saved (barcode %(code)s).") % {"location": saved, "code": saved.code}
            )
            return redirect("evidence:location", code=saved.code)
    return render(request, "evidence/location_form.html", {"form": form, "location": location})


@login_required
@view_items
def location_label(request, code: str):
    """A printable label: the barcode (Code 128) of the location with its full name."""
    location = _location(code)
    return render(
        request, "evidence/location_label.html", {"location": location, "barcode_svg": _code128_svg(location.code)}
    )


def _code128_svg(value: str, *, module: int = 2, height: int = 60, quiet: int = 10) -> str:
    """``value`` as a Code 128 barcode in SVG, drawn with plain rectangles (no inline styles: the CSP forbids them).

    reportlab works out the symbol: its ``decomposed`` pattern gives bar widths as upper-case letters and the
    spaces between as lower-case ones (A/a = one module, B/b = two, …).
    """
    from reportlab.graphics.barcode.code128 import Code128

    symbol = Code128(value)
    symbol.validate()
    symbol.encode()
    symbol.decompose()
    x, bars = quiet, []
    for letter in symbol.decomposed:
        width = ord(letter.upper()) - ord("A") + 1
        if letter.isupper():
            bars.append(format_html('<rect x="{}" y="0" width="{}" height="{}"/>', x * module, width * module, height))
        x += width
    total = (x + quiet) * module
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" role="img" '
        'aria-label="{}"><rect width="100%" height="100%" fill="#fff"/><g fill="#000">{}</g></svg>',
        total,
        height,
        total,
        height,
        value,
        mark_safe("".join(bars)),  # noqa: S308  (each bar was escaped by format_html)
    )


# --- items ------------------------------------------------------------------------------------------


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
    if not user.is_laboratory_staff:
        record("item.viewed", actor=user, obj=item)
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
    case = request.GET.get("case", "").strip()
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
    path("locations/", locations, name="locations"),
    path("locations/new/", location_edit, name="location_new"),
    path("locations/<str:code>/", location_detail, name="location"),
    path("locations/<str:code>/edit/", location_edit, name="location_edit"),
    path("locations/<str:code>/label/", location_label, name="location_label"),
    path("items/<path:label>/", item_detail, name="item"),
]
