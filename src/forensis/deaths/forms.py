"""Forms of the death investigation pages. They collect input only: ``deaths.services`` (and ``lab.services``)
decide what is accepted, and their refusals are put back on these forms next to the field they concern.

Every input carries ``data-testid="field-<name>"`` so a browser test finds it without depending on the layout.
"""

from __future__ import annotations

from django import forms
from django.core.validators import MaxValueValidator
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from forensis.accounts.models import Agency, AgencyType, User
from forensis.accounts.roles import Role
from forensis.core import iccs
from forensis.core.forms import BootstrapFormMixin
from forensis.evidence.models import ItemType, SealStatus, StorageLocation
from forensis.lab.models import Discipline, Method
from forensis.lab.services import AUTOPSY_DISCIPLINE

from .models import FRAMEWORK_INDICATORS, MAX_AGE, AutopsyRecord, BodyReceiver, DeathInvestigation
from .services import INVESTIGATION_FIELDS

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def person_label(user: User) -> str:
    return f"{user} — {user.agency}"


class DeathFormMixin(BootstrapFormMixin):
    """Bootstrap classes, a test id on every input, and check boxes styled as Bootstrap check boxes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.widget.attrs["data-testid"] = f"field-{name}"
            if isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs["class"] = "form-check-input"

    def _post_clean(self):
        """Model forms here never save: the record's own rules are the service's, which reports them all at once
        (so a refusal reads the same on every screen, and nothing is checked twice in different words)."""


class InvestigationForm(DeathFormMixin, forms.ModelForm):
    """The decedent, when and where, who, and the context of a death (``INVESTIGATION_FIELDS``)."""

    death_at = forms.DateTimeField(
        label=_("Date and time of death"),
        required=False,
        widget=DATETIME_INPUT,
        help_text=_("In the laboratory's time zone. Leave empty when unknown."),
    )
    discovered_at = forms.DateTimeField(label=_("Date and time of discovery"), widget=DATETIME_INPUT)

    #: The sections of the form, in order: (heading, field names).
    SECTIONS = (
        (
            _("The deceased"),
            (
                "identified",
                "decedent_name",
                "tag_number",
                "sex",
                "age",
                "age_min",
                "age_max",
                "nationality",
                "pregnancy",
            ),
        ),
        (
            _("When and where"),
            (
                "death_at",
                "death_time_estimated",
                "district",
                "death_place",
                "discovered_at",
                "discovery_place",
            ),
        ),
        (_("Who"), ("pathologist", "scene_technician")),
        (_("Context"), ("relationship", "perpetrator_sex", *FRAMEWORK_INDICATORS, "circumstances")),
    )

    #: Grid columns of the fields that are not a quarter of the row.
    COLUMNS = {
        "agency": "col-12 col-md-4",
        "agency_case_number": "col-12 col-sm-6 col-md-4",
        "body_seal_number": "col-12 col-sm-6 col-md-4",
        "offence_codes": "col-12",
        "circumstances": "col-12 col-lg-6",
        "reason": "col-12",
    }

    class Meta:
        model = DeathInvestigation
        fields = [name for name in INVESTIGATION_FIELDS if name not in ("death_at", "discovered_at")] + [
            "death_at",
            "discovered_at",
        ]
        widgets = {"circumstances": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "age": _("The exact age; when it is not known, an estimated range instead."),
            "identified": _("Untick while the deceased is not identified: the body tag number is then required."),
        }

    def __init__(self, *args, current_people: tuple = (), **kwargs):
        super().__init__(*args, **kwargs)
        for name, role in (("pathologist", Role.MEDICAL_EXAMINER), ("scene_technician", Role.SCENE_TECHNICIAN)):
            field = self.fields[name]
            field.queryset = (
                User.objects.filter(Q(is_active=True, groups__name=role) | Q(pk__in=[p for p in current_people if p]))
                .select_related("agency")
                .distinct()
                .order_by("last_name", "first_name", "username")
            )
            field.empty_label = _("Not named yet")
            field.label_from_instance = person_label
        for name in ("age", "age_min", "age_max"):
            self.fields[name].max_value = MAX_AGE
            self.fields[name].validators.append(MaxValueValidator(MAX_AGE))
            self.fields[name].widget.attrs["max"] = MAX_AGE

    def sections(self):
        """[(heading, [(bound field, its grid column classes)])] in the order of ``SECTIONS``."""
        return [
            (title, [(self[name], self.COLUMNS.get(name, "col-12 col-sm-6 col-lg-3")) for name in names])
            for title, names in self.SECTIONS
        ]

    def investigation_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in INVESTIGATION_FIELDS}


class LogDeathForm(InvestigationForm):
    """Logging a death at the scene: the police case it belongs to, and the body's seal."""

    agency = forms.ModelChoiceField(label=_("Police agency"), queryset=Agency.objects.none())
    agency_case_number = forms.CharField(label=_("Police case number"), max_length=64)
    offence_codes = forms.MultipleChoiceField(
        label=_("Offences (ICCS)"),
        choices=iccs.choices,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
        help_text=_("Hold Ctrl (or Cmd) to choose more than one."),
    )
    body_seal_number = forms.CharField(label=_("Body bag seal number"), max_length=64, required=False)

    SECTIONS = ((_("Police case"), ("agency", "agency_case_number", "body_seal_number", "offence_codes")),) + (
        InvestigationForm.SECTIONS
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = Agency.objects.filter(type=AgencyType.POLICE, is_active=True)

    def log_arguments(self) -> dict:
        """The keyword arguments of ``services.log_death``."""
        data = self.cleaned_data
        return {
            "agency": data["agency"],
            "agency_case_number": data["agency_case_number"],
            "offence_codes": list(data["offence_codes"]),
            "body_seal_number": data["body_seal_number"],
            **self.investigation_fields(),
        }


class EditInvestigationForm(InvestigationForm):
    reason = forms.CharField(
        label=_("Reason for the change"),
        max_length=500,
        required=False,
        help_text=_("Required once the autopsy report is released."),
    )

    SECTIONS = InvestigationForm.SECTIONS + ((_("Why"), ("reason",)),)


class ReceiveBodyForm(DeathFormMixin, forms.Form):
    """The morgue takes the body: the person handing it over confirms with their own password."""

    handed_over_by = forms.ModelChoiceField(label=_("Handed over by"), queryset=User.objects.none())
    password = forms.CharField(
        label=_("Password of the person handing over"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "autofocus": True}),
        help_text=_("They type it themselves, here at the morgue."),
    )
    location_code = forms.CharField(
        label=_("Scan the storage location"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}),
        help_text=_("Or choose it below."),
    )
    location = forms.ModelChoiceField(
        label=_("Storage location"), queryset=StorageLocation.objects.none(), required=False
    )
    seal_status = forms.ChoiceField(label=_("Seal"), choices=SealStatus.choices)
    condition = forms.CharField(label=_("Condition on arrival"), max_length=500, required=False)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args, holder: User | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        people = self.fields["handed_over_by"]
        people.queryset = (
            User.objects.filter(
                Q(
                    is_active=True,
                    groups__name__in=[Role.SCENE_TECHNICIAN, Role.MEDICAL_EXAMINER, Role.EVIDENCE_CUSTODIAN],
                )
                | Q(pk=holder.pk if holder else None, is_active=True)
            )
            .select_related("agency")
            .distinct()
            .order_by("last_name", "first_name", "username")
        )
        people.label_from_instance = person_label
        self.fields["location"].queryset = StorageLocation.objects.filter(is_active=True).order_by("path")
        self.fields["location"].label_from_instance = lambda location: f"{location.path} ({location.code})"

    def clean(self):
        data = super().clean()
        code = (data.get("location_code") or "").strip()
        if code:
            scanned = StorageLocation.objects.filter(code__iexact=code, is_active=True).first()
            if scanned is None:
                self.add_error(
                    "location_code", _("No storage location in use has the barcode %(code)s.") % {"code": code}
                )
            else:
                data["location"] = scanned
        elif not data.get("location") and "location" not in self.errors:
            self.add_error("location", _("Scan or choose where the body is kept."))
        return data


class StartAutopsyForm(DeathFormMixin, forms.Form):
    method = forms.ModelChoiceField(label=_("Method (SOP version)"), queryset=Method.objects.none())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        methods = Method.objects.filter(discipline__code=AUTOPSY_DISCIPLINE, is_active=True)
        self.fields["method"].queryset = methods
        if not self.is_bound and len(methods) == 1:
            self.initial["method"] = methods[0].pk


class AutopsyForm(DeathFormMixin, forms.ModelForm):
    """The pathologist's record; ICD-10 codes are checked (and normalised) by ``services.record_autopsy``."""

    performed_on = forms.DateField(label=_("Date of the autopsy"), widget=DATE_INPUT)
    reason = forms.CharField(
        label=_("Reason for the change"),
        max_length=500,
        required=False,
        help_text=_("Required when you change an autopsy a reviewer has approved, or a released one (amendment)."),
    )

    class Meta:
        model = AutopsyRecord
        fields = list(AutopsyRecord.FIELDS)
        widgets = {
            "findings": forms.Textarea(attrs={"rows": 5}),
            "immediate_icd10": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            "antecedent_icd10": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            "underlying_icd10": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        }
        labels = {
            "immediate_cause": _("(a) Immediate cause"),
            "antecedent_cause": _("(b) Due to (antecedent cause)"),
            "underlying_cause": _("(c) Due to (underlying cause)"),
            "immediate_icd10": _("ICD-10"),
            "antecedent_icd10": _("ICD-10"),
            "underlying_icd10": _("ICD-10"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mechanism"].help_text = _("Required for a homicide.")

    def cause_rows(self):
        """The three lines of the cause-of-death chain, each (text field, ICD-10 field)."""
        return [(self[text], self[code]) for _line, text, code in AutopsyRecord.CAUSE_CHAIN]

    def other_fields(self, *names):
        return [self[name] for name in names]

    def autopsy_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in AutopsyRecord.FIELDS}


class SampleForm(DeathFormMixin, forms.Form):
    """A sample taken at autopsy and the test requested for it (a child request of the autopsy)."""

    discipline = forms.ModelChoiceField(label=_("Test by"), queryset=Discipline.objects.none())
    type = forms.ChoiceField(
        label=_("Kind of sample"),
        choices=[(value, label) for value, label in ItemType.choices if value != ItemType.BODY],
        initial=ItemType.BLOOD,
    )
    description = forms.CharField(label=_("Description"), max_length=500, help_text=_("e.g. Femoral blood, 10 mL"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["discipline"].queryset = Discipline.objects.filter(is_active=True).exclude(code=AUTOPSY_DISCIPLINE)


class ReleaseBodyForm(DeathFormMixin, forms.Form):
    receiver_kind = forms.ChoiceField(
        label=_("Released to"),
        choices=BodyReceiver.choices,
        widget=forms.RadioSelect,
        initial=BodyReceiver.FUNERAL_HOME,
    )
    receiver_name = forms.CharField(label=_("Name of the person collecting"), max_length=200, required=False)
    organisation = forms.CharField(
        label=_("Funeral home"), max_length=200, required=False, help_text=_("When released to a funeral home.")
    )
    relationship = forms.CharField(
        label=_("Relationship to the deceased"),
        max_length=100,
        required=False,
        help_text=_("When released to the family."),
    )
    identity_document = forms.CharField(
        label=_("Identity document"), max_length=100, required=False, help_text=_("Type and number.")
    )
    acknowledged = forms.BooleanField(label=_("The person collecting signed the printed release form"), required=False)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def release_arguments(self) -> dict:
        return dict(self.cleaned_data)
