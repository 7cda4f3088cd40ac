"""Homicide victims counted from death records alone (SDG 16.1.1), and the gender-related killing table (SDG 5).

A victim is a death investigation whose autopsy records the manner "homicide". Counts group by stored
columns (sex, age group, district, month, mechanism), never by a date function evaluated per row, so they stay
fast on either engine. These are aggregates: no name or number leaves this module.
"""

from __future__ import annotations

from collections import Counter

from django.db.models import Count, Q, QuerySet

from forensis.core.vocabulary import Sex

from .models import FAMILY_RELATIONSHIPS, FRAMEWORK_INDICATORS, DeathInvestigation, Manner, YesNoUnknown

#: The dimensions a homicide count may be broken down by, and the column each reads.
DIMENSIONS = {
    "sex": "sex",
    "age_group": "age_group",
    "mechanism": "autopsy__mechanism",
    "district": "district",
    "month": "month",
}


def homicide_victims(records: QuerySet[DeathInvestigation] | None = None) -> QuerySet[DeathInvestigation]:
    records = DeathInvestigation.objects.all() if records is None else records
    return records.filter(autopsy__manner=Manner.HOMICIDE)


def count_homicide_victims(
    *by: str, records: QuerySet[DeathInvestigation] | None = None, month_from: str = "", month_to: str = ""
) -> dict[tuple[str, ...], int]:
    """Homicide victims per combination of ``by`` (names in ``DIMENSIONS``); months as ``YYYY-MM``, inclusive."""
    unknown = [name for name in by if name not in DIMENSIONS]
    if unknown:
        raise ValueError(f"Unknown dimension(s) {unknown}; choose from {sorted(DIMENSIONS)}")
    victims = homicide_victims(records)
    if month_from:
        victims = victims.filter(month__gte=month_from)
    if month_to:
        victims = victims.filter(month__lte=month_to)
    columns = [DIMENSIONS[name] for name in by]
    if not columns:
        # ``values()`` without columns would group by every field: one row per victim, not the total.
        total = victims.count()
        return {(): total} if total else {}
    rows = victims.values(*columns).annotate(victims=Count("pk")).order_by(*columns)
    return {tuple(row[column] for column in columns): row["victims"] for row in rows}


def gender_related_killings(records: QuerySet[DeathInvestigation] | None = None) -> dict[str, int]:
    """The UNODC–UN Women framework table for female homicide victims: how many, how many gender-related,
    and how many show each relationship and each indicator (a victim may show several)."""
    victims = homicide_victims(records).filter(sex=Sex.FEMALE)
    indicator_yes = {name: Count("pk", filter=Q(**{name: YesNoUnknown.YES})) for name in FRAMEWORK_INDICATORS}
    any_indicator = Q()
    for name in FRAMEWORK_INDICATORS:
        any_indicator |= Q(**{name: YesNoUnknown.YES})
    totals = victims.aggregate(
        female_victims=Count("pk"),
        gender_related=Count("pk", filter=Q(relationship__in=FAMILY_RELATIONSHIPS) | any_indicator),
        **indicator_yes,
    )
    relationships = Counter(dict(victims.values_list("relationship").annotate(n=Count("pk")).order_by()))
    return {**totals, **{f"relationship:{code}": n for code, n in sorted(relationships.items())}}
