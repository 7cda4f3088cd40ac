"""The death investigation list: where each death stands (its stage) and the filters of the list page.

The stage is derived from the data, never stored: whether the morgue received the body (the pathology request
exists), how far the autopsy request went, whether its reports are out, and whether the body was released. It is
computed in the database (one annotation), so the list can be filtered and sorted by it.
"""

from __future__ import annotations

import django_filters
from django.db.models import Case, CharField, Exists, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from forensis.core.forms import BootstrapForm
from forensis.core.vocabulary import District, Sex
from forensis.lab.models import RequestStatus, ServiceRequest
from forensis.lab.services import AUTOPSY_DISCIPLINE
from forensis.reports.models import Report

from .models import BodyRelease, DeathInvestigation, Manner

#: The steps of a death investigation, in order (the stage indicator of the detail page shows all of them).
STAGES = (
    ("logged", _("Logged at the scene")),
    ("received", _("Received at the morgue")),
    ("autopsy", _("Autopsy in progress")),
    ("review", _("Autopsy signed, in review")),
    ("reported", _("Report released")),
    ("released", _("Body released")),
)
STAGE_LABELS = dict(STAGES)
#: Request statuses in which the pathologist has signed and reviewers have it.
IN_REVIEW = (RequestStatus.DRAFT_COMPLETE, RequestStatus.TECHNICAL_REVIEW, RequestStatus.ADMINISTRATIVE_REVIEW)


def _autopsy_requests():
    return ServiceRequest.objects.filter(items=OuterRef("body_id"), discipline__code=AUTOPSY_DISCIPLINE).exclude(
        status=RequestStatus.CANCELLED
    )


def with_stage(queryset: QuerySet[DeathInvestigation]) -> QuerySet[DeathInvestigation]:
    """Annotate ``autopsy_status`` (the pathology request's status, or None), ``has_report``, ``has_release`` and
    ``stage`` (a code of ``STAGES``: the furthest step reached)."""
    return queryset.annotate(
        autopsy_status=Subquery(_autopsy_requests().order_by("pk").values("status")[:1]),
        has_report=Exists(
            Report.objects.filter(request__items=OuterRef("body_id"), request__discipline__code=AUTOPSY_DISCIPLINE)
        ),
        has_release=Exists(BodyRelease.objects.filter(investigation=OuterRef("pk"))),
    ).annotate(
        stage=Case(
            When(has_release=True, then=Value("released")),
            When(has_report=True, then=Value("reported")),
            When(autopsy_status__in=IN_REVIEW + (RequestStatus.RELEASED,), then=Value("review")),
            When(autopsy_status=RequestStatus.IN_PROGRESS, then=Value("autopsy")),
            When(autopsy_status__isnull=False, then=Value("received")),
            default=Value("logged"),
            output_field=CharField(),
        )
    )


def month_filter(lookup_expr: str, label) -> django_filters.CharFilter:
    """A filter on the stored ``YYYY-MM`` month, with the browser's month picker."""
    return django_filters.CharFilter(
        field_name="month",
        lookup_expr=lookup_expr,
        label=label,
        widget=django_filters.widgets.forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
    )


class DeathFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search")
    district = django_filters.ChoiceFilter(choices=District.choices, label=_("District"))
    sex = django_filters.ChoiceFilter(choices=Sex.choices, label=_("Sex"))
    manner = django_filters.ChoiceFilter(choices=Manner.choices, label=_("Manner of death"), method="by_manner")
    stage = django_filters.ChoiceFilter(choices=STAGES, label=_("Stage"))
    month_from = month_filter("gte", _("Month of death from"))
    month_to = month_filter("lte", pgettext_lazy("end of a date range", "to"))

    class Meta:
        model = DeathInvestigation
        form = BootstrapForm
        fields = ["q", "district", "sex", "manner", "stage", "month_from", "month_to"]

    def search(self, queryset, name, value):
        """Investigation number, name of the deceased, body tag, police or lab case number."""
        value = value.strip()
        return queryset.filter(
            Q(number__icontains=value)
            | Q(decedent_name__icontains=value)
            | Q(tag_number__icontains=value)
            | Q(case__agency_case_number__icontains=value)
            | Q(case__lab_number__icontains=value)
        )

    def by_manner(self, queryset, name, value):
        """ "Pending investigation" also covers deaths whose autopsy is not recorded yet."""
        if value == Manner.PENDING:
            return queryset.filter(Q(autopsy__isnull=True) | Q(autopsy__manner=Manner.PENDING))
        return queryset.filter(autopsy__manner=value)
