"""Turning a legacy row's text into Forensis values, as the mapping says, and saying why when it cannot.

Nothing here guesses: a value not in its map, a date in no listed format, an impossible or future date, a
number that is not one (or could be read two ways) is a ``RowProblem`` in words a records clerk understands,
and the row is rejected by the import; an empty cell takes the default written in the mapping, or stays empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from forensis.legacy.mapping import (
    REQUIRED_FIELDS,
    EntitySpec,
    FieldSpec,
    normalise_text,
    time_in_format,
)
from forensis.legacy.sources import Row


@dataclass(frozen=True)
class RowProblem:
    column: str  # the source column ("" for a problem of the whole row)
    value: str  # the text found there ("" when empty)
    reason: str  # in words a records clerk understands (translated)


class FieldProblem(Exception):
    """A value that cannot be read; ``problem`` says which column, which text, and why."""

    def __init__(self, problem: RowProblem):
        self.problem = problem
        super().__init__(problem.reason)


# -- transforms ------------------------------------------------------------------------------------------------

_SPACES = re.compile(r"[^\S\r\n]+")  # runs of spaces, tabs, non-breaking spaces … but not line breaks
_LINE_ENDS = re.compile(r"[^\S\r\n]*(\r\n|\r|\n)[^\S\r\n]*")


def _trim(value: str) -> str:
    """Spaces at both ends removed, runs of spaces made one; line breaks (in a narrative) are kept."""
    if value.isprintable() and "  " not in value:  # no whitespace but single ASCII spaces: nothing to collapse
        return value.strip()
    return _LINE_ENDS.sub(r"\1", _SPACES.sub(" ", value)).strip()


TRANSFORM_FUNCTIONS = {
    "trim": _trim,
    "upper": str.upper,
    "lower": str.lower,
    "title": str.title,
    "digits": lambda value: "".join(char for char in value if char.isdigit() and char.isascii()),
    "none_if_empty": lambda value: value,  # a flag: read_field lets the transforms leave nothing
}


def apply_transforms(value: str, transforms: tuple[str, ...]) -> str:
    """The transforms of a field applied in order."""
    for name in transforms:
        value = TRANSFORM_FUNCTIONS[name](value)
    return value


def _is_empty(value: str | None) -> bool:
    return value is None or not value.strip()


# -- dates -----------------------------------------------------------------------------------------------------

_FORMAT_WORDS = {
    "d": lambda: gettext("DD"),
    "m": lambda: gettext("MM"),
    "Y": lambda: gettext("YYYY"),
    "y": lambda: gettext("YY"),
    "H": lambda: gettext("hh"),
    "I": lambda: gettext("hh"),
    "M": lambda: gettext("mm"),
    "S": lambda: gettext("ss"),
    "p": lambda: "AM/PM",
    "b": lambda: gettext("Mon"),
    "B": lambda: gettext("Month"),
}


def describe_format(fmt: str) -> str:
    """A strptime format as a person reads it: "%d/%m/%Y %H:%M" -> "DD/MM/YYYY hh:mm"."""

    def word(match: re.Match[str]) -> str:
        directive = match.group(1)
        if directive == "%":
            return "%"
        return _FORMAT_WORDS[directive]() if directive in _FORMAT_WORDS else match.group(0)

    return re.sub(r"%[-#]?(.)", word, fmt)


def parse_date(text: str, formats: tuple[str, ...], *, column: str, now: datetime | None) -> date | datetime:
    """The first format that reads ``text`` (trimmed) gives the value: a date when the format has no time of day,
    else an aware datetime in the laboratory's time zone. Impossible dates (31/02) match no format. A value later
    than ``now`` is rejected (no check when ``now`` is None)."""
    value = text.strip()
    zone = timezone.get_default_timezone()
    result = _read_date(value, formats, zone)
    if result is not None:
        if isinstance(result, datetime):
            future = now is not None and result > now
        else:
            future = now is not None and result > timezone.localtime(now, zone).date()
        if future:
            raise FieldProblem(RowProblem(column, text, gettext("'%(value)s' is in the future") % {"value": value}))
        return result
    raise FieldProblem(
        RowProblem(
            column,
            text,
            gettext("'%(value)s' is not a date in any of the formats %(formats)s")
            % {"value": value, "formats": ", ".join(describe_format(fmt) for fmt in formats)},
        )
    )


@lru_cache(maxsize=65536)
def _read_date(value: str, formats: tuple[str, ...], zone: tzinfo) -> date | datetime | None:
    """What the first format that reads ``value`` gives (None: none does). Cached: an old register writes the same
    few thousand dates over and over, and ``strptime`` is slow, the more so for each format that fails first."""
    for fmt in formats:
        try:
            parsed = datetime.strptime(value, fmt)  # made aware below, in the lab's time zone
        except ValueError:
            continue
        if not time_in_format(fmt):
            return parsed.date()
        if parsed.tzinfo is not None:
            return timezone.localtime(parsed, zone)
        return timezone.make_aware(parsed, zone)
    return None


# -- numbers ---------------------------------------------------------------------------------------------------

_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)$")
_AMBIGUOUS = re.compile(r"^[+-]?[1-9]\d{0,2}[.,]\d{3}$")  # "1,250": 1.25 or 1250?


def _grouped_number(decimal_mark: str) -> re.Pattern[str]:
    group = "," if decimal_mark == "." else "."
    mark, group = re.escape(decimal_mark), re.escape(group)
    return re.compile(rf"^[+-]?(?:\d{{1,3}}(?:{group}\d{{3}})+|\d+)?(?:{mark}\d*)?$")


def parse_number(text: str, *, column: str, decimal_mark: str | None = None) -> Decimal:
    """A decimal number. Without ``decimal_mark``, ``,`` and ``.`` are both read as the decimal separator, and a
    value that could be read two ways ("1,250": 1.25 or 1250?) is rejected. With it, the other character is
    accepted as a thousands separator in groups of three ("1.250,5" with ``decimal_mark=","``)."""
    value = text.strip()

    def not_a_number() -> FieldProblem:  # translated only when needed: gettext on every row costs seconds
        return FieldProblem(RowProblem(column, text, gettext("'%(value)s' is not a number") % {"value": value}))

    if decimal_mark is None:
        if not _PLAIN_NUMBER.match(value):
            raise not_a_number()
        if _AMBIGUOUS.match(value):
            raise FieldProblem(
                RowProblem(
                    column,
                    text,
                    gettext("'%(value)s' can be read two ways (with a decimal or a thousands separator)")
                    % {"value": value},
                )
            )
        normalised = value.replace(",", ".")
    else:
        if not re.search(r"\d", value) or not _grouped_number(decimal_mark).match(value):
            raise not_a_number()
        group = "," if decimal_mark == "." else "."
        normalised = value.replace(group, "").replace(decimal_mark, ".")
    try:
        return Decimal(normalised)
    except InvalidOperation:  # pragma: no cover - the patterns admit only digits and one mark
        raise not_a_number() from None


# -- maps ------------------------------------------------------------------------------------------------------

#: How a value is looked up in a map (``mapping.normalise_text``), remembered: the texts of mapped columns repeat.
_map_key = lru_cache(maxsize=65536)(normalise_text)


def _not_in_map(column: str, cell: str, values: list[str], map_name: str) -> FieldProblem:
    if len(values) == 1:
        reason = gettext("'%(value)s' is not in the map '%(map)s'") % {"value": values[0], "map": map_name}
    else:
        reason = gettext("%(values)s are not in the map '%(map)s'") % {
            "values": ", ".join(f"'{value}'" for value in values),
            "map": map_name,
        }
    return FieldProblem(RowProblem(column, cell, reason))


def _emptied(spec: FieldSpec, cell: str) -> FieldProblem:
    return FieldProblem(
        RowProblem(
            spec.column,
            cell,
            gettext("'%(value)s' is left empty by the transforms (%(transforms)s)")
            % {"value": cell.strip(), "transforms": ", ".join(spec.transforms)},
        )
    )


# -- fields and records ----------------------------------------------------------------------------------------


def _default(spec: FieldSpec, now: datetime) -> Any:
    """The mapping's default for an empty cell, as the field holds it (None without a default)."""
    if spec.default is None:
        return None
    if spec.split is not None:
        return [part.strip() for part in spec.default.split(spec.split) if part.strip()]
    if spec.dates:
        return parse_date(spec.default, spec.dates, column=spec.column, now=now)
    if spec.number:
        return parse_number(spec.default, column=spec.column, decimal_mark=spec.decimal)
    return spec.default


def read_field(spec: FieldSpec, row: Row, maps: dict[str, dict[str, str]], *, now: datetime | None = None) -> Any:
    """One field of a row: str (text or a map's code), list[str] when ``split``, Decimal when ``number``, date or
    aware datetime when ``dates``; None when empty without a default. Raises FieldProblem."""
    now = now or timezone.now()
    cell = row.values.get(spec.column) if spec.column else None
    if cell is None or _is_empty(cell):
        return _default(spec, now)
    keep_empty = "none_if_empty" in spec.transforms

    if spec.split is not None:
        codes: list[str] = []
        missing: list[str] = []
        for raw_part in cell.split(spec.split):
            if _is_empty(raw_part):
                continue
            part = apply_transforms(raw_part, spec.transforms)
            if _is_empty(part):
                if keep_empty:
                    continue
                raise _emptied(spec, cell)
            if spec.map is None:
                codes.append(part)
                continue
            code = maps[spec.map].get(_map_key(part))
            if code is None:
                missing.append(part.strip())
            elif code:  # a map may send a text to "" (no value): that part is left out
                codes.append(code)
        if missing:
            raise _not_in_map(spec.column, cell, missing, spec.map or "")
        return codes or _default(spec, now)

    value = apply_transforms(cell, spec.transforms)
    if _is_empty(value):
        if keep_empty:
            return _default(spec, now)
        raise _emptied(spec, cell)
    if spec.map is not None:
        code = maps[spec.map].get(_map_key(value))
        if code is None:
            raise _not_in_map(spec.column, cell, [value.strip()], spec.map)
        return code if code else _default(spec, now)
    if spec.dates:
        return parse_date(value, spec.dates, column=spec.column, now=now)
    if spec.number:
        return parse_number(value, column=spec.column, decimal_mark=spec.decimal)
    return value


def read_unit(spec: FieldSpec, row: Row, maps: dict[str, dict[str, str]]) -> str | None:
    """The unit code of a field with ``unit``/``units`` (None when the field's own cell is empty). A value with no
    unit, or a unit not in the map, is a FieldProblem: amounts are never given a unit by guess."""
    if not spec.unit or not spec.units:
        return None
    cell = row.values.get(spec.column) if spec.column else None
    if _is_empty(cell) and spec.default is None:
        return None
    unit_text = row.values.get(spec.unit)
    if unit_text is None or _is_empty(unit_text):
        raise FieldProblem(
            RowProblem(
                spec.unit,
                "",
                gettext("'%(value)s' has no unit (%(column)s is empty)")
                % {"value": (cell or spec.default or "").strip(), "column": spec.unit},
            )
        )
    code = maps[spec.units].get(_map_key(unit_text))
    if code is None:
        raise _not_in_map(spec.unit, unit_text, [unit_text.strip()], spec.units)
    if not code:
        raise FieldProblem(
            RowProblem(
                spec.unit,
                unit_text,
                gettext("'%(value)s' has no unit ('%(unit)s' is not a unit)")
                % {"value": (cell or spec.default or "").strip(), "unit": unit_text.strip()},
            )
        )
    return code


# Translated only when a key is missing: gettext on every row costs seconds over 100,000 rows.
_MISSING_KEY = gettext_noop("missing key")
_MISSING_CASE = gettext_noop("missing case key")
_MISSING_ITEM = gettext_noop("missing item key")


def read_record(
    entity: EntitySpec, row: Row, maps: dict[str, dict[str, str]], *, now: datetime | None = None
) -> tuple[dict[str, Any], list[RowProblem]]:
    """Every field of a row read, and every problem found (not just the first).

    The record has each mapped field, "<field>_unit" for a field with a unit column, and the keys as trimmed text
    under "_key", "_case" (people, items, results, locations) and "_item" (results, locations); None when empty.
    An empty key, case key or item key, and an empty required field, are problems too.
    """
    now = now or timezone.now()
    record: dict[str, Any] = {}
    problems: list[RowProblem] = []
    if row.problem:
        problems.append(RowProblem("", "", row.problem))

    keys = (
        ("_key", entity.key, _MISSING_KEY),
        ("_case", entity.case, _MISSING_CASE),
        ("_item", entity.item, _MISSING_ITEM),
    )
    for name, column, missing in keys:
        if not column:
            continue
        raw = row.values.get(column)
        text = raw.strip() if raw is not None else ""
        record[name] = text or None
        if not text:
            problems.append(RowProblem(column, raw or "", gettext(missing)))

    required = REQUIRED_FIELDS.get(entity.name, ())
    for name, spec in entity.fields.items():
        value: Any = None
        try:
            value = read_field(spec, row, maps, now=now)
        except FieldProblem as exc:
            problems.append(exc.problem)
        else:
            if name in required and (value is None or value == []):
                raw = row.values.get(spec.column) if spec.column else None
                problems.append(
                    RowProblem(spec.column, raw or "", gettext("%(field)s is empty") % {"field": _field_label(name)})
                )
        record[name] = value
        if spec.unit:
            unit = None
            try:
                unit = read_unit(spec, row, maps)
            except FieldProblem as exc:
                problems.append(exc.problem)
            record[f"{name}_unit"] = unit
    return record, problems


def _field_label(name: str) -> str:
    """A field's name as a clerk says it ("lab_number" -> "lab number")."""
    return name.replace("_", " ")
