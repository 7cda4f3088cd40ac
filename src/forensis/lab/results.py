"""What a result looks like in each discipline, and its validation (types, units, allowed ranges).

A result is stored as JSON (``Result.data``) and checked against its discipline's fields here, so forms,
the API and the importer all accept and refuse the same things.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


@dataclass(frozen=True)
class ResultField:
    name: str
    label: str | Promise
    kind: str  # "text", "choice", "number"
    choices: tuple[tuple[str, str | Promise], ...] = ()
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    unit_field: str = ""  # for numbers: the name of the field that holds its unit
    required: bool = True


SEROLOGY_TESTS = (
    ("presumptive_blood", gettext_lazy("Presumptive test for blood")),
    ("human_blood", gettext_lazy("Human blood confirmation")),
    ("semen", gettext_lazy("Semen (acid phosphatase / PSA)")),
    ("saliva", gettext_lazy("Saliva (amylase)")),
)
OUTCOMES = (
    ("positive", gettext_lazy("Positive")),
    ("negative", gettext_lazy("Negative")),
    ("inconclusive", gettext_lazy("Inconclusive")),
)
FIREARM_CONCLUSIONS = (
    ("identification", gettext_lazy("Identification")),
    ("inconclusive", gettext_lazy("Inconclusive")),
    ("elimination", gettext_lazy("Elimination")),
    ("unsuitable", gettext_lazy("Unsuitable for comparison")),
)
PROFILE_OBTAINED = (
    ("full", gettext_lazy("Full profile")),
    ("partial", gettext_lazy("Partial profile")),
    ("none", gettext_lazy("No profile")),
)
VERBAL_SCALE = (
    ("none", gettext_lazy("No support")),
    ("weak", gettext_lazy("Weak support")),
    ("moderate", gettext_lazy("Moderate support")),
    ("moderately_strong", gettext_lazy("Moderately strong support")),
    ("strong", gettext_lazy("Strong support")),
    ("very_strong", gettext_lazy("Very strong support")),
    ("extremely_strong", gettext_lazy("Extremely strong support")),
)
MASS_UNITS = (("mg", "mg"), ("g", "g"), ("kg", "kg"))
CONCENTRATION_UNITS = (("g/100mL", "g/100 mL"), ("mg/L", "mg/L"), ("ng/mL", "ng/mL"))

_SEIZED_DRUGS = (
    ResultField("substance", gettext_lazy("Substance identified"), "text"),
    ResultField(
        "net_weight",
        gettext_lazy("Net weight"),
        "number",
        minimum=Decimal(0),
        maximum=Decimal(1_000_000),
        unit_field="weight_unit",
    ),
    ResultField("weight_unit", gettext_lazy("Unit"), "choice", MASS_UNITS),
    ResultField(
        "uncertainty",
        gettext_lazy("Expanded uncertainty (±, same unit)"),
        "number",
        minimum=Decimal(0),
        maximum=Decimal(1_000_000),
    ),
)
_TOXICOLOGY = (
    ResultField("analyte", gettext_lazy("Analyte"), "text"),
    ResultField(
        "concentration",
        gettext_lazy("Concentration"),
        "number",
        minimum=Decimal(0),
        maximum=Decimal(100_000),
        unit_field="unit",
    ),
    ResultField("unit", gettext_lazy("Unit"), "choice", CONCENTRATION_UNITS),
    ResultField(
        "uncertainty",
        gettext_lazy("Expanded uncertainty (±, same unit)"),
        "number",
        minimum=Decimal(0),
        maximum=Decimal(100_000),
        required=False,
    ),
)
_DNA = (
    ResultField("profile", gettext_lazy("Profile obtained"), "choice", PROFILE_OBTAINED),
    ResultField(
        "likelihood_ratio",
        gettext_lazy("Likelihood ratio"),
        "number",
        minimum=Decimal(0),
        maximum=Decimal("1e30"),
        required=False,
    ),
    ResultField("verbal_scale", gettext_lazy("Verbal scale"), "choice", VERBAL_SCALE, required=False),
)
_FREE_FINDINGS = (ResultField("findings", gettext_lazy("Findings"), "text"),)

#: discipline code → its result fields. A discipline not listed records free findings.
RESULT_FIELDS: dict[str, tuple[ResultField, ...]] = {
    "seized-drugs": _SEIZED_DRUGS,
    "toxicology": _TOXICOLOGY,
    "firearms": (
        ResultField("conclusion", gettext_lazy("Comparison conclusion"), "choice", FIREARM_CONCLUSIONS),
        ResultField("ibis_entry", gettext_lazy("IBIS entry number"), "text", required=False),
    ),
    "ibis": (
        ResultField("ibis_entry", gettext_lazy("IBIS entry number"), "text"),
        ResultField("findings", gettext_lazy("Correlation findings"), "text", required=False),
    ),
    "serology": (
        ResultField("test", gettext_lazy("Test"), "choice", SEROLOGY_TESTS),
        ResultField("result", gettext_lazy("Result"), "choice", OUTCOMES),
    ),
    "dna": _DNA,
    "rapid-dna": _DNA,
}

#: The allowed range of each toxicology unit: a blood alcohol of 12 g/100 mL is a typing error, not a result.
CONCENTRATION_LIMITS = {"g/100mL": Decimal("1.5"), "mg/L": Decimal(10_000), "ng/mL": Decimal(100_000)}


def fields_for(discipline_code: str) -> tuple[ResultField, ...]:
    return RESULT_FIELDS.get(discipline_code, _FREE_FINDINGS)


def _number(field: ResultField, raw: Any) -> str:
    try:
        value = Decimal(str(raw).strip().replace(",", "."))
    except InvalidOperation:
        raise ValidationError(_("%(field)s must be a number.") % {"field": field.label}) from None
    if (
        not value.is_finite()
        or (field.minimum is not None and value < field.minimum)
        or (field.maximum is not None and value > field.maximum)
    ):
        raise ValidationError(
            _("%(field)s must be between %(min)s and %(max)s.")
            % {"field": field.label, "min": field.minimum, "max": field.maximum}
        )
    return str(value)


def validate_result(discipline_code: str, data: dict[str, Any]) -> dict[str, str]:
    """The cleaned result (numbers as decimal strings), or ``ValidationError`` naming each problem."""
    fields = fields_for(discipline_code)
    known = {f.name for f in fields}
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(data) - known)
    if unknown:
        errors["__all__"] = [_("Unknown result fields: %(names)s.") % {"names": ", ".join(unknown)}]
    cleaned: dict[str, str] = {}
    for field in fields:
        raw = data.get(field.name)
        if raw is None or str(raw).strip() == "":
            if field.required:
                errors[field.name] = [_("%(field)s is required.") % {"field": field.label}]
            continue
        try:
            if field.kind == "number":
                cleaned[field.name] = _number(field, raw)
            elif field.kind == "choice":
                if str(raw) not in {value for value, _label in field.choices}:
                    raise ValidationError(
                        _("%(value)s is not an allowed value for %(field)s.") % {"value": raw, "field": field.label}
                    )
                cleaned[field.name] = str(raw)
            else:
                cleaned[field.name] = str(raw).strip()[:2000]
        except ValidationError as exc:
            errors[field.name] = exc.messages
    if discipline_code == "toxicology" and "concentration" in cleaned and cleaned.get("unit") in CONCENTRATION_LIMITS:
        limit = CONCENTRATION_LIMITS[cleaned["unit"]]
        if Decimal(cleaned["concentration"]) > limit:
            errors["concentration"] = [
                _("A concentration above %(limit)s %(unit)s is not plausible; check the unit.")
                % {"limit": limit, "unit": cleaned["unit"]}
            ]
    if (
        discipline_code in ("dna", "rapid-dna")
        and cleaned.get("profile") == "none"
        and ("likelihood_ratio" in cleaned or "verbal_scale" in cleaned)
    ):
        errors["profile"] = [_("Without a profile there is no likelihood ratio or verbal scale.")]
    if errors:
        raise ValidationError(errors)
    return cleaned


def describe_result(specs: tuple[ResultField, ...], data: dict[str, Any]) -> list[tuple[str, str]]:
    """A stored result as (label, shown value) pairs: choices by their label, numbers with their unit."""
    by_name = {spec.name: spec for spec in specs}
    units = {spec.unit_field for spec in specs if spec.unit_field}
    shown = []
    for spec in specs:
        if spec.name in units or spec.name not in data:
            continue
        value = str(data[spec.name])
        if spec.kind == "choice":
            value = str(dict(spec.choices).get(value, value))
        if spec.unit_field and data.get(spec.unit_field):
            unit_spec = by_name[spec.unit_field]
            value = f"{value} {dict(unit_spec.choices).get(data[spec.unit_field], data[spec.unit_field])}"
        shown.append((str(spec.label), value))
    for name in sorted(set(data) - set(by_name)):  # fields of an older definition stay visible
        shown.append((name, str(data[name])))
    return shown
