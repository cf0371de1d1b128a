"""Build the demo city (areas, people and housing, grid workers) and store it.

    plan = build_city(city_cfg, progress=True, synthetic=False)
    store_city(session, plan)
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from shapely.geometry import MultiPolygon, Polygon, mapping
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session
from tqdm import tqdm

from bigscreen.geo import names, outlines, people
from bigscreen.geo.subdivide import Frame
from bigscreen.geo.tree import REAL_GRIDS, Builder, Node, settle

log = logging.getLogger(__name__)

LEVEL_ORDER = ("city", "district", "street", "community", "grid", "committee", "building")
CODE_WIDTH = {"street": 3, "community": 3, "grid": 3, "committee": 2, "building": 2}


@dataclass
class AreaPlan:
    code: str
    name: str
    level: int
    level_name: str
    parent_code: str | None
    kind: str
    geometry: Polygon | MultiPolygon


@dataclass
class CityPlan:
    areas: list[AreaPlan]
    profiles: dict[str, dict[str, int]]
    workers: list[dict[str, Any]]
    synthetic: bool = False
    seconds: float = 0.0
    paths: dict[str, str] = field(default_factory=dict)

    def at_level(self, level_name: str) -> list[AreaPlan]:
        return [a for a in self.areas if a.level_name == level_name]


def build_city(city_cfg: Any, progress: bool = True, synthetic: bool = False) -> CityPlan:
    started = time.perf_counter()
    levels = _check_levels(list(city_cfg.levels))
    demo = city_cfg.demo
    seed = int(demo.seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed & (2**63 - 1), 1]))
    pyrng = random.Random(f"{seed}-names")
    lat, lon = float(city_cfg.center.lat), float(city_cfg.center.lon)

    districts, used_synthetic = _outlines(str(city_cfg.code), lon, lat, outlines.want_synthetic(synthetic), rng)
    counts = people.largest_remainder(np.array([d.weight for d in districts]), int(demo.grids))
    below = tuple(level for level in ("committee", "building") if level in levels)
    with tqdm(total=int(demo.grids), unit="grid", desc=f"building {city_cfg.name}", disable=not progress, leave=False) as bar:
        builder = Builder(Frame(lat), rng, pyrng, set(), int(demo.grids) / REAL_GRIDS, below, bar.update)
        tree = [builder.district(d, max(1, int(n))) for d, n in zip(districts, counts, strict=True)]
        bar.set_postfix_str("rounding")
        city = Node("city", str(city_cfg.name), None, children=tree)
        settle(city)
    areas, stubs, paths = _emit(city, str(city_cfg.code), levels, {d.code: d.weight for d in districts})
    prng = np.random.default_rng(np.random.SeedSequence([seed & (2**63 - 1), 2]))
    profiles = people.profiles(stubs, int(demo.population), float(demo.households_per_grid), prng)
    workers = people.workers(stubs, random.Random(f"{seed}-workers"))
    return CityPlan(areas, profiles, workers, used_synthetic, time.perf_counter() - started, paths)


def _check_levels(levels: list[str]) -> list[str]:
    ranks = [LEVEL_ORDER.index(level) if level in LEVEL_ORDER else -1 for level in levels]
    if levels[:1] != ["city"] or "grid" not in levels or -1 in ranks or ranks != sorted(set(ranks)):
        raise ValueError(f"levels must start with 'city', include 'grid' and follow {LEVEL_ORDER}: {levels}")
    return levels


def _outlines(code: str, lon: float, lat: float, synthetic: bool, rng: np.random.Generator) -> tuple[list[outlines.DistrictOutline], bool]:
    if not synthetic:
        try:
            return outlines.real_districts(code), False
        except outlines.OutlinesUnavailable as exc:
            log.warning("%s; building a synthetic city instead", exc)
    real = [(d.code, d.name) for d in names.districts(code)]
    return outlines.synthetic_districts(code, lon, lat, rng, real if len(real) == 5 else None), True


def _emit(city: Node, city_code: str, levels: list[str], weights: dict[str, float]) -> tuple[list[AreaPlan], list[people.GridStub], dict[str, str]]:
    areas = [AreaPlan(city_code, city.name, 0, "city", None, "base", city.geometry)]
    paths = {city_code: city_code}
    stubs: list[people.GridStub] = []

    def visit(node: Node, code: str) -> None:
        kids = list(_shown_children(node, levels))
        for (child, _), child_code in zip(kids, _codes(code, kids), strict=True):
            areas.append(AreaPlan(child_code, child.name, levels.index(child.level), child.level, code, child.kind, child.geometry))
            paths[child_code] = f"{paths[code]}/{child_code}"
            if child.level == "grid":
                stubs.append(people.GridStub(child_code, weights.get(child.district, 1.0), child.district, child.urban, child.kind == "special"))
            visit(child, child_code)

    visit(city, city_code)
    return areas, stubs, paths


def _shown_children(node: Node, levels: list[str], direct: bool = True) -> Iterator[tuple[Node, bool]]:
    """Children on configured levels; the children of a level left out move up to its parent."""
    for child in node.children:
        if child.level in levels:
            yield child, direct
        else:
            yield from _shown_children(child, levels, False)


def _codes(parent_code: str, kids: list[tuple[Node, bool]]) -> list[str]:
    """District: its adcode. Below: parent code + real suffix where known, else the next free number."""
    if not kids:
        return []
    level = kids[0][0].level
    if level == "district":
        return [k.suffix or f"{parent_code[:4]}{i + 1:02d}" for i, (k, _) in enumerate(kids)]
    width = max(CODE_WIDTH[level], len(str(len(kids))))
    real = [k.suffix if direct and k.suffix and len(k.suffix) == width else None for k, direct in kids]
    taken = {s for s in real if s}
    free = (f"{n:0{width}d}" for n in range(1, 10**width) if f"{n:0{width}d}" not in taken)
    return [parent_code + (s or next(free)) for s in real]


def store_city(session: Session, plan: CityPlan, first_id: int | None = None, progress: bool = False) -> dict[str, int]:
    """Insert the plan's areas, profiles and workers in bulk; returns area id by code. No commit.
    Ids start after the highest there, or at `first_id`."""
    from bigscreen.db.models import Area, GridProfile, GridWorker

    next_id = first_id or (session.execute(select(func.max(Area.id))).scalar() or 0) + 1
    ids = {a.code: next_id + i for i, a in enumerate(plan.areas)}
    paths = plan.paths or _paths(plan.areas)
    rows = [area_row(a, ids[a.code], ids[a.parent_code] if a.parent_code else None, paths[a.code]) for a in plan.areas]
    store_rows(session, insert(Area), rows, "storing the map", progress)
    profiles = [{"area_id": ids[code], **p} for code, p in plan.profiles.items()]
    for chunk in _chunks(profiles, 5000):
        session.execute(insert(GridProfile), chunk)
    workers = [{"area_id": ids[w["grid_code"]], **{k: v for k, v in w.items() if k != "grid_code"}} for w in plan.workers]
    for chunk in _chunks(workers, 5000):
        session.execute(insert(GridWorker), chunk)
    return ids


def area_row(a: AreaPlan, area_id: int, parent_id: int | None, path: str) -> dict[str, Any]:
    """The areas table's columns of one planned area."""
    point = a.geometry.representative_point()
    minx, miny, maxx, maxy = a.geometry.bounds
    return {
        "id": area_id, "code": a.code, "name": a.name, "level": a.level, "level_name": a.level_name,
        "parent_id": parent_id, "path": path, "kind": a.kind,
        "geometry": mapping(a.geometry), "lat": round(point.y, 6), "lon": round(point.x, 6),
        "min_lon": minx, "min_lat": miny, "max_lon": maxx, "max_lat": maxy,
    }


def area_paths(areas: list[AreaPlan]) -> dict[str, str]:
    """Each area's path (codes from the city down, joined by '/'); parents come before children."""
    return _paths(areas)


def _paths(areas: list[AreaPlan]) -> dict[str, str]:
    paths: dict[str, str] = {}
    for a in areas:
        paths[a.code] = f"{paths[a.parent_code]}/{a.code}" if a.parent_code else a.code
    return paths


def store_rows(session: Session, statement: Any, rows: list[dict], desc: str, progress: bool, size: int = 2000) -> None:
    """`statement` (a bulk insert, or an update by primary key) over `rows` in chunks, with a progress
    bar of `desc`: storing a map is a long step."""
    with tqdm(total=len(rows), unit="area", desc=desc, disable=not progress, leave=False) as bar:
        for chunk in _chunks(rows, size):
            session.execute(statement, chunk)
            bar.update(len(chunk))


def _chunks(rows: list[dict], size: int) -> Iterator[list[dict]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]
