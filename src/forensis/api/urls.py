from django.http import JsonResponse
from django.urls import include, path, re_path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import permissions
from rest_framework.routers import APIRootView, DefaultRouter

from . import niem, statistics_views, views
from .base import ForensisAPIMixin
from .errors import error_body

app_name = "api"


class RootView(ForensisAPIMixin, APIRootView):
    """``/api/v1/``: the links to the collections, for any token or signed-in person (it shows no data)."""

    permission_classes = [permissions.IsAuthenticated]


class Router(DefaultRouter):
    include_root_view = True
    include_format_suffixes = False
    APIRootView = RootView


router = Router()
router.register("submissions", views.SubmissionViewSet, basename="submission")
router.register("cases", views.CaseViewSet, basename="case")
router.register("items", views.ItemViewSet, basename="item")
router.register("custody-events", views.CustodyEventViewSet, basename="custody-event")
router.register("requests", views.RequestViewSet, basename="request")
router.register("reports", views.ReportViewSet, basename="report")


@csrf_exempt  # changes nothing: a POST to a wrong address gets the same JSON 404 as a GET
def not_found(request, rest: str = ""):
    message = _("There is no such address in the API. See /api/v1/docs/.")
    return JsonResponse(error_body("not_found", message), status=404)


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("feed/", views.FeedView.as_view(), name="feed"),
    path("cases/<str:lab_number>/niem/", niem.NiemCaseView.as_view(), name="case-niem"),
    path("statistics/", statistics_views.DashboardListView.as_view(), name="statistics"),
    path("statistics/open-data/", statistics_views.OpenDataListView.as_view(), name="statistics-open-data"),
    path(
        "statistics/open-data/<str:name>/",
        statistics_views.OpenDataTableView.as_view(),
        name="statistics-open-data-table",
    ),
    path("statistics/<str:dashboard>/<str:figure>/", statistics_views.FigureView.as_view(), name="statistics-figure"),
    path("", include(router.urls)),
    re_path(r"^(?P<rest>.*)$", not_found, name="not_found"),
]
