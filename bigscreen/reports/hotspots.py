"""Where a report's cases came from (docs/METRICS.md, "Reports"): the grids and communities with the
most cases reported in the period, and repeats at one place (the same sub-item reported two times or
more in one grid). One query grouped by grid and sub-item; grids add up into their communities."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from bigscreen.db.models import Event
from bigscreen.live.kpi import ratio
from bigscreen.reports.scope import TOP, Scope

REPEAT_MIN = 2  # cases of one sub-item in one grid in the period that make a repeat


@dataclass
class Hotspot:
    code: str
    name: str
    parent_name: str | None  # the area it lies in (a grid's community, a community's street)
    reported: int
    share: float | None  # of the area's cases reported in the period
    top_item: str | None  # the sub-item reported most there (ties: the lowest code)
    top_item_name: str | None
    top_item_cases: int


@dataclass
class Repeat:
    grid_code: str
    grid_name: str
    parent_name: str | None
    item_code: str
    item_name: str | None
    cases: int


@dataclass
class Hotspots:
    grids: list[Hotspot]  # the TOP grids with the most cases
    communities: list[Hotspot]  # the TOP communities with the most cases
    repeats: list[Repeat]  # the TOP repeats, most cases first
    repeat_places: int  # (grid, sub-item) pairs with REPEAT_MIN cases or more
    repeat_cases: int  # the cases of those pairs


def hotspots(conn: Connection, scope: Scope) -> Hotspots:
    e = Event.__table__.c
    query = (select(e.grid_id, e.item_code, func.count())
             .where(scope.cases, e.reported_at >= scope.start, e.reported_at < scope.end)
             .group_by(e.grid_id, e.item_code))
    areas, level = scope.areas, scope.community_level
    by_grid: dict[int, Counter] = {}
    for grid_id, item, n in conn.execute(query):
        by_grid.setdefault(grid_id, Counter())[item] += int(n)
    by_community: dict[str, Counter] = {}
    for grid_id, items in by_grid.items():
        chain = areas.by_id[grid_id].chain
        if level < len(chain):
            by_community.setdefault(chain[level], Counter()).update(items)
    total = sum(sum(items.values()) for items in by_grid.values())
    names = {i.code: i.name for c in scope.config.categories for i in c.items}

    def spot(code: str, items: Counter) -> Hotspot:
        area = areas.by_code[code]
        item, cases = min(items.items(), key=lambda kv: (-kv[1], kv[0]))
        reported = sum(items.values())
        return Hotspot(code, area.name, _parent_name(areas, area), reported, ratio(reported, total), item, names.get(item), cases)

    grids = [spot(areas.by_id[g].code, items) for g, items in by_grid.items()]
    communities = [spot(code, items) for code, items in by_community.items()]
    repeats = [Repeat(areas.by_id[g].code, areas.by_id[g].name, _parent_name(areas, areas.by_id[g]), item, names.get(item), n)
               for g, items in by_grid.items() for item, n in items.items() if n >= REPEAT_MIN]
    repeats.sort(key=lambda r: (-r.cases, r.grid_code, r.item_code))
    return Hotspots(_top(grids), _top(communities), repeats[:TOP], len(repeats), sum(r.cases for r in repeats))


def _top(spots: list[Hotspot]) -> list[Hotspot]:
    return sorted(spots, key=lambda s: (-s.reported, s.code))[:TOP]


def _parent_name(areas, area) -> str | None:
    parent = areas.by_code.get(area.parent_code) if area.parent_code else None
    return parent.name if parent else None
