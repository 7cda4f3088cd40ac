"""Storage locations: the tree, a location's contents, creating and editing locations, barcode labels."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django_tables2 import RequestConfig

from forensis.core.services import call_with_form_errors

from . import services
from .custody_views import ContentsTable, manage_locations, view_items
from .forms import (
    LocationForm,
)
from .models import Item, StorageLocation


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
        code = request.GET.get("parent", "").replace("\x00", "")  # no NUL: PostgreSQL refuses it in a query
        parent = StorageLocation.objects.filter(code__iexact=code).first()
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


urlpatterns = [
    path("locations/", locations, name="locations"),
    path("locations/new/", location_edit, name="location_new"),
    path("locations/<str:code>/", location_detail, name="location"),
    path("locations/<str:code>/edit/", location_edit, name="location_edit"),
    path("locations/<str:code>/label/", location_label, name="location_label"),
]
