"""The statistics pages: the management and policy dashboards with their exports, the monthly bulletin, the
reconciliation with the police's homicide list, open data, and the population figures.

Every page needs ``statistics.view_statistics`` (administrators, laboratory managers, medical examiners and
statisticians) and shows aggregates. The two lists that name cases — court dates at risk, and the Forensis
victims missing from the police list — are shown only to users who may see every agency's cases
(``access_scope`` ALL); a statistician never sees them. Nothing here writes a model but the population form,
through ``services.set_population``.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.utils.translation import gettext as _

from forensis.accounts.scoping import Scope, access_scope
from forensis.core.services import call_with_form_errors

from . import bulletin, opendata, services
from .dashboards import DASHBOARDS, Chart, Figure
from .exports import figure_csv, figure_xlsx
from .filters import Filters
from .forms import FilterForm, PoliceListForm, PopulationForm, default_period
from .models import MAX_YEAR, MIN_YEAR, Population
from .reconciliation import PoliceListError, parse_police_list, reconcile

VIEW = "statistics.view_statistics"
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _bad_request(message: str) -> HttpResponseBadRequest:
    """A refused export, as plain text: its message may repeat a value from the address (never shown as HTML)."""
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


def _download(content: bytes | str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _sees_cases(user) -> bool:
    """May the user see lists that name cases of every agency (laboratory staff)?"""
    return access_scope(user) is Scope.ALL


def _dashboard(key: str):
    dashboard = DASHBOARDS.get(key)
    if dashboard is None:
        raise Http404
    return dashboard


# --- the dashboards ----------------------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def dashboard(request, key: str):
    board = _dashboard(key)
    form = FilterForm(request.GET, with_discipline=board.filtered_by_discipline)
    sections = board.build(form.filters) if form.is_valid() else []
    return render(
        request,
        "statistics/dashboard.html",
        {
            "dashboard": board,
            "form": form,
            "sections": sections,
            "query": form.data.urlencode(),
            "sees_cases": _sees_cases(request.user),
            "bulletin_month": default_period()[1],
        },
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def export(request, key: str, figure: str, fmt: str):
    board = _dashboard(key)
    form = FilterForm(request.GET, with_discipline=board.filtered_by_discipline)
    if not form.is_valid():
        return _bad_request(" ".join(m for messages_ in form.errors.values() for m in messages_))
    built = board.figure(figure, form.filters)
    if built is None:
        raise Http404
    filename = f"{slugify(built.key)}-{form.filters.month_from}-{form.filters.month_to}.{fmt}"
    if fmt == "csv":
        return _download(figure_csv(built), CSV_TYPE, filename)
    return _download(figure_xlsx(built, form.describe()), XLSX_TYPE, filename)


@login_required
@permission_required(VIEW, raise_exception=True)
def bulletin_pdf(request):
    month = (request.GET.get("month") or default_period()[1]).strip()
    try:
        pdf = bulletin.bulletin_pdf(month)
    except ValidationError as error:
        return _bad_request(" ".join(error.messages))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="bulletin-{month}.pdf"'
    return response


# --- reconciliation with the police list ----------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def reconciliation(request):
    """Upload the police's homicide list and compare it per month and district. The list is read, compared and
    shown; nothing of it is stored."""
    form = PoliceListForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        try:
            police = parse_police_list(form.cleaned_data["police_list"])
        except PoliceListError as error:
            form.add_error("police_list", error.messages)
        else:
            result = call_with_form_errors(form, reconcile, police, form.filters)
    context = {"form": form, "result": result, "sees_cases": _sees_cases(request.user)}
    if result is not None:
        context["chart"] = _per_month_figure(result).chart_data()
    return render(request, "statistics/reconciliation.html", context)


def _per_month_figure(result) -> Figure:
    """Both counts per month (the districts added up), drawn above the month × district table."""
    per_month: dict[str, dict] = {}
    for row in result.rows:
        entry = per_month.setdefault(row["month"], {"month": row["month"], "police": 0, "forensis": 0})
        entry["police"] += row["police"]
        entry["forensis"] += row["forensis"]
    columns = [("month", _("Month")), ("police", _("Police list")), ("forensis", "Forensis")]
    return Figure(
        "reconciliation",
        _("Police list and Forensis per month"),
        columns,
        list(per_month.values()),
        Chart(("police", "forensis")),
    )


# --- open data ------------------------------------------------------------------------------------------------


def _open_data_filters(request) -> Filters:
    """The years asked for (``year_from``, ``year_to``) as a period of months."""
    years = {name: (request.GET.get(name) or "").strip() for name in ("year_from", "year_to")}
    for name, value in years.items():
        if value and not (value.isdigit() and len(value) == 4):
            raise ValidationError({name: [_("Give a year as four digits.")]})
        if value and not MIN_YEAR <= int(value) <= MAX_YEAR:
            raise ValidationError(
                {name: [_("Give a year from %(min)s to %(max)s.") % {"min": MIN_YEAR, "max": MAX_YEAR}]}
            )
    return Filters(
        month_from=f"{years['year_from']}-01" if years["year_from"] else "",
        month_to=f"{years['year_to']}-12" if years["year_to"] else "",
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def open_data(request):
    context = {
        "query": request.GET.urlencode(),
        "year_from": request.GET.get("year_from", ""),
        "year_to": request.GET.get("year_to", ""),
        "errors": [],
        "tables": [],
        "dictionary": None,
    }
    try:
        filters = _open_data_filters(request)
    except ValidationError as error:
        return render(request, "statistics/open_data.html", {**context, "errors": error.messages}, status=400)
    built = opendata.tables(filters)
    return render(
        request,
        "statistics/open_data.html",
        {**context, "tables": built, "dictionary": opendata.data_dictionary(built)},
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def open_data_file(request, name: str, fmt: str):
    """One table (``name``), every table (``all``) or the data dictionary (``dictionary``), as CSV or JSON."""
    try:
        filters = _open_data_filters(request)
    except ValidationError as error:
        return _bad_request(" ".join(error.messages))
    built = opendata.tables(filters)
    if name == "dictionary" and fmt == "json":
        return _download(_json(opendata.data_dictionary(built)), "application/json", "dictionary.json")
    if name == "all" and fmt == "json":
        return _download(_json(opendata.publish(built=built)), "application/json", "forensis-open-data.json")
    table = next((table for table in built if table.name == name), None)
    if table is None or name in ("dictionary", "all"):
        raise Http404
    if fmt == "csv":
        return _download(table.csv().encode("utf-8-sig"), CSV_TYPE, f"{table.name}.csv")
    return _download(_json(table.as_json()), "application/json", f"{table.name}.json")


def _json(data) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str).encode()


# --- population figures -----------------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def population(request):
    may_change = request.user.has_perm("statistics.change_population")
    form = PopulationForm(request.POST or None) if may_change else None
    if request.method == "POST":
        if not may_change:
            raise PermissionDenied
        if form.is_valid():
            figure = call_with_form_errors(form, services.set_population, request.user, **form.cleaned_data)
            if figure is not None:
                messages.success(request, _("Population figure saved: %(figure)s.") % {"figure": figure})
                return redirect("statistics:population")
    return render(
        request,
        "statistics/population.html",
        {"figures": Population.objects.all(), "form": form, "may_change": may_change},
    )
