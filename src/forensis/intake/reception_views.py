"""Evidence reception at the laboratory: the queue, scanning, walk-ins, and receiving a submission."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from forensis.cases.models import Case
from forensis.core.services import call_with_form_errors
from forensis.evidence.models import Item

from . import services
from .forms import ItemCheckForm, ItemFormSet, ReceiveForm, WalkInForm
from .models import Submission, SubmissionStatus
from .views import _kept, _with_extra, visible_submission

receive_permission = permission_required("intake.receive_submission", raise_exception=True)


@login_required
@receive_permission
def queue(request):
    """Submissions waiting at reception, oldest first, and the scan box (a scanner types and presses Enter)."""
    code = request.GET.get("code", "").replace("\x00", "").strip()  # no NUL: PostgreSQL refuses it in a query
    if code:
        if Submission.objects.visible_to(request.user).filter(reference__iexact=code).exists():
            return redirect("intake:receive", reference=code.upper())
        item = Item.objects.visible_to(request.user).filter(label__iexact=code).select_related("case").first()
        if item is not None:
            return redirect("cases:detail", lab_number=item.case.lab_number)
        messages.error(
            request,
            _("Nothing found for the scanned code %(code)s. Check the label or type the submission number (SUB-…).")
            % {"code": code},
        )
    waiting = (
        Submission.objects.visible_to(request.user)
        .filter(status=SubmissionStatus.SUBMITTED)
        .select_related("agency", "submitting_officer")
        .order_by("submitted_at")
    )
    walk_in_drafts = Submission.objects.visible_to(request.user).filter(status=SubmissionStatus.DRAFT, walk_in=True)
    return render(
        request,
        "intake/reception_queue.html",
        {
            "waiting": waiting,
            "walk_in_drafts": walk_in_drafts,
            "walk_in_form": WalkInForm(),
        },
    )


@login_required
@receive_permission
def walk_in(request):
    form = WalkInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        submission = call_with_form_errors(
            form,
            services.create_submission,
            request.user,
            kit=form.cleaned_data["kit"],
            submitting_officer=form.cleaned_data["submitting_officer"],
        )
        if submission is not None:
            return redirect("intake:edit", reference=submission.reference)
    return render(request, "intake/walk_in.html", {"form": form})


@login_required
@receive_permission
def receive(request, reference: str):
    submission = visible_submission(request, reference)
    if submission.status == SubmissionStatus.RECEIVED:
        messages.info(
            request,
            _("Submission %(ref)s was already received as case %(case)s.")
            % {"ref": reference, "case": submission.case.lab_number},
        )
        return redirect("cases:detail", lab_number=submission.case.lab_number)
    data = request.POST if request.method == "POST" else None
    listed = list(submission.items.prefetch_related("disciplines"))
    check_forms = [(item, ItemCheckForm(data, prefix=f"item-{item.pk}")) for item in listed]
    _others, matching = services.related_by_agency_case_number(submission)
    form = ReceiveForm(data, matching_cases=matching)
    extras = ItemFormSet(data, prefix="extra") if data else _with_extra(ItemFormSet)(prefix="extra")

    if data is not None and form.is_valid() and extras.is_valid() and all(f.is_valid() for _i, f in check_forms):
        officer = authenticate(
            request, username=form.cleaned_data["officer_username"], password=form.cleaned_data["officer_password"]
        )
        if officer is None:
            form.add_error("officer_password", _("The officer's username or password is not correct."))
        else:
            checks = {item.pk: services.ItemCheck(**f.cleaned_data) for item, f in check_forms}
            extra_items = [
                services.ItemData({k: v for k, v in row.items() if k != "disciplines"}, list(row["disciplines"]))
                for row in _kept(extras)
            ]
            attach_to = (
                Case.objects.filter(pk=form.cleaned_data["attach_to"]).first()
                if form.cleaned_data["attach_to"]
                else None
            )
            case = call_with_form_errors(
                form,
                services.receive_submission,
                request.user,
                submission,
                checks=checks,
                handed_over_by=officer,
                attach_to=attach_to,
                extra_items=extra_items,
            )
            if case is not None:
                messages.success(
                    request,
                    _("Received as case %(case)s. Print the labels and the receipt.") % {"case": case.lab_number},
                )
                return redirect("cases:detail", lab_number=case.lab_number)
    return render(
        request,
        "intake/receive.html",
        {
            "submission": submission,
            "check_forms": check_forms,
            "form": form,
            "extras": extras,
            "matching_cases": matching,
            "problems": services.submission_problems(submission),
        },
    )
