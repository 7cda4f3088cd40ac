"""The agency portal: officers pre-log submissions, follow them and print their forms.

Every row comes through ``Submission.objects.visible_to(user)``: another agency's submission is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.forms.models import model_to_dict
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from forensis.audit.services import record, record_read
from forensis.core.filters import filters_of
from forensis.core.services import call_with_form_errors

from . import documents, services
from .filters import SubmissionFilter
from .forms import (
    CorrectionForm,
    ItemFormSet,
    KitForm,
    KitItemFormSet,
    NewSubmissionForm,
    PersonFormSet,
    SubmissionForm,
)
from .models import Kit, Submission, SubmissionStatus
from .tables import SubmissionTable

EDITABLE_ACTIONS = {"save", "add_item", "add_person", "submit"}


def visible_submission(request, reference: str) -> Submission:
    return get_object_or_404(
        Submission.objects.visible_to(request.user).select_related("agency", "case"), reference=reference
    )


@login_required
@permission_required("intake.view_submission", raise_exception=True)
def submission_list(request):
    submissions = SubmissionFilter(
        request.GET,
        queryset=Submission.objects.visible_to(request.user).select_related("agency", "case", "submitting_officer"),
    )
    table = SubmissionTable(submissions.qs)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    record_read(request.user, "submission.list_viewed", object_type="intake.submission", after=filters_of(request))
    return render(request, "intake/submission_list.html", {"filter": submissions, "table": table})


@login_required
@permission_required("intake.add_submission", raise_exception=True)
def submission_new(request):
    form = NewSubmissionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        submission = call_with_form_errors(form, services.create_submission, request.user, kit=form.cleaned_data["kit"])
        if submission is not None:
            return redirect("intake:edit", reference=submission.reference)
    return render(request, "intake/submission_new.html", {"form": form})


def _rows(submission: Submission) -> tuple[list[dict], list[dict]]:
    people = [model_to_dict(p, fields=services.PERSON_FIELDS) for p in submission.people.all()]
    items = [
        {**model_to_dict(i, fields=services.ITEM_FIELDS), "disciplines": list(i.disciplines.all())}
        for i in submission.items.prefetch_related("disciplines")
    ]
    return people, items


def _kept(formset) -> list[dict]:
    """The cleaned rows of a formset, without deleted rows and untouched blank rows."""
    return [
        {k: v for k, v in form.cleaned_data.items() if k != "DELETE"}
        for form in formset.forms
        if form.cleaned_data and not form.cleaned_data.get("DELETE")
    ]


@login_required
@permission_required("intake.add_submission", raise_exception=True)
def submission_edit(request, reference: str):
    submission = visible_submission(request, reference)
    correcting = submission.status == SubmissionStatus.SUBMITTED
    if submission.status == SubmissionStatus.RECEIVED or (
        correcting and not request.user.has_perm("intake.receive_submission")
    ):
        messages.info(request, _("This submission can no longer be edited."))
        return redirect("intake:detail", reference=reference)

    if request.method == "GET":
        record_read(request.user, "submission.viewed", obj=submission)
    adding = request.GET.get("add", "")
    people_rows, item_rows = _rows(submission)
    people_factory = PersonFormSet if adding != "person" else _with_extra(PersonFormSet)
    items_factory = ItemFormSet if adding != "item" else _with_extra(ItemFormSet)
    data = request.POST if request.method == "POST" else None
    form = SubmissionForm(data, initial=model_to_dict(submission, fields=services.SUBMISSION_FIELDS))
    people = people_factory(data, prefix="people", initial=people_rows)
    items = items_factory(data, prefix="items", initial=item_rows)
    correction = CorrectionForm(data)
    action = request.POST.get("action", "save")

    if (
        request.method == "POST"
        and action in EDITABLE_ACTIONS
        and all(f.is_valid() for f in (form, people, items, correction))
    ):
        item_data = [
            services.ItemData({k: v for k, v in row.items() if k != "disciplines"}, list(row.get("disciplines", [])))
            for row in _kept(items)
        ]
        saved = call_with_form_errors(
            form,
            services.update_submission,
            request.user,
            submission,
            fields=form.cleaned_data,
            people=_kept(people),
            items=item_data,
            reason=correction.cleaned_data.get("reason", ""),
        )
        if saved is not None:
            if action in ("add_item", "add_person"):
                return redirect(f"{request.path}?add={action.removeprefix('add_')}")
            if action == "submit" and call_with_form_errors(form, services.submit_submission, request.user, saved):
                messages.success(
                    request,
                    _("Submission %(ref)s was sent to the laboratory. Print the form and bring it with the evidence.")
                    % {"ref": saved.reference},
                )
                return redirect("intake:detail", reference=saved.reference)
            if action != "submit":
                messages.success(request, _("Saved."))
                return redirect("intake:detail" if correcting else "intake:edit", reference=saved.reference)
    return render(
        request,
        "intake/submission_edit.html",
        {
            "submission": submission,
            "form": form,
            "people": people,
            "items": items,
            "correction": correction,
            "correcting": correcting,
        },
    )


def _with_extra(factory):
    """The same formset class with one blank row appended (the 'Add another' buttons)."""
    return type(factory.__name__, (factory,), {"extra": 1})


@login_required
@permission_required("intake.view_submission", raise_exception=True)
def submission_detail(request, reference: str):
    submission = visible_submission(request, reference)
    other_submissions, matching_cases = services.related_by_agency_case_number(submission)
    record_read(request.user, "submission.viewed", obj=submission)
    return render(
        request,
        "intake/submission_detail.html",
        {
            "submission": submission,
            "people": submission.people.all(),
            "items": submission.items.prefetch_related("disciplines").select_related("item"),
            "problems": services.submission_problems(submission) if submission.status == SubmissionStatus.DRAFT else [],
            "other_submissions": other_submissions.visible_to(request.user),
            "matching_cases": matching_cases.visible_to(request.user),
        },
    )


@login_required
@permission_required("intake.add_submission", raise_exception=True)
@require_POST
def submission_submit(request, reference: str):
    submission = visible_submission(request, reference)
    form = CorrectionForm()
    if call_with_form_errors(form, services.submit_submission, request.user, submission):
        messages.success(request, _("Submission %(ref)s was sent to the laboratory.") % {"ref": reference})
    else:
        for error in form.non_field_errors():
            messages.error(request, error)
    return redirect("intake:detail", reference=reference)


def pdf_response(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@login_required
@permission_required("intake.view_submission", raise_exception=True)
def submission_form_pdf(request, reference: str):
    submission = visible_submission(request, reference)
    if submission.status == SubmissionStatus.DRAFT:
        messages.error(request, _("Submit the submission first: the form is printed for a submitted submission."))
        return redirect("intake:detail", reference=reference)
    record_read(request.user, "submission.form_downloaded", obj=submission)
    return pdf_response(documents.render_submission_form(submission), f"{reference}.pdf")


@login_required
@permission_required("intake.view_submission", raise_exception=True)
def receipt_pdf(request, reference: str):
    submission = visible_submission(request, reference)
    if submission.status != SubmissionStatus.RECEIVED:
        messages.error(request, _("There is no receipt yet: the submission has not been received."))
        return redirect("intake:detail", reference=reference)
    record("submission.receipt_downloaded", actor=request.user, obj=submission)
    return pdf_response(documents.render_receipt(submission), f"{submission.receipt_number}.pdf")


@login_required
@permission_required("intake.manage_kits", raise_exception=True)
def kit_list(request):
    return render(request, "intake/kit_list.html", {"kits": Kit.objects.prefetch_related("items__disciplines")})


@login_required
@permission_required("intake.manage_kits", raise_exception=True)
def kit_edit(request, pk: int | None = None):
    kit = get_object_or_404(Kit, pk=pk) if pk else None
    adding = request.GET.get("add") == "item" or kit is None
    data = request.POST if request.method == "POST" else None
    form = KitForm(data, instance=kit)
    rows = (
        [
            {**model_to_dict(i, fields=services.KIT_ITEM_FIELDS), "disciplines": list(i.disciplines.all())}
            for i in kit.items.all()
        ]
        if kit
        else []
    )
    items = (_with_extra(KitItemFormSet) if adding else KitItemFormSet)(data, prefix="items", initial=rows)
    if data is not None and form.is_valid() and items.is_valid():
        item_data = [
            services.ItemData({k: v for k, v in row.items() if k != "disciplines"}, list(row["disciplines"]))
            for row in _kept(items)
        ]
        saved = call_with_form_errors(
            form, services.save_kit, request.user, kit, fields=form.cleaned_data, items=item_data
        )
        if saved is not None:
            if request.POST.get("action") == "add_item":
                return redirect(f"{reverse('intake:kit_edit', args=[saved.pk])}?add=item")
            messages.success(request, _("Kit %(name)s saved.") % {"name": saved.name})
            return redirect("intake:kits")
    return render(request, "intake/kit_form.html", {"kit": kit, "form": form, "items": items})
