"""Forms of the triage board and the catalogue screens. They only read input; ``lab.services`` changes state."""

from __future__ import annotations

import django_filters
from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _

from forensis.accounts.models import AgencyType, User
from forensis.core.forms import BootstrapForm, BootstrapFormMixin

from .models import ChecklistQuestion, Discipline, Instrument, Method, Priority, ReagentLot

DATE_INPUT = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
SMALL_DATE_INPUT = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date", "class": "form-control-sm"})


def person_name(user: User) -> str:
    return user.get_full_name() or user.username


# --- the triage board --------------------------------------------------------------------------------


class TriageFilter(django_filters.FilterSet):
    discipline = django_filters.ModelChoiceFilter(
        queryset=Discipline.objects.filter(is_active=True), label=_("Discipline"), empty_label=_("All disciplines")
    )
    priority = django_filters.ChoiceFilter(choices=Priority.choices, label=_("Priority"), empty_label=_("Any priority"))

    class Meta:
        form = BootstrapForm
        fields = ["discipline", "priority"]


class AssignForm(BootstrapFormMixin, forms.Form):
    """The analyst to assign. Any active person passes the form: ``services.assign`` gives the reason for a refusal.

    The list offers only ``analysts`` (authorised for the discipline today), each with their open workload.
    """

    analyst = forms.ModelChoiceField(
        label=_("Analyst"),
        queryset=User.objects.filter(is_active=True),
        widget=forms.Select(attrs={"class": "form-select-sm w-auto"}),
    )

    def __init__(self, *args, analysts: list[tuple[User, int]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", _("Choose an analyst…"))]
        choices += [
            (user.pk, _("%(person)s — %(count)s open") % {"person": person_name(user), "count": count})
            for user, count in analysts
        ]
        self.fields["analyst"].widget.choices = choices
        self.fields["analyst"].widget.attrs["data-testid"] = "assign-analyst"


class PriorityForm(BootstrapFormMixin, forms.Form):
    priority = forms.TypedChoiceField(
        label=_("Priority"),
        choices=Priority.choices,
        coerce=int,
        widget=forms.Select(attrs={"class": "form-select-sm"}),
    )
    court_date = forms.DateField(label=_("Court date"), required=False, widget=SMALL_DATE_INPUT)


class CancelForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason for cancelling"),
        max_length=500,
        error_messages={"required": _("Give the reason for cancelling.")},
        widget=forms.TextInput(attrs={"class": "form-control-sm"}),
    )


# --- the catalogue -----------------------------------------------------------------------------------


def catalogue_form(model: type[models.Model], *names: str) -> type[forms.Form]:
    """A plain form with the model's own fields ``names`` (labels, choices, lengths), dates as date pickers.

    Not a ModelForm: the form never touches an instance; ``services.save_catalogue_entry`` sets and validates it.
    """
    dates = {name: DATE_INPUT for name in names if isinstance(model._meta.get_field(name), models.DateField)}
    fields = forms.fields_for_model(model, fields=names, widgets=dates)
    return type(f"{model.__name__}Form", (BootstrapFormMixin, forms.Form), dict(fields))


NewDisciplineForm = catalogue_form(Discipline, "code", "name", "outsourced", "is_active")
#: The code is what requests, kits and statistics refer to: it is fixed once created.
DisciplineEditForm = catalogue_form(Discipline, "name", "outsourced", "is_active")
NewMethodForm = catalogue_form(Method, "discipline", "code", "name", "version", "effective_from", "is_active")
#: Code and version identify what an examination used: a change there is a new version, not an edit.
MethodEditForm = catalogue_form(Method, "name", "effective_from", "is_active")
InstrumentForm = catalogue_form(
    Instrument, "name", "serial_number", "discipline", "calibration_due", "maintenance_due", "is_active"
)
ReagentLotForm = catalogue_form(ReagentLot, "reagent", "lot_number", "discipline", "expiry")
NewChecklistQuestionForm = catalogue_form(ChecklistQuestion, "stage", "discipline", "text")
#: Reviews keep their answers by question: a question is retired (and a new one added), never reworded.
ChecklistQuestionEditForm = catalogue_form(ChecklistQuestion, "is_active")


class GrantForm(BootstrapFormMixin, forms.Form):
    user = forms.ModelChoiceField(
        label=_("Analyst"),
        queryset=User.objects.filter(is_active=True, agency__type=AgencyType.LABORATORY).order_by(
            "last_name", "first_name", "username"
        ),
    )
    discipline = forms.ModelChoiceField(label=_("Discipline"), queryset=Discipline.objects.filter(is_active=True))
    method = forms.ModelChoiceField(
        label=_("Method"),
        queryset=Method.objects.filter(is_active=True).select_related("discipline"),
        required=False,
        empty_label=_("Every method of the discipline"),
    )
    valid_from = forms.DateField(label=_("Valid from"), widget=DATE_INPUT)
    valid_until = forms.DateField(label=_("Valid until"), widget=DATE_INPUT)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].label_from_instance = lambda u: f"{person_name(u)} ({u.username})"
        self.fields["method"].label_from_instance = lambda m: f"{m.discipline} · {m}"


class RevokeForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason for revoking"),
        max_length=500,
        error_messages={"required": _("Give the reason for revoking.")},
        widget=forms.TextInput(attrs={"class": "form-control-sm"}),
    )
