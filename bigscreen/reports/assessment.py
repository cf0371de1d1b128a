"""网格员考核 (一人一卷): a score per full-time grid worker per period, from SQL, ranked within the street
(docs/METRICS.md, "Grid-worker assessment").

Five components, each a number from 0 to 100 by a stated rule, weighted by `assessment.weights` in
`config/city.yaml` (together 100): cases reported from the grid app in the worker's grid against the
street's median; patrols and visits against 一日两巡五访 × the days; the grid's on-time rate and
satisfaction over the period's cases (the report's own figures, `period_counters`); supervision
notices on the grid's cases as a penalty. Every component keeps its raw figures, so a worker's page
shows why the score is what it is. Nothing here renders (bigscreen.screens.assessment_xlsx does).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, true

from bigscreen.db.models import Event, FieldActivity, GridWorker, SupervisionNotice
from bigscreen.db.session import snapshot
from bigscreen.domain.schemas import Channel
from bigscreen.live.field_work import PATROL, VISIT
from bigscreen.live.kpi import figures
from bigscreen.process.runtime import Runtime
from bigscreen.reports.figures import count_of, period_counters
from bigscreen.reports.periods import Period
from bigscreen.reports.report import ReportError

COMPONENTS = ("reports", "field_work", "ontime", "satisfaction", "supervision")
FULL_TIME = "full_time"  # the assessed: helpers (1+N) do not keep the 一日两巡五访 routine


@dataclass(frozen=True)
class Component:
    name: str                            # one of COMPONENTS
    raw: dict[str, int | float | None]   # the figures the score comes from, named as docs/METRICS.md names them
    score: float                         # 0 to 100, by the component's rule, 2 places
    weight: float                        # its points out of 100 (config)

    @property
    def points(self) -> float:
        return round(self.score * self.weight / 100, 2)


@dataclass
class WorkerScore:
    worker_id: int
    name: str
    grid_code: str
    grid_name: str
    street_code: str
    street_name: str
    components: dict[str, Component]
    rank: int = 0   # within the street: 1 the best; equal totals share a rank (1, 2, 2, 4)
    of: int = 0     # the full-time workers ranked in the street

    @property
    def total(self) -> float:
        """The sum of the points shown (so a worker can add them up)."""
        return round(sum(c.points for c in self.components.values()), 2)


@dataclass
class Assessment:
    area_code: str
    area_name: str
    period: Period
    start: datetime
    end: datetime
    as_of: datetime
    produced_at: datetime
    days: int                  # the days the field-work norm counts
    weights: dict[str, float]
    workers: list[WorkerScore] = field(default_factory=list)  # by street code, then rank, then worker id

    def worker(self, worker_id: int) -> WorkerScore:
        return next(w for w in self.workers if w.worker_id == worker_id)


def build_assessment(rt: Runtime, period: Period, area_code: str | None, now: datetime,
                     worker_id: int | None = None) -> Assessment:
    """The assessment of the full-time workers of `area_code` (a street, a district; None: the city) for
    `period`, as it stood at the period's end (or now). With `worker_id`, that worker must be one of them.
    ReportError, saying why, when it cannot be made."""
    areas = rt.areas
    street_level = areas.level_number("street")
    if street_level is None or not areas.at_level(0):
        raise ReportError("no city with streets in this database yet: `bigscreen city build` or `bigscreen city import` first")
    area_code = area_code or areas.city.code
    info = areas.by_code.get(area_code)
    if info is None or info.retired:
        raise ReportError(f"unknown area {area_code!r}")
    if info.level > street_level:
        raise ReportError(f"area {area_code} is a {info.level_name}: workers are ranked within their street, "
                          "so the assessment covers a street, a district or the city")
    start, end = period.bounds(rt.tz)
    if start > now:
        raise ReportError(f"period {period.label} begins after now")
    as_of = min(end, now)
    grids = {a.id: a for a in areas.by_code.values()
             if a.level == areas.grid_level and not a.retired and area_code in a.chain}
    w = GridWorker.__table__.c
    with snapshot(rt.engine) as conn:  # the five components read from one moment of the database
        first = _history_begins(conn)
        if first is None or end <= first:
            raise ReportError(f"period {period.label} ends before the history begins"
                              + (f" ({first.astimezone(rt.tz).date().isoformat()})" if first else " (no cases nor field work yet)"))
        if worker_id is not None:
            _check_worker(conn, areas, worker_id, info)
        roster = [r for r in conn.execute(select(w.id, w.name, w.area_id).where(w.role == FULL_TIME).order_by(w.id))
                  if r.area_id in grids]
        in_area = true() if info.level == 0 else Event.__table__.c.grid_id.in_(sorted(grids))
        reports = _reports_by_grid(conn, in_area, start, as_of)
        field_work = _field_work_by_worker(conn, None if info.level == 0 else [r.id for r in roster], start, as_of)
        cases = {k[0]: c for k, c in period_counters(conn, in_area, start, end, as_of, (Event.__table__.c.grid_id,)).items()}
        notices = _notices_by_grid(conn, in_area, start, as_of)
    cfg = rt.config.city
    days = _norm_days(period, rt.tz, as_of)
    weights = cfg.assessment.weights.model_dump()
    by_street: dict[str, list[tuple[Any, Any]]] = {}
    for row in roster:
        grid = grids[row.area_id]
        by_street.setdefault(grid.chain[street_level], []).append((row, grid))
    scored: list[WorkerScore] = []
    for street_code in sorted(by_street):
        members = by_street[street_code]
        median = statistics.median(reports.get(grid.id, 0) for _row, grid in members)
        street = [WorkerScore(row.id, row.name, grid.code, grid.name, street_code, areas.by_code[street_code].name, {
            "reports": _reports(reports.get(grid.id, 0), median, weights["reports"]),
            "field_work": _field_work(*field_work.get(row.id, (0, 0)), days, cfg.workforce, weights["field_work"]),
            "ontime": _ontime(cases.get(grid.id), weights["ontime"]),
            "satisfaction": _satisfaction(cases.get(grid.id), weights["satisfaction"]),
            "supervision": _supervision(notices.get(grid.id, 0), cfg.assessment.supervision_penalty, weights["supervision"]),
        }) for row, grid in members]
        _rank(street)
        scored += sorted(street, key=lambda s: (s.rank, s.worker_id))
    return Assessment(area_code, info.name, period, start, end, as_of, now, days, weights, scored)


# -- the components: raw figures and the rule that makes them a score out of 100 -------------------

def _reports(reports: int, median: float, weight: float) -> Component:
    """reports ÷ the street's median × 100, at most 100; with a median of 0, 100 for any report, else 0."""
    score = min(100.0, 100 * reports / median) if median else (100.0 if reports else 0.0)
    return Component("reports", {"reports": reports, "street_median": median}, round(score, 2), weight)


def _field_work(patrols: int, visits: int, days: int, plan, weight: float) -> Component:
    """(patrols up to their norm + visits up to theirs) ÷ (both norms) × 100: neither makes up for the other."""
    patrols_due, visits_due = plan.patrols_per_day * days, plan.visits_per_day * days
    score = 100 * (min(patrols, patrols_due) + min(visits, visits_due)) / (patrols_due + visits_due)
    return Component("field_work", {"patrols": patrols, "patrols_due": patrols_due, "visits": visits, "visits_due": visits_due,
                                    "days": days}, round(score, 2), weight)


def _ontime(counters: dict | None, weight: float) -> Component:
    """The grid's on-time rate × 100; 100 when none of its cases closed nor went late (nothing late)."""
    counters = counters or {}
    grid = figures(counters)
    rate = grid["ontime_rate"]
    return Component("ontime", {"ontime": counters.get("ontime", 0), "closed": grid["closed"], "overdue": grid["overdue"],
                                "ontime_rate": rate}, 100.0 if rate is None else round(100 * rate, 2), weight)


def _satisfaction(counters: dict | None, weight: float) -> Component:
    """The grid's satisfaction × 100; 100 when none of its cases was rated."""
    counters = counters or {}
    rate = figures(counters)["satisfaction"]
    return Component("satisfaction", {"satisfied": counters.get("satisfied", 0), "rated": counters.get("rated", 0),
                                      "satisfaction": rate}, 100.0 if rate is None else round(100 * rate, 2), weight)


def _supervision(notices: int, penalty: float, weight: float) -> Component:
    """100 less `penalty` points a notice, not below 0."""
    return Component("supervision", {"notices": notices, "penalty": penalty}, round(max(0.0, 100 - penalty * notices), 2), weight)


def _rank(street: list[WorkerScore]) -> None:
    totals = sorted((s.total for s in street), reverse=True)
    for s in street:
        s.rank, s.of = totals.index(s.total) + 1, len(street)


def _norm_days(period: Period, tz, as_of: datetime) -> int:
    """The days of the period ended by `as_of` (all of them for a past period), at least 1."""
    return max(1, sum(1 for day in period.each_day() if Period("range", day, day).bounds(tz)[1] <= as_of))


# -- SQL: one grouped query a component ---------------------------------------------------------------

def _reports_by_grid(conn: Connection, in_area, start: datetime, as_of: datetime) -> dict[int, int]:
    e = Event.__table__.c
    query = (select(e.grid_id, func.count()).where(in_area, e.channel == Channel.GRID_APP.value, e.reported_at >= start,
                                                   e.reported_at < as_of).group_by(e.grid_id))
    return {grid: int(n) for grid, n in conn.execute(query)}


def _field_work_by_worker(conn: Connection, worker_ids: list[int] | None, start: datetime, as_of: datetime) -> dict[int, tuple[int, int]]:
    f = FieldActivity.__table__.c
    query = (select(f.worker_id, count_of(f.kind == PATROL), count_of(f.kind == VISIT))
             .where(f.kind.in_((PATROL, VISIT)), f.at >= start, f.at < as_of).group_by(f.worker_id))
    if worker_ids is not None:
        query = query.where(f.worker_id.in_(worker_ids))
    return {worker: (int(p), int(v)) for worker, p, v in conn.execute(query)}


def _notices_by_grid(conn: Connection, in_area, start: datetime, as_of: datetime) -> dict[int, int]:
    """Notices on late cases (not on whistled departments that did not report in: not the grid's doing)."""
    n, e = SupervisionNotice.__table__.c, Event.__table__.c
    query = (select(e.grid_id, func.count()).select_from(SupervisionNotice.__table__.join(Event.__table__, e.id == n.event_id))
             .where(in_area, n.whistle_call_id.is_(None), n.at >= start, n.at < as_of).group_by(e.grid_id))
    return {grid: int(count) for grid, count in conn.execute(query)}


def _history_begins(conn: Connection) -> datetime | None:
    firsts = [conn.scalar(select(func.min(Event.reported_at))), conn.scalar(select(func.min(FieldActivity.at)))]
    return min((f for f in firsts if f is not None), default=None)


def _check_worker(conn: Connection, areas, worker_id: int, info) -> None:
    w = GridWorker.__table__.c
    row = conn.execute(select(w.id, w.role, w.area_id).where(w.id == worker_id)).one_or_none() \
        if 1 <= worker_id < 2**31 else None  # (a number no id can be: PostgreSQL would refuse to compare it)
    if row is None:
        raise ReportError(f"unknown grid worker {worker_id}")
    if row.role != FULL_TIME:
        raise ReportError(f"grid worker {worker_id} is a helper (1+N): the assessment covers full-time grid workers")
    grid = areas.by_id.get(row.area_id)
    if grid is None or grid.retired or info.code not in grid.chain:
        where = f"grid {grid.code} ({grid.name})" if grid else "a grid not on the map"
        raise ReportError(f"grid worker {worker_id} works in {where}, not in area {info.code} ({info.name})")
