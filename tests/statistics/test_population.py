"""The population table: the seeded census figures, and the administrators' audited service to set a figure."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from forensis.statistics.models import Population
from forensis.statistics.services import set_population


def figures():
    return {(p.district, p.year): p.population for p in Population.objects.all()}


def test_the_census_figures_are_seeded(db):
    seeded = figures()
    assert seeded[("", 2022)] == 397_483  # SIB, 2022 census key findings
    assert {district: seeded[(district, 2010)] for district in ("BZ", "CY", "CZL", "OW", "SC", "TOL")} == {
        "BZ": 95_292,
        "CY": 75_046,
        "CZL": 41_061,
        "OW": 45_946,
        "SC": 34_324,
        "TOL": 30_785,
    }
    assert all(p.source.startswith("SIB") for p in Population.objects.all())


def test_an_administrator_sets_a_figure_and_it_is_audited(statistics_admin):
    figure = set_population(
        statistics_admin, district="CY", year="2026", population="104500", source="SIB mid-year estimate 2026"
    )
    assert (figure.district, figure.year, figure.population) == ("CY", 2026, 104_500)
    event = AuditEvent.objects.get(action="population.set")
    assert event.actor_username == "stats.admin"
    assert event.before is None
    assert event.after == {"district": "CY", "year": 2026, "population": 104500, "source": "SIB mid-year estimate 2026"}

    set_population(statistics_admin, district="CY", year=2026, population=105_000, reason="Revised estimate")
    assert figures()[("CY", 2026)] == 105_000
    change = AuditEvent.objects.filter(action="population.set").order_by("pk").last()
    assert change.before == {"population": 104500, "source": "SIB mid-year estimate 2026"}
    assert change.after["population"] == 105_000
    assert change.reason == "Revised estimate"

    # The same figure again changes nothing and logs nothing.
    set_population(statistics_admin, district="CY", year=2026, population=105_000)
    assert AuditEvent.objects.filter(action="population.set").count() == 2

    # The whole country is the blank district.
    set_population(statistics_admin, district="", year=2026, population=420_000)
    assert figures()[("", 2026)] == 420_000


@pytest.mark.parametrize(
    ("arguments", "fields"),
    [
        ({"population": 0}, {"population"}),
        ({"population": -5}, {"population"}),
        ({"population": "many"}, {"population"}),
        ({"population": 100_000_001}, {"population"}),
        ({"year": 1899}, {"year"}),
        ({"year": 2101}, {"year"}),
        ({"year": "20x6"}, {"year"}),
        ({"district": "XX"}, {"district"}),
        ({"district": "XX", "year": 1800, "population": 0}, {"district", "year", "population"}),
    ],
)
def test_invalid_figures_are_refused_and_nothing_is_written(statistics_admin, arguments, fields):
    before = figures()
    with pytest.raises(ValidationError) as refused:
        set_population(statistics_admin, **{"district": "BZ", "year": 2026, "population": 130_000, **arguments})
    assert set(refused.value.message_dict) == fields
    assert figures() == before
    assert not AuditEvent.objects.filter(action="population.set").exists()


def test_only_holders_of_the_permission_may_set_a_figure(make_user):
    before = figures()
    for role in (Role.STATISTICIAN, Role.LAB_MANAGER, Role.ANALYST):
        with pytest.raises(PermissionDenied):
            set_population(make_user(role), district="BZ", year=2026, population=130_000)
    assert figures() == before
