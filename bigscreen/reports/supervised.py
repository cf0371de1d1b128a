"""Cases that went late in a report's period and the supervision (督办, 三次督办) sent in it
(docs/METRICS.md, "Reports"). Three queries: the cases whose deadline passed in the period, the
notices of the period by level, and the supervised cases with the level each had reached by the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, and_, func, or_, select

from bigscreen.db.models import Event, SupervisionNotice
from bigscreen.domain.lifecycle import SUPERVISION_LEVELS as LEVELS
from bigscreen.domain.lifecycle import Status
from bigscreen.reports.figures import count_of
from bigscreen.reports.scope import TOP, Scope


@dataclass
class SupervisedCase:
    event_id: int
    grid_code: str
    grid_name: str
    department_code: str | None
    item_code: str
    reported_at: datetime
    deadline: datetime
    closed_at: datetime | None  # by the period's end; None: still open then
    level: int  # the highest level of notice it had had by the end (no citizen text: a stored report leaves the desk)
    department_name: str | None = None  # from config/departments.yaml
    item_name: str | None = None  # from config/categories.yaml; None for a code no longer configured


@dataclass
class DepartmentSupervision:
    code: str
    name: str
    cases: int  # supervised cases of the department (noticed in the period)
    third: int  # of those, at the third level by the end (三次督办)
    closed: int  # of those, closed by the end


@dataclass
class Supervision:
    went_late: int = 0  # deadline passed in the period before the case was closed
    late_still_open: int = 0  # of those, still open at the end
    notices: dict[int, int] = field(default_factory=dict)  # level -> notices about late cases sent in the period
    call_notices: dict[int, int] = field(default_factory=dict)  # level -> notices about whistled departments not reported in
    supervised: int = 0  # distinct cases with a notice in the period
    by_level: dict[int, int] = field(default_factory=dict)  # of those, by the highest level reached by the end
    supervised_closed: int = 0  # of those, closed by the end
    departments: list[DepartmentSupervision] = field(default_factory=list)  # most supervised first
    cases: list[SupervisedCase] = field(default_factory=list)  # the TOP at the highest level, longest late first


def supervision(conn: Connection, scope: Scope) -> Supervision:
    e, n = Event.__table__.c, SupervisionNotice.__table__.c
    as_of = scope.as_of
    went_late = and_(e.deadline >= scope.start, e.deadline < as_of, or_(e.closed_at.is_(None), e.closed_at > e.deadline))
    # every status named: the (status, deadline) index then serves the range on the deadline
    late = conn.execute(select(count_of(went_late), count_of(and_(went_late, or_(e.closed_at.is_(None), e.closed_at >= as_of))))
                        .where(scope.cases, e.status.in_([s.value for s in Status]), e.deadline >= scope.start,
                               e.deadline < as_of)).one()
    out = Supervision(int(late[0]), int(late[1]), dict.fromkeys(range(1, LEVELS + 1), 0), dict.fromkeys(range(1, LEVELS + 1), 0))
    source = SupervisionNotice.__table__.join(Event.__table__, e.id == n.event_id)
    in_period = and_(n.at >= scope.start, n.at < as_of)
    for level, is_call, count in conn.execute(select(n.level, n.whistle_call_id.is_not(None), func.count()).select_from(source)
                                              .where(scope.cases, in_period).group_by(n.level, n.whistle_call_id.is_not(None))):
        (out.call_notices if is_call else out.notices)[level] = int(count)
    noticed = select(n.event_id).where(n.whistle_call_id.is_(None), in_period).distinct().scalar_subquery()
    top = (select(n.event_id, func.max(n.level).label("level"))
           .where(n.whistle_call_id.is_(None), n.at < as_of, n.event_id.in_(noticed)).group_by(n.event_id).subquery())
    rows = conn.execute(select(e.id, e.grid_id, e.department_code, e.item_code, e.reported_at, e.deadline, e.closed_at,
                               top.c.level)
                        .select_from(Event.__table__.join(top, top.c.event_id == e.id)).where(scope.cases)).all()
    out.by_level = dict.fromkeys(range(1, LEVELS + 1), 0)
    departments: dict[str, DepartmentSupervision] = {}
    names = {d.code: d.name for d in scope.config.departments}
    listed = []
    for r in rows:
        closed = r.closed_at if r.closed_at is not None and r.closed_at < as_of else None
        out.supervised += 1
        out.by_level[r.level] += 1
        out.supervised_closed += closed is not None
        if r.department_code is not None:
            d = departments.setdefault(r.department_code, DepartmentSupervision(r.department_code, names.get(r.department_code, r.department_code), 0, 0, 0))
            d.cases += 1
            d.third += r.level >= LEVELS
            d.closed += closed is not None
        listed.append((r, closed))
    out.departments = sorted(departments.values(), key=lambda d: (-d.cases, -d.third, d.code))
    listed.sort(key=lambda rc: (-rc[0].level, rc[0].deadline, rc[0].id))
    grid = scope.areas.by_id
    items = {i.code: i.name for c in scope.config.categories for i in c.items}
    out.cases = [SupervisedCase(r.id, grid[r.grid_id].code, grid[r.grid_id].name, r.department_code, r.item_code, r.reported_at,
                                r.deadline, closed, r.level, names.get(r.department_code, r.department_code),
                                items.get(r.item_code))
                 for r, closed in listed[:TOP]]
    return out
