"""Correcting a record brought over from the old system, by hand, with a reason (``core.corrections``)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import models
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from forensis.cases.models import Case, Person
from forensis.core.corrections import correct_migrated, correctable_fields
from forensis.core.forms import BootstrapFormMixin
from forensis.core.services import call_with_form_errors
from forensis.evidence.models import Item

from .models import LegacyResult

#: The kinds of migrated record a person may correct, as they appear in the address.
CORRECTABLE_MODELS: dict[str, type[models.Model]] = {
    "case": Case,
    "person": Person,
    "item": Item,
    "result": LegacyResult,
}
#: To the second, so that correcting another field never rounds a recorded time.
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S")


class CorrectionForm(BootstrapFormMixin, forms.ModelForm):
    reason = forms.CharField(
        label=gettext_lazy("Reason for the correction"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Kept in the audit log with the values before and after."),
    )


def correction_form(model: type[models.Model]) -> type[CorrectionForm]:
    fields = correctable_fields(model)
    widgets = {name: DATETIME_INPUT for name in fields if isinstance(model._meta.get_field(name), models.DateTimeField)}
    return forms.modelform_factory(model, form=CorrectionForm, fields=fields, widgets=widgets)


def migrated_record(request, kind: str, pk: int) -> models.Model:
    """The migrated record, if the user may see its case (another agency's record is a 404, as everywhere)."""
    model = CORRECTABLE_MODELS.get(kind)
    if model is None:
        raise Http404
    obj = get_object_or_404(model._base_manager.exclude(legacy_id=""), pk=pk)
    if not Case.objects.visible_to(request.user).filter(pk=case_of(obj).pk).exists():
        raise Http404
    return obj


def case_of(obj: models.Model) -> Case:
    return obj if isinstance(obj, Case) else obj.case


@login_required
@permission_required("legacy.correct_migrated", raise_exception=True)
def correct(request, kind: str, pk: int):
    obj = migrated_record(request, kind, pk)
    form_class = correction_form(type(obj))
    initial = {name: getattr(obj, name) for name in correctable_fields(type(obj))}
    form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name != "reason"}
        reason = form.cleaned_data["reason"]
        changed = call_with_form_errors(form, correct_migrated, request.user, obj, changes, reason=reason)
        if changed is not None:
            if changed:
                text = _("%(record)s corrected; the audit log keeps the old values.")
            else:
                text = _("Nothing differed: %(record)s is unchanged.")
            messages.success(request, text % {"record": obj})
            return redirect("cases:detail", case_of(obj).lab_number)
    context = {"form": form, "record": obj, "kind": type(obj)._meta.verbose_name, "case": case_of(obj)}
    return render(request, "legacy/correct.html", context)
