"""Homicide victims counted from death records alone (SDG 16.1.1), and the gender-related killing table (SDG 5):
the medical examiner's office's working view.

A victim here is a death investigation whose autopsy records the manner "homicide" — released or not, so the
office sees its cases as soon as the pathologist records the manner. The published figures
(``forensis.statistics.homicide``, which this module delegates to) count released autopsies only, and add the
victims of homicide cases without a death record. These are aggregates: no name or number leaves this module.
"""

from __future__ import annotations

from django.db.models import QuerySet

from forensis.statistics import homicide

from .models import DeathInvestigation

#: The dimensions a homicide count may be broken down by, and the column each reads.
DIMENSIONS = homicide.DIMENSIONS


def homicide_victims(records: QuerySet[DeathInvestigation] | None = None) -> QuerySet[DeathInvestigation]:
    return homicide.homicide_death_records(records, released_only=False)


def count_homicide_victims(
    *by: str, records: QuerySet[DeathInvestigation] | None = None, month_from: str = "", month_to: str = ""
) -> dict[tuple[str, ...], int]:
    """Homicide victims per combination of ``by`` (names in ``DIMENSIONS``); months as ``YYYY-MM``, inclusive."""
    return homicide.count_death_records(
        *by, records=records, month_from=month_from, month_to=month_to, released_only=False
    )


def gender_related_killings(records: QuerySet[DeathInvestigation] | None = None) -> dict[str, int]:
    """The UNODC–UN Women framework table for female homicide victims: how many, how many gender-related,
    and how many show each relationship and each indicator (a victim may show several)."""
    return homicide.gender_related_killings(records, released_only=False)
