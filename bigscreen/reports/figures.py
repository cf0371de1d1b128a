"""The figures of docs/METRICS.md computed from SQL, the source of truth, for reports.

The live path (bigscreen.live) keeps counters in Redis event by event; this module counts the
same things with aggregate queries over the events table. Both hand their counts, under the
same names, to `bigscreen.live.kpi.figures`, which holds the one formula of every rate; a
test over a generated month proves the counts equal (tests/integration/test_metrics.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, case, cast, distinct, func, literal, or_, select
from sqlalchemy import Integer as SqlInteger
from sqlalchemy.sql import ColumnElement

from bigscreen.db.models import Area, Event, FieldActivity, MediationStep
from bigscreen.domain.lifecycle import CLOSED_STATUSES, MEDIATION_RUNGS, RESOLUTION_LEVELS, Status
from bigscreen.geo.areas import AreaIndex
from bigscreen.live.field_work import CHECK_IN, COUNTED_FIELDS, DUTY_FIELD, FIELD_KINDS, PATROL, VISIT, workforce
from bigscreen.live.kpi import headline

_CLOSED = [s.value for s in CLOSED_STATUSES]


def count_of(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def handling_seconds(dialect: str) -> ColumnElement[int]:
    """closed_at - reported_at in whole seconds, truncated, computed by the database."""
    e = Event.__table__.c
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", e.closed_at - e.reported_at)), SqlInteger)
    # SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff' (bigscreen.db.types): whole seconds by strftime,
    # microseconds from the text, so the difference is exact before it is truncated.
    micros = (func.strftime("%s", e.closed_at) - func.strftime("%s", e.reported_at)) * 1_000_000 + (
        cast(func.substr(e.closed_at, 21, 6), SqlInteger) - cast(func.substr(e.reported_at, 21, 6), SqlInteger))
    return cast(micros / 1_000_000, SqlInteger)


def counters(conn: Connection, where: ColumnElement[bool], now: datetime, *, joined: bool = True) -> dict[str, int]:
    """The counters of the events matching `where`, named as the live hashes name them."""
    e = Event.__table__.c
    closed = e.status.in_(_CLOSED)
    columns = {f"st:{s.value}": count_of(e.status == s.value) for s in Status}
    columns |= {
        "ontime": count_of(and_(closed, e.closed_at <= e.deadline)),
        "overdue": count_of(and_(~closed, e.deadline < now)),
        "handle_s": func.coalesce(func.sum(case((closed, handling_seconds(conn.dialect.name)), else_=0)), 0),
        "rated": count_of(e.rating.is_not(None)),
        "satisfied": count_of(e.rating >= 2),
        "med:mediated": count_of(e.dispute_outcome == "mediated"),
        "med:referred": count_of(e.dispute_outcome == "referred"),
    }
    columns |= {f"lvl:{lv}": count_of(and_(closed, e.resolved_level == lv)) for lv in RESOLUTION_LEVELS}
    columns |= {f"med:lvl:{r}": count_of(and_(e.dispute_outcome == "mediated", e.dispute_rung == r)) for r in MEDIATION_RUNGS}
    query = select(*(c.label(name.replace(":", "_")) for name, c in columns.items())).select_from(
        Event.__table__.join(Area.__table__, Area.__table__.c.id == e.grid_id) if joined else Event.__table__
    ).where(where)
    row = conn.execute(query).one()
    return {name: int(value) for name, value in zip(columns, row)}


def in_area(areas: AreaIndex, code: str) -> ColumnElement[bool]:
    path = "/".join(areas.by_code[code].chain)
    a = Area.__table__.c
    return or_(a.path == path, a.path.like(path + "/%"))


def area_kpi(conn: Connection, areas: AreaIndex, code: str, now: datetime, day_start: datetime) -> dict:
    """An area's headline figures as `GET /api/v1/kpi` shows them, from SQL alone. `day_start`
    is the start of the city's local day that holds `now`."""
    e = Event.__table__.c
    area = in_area(areas, code)
    day_end = day_start + timedelta(days=1)
    whole = counters(conn, area, now)
    day = counters(conn, and_(area, e.reported_at >= day_start, e.reported_at < day_end), now)
    closed_today = and_(area, e.status.in_(_CLOSED), e.closed_at >= day_start, e.closed_at < day_end)
    flows = conn.execute(
        select(count_of(literal(True)), count_of(e.closed_at <= e.deadline))
        .select_from(Event.__table__.join(Area.__table__, Area.__table__.c.id == e.grid_id)).where(closed_today)
    ).one()
    day |= {"fl:closed": int(flows[0]), "fl:ontime": int(flows[1])}
    return headline(code, whole, day, now)


def department_counters(conn: Connection, department: str, now: datetime) -> dict[str, int]:
    return counters(conn, Event.__table__.c.department_code == department, now, joined=False)


def field_work_counters(conn: Connection, areas: AreaIndex, code: str, day_start: datetime) -> dict[str, int]:
    """An area's field work on the local day that starts at `day_start`, named as the day hash
    names it: distinct workers who checked in (wf:duty), patrols (wf:patrol), visits (wf:visit)."""
    f, a = FieldActivity.__table__.c, Area.__table__.c
    row = conn.execute(
        select(func.count(distinct(case((f.kind == CHECK_IN, f.worker_id)))), count_of(f.kind == PATROL), count_of(f.kind == VISIT))
        .select_from(FieldActivity.__table__.join(Area.__table__, a.code == f.grid_code))
        .where(in_area(areas, code), f.kind.in_(FIELD_KINDS), f.at >= day_start, f.at < day_start + timedelta(days=1))
    ).one()
    return {DUTY_FIELD: int(row[0]), COUNTED_FIELDS[PATROL]: int(row[1]), COUNTED_FIELDS[VISIT]: int(row[2])}


def field_work(conn: Connection, areas: AreaIndex, code: str, day_start: datetime) -> dict[str, int]:
    """on_duty, patrols_today and visits_today of docs/METRICS.md for an area and a local day."""
    return workforce(field_work_counters(conn, areas, code, day_start))


def period_counters(conn: Connection, where: ColumnElement[bool], start: datetime, end: datetime, as_of: datetime,
                    by: tuple = ()) -> dict[tuple, dict[str, int]]:
    """The counters of the cases reported in [start, end) that match `where` (a condition on events),
    as they stood at `as_of` (the period's end, or now for a period not yet over), named as the live
    hashes name them so that `bigscreen.live.kpi.figures` turns them into the same rates
    (docs/METRICS.md, "Reports"). A case closed after `as_of` is open here; a rating or a settled
    dispute after it does not count yet. `fl:closed` is the flow: cases closed in the period, whenever
    reported. One set of counters for each combination of the values of the columns `by` (grid and
    department ...), keyed by the tuple of those values, in two queries; combinations with no case
    reported nor closed in the period are left out. Counters add up, so a caller sums grids into the
    areas above them, and departments across grids."""
    e, m = Event.__table__.c, MediationStep.__table__.c
    cohort = and_(where, e.reported_at >= start, e.reported_at < end)
    closed = and_(e.closed_at.is_not(None), e.closed_at < as_of)
    rated = and_(closed, e.rating.is_not(None), e.rated_at < as_of)
    # a dispute settles once (mediated or referred ends the ladder): its settling step, if taken by as_of
    steps = (select(m.event_id, func.max(case((m.outcome == "mediated", 1), else_=0)).label("mediated"),
                    func.max(case((m.outcome == "referred", 1), else_=0)).label("referred"),
                    func.max(case((m.outcome == "mediated", m.rung))).label("rung"))
             .where(m.at < as_of, m.outcome.in_(("mediated", "referred"))).group_by(m.event_id).subquery())
    columns = {
        "st:closed": count_of(closed),
        "st:reported": count_of(~closed),  # every status before closure, as of then
        "ontime": count_of(and_(closed, e.closed_at <= e.deadline)),
        "overdue": count_of(and_(~closed, e.deadline < as_of)),
        "handle_s": func.coalesce(func.sum(case((closed, handling_seconds(conn.dialect.name)), else_=0)), 0),
        "rated": count_of(rated),
        "satisfied": count_of(and_(rated, e.rating >= 2)),
        "med:mediated": count_of(steps.c.mediated == 1),
        "med:referred": count_of(and_(steps.c.referred == 1, steps.c.mediated.is_distinct_from(1))),
    }
    # the resolution level and the mediation rung are grouped on rather than counted a column each:
    # fewer expressions per case (the cost of this query), a few more rows
    level = case((closed, e.resolved_level), else_=None).label("level")
    rung = case((steps.c.mediated == 1, steps.c.rung), else_=None).label("rung")
    source = Event.__table__
    cohort_source = source.outerjoin(steps, steps.c.event_id == e.id)
    key = list(by)
    labelled = [func.count().label("n"), *(c.label(n.replace(":", "_")) for n, c in columns.items())]
    out: dict = {}
    query = select(*key, level, rung, *labelled).select_from(cohort_source).where(cohort).group_by(*key, level, rung)
    for row in conn.execute(query):
        k = tuple(row[:len(key)])
        lv, rg, n, *values = row[len(key):]
        counters = out.setdefault(k, _empty())
        for name, v in zip(columns, values):
            counters[name] += int(v or 0)
        if lv in RESOLUTION_LEVELS:
            counters[f"lvl:{lv}"] += n
        if rg in MEDIATION_RUNGS:
            counters[f"med:lvl:{rg}"] += n
    flow = and_(where, e.closed_at >= start, e.closed_at < end, e.closed_at < as_of)
    for row in conn.execute(select(*key, func.count()).select_from(source).where(flow).group_by(*key)):
        if row[-1]:
            out.setdefault(tuple(row[:len(key)]), _empty())["fl:closed"] = int(row[-1])
    return out


def _empty() -> dict[str, int]:
    names = ["st:closed", "st:reported", "ontime", "overdue", "handle_s", "rated", "satisfied", "med:mediated",
             "med:referred", *(f"lvl:{lv}" for lv in RESOLUTION_LEVELS), *(f"med:lvl:{r}" for r in MEDIATION_RUNGS)]
    return dict.fromkeys(names + ["fl:closed"], 0)
