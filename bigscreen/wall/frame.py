"""The wall's frame: everything one scope's wall shows, built from Redis alone (and the
unresolved alerts the publisher keeps in memory, read from SQL only when alerts change).

Built once per change (coalesced, see publisher.py) and handed as-is to every viewer, so a
refresh costs the same with ten thousand or ten million events in history and with one or
five hundred viewers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bigscreen.alerts import alert_rows
from bigscreen.geo.totals import PEOPLE, WORKFORCE
from bigscreen.lifecycle import CLOSED_STATUSES, Status
from bigscreen.live.kpi import KPI_NAMES, figures, headline, ints
from bigscreen.runtime import Runtime

TOP_CATEGORIES = 8
RANKED = 10
FEED = 20
FEED_SCAN = 300  # recent ticker entries read to find a district's own
TREND_HOURS = 24
ALERTS_SHOWN = 12  # unresolved alerts a frame carries, most severe first
ALERTS_READ = 1000  # unresolved alerts read in all (each scope keeps its own most severe)
MARKED = ("red", "orange")  # alerts that mark their area on the map
MARKS = 300
MARK_FIELDS = ("id", "colour", "status", "community", "lat", "lon")
OPEN_FIELDS = [f"st:{s.value}" for s in Status if s not in CLOSED_STATUSES]


@dataclass(frozen=True)
class Scope:
    code: str
    name: str
    level: int


def scopes(rt: Runtime) -> list[Scope]:
    """The city and each district: the walls that can be shown."""
    return [Scope(a.code, a.name, a.level) for a in [rt.areas.city, *rt.areas.at_level(1)]]


@dataclass(frozen=True)
class ScopePlan:
    """What a scope's frame reads, worked out once: the streets it ranks and the areas it colours."""

    scope: Scope
    children: list
    map_level: int
    map_areas: list
    map_keys: list[str]
    static: dict  # people, housing and workforce of the scope: they change only with the city


def static_figures(scope: Scope, map_areas: list, grids: int, totals: dict[str, dict[str, int]]) -> dict:
    own = totals.get(scope.code, {})
    shown = [totals.get(a.code, {}) for a in map_areas]
    return {
        "people": {k: own.get(k, 0) for k in PEOPLE},
        "workforce": {k: own.get(k, 0) for k in WORKFORCE},
        "grids": grids,
        "max": {k: max((row.get(k, 0) for row in shown), default=0) for k in ("population", "workers")},
    }


def plan(rt: Runtime, scope: Scope, totals: dict[str, dict[str, int]] | None = None) -> ScopePlan:
    areas = rt.areas
    streets = [a for a in areas.at_level(2) if scope.code in a.chain]  # ranked on every wall
    map_level = 3  # communities: the wall's map colours them on every scope
    map_areas = [a for a in areas.at_level(map_level) if scope.code in a.chain]
    grids = sum(1 for a in areas.at_level(areas.grid_level) if scope.code in a.chain)
    return ScopePlan(scope, streets, map_level, map_areas, [rt.keys.area(a.code) for a in map_areas],
                     static_figures(scope, map_areas, grids, totals or {}))


@dataclass(frozen=True)
class WallAlert:
    """An unresolved alert as walls show it: `chain` picks the walls, `shown` goes into the frame."""

    chain: tuple[str, ...]
    shown: dict


def wall_alerts(rt: Runtime, map_level: int = 3) -> list[WallAlert]:
    """Every open or acknowledged alert, most severe first (bigscreen.alerts.alert_rows' order).
    Reads SQL: the publisher calls it only when an alert changed, never per frame."""
    out = []
    for r in alert_rows(rt, limit=ALERTS_READ):
        area = rt.areas.by_code.get(r["area"]) if r["area"] else None
        chain = area.chain if area else ()
        out.append(WallAlert(chain, {
            "id": r["id"], "colour": r["colour"], "title": r["title"], "count": r["count"], "status": r["status"],
            "area": r["area"], "area_name": r["area_name"] or "",
            "community": chain[map_level] if len(chain) > map_level else None,  # the map's area to mark
            "lat": area.lat if area else None, "lon": area.lon if area else None,
            "owner": r["owner"], "escalation": r["escalation"],
            "raised_at": _epoch_ms(r["raised_at"]), "acknowledged_at": _epoch_ms(r["acknowledged_at"]),
        }))
    return out


def _epoch_ms(iso: str | None) -> int | None:
    return None if iso is None else int(datetime.fromisoformat(iso).timestamp() * 1000)


def _alerts(alerts: Sequence[WallAlert], scope: Scope) -> tuple[list[dict], int, list[dict]]:
    """The scope's share: the city wall shows every alert, a district's those inside it. The
    ticker gets the most severe few; the map marks every red and orange one."""
    mine = [a.shown for a in alerts if scope.level == 0 or scope.code in a.chain]
    marks = [{k: a[k] for k in MARK_FIELDS} for a in mine if a["colour"] in MARKED]
    return mine[:ALERTS_SHOWN], len(mine), marks[:MARKS]


def build_frame(rt: Runtime, scope: Scope | ScopePlan, now: datetime, alerts: Sequence[WallAlert] = ()) -> dict:
    """`alerts`: the unresolved alerts the publisher holds (see `wall_alerts`); no SQL is read here."""
    p = scope if isinstance(scope, ScopePlan) else plan(rt, scope)
    scope, children, map_level, map_areas = p.scope, p.children, p.map_level, p.map_areas
    client, keys, contrib = rt.redis, rt.keys, rt.contributions
    hours = [(now - timedelta(hours=h)).astimezone(rt.tz) for h in range(TREND_HOURS - 1, -1, -1)]
    departments = rt.config.departments

    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.area(scope.code))
    pipe.hgetall(keys.day(scope.code, contrib.day(now)))
    for h in hours:
        pipe.hgetall(keys.trend(scope.code, h.strftime("%Y%m%d%H")))
    for a in children:
        pipe.hgetall(keys.area(a.code))
    for d in departments:
        pipe.hgetall(keys.department(d.code))
    rt.live.open_overdue(keys=p.map_keys, args=OPEN_FIELDS, client=pipe)
    pipe.xrevrange(keys.ticker, count=FEED_SCAN)
    replies = pipe.execute()

    whole, day = ints(replies[0]), ints(replies[1])
    at = 2
    trend_raw = replies[at : at + len(hours)]
    at += len(hours)
    child_raw = replies[at : at + len(children)]
    at += len(children)
    dept_raw = replies[at : at + len(departments)]
    at += len(departments)
    map_raw = replies[at]
    ticker = replies[-1]

    kpi = headline(scope.code, whole, day, now)
    shown_alerts, alerts_total, alert_marks = _alerts(alerts, scope)
    return {
        "scope": scope.code,
        "name": scope.name,
        "level": scope.level,
        "built_at": now.isoformat(),
        "built_ms": int(now.timestamp() * 1000),
        "kpi": {k: kpi[k] for k in KPI_NAMES},
        "targets": rt.config.city.targets.model_dump(),
        "categories": _categories(rt, day),
        "trend": _trend(hours, trend_raw),
        "areas": _ranked([(a.code, a.name, ints(r)) for a, r in zip(children, child_raw)]),
        "departments": _ranked([(d.code, d.name, ints(r)) for d, r in zip(departments, dept_raw)]),
        "map": _map(map_areas, map_raw, map_level, rt),
        "feed": _feed(ticker, scope),
        "static": p.static,
        "alerts": shown_alerts,
        "alerts_total": alerts_total,
        "alert_marks": alert_marks,
    }


def _categories(rt: Runtime, day: dict[str, int]) -> list[dict]:
    counts = []
    for c in rt.config.categories:
        n = sum(day.get(f"st:{s.value}:{c.code}", 0) for s in Status)
        if n:
            counts.append({"code": c.code, "name": c.name, "name_en": c.name_en, "count": n})
    return sorted(counts, key=lambda x: -x["count"])[:TOP_CATEGORIES]


def _trend(hours: list[datetime], raw: list[dict[bytes, bytes]]) -> dict:
    reported, closed = [], []
    for r in raw:
        fields = ints(r)
        reported.append(sum(v for f, v in fields.items() if f.endswith(":r")))
        closed.append(sum(v for f, v in fields.items() if f.endswith(":c")))
    return {"hours": [h.strftime("%H:00") for h in hours], "reported": reported, "closed": closed}


def _ranked(rows: list[tuple[str, str, dict[str, int]]]) -> list[dict]:
    """By on-time rate, best first; areas with no closed or overdue case yet go last."""
    out = []
    for code, name, h in rows:
        f = figures(h)
        out.append({"code": code, "name": name, "ontime_rate": f["ontime_rate"], "closure_rate": f["closure_rate"],
                    "open": f["open"], "overdue": f["overdue"], "reported": f["reported"]})
    out.sort(key=lambda x: (x["ontime_rate"] is None, -(x["ontime_rate"] or 0), -x["reported"]))
    return out[:RANKED]


def _map(map_areas, flat: list[int], level: int, rt: Runtime) -> dict:
    open_by, overdue_by = {}, {}
    for i, a in enumerate(map_areas):
        opened, overdue = flat[2 * i], flat[2 * i + 1]
        if opened:
            open_by[a.code] = opened
        if overdue:
            overdue_by[a.code] = overdue
    level_name = rt.config.city.levels[level]
    return {"level": level_name, "open": open_by, "overdue": overdue_by, "max": max(open_by.values(), default=0)}


def _feed(ticker, scope: Scope) -> list[dict]:
    items = []
    for entry_id, fields in ticker:
        e = {k.decode(): v.decode() for k, v in fields.items()}
        if scope.level and not e.get("grid", "").startswith(scope.code):
            continue
        items.append({
            "id": e.get("id"), "at": e.get("at"), "grid": e.get("grid_name", ""),
            "category": e.get("category"), "status": e.get("status"), "text": e.get("text", ""),
            "lat": float(e["lat"]) if e.get("lat") else None, "lon": float(e["lon"]) if e.get("lon") else None,
            "urgent": e.get("urgency", "normal") != "normal",
        })
        if len(items) >= FEED:
            break
    return items
