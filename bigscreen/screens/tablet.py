"""What a leader's tablet shows of one area: its figures and its children's from Redis; for a
grid, its workers, people and housing, and open cases from SQL, reporters and personal data in
descriptions masked by role (bigscreen.auth.privacy).

No Dash here: callbacks/tablet.py checks who may see the area and hands these to layouts/tablet.py.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bigscreen.auth.privacy import mask_name, mask_phone, mask_text
from bigscreen.auth.roles import Permission, Principal
from bigscreen.db.models import Area, Event, GridProfile, GridWorker
from bigscreen.domain.lifecycle import OPEN_STATUSES
from bigscreen.geo.areas import AreaIndex, AreaInfo
from bigscreen.geo.totals import PEOPLE
from bigscreen.live.kpi import figures, headline, ints
from bigscreen.process.runtime import Runtime

OPEN_CASES_SHOWN = 50
_OPEN = sorted(s.value for s in OPEN_STATUSES)


@dataclass(frozen=True)
class ChildRow:
    code: str
    name: str
    open: int | None  # None: not known (Redis away)
    overdue: int | None
    ontime_rate: float | None


@dataclass(frozen=True)
class AreaFigures:
    kpi: dict          # bigscreen.live.kpi.headline(): the same figures as GET /api/v1/kpi
    children: list[ChildRow]


@dataclass(frozen=True)
class Person:
    name: str
    role: str          # full_time or helper
    helper_kind: str | None
    phone: str | None


@dataclass(frozen=True)
class CaseRow:
    id: int
    reported_at: datetime  # the city's local time, like deadline
    category: str
    item: str
    description: str           # personal data in it masked like the reporter's
    status: str
    deadline: datetime
    overdue: bool
    reporter_name: str | None  # masked unless the principal may see personal data
    reporter_phone: str | None


@dataclass(frozen=True)
class GridDetails:
    people: dict[str, int] | None  # bigscreen.geo.totals.PEOPLE; None when the grid has no profile
    worker: Person | None
    helpers: list[Person]
    cases: list[CaseRow]
    more_cases: bool       # more open cases than shown


# -- the area tree ----------------------------------------------------------------------------

_children_cache: weakref.WeakKeyDictionary[AreaIndex, dict[str, list[AreaInfo]]] = weakref.WeakKeyDictionary()


def children_of(areas: AreaIndex, code: str) -> list[AreaInfo]:
    """The areas one level down that a tablet drills into (none below the grid), by code."""
    index = _children_cache.get(areas)
    if index is None:
        index = {}
        for a in sorted(areas.by_code.values(), key=lambda a: a.code):
            if a.parent_code is not None and a.level <= areas.grid_level and not a.retired:
                index.setdefault(a.parent_code, []).append(a)
        _children_cache[areas] = index
    return index.get(code, [])


def pick_area(areas: AreaIndex, requested: str | None, home: str | None) -> AreaInfo:
    """The area asked for when it exists, else the account's own, else the city. Whether the
    account may see it is the caller's check (`require` with its chain)."""
    if requested and requested in areas.by_code:
        return areas.by_code[requested]
    if home and home in areas.by_code:
        return areas.by_code[home]
    return areas.city


def breadcrumb(areas: AreaIndex, area: AreaInfo, home: str | None) -> list[AreaInfo]:
    """From the top of what the account may see down to `area`: no links above its scope."""
    chain = list(area.chain)
    start = chain.index(home) if home in chain else 0
    return [areas.by_code[c] for c in chain[start:]]


def is_grid(areas: AreaIndex, area: AreaInfo) -> bool:
    return area.level >= areas.grid_level


def map_view(areas: AreaIndex, area: AreaInfo) -> tuple[str, str, str]:
    """(fill level, outline level, area to frame) of the map: an area's children inside its outline,
    or a grid amid its neighbours inside its community's outline."""
    kids = children_of(areas, area.code)
    if kids and not is_grid(areas, area):
        return kids[0].level_name, area.level_name if area.level else kids[0].level_name, area.code
    parent = areas.by_code.get(area.parent_code or "")
    if parent is None or not parent.level:
        return area.level_name, area.level_name, area.code
    return area.level_name, parent.level_name, parent.code


def drill_target(areas: AreaIndex, current: str | None, clicked: str | None) -> AreaInfo | None:
    """The child of `current` a tap on the map chose; None for anything else (a neighbour's area,
    which the map also draws around the edges)."""
    child = areas.by_code.get(clicked or "")
    if child is None or current is None or child.parent_code != current or child.level > areas.grid_level:
        return None
    return child


def area_bounds(rt: Runtime, code: str) -> tuple[float, float, float, float] | None:
    """(south, west, north, east) of an area, for framing the map."""
    with rt.sessions() as session:
        row = session.execute(select(Area.min_lat, Area.min_lon, Area.max_lat, Area.max_lon)
                              .where(Area.code == code)).first()
    return tuple(row) if row else None


# -- live figures (Redis only) ---------------------------------------------------------------

def area_figures(rt: Runtime, area: AreaInfo, now: datetime) -> AreaFigures:
    """The area's headline figures and each child's open, overdue and on-time rate: one round trip."""
    rt.health.check_figures()  # a RedisError while Redis is away or its figures are being rebuilt
    kids = children_of(rt.areas, area.code)
    pipe = rt.redis.pipeline(transaction=False)
    pipe.hgetall(rt.keys.area(area.code))
    pipe.hgetall(rt.keys.day(area.code, rt.contributions.day(now)))
    for child in kids:
        pipe.hgetall(rt.keys.area(child.code))
    whole, day, *per_child = (ints(r) for r in pipe.execute())
    rows = []
    for child, counters in zip(kids, per_child, strict=True):
        f = figures(counters)
        rows.append(ChildRow(child.code, child.name, f["open"], f["overdue"], f["ontime_rate"]))
    return AreaFigures(headline(area.code, whole, day, now), rows)


# -- a grid's page (SQL) --------------------------------------------------------------------

def grid_details(rt: Runtime, grid: AreaInfo, who: Principal, lang: str, now: datetime,
                 limit: int = OPEN_CASES_SHOWN) -> GridDetails:
    names = _category_names(rt, lang)
    personal = who.can(Permission.VIEW_PERSONAL)
    with rt.sessions() as session:
        profile = session.get(GridProfile, grid.id)
        staff = session.scalars(select(GridWorker).where(GridWorker.area_id == grid.id).order_by(GridWorker.id)).all()
        events = session.scalars(
            select(Event).where(Event.grid_id == grid.id, Event.status.in_(_OPEN))
            .order_by(Event.reported_at.desc(), Event.id.desc()).limit(limit + 1)
        ).all()
    people = {f: getattr(profile, f) for f in PEOPLE} if profile else None
    persons = [Person(w.name, w.role, w.helper_kind, w.phone) for w in staff]
    worker = next((p for p in persons if p.role == "full_time"), None)
    cases = [_case_row(e, names, personal, rt, now) for e in events[:limit]]
    return GridDetails(people, worker, [p for p in persons if p.role == "helper"], cases, len(events) > limit)


def _case_row(e: Event, names: dict[str, str], personal: bool, rt: Runtime, now: datetime) -> CaseRow:
    name, phone, text = e.reporter_name, e.reporter_phone, e.description
    if not personal:
        name, phone, text = mask_name(name), mask_phone(phone), mask_text(text)
    return CaseRow(
        id=e.id, reported_at=e.reported_at.astimezone(rt.tz), category=names.get(e.category_code, e.category_code),
        item=names.get(e.item_code, e.item_code), description=text, status=e.status,
        deadline=e.deadline.astimezone(rt.tz), overdue=e.deadline < now, reporter_name=name, reporter_phone=phone,
    )


def _category_names(rt: Runtime, lang: str) -> dict[str, str]:
    """Category and sub-item codes to names (the codes do not collide: MS and MS01)."""
    pick = (lambda x: x.name) if lang == "zh" else (lambda x: x.name_en)
    out = {}
    for c in rt.config.categories:
        out[c.code] = pick(c)
        out.update({i.code: pick(i) for i in c.items})
    return out
