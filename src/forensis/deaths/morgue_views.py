"""The morgue's pages: receiving a body from the person who brought it, and releasing it to a funeral home or family.

At receipt the person handing the body over types their own password here, as at evidence reception
(``intake.reception_views``): it is checked with ``authenticate`` (failures count towards the lockout), and the
service is told only whether it was right.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _

from forensis.core.services import call_with_form_errors
from forensis.evidence.models import SealStatus

from . import body_custody
from .forms import ReceiveBodyForm, ReleaseBodyForm
from .models import BodyRelease
from .views import investigation_for


@login_required
def receive(request, number: str):
    investigation = investigation_for(request, number, "deaths.receive_body")
    if investigation.autopsy_status is not None:
        messages.info(
            request, _("The body of %(number)s was already received at the morgue.") % {"number": investigation.number}
        )
        return redirect("deaths:detail", number=number)
    body = investigation.body
    form = ReceiveBodyForm(
        request.POST or None,
        holder=body.holder,
        initial={
            "handed_over_by": body.holder_id,
            "seal_status": SealStatus.INTACT if body.seal_number else SealStatus.NONE,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        giver = data["handed_over_by"]
        if authenticate(request, username=giver.get_username(), password=data["password"]) is None:
            form.add_error("password", _("The password of %(person)s is not correct.") % {"person": giver})
        else:
            created = call_with_form_errors(
                form,
                body_custody.receive_body,
                request.user,
                investigation,
                handed_over_by=giver,
                confirmed_in_person=True,
                location=data["location"],
                seal_status=data["seal_status"],
                condition=data["condition"],
                note=data["note"],
            )
            if created is not None:
                if created.assigned_to:
                    message = _(
                        "Body %(body)s received at the morgue; the autopsy is requested and assigned to %(person)s."
                    )
                else:
                    message = _(
                        "Body %(body)s received at the morgue; the autopsy is requested and waits for assignment."
                    )
                messages.success(request, message % {"body": body.label, "person": created.assigned_to})
                return redirect("deaths:detail", number=number)
    return render(request, "deaths/receive.html", {"investigation": investigation, "body": body, "form": form})


@login_required
def release(request, number: str):
    investigation = investigation_for(request, number, "deaths.release_body")
    form = ReleaseBodyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        released = call_with_form_errors(
            form, body_custody.release_body, request.user, investigation, **form.release_arguments()
        )
        if released is not None:
            messages.success(
                request,
                _("The body was released to %(person)s. Keep the signed release form with the file.")
                % {"person": released.receiver_name},
            )
            return redirect("deaths:detail", number=number)
    return render(
        request,
        "deaths/release.html",
        {
            "investigation": investigation,
            "form": form,
            "release": BodyRelease.objects.filter(investigation=investigation).select_related("released_by").first(),
            "release_problem": body_custody.release_problem(investigation),
        },
    )


urlpatterns = [
    path("<str:number>/receive/", receive, name="receive"),
    path("<str:number>/release/", release, name="release"),
]
