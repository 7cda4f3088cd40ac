"""The API's endpoints. Rows come only through ``visible_to`` (the UI's scoping); changes only through the
service functions the web pages call. A token additionally reaches only its resources (``base``)."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from forensis.cases.models import Case
from forensis.evidence.models import CustodyEvent, Item
from forensis.intake import services as intake_services
from forensis.intake.models import Submission
from forensis.lab.models import ServiceRequest
from forensis.reports import services as report_services
from forensis.reports.models import Report, ReportVersion

from . import filters
from . import serializers as api_serializers
from .base import IDEMPOTENCY_HEADER, ForensisAPIMixin, idempotent
from .feed import entry
from .models import Change, Resource, Topic

SUBMISSION_EXAMPLE = OpenApiExample(
    "A shooting: one cartridge case for firearms examination",
    request_only=True,
    value={
        "agency_case_number": "BZ-CR-2026-0412",
        "offence_codes": ["0101"],
        "incident_at": "2026-11-20T22:15:00Z",
        "district": "BZ",
        "town": "Belize City",
        "people": [{"role": "victim", "name": "Unknown", "sex": "M", "age": 30}],
        "items": [
            {
                "type": "cartridge_case",
                "description": "9 mm cartridge case",
                "seal_number": "PB-118",
                "disciplines": ["firearms"],
            }
        ],
    },
)
FEED_EXAMPLE = OpenApiExample(
    "A case received",
    response_only=True,
    value={
        "changes": [
            {
                "cursor": "3",
                "topic": "case.received",
                "occurred_at": "2026-11-25T12:28:49.779515Z",
                "case": "NFSS-2026-00917",
                "agency": "BPD-BZ",
                "data": {
                    "new_case": True,
                    "submission": "SUB-2026-01022",
                    "receipt": "RCT-2026-00954",
                    "items": ["NFSS-2026-00917/01", "NFSS-2026-00917/02"],
                    "deviations": 0,
                },
            }
        ],
        "next_cursor": "3",
        "has_more": False,
    },
)


class Pages(CursorPagination):
    """Cursor pages: stable while rows are added, and as fast on page 1,000 as on page 1."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def pages(ordering: str) -> type[Pages]:
    return type(f"PagesBy{ordering.strip('-').title()}", (Pages,), {"ordering": ordering})


class CaseViewSet(ForensisAPIMixin, viewsets.ReadOnlyModelViewSet):
    """Laboratory cases of the caller's agency (and cases shared with it as prosecutor or court)."""

    resource = Resource.CASES
    permission_required = "cases.view_case"
    lookup_field = "lab_number"
    lookup_value_regex = "[^/]+"
    filterset_class = filters.CaseFilter
    pagination_class = pages("-received_at")

    def get_queryset(self):
        cases = Case.objects.visible_to(self.request.user).select_related("agency").prefetch_related("offences")
        if self.action == "retrieve":
            cases = cases.prefetch_related(
                "people",
                Prefetch("items", queryset=Item.objects.select_related("case", "parent", "location")),
                Prefetch(
                    "requests",
                    queryset=ServiceRequest.objects.select_related("case", "discipline").prefetch_related("items"),
                ),
            )
        return cases

    def get_serializer_class(self):
        return api_serializers.CaseDetailSerializer if self.action == "retrieve" else api_serializers.CaseSerializer


class ItemViewSet(ForensisAPIMixin, viewsets.ReadOnlyModelViewSet):
    """Items of the visible cases, by item number (``CASE/NN`` or ``CASE/NN.M``), with their custody ledger."""

    resource = Resource.CASES
    permission_required = "cases.view_case"
    serializer_class = api_serializers.ItemSerializer
    lookup_field = "label"
    lookup_value_regex = r"[^/]+/[0-9]+(?:\.[0-9]+)?"
    filterset_class = filters.ItemFilter
    pagination_class = pages("id")

    def get_queryset(self):
        return Item.objects.visible_to(self.request.user).select_related("case", "parent", "location")

    @extend_schema(responses=api_serializers.CustodyEventSerializer(many=True), filters=False)
    @action(detail=True, url_path="custody-events", pagination_class=None, filterset_class=None)
    def custody_events(self, request, label: str):
        """The item's chain of custody, oldest first (each event chained to the one before by its hash)."""
        item = self.get_object()
        events = item.custody_events.select_related("item", "storage_location").order_by("sequence")
        return Response(api_serializers.CustodyEventSerializer(events, many=True).data)


class CustodyEventViewSet(ForensisAPIMixin, viewsets.GenericViewSet, mixins.ListModelMixin):
    """Custody events of the visible cases in the order they were recorded (filter by case, item or time)."""

    resource = Resource.CASES
    permission_required = "cases.view_case"
    serializer_class = api_serializers.CustodyEventSerializer
    filterset_class = filters.CustodyEventFilter
    pagination_class = pages("id")

    def get_queryset(self):
        return CustodyEvent.objects.visible_to(self.request.user).select_related("item", "storage_location")


class RequestViewSet(ForensisAPIMixin, viewsets.ReadOnlyModelViewSet):
    """Examination requests of the visible cases and where each stands (as the case page shows)."""

    resource = Resource.REQUESTS
    permission_required = "cases.view_case"
    serializer_class = api_serializers.RequestSerializer
    filterset_class = filters.RequestFilter
    pagination_class = pages("id")
    lookup_value_regex = "[0-9]{1,18}"

    def get_queryset(self):
        return (
            ServiceRequest.objects.visible_to(self.request.user)
            .select_related("case", "discipline")
            .prefetch_related("items")
        )


class ReportViewSet(ForensisAPIMixin, viewsets.ReadOnlyModelViewSet):
    """Released reports: their versions (each a signed PDF with its SHA-256) and the PDFs themselves."""

    resource = Resource.REPORTS
    permission_required = "reports.view_report"
    serializer_class = api_serializers.ReportSerializer
    lookup_field = "number"
    lookup_value_regex = "[^/]+"
    filterset_class = filters.ReportFilter
    pagination_class = pages("-created_at")

    def get_queryset(self):
        return (
            Report.objects.visible_to(self.request.user)
            .select_related("case", "request__discipline")
            .prefetch_related(Prefetch("versions", queryset=ReportVersion.objects.select_related("report")))
        )

    @extend_schema(
        parameters=[OpenApiParameter("version", int, description="The version to download (default: the latest).")],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
        filters=False,
    )
    @action(detail=True, filterset_class=None)
    def pdf(self, request, number: str):
        """The signed PDF of the report (the latest version, or ``?version=N``). The download is audited."""
        report = self.get_object()
        raw = request.query_params.get("version", "")
        if raw and not (raw.isdigit() and len(raw) <= 9):
            raise exceptions.ValidationError({"version": [_("Give a version number, e.g. 1.")]})
        versions = report.versions.order_by("-version")
        version = get_object_or_404(versions, version=int(raw)) if raw else versions.first()
        if version is None:
            raise exceptions.NotFound()
        report_services.record_access(request.user, version, download=True)
        response = FileResponse(version.file.open("rb"), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{version.filename}"'
        return response


class SubmissionViewSet(
    ForensisAPIMixin,
    viewsets.GenericViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
):
    """Pre-logged submissions of the caller's agency: create a draft, replace it, submit it to the laboratory."""

    resource = Resource.SUBMISSIONS
    permission_required = "intake.view_submission"
    write_permission = "intake.add_submission"
    serializer_class = api_serializers.SubmissionSerializer
    lookup_field = "reference"
    lookup_value_regex = "[^/]+"
    filterset_class = filters.SubmissionFilter
    pagination_class = pages("-created_at")
    http_method_names = ["get", "post", "put", "head", "options"]

    def get_queryset(self):
        return (
            Submission.objects.visible_to(self.request.user)
            .select_related("agency", "submitting_officer", "case")
            .prefetch_related("people", "items__disciplines", "items__item")
        )

    def _answer(self, submission: Submission, code: int) -> Response:
        submission = self.get_queryset().get(pk=submission.pk)
        data = self.get_serializer(submission).data
        location = reverse("api:submission-detail", kwargs={"reference": submission.reference})
        return Response(data, status=code, headers={"Location": location} if code == 201 else None)

    @extend_schema(
        request=api_serializers.SubmissionInputSerializer,
        responses={201: api_serializers.SubmissionSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        examples=[SUBMISSION_EXAMPLE],
    )
    @idempotent
    def create(self, request):
        """A new draft for the caller's agency (people and items may come at once)."""
        if request.user.is_laboratory_staff:
            raise exceptions.PermissionDenied(_("The laboratory enters walk-in submissions at its reception page."))
        payload = api_serializers.SubmissionInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        arguments = payload.service_arguments()
        submission = intake_services.create_submission(
            request.user, people=arguments["people"], items=arguments["items"], **arguments["fields"]
        )
        return self._answer(submission, status.HTTP_201_CREATED)

    @extend_schema(
        request=api_serializers.SubmissionInputSerializer,
        responses={200: api_serializers.SubmissionSerializer},
        examples=[SUBMISSION_EXAMPLE],
    )
    def update(self, request, reference: str):
        """Replace a draft's details, people and items (a laboratory correction of a submitted one needs ``reason``)."""
        submission = self.get_object()
        payload = api_serializers.SubmissionInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        intake_services.update_submission(
            request.user, submission, reason=payload.validated_data.get("reason", ""), **payload.service_arguments()
        )
        return self._answer(submission, status.HTTP_200_OK)

    @extend_schema(
        request=None,
        responses={200: api_serializers.SubmissionSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def submit(self, request, reference: str):
        """Send the draft to the laboratory; afterwards only the laboratory may correct it."""
        submission = self.get_object()
        intake_services.submit_submission(request.user, submission)
        return self._answer(submission, status.HTTP_200_OK)


FEED_PAGE = 100
FEED_MAX_PAGE = 500


class FeedView(ForensisAPIMixin, generics.GenericAPIView):
    """Changes in the order they happened: pull with ``after=<next_cursor of the last pull>`` to catch up."""

    resource = Resource.FEED
    permission_required = "cases.view_case"
    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        parameters=[
            OpenApiParameter("after", str, description="The `next_cursor` of your last pull (omit the first time)."),
            OpenApiParameter("limit", int, description=f"Entries per pull, 1–{FEED_MAX_PAGE} (default {FEED_PAGE})."),
            OpenApiParameter("topic", str, enum=Topic.values, description="Only this kind of change."),
        ],
        examples=[FEED_EXAMPLE],
        responses={
            200: inline_serializer(
                "FeedPage",
                {
                    "changes": inline_serializer(
                        "FeedEntry",
                        {
                            "cursor": serializers.CharField(),
                            "topic": serializers.ChoiceField(choices=Topic.choices),
                            "occurred_at": serializers.DateTimeField(),
                            "case": serializers.CharField(),
                            "agency": serializers.CharField(),
                            "data": serializers.DictField(),
                        },
                        many=True,
                    ),
                    "next_cursor": serializers.CharField(allow_null=True),
                    "has_more": serializers.BooleanField(),
                },
            ),
        },
    )
    def get(self, request):
        after, limit, topic = self._arguments(request)
        changes = Change.objects.visible_to(request.user).filter(pk__gt=after)
        if topic:
            changes = changes.filter(topic=topic)
        page = list(changes.select_related("case", "agency").order_by("pk")[: limit + 1])
        has_more = len(page) > limit
        page = page[:limit]
        next_cursor = str(page[-1].pk) if page else str(after) if after else None
        return Response({"changes": [entry(c) for c in page], "next_cursor": next_cursor, "has_more": has_more})

    @staticmethod
    def _arguments(request) -> tuple[int, int, str]:
        errors = {}
        after, limit = request.query_params.get("after", "0"), request.query_params.get("limit", str(FEED_PAGE))
        topic = request.query_params.get("topic", "")
        if not after.isdigit() or len(after) > 18:
            errors["after"] = [_("Not a cursor this feed gave: use the next_cursor of your last pull.")]
        if not limit.isdigit() or not 1 <= int(limit) <= FEED_MAX_PAGE:
            errors["limit"] = [_("Give a number from 1 to %(max)s.") % {"max": FEED_MAX_PAGE}]
        if topic and topic not in Topic.values:
            errors["topic"] = [_("Unknown topic; one of: %(topics)s.") % {"topics": ", ".join(Topic.values)}]
        if errors:
            raise exceptions.ValidationError(errors)
        return int(after), int(limit), topic
