"""Laboratory management figures: backlog, turnaround per stage, throughput, age of open work, outsourcing and
court dates at risk.

Every function takes a ``Filters`` and returns plain data (dataclasses and lists of dicts) for a chart and the
table beneath it. They read every agency's requests (aggregates: a statistician sees no case), so callers that
show the court-date list (which names cases) must restrict it to laboratory staff.

The moment a request is *received* is its ``requested_at``: the request is created when its items are received
(``intake.services.receive_submission``, ``deaths.body_custody.receive_body``), or when a follow-up request is
raised. A request is *open* at a moment when it was received by then and neither released nor cancelled by then;
it is *completed* once released (a later amendment does not reopen it for these figures). Ages are counted in
whole days (24-hour periods) since receipt. The definitions are in docs/statistics.md.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, F, FloatField, Func, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from forensis.accounts.models import Agency
from forensis.evidence.models import Item, Shipment
from forensis.lab.models import Discipline, RequestStatus, ServiceRequest

from .filters import Filters
from .numbers import SECONDS_PER_DAY, days, median, nearest_rank, rounded

#: The NIJ definition: a request not completed within this many days of receipt is backlogged.
NIJ_DAYS = 30

#: The age buckets of open work, in whole days since receipt: (code, first day, last day or None).
AGE_BUCKETS = (
    ("0-30", 0, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91-180", 91, 180),
    ("181+", 181, None),
)

#: The stages of turnaround: (code, label, from timestamp, to timestamp). "total" is receipt to release.
STAGES = (
    ("assignment", _("Receipt → assignment"), "requested_at", "assigned_at"),
    ("draft", _("Assignment → draft completed"), "assigned_at", "draft_completed_at"),
    ("technical_review", _("Draft → technical review"), "draft_completed_at", "technical_reviewed_at"),
    (
        "administrative_review",
        _("Technical → administrative review"),
        "technical_reviewed_at",
        "administrative_reviewed_at",
    ),
    ("release", _("Administrative review → release"), "administrative_reviewed_at", "released_at"),
    ("total", _("Receipt → release"), "requested_at", "released_at"),
)

#: The percentile reported beside the median (nearest-rank).
PERCENTILE = 90


def requests(filters: Filters) -> QuerySet[ServiceRequest]:
    """Every request the discipline, district (of the case) and agency (of the case) filters select, unordered.

    The discipline and agency are looked up first and compared by key: a join on their codes makes PostgreSQL
    misjudge how many rows match and loop over every case of the agency."""
    selected = ServiceRequest.objects.all()
    if filters.discipline:
        selected = selected.filter(discipline_id=_key(Discipline, filters.discipline))
    if filters.district:
        selected = selected.filter(case__district=filters.district)
    if filters.agency:
        selected = selected.filter(case__agency_id=_key(Agency, filters.agency))
    return selected.order_by()


def _key(model, code: str) -> int | None:
    return model.objects.filter(code=code).values_list("pk", flat=True).first()


def open_at(moment: datetime, *, current: bool = False) -> Q:
    """Requests received by ``moment`` and neither released nor cancelled by then.

    ``current``: the snapshot is of the present, so nothing was released or cancelled after it, and the
    condition is the one the partial index ``lab_request_open_idx`` holds (neither released nor cancelled),
    which reads the open requests only."""
    if current:
        return Q(released_at__isnull=True, cancelled_at__isnull=True)
    return (
        Q(requested_at__lte=moment)
        & (Q(released_at__isnull=True) | Q(released_at__gt=moment))
        & (Q(cancelled_at__isnull=True) | Q(cancelled_at__gt=moment))
    )


def older_than(moment: datetime, whole_days: int) -> Q:
    """Requests at least ``whole_days`` whole days old at ``moment``."""
    return Q(requested_at__lte=moment - timedelta(days=whole_days))


def _disciplines(filters: Filters, counted: set[int]) -> list[Discipline]:
    """The disciplines a per-discipline table lists: the chosen one, or every active one and any other counted."""
    if filters.discipline:
        return list(Discipline.objects.filter(code=filters.discipline))
    return [d for d in Discipline.objects.order_by("name") if d.is_active or d.pk in counted]


# --- backlog ---------------------------------------------------------------------------------------


@dataclass
class Backlog:
    """The backlog at ``as_of`` under both definitions, per discipline.

    ``open``: requests without a released report (received, not released, not cancelled).
    ``over_30_days``: the NIJ backlog, those of them more than 30 whole days past receipt.
    """

    as_of: datetime
    rows: list[dict] = field(default_factory=list)

    @property
    def open(self) -> int:
        return sum(row["open"] for row in self.rows)

    @property
    def over_30_days(self) -> int:
        return sum(row["over_30_days"] for row in self.rows)


def _open_counts(filters: Filters, moment: datetime, *, current: bool) -> dict[int, dict]:
    """Per discipline, the requests open at ``moment``: in all, over 30 days, and per age bucket — one query for
    the backlog and the age profile together."""
    annotations = {"open": Count("pk"), "over_30_days": Count("pk", filter=older_than(moment, NIJ_DAYS + 1))}
    for code, first, last in AGE_BUCKETS:
        condition = older_than(moment, first)
        if last is not None:
            condition &= ~older_than(moment, last + 1)
        annotations[code] = Count("pk", filter=condition)
    rows = requests(filters).filter(open_at(moment, current=current)).values("discipline").annotate(**annotations)
    return {row["discipline"]: row for row in rows}


def open_work(filters: Filters, *, as_of: datetime | None = None) -> tuple[Backlog, AgeProfile]:
    """The backlog and the age profile at ``as_of`` (default: the end of the period if it has ended, else now)."""
    moment = filters.as_of(as_of)
    counts = _open_counts(filters, moment, current=filters.is_current(as_of))
    return _backlog(filters, moment, counts), _age_profile(filters, moment, counts)


def backlog(filters: Filters, *, as_of: datetime | None = None) -> Backlog:
    """Backlog per discipline at ``as_of`` (default: the end of the period if it has ended, else now)."""
    return open_work(filters, as_of=as_of)[0]


def _backlog(filters: Filters, moment: datetime, counts: dict[int, dict]) -> Backlog:
    result = Backlog(as_of=moment)
    for discipline in _disciplines(filters, set(counts)):
        row = counts.get(discipline.pk, {})
        result.rows.append(
            {
                "discipline": discipline.code,
                "name": str(discipline),
                "open": row.get("open", 0),
                "over_30_days": row.get("over_30_days", 0),
            }
        )
    return result


# --- age profile of open work -----------------------------------------------------------------------


@dataclass
class AgeProfile:
    """Open requests at ``as_of`` by age bucket, per discipline (``rows``) and in all (``totals``)."""

    as_of: datetime
    buckets: tuple[str, ...]
    rows: list[dict] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        return {bucket: sum(row[bucket] for row in self.rows) for bucket in self.buckets}


def age_profile(filters: Filters, *, as_of: datetime | None = None) -> AgeProfile:
    """How old the open requests are at ``as_of``: 0–30, 31–60, 61–90, 91–180 and over 180 whole days."""
    return open_work(filters, as_of=as_of)[1]


def _age_profile(filters: Filters, moment: datetime, counts: dict[int, dict]) -> AgeProfile:
    buckets = tuple(code for code, _first, _last in AGE_BUCKETS)
    result = AgeProfile(as_of=moment, buckets=buckets)
    for discipline in _disciplines(filters, set(counts)):
        row = counts.get(discipline.pk, {})
        result.rows.append(
            {"discipline": discipline.code, "name": str(discipline), **{b: row.get(b, 0) for b in buckets}}
        )
    return result


# --- turnaround --------------------------------------------------------------------------------------


def _summary(durations: list[float]) -> dict:
    return {
        "count": len(durations),
        "median_days": rounded(median(durations)),
        "p90_days": rounded(nearest_rank(durations, PERCENTILE)),
    }


@dataclass
class Turnaround:
    """Days per stage of the requests released in the period: median and 90th percentile (nearest rank).

    ``rows``: one per discipline and stage (discipline ``""`` is every discipline together), in the order of
    ``STAGES``; a stage a request skipped or whose timestamps were cleared (reopened for amendment) is left out
    of that stage only.
    """

    stages: list[dict]
    rows: list[dict] = field(default_factory=list)

    def for_discipline(self, code: str = "") -> list[dict]:
        return [row for row in self.rows if row["discipline"] == code]


class DaysBetween(Func):
    """The days (with their fraction) from the timestamp column ``start`` to ``end``, computed by the database —
    NULL when either is — so that turning timestamps into durations costs no Python per row."""

    output_field = FloatField()

    def __init__(self, start: str, end: str):
        super().__init__(F(start), F(end))

    def _operands(self, compiler, connection):
        start, start_params = compiler.compile(self.source_expressions[0])
        end, end_params = compiler.compile(self.source_expressions[1])
        return start, end, (*end_params, *start_params)

    def as_sqlite(self, compiler, connection, **extra_context):
        start, end, params = self._operands(compiler, connection)
        return f"(julianday({end}) - julianday({start}))", params

    def as_postgresql(self, compiler, connection, **extra_context):
        start, end, params = self._operands(compiler, connection)
        return f"(EXTRACT(EPOCH FROM ({end} - {start}))::double precision / {SECONDS_PER_DAY}.0)", params


def turnaround(filters: Filters) -> Turnaround:
    """Turnaround per stage and discipline of the requests released in the period (by month of release)."""
    stages = {f"days_{code}": code for code, _label, _start, _end in STAGES}
    released = (
        requests(filters)
        .filter(released_at__isnull=False, **filters.month_range("released_month"))
        .annotate(**{name: DaysBetween(start, end) for name, (_c, _l, start, end) in zip(stages, STAGES, strict=True)})
        .values_list("discipline", *stages)
    )
    durations: dict[tuple[int | None, str], list[float]] = defaultdict(list)
    counted = set()
    for discipline, *values in released.iterator(chunk_size=5000):
        counted.add(discipline)
        for code, value in zip(stages.values(), values, strict=True):
            if value is not None:
                durations[(discipline, code)].append(value)
                durations[(None, code)].append(value)
    result = Turnaround(stages=[{"stage": code, "label": str(label)} for code, label, _s, _e in STAGES])
    everyone = [("", str(_("All disciplines")), None)]
    for code, name, key in everyone + [(d.code, str(d), d.pk) for d in _disciplines(filters, counted)]:
        for stage, label, _start, _end in STAGES:
            result.rows.append(
                {
                    "discipline": code,
                    "name": name,
                    "stage": stage,
                    "label": str(label),
                    **_summary(durations.get((key, stage), [])),
                }
            )
    return result


# --- throughput --------------------------------------------------------------------------------------


@dataclass
class Throughput:
    """Requests released per analyst (the assigned analyst) and month of release."""

    months: list[str]
    rows: list[dict] = field(default_factory=list)

    def per_analyst(self) -> list[dict]:
        totals: dict[int | None, dict] = {}
        for row in self.rows:
            entry = totals.setdefault(row["analyst_id"], {"analyst_id": row["analyst_id"], "analyst": row["analyst"]})
            entry["released"] = entry.get("released", 0) + row["released"]
        return sorted(totals.values(), key=lambda entry: (-entry["released"], entry["analyst"]))


def throughput(filters: Filters) -> Throughput:
    counts = (
        requests(filters)
        .filter(released_at__isnull=False, **filters.month_range("released_month"))
        .values(
            "assigned_to",
            "assigned_to__first_name",
            "assigned_to__last_name",
            "assigned_to__username",
            "released_month",
        )
        .annotate(released=Count("pk"))
    )
    rows = []
    for row in counts:
        full_name = f"{row['assigned_to__first_name']} {row['assigned_to__last_name']}".strip()
        rows.append(
            {
                "analyst_id": row["assigned_to"],
                "analyst": full_name or row["assigned_to__username"] or str(_("Unassigned")),
                "month": row["released_month"],
                "released": row["released"],
            }
        )
    rows.sort(key=lambda row: (row["analyst"], row["month"]))
    return Throughput(months=sorted({row["month"] for row in rows}), rows=rows)


# --- outsourcing -------------------------------------------------------------------------------------


@dataclass
class OutsourcingTurnaround:
    """Days from shipping to return per external laboratory (shipments returned in the period), and what is
    still out at ``as_of``."""

    as_of: datetime
    rows: list[dict] = field(default_factory=list)


def outsourcing_turnaround(filters: Filters, *, as_of: datetime | None = None) -> OutsourcingTurnaround:
    moment = filters.as_of(as_of)
    shipments = Shipment.objects.filter(shipped_at__isnull=False).order_by()
    if filters.discipline or filters.district or filters.agency:
        # A shipment counts when one of its items belongs to a case of the district / agency (and, with a
        # discipline, is an item of a request of that discipline).
        items = Item.objects.all()
        if filters.district:
            items = items.filter(case__district=filters.district)
        if filters.agency:
            items = items.filter(case__agency__code=filters.agency)
        if filters.discipline:
            items = items.filter(requests__discipline__code=filters.discipline)
        through = Shipment.items.through.objects.filter(item__in=items.values("pk"))
        shipments = shipments.filter(pk__in=through.values("shipment"))
    returned = shipments.filter(returned_at__isnull=False, returned_at__lte=moment)
    if filters.start:
        returned = returned.filter(returned_at__gte=filters.start)
    if filters.end:
        returned = returned.filter(returned_at__lt=filters.end)
    durations: dict[str, list[float]] = defaultdict(list)
    for laboratory, shipped_at, returned_at in returned.values_list("laboratory", "shipped_at", "returned_at"):
        durations[laboratory].append(days(returned_at - shipped_at))
    out: dict[str, list[float]] = defaultdict(list)
    still_out = shipments.filter(shipped_at__lte=moment).filter(Q(returned_at__isnull=True) | Q(returned_at__gt=moment))
    for laboratory, shipped_at in still_out.values_list("laboratory", "shipped_at"):
        out[laboratory].append(days(moment - shipped_at))
    result = OutsourcingTurnaround(as_of=moment)
    for laboratory in sorted(set(durations) | set(out)):
        summary = _summary(durations.get(laboratory, []))
        result.rows.append(
            {
                "laboratory": laboratory,
                "returned": summary["count"],
                "median_days": summary["median_days"],
                "p90_days": summary["p90_days"],
                "out_now": len(out.get(laboratory, [])),
                "longest_out_days": rounded(max(out[laboratory])) if out.get(laboratory) else None,
            }
        )
    return result


# --- court dates at risk -----------------------------------------------------------------------------


@dataclass
class CourtDatesAtRisk:
    """Open requests whose court date falls from ``today`` to ``until`` (both included).

    ``rows`` count them per discipline (aggregates); ``requests`` name them (lab number, discipline, court date,
    days left, stage, analyst) and are for laboratory staff only.
    """

    today: date
    until: date
    rows: list[dict] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)


def court_dates_at_risk(filters: Filters, *, within_days: int = 14, as_of: datetime | None = None) -> CourtDatesAtRisk:
    if within_days < 0:
        raise ValueError("within_days must not be negative")
    moment = as_of or timezone.now()
    today = timezone.localtime(moment).date()
    until = today + timedelta(days=within_days)
    at_risk = (
        requests(filters)
        .filter(open_at(moment, current=as_of is None), court_date__gte=today, court_date__lte=until)
        .select_related("case", "discipline", "assigned_to")
        .order_by("court_date", "-priority", "requested_at", "pk")
    )
    result = CourtDatesAtRisk(today=today, until=until)
    per_discipline: dict[str, dict] = {}
    for request in at_risk:
        result.requests.append(
            {
                "lab_number": request.case.lab_number,
                "discipline": request.discipline.code,
                "discipline_name": str(request.discipline),
                "court_date": request.court_date,
                "days_left": (request.court_date - today).days,
                "status": request.status,
                "status_label": str(RequestStatus(request.status).label),
                "analyst": str(request.assigned_to) if request.assigned_to else "",
                "priority": request.priority,
            }
        )
        row = per_discipline.setdefault(
            request.discipline.code,
            {"discipline": request.discipline.code, "name": str(request.discipline), "requests": 0},
        )
        row["requests"] += 1
    result.rows = sorted(per_discipline.values(), key=lambda row: row["name"])
    return result
