"""Policy figures on known records: homicide victims from death records and cases (new and migrated), rates per
100,000, the gender-related table, sexual violence, firearm cases and seized drugs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from forensis.evidence import services as evidence_services
from forensis.lab.models import Examination, Method, RequestStatus, Result, ServiceRequest
from forensis.statistics import homicide, policy
from forensis.statistics.filters import Filters, month_of
from forensis.statistics.services import set_population

from .conftest import at, legacy_case, new_case

ALL = Filters()


def table(rows, key):
    return {row[key]: row["victims"] for row in rows}


# --- homicide victims --------------------------------------------------------------------------------


def test_homicide_victims_by_source(homicides):
    figures = homicide.homicide_victims(ALL)
    # Death records D1, D2, D3, D6 (released homicides); cases K1 (1), K2 (2), K5 (1).
    assert (figures.death_records, figures.cases, figures.total) == (4, 4, 8)


def test_homicide_victims_by_sex_age_mechanism_district_month(homicides):
    by = homicide.homicide_victims(ALL).by
    assert table(by["sex"], "sex") == {"F": 2, "M": 4, "U": 2}
    assert table(by["age_group"], "age_group") == {
        "0-14": 0,
        "15-29": 3,  # D1 (27), D3 (20–25), the girl of K2 (16)
        "30-44": 2,  # D2 (34), K1 (40)
        "45-59": 0,
        "60+": 1,  # K5 (70)
        "unknown": 2,  # D6, the man of K2
    }
    assert table(by["mechanism"], "mechanism") == {
        "firearm": 3,
        "sharp_object": 1,
        "blunt_object": 0,
        "strangulation": 0,
        "poisoning": 0,
        "burns": 0,
        "drowning": 0,
        "other": 0,
        "unknown": 4,  # the victims counted from cases have no autopsy
    }
    assert table(by["district"], "district") == {
        "BZ": 5,
        "CY": 2,
        "OW": 0,  # D4's autopsy is not released
        "CZL": 0,
        "SC": 0,
        "TOL": 0,  # K3 has no victim recorded
        "unknown": 1,  # K5
    }
    assert table(by["month"], "month") == {"2026-01": 3, "2026-02": 2, "2026-03": 2, "2026-04": 1}
    assert [(r["death_records"], r["cases"]) for r in by["month"]] == [(2, 1), (1, 1), (0, 2), (1, 0)]


def test_homicide_victims_by_sex_and_age_group(homicides):
    crossed = {
        (row["sex"], row["age_group"]): row["victims"]
        for row in homicide.homicide_victims(ALL).by_sex_and_age_group
        if row["victims"]
    }
    assert crossed == {
        ("F", "15-29"): 2,
        ("M", "15-29"): 1,
        ("M", "30-44"): 2,
        ("M", "unknown"): 1,
        ("U", "unknown"): 1,
        ("U", "60+"): 1,
    }


def test_homicide_quality_notes(homicides):
    assert homicide.homicide_victims(ALL).quality == {
        "victims": 8,
        "unknown_sex": 2,
        "unknown_age_group": 2,
        "unknown_mechanism": 4,
        "unknown_district": 1,
        "migrated": 2,  # K1, K5
        "migrated_share": 25.0,
        "unreleased_autopsies": 1,  # D4
        "cases_without_victim": 1,  # K3
    }


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(month_from="2026-02", month_to="2026-03"), {"death_records": 1, "cases": 3}),  # D3; K1, K2 ×2
        (Filters(district="BZ"), {"death_records": 3, "cases": 2}),  # D1, D2, D6; K2 ×2
        (Filters(month_to="2026-01"), {"death_records": 2, "cases": 1}),  # D1, D2; K5
        (Filters(month_from="2026-05"), {"death_records": 0, "cases": 0}),
    ],
)
def test_homicide_filters(homicides, filters, expected):
    figures = homicide.homicide_victims(filters)
    assert {"death_records": figures.death_records, "cases": figures.cases} == expected


def test_a_month_filter_lists_every_month_of_the_period(homicides):
    rows = homicide.homicide_victims(Filters(month_from="2025-12", month_to="2026-02")).by["month"]
    assert table(rows, "month") == {"2025-12": 0, "2026-01": 3, "2026-02": 2}


def test_an_autopsy_counts_once_released_through_the_services(homicides):
    morgue = homicides.morgue
    morgue.logged(agency_case_number="BZ-STAT-RELEASE", sex="M", age=45, death_at=at(2026, 4, 2), **_no_context())
    morgue.recorded(mechanism="blunt_object")
    assert homicide.homicide_victims(ALL).total == 8  # recorded, not released
    assert homicide.homicide_victims(ALL).quality["unreleased_autopsies"] == 2
    request = morgue.released()
    assert request.released_month == month_of(request.released_at)
    figures = homicide.homicide_victims(ALL)
    assert (figures.total, table(figures.by["mechanism"], "mechanism")["blunt_object"]) == (9, 1)
    # The medical examiner's working view (deaths.statistics) counted it as soon as it was recorded.
    from forensis.deaths.statistics import count_homicide_victims

    assert count_homicide_victims() == {(): 6}  # D1–D4, D6 and this one: D4 is recorded, not released
    assert homicide.count_death_records() == {(): 5}  # released only: D1, D2, D3, D6 and this one


def _no_context():
    return {"relationship": "unknown", "prior_violence": "unknown", "discovered_at": at(2026, 4, 2, 15)}


def test_the_gender_related_table(homicides):
    rows = {row["variable"]: row["victims"] for row in homicide.gender_related_table(ALL)}
    # Female victims of released autopsies: D1 only (killed by her partner); D4 is not released.
    assert (rows["female_victims"], rows["gender_related"]) == (1, 1)
    assert rows["relationship:intimate_partner"] == 1
    assert rows["prior_violence"] == 1  # the Morgue helper records prior violence "yes" for D1
    assert rows["sexual_violence"] == 0


# --- rates per 100,000 -------------------------------------------------------------------------------


def test_rates_per_100000_and_missing_population(homicides, statistics_admin):
    set_population(statistics_admin, district="", year=2026, population=400_000)
    set_population(statistics_admin, district="BZ", year=2026, population=125_000)
    set_population(statistics_admin, district="CY", year=2026, population=100_000)
    rates = homicide.homicide_rates(ALL)
    rows = {row["district"]: row for row in rates.rows}
    assert (rows[""]["victims"], rows[""]["population"], rows[""]["rate"]) == (8, 400_000, 2.0)
    assert (rows["BZ"]["victims"], rows["BZ"]["rate"]) == (5, 4.0)
    assert (rows["CY"]["victims"], rows["CY"]["rate"]) == (2, 2.0)
    # No population figure for Orange Walk in 2026: no rate, flagged.
    assert (rows["OW"]["victims"], rows["OW"]["rate"], rows["OW"]["population_missing"]) == (0, None, True)
    assert rows["BZ"]["population_missing"] is False
    assert sorted(rates.missing) == [("CZL", 2026), ("OW", 2026), ("SC", 2026), ("TOL", 2026)]
    assert rates.unknown_district == {2026: 1}  # K5 counts in the country's rate only
    assert all(row["partial_year"] for row in rates.rows)  # 2026 is not over (nor covered by a period)


def test_a_rate_for_a_whole_past_year_is_annual(homicides, statistics_admin):
    set_population(statistics_admin, district="", year=2025, population=410_000)
    rates = homicide.homicide_rates(Filters(month_from="2025-01", month_to="2025-12"))
    national = next(row for row in rates.rows if row["district"] == "")
    assert (national["year"], national["victims"], national["rate"], national["partial_year"]) == (2025, 0, 0.0, False)
    one_district = homicide.homicide_rates(Filters(month_from="2026-01", month_to="2026-03", district="CY"))
    assert [(r["district"], r["victims"], r["rate"], r["partial_year"]) for r in one_district.rows] == [
        ("CY", 2, None, True)
    ]


# --- sexual violence ---------------------------------------------------------------------------------


@pytest.fixture
def sexual_violence_cases(casework_actor, police):
    actor = casework_actor
    new_case(
        actor,
        police,
        "SV1",
        received=at(2026, 2, 3),
        district="BZ",
        codes=["03011"],
        people=[("victim", "F", 12), ("victim", "F", 25), ("suspect", "M", 30)],
    )
    legacy_case(
        actor, police, "SV2", received=at(2026, 3, 4), district="CY", codes=["0301"], people=[("victim", "F", None)]
    )
    new_case(
        actor,
        police,
        "SV3",
        received=at(2026, 3, 8),
        district="BZ",
        codes=["03011", "03012"],
        people=[("victim", "M", 15)],
    )
    new_case(actor, police, "SV4", received=at(2026, 4, 1), district="", codes=["0301"])
    new_case(actor, police, "SV5", received=at(2026, 4, 2), district="BZ", codes=["0201"], people=[("victim", "F", 30)])


@pytest.fixture
def casework_actor(make_user):
    from forensis.accounts.roles import Role

    return make_user(Role.EVIDENCE_CUSTODIAN, username="stats.policy")


def test_sexual_violence_by_victim_sex_and_age_group(sexual_violence_cases):
    figures = policy.sexual_violence(ALL)
    assert (figures.cases, figures.victims) == (4, 4)  # SV3's two codes count once; SV5 is an assault
    assert table(figures.by_sex, "sex") == {"F": 3, "M": 1, "U": 0}
    assert table(figures.by_age_group, "age_group") == {
        "0-14": 1,
        "15-29": 2,
        "30-44": 0,
        "45-59": 0,
        "60+": 0,
        "unknown": 1,
    }
    crossed = {(r["sex"], r["age_group"]): r["victims"] for r in figures.by_sex_and_age_group if r["victims"]}
    assert crossed == {("F", "0-14"): 1, ("F", "15-29"): 1, ("F", "unknown"): 1, ("M", "15-29"): 1}
    assert {r["month"]: r["cases"] for r in figures.cases_by_month} == {"2026-02": 1, "2026-03": 2, "2026-04": 1}
    assert {r["district"]: r["cases"] for r in figures.cases_by_district if r["cases"]} == {
        "BZ": 2,
        "CY": 1,
        "unknown": 1,
    }
    assert figures.quality == {
        "cases": 4,
        "victims": 4,
        "cases_without_victim": 1,
        "unknown_sex": 0,
        "unknown_age_group": 1,
        "unknown_district": 1,
        "migrated": 1,
        "migrated_share": 25.0,
    }
    march = policy.sexual_violence(Filters(month_from="2026-03", month_to="2026-03", district="BZ"))
    assert (march.cases, march.victims) == (1, 1)


# --- firearm cases -----------------------------------------------------------------------------------


def test_firearm_cases(casework_actor, police):
    actor = casework_actor
    new_case(actor, police, "FA1", received=at(2026, 1, 5), district="BZ", codes=["0901"])
    both = new_case(actor, police, "FA2", received=at(2026, 2, 5), district="CY", codes=["09011"])
    item_only = new_case(actor, police, "FA3", received=at(2026, 2, 6), district="BZ", codes=["0401"])
    casings = new_case(actor, police, "FA4", received=at(2026, 2, 7), district="BZ", codes=["0401"])
    legacy_case(actor, police, "FA5", received=at(2026, 3, 1), district="", codes=["0901"])
    for case, kind in ((both, "firearm"), (item_only, "firearm"), (item_only, "firearm"), (casings, "cartridge_case")):
        evidence_services.create_item(actor, case, received_at=case.received_at, type=kind, description=kind)
    figures = policy.firearm_cases(ALL)
    assert figures.cases == 4  # FA3's two pistols count once; FA4 has only cartridge cases
    assert {r["source"]: r["cases"] for r in figures.by_source} == {"offence": 2, "item": 1, "both": 1}
    assert {r["district"]: r["cases"] for r in figures.by_district if r["cases"]} == {"BZ": 2, "CY": 1, "unknown": 1}
    assert {r["month"]: r["cases"] for r in figures.by_month} == {"2026-01": 1, "2026-02": 2, "2026-03": 1}
    assert figures.quality == {"cases": 4, "unknown_district": 1, "migrated": 1, "migrated_share": 25.0}
    assert policy.firearm_cases(Filters(month_from="2026-02", district="BZ")).cases == 1


# --- seized drugs ------------------------------------------------------------------------------------


def test_seized_drugs_by_substance_and_weight(casework_actor, police, make_user):
    from forensis.accounts.roles import Role
    from forensis.cases import services as case_services
    from forensis.lab import services as lab_services
    from forensis.lab.models import Discipline

    actor = casework_actor
    analyst = make_user(Role.ANALYST, username="stats.chemist")
    drugs = Discipline.objects.get(code="seized-drugs")
    method = Method.objects.create(
        discipline=drugs, code="SD-GCMS", name="GC-MS", version="1", effective_from=at(2025, 1, 1).date()
    )

    received = at(2026, 2, 1)

    def analysed(number, amount, unit, results, *, released):
        case = new_case(actor, police, number, received=received, district="BZ", codes=["06012"])
        item = evidence_services.create_item(
            actor,
            case,
            received_at=received,
            type="seized_drugs",
            description="Powder",
            amount_received=amount,
            amount_unit=unit,
        )
        request = lab_services.create_service_request(actor, case, drugs, [item], requested_at=received)
        examination = Examination.objects.create(request=request, analyst=analyst, method=method, started_at=received)
        for version, data in enumerate(results, start=1):
            Result.objects.create(
                examination=examination,
                item=item,
                data=data,
                version=version,
                is_current=version == len(results),
                recorded_by=analyst,
                recorded_at=received,
            )
        if released:
            when = received + timedelta(days=10)
            ServiceRequest.objects.filter(pk=request.pk).update(
                status=RequestStatus.RELEASED, released_at=when, released_month=case_services.lab_month(when)
            )
        return case

    cocaine = {"substance": "Cocaine", "net_weight": "9.5", "weight_unit": "g"}
    analysed("D1", Decimal("10"), "g", [cocaine], released=True)
    analysed(
        "D2", Decimal("2"), "kg", [{"substance": " cocaine ", "net_weight": "1.95", "weight_unit": "kg"}], released=True
    )
    # A corrected result: only the current version counts (the first said heroin).
    analysed(
        "D3",
        Decimal("1.2"),
        "g",
        [{"substance": "Heroin", "net_weight": "1.1", "weight_unit": "g"}, {**cocaine, "net_weight": "1"}],
        released=True,
    )
    analysed(
        "D4", Decimal("600"), "mg", [{"substance": "Cannabis", "net_weight": "500", "weight_unit": "mg"}], released=True
    )
    analysed(
        "D5", Decimal("5"), "units", [{"substance": "MDMA", "net_weight": "1.5", "weight_unit": "g"}], released=False
    )
    legacy_case(actor, police, "D6", received=at(2026, 2, 1), district="BZ", codes=["0601"])
    from forensis.cases.models import Case
    from forensis.evidence.models import Item

    legacy = Case.objects.get(legacy_id="D6")
    Item.objects.create(
        case=legacy,
        number=1,
        label="OLD-D6/01",
        type="seized_drugs",
        description="Bag",
        received_at=legacy.received_at,
        legacy_source="oldlims",
        legacy_id="D6-1",
    )

    figures = policy.seized_drugs(ALL)
    assert figures.by_substance == [
        {"substance": "Cocaine", "items": 3, "net_weight_g": 1960.5},  # 9.5 g + 1.95 kg + 1 g
        {"substance": "Cannabis", "items": 1, "net_weight_g": 0.5},
    ]
    # As received: D1–D5 and the legacy bag; 10 g + 2 kg + 1.2 g + 600 mg weighed, 5 units, one without amount.
    assert figures.received == {"items": 6, "weighed_items": 4, "weight_g": 2011.8, "other_units": 1}
    assert figures.quality == {
        "results_without_weight": 0,
        "items_without_amount": 1,
        "items_in_other_units": 1,
        "migrated_items": 1,
        "migrated_share": 16.7,
    }
    assert policy.seized_drugs(Filters(month_from="2026-03")).by_substance == []
