"""Checking a record read by the mapping against Forensis: codes it knows, lengths it keeps, parents imported.

``Validator.normalise`` turns a record (``transforms.read_record``) into the record as Forensis will hold it — the
text the import keeps and fingerprints — and adds a ``Problem`` for every value Forensis cannot take: an agency,
district, ICCS offence, role, sex, item type, unit or discipline it does not know, a number that is not a whole
number where one is needed, a value that does not fit its column, a text longer than Forensis keeps (never cut),
a lab number that cannot be printed in item numbers, and a child whose case or item is not imported.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from forensis.cases.models import PersonRole
from forensis.core import iccs
from forensis.core.vocabulary import District, Sex
from forensis.evidence.models import AmountUnit, ItemType

from .mapping import DATE, FIELDS, UNIT_FIELDS, EntitySpec
from .records import ImportState, Problem, as_datetime

LAB_NUMBER_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._")
#: Lengths the Forensis fields take (longer text is rejected, never cut).
MAX_LENGTH = {
    "lab_number": 32,
    "agency_case_number": 64,
    "town": 100,
    "name": 200,
    "description": 500,
    "seal_number": 64,
    "analyst": 200,
    "unit": 32,
    "location": 450,
}
LEGACY_ID_LENGTH = 64
# The codes Forensis knows (Django's ``Choices.values`` builds a new list on every use).
DISTRICTS = frozenset(District.values)
SEXES = frozenset(Sex.values)
ROLES = frozenset(PersonRole.values)
ITEM_TYPES = frozenset(ItemType.values)
AMOUNT_UNITS = frozenset(AmountUnit.values)

#: Per entity: its date fields, and its fields with a unit column (field, the field the unit goes to).
_DATES = {entity: [name for name, kind in fields.items() if kind == DATE] for entity, fields in FIELDS.items()}
_UNITS = {entity: [(name, unit) for (owner, name), unit in UNIT_FIELDS.items() if owner == entity] for entity in FIELDS}

ProblemAt = Callable[..., None]


class Validator:
    """Checks records against Forensis and against what the import accepted so far (a child's parent must be
    held). ``case_dates`` holds the date of receipt of every case read so far whose date could be read: an item
    without its own date of receipt takes its case's."""

    def __init__(self, state: ImportState, case_dates: dict[str, datetime]):
        self.state, self.held, self.case_dates = state, state.held, case_dates

    def normalise(self, spec: EntitySpec, record: dict, values: dict, problems: list[Problem]) -> dict[str, Any]:
        """The record as Forensis will hold it (moments as aware UTC datetimes, decimals as text); each value
        Forensis cannot take is added to ``problems``."""
        entity = spec.name
        normal: dict[str, Any] = dict.fromkeys(FIELDS[entity])
        normal.update({name: value for name, value in record.items() if name in normal or name.startswith("_")})
        for name, unit_field in _UNITS[entity]:
            if record.get(f"{name}_unit") is not None:
                normal[unit_field] = record[f"{name}_unit"]

        def column(name: str) -> str:
            field_spec = spec.fields.get(name)
            return (field_spec.column if field_spec else "") or ""

        def problem(code: str, name: str, reason: str, value: Any = None) -> None:
            col = (
                column(name)
                if name in FIELDS[entity]
                else {"_key": spec.key, "_case": spec.case, "_item": spec.item}.get(name, "")
            )
            raw = values.get(col) if col else None
            problems.append(Problem(code, col or "", raw if raw is not None else str(value or ""), reason))

        def unknown(code: str, name: str, what: str, value: Any) -> None:
            problem(
                code, name, _("%(value)s is not a known %(what)s in Forensis") % {"value": value, "what": what}, value
            )

        def text(name: str) -> str:
            value = normal.get(name)
            if value is None:
                return ""
            value = str(value)
            limit = MAX_LENGTH.get(name)
            if limit and len(value) > limit:
                problem(
                    "too_long",
                    name,
                    _("%(field)s is longer than %(limit)s characters")
                    % {"field": name.replace("_", " "), "limit": limit},
                )
            return value

        for name in ("_key", "_case", "_item"):
            if normal.get(name) and len(normal[name]) > LEGACY_ID_LENGTH:
                problem(
                    "too_long", name, _("the key is longer than %(limit)s characters") % {"limit": LEGACY_ID_LENGTH}
                )
        for name in _DATES[entity]:
            normal[name] = as_datetime(normal.get(name))
        if entity == "cases":
            self._normalise_case(normal, text, problem, unknown)
        elif entity == "people":
            normal["role"] = text("role")
            if normal["role"] and normal["role"] not in ROLES:
                unknown("unknown_role", "role", _("role"), normal["role"])
            normal["name"] = text("name")
            normal["sex"] = normal.get("sex") or Sex.UNKNOWN
            if normal["sex"] not in SEXES:
                unknown("unknown_sex", "sex", _("sex"), normal["sex"])
            normal["age"] = _whole(normal.get("age"), "age", 0, 120, problem)
        elif entity == "items":
            self._normalise_item(normal, text, problem, unknown)
        elif entity == "results":
            if normal.get("discipline") and normal["discipline"] not in self.state.disciplines:
                unknown("unknown_discipline", "discipline", _("discipline"), normal["discipline"])
            normal["result"], normal["analyst"] = text("result"), text("analyst")
            normal["unit"] = normal.get("unit") or ""
            if len(normal["unit"]) > MAX_LENGTH["unit"]:
                problem(
                    "too_long",
                    "unit",
                    _("the unit is longer than %(limit)s characters") % {"limit": MAX_LENGTH["unit"]},
                )
            normal["value"] = _decimal(normal.get("value"), "value", 14, 6, problem)
            self._check_parent(normal, "items", problem)
        elif entity == "locations":
            normal["location"] = text("location")
            self._check_parent(normal, "items", problem)
        if entity in ("people", "items"):
            self._check_parent(normal, "cases", problem)
        return normal

    def _normalise_case(self, normal: dict, text, problem: ProblemAt, unknown) -> None:
        normal["lab_number"] = text("lab_number")
        if normal["lab_number"] and not set(normal["lab_number"]) <= LAB_NUMBER_CHARACTERS:
            problem(
                "lab_number_unusable",
                "lab_number",
                _(
                    "the lab number %(value)s has characters Forensis cannot print in item numbers and links "
                    "(only letters, digits, '-', '.' and '_'); transform it in the mapping"
                )
                % {"value": normal["lab_number"]},
            )
        if normal.get("agency") and normal["agency"] not in self.state.agencies:
            unknown("unknown_agency", "agency", _("agency code"), normal["agency"])
        normal["district"] = normal.get("district") or ""
        if normal["district"] and normal["district"] not in DISTRICTS:
            unknown("unknown_district", "district", _("district code"), normal["district"])
        offences = normal.get("offences") or []
        for code in offences:
            if not iccs.is_known(code):
                unknown("unknown_offence", "offences", _("ICCS offence code"), code)
        normal["offences"] = sorted(set(offences))
        for name in ("agency_case_number", "town", "narrative"):
            normal[name] = text(name)
        if normal.get("received_at"):
            self.case_dates[normal["_key"] or ""] = normal["received_at"]

    def _normalise_item(self, normal: dict, text, problem: ProblemAt, unknown) -> None:
        if normal.get("type") and normal["type"] not in ITEM_TYPES:
            unknown("unknown_item_type", "type", _("item type"), normal["type"])
        normal["description"], normal["seal_number"] = text("description"), text("seal_number")
        quantity = normal.get("quantity")
        normal["quantity"] = 1 if quantity is None else _whole(quantity, "quantity", 1, 2_147_483_647, problem)
        normal["amount"] = _decimal(normal.get("amount"), "amount", 10, 4, problem)
        unit = normal.get("amount_unit") or ""
        if normal["amount"] is None:
            unit = ""
        elif not unit:
            problem("missing_unit", "amount", _("the amount %(value)s has no unit") % {"value": normal["amount"]})
        elif unit not in AMOUNT_UNITS:
            unknown("unknown_unit", "amount_unit", _("unit"), unit)
        normal["amount_unit"] = unit
        if normal.get("received_at") is None and normal.get("_case") in self.case_dates:
            normal["received_at"] = self.case_dates[normal["_case"]]

    def _check_parent(self, normal: dict, parent: str, problem: ProblemAt) -> None:
        """A child whose case or item is not imported is an orphan; a result's item must be of its case."""
        if parent == "cases":
            key = normal.get("_case")
            if key and key not in self.held["cases"]:
                reason = (
                    _("orphan: its case %(key)s was rejected (see the cases' rejections)")
                    if key in self.state.rejected_keys["cases"]
                    else _("orphan: there is no case %(key)s in the source")
                )
                problem("orphan", "_case", reason % {"key": key}, key)
            return
        item = normal.get("_item")
        if not item:
            return
        held_item = self.held["items"].get(item)
        if held_item is None:
            reason = (
                _("its item %(key)s was rejected (see the items' rejections)")
                if item in self.state.rejected_keys["items"]
                else _("there is no item %(key)s in the source")
            )
            problem("missing_item", "_item", reason % {"key": item}, item)
            return
        item_case = held_item.parent
        if normal.get("_case") is None:
            normal["_case"] = item_case
        elif normal["_case"] != item_case:
            problem(
                "item_of_other_case",
                "_case",
                _("its item %(item)s belongs to case %(other)s, not to case %(case)s")
                % {"item": item, "other": item_case, "case": normal["_case"]},
                normal["_case"],
            )


def _whole(value: Decimal | None, name: str, low: int, high: int, problem: ProblemAt) -> int | None:
    if value is None:
        return None
    if value != value.to_integral_value() or not low <= value <= high:
        problem(
            "invalid_" + name,
            name,
            _("%(value)s is not a whole number from %(low)s to %(high)s") % {"value": value, "low": low, "high": high},
            value,
        )
        return None
    return int(value)


def _decimal(value: Decimal | None, name: str, whole_digits: int, decimals: int, problem: ProblemAt) -> str | None:
    if value is None:
        return None
    exponent = value.normalize().as_tuple().exponent
    if abs(value) >= Decimal(10) ** whole_digits or (isinstance(exponent, int) and -exponent > decimals):
        problem(
            "invalid_" + name,
            name,
            _("%(value)s does not fit (at most %(whole)s digits before and %(decimals)s after the decimal point)")
            % {"value": value, "whole": whole_digits, "decimals": decimals},
            value,
        )
        return None
    if name == "amount" and value <= 0:
        problem("invalid_amount", name, _("the amount must be more than zero"), value)
        return None
    return format(value.normalize(), "f")
