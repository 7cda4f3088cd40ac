"""The pathologist's page: start the autopsy, record it (cause chain, manner, mechanism), take samples.

Everyone who may see the death reads the page; only the pathologist the autopsy request is assigned to may post
to it (403 for anyone else). The autopsy is the pathology request's examination: starting it is
``lab.services.start_examination``, signing it happens on the laboratory's examination page (the same signature
as every examination), and reviews and release on the review pages.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.forms.models import model_to_dict
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from forensis.audit.services import record_read
from forensis.core.services import call_with_form_errors
from forensis.lab import services as lab_services
from forensis.lab.models import RequestStatus

from . import services
from .forms import AutopsyForm, SampleForm, StartAutopsyForm
from .models import AutopsyRecord, Manner
from .views import autopsy_summary, investigation_for

#: What the pathologist may post in each status of the autopsy request.
ACTIONS = {
    RequestStatus.ASSIGNED: {"start"},
    RequestStatus.IN_PROGRESS: {"autopsy", "sample"},
}


def _call(form, service, *args: Any, **kwargs: Any):
    """``call_with_form_errors``, also turning a refusal (``PermissionDenied`` with its reason) into a form error."""
    try:
        return call_with_form_errors(form, service, *args, **kwargs)
    except PermissionDenied as exc:
        form.add_error(None, str(exc) or _("You do not have permission to do this."))
        return None


@login_required
def autopsy(request, number: str):
    investigation = investigation_for(request, number)
    user = request.user
    service_request = services.autopsy_request(investigation)
    status = service_request.status if service_request else None
    is_pathologist = (
        service_request is not None
        and service_request.assigned_to_id == user.pk
        and user.has_perm("lab.perform_examination")
    )
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if request.method == "GET":
        record_read(user, "death.autopsy_viewed", obj=investigation)
    if request.method == "POST":
        if not is_pathologist:
            raise PermissionDenied(_("Only the pathologist the autopsy is assigned to may record it."))
        if action not in ACTIONS.get(status, set()):
            messages.error(
                request,
                _("The autopsy request is %(status)s; this step is not possible now.")
                % {"status": service_request.get_status_display().lower()},
            )
            return redirect("deaths:autopsy", number=number)

    def bound(name: str):
        return request.POST if action == name else None

    record = AutopsyRecord.objects.filter(investigation=investigation).first()
    editable = is_pathologist and status == RequestStatus.IN_PROGRESS
    start_form = (
        StartAutopsyForm(bound("start"), prefix="start")
        if is_pathologist and status == RequestStatus.ASSIGNED
        else None
    )
    autopsy_form = None
    sample_form = None
    if editable:
        initial = (
            model_to_dict(record, fields=AutopsyRecord.FIELDS)
            if record
            else {"performed_on": timezone.localdate(), "manner": Manner.PENDING}
        )
        autopsy_form = AutopsyForm(bound("autopsy"), prefix="autopsy", initial=initial)
        sample_form = SampleForm(bound("sample"), prefix="sample")

    done = None
    if action == "start" and start_form.is_valid():
        started = _call(
            start_form,
            lab_services.start_examination,
            user,
            service_request,
            method=start_form.cleaned_data["method"],
        )
        if started is not None:
            messages.success(request, _("Autopsy started. Record the findings and the cause of death."))
            done = "#record"
    elif action == "autopsy" and autopsy_form.is_valid():
        saved = _call(
            autopsy_form,
            services.record_autopsy,
            user,
            investigation,
            reason=autopsy_form.cleaned_data["reason"],
            **autopsy_form.autopsy_fields(),
        )
        if saved is not None:
            messages.success(request, _("Autopsy record saved."))
            done = "#record"
    elif action == "sample" and sample_form.is_valid():
        data = sample_form.cleaned_data
        child = _call(
            sample_form,
            services.take_sample,
            user,
            investigation,
            discipline=data["discipline"],
            type=data["type"],
            description=data["description"],
        )
        if child is not None:
            sample = child.items.first()
            messages.success(
                request,
                _("Sample %(label)s taken; its %(discipline)s request waits for assignment.")
                % {"label": sample.label if sample else "", "discipline": child.discipline},
            )
            done = "#samples"
    if done is not None:
        return redirect(reverse("deaths:autopsy", args=[number]) + done)

    return render(
        request,
        "deaths/autopsy.html",
        {
            "investigation": investigation,
            "service_request": service_request,
            "summary": autopsy_summary(investigation, record),
            "samples": services.ancillary_requests(investigation),
            "is_pathologist": is_pathologist,
            "editable": editable,
            "start_form": start_form,
            "autopsy_form": autopsy_form,
            "sample_form": sample_form,
            "problems": lab_services.draft_problems(service_request) if status == RequestStatus.IN_PROGRESS else [],
            "amending": status == RequestStatus.IN_PROGRESS and service_request.reports.exists(),
        },
    )


urlpatterns = [path("<str:number>/autopsy/", autopsy, name="autopsy")]
