"""Forms of the custody screens. They only validate input; the services in ``evidence.services`` change state."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from forensis.accounts.models import User
from forensis.accounts.roles import Role
from forensis.core.forms import BootstrapFormMixin

from .models import AmountUnit, ItemType, LocationKind, Purpose, StorageLocation

#: What a person may choose as the purpose of a move or a hand-over (the others are written by the system).
CHOSEN_PURPOSES = [
    (p.value, p.label) for p in (Purpose.ANALYSIS, Purpose.STORAGE, Purpose.COURT, Purpose.RETURN, Purpose.OUTSOURCING)
]
#: Kinds of sub-item a person derives from an item. A swab is an item of type swab; the others keep the type
#: of the item they are taken from (a cutting of a shirt is clothing, an aliquot of blood is blood).
DERIVATIONS = [
    ("cutting", _("Cutting")),
    ("swab", _("Swab")),
    ("extract", _("Extract")),
    ("aliquot", _("Aliquot")),
]
DERIVED_TYPES = {"swab": ItemType.SWAB}


class EventDetailsForm(BootstrapFormMixin, forms.Form):
    """What every custody event may also record: the seal, the condition, a note and a witness."""

    seal_number = forms.CharField(label=_("Seal number"), max_length=64, required=False)
    condition = forms.CharField(label=_("Condition"), max_length=500, required=False)
    witness_name = forms.CharField(label=_("Witness"), max_length=200, required=False)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class ScanForm(EventDetailsForm):
    """The one box a scanner types into: an item label, a location barcode, a badge number or ``@username``."""

    code = forms.CharField(
        label=_("Scan or type"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}),
    )
    purpose = forms.ChoiceField(label=_("Purpose of the move"), choices=CHOSEN_PURPOSES, initial=Purpose.STORAGE)

    field_order = ["code", "purpose", "seal_number", "condition", "witness_name", "note"]

    def __init__(self, *args, autofocus: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs["class"] += " form-control-lg"
        if autofocus:
            self.fields["code"].widget.attrs["autofocus"] = True


class HandOverForm(EventDetailsForm):
    """Hand the batch to the chosen person: they type their password here, or it waits in their queue."""

    purpose = forms.ChoiceField(label=_("Purpose"), choices=CHOSEN_PURPOSES, initial=Purpose.ANALYSIS)
    receiver_password = forms.CharField(
        label=_("Receiver's password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )

    field_order = ["purpose", "seal_number", "condition", "witness_name", "note", "receiver_password"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["purpose"].widget.attrs["autofocus"] = True


class LocationForm(BootstrapFormMixin, forms.Form):
    """The querysets are set on the fields themselves, not in ``__init__``: ``BootstrapFormMixin.__init__`` already
    validates a bound form (to mark invalid fields), before a subclass's ``__init__`` could change them."""

    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=[("", "---------"), *LocationKind.choices])
    parent = forms.ModelChoiceField(
        label=_("Inside"),
        queryset=StorageLocation.objects.filter(is_active=True),
        required=False,
        empty_label=_("(top level)"),
    )
    capacity = forms.IntegerField(
        label=_("Capacity (items)"), min_value=1, required=False, help_text=_("Empty: no limit.")
    )
    restricted = forms.BooleanField(
        label=_("Restricted: only the authorised custodians may put items here"), required=False
    )
    authorized_users = forms.ModelMultipleChoiceField(
        label=_("Authorised custodians"),
        queryset=User.objects.filter(is_active=True, groups__name=Role.EVIDENCE_CUSTODIAN).distinct(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
        help_text=_("Hold Ctrl (or Cmd) to choose more than one."),
    )
    is_active = forms.BooleanField(label=_("In use"), required=False, initial=True)

    def __init__(self, *args, location: StorageLocation | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs["autofocus"] = True
        if location is not None and not self.is_bound:  # offer no place inside itself (the service refuses it too)
            parent = self.fields["parent"]
            parent.queryset = parent.queryset.exclude(pk=location.pk).exclude(path__startswith=f"{location.path} › ")
        self.fields["authorized_users"].label_from_instance = lambda u: f"{u} ({u.username})"

    def clean(self):
        data = super().clean()
        if data.get("restricted") and not data.get("authorized_users"):
            self.add_error("authorized_users", _("Name at least one custodian for a restricted location."))
        return data


class DeriveForm(BootstrapFormMixin, forms.Form):
    derivation = forms.ChoiceField(label=_("What is taken"), choices=DERIVATIONS)
    description = forms.CharField(label=_("Description"), max_length=500)
    reason = forms.CharField(label=_("Why"), max_length=500)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, initial=1)
    amount = forms.DecimalField(label=_("Amount"), max_digits=14, decimal_places=4, min_value=0, required=False)
    amount_unit = forms.ChoiceField(label=_("Unit"), choices=[("", "—"), *AmountUnit.choices], required=False)

    def clean(self):
        data = super().clean()
        if data.get("amount") is not None and not data.get("amount_unit"):
            self.add_error("amount_unit", _("Choose the unit of the amount."))
        return data


class AmountForm(BootstrapFormMixin, forms.Form):
    amount = forms.DecimalField(label=_("Amount received"), max_digits=14, decimal_places=4)
    unit = forms.ChoiceField(label=_("Unit"), choices=AmountUnit.choices)
    reason = forms.CharField(label=_("Reason for a correction"), max_length=300, required=False)


class ConsumeForm(BootstrapFormMixin, forms.Form):
    amount = forms.DecimalField(label=_("Amount used"), max_digits=14, decimal_places=4)
    unit = forms.ChoiceField(label=_("Unit"), choices=AmountUnit.choices)
    reason = forms.CharField(label=_("Examination"), max_length=300)


class LegalHoldForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(label=_("Reason (e.g. the court order)"), max_length=500)


class OverdueForm(BootstrapFormMixin, forms.Form):
    days = forms.IntegerField(label=_("Out longer than (days)"), min_value=0, max_value=3650, initial=14)
