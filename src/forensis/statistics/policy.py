"""Policy figures: homicide victims and rates (``statistics.homicide``), sexual violence, seized drugs and
firearm cases — legacy (migrated) and new records together, each with notes on the quality of its records.

Each function takes a ``Filters`` (the discipline filter does not apply to these figures and is ignored) and
returns plain data for a chart and its table. Cases are selected by the month the laboratory received them
(``Case.received_month``) and the incident's district; definitions are in docs/statistics.md.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils.translation import gettext_lazy as _

from forensis.cases.models import Person
from forensis.core.vocabulary import Sex
from forensis.deaths.models import AgeGroup
from forensis.evidence.models import AmountUnit, Item, ItemType
from forensis.lab.models import Result

from .filters import Filters
from .homicide import (  # noqa: F401 — the homicide figures are policy figures too
    UNKNOWN,
    VICTIM_ROLES,
    HomicideRates,
    HomicideVictims,
    cases,
    coded,
    gender_related_table,
    homicide_rates,
    homicide_victims,
    labels,
    month_codes,
)
from .numbers import age_group, share

SEXUAL_VIOLENCE_CODE = "0301"
WEAPONS_CODE = "0901"
#: The discipline whose results name the substance and its net weight (``lab.results``).
SEIZED_DRUGS_DISCIPLINE = "seized-drugs"
#: Grams per unit of mass; other units (mL, units) are not weights.
GRAMS = {AmountUnit.MILLIGRAM: Decimal("0.001"), AmountUnit.GRAM: Decimal(1), AmountUnit.KILOGRAM: Decimal(1000)}


def _counts_table(dimension: str, codes: list[tuple[str, str]], counts: Counter, column: str) -> list[dict]:
    return [{dimension: code, "label": label, column: counts.get(code, 0)} for code, label in codes]


# --- sexual violence ---------------------------------------------------------------------------------


@dataclass
class SexualViolence:
    """Cases coded ICCS 0301 or a sub-code (03011 rape, 03012 sexual assault, …) and their victims."""

    cases: int = 0
    victims: int = 0
    by_sex: list[dict] = field(default_factory=list)
    by_age_group: list[dict] = field(default_factory=list)
    by_sex_and_age_group: list[dict] = field(default_factory=list)
    cases_by_month: list[dict] = field(default_factory=list)
    cases_by_district: list[dict] = field(default_factory=list)
    quality: dict = field(default_factory=dict)


def sexual_violence(filters: Filters) -> SexualViolence:
    """Victims (people with the role victim or deceased) by sex and age group; cases by month and district."""
    selected = cases(filters).filter(coded(SEXUAL_VIOLENCE_CODE, prefix=True))
    victims = Person.objects.filter(role__in=VICTIM_ROLES, case__in=selected.values("pk")).order_by()
    crossed: Counter[tuple[str, str]] = Counter()
    for row in victims.values("sex", "age").annotate(n=Count("pk")):
        crossed[(row["sex"], age_group(row["age"]))] += row["n"]
    by_sex, by_group = Counter(), Counter()
    for (sex, group), n in crossed.items():
        by_sex[sex] += n
        by_group[group] += n
    per_month = Counter(dict(selected.values_list("received_month").annotate(n=Count("pk"))))
    per_district = Counter()
    for district, n in selected.values_list("district").annotate(n=Count("pk")):
        per_district[district or UNKNOWN] += n
    result = SexualViolence(
        cases=sum(per_month.values()),
        victims=sum(crossed.values()),
        by_sex=_counts_table("sex", labels("sex"), by_sex, "victims"),
        by_age_group=_counts_table("age_group", labels("age_group"), by_group, "victims"),
        cases_by_month=_counts_table("month", month_codes(filters, per_month), per_month, "cases"),
        cases_by_district=_counts_table("district", labels("district"), per_district, "cases"),
    )
    for sex, sex_label in labels("sex"):
        for group, group_label in labels("age_group"):
            result.by_sex_and_age_group.append(
                {
                    "sex": sex,
                    "sex_label": sex_label,
                    "age_group": group,
                    "age_group_label": group_label,
                    "victims": crossed.get((sex, group), 0),
                }
            )
    migrated = selected.exclude(legacy_id="").count()
    result.quality = {
        "cases": result.cases,
        "victims": result.victims,
        "cases_without_victim": selected.exclude(
            Exists(Person.objects.filter(case=OuterRef("pk"), role__in=VICTIM_ROLES))
        ).count(),
        "unknown_sex": by_sex.get(Sex.UNKNOWN, 0),
        "unknown_age_group": by_group.get(AgeGroup.UNKNOWN, 0),
        "unknown_district": per_district.get(UNKNOWN, 0),
        "migrated": migrated,
        "migrated_share": share(migrated, result.cases),
    }
    return result


# --- seized drugs ------------------------------------------------------------------------------------


def _grams(amount, unit: str) -> Decimal | None:
    factor = GRAMS.get(unit)
    if factor is None or amount is None:
        return None
    try:
        return Decimal(str(amount)) * factor
    except InvalidOperation:
        return None


def _substance_key(text: str) -> str:
    return " ".join(str(text).split()).casefold()


@dataclass
class SeizedDrugs:
    """Seized drugs as the laboratory identified them, and as they were received.

    ``by_substance``: the current results of released seized-drug analyses (``substance``, ``net_weight``),
    grouped by substance (spelling differences of case and spaces ignored), with the number of items analysed
    and their total net weight in grams; requests released in the period. ``received``: items of type
    "seized drugs" (not sub-items) of the cases received in the period, with the weight received in grams
    (items weighed in mL or units are counted apart) — the only figure legacy items have.
    """

    by_substance: list[dict] = field(default_factory=list)
    received: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)


def seized_drugs(filters: Filters) -> SeizedDrugs:
    results = Result.objects.filter(
        is_current=True,
        examination__request__discipline__code=SEIZED_DRUGS_DISCIPLINE,
        examination__request__released_at__isnull=False,
        **filters.month_range("examination__request__released_month"),
    )
    if filters.district:
        results = results.filter(examination__request__case__district=filters.district)
    if filters.agency:
        results = results.filter(examination__request__case__agency__code=filters.agency)
    substances: dict[str, dict] = {}
    spellings: dict[str, Counter] = defaultdict(Counter)
    without_weight = 0
    for data in results.order_by().values_list("data", flat=True).iterator(chunk_size=2000):
        data = data if isinstance(data, dict) else {}
        name = " ".join(str(data.get("substance") or "").split()) or str(_("Not stated"))
        key = _substance_key(name)
        spellings[key][name] += 1
        entry = substances.setdefault(key, {"items": 0, "grams": Decimal(0)})
        entry["items"] += 1
        grams = _grams(data.get("net_weight"), data.get("weight_unit", ""))
        if grams is None:
            without_weight += 1
        else:
            entry["grams"] += grams
    result = SeizedDrugs()
    for key, entry in substances.items():
        result.by_substance.append(
            {
                "substance": spellings[key].most_common(1)[0][0],
                "items": entry["items"],
                "net_weight_g": float(round(entry["grams"], 3)),
            }
        )
    result.by_substance.sort(key=lambda row: (-row["net_weight_g"], row["substance"].casefold()))

    items = Item.objects.filter(
        type=ItemType.SEIZED_DRUGS, sub_number__isnull=True, case__in=cases(filters).values("pk")
    ).order_by()
    received_grams, by_weight, other_units, no_amount, migrated = Decimal(0), 0, 0, 0, 0
    per_unit = items.values("amount_unit").annotate(
        items=Count("pk"),
        weighed=Count("amount_received"),
        total=Sum("amount_received"),
        migrated=Count("pk", filter=~Q(legacy_id="")),
    )
    for row in per_unit:
        migrated += row["migrated"]
        no_amount += row["items"] - row["weighed"]
        grams = _grams(row["total"], row["amount_unit"])
        if row["amount_unit"] not in GRAMS:
            other_units += row["weighed"]
        elif grams is not None:
            by_weight += row["weighed"]
            received_grams += grams
    count = by_weight + other_units + no_amount
    result.received = {
        "items": count,
        "weighed_items": by_weight,
        "weight_g": float(round(received_grams, 3)),
        "other_units": other_units,
    }
    result.quality = {
        "results_without_weight": without_weight,
        "items_without_amount": no_amount,
        "items_in_other_units": other_units,
        "migrated_items": migrated,
        "migrated_share": share(migrated, count),
    }
    return result


# --- firearm cases -----------------------------------------------------------------------------------


@dataclass
class FirearmCases:
    """Cases coded ICCS 0901 (or a sub-code) or with an item of type firearm, received in the period.

    ``by_source`` tells how each case was found: by its offence code only, by a firearm item only, or both.
    """

    cases: int = 0
    by_source: list[dict] = field(default_factory=list)
    by_district: list[dict] = field(default_factory=list)
    by_month: list[dict] = field(default_factory=list)
    quality: dict = field(default_factory=dict)


def firearm_cases(filters: Filters) -> FirearmCases:
    firearm_item = Exists(Item.objects.filter(case=OuterRef("pk"), type=ItemType.FIREARM))
    selected = (
        cases(filters)
        .annotate(by_offence=coded(WEAPONS_CODE, prefix=True), by_item=firearm_item)
        .filter(Q(by_offence=True) | Q(by_item=True))
    )
    per_month: Counter = Counter()
    per_district: Counter = Counter()
    per_source: Counter = Counter()
    migrated = 0
    rows = selected.values("received_month", "district", "by_offence", "by_item").annotate(
        n=Count("pk"), migrated=Count("pk", filter=~Q(legacy_id=""))
    )
    for row in rows:
        per_month[row["received_month"]] += row["n"]
        per_district[row["district"] or UNKNOWN] += row["n"]
        source = "both" if row["by_offence"] and row["by_item"] else "offence" if row["by_offence"] else "item"
        per_source[source] += row["n"]
        migrated += row["migrated"]
    sources = [
        ("offence", str(_("Offence code only (ICCS 0901)"))),
        ("item", str(_("Firearm item only"))),
        ("both", str(_("Both"))),
    ]
    total = sum(per_month.values())
    return FirearmCases(
        cases=total,
        by_source=_counts_table("source", sources, per_source, "cases"),
        by_district=_counts_table("district", labels("district"), per_district, "cases"),
        by_month=_counts_table("month", month_codes(filters, per_month), per_month, "cases"),
        quality={
            "cases": total,
            "unknown_district": per_district.get(UNKNOWN, 0),
            "migrated": migrated,
            "migrated_share": share(migrated, total),
        },
    )
