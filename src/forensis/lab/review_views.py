"""The request page, the review queues, the review page and the release page.

Rows are read through ``ServiceRequest.objects.visible_to`` first, so another agency's request is a 404 before
any permission is considered. Nothing here writes a model: a decision goes to ``services.review`` or
``services.release``, whose refusals are shown on the form as they are. The password of an e-signature is
checked here with ``authenticate`` (failures count towards the lockout like any other); the service is told
only whether it succeeded.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _

from forensis.core.services import call_with_form_errors
from forensis.deaths.views import summary_for_request
from forensis.reports.models import Report

from . import services
from .models import (
    Attachment,
    ChecklistQuestion,
    Examination,
    RequestStatus,
    Result,
    ReviewStage,
    ServiceRequest,
    SignatureMeaning,
)
from .results import describe_result, fields_for
from .review_forms import APPROVE, ReleaseForm, ReviewForm

VIEW, REVIEW, RELEASE = "lab.view_servicerequest", "lab.review_request", "lab.release_request"

#: The status a request waits in for each review.
WAITING_FOR = {
    ReviewStage.TECHNICAL: RequestStatus.DRAFT_COMPLETE,
    ReviewStage.ADMINISTRATIVE: RequestStatus.TECHNICAL_REVIEW,
}
STAGE_OF_STATUS = {status: stage for stage, status in WAITING_FOR.items()}
STAGE_FIELDS = ("requested_at", *services.STAGE_TIMESTAMPS)


def visible_request(request, pk: int, *permissions: str) -> ServiceRequest:
    """The request if the user may see it (else 404) and holds one of ``permissions`` (else 403)."""
    service_request = get_object_or_404(
        ServiceRequest.objects.visible_to(request.user).select_related(
            "case", "case__agency", "discipline", "assigned_to", "parent__discipline"
        ),
        pk=pk,
    )
    if not any(request.user.has_perm(p) for p in permissions):
        raise PermissionDenied
    return service_request


def person_name(user) -> str:
    return user.get_full_name() or user.get_username()


def _password_ok(request, form) -> bool:
    """Whether the signer typed their own password; a wrong one is reported on ``form`` (an empty one is not:
    the service says that a signature needs it)."""
    password = form.cleaned_data.get("password", "")
    if not password:
        return False
    if authenticate(request, username=request.user.get_username(), password=password) is None:
        form.add_error("password", _("The password is not correct."))
        return False
    return True


# --- what the pages show -----------------------------------------------------------------------------


def _results(service_request: ServiceRequest, examination) -> list[dict]:
    """Per item of the request: its result versions, newest first (superseded ones with the reason)."""
    versions: dict[int, list[dict]] = {}
    if examination is not None:
        results = (
            Result.objects.filter(examination=examination)
            .select_related("recorded_by", "superseded_by")
            .order_by("item_id", "-version")
        )
        for result in results:
            replaced_by = getattr(result, "superseded_by", None) if not result.is_current else None
            versions.setdefault(result.item_id, []).append(
                {
                    "result": result,
                    "rows": describe_result(fields_for(service_request.discipline.code), result.data),
                    "recorded_by": person_name(result.recorded_by),
                    "replaced_by": replaced_by,
                }
            )
    return [
        {"item": item, "versions": versions.get(item.pk, [])}
        for item in service_request.items.order_by("number", "sub_number")
    ]


def _reviews(service_request: ServiceRequest) -> list[dict]:
    reviews = list(service_request.reviews.select_related("reviewer", "signature"))
    asked = {str(pk) for review in reviews for pk in review.checklist}
    questions = ChecklistQuestion.objects.in_bulk([int(pk) for pk in asked if pk.isdigit()])
    return [
        {
            "review": review,
            "reviewer": person_name(review.reviewer),
            "answers": [
                (str(questions[int(pk)]) if pk.isdigit() and int(pk) in questions else pk, answer)
                for pk, answer in review.checklist.items()
            ],
        }
        for review in reviews
    ]


def _stages(service_request: ServiceRequest) -> dict:
    """The stage timestamps in order, and whether each one set is ≥ the one before."""
    rows = [
        {"name": name, "label": ServiceRequest._meta.get_field(name).verbose_name, "at": getattr(service_request, name)}
        for name in STAGE_FIELDS
    ]
    if service_request.cancelled_at:
        rows.append(
            {
                "name": "cancelled_at",
                "label": ServiceRequest._meta.get_field("cancelled_at").verbose_name,
                "at": service_request.cancelled_at,
            }
        )
    stamps = [row["at"] for row in rows if row["at"] is not None]
    return {"rows": rows, "consistent": stamps == sorted(stamps)}


def request_parts(service_request: ServiceRequest) -> dict:
    """Everything the request page shows; the review and release pages show the same parts."""
    examination = (
        Examination.objects.select_related("method", "instrument", "analyst")
        .prefetch_related("reagent_lots")
        .filter(request=service_request)
        .first()
    )
    current_hash = services.content_hash(service_request)
    signatures = list(service_request.signatures.all())
    signed = [s for s in signatures if s.meaning != SignatureMeaning.RELEASED]
    return {
        "service_request": service_request,
        "analyst_name": person_name(service_request.assigned_to) if service_request.assigned_to else "",
        "items": service_request.items.order_by("number", "sub_number"),
        "examination": examination,
        "lots": list(examination.reagent_lots.all()) if examination else [],
        "attachments": Attachment.objects.filter(examination=examination).select_related("uploaded_by")
        if examination
        else [],
        "results": _results(service_request, examination),
        "signatures": [{"signature": s, "current": s.content_hash == current_hash} for s in signatures],
        "content_hash": current_hash,
        "signed_content_changed": bool(signed) and signed[-1].content_hash != current_hash,
        "reviews": _reviews(service_request),
        "transitions": service_request.transitions.select_related("actor"),
        "stages": _stages(service_request),
        "children": service_request.children.select_related("discipline"),
        "report": Report.objects.filter(request=service_request).first(),
        # An autopsy has no per-item results: its record is shown instead (None for other disciplines).
        "autopsy_summary": summary_for_request(service_request),
    }


# --- pages -------------------------------------------------------------------------------------------


@login_required
def request_detail(request, pk: int):
    service_request = visible_request(request, pk, VIEW)
    user = request.user
    stage = STAGE_OF_STATUS.get(service_request.status)
    return render(
        request,
        "lab/request_detail.html",
        {
            **request_parts(service_request),
            "can_examine": service_request.assigned_to_id == user.pk
            and service_request.status in (RequestStatus.ASSIGNED, RequestStatus.IN_PROGRESS)
            and user.has_perm("lab.perform_examination"),
            "can_review": bool(stage) and services.review_problem(user, service_request, stage) is None,
            "can_release": service_request.status == RequestStatus.ADMINISTRATIVE_REVIEW and user.has_perm(RELEASE),
        },
    )


@login_required
def review_queues(request):
    user = request.user
    if not (user.has_perm(REVIEW) or user.has_perm(RELEASE)):
        raise PermissionDenied
    waiting = ServiceRequest.objects.visible_to(user).select_related("case", "discipline", "assigned_to")
    queues = []
    for stage, since in (
        (ReviewStage.TECHNICAL, "draft_completed_at"),
        (ReviewStage.ADMINISTRATIVE, "technical_reviewed_at"),
    ):
        candidates = list(waiting.filter(status=WAITING_FOR[stage]).order_by("-priority", "court_date", since))
        mine = [r for r in candidates if services.review_problem(user, r, stage) is None]
        queues.append(
            {
                "stage": stage,
                "label": stage.label,
                "rows": [{"request": r, "since": getattr(r, since)} for r in mine],
                "others": len(candidates) - len(mine),
            }
        )
    releasable = (
        [
            {"request": r, "since": r.administrative_reviewed_at}
            for r in waiting.filter(status=RequestStatus.ADMINISTRATIVE_REVIEW).order_by(
                "-priority", "court_date", "administrative_reviewed_at"
            )
        ]
        if user.has_perm(RELEASE)
        else None
    )
    return render(request, "lab/review_queues.html", {"queues": queues, "releasable": releasable})


@login_required
def review_request(request, pk: int):
    service_request = visible_request(request, pk, REVIEW)
    posted = request.method == "POST"
    stage = request.POST.get("stage") if posted else STAGE_OF_STATUS.get(service_request.status)
    if stage not in ReviewStage.values:
        stage = STAGE_OF_STATUS.get(service_request.status)
    if stage is None:
        messages.info(
            request,
            _("Request %(request)s is %(status)s: there is nothing to review.")
            % {"request": service_request, "status": service_request.get_status_display().lower()},
        )
        return redirect("lab:request", pk=pk)
    questions = list(services.checklist_for(service_request, stage))
    form = ReviewForm(request.POST if posted else None, initial={"stage": stage}, questions=questions)
    if posted and form.is_valid():
        approve = form.cleaned_data["decision"] == APPROVE
        reauthenticated = _password_ok(request, form) if approve else False
        if not form.errors:
            try:
                decision = call_with_form_errors(
                    form,
                    services.review,
                    request.user,
                    service_request,
                    stage=stage,
                    approve=approve,
                    reason=form.cleaned_data["reason"],
                    checklist=form.checklist_answers(),
                    reauthenticated=reauthenticated,
                )
            except PermissionDenied as refused:
                form.add_error(None, str(refused) or _("You may not review this request."))
                decision = None
            if decision is not None:
                return _after_review(request, service_request, decision)
    return render(
        request,
        "lab/review_form.html",
        {
            **request_parts(service_request),
            "form": form,
            "stage": stage,
            "stage_label": ReviewStage(stage).label,
            "problem": services.review_problem(request.user, service_request, stage)
            if service_request.status == WAITING_FOR[stage]
            else _("Request %(request)s is %(status)s; this review is not possible now.")
            % {"request": service_request, "status": service_request.get_status_display().lower()},
        },
    )


def _after_review(request, service_request: ServiceRequest, decision):
    stage = ReviewStage(decision.stage).label
    if not decision.approved:
        messages.success(
            request,
            _("%(stage)s: request %(request)s was sent back to the analyst.")
            % {"stage": stage, "request": service_request},
        )
        return redirect("lab:reviews")
    messages.success(
        request,
        _("%(stage)s of request %(request)s approved and signed.") % {"stage": stage, "request": service_request},
    )
    if decision.stage == ReviewStage.ADMINISTRATIVE and request.user.has_perm(RELEASE):
        return redirect("lab:release", pk=service_request.pk)
    return redirect("lab:reviews")


@login_required
def release_request(request, pk: int):
    service_request = visible_request(request, pk, RELEASE)
    form = ReleaseForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        reauthenticated = _password_ok(request, form)
        if not form.errors:
            released = call_with_form_errors(
                form, services.release, request.user, service_request, reauthenticated=reauthenticated
            )
            if released is not None:
                messages.success(request, _("Request %(request)s was released.") % {"request": released})
                return redirect("lab:request", pk=pk)
    return render(
        request,
        "lab/request_release.html",
        {
            **request_parts(service_request),
            "form": form,
            "ready": service_request.status == RequestStatus.ADMINISTRATIVE_REVIEW,
        },
    )


urlpatterns = [
    path("requests/<int:pk>/", request_detail, name="request"),
    path("requests/<int:pk>/review/", review_request, name="review"),
    path("requests/<int:pk>/release/", release_request, name="release"),
    path("reviews/", review_queues, name="reviews"),
]
