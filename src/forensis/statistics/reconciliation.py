"""Lining up the police's homicide list with Forensis's homicide victims, per month and district.

The police list is a CSV file (UTF-8, or Windows-1252 when it is not UTF-8; comma, semicolon or tab between
columns; a header row naming the columns in any order and case):

=================  ========  =================================================================================
column             required  content
=================  ========  =================================================================================
police_reference   yes       the police case number (as the police write it on submissions)
date_of_death      yes       ``YYYY-MM-DD`` or day first ``DD/MM/YYYY`` (also ``DD-MM-YYYY``, ``DD.MM.YYYY``)
district           yes       a district's code (BZ, CY, OW, CZL, SC, TOL) or name (Belize, Cayo, …)
sex                no        M, F or U (or Male, Female, Unknown); empty is unknown
age                no        whole years, 0–120
victim_name        no        shown beside the row to laboratory staff; never stored
=================  ========  =================================================================================

``parse_police_list`` reads the whole file or refuses it whole (``PoliceListError``, one message per faulty row
and column): a list is never half read. ``reconcile`` matches each police row to at most one Forensis victim
(``statistics.homicide``: released homicide autopsies, and victims of ICCS 0101 cases without a death record):

1. by reference — the police reference equals the agency case number of the Forensis victim's case, compared
   in capitals with everything but letters and digits removed ("bz-hom/2026 42" = "BZHOM202642"); when several
   victims share a case, a pair with the same sex, then the same date of death, is preferred;
2. otherwise by date of death, district and sex together — all three known on both sides and equal.

A Forensis victim within a month of the period is still a candidate (a death on the 31st may be received on the
2nd), but only those of the period are counted or listed as missing from the police list.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from forensis.core.vocabulary import District, Sex
from forensis.deaths.models import MAX_AGE

from . import homicide
from .filters import FIRST_MONTH, LAST_MONTH, Filters, months_between, next_month

#: Largest police list accepted, and most rows.
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000

REQUIRED = ("police_reference", "date_of_death", "district")
OPTIONAL = ("sex", "age", "victim_name")

_DISTRICTS = {code.casefold(): code for code in District.values} | {
    str(label).casefold(): code for code, label in District.choices
}
_DISTRICTS.update({f"{str(label).casefold()} district": code for code, label in District.choices})
_SEXES = {"m": Sex.MALE, "male": Sex.MALE, "f": Sex.FEMALE, "female": Sex.FEMALE, "u": Sex.UNKNOWN}
_SEXES.update({"unknown": Sex.UNKNOWN, "": Sex.UNKNOWN})
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


@dataclass(frozen=True)
class RowError:
    line: int  # the line of the file (the header is line 1)
    column: str
    message: str

    def __str__(self) -> str:
        where = _("Line %(line)s") % {"line": self.line} if self.line else _("File")
        return f"{where}, {self.column}: {self.message}" if self.column else f"{where}: {self.message}"


class PoliceListError(ValidationError):
    """The police list was refused; ``row_errors`` say where and why (nothing of it was used)."""

    def __init__(self, errors: list[RowError]):
        self.row_errors = errors
        super().__init__([str(error) for error in errors])


@dataclass(frozen=True)
class PoliceRecord:
    line: int
    reference: str
    date_of_death: date
    district: str
    sex: str = Sex.UNKNOWN
    age: int | None = None
    victim_name: str = ""

    @property
    def month(self) -> str:
        return self.date_of_death.strftime("%Y-%m")


@dataclass(frozen=True)
class ForensisRecord:
    """A homicide victim in Forensis: ``kind`` "death_record" (``reference`` its death investigation number) or
    "case" (``reference`` the lab case number)."""

    kind: str
    reference: str
    agency_case_number: str
    month: str
    district: str
    sex: str
    age_group: str
    date_of_death: date | None


def normalise_reference(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _parse_date(text: str) -> date | None:
    for pattern, order in ((_ISO, (1, 2, 3)), (_DAY_FIRST, (3, 2, 1))):
        match = pattern.match(text)
        if match:
            year, month, day = (int(match.group(i)) for i in order)
            try:
                return date(year, month, day)
            except ValueError:
                return None
    return None


def parse_police_list(upload) -> list[PoliceRecord]:
    """Read a police homicide list (bytes, text, or a file object); refuse it whole with every fault listed."""
    raw = upload.read() if hasattr(upload, "read") else upload
    if isinstance(raw, bytes):
        if len(raw) > MAX_BYTES:
            raise PoliceListError([RowError(0, "", _("The file is larger than 5 MB."))])
        raw = _decode(raw)
    text = raw.lstrip("\ufeff")
    if not text.strip():
        raise PoliceListError([RowError(0, "", _("The file is empty."))])
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = [name.strip().casefold().replace(" ", "_") for name in next(reader)]
    except (StopIteration, csv.Error):
        raise PoliceListError([RowError(1, "", _("The header row could not be read."))]) from None
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise PoliceListError([RowError(1, name, _("This column is missing from the header row.")) for name in missing])
    position = {name: header.index(name) for name in REQUIRED + OPTIONAL if name in header}
    errors: list[RowError] = []
    records: list[PoliceRecord] = []
    today = timezone.localdate()
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(records) + len(errors) >= MAX_ROWS:
                raise PoliceListError([RowError(0, "", _("The list has more than %(n)s rows.") % {"n": MAX_ROWS})])
            record = _parse_row(row, line, position, today, errors)
            if record is not None:
                records.append(record)
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, "", _("The row could not be read: %(error)s") % {"error": exc}))
    if errors:
        raise PoliceListError(errors)
    if not records:
        raise PoliceListError([RowError(0, "", _("The list has no rows."))])
    return records


def _parse_row(row: list[str], line: int, position: dict[str, int], today: date, errors: list[RowError]):
    def cell(name: str) -> str:
        index = position.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    before = len(errors)
    reference = cell("police_reference")
    if not normalise_reference(reference):
        errors.append(RowError(line, "police_reference", _("Give the police case number.")))
    when = _parse_date(cell("date_of_death"))
    if when is None:
        errors.append(
            RowError(
                line,
                "date_of_death",
                _("“%(value)s” is not a date (YYYY-MM-DD or DD/MM/YYYY).") % {"value": cell("date_of_death")},
            )
        )
    elif when > today:
        errors.append(RowError(line, "date_of_death", _("The date is in the future.")))
    elif when.strftime("%Y-%m") < FIRST_MONTH:
        errors.append(RowError(line, "date_of_death", _("The date is before %(year)s.") % {"year": FIRST_MONTH[:4]}))
    district = _DISTRICTS.get(" ".join(cell("district").split()).casefold())
    if district is None:
        errors.append(RowError(line, "district", _("“%(value)s” is not a district.") % {"value": cell("district")}))
    sex = _SEXES.get(cell("sex").casefold())
    if sex is None:
        errors.append(RowError(line, "sex", _("“%(value)s” is not M, F or U.") % {"value": cell("sex")}))
    age = None
    if cell("age"):
        try:
            age = int(cell("age"))
        except ValueError:
            age = -1
        if not 0 <= age <= MAX_AGE:
            errors.append(
                RowError(line, "age", _("“%(value)s” is not an age in years (0–120).") % {"value": cell("age")})
            )
    if len(errors) > before:
        return None
    return PoliceRecord(
        line=line,
        reference=reference,
        date_of_death=when,
        district=district,
        sex=sex,
        age=age,
        victim_name=cell("victim_name"),
    )


# --- Forensis's side ----------------------------------------------------------------------------------


def _local_date(moment: datetime | None) -> date | None:
    return timezone.localtime(moment).date() if moment else None


def forensis_records(filters: Filters) -> list[ForensisRecord]:
    """Every homicide victim of the period, from both sources (the same ones ``homicide_victims`` counts)."""
    records = []
    deaths = homicide.homicide_death_records(homicide.death_records(filters)).select_related("case")
    for death in deaths.order_by("month", "number"):
        records.append(
            ForensisRecord(
                kind="death_record",
                reference=death.number,
                agency_case_number=death.case.agency_case_number,
                month=death.month,
                district=death.district or homicide.UNKNOWN,
                sex=death.sex,
                age_group=death.age_group,
                date_of_death=_local_date(death.death_at),
            )
        )
    for person in homicide.case_victims(filters).select_related("case").order_by("case__received_month", "pk"):
        records.append(
            ForensisRecord(
                kind="case",
                reference=person.case.lab_number,
                agency_case_number=person.case.agency_case_number,
                month=person.case.received_month,
                district=person.case.district or homicide.UNKNOWN,
                sex=person.sex,
                age_group=homicide.age_group(person.age),
                date_of_death=_local_date(person.case.incident_at),
            )
        )
    return records


# --- matching -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    police: PoliceRecord
    forensis: ForensisRecord
    rule: str  # "reference" or "date_district_sex"


@dataclass
class Reconciliation:
    """Both counts per month and district, the pairs found, and the records each side lacks.

    ``rows``: ``{"month", "district", "police", "forensis", "matched", "police_only", "forensis_only",
    "difference"}`` (difference = police − Forensis) for every month of the period and every district that has
    a record. ``outside_period``: police rows whose date of death falls outside the period (not compared).
    """

    first_month: str
    last_month: str
    rows: list[dict] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)
    police_only: list[PoliceRecord] = field(default_factory=list)
    forensis_only: list[ForensisRecord] = field(default_factory=list)
    outside_period: int = 0

    @property
    def matched_outside_period(self) -> int:
        """Police rows of the period matched to a Forensis victim of a neighbouring month outside it: matched, but
        not in the Forensis column (which counts the period's Forensis victims only)."""
        return sum(1 for match in self.matches if not self.first_month <= match.forensis.month <= self.last_month)

    @property
    def totals(self) -> dict[str, int]:
        keys = ("police", "forensis", "matched", "police_only", "forensis_only")
        return {key: sum(row[key] for row in self.rows) for key in keys}


def _score(police: PoliceRecord, candidate: ForensisRecord) -> tuple[int, int]:
    return (
        int(police.sex != Sex.UNKNOWN and police.sex == candidate.sex),
        int(candidate.date_of_death == police.date_of_death),
    )


def _previous_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def reconcile(police: list[PoliceRecord], filters: Filters | None = None) -> Reconciliation:
    """Compare the police list with Forensis over the filters' period (else the months the list covers) and,
    when the filters name one, a district. The agency and discipline filters do not apply. An empty list with
    no period is refused (ValidationError on ``month_from``)."""
    filters = filters or Filters()
    months = sorted(record.month for record in police)
    first = filters.month_from or (months[0] if months else "")
    last = filters.month_to or (months[-1] if months else "")
    if not first or not last:
        raise ValidationError({"month_from": [_("The list has no rows; give a period to compare over.")]})
    in_period = [
        p for p in police if first <= p.month <= last and (not filters.district or p.district == filters.district)
    ]
    result = Reconciliation(first_month=first, last_month=last, outside_period=len(police) - len(in_period))
    widened = Filters(
        month_from=max(FIRST_MONTH, _previous_month(first)),
        month_to=min(LAST_MONTH, next_month(last)),
        district=filters.district,
    )
    candidates = forensis_records(widened)
    taken: set[int] = set()

    by_reference: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(candidates):
        key = normalise_reference(record.agency_case_number)
        if key:
            by_reference[key].append(index)
    unmatched: list[PoliceRecord] = []
    for record in in_period:
        options = [i for i in by_reference.get(normalise_reference(record.reference), []) if i not in taken]
        if options:
            best = max(options, key=lambda i: (_score(record, candidates[i]), -i))
            taken.add(best)
            result.matches.append(Match(record, candidates[best], "reference"))
        else:
            unmatched.append(record)

    by_details: dict[tuple, list[int]] = defaultdict(list)
    for index, record in enumerate(candidates):
        if index not in taken and record.date_of_death and record.sex != Sex.UNKNOWN:
            by_details[(record.date_of_death, record.district, record.sex)].append(index)
    for record in unmatched:
        options = []
        if record.sex != Sex.UNKNOWN:
            key = (record.date_of_death, record.district, record.sex)
            options = [i for i in by_details.get(key, []) if i not in taken]
        if options:
            taken.add(options[0])
            result.matches.append(Match(record, candidates[options[0]], "date_district_sex"))
        else:
            result.police_only.append(record)
    result.forensis_only = [
        record for index, record in enumerate(candidates) if index not in taken and first <= record.month <= last
    ]

    counts: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for record in in_period:
        counts[(record.month, record.district)]["police"] += 1
    for match in result.matches:
        counts[(match.police.month, match.police.district)]["matched"] += 1
    for record in result.police_only:
        counts[(record.month, record.district)]["police_only"] += 1
    for record in candidates:
        if first <= record.month <= last:
            counts[(record.month, record.district)]["forensis"] += 1
    for record in result.forensis_only:
        counts[(record.month, record.district)]["forensis_only"] += 1
    districts = [code for code in [*District.values, homicide.UNKNOWN] if any(key[1] == code for key in counts)]
    for month in months_between(first, last):
        for district in districts:
            entry = counts.get((month, district), Counter())
            result.rows.append(
                {
                    "month": month,
                    "district": district,
                    "police": entry["police"],
                    "forensis": entry["forensis"],
                    "matched": entry["matched"],
                    "police_only": entry["police_only"],
                    "forensis_only": entry["forensis_only"],
                    "difference": entry["police"] - entry["forensis"],
                }
            )
    return result
