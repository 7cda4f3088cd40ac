from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from forensis.accounts.models import User
from forensis.accounts.roles import Role
from forensis.cases.models import Person
from forensis.core import iccs
from forensis.core.forms import BootstrapFormMixin
from forensis.evidence.models import SUBMITTED_TYPES, SealStatus
from forensis.lab.models import Discipline

from .models import Kit, KitItem, Presence, Submission, SubmissionItem

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class SubmissionForm(BootstrapFormMixin, forms.ModelForm):
    offence_codes = forms.MultipleChoiceField(
        label=_("Offences (ICCS)"),
        choices=iccs.choices,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_("Hold Ctrl (or Cmd) to choose more than one."),
    )
    incident_at = forms.DateTimeField(label=_("Incident date and time"), required=False, widget=DATETIME_INPUT)

    class Meta:
        model = Submission
        fields = [
            "agency_case_number",
            "offence_codes",
            "incident_at",
            "district",
            "town",
            "address",
            "latitude",
            "longitude",
            "narrative",
        ]
        widgets = {"narrative": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency_case_number"].required = False  # required at submit, not for a draft


class PersonForm(BootstrapFormMixin, forms.ModelForm):
    date_of_birth = forms.DateField(
        label=_("Date of birth"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = Person
        fields = ["role", "name", "sex", "age", "date_of_birth", "relationship_to_victim"]


class SubmittedTypeMixin:
    """An item's type among those an agency submits (a body is logged as a death investigation instead)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [("", "---------"), *SUBMITTED_TYPES]


class ItemForm(SubmittedTypeMixin, BootstrapFormMixin, forms.ModelForm):
    disciplines = forms.ModelMultipleChoiceField(
        label=_("Requested examinations"),
        queryset=Discipline.objects.filter(is_active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    collected_at = forms.DateTimeField(label=_("Collected"), required=False, widget=DATETIME_INPUT)

    class Meta:
        model = SubmissionItem
        fields = [
            "type",
            "description",
            "quantity",
            "packaging",
            "seal_number",
            "collected_by",
            "collected_at",
            "collected_place",
            "biological",
            "disciplines",
        ]


PersonFormSet = forms.formset_factory(PersonForm, extra=0, can_delete=True)
ItemFormSet = forms.formset_factory(ItemForm, extra=0, can_delete=True)


class NewSubmissionForm(BootstrapFormMixin, forms.Form):
    kit = forms.ModelChoiceField(
        label=_("Start from a kit"),
        queryset=Kit.objects.filter(is_active=True),
        required=False,
        empty_label=_("No kit: I will list the items myself"),
    )


class WalkInForm(NewSubmissionForm):
    submitting_officer = forms.ModelChoiceField(
        label=_("Officer at the counter"),
        queryset=User.objects.filter(is_active=True, groups__name__in=[Role.AGENCY_OFFICER, Role.SCENE_TECHNICIAN])
        .select_related("agency")
        .distinct(),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["submitting_officer"].label_from_instance = lambda u: f"{u} — {u.agency}"


class CorrectionForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(label=_("Reason for the correction"), max_length=500, required=False)


class ItemCheckForm(BootstrapFormMixin, forms.Form):
    presence = forms.ChoiceField(label=_("Present?"), choices=Presence.choices[:2], initial=Presence.PRESENT)
    seal_status = forms.ChoiceField(label=_("Seal"), choices=SealStatus.choices, initial=SealStatus.INTACT)
    condition = forms.CharField(label=_("Condition"), max_length=500, required=False)
    deviation_note = forms.CharField(label=_("Deviation"), max_length=500, required=False)


class ReceiveForm(BootstrapFormMixin, forms.Form):
    attach_to = forms.ChoiceField(label=_("Case"), required=False)
    officer_username = forms.CharField(label=_("Officer's username"), max_length=150)
    officer_password = forms.CharField(
        label=_("Officer's password"), widget=forms.PasswordInput(attrs={"autocomplete": "off"})
    )

    def __init__(self, *args, matching_cases=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attach_to"].choices = [("", _("Open a new case"))] + [
            (case.pk, _("Add to existing case %(case)s") % {"case": case.lab_number}) for case in matching_cases
        ]


class KitForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Kit
        fields = ["name", "description", "is_active"]


class KitItemForm(SubmittedTypeMixin, BootstrapFormMixin, forms.ModelForm):
    disciplines = forms.ModelMultipleChoiceField(
        label=_("Requested examinations"),
        queryset=Discipline.objects.filter(is_active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = KitItem
        fields = ["type", "description", "quantity", "packaging", "biological", "disciplines"]


KitItemFormSet = forms.formset_factory(KitItemForm, extra=0, can_delete=True)
