"""The wall's frame: everything one scope's wall shows, built from Redis alone (and the
unresolved alerts the publisher keeps in memory, read from SQL only when alerts change).

Built once per change (coalesced, see publisher.py) and handed as-is to every viewer, so a
refresh costs the same with ten thousand or ten million events in history and with one or
five hundred viewers. A wall shows no personal data: citizens' text (the feed, alerts' titles)
is masked here (bigscreen.auth.privacy), whoever looks at the wall.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from itertools import islice

from bigscreen.alerts.desk import COLOURS, alert_rows
from bigscreen.auth.privacy import mask_text
from bigscreen.geo.totals import PEOPLE, WORKFORCE
from bigscreen.live.contrib import MAP_LEVEL
from bigscreen.live.field_work import workforce
from bigscreen.live.kpi import FIGURE_FIELDS, KPI_NAMES, STATUS_FIELDS, headline, ints, named, standing
from bigscreen.process.runtime import Runtime

TOP_CATEGORIES = 8
RANK_BEST, RANK_LAST = 3, 2  # a ranking shows the best three and the last two (with a rate) of however many
FEED = 20
FEED_SCAN = 300  # recent ticker entries read to find a district's own
TREND_HOURS = 24
ALERTS_SHOWN = 12  # unresolved alerts a frame carries, most severe first
ALERTS_READ = 1000  # unresolved alerts read in all (each scope keeps its own most severe)
MARKED = ("red", "orange")  # alerts that mark their area on the map
MARKS = 300
MARK_FIELDS = ("id", "colour", "status", "community", "lat", "lon")
TREND_FIELDS = ("r", "c")  # reported, closed in the hour (bigscreen.live.contrib)
RANK_FIELDS = (*STATUS_FIELDS, "overdue", "ontime")  # what the rankings' rates are computed from


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
    map_key: str  # names the list of map areas: a page whose list has another key reloads
    map_fields: tuple[bytes, ...]  # their codes as the map hash's fields
    static: dict  # people, housing and workforce of the scope: they change with the city and its imports


def static_figures(scope: Scope, map_areas: list, grids: int, totals: dict[str, dict[str, int]]) -> dict:
    own = totals.get(scope.code, {})
    shown = [totals.get(a.code, {}) for a in map_areas]
    return {
        "people": {k: own.get(k, 0) for k in PEOPLE},
        "workforce": {k: own.get(k, 0) for k in WORKFORCE},
        "grids": grids,
        "max": {k: max((row.get(k, 0) for row in shown), default=0) for k in ("population", "workers")},
    }


def map_areas(rt: Runtime, scope_code: str) -> list:
    """The areas a scope's map colours, in the order the frame's map values follow."""
    return [a for a in rt.areas.at_level(MAP_LEVEL) if scope_code in a.chain]


def map_key(areas: Sequence) -> str:
    """Names the map's areas (codes, names, positions) as a page was built with them: a re-imported
    map that changed them gives another key, and walls built before it reload (geometry too)."""
    return f"{zlib.crc32(','.join(f'{a.code}:{a.name}:{a.lat}:{a.lon}' for a in areas).encode()):08x}"


def plan(rt: Runtime, scope: Scope, totals: dict[str, dict[str, int]] | None = None) -> ScopePlan:
    areas = rt.areas
    streets = [a for a in areas.at_level(2) if scope.code in a.chain]  # ranked on every wall
    shown = map_areas(rt, scope.code)
    grids = sum(1 for a in areas.at_level(areas.grid_level) if scope.code in a.chain)
    return ScopePlan(scope, streets, MAP_LEVEL, shown, map_key(shown), tuple(a.code.encode() for a in shown),
                     static_figures(scope, shown, grids, totals or {}))


@dataclass(frozen=True)
class WallAlert:
    """An unresolved alert as walls show it: `chain` picks the walls, `shown` goes into the frame,
    `rank` orders them as `alert_rows` does (most severe first, then oldest first)."""

    chain: tuple[str, ...]
    shown: dict
    rank: tuple = ()

    @cached_property
    def mark(self) -> dict | None:
        """What marks its area on the map (red and orange alerts), made once, not per frame."""
        return {k: self.shown[k] for k in MARK_FIELDS} if self.shown["colour"] in MARKED else None


def wall_alerts(rt: Runtime, map_level: int = MAP_LEVEL, ids: list[int] | None = None,
                after: tuple | None = None, limit: int | None = None, before: tuple | None = None) -> list[WallAlert]:
    """The most severe open or acknowledged alerts, up to `limit` (ALERTS_READ), most severe first
    (bigscreen.alerts.desk.alert_rows' order), only those ranked after `after` (a `WallAlert.rank`)
    if given; with `ids`, those alerts whatever their status (the publisher reads the ones announced
    as changed, see bigscreen.wall.publisher), only those ranked before `before` if given. Reads SQL:
    the publisher calls it only when an alert changed, never per frame."""
    out = []
    rows = (alert_rows(rt, limit=ALERTS_READ if limit is None else limit, after=after) if ids is None
            else alert_rows(rt, ids=ids, before=before))
    for r in rows:
        area = rt.areas.by_code.get(r["area"]) if r["area"] else None
        chain = area.chain if area else ()
        raised_at = datetime.fromisoformat(r["raised_at"])
        out.append(WallAlert(chain, {
            "id": r["id"], "colour": r["colour"], "title": mask_text(r["title"]), "count": r["count"], "status": r["status"],
            "area": r["area"], "area_name": r["area_name"] or "",
            "community": chain[map_level] if len(chain) > map_level else None,  # the map's area to mark
            "lat": area.lat if area else None, "lon": area.lon if area else None,
            "owner": r["owner"], "escalation": r["escalation"],
            "raised_at": int(raised_at.timestamp() * 1000), "acknowledged_at": _epoch_ms(r["acknowledged_at"]),
        }, (COLOURS.index(r["colour"]) if r["colour"] in COLOURS else len(COLOURS), raised_at, r["id"])))
    return out


def _epoch_ms(iso: str | None) -> int | None:
    return None if iso is None else int(datetime.fromisoformat(iso).timestamp() * 1000)


def _alerts_by_scope(alerts: Sequence[WallAlert], plans: Sequence[ScopePlan]) -> dict[str, Sequence[WallAlert]]:
    """Each scope's share of the alerts, most severe first: the city wall shows every alert, a
    district's those inside it. One pass over the alerts for all scopes, not one per scope."""
    mine: dict[str, list[WallAlert]] = {p.scope.code: [] for p in plans if p.scope.level}
    for a in alerts if mine else ():  # the city's wall alone (a build for changes, most often): no pass
        for code in a.chain:
            if code in mine:
                mine[code].append(a)
    return {p.scope.code: mine[p.scope.code] if p.scope.level else alerts for p in plans}


def _alerts(mine: Sequence[WallAlert]) -> tuple[list[dict], int, list[dict]]:
    """A scope's alerts as its frame carries them: the ticker gets the most severe few; the map
    marks every red and orange one."""
    marks = list(islice((a.mark for a in mine if a.mark is not None), MARKS))
    return [a.shown for a in mine[:ALERTS_SHOWN]], len(mine), marks


def build_frame(rt: Runtime, scope: Scope | ScopePlan, now: datetime, alerts: Sequence[WallAlert] = ()) -> dict:
    """One scope's frame (see `build_frames`)."""
    p = scope if isinstance(scope, ScopePlan) else plan(rt, scope)
    return build_frames(rt, [p], now, alerts)[p.scope.code]


def build_frames(rt: Runtime, plans: Sequence[ScopePlan], now: datetime, alerts: Sequence[WallAlert] = (),
                 ticker: Ticker | None = None) -> dict[str, dict]:
    """Every scope's frame from one Redis round trip, by scope code. Each hash is read once
    however many walls show it (a street is ranked on the city's wall and on its district's):
    area and department hashes by the fields shown, today's hashes and the map hash whole (their
    fields are bounded by the categories and the communities, and a field lookup in a small Redis
    hash is a scan), so the work stays the same however long the history.
    `alerts`: the unresolved alerts the publisher holds (see `wall_alerts`); no SQL is read here.
    `ticker`: the feed's entries held from the last build (`Ticker`: only newer ones are read)."""
    keys, contrib = rt.keys, rt.contributions
    hours = [(now - timedelta(hours=h)).astimezone(rt.tz) for h in range(TREND_HOURS - 1, -1, -1)]
    departments = rt.config.departments
    streets = list({a.code: a for p in plans for a in p.children}.values())

    pipe = rt.redis.pipeline(transaction=False)
    for p in plans:
        pipe.hmget(keys.area(p.scope.code), FIGURE_FIELDS)
        pipe.hgetall(keys.day(p.scope.code, contrib.day(now)))  # today's figures, field work and categories
        for h in hours:
            pipe.hmget(keys.trend(p.scope.code, h.strftime("%Y%m%d%H")), TREND_FIELDS)
    for a in streets:
        pipe.hmget(keys.area(a.code), RANK_FIELDS)
    for d in departments:
        pipe.hmget(keys.department(d.code), RANK_FIELDS)
    pipe.hgetall(keys.map_open)  # all of it: a field lookup in a small hash (a listpack) is a linear scan
    ticker = ticker or Ticker()
    ticker.read(pipe, keys)
    replies = iter(pipe.execute())

    per_scope = []
    for _ in plans:
        whole, day = named(FIGURE_FIELDS, next(replies)), ints(next(replies))
        per_scope.append((whole, day, [next(replies) for _ in hours]))
    street_rows = {a.code: (a.code, a.name, named(RANK_FIELDS, next(replies))) for a in streets}
    ranked_departments = _ranked([(d.code, d.name, named(RANK_FIELDS, next(replies))) for d in departments])
    opened = _counts(next(replies))
    ticker.take(next(replies))

    targets = rt.config.city.targets.model_dump()
    alerts_of = _alerts_by_scope(alerts, plans)
    frames = {}
    for p, (whole, day, trend_raw) in zip(plans, per_scope):
        kpi = headline(p.scope.code, whole, day, now)
        shown_alerts, alerts_total, alert_marks = _alerts(alerts_of[p.scope.code])
        frames[p.scope.code] = {
            "scope": p.scope.code,
            "name": p.scope.name,
            "level": p.scope.level,
            "built_at": now.isoformat(),
            "built_ms": int(now.timestamp() * 1000),
            "kpi": {k: kpi[k] for k in KPI_NAMES},
            "targets": targets,
            "categories": _categories(rt, day),
            "trend": _trend(hours, trend_raw),
            "areas": _ranked([street_rows[a.code] for a in p.children]),
            "departments": ranked_departments,
            "map": _map(p, opened, rt),
            "feed": ticker.feed(p.scope),
            "static": p.static,
            "field_work": _field_work(day, p.static, rt),
            "alerts": shown_alerts,
            "alerts_total": alerts_total,
            "alert_marks": alert_marks,
        }
    return frames


def _field_work(day: dict[str, int], static: dict, rt: Runtime) -> dict[str, int]:
    """Workers on duty, patrols and visits today, and what 一日两巡五访 asks of the scope's workers."""
    workers, norm = static["workforce"].get("workers", 0), rt.config.city.workforce
    return {**workforce(day), "patrols_target": workers * norm.patrols_per_day, "visits_target": workers * norm.visits_per_day}


def _categories(rt: Runtime, day: dict[str, int]) -> list[dict]:
    counts = []
    for c in rt.config.categories:
        n = day.get(f"cat:{c.code}", 0)
        if n:
            counts.append({"code": c.code, "name": c.name, "name_en": c.name_en, "count": n})
    return sorted(counts, key=lambda x: -x["count"])[:TOP_CATEGORIES]


def _trend(hours: list[datetime], raw: list[list[bytes | None]]) -> dict:
    reported = [int(r or 0) for r, _c in raw]
    closed = [int(c or 0) for _r, c in raw]
    return {"hours": [h.strftime("%H:00") for h in hours], "reported": reported, "closed": closed}


def _ranked(rows: list[tuple[str, str, dict[str, int]]]) -> list[dict]:
    """By on-time rate, best first (areas with no closed or overdue case yet go last), each with its
    rank: the best `RANK_BEST` and the last `RANK_LAST` that have a rate, or all of them if that is
    not more. A leader reads both ends: who leads, and who lags."""
    out = []
    for code, name, h in rows:
        f = standing(h)
        out.append({"code": code, "name": name, "ontime_rate": f["ontime_rate"], "closure_rate": f["closure_rate"],
                    "open": f["open"], "overdue": f["overdue"], "reported": f["reported"]})
    out.sort(key=lambda x: (x["ontime_rate"] is None, -(x["ontime_rate"] or 0), -x["reported"]))
    for i, row in enumerate(out):
        row["rank"] = i + 1
    rated = [row for row in out if row["ontime_rate"] is not None]
    if len(rated) <= RANK_BEST + RANK_LAST:
        return out[:RANK_BEST + RANK_LAST]
    return rated[:RANK_BEST] + rated[-RANK_LAST:]


def _map(p: ScopePlan, opened: dict[bytes, int], rt: Runtime) -> dict:
    """Open cases per area (what the map is coloured by), `sparse` against the order of the scope's
    map areas (the page has their codes; `key` tells it whether they are still the ones the frame means)."""
    counts = [opened.get(f, 0) for f in p.map_fields]
    return {"level": rt.config.city.levels[p.map_level], "key": p.map_key, "open": sparse(counts), "max": max(counts, default=0)}


def _counts(raw: dict[bytes, bytes]) -> dict[bytes, int]:
    """The map hash as {field: count}; its fields stay bytes, as the plans' `map_fields` are."""
    return {k: int(v) for k, v in raw.items()}


def sparse(values: Sequence[int]) -> list[int]:
    """[skip, value, skip, value, ...]: each non-zero value after the zeros skipped since the last
    one. A city of 1,700 communities, most of them quiet, costs a few bytes per busy one."""
    out, skipped = [], 0
    for v in values:
        if v:
            out += (skipped, v)
            skipped = 0
        else:
            skipped += 1
    return out


class Ticker:
    """The ticker's newest FEED_SCAN entries as a frame's feed shows them, each with its grid's code
    (which scopes' feeds it belongs to): decoded and masked once, not once per build and scope. A
    build reads only the entries newer than those held (their ids grow with time); `forget()` has
    the next build read them all again (the publisher does at (re)subscribing, after a rebuild and
    once a minute, as with the alerts)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict]] = []
        self.last: bytes | None = None  # the newest entry's id

    def forget(self) -> None:
        self.items, self.last = [], None

    def read(self, pipe, keys) -> None:
        pipe.xrevrange(keys.ticker, min=b"(" + self.last if self.last else "-", count=FEED_SCAN)

    def take(self, entries) -> None:
        """Takes the reply of `read` (newest first)."""
        if entries:
            self.items = ([(f.get(b"grid", b"").decode(), _feed_item(f)) for _id, f in entries] + self.items)[:FEED_SCAN]
            self.last = entries[0][0]

    def feed(self, scope: Scope) -> list[dict]:
        """The scope's newest FEED entries: the city's all, a district's those of its grids."""
        return list(islice((item for grid, item in self.items if not scope.level or grid.startswith(scope.code)), FEED))


def _feed_item(fields: dict[bytes, bytes]) -> dict:
    e = {k.decode(): v.decode() for k, v in fields.items()}
    return {
        "id": e.get("id"), "at": e.get("at"), "grid": e.get("grid_name", ""),
        "category": e.get("category"), "status": e.get("status"), "text": mask_text(e.get("text", "")),
        "lat": float(e["lat"]) if e.get("lat") else None, "lon": float(e["lon"]) if e.get("lon") else None,
        "urgent": e.get("urgency", "normal") != "normal",
    }
