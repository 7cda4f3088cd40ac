"""The mapping file of a legacy import: where the old data is and how each column becomes a Forensis field.

``load_mapping`` reads the TOML file described in docs/legacy.md ("The mapping file") and checks all of it before
anything is read from the source: every problem is reported at once, each naming its key path
(``cases.fields.received_at: 'dates' must be a list of formats``), so that a mapping is corrected in one pass.
"""

from __future__ import annotations

import codecs
import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils.translation import gettext

ENTITIES = ("cases", "people", "items", "results", "locations")

#: The kinds of source, and which of them read a ``query`` instead of a ``table``.
KINDS = ("csv", "xlsx", "sqlite", "sql", "access")
QUERY_KINDS = ("sqlite", "sql")

#: The transforms a field may list, applied in the order given (see ``forensis.legacy.transforms``).
TRANSFORMS = ("trim", "upper", "lower", "title", "digits", "none_if_empty")

# What each Forensis field holds: text, a code (usually through a map), several codes (``split`` allowed),
# a date (``dates`` required) or a number (``number = true`` required).
TEXT, CODE, CODES, DATE, NUMBER = "text", "code", "codes", "date", "number"

#: entity -> Forensis field -> kind of value. The order is the order of docs/legacy.md.
FIELDS: dict[str, dict[str, str]] = {
    "cases": {
        "lab_number": TEXT,
        "agency": CODE,
        "received_at": DATE,
        "agency_case_number": TEXT,
        "district": CODE,
        "offences": CODES,
        "incident_at": DATE,
        "town": TEXT,
        "narrative": TEXT,
    },
    "people": {"role": CODE, "name": TEXT, "sex": CODE, "age": NUMBER},
    "items": {
        "type": CODE,
        "description": TEXT,
        "quantity": NUMBER,
        "seal_number": TEXT,
        "amount": NUMBER,
        "amount_unit": CODE,
        "received_at": DATE,
    },
    "results": {
        "discipline": CODE,
        "result": TEXT,
        "value": NUMBER,
        "unit": CODE,
        "reported_at": DATE,
        "analyst": TEXT,
    },
    "locations": {"location": TEXT, "as_of": DATE},
}

#: The fields each entity must map (in bold in docs/legacy.md); a row whose required field is empty is rejected.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "cases": ("lab_number", "agency", "received_at"),
    "people": ("role", "name"),
    "items": ("type", "description"),
    "results": ("discipline", "result"),
    "locations": ("location",),
}

#: Fields that may take their unit from another column (``unit``/``units``), and the field that the unit
#: column replaces (a mapping gives the unit one way or the other, not both).
UNIT_FIELDS = {("items", "amount"): "amount_unit", ("results", "value"): "unit"}

_SOURCE_KEYS = ("name", "kind", "path", "url", "encoding", "delimiter")
_ENTITY_KEYS = ("table", "query", "key", "case", "item", "fields")
_FIELD_KEYS = ("column", "transforms", "split", "map", "dates", "number", "decimal", "unit", "units", "default")
_DATES_EXAMPLE = '["%d/%m/%Y"]'
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_MAP_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_QUERY_START = re.compile(r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*(select|with)\b", re.IGNORECASE | re.DOTALL)


class MappingError(Exception):
    """A problem in the mapping file; str() names the TOML key path and what is wrong.

    ``problems`` lists every problem found (one line each in str()).
    """

    def __init__(self, problems: str | Iterable[str]):
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class FieldSpec:
    name: str  # Forensis field
    column: str  # "" when the field has only a default (the same value on every row)
    transforms: tuple[str, ...] = ()
    split: str | None = None
    map: str | None = None  # name of a value map in Mapping.maps
    dates: tuple[str, ...] = ()  # strptime formats; non-empty means "a date/datetime field"
    number: bool = False
    unit: str | None = None  # column holding the unit text
    units: str | None = None  # name of the value map for that unit text
    default: str | None = None
    decimal: str | None = None  # for number fields: "." or "," is the decimal separator (the other groups
    # thousands); None reads both as a decimal separator and rejects a value that could be read two ways


@dataclass(frozen=True)
class EntitySpec:
    name: str  # one of ENTITIES
    table: str | None
    query: str | None
    key: str  # column with the legacy id
    case: str | None = None  # column with the case key (people, items, results, locations)
    item: str | None = None  # column with the item key (results, locations)
    fields: dict[str, FieldSpec] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every source column this entity reads (key, case, item, each field's column and unit), once each."""
        names = [self.key, self.case, self.item]
        for spec in self.fields.values():
            names += [spec.column, spec.unit]
        return tuple(dict.fromkeys(name for name in names if name))


@dataclass(frozen=True)
class SourceSpec:
    name: str
    kind: str
    path: Path | None = None
    url: str | None = None
    encoding: str = "utf-8"
    delimiter: str = ","


@dataclass(frozen=True)
class Mapping:
    path: Path
    source: SourceSpec
    entities: dict[str, EntitySpec]  # only those present in the file; "cases" is required
    maps: dict[str, dict[str, str]]  # map name -> {normalised source text -> code}


def normalise_text(value: str) -> str:
    """How map keys and looked-up values are compared: trimmed, runs of whitespace made one space,
    case ignored (casefold) and accents removed ("  Hernández " and "hernandez" are the same)."""
    decomposed = unicodedata.normalize("NFKD", value)
    without_accents = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(without_accents.casefold().split())


def time_in_format(fmt: str) -> bool:
    """Whether a strptime format reads a time of day (then the field holds a datetime, else a date)."""
    return any(directive in "HIMSXc" for directive in re.findall(r"%[-#]?(.)", fmt.replace("%%", "")))


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; raise MappingError listing every problem found."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise MappingError(
            gettext("%(path)s: the mapping file cannot be read (%(error)s)") % {"path": path, "error": exc.strerror}
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(
            gettext("%(path)s: the mapping file is not valid TOML (%(error)s)") % {"path": path, "error": exc}
        ) from exc
    except UnicodeDecodeError as exc:
        raise MappingError(
            gettext("%(path)s: the mapping file is not UTF-8 text (byte %(position)s); save it as UTF-8")
            % {"path": path, "position": exc.start + 1}
        ) from exc
    return _Loader(path).load(data)


class _Loader:
    def __init__(self, path: Path):
        self.path = path
        self.problems: list[str] = []
        self.kind: str | None = None  # the source's kind, when it is a known one

    def problem(self, key_path: str, message: str) -> None:
        self.problems.append(f"{key_path}: {message}")

    # -- the file as a whole -------------------------------------------------------------------------------

    def load(self, data: dict[str, Any]) -> Mapping:
        for key in data:
            if key not in ("source", "maps", *ENTITIES):
                self.problem(
                    key,
                    gettext("unknown section; expected source, maps or one of %(entities)s")
                    % {"entities": ", ".join(ENTITIES)},
                )
        source = self.source(data.get("source"))
        maps = self.maps(data.get("maps", {}))
        entities: dict[str, EntitySpec] = {}
        if "cases" not in data:
            self.problem("cases", gettext("missing: a mapping needs at least [cases]"))
        for name in ENTITIES:
            if name in data:
                entity = self.entity(name, data[name], maps)
                if entity is not None:
                    entities[name] = entity
        if self.problems:
            raise MappingError(self.problems)
        assert source is not None
        return Mapping(path=self.path, source=source, entities=entities, maps=maps)

    # -- [source] ------------------------------------------------------------------------------------------

    def source(self, data: Any) -> SourceSpec | None:
        if data is None:
            self.problem("source", gettext("missing: the mapping needs a [source] section"))
            return None
        if not isinstance(data, dict):
            self.problem("source", gettext("must be a table ([source])"))
            return None
        self.unknown_keys("source", data, _SOURCE_KEYS)
        name = self.text("source.name", data.get("name"), required=True)
        if name is not None and not _SOURCE_NAME.match(name):
            self.problem("source.name", gettext("only letters, digits, '-' and '_' are allowed"))
        kind = self.text("source.kind", data.get("kind"), required=True)
        if kind is not None and kind not in KINDS:
            self.problem(
                "source.kind",
                gettext("'%(kind)s' is not a kind of source; expected one of %(kinds)s")
                % {"kind": kind, "kinds": ", ".join(KINDS)},
            )
            kind = None
        path = self.text("source.path", data.get("path"))
        url = self.text("source.url", data.get("url"))
        encoding = self.text("source.encoding", data.get("encoding"))
        delimiter = self.text("source.delimiter", data.get("delimiter"))
        if kind == "sql":
            if url is None and "url" not in data:
                self.problem("source.url", gettext("missing: a 'sql' source needs the database URL"))
            if "path" in data:
                self.problem("source.path", gettext("not used by a 'sql' source (give 'url')"))
        elif kind is not None:
            if path is None and "path" not in data:
                what = gettext("the folder of CSV files") if kind == "csv" else gettext("the file")
                self.problem(
                    "source.path",
                    gettext("missing: with kind = '%(kind)s', give %(what)s") % {"kind": kind, "what": what},
                )
            if "url" in data:
                self.problem("source.url", gettext("only a 'sql' source has a URL (give 'path')"))
        if kind is not None and kind != "csv":
            for key in ("encoding", "delimiter"):
                if key in data:
                    self.problem(f"source.{key}", gettext("only a 'csv' source has this setting"))
        if encoding is not None:
            try:
                codecs.lookup(encoding)
            except LookupError:
                self.problem(
                    "source.encoding",
                    gettext("'%(encoding)s' is not an encoding Python knows (e.g. utf-8, cp1252, latin-1)")
                    % {"encoding": encoding},
                )
        if delimiter is not None and len(delimiter) != 1:
            self.problem("source.delimiter", gettext("must be exactly one character, e.g. ';'"))
        self.kind = kind
        if name is None or kind is None:
            return None
        return SourceSpec(
            name=name,
            kind=kind,
            path=(self.path.parent / path) if path else None,
            url=url,
            encoding=encoding or "utf-8",
            delimiter=delimiter or ",",
        )

    # -- [maps.*] ------------------------------------------------------------------------------------------

    def maps(self, data: Any) -> dict[str, dict[str, str]]:
        if not isinstance(data, dict):
            self.problem("maps", gettext("must be a table of value maps ([maps.NAME])"))
            return {}
        maps: dict[str, dict[str, str]] = {}
        for name, entries in data.items():
            key_path = f"maps.{name}"
            if not _MAP_NAME.match(name):
                self.problem(key_path, gettext("a map's name may have only letters, digits, '-' and '_'"))
            if not isinstance(entries, dict):
                self.problem(key_path, gettext('must be a table of "text" = "code" lines'))
                continue
            normalised: dict[str, str] = {}
            originals: dict[str, str] = {}
            for text, code in entries.items():
                entry_path = f"{key_path}.{_quote_key(text)}"
                if not isinstance(code, str):
                    self.problem(entry_path, gettext("the code must be text in quotes"))
                    continue
                key = normalise_text(text)
                if not key:
                    self.problem(entry_path, gettext("the text to map is empty"))
                    continue
                if key in normalised and normalised[key] != code.strip():
                    self.problem(
                        entry_path,
                        gettext(
                            "'%(text)s' and '%(other)s' are the same text once case, accents and spaces are "
                            "ignored, but give different codes ('%(code)s' and '%(other_code)s')"
                        )
                        % {"text": text, "other": originals[key], "code": code, "other_code": normalised[key]},
                    )
                    continue
                normalised[key] = code.strip()
                originals[key] = text
            maps[name] = normalised
        return maps

    # -- [cases], [people], … ------------------------------------------------------------------------------

    def entity(self, name: str, data: Any, maps: dict[str, dict[str, str]]) -> EntitySpec | None:
        if not isinstance(data, dict):
            self.problem(name, gettext("must be a table ([%(name)s])") % {"name": name})
            return None
        self.unknown_keys(name, data, _ENTITY_KEYS)
        table = self.text(f"{name}.table", data.get("table"))
        query = self.text(f"{name}.query", data.get("query"))
        if "table" in data and "query" in data:
            self.problem(name, gettext("give either 'table' or 'query', not both"))
        elif "table" not in data and "query" not in data:
            self.problem(f"{name}.table", gettext("missing: the table (file, sheet or table name) to read"))
        if query is not None:
            if self.kind is not None and self.kind not in QUERY_KINDS:
                self.problem(
                    f"{name}.query",
                    gettext("only 'sqlite' and 'sql' sources take a query; give 'table'"),
                )
            if not _QUERY_START.match(query):
                self.problem(f"{name}.query", gettext("must be a SELECT (or WITH … SELECT) statement"))
        key = self.text(f"{name}.key", data.get("key"), required=True)
        case = self.text(f"{name}.case", data.get("case"))
        item = self.text(f"{name}.item", data.get("item"))
        if name == "cases":
            if "case" in data:
                self.problem(f"{name}.case", gettext("not used in [cases]: the case's key is 'key'"))
        elif case is None and "case" not in data:
            self.problem(f"{name}.case", gettext("missing: the column holding the case's key"))
        if name in ("results", "locations"):
            if item is None and "item" not in data:
                self.problem(f"{name}.item", gettext("missing: the column holding the item's key"))
        elif "item" in data:
            self.problem(f"{name}.item", gettext("only [results] and [locations] have an item column"))

        fields: dict[str, FieldSpec] = {}
        raw_fields = data.get("fields")
        if raw_fields is None:
            self.problem(f"{name}.fields", gettext("missing: the fields to read ([%(name)s.fields])") % {"name": name})
            raw_fields = {}
        elif not isinstance(raw_fields, dict):
            self.problem(f"{name}.fields", gettext("must be a table of fields ([%(name)s.fields])") % {"name": name})
            raw_fields = {}
        for field_name, field_data in raw_fields.items():
            spec = self.field(name, field_name, field_data, maps)
            if spec is not None:
                fields[field_name] = spec
        for required in REQUIRED_FIELDS[name]:
            if required not in raw_fields:
                self.problem(
                    f"{name}.fields.{required}",
                    gettext("missing: %(entity)s need the field '%(field)s'") % {"entity": name, "field": required},
                )
        for (entity_name, field_name), unit_field in UNIT_FIELDS.items():
            spec = fields.get(field_name)
            if entity_name == name and spec is not None and spec.unit and unit_field in raw_fields:
                self.problem(
                    f"{name}.fields.{unit_field}",
                    gettext("the unit is already read from '%(column)s' (%(field)s's 'unit'); give it one way only")
                    % {"column": spec.unit, "field": field_name},
                )
        if key is None or (table is None and query is None):
            return None
        return EntitySpec(name=name, table=table, query=query, key=key, case=case, item=item, fields=fields)

    def field(self, entity: str, name: str, data: Any, maps: dict[str, dict[str, str]]) -> FieldSpec | None:
        key_path = f"{entity}.fields.{name}"
        kinds = FIELDS[entity]
        if name not in kinds:
            self.problem(
                key_path,
                gettext("unknown field; %(entity)s have %(fields)s") % {"entity": entity, "fields": ", ".join(kinds)},
            )
            return None
        kind = kinds[name]
        if isinstance(data, str):
            data = {"column": data}  # `town = "Town"` is short for `town = { column = "Town" }`
        if not isinstance(data, dict):
            self.problem(key_path, gettext('must be a column name or a table like { column = "Name" }'))
            return None
        self.unknown_keys(key_path, data, _FIELD_KEYS)
        ok = True

        column = self.text(f"{key_path}.column", data.get("column"))
        default = self.text(f"{key_path}.default", data.get("default"))
        if "column" not in data and "default" not in data:
            self.problem(key_path, gettext("missing 'column' (or a 'default' used on every row)"))
            ok = False

        transforms: list[str] = []
        raw_transforms = data.get("transforms", [])
        if not isinstance(raw_transforms, list) or not all(isinstance(t, str) for t in raw_transforms):
            self.problem(f"{key_path}.transforms", gettext('must be a list, e.g. ["trim", "upper"]'))
            ok = False
        else:
            for transform in raw_transforms:
                if transform not in TRANSFORMS:
                    self.problem(
                        f"{key_path}.transforms",
                        gettext("unknown transform '%(transform)s'; expected %(transforms)s")
                        % {"transform": transform, "transforms": ", ".join(TRANSFORMS)},
                    )
                    ok = False
                transforms.append(transform)

        split = self.text(f"{key_path}.split", data.get("split"))
        if "split" in data and kind != CODES:
            self.problem(
                f"{key_path}.split",
                gettext("only a field holding several values (%(fields)s) can be split")
                % {"fields": ", ".join(f for f, k in kinds.items() if k == CODES) or "—"},
            )
            ok = False

        map_name = self.text(f"{key_path}.map", data.get("map"))
        if map_name is not None and map_name not in maps:
            self.problem(f"{key_path}.map", gettext("no map '%(map)s' in [maps]") % {"map": map_name})
            ok = False

        dates: list[str] = []
        if "dates" in data:
            raw_dates = data["dates"]
            if (
                not isinstance(raw_dates, list)
                or not raw_dates
                or not all(isinstance(fmt, str) and "%" in fmt for fmt in raw_dates)
            ):
                self.problem(
                    f"{key_path}.dates",
                    gettext("'dates' must be a list of formats, e.g. %(example)s") % {"example": _DATES_EXAMPLE},
                )
                ok = False
            else:
                dates = raw_dates
        if kind == DATE and "dates" not in data:
            self.problem(
                f"{key_path}.dates",
                gettext("missing: a date field needs its formats, e.g. dates = %(example)s")
                % {"example": _DATES_EXAMPLE},
            )
            ok = False
        elif kind != DATE and "dates" in data:
            self.problem(f"{key_path}.dates", gettext("'%(field)s' is not a date field") % {"field": name})
            ok = False

        number = data.get("number", False)
        if not isinstance(number, bool):
            self.problem(f"{key_path}.number", gettext("must be true or false"))
            ok = False
        elif kind == NUMBER and not number:
            self.problem(
                f"{key_path}.number", gettext("missing: '%(field)s' is a number: add number = true") % {"field": name}
            )
            ok = False
        elif kind != NUMBER and number:
            self.problem(f"{key_path}.number", gettext("'%(field)s' is not a number field") % {"field": name})
            ok = False

        decimal = self.text(f"{key_path}.decimal", data.get("decimal"))
        if decimal is not None and decimal not in (".", ","):
            self.problem(f"{key_path}.decimal", gettext('must be "." or "," (the decimal separator)'))
            ok = False
        elif decimal is not None and number is not True:
            self.problem(f"{key_path}.decimal", gettext("only a number field (number = true) has a decimal separator"))
            ok = False

        if "dates" in data and number:
            self.problem(key_path, gettext("a field is read either as dates or as a number, not both"))
        for other in ("map", "split"):
            if other in data and ("dates" in data or number is True):
                self.problem(
                    f"{key_path}.{other}",
                    gettext("a date or number field cannot also have '%(key)s'") % {"key": other},
                )
                ok = False

        unit = self.text(f"{key_path}.unit", data.get("unit"))
        units = self.text(f"{key_path}.units", data.get("units"))
        if "unit" in data or "units" in data:
            if (entity, name) not in UNIT_FIELDS:
                self.problem(
                    f"{key_path}.unit",
                    gettext("only %(fields)s take a unit column")
                    % {"fields": ", ".join(f"{e}.{f}" for e, f in UNIT_FIELDS)},
                )
                ok = False
            if "unit" not in data:
                self.problem(f"{key_path}.unit", gettext("missing: the column holding the unit"))
                ok = False
            if "units" not in data:
                self.problem(f"{key_path}.units", gettext("missing: the map that turns the unit text into a unit"))
                ok = False
            elif units is not None and units not in maps:
                self.problem(f"{key_path}.units", gettext("no map '%(map)s' in [maps]") % {"map": units})
                ok = False

        if default is not None and ok:
            problem = _check_default(default, split=split, dates=dates, number=number is True, decimal=decimal)
            if problem:
                self.problem(f"{key_path}.default", problem)
                ok = False

        if not ok:
            return None
        return FieldSpec(
            name=name,
            column=column or "",
            transforms=tuple(transforms),
            split=split,
            map=map_name,
            dates=tuple(dates),
            number=number is True,
            unit=unit,
            units=units,
            default=default,
            decimal=decimal,
        )

    # -- helpers -------------------------------------------------------------------------------------------

    def unknown_keys(self, key_path: str, data: dict[str, Any], known: tuple[str, ...]) -> None:
        for key in data:
            if key not in known:
                self.problem(
                    f"{key_path}.{_quote_key(key)}",
                    gettext("unknown key; expected one of %(keys)s") % {"keys": ", ".join(known)},
                )

    def text(self, key_path: str, value: Any, *, required: bool = False) -> str | None:
        """A non-empty text value, or None (with a problem when it is missing and required, or not text)."""
        if value is None:
            if required:
                self.problem(key_path, gettext("missing"))
            return None
        if not isinstance(value, str):
            self.problem(key_path, gettext("must be text in quotes"))
            return None
        if not value.strip():
            self.problem(key_path, gettext("must not be empty"))
            return None
        return value


def _check_default(
    default: str, *, split: str | None, dates: list[str], number: bool, decimal: str | None
) -> str | None:
    """Why a default cannot be read as the field's value, or None when it can."""
    from forensis.legacy import transforms  # transforms imports this module

    try:
        if dates:
            transforms.parse_date(default, tuple(dates), column="", now=None)
        elif number:
            transforms.parse_number(default, column="", decimal_mark=decimal)
    except transforms.FieldProblem as exc:
        return exc.problem.reason
    if split is not None and not [part for part in default.split(split) if part.strip()]:
        return gettext("must not be empty")
    return None


def _quote_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else '"' + key.replace('"', '\\"') + '"'
