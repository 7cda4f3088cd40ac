"""Statistics and open data through the API: the same figures and the same de-identified tables as the statistics
pages, for the crime observatory's systems. Aggregates only: nothing here names a case.

The figures are built by ``statistics.dashboards`` (one section per request, as the CSV/XLSX exports do) and the
tables by ``statistics.opendata``; the filters are validated by the pages' own form and year rules, so a bad filter
gets the message a person would see on the page.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from forensis.statistics import opendata
from forensis.statistics.dashboards import DASHBOARDS, Dashboard, Figure
from forensis.statistics.filters import Filters
from forensis.statistics.forms import FilterForm
from forensis.statistics.views import _open_data_filters

from .base import ForensisAPIMixin
from .models import Resource

ERRORS = {
    401: OpenApiResponse(description="No, an unknown, an expired or a revoked token."),
    403: OpenApiResponse(description="The token was not issued for statistics, or the person may not see them."),
    429: OpenApiResponse(description="Over the token's rate limit; wait `Retry-After` seconds."),
}
BAD_INPUT = OpenApiResponse(description="A filter the statistics pages would refuse (code `validation_error`).")
NOT_FOUND = OpenApiResponse(description="No such dashboard, figure or table.")

YEAR_PARAMETERS = [
    OpenApiParameter("year_from", int, description="First year (four digits); default: the first year recorded."),
    OpenApiParameter("year_to", int, description="Last year (four digits); default: this year."),
]
FIGURE_PARAMETERS = [
    OpenApiParameter("month_from", str, description="First month, YYYY-MM (default: the last twelve months)."),
    OpenApiParameter("month_to", str, description="Last month, YYYY-MM."),
    OpenApiParameter("district", str, description="A district code (e.g. `BZ`); default: all."),
    OpenApiParameter("agency", str, description="An agency code; default: all."),
    OpenApiParameter("discipline", str, description="A discipline code (management dashboard only)."),
]


class StatisticsAPIView(ForensisAPIMixin, APIView):
    """What the statistics endpoints share: the ``statistics`` resource and the statistics permission."""

    resource = Resource.STATISTICS
    permission_required = "statistics.view_statistics"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Figures count in the laboratory's zone, as the pages do: a period's months begin at local midnight and
        # its snapshot is taken then (the API's own times are UTC, but these are the pages' numbers).
        timezone.activate(settings.TIME_ZONE)


def _plain(value):
    """A figure's value as JSON has it: translated labels as text."""
    return str(value) if isinstance(value, Promise) else value


def _dashboard(key: str) -> Dashboard:
    dashboard = DASHBOARDS.get(key)
    if dashboard is None:
        raise exceptions.NotFound(_("There is no dashboard %(name)s.") % {"name": key})
    return dashboard


def figure_json(figure: Figure) -> dict:
    """A figure as the CSV export has it (``statistics.exports``), as JSON: its columns and its rows of values."""
    keys = [key for key, _heading in figure.columns]
    return {
        "figure": figure.key,
        "title": str(figure.title),
        "note": str(figure.note),
        "columns": [{"key": key, "heading": str(heading)} for key, heading in figure.columns],
        "rows": [{key: _plain(row.get(key)) for key in keys} for row in figure.rows],
    }


def _open_data_query(request) -> tuple[Filters, dict[str, str]]:
    """The years asked for, validated as the open-data page does (400 with its message), and as given."""
    filters = _open_data_filters(request)
    return filters, {name: request.query_params.get(name, "").strip() for name in ("year_from", "year_to")}


def _table_url(request, name: str) -> str:
    query = request.META.get("QUERY_STRING", "")
    path = reverse("api:statistics-open-data-table", kwargs={"name": name})
    return request.build_absolute_uri(path + (f"?{query}" if query else ""))


DICTIONARY_COLUMN = inline_serializer(
    "OpenDataColumn",
    {
        "name": serializers.CharField(),
        "kind": serializers.ChoiceField(choices=["dimension", "count", "measure"]),
        "description": serializers.CharField(),
        "codes": serializers.DictField(child=serializers.CharField(), help_text="Code → meaning."),
    },
    many=True,
)
YEARS = inline_serializer(
    "OpenDataYears",
    {"year_from": serializers.CharField(allow_blank=True), "year_to": serializers.CharField(allow_blank=True)},
)


class OpenDataListView(StatisticsAPIView):
    """The open-data tables: what each holds and what its columns mean (the data dictionary), with their addresses."""

    @extend_schema(
        operation_id="statistics_open_data_list",
        tags=["statistics"],
        parameters=YEAR_PARAMETERS,
        responses={
            200: inline_serializer(
                "OpenDataList",
                {
                    "suppression": serializers.CharField(help_text="How small counts are hidden."),
                    "generated": serializers.CharField(help_text="The month the dictionary was made (YYYY-MM)."),
                    "filters": YEARS,
                    "tables": inline_serializer(
                        "OpenDataTableEntry",
                        {
                            "name": serializers.CharField(),
                            "title": serializers.CharField(),
                            "description": serializers.CharField(),
                            "columns": DICTIONARY_COLUMN,
                            "url": serializers.URLField(help_text="The table's rows, for the same years."),
                        },
                        many=True,
                    ),
                },
            ),
            400: BAD_INPUT,
            **ERRORS,
        },
    )
    def get(self, request):
        filters, years = _open_data_query(request)
        dictionary = opendata.data_dictionary(opendata.tables(filters))
        tables = [{**table, "url": _table_url(request, table["name"])} for table in dictionary["tables"]]
        return Response(
            {
                "suppression": dictionary["suppression"],
                "generated": dictionary["generated"],
                "filters": years,
                "tables": tables,
            }
        )


class OpenDataTableView(StatisticsAPIView):
    """One open-data table: the same de-identified rows, small counts suppressed, as the page's JSON file."""

    @extend_schema(
        operation_id="statistics_open_data_retrieve",
        tags=["statistics"],
        parameters=YEAR_PARAMETERS,
        responses={
            200: inline_serializer(
                "OpenDataTable",
                {
                    "name": serializers.CharField(),
                    "title": serializers.CharField(),
                    "columns": serializers.ListField(child=serializers.CharField()),
                    "rows": serializers.ListField(
                        child=serializers.DictField(child=serializers.JSONField()),
                        help_text='Counts from 1 to 4, and what derives from them, read "<5".',
                    ),
                    "filters": YEARS,
                },
            ),
            400: BAD_INPUT,
            404: NOT_FOUND,
            **ERRORS,
        },
    )
    def get(self, request, name: str):
        filters, years = _open_data_query(request)
        # Build the tables one by one and stop at the one asked for.
        table = next((t for t in (build(filters) for build in opendata.TABLES) if t.name == name), None)
        if table is None:
            raise exceptions.NotFound(_("There is no open-data table %(name)s.") % {"name": name})
        return Response({**table.as_json(), "filters": years})


class DashboardListView(StatisticsAPIView):
    """The dashboards and the figures each offers (``/statistics/<dashboard>/<figure>/``)."""

    @extend_schema(
        operation_id="statistics_dashboards_list",
        tags=["statistics"],
        responses={
            200: inline_serializer(
                "StatisticsDashboard",
                {
                    "dashboard": serializers.CharField(),
                    "title": serializers.CharField(),
                    "filtered_by_discipline": serializers.BooleanField(),
                    "figures": serializers.ListField(child=serializers.CharField()),
                },
                many=True,
            ),
            **ERRORS,
        },
    )
    def get(self, request):
        return Response(
            [
                {
                    "dashboard": key,
                    "title": str(board.title),
                    "filtered_by_discipline": board.filtered_by_discipline,
                    "figures": [figure for builder in board.sections for figure in builder.figure_keys],
                }
                for key, board in DASHBOARDS.items()
            ]
        )


class FigureView(StatisticsAPIView):
    """One figure of the policy or the management dashboard as JSON: the same table the CSV export gives."""

    @extend_schema(
        operation_id="statistics_figure_retrieve",
        tags=["statistics"],
        parameters=[
            OpenApiParameter("dashboard", str, OpenApiParameter.PATH, enum=list(DASHBOARDS)),
            OpenApiParameter("figure", str, OpenApiParameter.PATH, description="A figure key (see /statistics/)."),
            *FIGURE_PARAMETERS,
        ],
        responses={
            200: inline_serializer(
                "StatisticsFigure",
                {
                    "dashboard": serializers.CharField(),
                    "figure": serializers.CharField(),
                    "title": serializers.CharField(),
                    "note": serializers.CharField(allow_blank=True),
                    "columns": inline_serializer(
                        "StatisticsFigureColumn",
                        {"key": serializers.CharField(), "heading": serializers.CharField()},
                        many=True,
                    ),
                    "rows": serializers.ListField(
                        child=serializers.DictField(child=serializers.JSONField()),
                        help_text="One object per row, keyed by the columns' keys; a missing value is null.",
                    ),
                    "filters": serializers.DictField(
                        child=serializers.CharField(allow_blank=True),
                        help_text="The filters applied (the period defaults to the last twelve months).",
                    ),
                    "filters_description": serializers.CharField(),
                },
            ),
            400: BAD_INPUT,
            404: NOT_FOUND,
            **ERRORS,
        },
    )
    def get(self, request, dashboard: str, figure: str):
        board = _dashboard(dashboard)
        if not any(figure in builder.figure_keys for builder in board.sections):
            raise exceptions.NotFound(
                _("The %(dashboard)s dashboard has no figure %(figure)s.") % {"dashboard": dashboard, "figure": figure}
            )
        form = FilterForm(request.query_params, with_discipline=board.filtered_by_discipline)
        if not form.is_valid():
            errors = {
                "non_field_errors" if name == "__all__" else name: list(messages)
                for name, messages in form.errors.items()
            }
            raise exceptions.ValidationError(errors)
        built = board.figure(figure, form.filters)
        if built is None:  # pragma: no cover - the key was checked above
            raise Http404
        applied = {name: getattr(form.filters, name) for name in form.fields}
        return Response(
            {"dashboard": dashboard, **figure_json(built), "filters": applied, "filters_description": form.describe()}
        )
