"""Homicide victims counted from death records (SDG 16.1.1) and the gender-related killing table (SDG 5), on a
known set of deaths made through the services: every number below is counted by hand from ``DEATHS``."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from forensis.deaths import services
from forensis.deaths.models import DeathInvestigation
from forensis.deaths.statistics import count_homicide_victims, gender_related_killings, homicide_victims


def _at(month: int, day: int) -> datetime:
    return timezone.make_aware(datetime(2026, month, day, 14, 30))


NO_CONTEXT = {"relationship": "unknown", "prior_violence": "unknown"}

#: (what is logged, what the autopsy records; None: no autopsy yet). Homicides are 1, 2, 3, 4, 5 and 9.
DEATHS = [
    # 1. woman killed by her partner (gender-related), Belize, January, firearm
    ({"sex": "F", "age": 27, "district": "BZ", "death_at": _at(1, 10), "relationship": "intimate_partner"}, "firearm"),
    # 2. man, 34, Belize, January, firearm
    ({"sex": "M", "age": 34, "district": "BZ", "death_at": _at(1, 20), **NO_CONTEXT}, "firearm"),
    # 3. man, estimated 20–25 (one group: 15–29), Cayo, February, sharp object
    (
        {"sex": "M", "age": None, "age_min": 20, "age_max": 25, "district": "CY", "death_at": _at(2, 5), **NO_CONTEXT},
        "sharp_object",
    ),
    # 4. woman, estimated 25–35 (two groups: unknown), Cayo, March, strangled by a stranger after sexual violence
    (
        {
            "sex": "F",
            "age": None,
            "age_min": 25,
            "age_max": 35,
            "district": "CY",
            "death_at": _at(3, 2),
            "relationship": "stranger",
            "prior_violence": "unknown",
            "sexual_violence": "yes",
            "body_disposed_in_public": "yes",
        },
        "strangulation",
    ),
    # 5. woman, 50, Orange Walk, March (the 31st), blunt object, an acquaintance, no indicator: not gender-related
    (
        {
            "sex": "F",
            "age": 50,
            "district": "OW",
            "death_at": _at(3, 31),
            "relationship": "acquaintance",
            "prior_violence": "no",
        },
        "blunt_object",
    ),
    # 6. man, 61, Belize, February, natural death: not counted
    ({"sex": "M", "age": 61, "district": "BZ", "death_at": _at(2, 14), **NO_CONTEXT}, {"manner": "natural"}),
    # 7. woman, 40, Belize, February, suicide: not counted (nor in the women's table)
    (
        {"sex": "F", "age": 40, "district": "BZ", "death_at": _at(2, 20), "relationship": "intimate_partner"},
        {"manner": "suicide", "mechanism": "strangulation"},
    ),
    # 8. man, 19, Cayo, April, manner pending investigation: not counted
    ({"sex": "M", "age": 19, "district": "CY", "death_at": _at(4, 1), **NO_CONTEXT}, {"manner": "pending"}),
    # 9. unidentified, sex and age unknown, Belize, April (time of death unknown: the month of discovery), firearm
    (
        {
            "identified": False,
            "decedent_name": "",
            "tag_number": "T-2026-77",
            "sex": "U",
            "age": None,
            "district": "BZ",
            "death_at": None,
            "discovered_at": _at(4, 18),
            **NO_CONTEXT,
        },
        "firearm",
    ),
    # 10. woman, 22, Toledo, April, killed by her former partner, but no autopsy yet: not counted
    ({"sex": "F", "age": 22, "district": "TOL", "death_at": _at(4, 25), "relationship": "former_partner"}, None),
]


@pytest.fixture
def deaths(morgue) -> list[DeathInvestigation]:
    made = []
    for number, (logged, autopsy) in enumerate(DEATHS, start=1):
        fields = {"agency_case_number": f"BZ-STAT-{number:03d}", "decedent_name": f"Victim {number}", **logged}
        if fields.get("death_at") is not None:
            fields.setdefault("discovered_at", fields["death_at"] + timedelta(hours=3))
        if fields["sex"] != "F":
            fields["pregnancy"] = "unknown"
        morgue.logged(**fields)
        if isinstance(autopsy, str):
            morgue.recorded(mechanism=autopsy)
        elif autopsy is not None:
            natural = {"underlying_cause": "Acute myocardial infarction", "underlying_icd10": "I21"}
            morgue.recorded(**{"mechanism": "", **autopsy, **(natural if autopsy["manner"] == "natural" else {})})
        made.append(morgue.reload())
    return made


def test_the_fixture_is_what_the_numbers_below_assume(deaths):
    assert len(deaths) == 10
    assert [d.age_group for d in deaths] == [
        "15-29",
        "30-44",
        "15-29",
        "unknown",
        "45-59",
        "60+",
        "30-44",
        "15-29",
        "unknown",
        "15-29",
    ]
    assert [d.month for d in deaths] == [
        "2026-01",
        "2026-01",
        "2026-02",
        "2026-03",
        "2026-03",
        "2026-02",
        "2026-02",
        "2026-04",
        "2026-04",
        "2026-04",
    ]
    assert sorted(homicide_victims().values_list("pk", flat=True)) == [deaths[i - 1].pk for i in (1, 2, 3, 4, 5, 9)]


def test_victims_by_sex(deaths):
    assert count_homicide_victims("sex") == {("F",): 3, ("M",): 2, ("U",): 1}


def test_victims_by_age_group(deaths):
    assert count_homicide_victims("age_group") == {("15-29",): 2, ("30-44",): 1, ("45-59",): 1, ("unknown",): 2}


def test_victims_by_mechanism(deaths):
    assert count_homicide_victims("mechanism") == {
        ("blunt_object",): 1,
        ("firearm",): 3,
        ("sharp_object",): 1,
        ("strangulation",): 1,
    }


def test_victims_by_district(deaths):
    assert count_homicide_victims("district") == {("BZ",): 3, ("CY",): 2, ("OW",): 1}


def test_victims_by_month(deaths):
    assert count_homicide_victims("month") == {("2026-01",): 2, ("2026-02",): 1, ("2026-03",): 2, ("2026-04",): 1}


def test_victims_by_a_combination(deaths):
    assert count_homicide_victims("sex", "mechanism") == {
        ("F", "blunt_object"): 1,
        ("F", "firearm"): 1,
        ("F", "strangulation"): 1,
        ("M", "firearm"): 1,
        ("M", "sharp_object"): 1,
        ("U", "firearm"): 1,
    }
    assert count_homicide_victims("district", "sex", "age_group") == {
        ("BZ", "F", "15-29"): 1,
        ("BZ", "M", "30-44"): 1,
        ("BZ", "U", "unknown"): 1,
        ("CY", "F", "unknown"): 1,
        ("CY", "M", "15-29"): 1,
        ("OW", "F", "45-59"): 1,
    }


def test_the_total_without_a_breakdown(deaths):
    assert count_homicide_victims() == {(): 6}
    assert count_homicide_victims(month_from="2026-03") == {(): 3}


def test_month_filters_are_inclusive(deaths):
    assert count_homicide_victims("sex", month_from="2026-02", month_to="2026-03") == {("F",): 2, ("M",): 1}
    assert count_homicide_victims("month", month_from="2026-03") == {("2026-03",): 2, ("2026-04",): 1}
    assert count_homicide_victims("month", month_to="2026-01") == {("2026-01",): 2}
    assert count_homicide_victims("month", month_from="2026-05") == {}


def test_records_narrow_the_count(deaths):
    cayo = DeathInvestigation.objects.filter(district="CY")
    assert count_homicide_victims("sex", records=cayo) == {("F",): 1, ("M",): 1}


def test_an_unknown_dimension_is_refused(db):
    with pytest.raises(ValueError, match=r"Unknown dimension\(s\) \['name'\]"):
        count_homicide_victims("sex", "name")


def test_gender_related_killings(deaths):
    assert gender_related_killings() == {
        "female_victims": 3,
        "gender_related": 2,  # 1 (intimate partner) and 4 (sexual violence); not 5
        "prior_violence": 1,  # the logging default for 1 ("yes"); 5 says "no"
        "sexual_violence": 1,
        "mutilation": 0,
        "body_disposed_in_public": 1,
        "illegal_exploitation": 0,
        "deprived_of_liberty": 0,
        "sex_work": 0,
        "gender_hate_motive": 0,
        "relationship:acquaintance": 1,
        "relationship:intimate_partner": 1,
        "relationship:stranger": 1,
    }
    assert [d.gender_related for d in DeathInvestigation.objects.filter(sex="F").order_by("pk")] == [
        True,  # 1
        True,  # 4
        False,  # 5
        None,  # 7: suicide
        None,  # 10: no autopsy
    ]


def test_gender_related_killings_follow_a_correction(deaths, morgue):
    fifth = deaths[4]
    services.update_investigation(morgue.pathologist, fifth, gender_hate_motive="yes")
    table = gender_related_killings()
    assert (table["gender_related"], table["gender_hate_motive"]) == (3, 1)
    cayo = gender_related_killings(DeathInvestigation.objects.filter(district="CY"))
    assert (cayo["female_victims"], cayo["gender_related"], cayo["relationship:stranger"]) == (1, 1, 1)
    assert "relationship:acquaintance" not in cayo


def test_no_victims_counts_nothing(db):
    assert count_homicide_victims("sex") == {}
    assert count_homicide_victims() == {}
    table = gender_related_killings()
    assert (table["female_victims"], table["gender_related"]) == (0, 0)
