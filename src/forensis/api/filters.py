"""Query filters of the API's lists (django-filter). Dates compare whole timestamps, so indexes serve them."""

from __future__ import annotations

import datetime

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

from forensis.cases.models import Case
from forensis.core.vocabulary import District
from forensis.evidence.models import CustodyEvent, Item, ItemStatus, ItemType
from forensis.intake.models import Submission, SubmissionStatus
from forensis.lab.models import RequestStatus, ServiceRequest
from forensis.reports.models import Report, ReportKind


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time with any UTC offset, compared in UTC (PostgreSQL refuses offsets beyond ±15:59)."""

    def to_python(self, value):
        value = super().to_python(value)
        try:
            return value.astimezone(datetime.UTC) if value is not None else None
        except OverflowError:  # e.g. 0001-01-01T00:00+05:00, before the year 1 in UTC
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class CaseFilter(django_filters.FilterSet):
    received_after = DateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = DateTimeFilter(field_name="received_at", lookup_expr="lt")
    district = django_filters.ChoiceFilter(choices=District.choices)
    agency_case_number = django_filters.CharFilter(lookup_expr="iexact")
    offence = django_filters.CharFilter(
        field_name="offences__code", lookup_expr="startswith", distinct=True, help_text="ICCS code or its prefix."
    )

    class Meta:
        model = Case
        fields = ["received_after", "received_before", "district", "agency_case_number", "offence"]


class ItemFilter(django_filters.FilterSet):
    case = django_filters.CharFilter(field_name="case__lab_number")
    type = django_filters.ChoiceFilter(choices=ItemType.choices)
    status = django_filters.ChoiceFilter(choices=ItemStatus.choices)

    class Meta:
        model = Item
        fields = ["case", "type", "status"]


class CustodyEventFilter(django_filters.FilterSet):
    case = django_filters.CharFilter(field_name="item__case__lab_number")
    item = django_filters.CharFilter(field_name="item__label")
    after = DateTimeFilter(field_name="occurred_at", lookup_expr="gt")

    class Meta:
        model = CustodyEvent
        fields = ["case", "item", "after"]


class RequestFilter(django_filters.FilterSet):
    case = django_filters.CharFilter(field_name="case__lab_number")
    status = django_filters.ChoiceFilter(choices=RequestStatus.choices)
    discipline = django_filters.CharFilter(field_name="discipline__code")

    class Meta:
        model = ServiceRequest
        fields = ["case", "status", "discipline"]


class ReportFilter(django_filters.FilterSet):
    case = django_filters.CharFilter(field_name="case__lab_number")
    kind = django_filters.ChoiceFilter(choices=ReportKind.choices)
    issued_after = DateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Report
        fields = ["case", "kind", "issued_after"]


class SubmissionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=SubmissionStatus.choices)
    agency_case_number = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Submission
        fields = ["status", "agency_case_number"]
