"""The administrator's forms for partner tokens. They only check and shape input; ``api.tokens`` does the work."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from forensis.accounts.models import Agency, AgencyType
from forensis.core.forms import BootstrapFormMixin

from .models import Access, Resource, Topic

#: A token lives a year unless the administrator chooses otherwise.
DEFAULT_LIFETIME = timedelta(days=365)
#: Names the token pages' addresses use themselves (``manage/api-tokens/new/``).
RESERVED_NAMES = frozenset({"new"})


def lab_today() -> date:
    return timezone.localdate(timezone=timezone.get_default_timezone())


def default_expiry() -> date:
    return lab_today() + DEFAULT_LIFETIME


def end_of_day(day: date) -> datetime:
    """The last moment of ``day`` in the laboratory's time zone (aware; stored in UTC)."""
    return timezone.make_aware(datetime.combine(day, time.max), timezone.get_default_timezone())


class IssueTokenForm(BootstrapFormMixin, forms.Form):
    name = forms.SlugField(
        label=_("Name"),
        max_length=60,
        help_text=_("A short name for the partner system, e.g. police-rms (letters, digits, hyphens)."),
    )
    agency = forms.ModelChoiceField(
        label=_("Agency"),
        queryset=Agency.objects.none(),
        help_text=_("The token sees and changes only this agency's records."),
    )
    resources = forms.MultipleChoiceField(
        label=_("Resources"), choices=Resource.choices, widget=forms.CheckboxSelectMultiple
    )
    access = forms.ChoiceField(label=_("Access"), choices=Access.choices, initial=Access.READ, widget=forms.RadioSelect)
    expires_on = forms.DateField(
        label=_("Valid until"),
        initial=default_expiry,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("The token stops working at the end of this day (at most two years from now)."),
    )
    rate_limit = forms.IntegerField(
        label=_("Requests per minute"),
        initial=600,
        min_value=1,
        max_value=100_000,
        help_text=_("Calls beyond this within a minute are refused (429)."),
    )
    webhook_url = forms.URLField(
        label=_("Webhook address"),
        required=False,
        max_length=500,
        assume_scheme="https",
        validators=[URLValidator(schemes=["http", "https"], message=_("Enter an http:// or https:// address."))],
        help_text=_("Optional: https://… on the partner's system, to push the change feed to as it happens."),
    )
    webhook_topics = forms.MultipleChoiceField(
        label=_("Webhook topics"),
        choices=Topic.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every topic."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = Agency.objects.filter(is_active=True).exclude(type=AgencyType.LABORATORY)

    def clean_name(self):
        name = self.cleaned_data["name"].lower()
        if name in RESERVED_NAMES:
            raise forms.ValidationError(_("%(name)s is reserved; choose another name."), params={"name": name})
        return name

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("webhook_topics") and not cleaned.get("webhook_url") and "webhook_url" not in self.errors:
            self.add_error("webhook_topics", _("Give the webhook address, or untick the topics."))
        return cleaned

    def service_arguments(self) -> dict:
        """The keyword arguments of ``tokens.issue_token``."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "agency": data["agency"],
            "resources": list(data["resources"]),
            "access": data["access"],
            "expires_at": end_of_day(data["expires_on"]),
            "rate_limit": data["rate_limit"],
            "webhook_url": data["webhook_url"],
            "webhook_topics": list(data["webhook_topics"]) if data["webhook_url"] else [],
        }


class RevokeTokenForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        widget=forms.TextInput(attrs={"placeholder": _("Why (recorded in the audit log)")}),
        error_messages={"required": _("Give the reason for revoking the token.")},
    )
    confirm = forms.BooleanField(
        label=_("I understand that the partner system's calls are refused from now on."),
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
        error_messages={"required": _("Tick the box to confirm.")},
    )
