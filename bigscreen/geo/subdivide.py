"""Geometry primitives: seeded points, k-means clusters, Voronoi cells clipped to a parent.

Work happens in a locally isotropic frame (longitude scaled by cos(latitude)) so cells
look round on the map. Cells are clipped exactly; `round_coverage` then snaps all leaves
together onto the 1e-5 grid, so neighbours share edges and parents can be their unions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

GRID = 1e-5  # 5 decimals, about a metre
Density = Callable[[np.ndarray], np.ndarray]  # scaled (n, 2) points -> relative density in (0, 1]


class Frame:
    """Maps WGS84 (lon, lat) to a plane where one unit is one degree of latitude."""

    def __init__(self, lat0: float) -> None:
        self.k = float(np.cos(np.radians(lat0)))

    def to_plane(self, xy: np.ndarray) -> np.ndarray:
        return xy * (self.k, 1.0)

    def to_wgs(self, xy: np.ndarray) -> np.ndarray:
        return xy / (self.k, 1.0)


def polygonal(geom: BaseGeometry) -> Polygon | MultiPolygon | None:
    """The polygonal part of an overlay result, or None when nothing with area is left."""
    if geom is None or geom.is_empty:
        return None
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    polys = [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and not p.is_empty]
    if not polys:
        return None
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


def round_geom(geom: BaseGeometry) -> Polygon | MultiPolygon | None:
    return polygonal(shapely.set_precision(geom, GRID))


def sample_points(
    geom: BaseGeometry, n: int, frame: Frame, rng: np.random.Generator, density: Density | None = None
) -> np.ndarray:
    """n points (plane coordinates) inside geom, drawn by rejection with the given density."""
    shapely.prepare(geom)
    minx, miny, maxx, maxy = geom.bounds
    out: list[np.ndarray] = [np.empty((0, 2))]
    have = 0
    batch = max(64, 4 * n)
    for _ in range(1000):  # a sliver may take long to hit: then it gets fewer points
        if have >= n:
            break
        xs = rng.uniform(minx, maxx, batch)
        ys = rng.uniform(miny, maxy, batch)
        inside = shapely.contains_xy(geom, xs, ys)
        pts = frame.to_plane(np.column_stack([xs[inside], ys[inside]]))
        if density is not None and len(pts):
            pts = pts[rng.random(len(pts)) < density(pts)]
        out.append(pts)
        have += len(pts)
    return np.concatenate(out)[:n]


def _cells(plane_pts: np.ndarray, parent: BaseGeometry, frame: Frame) -> np.ndarray:
    """Voronoi cells in WGS84, in the order of the points, clipped to parent."""
    minx, miny, maxx, maxy = parent.bounds
    pad = max(maxx - minx, maxy - miny) + 0.01
    box = shapely.box(*frame.to_plane(np.array([[minx - pad, miny - pad], [maxx + pad, maxy + pad]])).ravel())
    diagram = shapely.voronoi_polygons(shapely.multipoints(plane_pts), extend_to=box, ordered=True)
    cells = np.asarray(shapely.get_parts(diagram))
    cells = shapely.transform(cells, frame.to_wgs)
    return shapely.intersection(cells, parent)


def split(parent: BaseGeometry, plane_pts: np.ndarray, frame: Frame) -> list[Polygon | MultiPolygon | None]:
    """Cut parent into the Voronoi cells of the points (None for a cell left without area)."""
    if len(plane_pts) <= 1:
        return [parent]
    try:
        cells = _cells(plane_pts, parent, frame)
    except shapely.errors.GEOSException:  # coincident points: keep the parent whole
        return [parent] + [None] * (len(plane_pts) - 1)
    return [polygonal(c) for c in cells]


def relax(plane_pts: np.ndarray, parent: BaseGeometry, frame: Frame, rounds: int = 1) -> np.ndarray:
    """Lloyd relaxation: move each point to its cell's centroid (kept when that falls outside)."""
    if len(plane_pts) < 3:
        return plane_pts
    shapely.prepare(parent)
    pts = plane_pts.copy()
    for _ in range(rounds):
        try:
            cells = _cells(pts, parent, frame)
        except shapely.errors.GEOSException:
            break
        cents = shapely.get_coordinates(shapely.centroid(cells))
        if len(cents) != len(pts):
            break
        ok = shapely.contains_xy(parent, cents[:, 0], cents[:, 1])
        pts[ok] = frame.to_plane(cents[ok])
    return pts


def cluster(pts: np.ndarray, k: int, rng: np.random.Generator, rounds: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """k-means on points; returns (indices of the k medoid points, label of each point).

    Centres are snapped to member points so each lies inside the parent and owns its cell.
    """
    n = len(pts)
    if k >= n:
        return np.arange(n), np.arange(n)
    first = int(rng.integers(n))
    centres = [pts[first]]
    d2 = ((pts - pts[first]) ** 2).sum(1)
    for _ in range(1, k):  # k-means++
        nxt = int(rng.choice(n, p=d2 / d2.sum())) if d2.sum() > 0 else int(rng.integers(n))
        centres.append(pts[nxt])
        d2 = np.minimum(d2, ((pts - pts[nxt]) ** 2).sum(1))
    c = np.array(centres)
    for _ in range(rounds):
        labels = _nearest(pts, c)
        for j in range(k):
            members = pts[labels == j]
            if len(members):
                c[j] = members.mean(0)
    medoids = np.empty(k, dtype=int)
    taken: set[int] = set()
    for j in range(k):
        order = np.argsort(((pts - c[j]) ** 2).sum(1))
        medoids[j] = next(int(i) for i in order if int(i) not in taken)
        taken.add(int(medoids[j]))
    return medoids, _nearest(pts, pts[medoids])


def _nearest(pts: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return ((pts[:, None, :] - centres[None, :, :]) ** 2).sum(2).argmin(1)


def round_coverage(leaves: list[BaseGeometry]) -> list[Polygon | MultiPolygon | None]:
    """Snap a coverage onto the 1e-5 grid as a whole.

    Rounding each polygon alone would kink shared edges differently on each side. Instead
    all boundaries are noded together on the grid, the faces polygonized, and each face
    given to the leaf that holds its interior point: leaves then share edges exactly.
    """
    lines = shapely.union_all(shapely.boundary(np.asarray(leaves, dtype=object)), grid_size=GRID)
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(lines))))
    faces = shapely.transform(faces, lambda xy: np.round(xy, 5))  # 118.12345, not 118.12345000000001
    owner = shapely.STRtree(leaves).query_nearest(shapely.point_on_surface(faces), all_matches=False)[1]
    groups: list[list[BaseGeometry]] = [[] for _ in leaves]
    for face, i in zip(faces, owner, strict=True):
        groups[int(i)].append(face)
    return [None if not g else g[0] if len(g) == 1 else polygonal(shapely.union_all(g)) for g in groups]
