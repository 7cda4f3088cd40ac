"""Seed the population table with the census figures we can cite (see docs/statistics.md, "Population").

* 2022 — Statistical Institute of Belize (SIB), 2022 Population and Housing Census, "Key Findings" (press release
  of 8 April 2024, "Key Highlights of the 2022 Census"): total household population of Belize 397,483. The
  district figures of the 2022 census were not at hand when this was written: they are NOT seeded; an
  administrator enters them from the SIB's 2022 census tables (population by district).
* 2010 — SIB, Belize Population and Housing Census 2010, Country Report (2013), "Main Census Tables — Spatial
  Distribution": population by district, as reproduced in the "Districts of Belize" population table that cites
  the report. The national 2010 total is NOT seeded: the district figures add up to 322,454 while the SIB's
  2022 launch was reported (Amandala, 8 April 2024) to give 322,424 for 2010; an administrator enters the total
  from the Country Report once checked.

Existing figures are never overwritten (an administrator may already have entered them).
"""

from django.db import migrations

SIB_2022 = "SIB, 2022 Population and Housing Census, Key Findings (8 April 2024): total household population"
SIB_2010 = (
    "SIB, Belize Population and Housing Census 2010, Country Report (2013), "
    "Main Census Tables — Spatial Distribution: population by district"
)

FIGURES = [
    ("", 2022, 397_483, SIB_2022),
    ("BZ", 2010, 95_292, SIB_2010),
    ("CY", 2010, 75_046, SIB_2010),
    ("CZL", 2010, 41_061, SIB_2010),
    ("OW", 2010, 45_946, SIB_2010),
    ("SC", 2010, 34_324, SIB_2010),
    ("TOL", 2010, 30_785, SIB_2010),
]


def seed(apps, schema_editor):
    Population = apps.get_model("statistics", "Population")
    for district, year, population, source in FIGURES:
        Population.objects.get_or_create(
            district=district, year=year, defaults={"population": population, "source": source}
        )


def unseed(apps, schema_editor):
    Population = apps.get_model("statistics", "Population")
    for district, year, population, source in FIGURES:
        Population.objects.filter(district=district, year=year, population=population, source=source).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("statistics", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed, unseed),
    ]
