"""Forms of the analyst's screens: examination set-up, results, consumption, attachments, follow-ups, signing.

Forms only collect input. What may be chosen (a calibrated instrument, an unexpired lot, a result in range) is
decided by ``lab.services`` and ``lab.results``: the set-up selects show unusable entries as disabled options
labelled with the service's own reason, and the result form is built from the discipline's ``ResultField``
specs, passing raw values to ``validate_result`` through ``record_result`` so every screen refuses the same things.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from forensis.core.forms import BootstrapFormMixin
from forensis.evidence.models import AmountUnit, Item

from . import services
from .models import Discipline, Examination, Instrument, Method, ReagentLot
from .results import ResultField

#: Lots that expired longer ago than this are not offered at all (they stay on the examinations that used them).
LOT_EXPIRY_SHOWN = timedelta(days=90)


class ReasonedOptionsMixin:
    """A select whose unusable options are disabled and labelled with the reason (``problems``: value → reason).

    Options in ``keep`` (what the examination uses now) stay enabled, only labelled: a disabled option is not sent
    by the browser, so disabling the current instrument would silently drop it from the record on the next save.
    Saving it instead reaches the service, which refuses with the same reason.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.problems: dict[str, str] = {}
        self.keep: set[str] = set()

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex=subindex, attrs=attrs)
        key = str(getattr(value, "value", value))
        problem = self.problems.get(key)
        if problem:
            option["label"] = f"⚠ {problem}"
            if key not in self.keep:
                option["attrs"]["disabled"] = True
        return option


class ReasonedSelect(ReasonedOptionsMixin, forms.Select):
    pass


class ReasonedSelectMultiple(ReasonedOptionsMixin, forms.SelectMultiple):
    pass


class SetupForm(BootstrapFormMixin, forms.Form):
    """Method version, instrument, reagent lots and notes of an examination (or of a whole worksheet)."""

    method = forms.ModelChoiceField(
        label=_("Method (SOP version)"), queryset=Method.objects.none(), widget=ReasonedSelect
    )
    instrument = forms.ModelChoiceField(
        label=_("Instrument"),
        queryset=Instrument.objects.none(),
        required=False,
        empty_label=_("No instrument"),
        widget=ReasonedSelect,
    )
    reagent_lots = forms.ModelMultipleChoiceField(
        label=_("Reagent lots"),
        queryset=ReagentLot.objects.none(),
        required=False,
        widget=ReasonedSelectMultiple(attrs={"size": 6}),
        help_text=_("Hold Ctrl (⌘ on a Mac) to choose several. Expired lots cannot be chosen."),
    )
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 4}))
    deviations = forms.CharField(
        label=_("Deviations from the method"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Printed on the report. Leave empty when the method was followed as written."),
    )

    def __init__(
        self,
        *args,
        analyst,
        discipline: Discipline,
        examination: Examination | None = None,
        with_notes: bool = True,
        **kwargs,
    ):
        if examination is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "method": examination.method_id,
                "instrument": examination.instrument_id,
                "reagent_lots": [lot.pk for lot in examination.reagent_lots.all()],
                "notes": examination.notes,
                "deviations": examination.deviations,
            }
        super().__init__(*args, **kwargs)
        if not with_notes:
            del self.fields["notes"], self.fields["deviations"]
        today = timezone.localdate()
        current_method = [examination.method_id] if examination else []
        current_instrument = [examination.instrument_id] if examination and examination.instrument_id else []
        current_lots = [lot.pk for lot in examination.reagent_lots.all()] if examination else []

        methods = Method.objects.filter(Q(discipline=discipline, is_active=True) | Q(pk__in=current_method))
        self._offer(
            "method",
            methods,
            lambda m: (
                services.authorization_problem(analyst, discipline, m)
                if m.is_active and m.discipline_id == discipline.pk
                else _("%(method)s is no longer in use.") % {"method": m}
            ),
            current_method,
        )
        if not self.is_bound and examination is None and "method" not in self.initial:
            usable = [
                m for m in self.fields["method"].queryset if str(m.pk) not in self.fields["method"].widget.problems
            ]
            if len(usable) == 1:
                self.initial["method"] = usable[0].pk
        instruments = Instrument.objects.filter(
            Q(discipline=discipline) | Q(discipline__isnull=True), is_active=True
        ) | Instrument.objects.filter(pk__in=current_instrument)
        self._offer(
            "instrument", instruments.distinct(), lambda i: services.instrument_problem(i, on=today), current_instrument
        )
        lots = ReagentLot.objects.filter(
            Q(discipline=discipline) | Q(discipline__isnull=True), expiry__gte=today - LOT_EXPIRY_SHOWN
        ) | ReagentLot.objects.filter(pk__in=current_lots)
        self._offer("reagent_lots", lots.distinct(), lambda lot: services.lot_problem(lot, on=today), current_lots)

    def _offer(self, name: str, queryset, problem_of, current: Iterable[int]) -> None:
        field = self.fields[name]
        field.queryset = queryset
        widget = field.widget
        widget.problems = {str(entry.pk): problem for entry in queryset if (problem := problem_of(entry))}
        widget.keep = {str(pk) for pk in current}

    def setup(self) -> dict:
        """The keyword arguments of ``start_examination`` / ``update_examination`` / ``create_worksheet``."""
        data = {
            "method": self.cleaned_data["method"],
            "instrument": self.cleaned_data["instrument"],
            "reagent_lots": list(self.cleaned_data["reagent_lots"]),
        }
        if "notes" in self.fields:
            data["notes"] = self.cleaned_data["notes"]
            data["deviations"] = self.cleaned_data["deviations"]
        return data


class WorksheetForm(SetupForm):
    """The set-up shared by the requests chosen on the worklist (carried along as hidden fields)."""

    requests = forms.ModelMultipleChoiceField(queryset=None, widget=forms.MultipleHiddenInput)

    def __init__(self, *args, requests, **kwargs):
        super().__init__(*args, with_notes=False, **kwargs)
        self.fields["requests"].queryset = requests


class OpenChoiceField(forms.ChoiceField):
    """A select whose value is checked by the service, not here, so a refused unit reads the same everywhere."""

    def valid_value(self, value) -> bool:
        return True


class ResultForm(BootstrapFormMixin, forms.Form):
    """A result for one item, its fields built from the discipline's ``ResultField`` specs.

    Every field is optional here: the raw values go to ``record_result``, whose ``validate_result`` reports what is
    required, out of range or not an allowed unit, in the same words on every screen. ``compact`` is the worksheet
    grid's variant (single-line inputs, no help text).
    """

    reason = forms.CharField(
        label=_("Reason for change"),
        max_length=500,
        required=False,
        help_text=_("Required when you change a result a reviewer has already approved."),
    )

    def __init__(self, *args, specs: Sequence[ResultField], compact: bool = False, **kwargs):
        self.specs = tuple(specs)
        self.required_names = {spec.name for spec in self.specs if spec.required}
        self.base_fields = {
            **{spec.name: self._field(spec, compact=compact, alone=len(self.specs) == 1) for spec in self.specs},
            "reason": type(self).base_fields["reason"],
        }
        super().__init__(*args, **kwargs)
        if compact:
            self.fields["reason"].help_text = ""
            self.fields["reason"].widget.attrs["class"] += " form-control-sm"
        for name in self.required_names:
            self.fields[name].widget.attrs["aria-required"] = "true"

    @staticmethod
    def _field(spec: ResultField, *, compact: bool, alone: bool) -> forms.Field:
        small = {"class": "form-control-sm"} if compact else {}
        if spec.kind == "choice":
            return OpenChoiceField(
                label=spec.label,
                choices=[("", "—"), *spec.choices],
                required=False,
                widget=forms.Select(attrs={"class": "form-select-sm w-auto"} if compact else {}),
            )
        if spec.kind == "number":
            return forms.CharField(
                label=spec.label,
                required=False,
                max_length=40,
                widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", **small}),
            )
        widget = forms.Textarea(attrs={"rows": 3}) if alone and not compact else forms.TextInput(attrs=small)
        return forms.CharField(label=spec.label, required=False, max_length=2000, widget=widget)

    def result_data(self) -> dict[str, str]:
        """The raw result values, keyed by the discipline's field names (blank ones left out)."""
        return {spec.name: value for spec in self.specs if (value := self.cleaned_data.get(spec.name, "").strip())}

    def is_blank(self) -> bool:
        return not self.result_data()

    def result_fields(self) -> list[forms.BoundField]:
        return [self[spec.name] for spec in self.specs]


class ConsumeForm(BootstrapFormMixin, forms.Form):
    """An amount of an item used up by the examination (``evidence.services.consume``)."""

    amount = forms.DecimalField(label=_("Amount used"), max_digits=14, decimal_places=4)
    unit = forms.ChoiceField(label=_("Unit"), choices=AmountUnit.choices)
    reason = forms.CharField(label=_("Used for"), max_length=300)


class AttachmentForm(BootstrapFormMixin, forms.Form):
    file = forms.FileField(
        label=_("File (instrument data, photo, worksheet scan)"),
        help_text=_("At most %(mb)s MB. Its SHA-256 is computed and kept with it.")
        % {"mb": services.MAX_ATTACHMENT_BYTES // 2**20},
    )


class ChildRequestForm(BootstrapFormMixin, forms.Form):
    """A follow-up request from this examination (e.g. a DNA swab taken off a firearm)."""

    discipline = forms.ModelChoiceField(label=_("Discipline"), queryset=Discipline.objects.filter(is_active=True))
    items = forms.ModelMultipleChoiceField(
        label=_("Items"),
        queryset=Item.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["items"].queryset = Item.objects.filter(case=case).order_by("number", "sub_number")
        self.fields["items"].label_from_instance = lambda item: f"{item.label} — {item.description}"


class SignForm(BootstrapFormMixin, forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("Signing as the author of the draft sends it to technical review."),
    )
