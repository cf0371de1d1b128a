"""Re-importing an edited map over one with cases on it (`bigscreen city import`, docs/IMPORT.md, "Re-importing").

    mapping = read_mapping(Path("moves.csv"))            # old grid code → new grid code (optional)
    with session.begin():
        remap = plan_remap(session, plan, mapping, now)  # reads; what would change, and the errors
        if remap.ok: apply_remap(session, plan, remap, now)

Areas are matched by code. A code in both maps is kept (same id) and takes the new name, parent,
outline and kind (`renamed`, `moved` list what changed); a new code is added; a code the new map
lacks is **retired**, never deleted (`areas.retired_at`): the cases filed on it still name it, and
it is shown nowhere. A retired code that comes back is taken up again.

Closed cases keep their grid, retired or not: that is where they were handled, and what their
figures (on-time, satisfaction) were counted under. Open cases on a retired grid move, each the
first way that works: the mapping file's line for its grid; the new grid its point lies in; the new
grid that covers most of its old grid (a point just outside every new grid, or a case filed by code
with the grid's centre as its point). A case none of these places is an error: the import is
refused whole. Each move is a step of the case's log (`regrid`, role system, channel import), with
the old and new grid and how it was placed, and bumps the case's version (a concurrent change loses).

Grid workers of a retired grid move with its mapping line; without one they stay on the retired
grid (listed, for the next `workers import`). People-and-housing figures of retired grids go:
they describe a grid that no longer exists (import them again for the new grids).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape
from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy.orm import Session
from tqdm import tqdm

from bigscreen.db.models import Area, Event, EventTransition, GridProfile, GridWorker
from bigscreen.domain.lifecycle import OPEN_STATUSES
from bigscreen.geo.citybuild import CityPlan, area_paths, area_row, store_rows
from bigscreen.imports import tabular

MAPPING_FIELDS = [
    tabular.Field("old", True, ("old_code", "旧编码", "原编码", "原网格编码", "旧网格编码")),
    tabular.Field("new", True, ("new_code", "新编码", "新网格编码", "现网格编码")),
]
HOW = {  # how a case was placed: the log's note, Chinese first
    "mapping": ("按映射文件", "by the mapping file"),
    "point": ("按案件位置", "by the case's point"),
    "overlap": ("按原网格覆盖最多的新网格", "by the new grid covering most of the old one"),
}
ACTOR = "city import"
SHOWN = 10  # codes listed per kind in the summary
CHUNK = 2000  # rows per statement while storing


class MappingError(Exception):
    """The mapping file cannot be used as a whole (unreadable, or a line is wrong): names file and row."""


def read_mapping(path: Path | None, *, encoding: str | None = None) -> dict[str, str]:
    """A CSV or XLSX of two columns, old grid code → new grid code (headers `old`, `new`, or 旧编码,
    新编码 …). Refuses a code given twice, an empty cell, and anything tabular refuses."""
    if path is None:
        return {}
    out: dict[str, str] = {}
    first: dict[str, int] = {}
    problems: list[str] = []
    try:
        table = tabular.open_table(path, MAPPING_FIELDS, encoding=encoding)
        for row in table.rows():
            old, new = (str(row.values.get(k) or "").strip() for k in ("old", "new"))
            if not old or not new:
                problems.append(f"row {row.number}: both columns {table.column('old')} and {table.column('new')} are needed")
            elif old in out:
                problems.append(f"row {row.number}, column {table.column('old')}: '{old}' again (first at row {first[old]})")
            else:
                out[old], first[old] = new, row.number
    except tabular.TableError as exc:
        raise MappingError(str(exc)) from None
    if problems:
        raise MappingError(f"{path}: " + "; ".join(problems[:20]) + (f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""))
    return out


@dataclass
class Move:
    event_id: int
    status: str
    old: str
    new: str
    how: str


@dataclass
class Remap:
    """What a re-import changes, worked out before any write."""

    added: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    revived: list[str] = field(default_factory=list)  # retired before, in the new map again
    renamed: list[tuple[str, str, str]] = field(default_factory=list)  # code, old name, new name
    moved: list[tuple[str, str, str]] = field(default_factory=list)  # code, old parent, new parent
    reshaped: int = 0
    moves: list[Move] = field(default_factory=list)
    workers_moved: int = 0
    workers_left: dict[str, int] = field(default_factory=dict)  # retired grid → workers left on it
    profiles_dropped: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)  # code → id of every area the import keeps
    kept: dict[str, int] = field(default_factory=dict)  # code → id of areas in both maps
    mapping: dict[str, str] = field(default_factory=dict)  # the mapping file's lines

    @property
    def ok(self) -> bool:
        return not self.errors

    def moves_by_grid(self) -> list[tuple[str, str, str, int]]:
        """(old grid, new grid, how, cases), most cases first."""
        counted = Counter((m.old, m.new, m.how) for m in self.moves)
        return [(o, n, h, c) for (o, n, h), c in sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))]

    def text(self) -> str:
        def listed(codes) -> str:
            codes = list(codes)
            return ", ".join(codes[:SHOWN]) + (f" … ({len(codes) - SHOWN} more)" if len(codes) > SHOWN else "")

        lines = ["re-import over the map there (cases on it are kept):"]
        lines.append(f"  added: {len(self.added)}" + (f" ({listed(self.added)})" if self.added else ""))
        lines.append(f"  retired: {len(self.retired)}" + (f" ({listed(self.retired)})" if self.retired else ""))
        if self.revived:
            lines.append(f"  in use again: {len(self.revived)} ({listed(self.revived)})")
        lines.append(f"  renamed: {len(self.renamed)}" + (f" ({listed(f'{c} {a} → {b}' for c, a, b in self.renamed)})" if self.renamed else ""))
        if self.moved:
            lines.append(f"  under another parent: {len(self.moved)} ({listed(f'{c}: {a} → {b}' for c, a, b in self.moved)})")
        lines.append(f"  outlines changed: {self.reshaped}")
        lines.append(f"  open cases moved: {len(self.moves)}")
        for old, new, how, count in self.moves_by_grid():
            lines.append(f"    {old} → {new}: {count} ({HOW[how][1]})")
        if self.workers_moved:
            lines.append(f"  grid workers moved with the mapping file: {self.workers_moved}")
        if self.profiles_dropped:
            lines.append(f"  people-and-housing figures of retired grids dropped: {self.profiles_dropped}")
        for w in self.warnings:
            lines.append(f"  [warning] {w}")
        for e in self.errors:
            lines.append(f"  [error] {e}")
        return "\n".join(lines)


def plan_remap(session: Session, plan: CityPlan, mapping: dict[str, str]) -> Remap:
    """What storing `plan` over the map there changes; reads only. `mapping`: old grid code → new grid code."""
    out = Remap(mapping=dict(mapping))
    rows = session.execute(select(Area.id, Area.code, Area.name, Area.level_name, Area.parent_id, Area.retired_at,
                                  Area.min_lon, Area.min_lat, Area.max_lon, Area.max_lat, Area.lat, Area.lon)).all()
    old = {r.code: r for r in rows}
    code_of = {r.id: r.code for r in rows}
    new = {a.code: a for a in plan.areas}
    grid_level = "grid"
    new_grids = [a for a in plan.areas if a.level_name == grid_level]
    for a in plan.areas:
        was = old.get(a.code)
        if was is None:
            out.added.append(a.code)
            continue
        out.kept[a.code] = was.id
        if was.level_name != a.level_name:
            out.errors.append(f"{a.code} is a {was.level_name} in the map there and a {a.level_name} in the new one: "
                              f"give the {a.level_name} a code of its own")
        if was.retired_at is not None:
            out.revived.append(a.code)
        if was.name != a.name:
            out.renamed.append((a.code, was.name, a.name))
        if code_of.get(was.parent_id) != a.parent_code:
            out.moved.append((a.code, code_of.get(was.parent_id) or "-", a.parent_code or "-"))
        point = a.geometry.representative_point()
        if (round(point.y, 6), round(point.x, 6)) != (was.lat, was.lon) or \
                not np.allclose(a.geometry.bounds, (was.min_lon, was.min_lat, was.max_lon, was.max_lat)):
            out.reshaped += 1
    out.retired = sorted(c for c, r in old.items() if c not in new and r.retired_at is None)
    retired_grids = {c: old[c] for c in old if c not in new and old[c].level_name == grid_level}

    for src, dst in sorted(mapping.items()):
        if src in new:
            out.errors.append(f"mapping file: {src} is still in the new map (its cases stay on it): leave it out")
        elif src not in retired_grids:
            out.errors.append(f"mapping file: {src} is no grid of the map there")
        if new.get(dst) is None or new[dst].level_name != grid_level:
            out.errors.append(f"mapping file: {src} → {dst}: {dst} is no grid of the new map")

    retired_ids = {r.id: c for c, r in retired_grids.items()}
    open_cases = []
    ids = list(retired_ids)
    for start in range(0, len(ids), 500):
        open_cases += session.execute(
            select(Event.id, Event.grid_id, Event.lat, Event.lon, Event.status)
            .where(Event.grid_id.in_(ids[start:start + 500]), Event.status.in_([str(s) for s in OPEN_STATUSES]))
            .order_by(Event.id)).all()
    if open_cases:
        _place(session, out, open_cases, retired_ids, new_grids, mapping)

    if retired_grids:
        grid_ids = list(retired_ids)
        workers = session.execute(select(GridWorker.area_id, func.count()).where(GridWorker.area_id.in_(grid_ids))
                                  .group_by(GridWorker.area_id)).all()
        for area_id, count in workers:
            code = retired_ids[area_id]
            if mapping.get(code) in new:
                out.workers_moved += count
            else:
                out.workers_left[code] = count
        if out.workers_left:
            out.warnings.append(f"{sum(out.workers_left.values())} grid worker(s) stay on {len(out.workers_left)} retired grid(s) "
                                f"without a mapping line ({', '.join(sorted(out.workers_left)[:SHOWN])}): "
                                "import the roster again (`bigscreen workers import`)")
        out.profiles_dropped = session.scalar(select(func.count()).select_from(GridProfile)
                                              .where(GridProfile.area_id.in_(grid_ids))) or 0
    first_id = (session.scalar(select(func.max(Area.id))) or 0) + 1
    out.ids = dict(out.kept)
    out.ids.update((code, first_id + i) for i, code in enumerate(out.added))
    return out


def _place(session: Session, out: Remap, cases, retired_ids: dict[int, str], new_grids: list, mapping: dict[str, str]) -> None:
    geoms = np.asarray([g.geometry for g in new_grids], dtype=object)
    tree = shapely.STRtree(geoms)
    points = shapely.points(np.asarray([c.lon for c in cases], dtype=float), np.asarray([c.lat for c in cases], dtype=float))
    point_idx, geom_idx = tree.query(points, predicate="intersects")
    best = np.full(len(cases), len(new_grids), dtype=np.int64)
    np.minimum.at(best, point_idx, geom_idx)
    overlap: dict[str, str | None] = {}
    unplaced: dict[str, list[int]] = {}
    for case, hit in zip(cases, best, strict=True):
        code = retired_ids[case.grid_id]
        if code in mapping:
            out.moves.append(Move(case.id, case.status, code, mapping[code], "mapping"))
        elif hit < len(new_grids):
            out.moves.append(Move(case.id, case.status, code, new_grids[hit].code, "point"))
        else:
            if code not in overlap:
                overlap[code] = _largest_overlap(session, case.grid_id, tree, new_grids)
            if overlap[code] is not None:
                out.moves.append(Move(case.id, case.status, code, overlap[code], "overlap"))
            else:
                unplaced.setdefault(code, []).append(case.id)
    for code, ids in sorted(unplaced.items()):
        shown = ", ".join(map(str, ids[:5])) + (" …" if len(ids) > 5 else "")
        out.errors.append(f"{len(ids)} open case(s) on grid {code} (ids {shown}) cannot be placed: the grid is not in the new map, "
                          f"the mapping file has no line for it, their points lie in no new grid and no new grid overlaps it: "
                          f"add a line '{code},NEW_GRID_CODE' to the mapping file (--mapping)")


def _largest_overlap(session: Session, grid_id: int, tree: shapely.STRtree, new_grids: list) -> str | None:
    geometry = session.scalar(select(Area.geometry).where(Area.id == grid_id))
    old = shapely.make_valid(shape(geometry)) if geometry else None
    if old is None or old.is_empty:
        return None
    best, best_area = None, 0.01 * old.area  # a shared edge (or a sliver) places nothing
    for i in tree.query(old, predicate="intersects"):
        shared = shapely.intersection(old, new_grids[i].geometry).area
        if shared > best_area:
            best, best_area = new_grids[i].code, shared
    return best


def apply_remap(session: Session, plan: CityPlan, remap: Remap, now: datetime, *, mapping_name: str | None = None,
                progress: bool = False) -> None:
    """Writes what `plan_remap` worked out, in the caller's transaction (nothing is committed here)."""
    if not remap.ok:
        raise ValueError("a remap with errors is not applied")
    ids, paths = remap.ids, area_paths(plan.areas)
    rows = [area_row(a, ids[a.code], ids[a.parent_code] if a.parent_code else None, paths[a.code]) for a in plan.areas]
    kept = [dict(r, retired_at=None) for r in rows if r["code"] in remap.kept]
    added = [r for r in rows if r["code"] not in remap.kept]
    # parents first: an added area may hang under another added one, a kept one under an added one
    store_rows(session, insert(Area), added, "storing the map: new areas", progress)
    store_rows(session, update(Area), kept, "storing the map: kept areas", progress)  # bulk UPDATE by primary key
    if remap.retired:
        retired_ids = [r for r, in session.execute(select(Area.id).where(Area.code.in_(remap.retired)))]
        for start in range(0, len(retired_ids), 500):
            chunk = retired_ids[start:start + 500]
            session.execute(Area.__table__.update().where(Area.__table__.c.id.in_(chunk)).values(retired_at=now))
            session.execute(delete(GridProfile).where(GridProfile.area_id.in_(chunk)))
    code_ids = {c: i for c, i in session.execute(select(Area.code, Area.id))}
    for old, new in remap.mapping.items():  # grid workers follow their grid's mapping line
        if old in code_ids and new in code_ids:
            session.execute(GridWorker.__table__.update().where(GridWorker.__table__.c.area_id == code_ids[old])
                            .values(area_id=code_ids[new]))
    source = f"（{mapping_name}）" if mapping_name else ""
    events = Event.__table__
    with tqdm(total=len(remap.moves), unit="case", desc="moving open cases", disable=not progress, leave=False) as bar:
        for start in range(0, len(remap.moves), CHUNK):
            moves = remap.moves[start:start + CHUNK]
            _move(session, events, moves, code_ids, now, source)
            bar.update(len(moves))


def _move(session: Session, events, moves: list[Move], code_ids: dict[str, int], now: datetime, source: str) -> None:
    """Open cases to their new grids, each with a `regrid` step in its log."""
    session.execute(
        events.update().where(events.c.id == bindparam("event_id"))
        .values(grid_id=bindparam("new_grid"), version=events.c.version + 1),
        [{"event_id": m.event_id, "new_grid": code_ids[m.new]} for m in moves])
    session.execute(insert(EventTransition), [{
        "event_id": m.event_id, "action": "regrid", "from_status": m.status, "to_status": m.status, "at": now,
        "actor": ACTOR, "role": "system", "channel": "import", "department_code": None,
        "note": f"网格调整 {m.old} → {m.new}：原网格已撤销，{HOW[m.how][0]}{source if m.how == 'mapping' else ''} / "
                f"map re-import: grid {m.old} retired, moved to {m.new} {HOW[m.how][1]}",
    } for m in moves])

class RemapRefused(Exception):
    """The re-import found errors inside its transaction (the database changed since the dry run): nothing written."""

    def __init__(self, remap: Remap) -> None:
        self.remap = remap
        super().__init__("re-import refused, nothing written:\n" + "\n".join(f"  {e}" for e in remap.errors))


def remap_city(rt, plan: CityPlan, mapping: dict[str, str], *, mapping_name: str | None = None,
               progress: bool = False) -> Remap:
    """The whole re-import in one transaction: cases are held still while it reads and writes (the
    database's write lock on SQLite, a lock on `events` against changes on PostgreSQL), so no case
    lands on a grid it retires between the two. Raises RemapRefused with nothing written."""
    now = rt.clock()
    with rt.sessions() as session, session.begin():
        _hold_cases(session)
        remap = plan_remap(session, plan, mapping)
        if not remap.ok:
            raise RemapRefused(remap)
        apply_remap(session, plan, remap, now, mapping_name=mapping_name, progress=progress)
    rt.__dict__.pop("areas", None)
    return remap


def _hold_cases(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE"))
    else:  # a write first: SQLite then holds its write lock from here to the commit
        session.execute(Area.__table__.update().where(Area.__table__.c.id == -1).values(name=Area.__table__.c.name))
