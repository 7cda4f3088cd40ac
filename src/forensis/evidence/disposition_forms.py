"""Forms of the outsourcing and disposition screens. They only read input; the services change state."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from forensis.core.forms import BootstrapForm

from . import outsourcing
from .models import Item
from .services import find_item

#: Labels may be scanned one per line, or typed separated by spaces or commas.
LABEL_SEPARATORS = re.compile(r"[\s,;]+")
PASSWORD_INPUT = forms.PasswordInput(attrs={"autocomplete": "off"})


def split_labels(text: str) -> list[str]:
    """The labels in ``text``, in the order given, each once (case-insensitively)."""
    seen, labels = set(), []
    for label in LABEL_SEPARATORS.split(text or ""):
        if label and label.upper() not in seen:
            seen.add(label.upper())
            labels.append(label)
    return labels


class ItemLabelsForm(BootstrapForm):
    """The items of a batch: a list of labels, and a scan box whose Enter adds one label to the list.

    ``items`` holds the items found so far even when some labels are unknown, so the page can show them.
    """

    labels = forms.CharField(
        label=_("Item numbers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false", "data-testid": "labels"}),
        help_text=_("One per line, as printed on the label."),
    )
    scan = forms.CharField(
        label=_("Scan a label"),
        required=False,
        max_length=48,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off", "data-testid": "scan"}),
    )

    def __init__(self, data=None, *, actor, **kwargs):
        if data is not None:
            data = data.copy()
            scanned = data.get("scan", "").strip()
            if scanned:
                data["labels"] = "\n".join(split_labels(f"{data.get('labels', '')}\n{scanned}"))
            data["scan"] = ""
        self.actor = actor
        self.items: list[Item] = []  # before the base class: it validates a bound form right away
        super().__init__(data, **kwargs)

    def clean(self):
        cleaned = super().clean()
        problems = []
        for label in split_labels(cleaned.get("labels", "")):
            try:
                self.items.append(find_item(self.actor, label))
            except ValidationError as exc:
                problems.extend(exc.messages)
        if problems:
            raise ValidationError(problems)
        if not self.items:
            raise ValidationError(_("Scan at least one item."))
        cleaned["items"] = self.items
        return cleaned


class ShipmentForm(BootstrapForm):
    laboratory = forms.CharField(label=_("External laboratory"), max_length=200)
    rush = forms.BooleanField(label=_("Rush (paid)"), required=False)


class ShipForm(BootstrapForm):
    tracking_number = forms.CharField(label=_("Courier tracking number"), max_length=100, required=False)


class ArrivalForm(BootstrapForm):
    received_on = forms.DateField(
        label=_("Received by the laboratory on"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("The date on the external laboratory's acknowledgement."),
    )


class ReceiveBackForm(BootstrapForm):
    condition = forms.CharField(
        label=_("Condition of the returned package"),
        max_length=500,
        required=False,
        help_text=_("Seals, damage, anything missing."),
    )


class ResultForm(BootstrapForm):
    file = forms.FileField(
        label=_("Results file"),
        help_text=_("Up to %(mb)s MB. Its SHA-256 is recorded.") % {"mb": outsourcing.MAX_RESULT_BYTES // 2**20},
    )


class ReturnForm(BootstrapForm):
    officer_username = forms.CharField(label=_("Officer's username"), max_length=150)
    officer_password = forms.CharField(label=_("Officer's password"), widget=PASSWORD_INPUT)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class DestroyForm(BootstrapForm):
    method = forms.CharField(
        label=_("Method"), max_length=200, help_text=_("For example: incineration at the police facility.")
    )
    witness_username = forms.CharField(label=_("Witness's username"), max_length=150)
    witness_password = forms.CharField(label=_("Witness's password"), widget=PASSWORD_INPUT)


class RetentionRuleForm(BootstrapForm):
    offence_prefix = forms.CharField(
        label=_("ICCS code prefix"),
        max_length=8,
        help_text=_("An offence code or the start of one: 0101 covers intentional homicide, 03 all sexual offences."),
    )
    biological_only = forms.BooleanField(label=_("Biological items only"), required=False)
    retain_years = forms.IntegerField(
        label=_("Keep for (years)"),
        min_value=0,
        max_value=200,
        required=False,
        help_text=_("Empty: keep indefinitely."),
    )
    note = forms.CharField(label=_("Note"), max_length=300, required=False)


class RetentionRuleChangeForm(RetentionRuleForm):
    """Changing a rule may shorten what must be kept: the change needs a reason (audited)."""

    reason = forms.CharField(label=_("Reason for the change"), max_length=500)
