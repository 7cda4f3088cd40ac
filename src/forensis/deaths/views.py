"""Death investigation pages: the list, the follow-up of pending manners, logging a death, a death's record and
its correction, and the body release form.

Rows come through ``services.visible_investigations(user)``: another agency's death is a 404 before any permission
is considered; a missing permission is a 403. Nothing here writes a model: each change is a ``deaths.services``
function whose refusals are put on the form, next to the field they concern. The morgue's pages (receiving and
releasing the body) are in ``morgue_views``, the pathologist's in ``autopsy_views``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.forms.models import model_to_dict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django_tables2 import RequestConfig

from forensis.accounts.models import AgencyType
from forensis.accounts.roles import Role
from forensis.audit.services import record_read
from forensis.core import icd10
from forensis.core.filters import filters_of
from forensis.core.services import call_with_form_errors
from forensis.evidence.models import FINAL_STATUSES
from forensis.intake.views import pdf_response
from forensis.lab.models import RequestStatus, Result, ServiceRequest
from forensis.lab.results import describe_result, fields_for
from forensis.lab.services import AUTOPSY_DISCIPLINE
from forensis.reports.models import Report

from . import body_custody, services
from .documents import render_body_release_form
from .filters import IN_REVIEW, STAGES, DeathFilter, with_stage
from .forms import EditInvestigationForm, LogDeathForm
from .models import FRAMEWORK_INDICATORS, AutopsyRecord, BodyRelease, DeathInvestigation
from .tables import DeathTable, PendingTable, manner_badge, stage_badge

VIEW = "deaths.view_deathinvestigation"
ADD = "deaths.add_deathinvestigation"
CHANGE = "deaths.change_deathinvestigation"
#: The lines of Part I of the cause of death, as the certificate names them.
CAUSE_LINES = {
    "immediate": _lazy("(a) Immediate cause"),
    "antecedent": _lazy("(b) Due to (antecedent cause)"),
    "underlying": _lazy("(c) Underlying cause"),
}


def investigation_for(request, number: str, *permissions: str) -> DeathInvestigation:
    """The death if the user may see it (else 404), annotated with its stage; 403 without ``permissions``."""
    investigation = get_object_or_404(
        with_stage(services.visible_investigations(request.user)).select_related(
            "pathologist", "scene_technician", "logged_by", "body__holder", "body__location"
        ),
        number=number,
    )
    if not all(request.user.has_perm(p) for p in (VIEW, *permissions)):
        raise PermissionDenied
    return investigation


def autopsy_summary(investigation: DeathInvestigation, autopsy: AutopsyRecord | None) -> dict:
    """What ``deaths/_autopsy_summary.html`` shows: the cause chain with ICD-10 codes and WHO titles, and the rest."""
    causes = []
    if autopsy is not None:
        for line, text_field, code_field in AutopsyRecord.CAUSE_CHAIN:
            text, code = getattr(autopsy, text_field), getattr(autopsy, code_field)
            if text or code:
                causes.append(
                    {
                        "line": line,
                        "label": CAUSE_LINES[line],
                        "text": text,
                        "code": code,
                        "title": icd10.describe(code) if code else "",
                    }
                )
    return {"investigation": investigation, "autopsy": autopsy, "causes": causes}


def summary_for_request(service_request: ServiceRequest) -> dict | None:
    """The autopsy summary of a pathology request (shown on the laboratory's request pages), else None."""
    if service_request.discipline.code != AUTOPSY_DISCIPLINE:
        return None
    investigation = DeathInvestigation.objects.filter(body__requests=service_request).select_related("case").first()
    if investigation is None:
        return None
    return autopsy_summary(investigation, AutopsyRecord.objects.filter(investigation=investigation).first())


# --- lists ------------------------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def death_list(request):
    deaths = with_stage(services.visible_investigations(request.user).select_related("autopsy", "pathologist"))
    found = DeathFilter(request.GET, queryset=deaths)
    table = DeathTable(found.qs)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    record_read(request.user, "death.list_viewed", object_type="deaths.deathinvestigation", after=filters_of(request))
    return render(request, "deaths/death_list.html", {"filter": found, "table": table})


@login_required
@permission_required(VIEW, raise_exception=True)
def pending_list(request):
    """Deaths whose manner is still pending investigation, oldest first: the follow-up list."""
    table = PendingTable(with_stage(services.pending_manner(request.user).select_related("pathologist")))
    RequestConfig(request, paginate={"per_page": 100}).configure(table)
    record_read(request.user, "death.pending_list_viewed", object_type="deaths.deathinvestigation")
    return render(request, "deaths/pending_list.html", {"table": table})


# --- logging and correcting -------------------------------------------------------------------------


@login_required
@permission_required(ADD, raise_exception=True)
def death_new(request):
    user = request.user
    initial = {}
    if user.agency.type == AgencyType.POLICE:
        initial["agency"] = user.agency_id
    if user.has_role(Role.SCENE_TECHNICIAN):
        initial["scene_technician"] = user.pk
    form = LogDeathForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        investigation = call_with_form_errors(form, services.log_death, user, **form.log_arguments())
        if investigation is not None:
            messages.success(
                request,
                _("Death %(number)s logged under case %(case)s; the body is item %(body)s, in your custody.")
                % {
                    "number": investigation.number,
                    "case": investigation.case.lab_number,
                    "body": investigation.body.label,
                },
            )
            return redirect("deaths:detail", number=investigation.number)
    return render(request, "deaths/death_form.html", {"form": form, "investigation": None})


@login_required
def death_edit(request, number: str):
    investigation = investigation_for(request, number, CHANGE)
    form = EditInvestigationForm(
        request.POST or None,
        initial=model_to_dict(investigation, fields=services.INVESTIGATION_FIELDS),
        current_people=(investigation.pathologist_id, investigation.scene_technician_id),
    )
    if request.method == "POST" and form.is_valid():
        saved = call_with_form_errors(
            form,
            services.update_investigation,
            request.user,
            investigation,
            reason=form.cleaned_data["reason"],
            **form.investigation_fields(),
        )
        if saved is not None:
            messages.success(request, _("Death %(number)s saved.") % {"number": number})
            return redirect("deaths:detail", number=number)
    return render(
        request,
        "deaths/death_form.html",
        {"form": form, "investigation": investigation, "report_out": investigation.has_report},
    )


# --- one death --------------------------------------------------------------------------------------


def stage_steps(investigation: DeathInvestigation) -> list[dict]:
    """Every step of ``STAGES``, each done, current (the furthest reached) or still to come."""
    status = investigation.autopsy_status
    done = {
        "logged": True,
        "received": status is not None,
        "autopsy": status not in (None, RequestStatus.REQUESTED, RequestStatus.ASSIGNED),
        "review": status in (*IN_REVIEW, RequestStatus.RELEASED) or investigation.has_report,
        "reported": investigation.has_report,
        "released": investigation.has_release,
    }
    steps = []
    for number, (code, label) in enumerate(STAGES, start=1):
        state = "current" if code == investigation.stage else "done" if done[code] else "upcoming"
        steps.append({"code": code, "label": label, "state": state, "number": number})
    return steps


def _ancillary_tests(investigation: DeathInvestigation) -> list[dict]:
    """The tests raised at autopsy; what they found is shown once their own request is released."""
    tests = []
    for child in services.ancillary_requests(investigation):
        results = []
        if child.status == RequestStatus.RELEASED:
            specs = fields_for(child.discipline.code)
            current = Result.objects.filter(examination__request=child, is_current=True).select_related("item")
            results = [
                {"item": result.item, "rows": describe_result(specs, result.data)}
                for result in current.order_by("item__number", "item__sub_number", "pk")
            ]
        tests.append(
            {
                "request": child,
                "samples": list(child.items.all()),
                "results": results,
                "reports": list(child.reports.all()),
            }
        )
    return tests


def _framework(investigation: DeathInvestigation) -> list[dict]:
    """The UNODC–UN Women framework variables: the relationship, the perpetrator's sex and the indicators."""
    rows = []
    for name in ("relationship", "perpetrator_sex", *FRAMEWORK_INDICATORS):
        field = DeathInvestigation._meta.get_field(name)
        rows.append(
            {
                "name": name,
                "label": field.verbose_name,
                "help": field.help_text,
                "value": getattr(investigation, name),
                "shown": getattr(investigation, f"get_{name}_display")(),
            }
        )
    return rows


@login_required
def death_detail(request, number: str):
    investigation = investigation_for(request, number)
    user = request.user
    record_read(user, "death.viewed", obj=investigation)
    service_request = services.autopsy_request(investigation)
    status = service_request.status if service_request else None
    autopsy = getattr(investigation, "autopsy", None)
    release = (
        BodyRelease.objects.filter(investigation=investigation).select_related("released_by", "custody_event").first()
    )
    body = investigation.body
    is_pathologist = (
        service_request is not None
        and service_request.assigned_to_id == user.pk
        and user.has_perm("lab.perform_examination")
    )
    reports = (
        list(Report.objects.visible_to(user).filter(request=service_request).order_by("kind", "pk"))
        if service_request
        else []
    )
    return render(
        request,
        "deaths/death_detail.html",
        {
            "investigation": investigation,
            "case": investigation.case,
            "offences": investigation.case.offences.all(),
            "body": body,
            "events": body.custody_events.select_related("storage_location").order_by("sequence"),
            "service_request": service_request,
            "summary": autopsy_summary(investigation, autopsy),
            "tests": _ancillary_tests(investigation),
            "reports": reports,
            "framework": _framework(investigation),
            "gender_related": investigation.gender_related,
            "release": release,
            "steps": stage_steps(investigation),
            "stage_badge": stage_badge(investigation.stage),
            "manner_badge": manner_badge(autopsy.manner if autopsy else None),
            "amending": investigation.has_report and status not in (None, RequestStatus.RELEASED),
            "can_edit": user.has_perm(CHANGE),
            "can_receive": user.has_perm("deaths.receive_body")
            and service_request is None
            and body.status not in FINAL_STATUSES,
            "can_start": is_pathologist and status == RequestStatus.ASSIGNED,
            "can_record": is_pathologist and status == RequestStatus.IN_PROGRESS,
            "can_release": user.has_perm("deaths.release_body")
            and release is None
            and body_custody.release_problem(investigation) is None,
        },
    )


@login_required
def release_form_pdf(request, number: str):
    """The body release form: blank for the person collecting to fill in and sign before the release is recorded
    (for morgue staff), then filled in with the recorded release."""
    investigation = investigation_for(request, number)
    release = (
        BodyRelease.objects.filter(investigation=investigation)
        .select_related("investigation__case", "investigation__body", "released_by", "custody_event")
        .first()
    )
    if release is None and not request.user.has_perm("deaths.release_body"):
        raise PermissionDenied
    return pdf_response(render_body_release_form(investigation, release), f"{investigation.number}-body-release.pdf")


urlpatterns = [
    path("", death_list, name="list"),
    path("pending/", pending_list, name="pending"),
    path("new/", death_new, name="new"),
    path("<str:number>/", death_detail, name="detail"),
    path("<str:number>/edit/", death_edit, name="edit"),
    path("<str:number>/release-form.pdf", release_form_pdf, name="release_form"),
]
