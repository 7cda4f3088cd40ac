"""The statistics pages' forms: the dashboard filters, the police homicide list, and a population figure."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from forensis.accounts.models import Agency
from forensis.core.forms import BootstrapFormMixin
from forensis.core.vocabulary import District
from forensis.lab.models import Discipline

from .filters import Filters
from .models import MAX_YEAR, MIN_YEAR
from .reconciliation import MAX_BYTES

#: Months a dashboard shows when no period is asked for: the last twelve, this one included.
DEFAULT_MONTHS = 12


def default_period(today=None) -> tuple[str, str]:
    today = today or timezone.localdate()
    first_year, first_month = divmod(today.year * 12 + today.month - 1 - (DEFAULT_MONTHS - 1), 12)
    return f"{first_year}-{first_month + 1:02d}", today.strftime("%Y-%m")


class MonthInput(forms.TextInput):
    input_type = "month"

    def __init__(self, attrs=None):
        super().__init__({"placeholder": "YYYY-MM", "pattern": r"\d{4}-\d{2}", **(attrs or {})})


class FilterForm(BootstrapFormMixin, forms.Form):
    """The filters of a dashboard. Without a period, the last twelve months; ``filters`` once valid."""

    month_from = forms.CharField(label=_("From month"), required=False, widget=MonthInput())
    month_to = forms.CharField(label=_("To month"), required=False, widget=MonthInput())
    discipline = forms.ChoiceField(label=_("Discipline"), required=False)
    district = forms.ChoiceField(label=_("District"), required=False)
    agency = forms.ChoiceField(label=_("Agency"), required=False)

    def __init__(self, data=None, *, with_discipline: bool = True):
        data = data.copy() if data is not None else {}
        if not data.get("month_from") and not data.get("month_to"):
            data["month_from"], data["month_to"] = default_period()
        super().__init__(data)
        everything = [("", _("All"))]
        self.fields["district"].choices = everything + list(District.choices)
        if with_discipline:
            self.fields["discipline"].choices = everything + list(Discipline.objects.values_list("code", "name"))
        else:
            del self.fields["discipline"]
        self.fields["agency"].choices = everything + list(Agency.objects.values_list("code", "name"))

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.filters = Filters.from_params({name: cleaned.get(name) or "" for name in self.fields})
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                self.add_error(name if name in self.fields else None, messages)
        return cleaned

    def describe(self) -> str:
        """The filters in words, for an export's "About" sheet and the bulletin."""
        parts = [f"{self.filters.month_from or '…'} – {self.filters.month_to or '…'}"]
        for name in ("discipline", "district", "agency"):
            value = getattr(self.filters, name, "")
            if value:
                parts.append(f"{self.fields[name].label}: {dict(self.fields[name].choices).get(value, value)}")
        return " · ".join(str(part) for part in parts)


class PoliceListForm(BootstrapFormMixin, forms.Form):
    police_list = forms.FileField(
        label=_("Police homicide list (CSV)"),
        help_text=_("Columns police_reference, date_of_death and district; sex, age and victim_name if known."),
    )
    month_from = forms.CharField(label=_("From month"), required=False, widget=MonthInput())
    month_to = forms.CharField(label=_("To month"), required=False, widget=MonthInput())
    district = forms.ChoiceField(label=_("District"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["district"].choices = [("", _("All"))] + list(District.choices)
        self.fields["police_list"].widget.attrs["accept"] = ".csv,text/csv"

    def clean_police_list(self):
        upload = self.cleaned_data["police_list"]
        if upload.size > MAX_BYTES:
            raise ValidationError(
                _("The list is larger than %(mb)s MB; split it by year.") % {"mb": MAX_BYTES // (1024 * 1024)}
            )
        return upload

    def clean(self):
        cleaned = super().clean()
        try:
            self.filters = Filters(
                month_from=(cleaned.get("month_from") or "").strip(),
                month_to=(cleaned.get("month_to") or "").strip(),
                district=cleaned.get("district") or "",
            )
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                self.add_error(name, messages)
        return cleaned


class PopulationForm(BootstrapFormMixin, forms.Form):
    district = forms.ChoiceField(label=_("District"), required=False)
    year = forms.IntegerField(label=_("Year"), min_value=MIN_YEAR, max_value=MAX_YEAR)
    population = forms.IntegerField(label=_("Population"), min_value=1)
    source = forms.CharField(label=_("Source"), max_length=300, required=False)
    reason = forms.CharField(label=_("Reason for the change"), max_length=500, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["district"].choices = [("", _("Whole country"))] + list(District.choices)
