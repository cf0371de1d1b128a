"""Field work in a report's period against 一日两巡五访 (docs/METRICS.md, "Reports"), per grid worker and
per area one level down: the days each worker checked in (on duty), the patrols and visits made, what
the norm asks for those days (`workforce` in config/city.yaml), and the days on which it was met.

One query over the period's activities, grouped by worker, grid and local day in SQL and then by worker
and grid; one for the area's full-time workers (listed even when they recorded nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Connection, and_, case, func, literal, select

from bigscreen.db.models import FieldActivity, GridWorker
from bigscreen.live.field_work import CHECK_IN, FIELD_KINDS, PATROL, VISIT
from bigscreen.live.kpi import ratio
from bigscreen.reports.figures import count_of
from bigscreen.reports.scope import Scope, local_day

FULL_TIME = "full_time"


@dataclass
class Work:
    """Field work added up over worker-days; the norm is held against the days on duty."""

    patrols_per_day: int
    visits_per_day: int
    duty_days: int = 0  # (worker, local day) pairs with a check-in
    patrols: int = 0
    visits: int = 0
    days_met: int = 0  # days on duty with at least the norm's patrols and visits

    @property
    def expected_patrols(self) -> int:
        return self.patrols_per_day * self.duty_days

    @property
    def expected_visits(self) -> int:
        return self.visits_per_day * self.duty_days

    @property
    def patrol_rate(self) -> float | None:
        """Patrols made ÷ patrols asked for (may pass 1)."""
        return ratio(self.patrols, self.expected_patrols)

    @property
    def visit_rate(self) -> float | None:
        return ratio(self.visits, self.expected_visits)

    @property
    def met_rate(self) -> float | None:
        """Days on duty on which the norm was met ÷ days on duty."""
        return ratio(self.days_met, self.duty_days)

    def add(self, duty_days: int, patrols: int, visits: int, days_met: int) -> None:
        self.duty_days += duty_days
        self.patrols += patrols
        self.visits += visits
        self.days_met += days_met


@dataclass
class WorkerWork(Work):
    worker_id: int = 0
    name: str = ""
    role: str = ""  # full_time (专职) or helper
    grid_code: str = ""  # the worker's grid now
    grid_name: str = ""


@dataclass
class AreaWork(Work):
    code: str = ""
    name: str = ""
    workers: int = 0  # full-time workers of the area's grids now


@dataclass
class FieldWork:
    days: int  # local days of the period up to its end (or now)
    total: Work
    areas: list[AreaWork] = field(default_factory=list)  # one level down, by code
    workers: list[WorkerWork] = field(default_factory=list)  # lowest share of days met first; never on duty first of all
    never_on_duty: int = 0  # full-time workers of the area with no check-in in the period


def field_work(conn: Connection, scope: Scope) -> FieldWork:
    f, w = FieldActivity.__table__.c, GridWorker.__table__.c
    norm = scope.config.city.workforce
    p, v = norm.patrols_per_day, norm.visits_per_day
    areas = scope.areas
    end = scope.end
    day = local_day(f.at, scope.tz, scope.start, end, conn.dialect.name).label("day")
    where = [f.kind.in_(FIELD_KINDS), f.at >= scope.start, f.at < end]
    if not scope.is_city:
        where.append(f.grid_code.in_([g.code for g in scope.grids]))
    daily = (select(f.worker_id, f.grid_code, day, func.max(case((f.kind == CHECK_IN, 1), else_=0)).label("duty"),
                    count_of(f.kind == PATROL).label("patrols"), count_of(f.kind == VISIT).label("visits"))
             .where(*where).group_by(f.worker_id, f.grid_code, day).subquery())
    d = daily.c
    met = and_(d.duty == 1, d.patrols >= literal(p), d.visits >= literal(v))
    rows = conn.execute(select(d.worker_id, d.grid_code, func.sum(d.duty), func.sum(d.patrols), func.sum(d.visits), count_of(met))
                        .group_by(d.worker_id, d.grid_code)).all()

    def new(cls, **kw):
        return cls(p, v, **kw)

    level = scope.area.level + 1
    children = {a.code: new(AreaWork, code=a.code, name=a.name) for a in areas.by_code.values()
                if a.parent_code == scope.area.code and not a.retired}
    total = new(Work)
    by_worker: dict[int, list[tuple[int, int, int, int]]] = {}
    for worker_id, grid_code, duty, patrols, visits, days_met in rows:
        counts = (int(duty), int(patrols), int(visits), int(days_met))
        total.add(*counts)
        chain = areas.by_code[grid_code].chain
        if level < len(chain) and chain[level] in children:
            children[chain[level]].add(*counts)
        by_worker.setdefault(worker_id, []).append(counts)

    grid_ids = {g.id for g in scope.grids}
    query = select(w.id, w.name, w.role, w.area_id)
    found = list(conn.execute(query if scope.is_city else query.where(w.area_id.in_(sorted(grid_ids)))))
    elsewhere = sorted(set(by_worker) - {r.id for r in found})  # moved away since, or helpers of other grids
    if elsewhere:
        found += conn.execute(query.where(w.id.in_(elsewhere)))
    workers, never = [], 0
    for worker_id, name, role, area_id in found:
        grid = areas.by_id[area_id]
        mine = area_id in grid_ids and role == FULL_TIME
        if mine and level < len(grid.chain) and grid.chain[level] in children:
            children[grid.chain[level]].workers += 1
        if not (mine or worker_id in by_worker):
            continue  # a helper with no field work in the period
        worker = new(WorkerWork, worker_id=worker_id, name=name, role=role, grid_code=grid.code, grid_name=grid.name)
        for counts in by_worker.get(worker_id, ()):
            worker.add(*counts)
        never += mine and worker.duty_days == 0
        workers.append(worker)
    workers.sort(key=lambda x: (x.duty_days > 0, x.met_rate or 0.0, x.patrol_rate or 0.0, x.worker_id))
    last = min(scope.as_of, end) - timedelta(microseconds=1)
    days = max(0, (last.astimezone(scope.tz).date() - scope.period.first).days + 1)
    return FieldWork(days, total, sorted(children.values(), key=lambda a: a.code), workers, never)
