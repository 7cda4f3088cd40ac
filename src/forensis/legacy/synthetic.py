"""A made-up legacy export of any size, for the import's benchmark (``bench/benchmarks/legacy_import.py``) and its
kill test (``tests/legacy/test_kill.py``).

It imitates the shipped sample (``sample/``) and is read with the sample's own mapping (only the source name
differs): Windows-1252 CSV files with ';' between the columns and CRLF line ends, day-first dates written four
ways, lab numbers in lower case or padded with spaces, districts, agencies, offences, roles, sexes, item types,
units and disciplines as the free text of ``sample/mapping.toml``'s maps, decimal commas, accented names, remarks
with ';' or a line break inside quotes. About one case in a hundred carries a defect the import must catch, as in
the sample: an impossible or a future date of receipt, a district not in the map, a conflicting duplicate (both
rows rejected, with every child of the case as an orphan), an identical duplicate (collapsed); items with an
ambiguous weight (``1,250``), without a key, of a case that is not in the export, or twice the same; results of
an item that does not exist. Every name, number and event is invented.

Everything is drawn from one seeded ``random.Random``, so the same ``count`` and ``seed`` always give the same
files. ``synthetic_cases`` gives the truth the files are written from — typed values and which records a correct
import accepts — so a benchmark can insert exactly the records the import should create, and a test can check
the import's counts against it. Both stream: a million cases are never held in memory.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

#: The mapping the export is read with: the sample's, under this source name.
SAMPLE_MAPPING = Path(__file__).resolve().parent / "sample" / "mapping.toml"
SOURCE_NAME = "synthetic-export"
SEED = 8
#: The agencies the sample's [maps.agencies] names: create them before importing (``prepare_database``).
AGENCIES = (
    ("BPD-BZ", "Belize Police (synthetic)", "BZ"),
    ("BPD-CY", "Cayo Police (synthetic)", "CY"),
    ("BPD-OW", "Orange Walk Police (synthetic)", "OW"),
)

HEADERS = {
    "cases": (
        "CaseID",
        "CaseNo",
        "DateRecd",
        "Agency",
        "PoliceRef",
        "District",
        "Offence",
        "IncidentDate",
        "Town",
        "Remarks",
    ),
    "people": ("PersonID", "CaseID", "Role", "Name", "Sex", "Age"),
    "items": ("ExhibitID", "CaseID", "ExType", "Description", "Qty", "SealNo", "Weight", "WtUnit", "DateRecd"),
    "results": ("ResultID", "CaseID", "ExhibitID", "Section", "Finding", "Value", "Unit", "DateReported", "Analyst"),
    "locations": ("LocID", "CaseID", "ExhibitID", "Location", "AsOf"),
}
FILES = {
    "cases": "cases.csv",
    "people": "people.csv",
    "items": "exhibits.csv",
    "results": "results.csv",
    "locations": "locations.csv",
}

# The texts of the sample's maps, each with the code it gives.
AGENCY_TEXTS = (
    ("Belize Police", "BPD-BZ"),
    ("BPD Belize", "BPD-BZ"),
    ("Cayo Police", "BPD-CY"),
    ("Orange Walk Police", "BPD-OW"),
)
DISTRICT_TEXTS = (
    ("Belize", "BZ"),
    ("Belize City", "BZ"),
    ("Belize Dist.", "BZ"),
    ("Cayo", "CY"),
    ("San Ignacio", "CY"),
    ("Orange Walk", "OW"),
    ("Orange Walk Town", "OW"),
    ("Corozal", "CZL"),
    ("Stann Creek", "SC"),
    ("Dangriga", "SC"),
    ("Toledo", "TOL"),
    ("Punta Gorda", "TOL"),
)
OFFENCE_TEXTS = (
    ("Murder", "0101"),
    ("Attempted murder", "0102"),
    ("Assault", "0201"),
    ("Rape", "03011"),
    ("Robbery", "0401"),
    ("Burglary", "0501"),
    ("Theft", "0502"),
    ("Possession of cannabis", "06011"),
    ("Drug trafficking", "06012"),
    ("Firearm possession", "09011"),
)
ROLE_TEXTS = (
    ("Victim", "victim"),
    ("Suspect", "suspect"),
    ("Deceased", "deceased"),
    ("Reference", "reference"),
    ("Ref. sample", "reference"),
)
SEX_TEXTS = (("F", "F"), ("Female", "F"), ("M", "M"), ("Male", "M"), ("?", "U"), ("Unknown", "U"))
#: The item types of the old register: (its text, the item type code, descriptions of such items).
ITEM_KINDS = (
    ("Pistol", "firearm", ("Glock 19 pistol", "Revolver, .38 Special", "Taurus PT92 pistol")),
    ("Spent shell", "cartridge_case", ("9mm cartridge case, headstamp FC", ".40 S&W cartridge case")),
    ("Cartridge case", "cartridge_case", (".38 cartridge case found at the scene",)),
    ("Bullet", "bullet", ("Projectile recovered from the body", "Deformed bullet from the wall")),
    ("Drugs", "seized_drugs", ("White powder in a knotted bag", "Compressed brick wrapped in tape")),
    ("Plant material", "seized_drugs", ("Green plant material in a plastic bag", "Dried leaves in newspaper")),
    ("Blood", "blood", ("Reference blood of the victim", "Blood sample of the driver")),
    ("Swab", "swab", ("Swab of blood on the window frame", "Buccal swabs", "Swab from the door handle")),
    ("Clothing", "clothing", ("Grey T-shirt of the deceased", "Blue jeans, blood-stained", "Camisa blanca")),
    ("Cell phone", "phone", ("Samsung phone of the victim", "iPhone with a cracked screen")),
    ("Document", "document", ("Fingerprint lift card", "Handwritten note")),
    ("Knife", "other", ("Kitchen knife, 20 cm blade",)),
    ("Machete", "other", ("Machete with a wooden handle",)),
)
#: The discipline of an item's results, by its type (others: trace).
DISCIPLINE_OF = {
    "firearm": "firearms",
    "cartridge_case": "firearms",
    "bullet": "firearms",
    "seized_drugs": "seized-drugs",
    "blood": "toxicology",
    "swab": "serology",
    "clothing": "serology",
}
#: The section of the old register that reported a discipline's results (the map's text).
SECTIONS = {
    "firearms": "Firearms",
    "seized-drugs": "Drugs",
    "toxicology": "Toxicology",
    "serology": "Serology",
    "trace": "Trace",
}
FINDINGS = {
    "firearms": (
        "Fired in the same firearm as the cartridge cases",
        "Pistol functional, test fired",
        "9mm bullet, six lands and grooves, right twist",
    ),
    "seized-drugs": ("Cannabis identified", "Cocaine hydrochloride identified"),
    "toxicology": ("Ethanol detected",),
    "serology": ("Human blood detected", "Semen detected", "No blood detected"),
    "trace": ("Glass fragments consistent with the window", "Fibres recovered"),
}
WEIGHT_UNITS = (("grams", "g"), ("g", "g"), ("kg", "kg"), ("mg", "mg"))
TOWNS = (
    "Belize City",
    "San Ignacio",
    "Santa Elena",
    "Benque Viejo",
    "Orange Walk",
    "Ladyville",
    "Dangriga",
    "Corozal",
    "Punta Gorda",
    "Hopkins",
    "Bullet Tree Falls",
)
REMARKS = (
    "Shooting on Mahogany Street. Two spent shells recovered.",
    "Vehicle search at the checkpoint.",
    "Break-in; blood on the window frame.",
    "Stolen phone recovered.",
    "Fight outside a bar.",
    "Body found near the canal.",
    "Four packages of white powder.",
    "Señora Núñez reported the theft.",
    "Armed robbery of a gas station; suspect fled on foot.",
    "",
)
FIRST_NAMES = (
    "Marcus",
    "Rosa",
    "Kevin",
    "Luis",
    "Sandra",
    "Elvis",
    "Ana",
    "José",
    "Zoë",
    "Darnell",
    "María",
    "Jamal",
    "Carla",
    "Roberto",
    "Iñaki",
)
LAST_NAMES = (
    "Alvarado",
    "Méndez",
    "Tillett",
    "Cho",
    "Castillo",
    "Martínez",
    "Young",
    "Peña",
    "Kuk",
    "Usher",
    "Gentle",
    "Pérez",
    "Núñez",
    "Bol",
    "Arzu",
)
ANALYSTS = ("S. Gomez", "J. Bol", "M. Reyes", "K. Arzu", "T. Ávila")
PLACES = (
    "Firearms lab, cabinet 2",
    "Exhibit store A, shelf 1",
    "Exhibit store A, shelf 3",
    "Drug vault",
    "Freezer 1",
    "Freezer 2",
    "Returned to the police",
)
#: How dates are written (the sample mapping's formats); a case's receipt sometimes has a time of day.
DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%Y", "%d-%m-%y", "%d.%m.%Y")
TIME_FORMAT = "%d/%m/%Y %H:%M"

#: Defects of a case, drawn once per case with these chances (in percent). The first four reject the case.
CASE_DEFECTS = (
    ("impossible_date", 0.3),
    ("future_date", 0.2),
    ("unknown_district", 0.3),
    ("conflicting_duplicate", 0.2),
    ("identical_duplicate", 0.3),
)
REJECTED_CASE_DEFECTS = frozenset({"impossible_date", "future_date", "unknown_district", "conflicting_duplicate"})


@dataclass(frozen=True, slots=True)
class SyntheticPerson:
    key: str
    role: str
    name: str
    sex: str
    age: int | None


@dataclass(frozen=True, slots=True)
class SyntheticResult:
    key: str
    discipline: str
    finding: str
    value: Decimal | None
    unit: str
    reported: date


@dataclass(frozen=True, slots=True)
class SyntheticItem:
    key: str
    type: str
    description: str
    quantity: int
    seal_number: str
    amount: Decimal | None
    amount_unit: str
    received: date | None  # None: the case's
    location: str | None  # None: no location row
    as_of: date | None
    results: tuple[SyntheticResult, ...]
    accepted: bool  # False: its weight is ambiguous, the import rejects it (and its results and location)


@dataclass(frozen=True, slots=True)
class SyntheticCase:
    key: str
    lab_number: str
    agency: str
    received: datetime  # naive, in the laboratory's time zone (midnight when only a date was recorded)
    agency_case_number: str
    district: str
    offences: tuple[str, ...]
    incident: date
    town: str
    narrative: str
    people: tuple[SyntheticPerson, ...]
    items: tuple[SyntheticItem, ...]
    defect: str  # "" or one of CASE_DEFECTS

    @property
    def accepted(self) -> bool:
        return self.defect not in REJECTED_CASE_DEFECTS


def synthetic_cases(count: int, seed: int = SEED, *, children: bool = True) -> Iterator[SyntheticCase]:
    """The truth of the export: ``count`` cases with their people, items (with their location) and results.

    About 1.5 people, 2.5 items, 2.1 locations and 1.2 results per case. Without ``children``, cases only."""
    rng = random.Random(seed)
    numbers: Counter = Counter()
    serial = {"people": 0, "items": 0, "results": 0}

    def next_key(prefix: str, entity: str) -> str:
        serial[entity] += 1
        return f"{prefix}{serial[entity]:07d}"

    for index in range(count):
        received = datetime(2005, 1, 1) + timedelta(days=rng.randrange(19 * 365))
        if rng.random() < 0.2:  # a time of day was recorded
            received += timedelta(minutes=rng.randrange(8 * 60, 18 * 60))
        numbers[received.year] += 1
        defect = ""
        draw = rng.random() * 100
        for name, chance in CASE_DEFECTS:
            if draw < chance:
                defect = name
                break
            draw -= chance
        agency = rng.choice(AGENCY_TEXTS)[1]
        people, items = (), ()
        if children:
            people = tuple(
                SyntheticPerson(
                    key=next_key("P", "people"),
                    role=rng.choice(ROLE_TEXTS)[1],
                    name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                    sex=rng.choice(SEX_TEXTS)[1],
                    age=rng.randrange(14, 85) if rng.random() < 0.8 else None,
                )
                for _ in range(rng.choice((0, 1, 1, 2, 2, 3)))
            )
            items = tuple(_item(rng, received.date(), next_key) for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
        yield SyntheticCase(
            key=str(100_000 + index),
            lab_number=f"FSL-{received.year}-{numbers[received.year]:05d}",
            agency=agency,
            received=received,
            agency_case_number=f"{agency[-2:]}-{received.year % 100:02d}-{rng.randrange(1, 10_000):04d}",
            district=rng.choice(DISTRICT_TEXTS)[1],
            offences=tuple(sorted({rng.choice(OFFENCE_TEXTS)[1] for _ in range(rng.choice((1, 1, 1, 2)))})),
            incident=received.date() - timedelta(days=rng.randrange(4)),
            town=rng.choice(TOWNS),
            narrative=rng.choice(REMARKS) + ("\nSecond page of the register." if rng.random() < 0.005 else ""),
            people=people,
            items=items,
            defect=defect,
        )


def _item(rng: random.Random, case_received: date, next_key) -> SyntheticItem:
    text, code, descriptions = rng.choice(ITEM_KINDS)
    amount, unit, accepted = None, "", True
    if code == "seized_drugs":
        unit = rng.choice(WEIGHT_UNITS)[1]
        amount = Decimal(rng.randrange(1, 100_000)) / 10
        accepted = rng.random() >= 0.004  # written "1,250" below: 1.25 or 1250?
    key = next_key("E", "items")
    discipline = DISCIPLINE_OF.get(code, "trace")
    results = []
    if rng.random() < 0.49:
        value, value_unit = None, ""
        if discipline == "seized-drugs":
            value, value_unit = Decimal(rng.randrange(1, 100_000)) / 10, "g"
        elif discipline == "toxicology":
            value, value_unit = Decimal(rng.randrange(1, 40)) / 100, "g/100 mL"
        results.append(
            SyntheticResult(
                key=next_key("R", "results"),
                discipline=discipline,
                finding=rng.choice(FINDINGS[discipline]),
                value=value,
                unit=value_unit,
                reported=case_received + timedelta(days=rng.randrange(10, 120)),
            )
        )
    located = rng.random() < 0.85
    return SyntheticItem(
        key=key,
        type=code,
        description=rng.choice(descriptions),
        quantity=rng.choice((1, 1, 1, 2, 3)),
        seal_number=f"S-{key[1:]}-{rng.randrange(1, 10)}",
        amount=amount,
        amount_unit=unit,
        received=case_received + timedelta(days=rng.randrange(1, 6)) if rng.random() < 0.1 else None,
        location=rng.choice(PLACES) if located else None,
        as_of=case_received + timedelta(days=rng.randrange(1, 200)) if located and rng.random() < 0.6 else None,
        results=tuple(results),
        accepted=accepted,
    )


@dataclass(frozen=True)
class Export:
    mapping: Path
    rows: dict[str, int]  # rows written per entity (duplicates and defective rows included)
    expected: dict[str, int]  # records a correct import creates per entity
    collapsed: dict[str, int]  # identical duplicate rows


def write_export(folder: Path, count: int, seed: int = SEED, *, children: bool = True) -> Export:
    """Write the export of ``synthetic_cases(count, seed)`` and its mapping into ``folder``.

    Without ``children`` the other files hold their header only (the mapping is the same)."""
    folder = Path(folder)
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    mapping = folder / "mapping.toml"
    text = SAMPLE_MAPPING.read_text(encoding="utf-8")
    mapping.write_text(text.replace('name = "sample-access-export"', f'name = "{SOURCE_NAME}"', 1), encoding="utf-8")
    rows: Counter = Counter()
    expected: Counter = Counter()
    collapsed: Counter = Counter()
    rng = random.Random(seed + 1)  # the spellings, apart from the truth
    files = {entity: (data / name).open("w", encoding="cp1252", newline="") for entity, name in FILES.items()}
    try:
        writers = {entity: csv.writer(file, delimiter=";") for entity, file in files.items()}
        for entity, writer in writers.items():
            writer.writerow(HEADERS[entity])

        def write(entity: str, row: tuple, times: int = 1) -> None:
            for _ in range(times):
                writers[entity].writerow(row)
            rows[entity] += times

        later: list[tuple] = []  # the second rows of conflicting duplicates, written at the end
        for case in synthetic_cases(count, seed, children=children):
            _write_case(rng, case, write, later)
            if case.accepted:
                expected["cases"] += 1
                expected["people"] += len(case.people)
            collapsed["cases"] += case.defect == "identical_duplicate"
            for item in case.items:
                ok = case.accepted and item.accepted
                expected["items"] += ok
                expected["results"] += len(item.results) * ok
                expected["locations"] += (item.location is not None) * ok
            if children:
                collapsed["items"] += _write_extra_rows(rng, case, write)
        for row in later:
            write("cases", row)
    finally:
        for file in files.values():
            file.close()
    return Export(mapping=mapping, rows=dict(rows), expected=dict(expected), collapsed=dict(collapsed))


def _date_text(rng: random.Random, value: date) -> str:
    return value.strftime(rng.choice(DATE_FORMATS))


def _spelling(rng: random.Random, texts: tuple[tuple[str, str], ...], code: str) -> str:
    """One of the map's texts for ``code``, sometimes in other letter case or with extra spaces."""
    text = rng.choice([text for text, its_code in texts if its_code == code])
    draw = rng.random()
    if draw < 0.05:
        return text.upper()
    if draw < 0.08:
        return f"  {text.lower()} "
    return text


def _write_case(rng: random.Random, case: SyntheticCase, write, later: list) -> None:
    received = case.received
    if case.defect == "impossible_date":
        received_text = f"31/02/{received.year}"
    elif case.defect == "future_date":
        received_text = f"{received:%d/%m}/2091"
    elif received.time() != time.min:
        received_text = received.strftime(TIME_FORMAT)
    else:
        received_text = _date_text(rng, received.date())
    lab_number = case.lab_number
    draw = rng.random()
    if draw < 0.05:
        lab_number = lab_number.lower()
    elif draw < 0.08:
        lab_number = f" {lab_number} "
    district = "Burrell Boom" if case.defect == "unknown_district" else _spelling(rng, DISTRICT_TEXTS, case.district)
    row = (
        case.key,
        lab_number,
        received_text,
        _spelling(rng, AGENCY_TEXTS, case.agency),
        case.agency_case_number.lower() if rng.random() < 0.05 else case.agency_case_number,
        district,
        ", ".join(_spelling(rng, OFFENCE_TEXTS, code) for code in case.offences),
        _date_text(rng, case.incident),
        case.town,
        case.narrative,
    )
    write("cases", row, 2 if case.defect == "identical_duplicate" else 1)
    if case.defect == "conflicting_duplicate":
        later.append((*row[:-1], row[-1] + " (copy)"))
    for person in case.people:
        write(
            "people",
            (
                person.key,
                case.key,
                _spelling(rng, ROLE_TEXTS, person.role),
                person.name,
                _spelling(rng, SEX_TEXTS, person.sex),
                "" if person.age is None else str(person.age),
            ),
        )
    for item in case.items:
        weight, unit = "", ""
        if item.amount is not None:
            unit = _spelling(rng, WEIGHT_UNITS, item.amount_unit)
            weight = "1,250" if not item.accepted else format(item.amount, "f").replace(".", ",")
        item_type = next(
            text for text, code, descriptions in ITEM_KINDS if code == item.type and item.description in descriptions
        )
        seal = item.seal_number.lower() if rng.random() < 0.1 else item.seal_number
        write(
            "items",
            (
                item.key,
                case.key,
                item_type,
                item.description,
                str(item.quantity),
                seal,
                weight,
                unit,
                "" if item.received is None else _date_text(rng, item.received),
            ),
        )
        for result in item.results:
            section = SECTIONS[result.discipline]
            value = "" if result.value is None else format(result.value, "f").replace(".", ",")
            unit_text = {"g": "g", "g/100 mL": "g/100ml", "": ""}[result.unit]
            write(
                "results",
                (
                    result.key,
                    case.key,
                    item.key,
                    section,
                    result.finding,
                    value,
                    unit_text,
                    _date_text(rng, result.reported),
                    rng.choice(ANALYSTS),
                ),
            )
        if item.location is not None:
            write(
                "locations",
                (
                    f"L{item.key[1:]}",
                    case.key,
                    item.key,
                    item.location,
                    "" if item.as_of is None else _date_text(rng, item.as_of),
                ),
            )


def _write_extra_rows(rng: random.Random, case: SyntheticCase, write) -> int:
    """Rows no correct import accepts (or collapses): returns the identical duplicates written."""
    draw = rng.random() * 100
    if draw < 0.2:  # an item of a case that is not in the export
        write("items", (f"X{case.key}", f"9{case.key}", "Other", "Found in the old register", "1", "", "", "", ""))
    elif draw < 0.3:  # an item without its key
        write("items", ("", case.key, "Other", "Key lost", "1", "", "", "", ""))
    elif draw < 0.4:  # a result of an item that does not exist
        write(
            "results",
            (f"Q{case.key}", case.key, f"E{case.key}X", "Trace", "Fibres recovered", "", "", "01/01/2010", "S. Gomez"),
        )
    elif draw < 0.6 and case.accepted and case.items and case.items[0].accepted:  # the same item row twice
        return _repeat_item(case, case.items[0], write)
    return 0


def _repeat_item(case: SyntheticCase, item: SyntheticItem, write) -> int:
    item_type = next(
        text for text, code, descriptions in ITEM_KINDS if code == item.type and item.description in descriptions
    )
    weight = "" if item.amount is None else format(item.amount, "f").replace(".", ",")
    unit = "" if item.amount is None else next(text for text, code in WEIGHT_UNITS if code == item.amount_unit)
    received = "" if item.received is None else item.received.strftime(DATE_FORMATS[0])
    # Written once more exactly as read back: same fields after the mapping's transforms.
    write(
        "items",
        (item.key, case.key, item_type, item.description, str(item.quantity), item.seal_number, weight, unit, received),
    )
    return 1


def prepare_database() -> None:
    """Create what importing the export needs in a migrated database: the sample's agencies, and an administrator
    ``importer`` of a laboratory ``LAB`` to run it (with a random password: nobody signs in as it)."""
    import secrets

    from forensis.accounts import services
    from forensis.accounts.models import Agency, AgencyType
    from forensis.accounts.roles import Role

    for code, name, district in AGENCIES:
        if not Agency.objects.filter(code=code).exists():
            services.create_agency(None, code=code, name=name, type=AgencyType.POLICE, district=district)
    laboratory = Agency.objects.filter(code="LAB").first() or services.create_agency(
        None, code="LAB", name="Forensic Laboratory", type=AgencyType.LABORATORY
    )
    services.create_user(
        None, username="importer", password=secrets.token_urlsafe(24), agency=laboratory, roles=[Role.ADMINISTRATOR]
    )
