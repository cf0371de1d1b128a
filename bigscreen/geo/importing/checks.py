"""Geometry checks before anything is written.

Errors (the import is refused): no geometry, an empty one, a point or a line where an area belongs,
coordinates outside China. Warnings: geometries repaired with make_valid (self-intersections, a ring
drawn the wrong way), an area outside its parent beyond a share of its own area, siblings that
overlap or leave a gap beyond a share of area, an area above the grid level without children.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import shapely
from tqdm import tqdm

from bigscreen.geo.importing.report import ImportReport

CHINA = (73.4, 3.8, 135.1, 53.6)  # lon/lat box around the mainland, islands and seas


@dataclass(frozen=True)
class Tolerances:
    outside: float = 0.01   # share of an area's own area allowed outside its parent
    overlap: float = 0.01   # share of the smaller sibling's area two siblings may share
    gap: float = 0.01       # share of a parent's area its children may leave uncovered


def clean(geometry, where: dict, report: ImportReport):
    """A polygonal, valid geometry, or None (an error reported)."""
    if geometry is None or shapely.is_empty(geometry):
        report.error("empty", "no geometry (or none GDAL could read: a ring that does not close?)", **where)
        return None
    if not shapely.is_valid(geometry):
        reason = shapely.is_valid_reason(geometry)
        geometry = _polygonal(shapely.make_valid(geometry))
        if geometry is None:
            report.error("invalid", f"invalid geometry ({reason}) with no area left once repaired", **where)
            return None
        report.warn("repaired", f"invalid geometry repaired with make_valid ({reason})", **where)
    else:
        polygonal = _polygonal(geometry)
        if polygonal is None:
            report.error("not-an-area", f"a {geometry.geom_type}, not an area", **where)
            return None
        geometry = polygonal
    minx, miny, maxx, maxy = geometry.bounds
    if minx < CHINA[0] or miny < CHINA[1] or maxx > CHINA[2] or maxy > CHINA[3]:
        hint = " (projected coordinates? name the system with --crs EPSG:<number>)" if max(abs(minx), abs(maxx)) > 180 else ""
        report.error("outside-china", f"coordinates outside China: {minx:.4f},{miny:.4f} .. {maxx:.4f},{maxy:.4f}{hint}", **where)
        return None
    return geometry


def _polygonal(geometry):
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return None if geometry.is_empty or geometry.area == 0 else geometry
    if geometry.geom_type == "GeometryCollection":
        parts = [g for g in shapely.get_parts(geometry) if g.geom_type in ("Polygon", "MultiPolygon")]
        if parts:
            merged = shapely.union_all(parts)
            return merged if merged.area > 0 else None
    return None


def tree(codes: list[str], parents: list[str | None], geometries: list, levels: list[int], where: list[dict],
         top_level: int, grid_level: int, tol: Tolerances, report: ImportReport, progress: bool = False) -> None:
    """Children against their parents, siblings against each other. Lists are parallel, one entry per area."""
    geoms = np.asarray(geometries, dtype=object)
    index = {c: i for i, c in enumerate(codes)}
    areas = shapely.area(geoms)
    children: dict[int, list[int]] = defaultdict(list)
    for i, parent in enumerate(parents):
        if parent is not None and parent in index:
            children[index[parent]].append(i)
    steps = ["outside", "overlap", "gap"]
    outside_area = np.zeros(len(geoms))
    with tqdm(total=len(steps), desc="checking", unit="check", disable=not progress, leave=False) as bar:
        # outside the parent: only those the parent does not cover are cut
        kids = np.array([i for i, p in enumerate(parents) if p is not None and p in index], dtype=int)
        if len(kids):
            mums = np.array([index[parents[i]] for i in kids])
            shapely.prepare(geoms)
            loose = ~shapely.covers(geoms[mums], geoms[kids])
            kids, mums = kids[loose], mums[loose]
            outside_area[kids] = shapely.area(shapely.difference(geoms[kids], geoms[mums]))
            for i in kids:
                share = outside_area[i] / areas[i]
                if share > tol.outside:
                    report.warn("outside-parent", f"{share:.1%} of {codes[i]} lies outside its parent {parents[i]}",
                                code=codes[i], **where[i])
        bar.update()
        # siblings that overlap: candidates by bounding box among the same level, cut only when of one parent
        shared_area = np.zeros(len(geoms))
        level_of = np.asarray(levels)
        for level in np.unique(level_of):
            members = np.flatnonzero(level_of == level)
            left, right = shapely.STRtree(geoms[members]).query(geoms[members])
            left, right = members[left], members[right]
            keep = np.array([a < b and parents[a] == parents[b] for a, b in zip(left, right, strict=True)], dtype=bool)
            if not keep.any():
                continue
            left, right = left[keep], right[keep]
            both = shapely.area(shapely.intersection(geoms[left], geoms[right]))
            for a, b, area in zip(left, right, both, strict=True):
                if area <= 0:
                    continue
                if parents[a] is not None and parents[a] in index:
                    shared_area[index[parents[a]]] += area
                share = area / min(areas[a], areas[b])
                if share > tol.overlap:
                    report.warn("overlap", f"{codes[a]} and {codes[b]} overlap by {share:.1%} of the smaller",
                                code=codes[a], **where[a])
        bar.update()
        # gaps: what the children cover inside their parent is their area, less what lies outside it and
        # what two of them share (counted once more where three overlap: they are warned of already)
        for i, code in enumerate(codes):
            if levels[i] < grid_level and i not in children and levels[i] >= top_level:
                report.warn("no-children", f"{code} has no areas below it: points there find no grid",
                            code=code, **where[i])
        for mum, kids_of in children.items():
            covered = areas[kids_of].sum() - outside_area[kids_of].sum() - shared_area[mum]
            gap = 1 - covered / areas[mum]
            if gap > tol.gap:
                report.warn("gap", f"{gap:.1%} of {codes[mum]} is covered by none of its {len(kids_of)} children",
                            code=codes[mum], **where[mum])
        bar.update()
