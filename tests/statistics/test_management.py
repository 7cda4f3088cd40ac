"""Laboratory management figures on the ``casework`` fixture: every number is counted by hand from its tables."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone

from forensis.lab.models import Discipline
from forensis.statistics import management
from forensis.statistics.filters import Filters

from .conftest import AS_OF, at

ALL = Filters()
UNTIL_JUNE = Filters(month_to="2026-06")


def rows_by(rows, key="discipline"):
    return {row[key]: row for row in rows}


# --- backlog -----------------------------------------------------------------------------------------


def test_backlog_both_definitions_per_discipline(casework):
    figures = management.backlog(ALL, as_of=AS_OF)
    rows = rows_by(figures.rows)
    # Toxicology open at AS_OF: O1 (10 days), O2 (31), O3 (30), C2 (60, cancelled later), RL (90, released later).
    assert (rows["toxicology"]["open"], rows["toxicology"]["over_30_days"]) == (5, 3)
    assert (rows["seized-drugs"]["open"], rows["seized-drugs"]["over_30_days"]) == (1, 1)
    assert (rows["firearms"]["open"], rows["firearms"]["over_30_days"]) == (2, 2)
    assert (rows["serology"]["open"], rows["serology"]["over_30_days"]) == (0, 0)  # every active discipline listed
    assert (figures.open, figures.over_30_days) == (8, 6)
    assert figures.as_of == AS_OF


def test_backlog_day_thirty_is_not_backlog_and_day_thirty_one_is(casework):
    one_second_earlier = management.backlog(Filters(discipline="toxicology"), as_of=at(2026, 6, 30, 11))
    # At 11:00 O2 is 30 days 23 hours old: 30 whole days, not yet in the NIJ backlog.
    assert one_second_earlier.rows == [{"discipline": "toxicology", "name": "Toxicology", "open": 5, "over_30_days": 2}]


def test_backlog_now_counts_what_is_still_open(casework):
    figures = management.backlog(ALL)  # now (2026-11 or later): RL released, C2 cancelled, F1 received
    rows = rows_by(figures.rows)
    assert (rows["toxicology"]["open"], rows["toxicology"]["over_30_days"]) == (4, 4)  # O1, O2, O3, F1
    assert figures.open == 7


def test_the_present_backlog_reads_the_open_requests_as_a_snapshot_taken_now_would(casework):
    """The present snapshot (partial index: neither released nor cancelled) agrees with the general condition."""
    current, ages = management.open_work(Filters())
    moment = timezone.now()
    assert Filters().is_current() and not Filters().is_current(moment)
    past, past_ages = management.open_work(Filters(), as_of=moment)
    assert current.rows == past.rows and ages.rows == past_ages.rows
    assert current.open > 0


def test_backlog_at_the_end_of_the_period(casework):
    # The period ends with June: the snapshot is taken on 1 July 00:00 (local), after C2's and RL's receipt.
    figures = management.backlog(UNTIL_JUNE)
    assert figures.as_of == at(2026, 7, 1, 0)
    assert (figures.open, figures.over_30_days) == (8, 6)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(district="CY"), (2, 2)),  # the two firearms cases
        (Filters(agency="POL-B"), (1, 1)),  # O6
        (Filters(discipline="seized-drugs"), (1, 1)),
        (Filters(discipline="firearms", district="BZ"), (0, 0)),
    ],
)
def test_backlog_filters(casework, filters, expected):
    figures = management.backlog(filters, as_of=AS_OF)
    assert (figures.open, figures.over_30_days) == expected


def test_an_unknown_filter_is_refused(casework):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        Filters.from_params({"discipline": "astrology", "agency": "NOPE", "month_from": "2026-01"})
    assert set(refused.value.message_dict) == {"discipline", "agency"}
    with pytest.raises(ValidationError) as refused:
        Filters(month_from="2026-13", district="XX")
    assert set(refused.value.message_dict) == {"month_from", "district"}
    with pytest.raises(ValidationError):
        Filters(month_from="2026-05", month_to="2026-04")
    assert Filters.from_params({"discipline": "toxicology", "month_to": " 2026-06 "}) == Filters(
        discipline="toxicology", month_to="2026-06"
    )


# --- age profile -------------------------------------------------------------------------------------


def test_age_profile_buckets(casework):
    figures = management.age_profile(ALL, as_of=AS_OF)
    rows = rows_by(figures.rows)
    assert {b: rows["toxicology"][b] for b in figures.buckets} == {
        "0-30": 2,  # O1 (10), O3 (30)
        "31-60": 2,  # O2 (31), C2 (60)
        "61-90": 1,  # RL (90)
        "91-180": 0,
        "181+": 0,
    }
    assert rows["seized-drugs"]["61-90"] == 1  # O4 (76)
    assert (rows["firearms"]["91-180"], rows["firearms"]["181+"]) == (1, 1)  # O5 (149), O6 (241)
    assert figures.totals == {"0-30": 2, "31-60": 2, "61-90": 2, "91-180": 1, "181+": 1}
    # The NIJ backlog is every bucket past 30 days.
    backlog = management.backlog(ALL, as_of=AS_OF)
    assert sum(figures.totals[b] for b in ("31-60", "61-90", "91-180", "181+")) == backlog.over_30_days
    assert sum(figures.totals.values()) == backlog.open


# --- turnaround --------------------------------------------------------------------------------------


def stage(figures, discipline, name):
    return next(row for row in figures.rows if row["discipline"] == discipline and row["stage"] == name)


def test_turnaround_median_and_90th_percentile(casework):
    figures = management.turnaround(UNTIL_JUNE)  # T1, T2, T3, S1, S2 (RL is released in July)
    total = stage(figures, "", "total")
    # Receipt → release: 6, 10, 10, 20, 40 days. Median 10; 90th percentile: rank ⌈0.9 × 5⌉ = 5 → 40.
    assert (total["count"], total["median_days"], total["p90_days"]) == (5, 10.0, 40.0)
    tox = stage(figures, "toxicology", "total")  # 10, 20, 40
    assert (tox["count"], tox["median_days"], tox["p90_days"]) == (3, 20.0, 40.0)
    drugs = stage(figures, "seized-drugs", "total")  # 6, 10: the median of two is their mean
    assert (drugs["count"], drugs["median_days"], drugs["p90_days"]) == (2, 8.0, 10.0)
    assignment = stage(figures, "toxicology", "assignment")  # 1, 3, 2
    assert (assignment["median_days"], assignment["p90_days"]) == (2.0, 3.0)
    draft = stage(figures, "", "draft")  # 5, 10, 20, 2, 4
    assert (draft["median_days"], draft["p90_days"]) == (5.0, 20.0)
    technical = stage(figures, "", "technical_review")  # 2, 4, 6, 1, 2
    assert (technical["median_days"], technical["p90_days"]) == (2.0, 6.0)
    administrative = stage(figures, "", "administrative_review")  # 1, 2, 3, 1, 1
    assert (administrative["median_days"], administrative["p90_days"]) == (1.0, 3.0)
    release = stage(figures, "", "release")  # 1, 1, 9, 1, 1
    assert (release["median_days"], release["p90_days"]) == (1.0, 9.0)
    firearms = stage(figures, "firearms", "total")  # nothing released: listed, empty
    assert (firearms["count"], firearms["median_days"], firearms["p90_days"]) == (0, None, None)
    assert [s["stage"] for s in figures.stages] == [
        "assignment",
        "draft",
        "technical_review",
        "administrative_review",
        "release",
        "total",
    ]


def test_turnaround_selects_by_month_of_release(casework):
    spring = management.turnaround(Filters(month_from="2026-02", month_to="2026-03"))  # T2, T3, S2
    assert stage(spring, "", "total")["count"] == 3
    assert (stage(spring, "", "total")["median_days"], stage(spring, "", "total")["p90_days"]) == (20.0, 40.0)
    everything = management.turnaround(ALL)  # with RL: 6, 10, 10, 20, 40, 100
    total = stage(everything, "", "total")
    assert (total["count"], total["median_days"], total["p90_days"]) == (6, 15.0, 100.0)
    assert [row["discipline"] for row in management.turnaround(Filters(discipline="toxicology")).rows][::6] == [
        "",
        "toxicology",
    ]


# --- throughput --------------------------------------------------------------------------------------


def test_throughput_per_analyst_and_month(casework):
    figures = management.throughput(UNTIL_JUNE)
    assert [(row["analyst"], row["month"], row["released"]) for row in figures.rows] == [
        ("Andre Flowers", "2026-01", 1),
        ("Andre Flowers", "2026-02", 1),
        ("Bella Young", "2026-01", 1),
        ("Bella Young", "2026-03", 2),
    ]
    assert figures.months == ["2026-01", "2026-02", "2026-03"]
    assert [(row["analyst"], row["released"]) for row in figures.per_analyst()] == [
        ("Bella Young", 3),
        ("Andre Flowers", 2),
    ]
    july = management.throughput(Filters(month_from="2026-07"))
    assert [(row["analyst"], row["month"], row["released"]) for row in july.rows] == [("Andre Flowers", "2026-07", 1)]


# --- court dates ---------------------------------------------------------------------------------------


def test_court_dates_at_risk(casework):
    figures = management.court_dates_at_risk(ALL, within_days=14, as_of=AS_OF)
    assert (figures.today, figures.until) == (date(2026, 6, 30), date(2026, 7, 14))
    # O4 (today), O5 (10 days), C2 (14 days, still open then); not O6 (20 days) nor T1 (released).
    assert [(r["lab_number"], r["days_left"]) for r in figures.requests] == [
        (casework.requests["O4"].case.lab_number, 0),
        (casework.requests["O5"].case.lab_number, 10),
        (casework.requests["C2"].case.lab_number, 14),
    ]
    assert [(row["discipline"], row["requests"]) for row in figures.rows] == [
        ("firearms", 1),
        ("seized-drugs", 1),
        ("toxicology", 1),
    ]
    assert figures.requests[0]["analyst"] == "Andre Flowers"
    assert management.court_dates_at_risk(Filters(district="CY"), within_days=30, as_of=AS_OF).rows == [
        {"discipline": "firearms", "name": "Firearms", "requests": 2}
    ]
    assert management.court_dates_at_risk(ALL, within_days=14).requests == []  # now: all those dates have passed


# --- outsourcing ---------------------------------------------------------------------------------------


def test_outsourcing_turnaround_per_laboratory(shipments):
    figures = management.outsourcing_turnaround(Filters(), as_of=AS_OF)
    assert figures.rows == [
        {
            "laboratory": "Bode",
            "returned": 3,
            "median_days": 49.0,  # 42, 49, 56
            "p90_days": 56.0,
            "out_now": 1,
            "longest_out_days": 29.0,
        },
        {
            "laboratory": "Other Lab",
            "returned": 1,
            "median_days": 70.0,
            "p90_days": 70.0,
            "out_now": 0,
            "longest_out_days": None,
        },
    ]
    # Returned in April only: Bode's second (1 March + 56 days = 26 April).
    april = management.outsourcing_turnaround(Filters(month_from="2026-04", month_to="2026-04"), as_of=AS_OF)
    assert [(r["laboratory"], r["returned"], r["median_days"]) for r in april.rows] == [("Bode", 1, 56.0)]
    # Only the first shipment holds an item of a Cayo case.
    cayo = management.outsourcing_turnaround(Filters(district="CY"), as_of=AS_OF)
    assert [(r["laboratory"], r["returned"], r["median_days"]) for r in cayo.rows] == [("Bode", 1, 42.0)]


# --- released work through the services --------------------------------------------------------------


def test_release_through_the_services_stores_the_month_and_counts(make_user, officer):
    from forensis.lab import services as lab_services
    from forensis.statistics.filters import month_of
    from tests.lab.test_review_services import Lab

    lab = Lab(make_user, officer)
    lab.administratively_reviewed()
    lab_services.release(lab.manager, lab.request, reauthenticated=True)
    request = lab.reload()
    assert request.released_month == month_of(request.released_at)
    figures = management.throughput(Filters(month_from=request.released_month, discipline="toxicology"))
    assert [(row["analyst"], row["released"]) for row in figures.rows] == [("Andre Flowers", 1)]
    assert stage(management.turnaround(Filters(discipline="toxicology")), "toxicology", "total")["count"] == 1
    assert Discipline.objects.get(code="toxicology").requests.count() == 1
