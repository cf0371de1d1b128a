"""District outlines: real ones from geotool-cn at run time, or a synthetic city.

geotool-cn's data has no redistribution licence, so it is read when the city is built
and never copied into the repository. Its data object is private API (pinned 3.1.0):
any difference in shape makes us fall back to the synthetic city.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from bigscreen.geo.subdivide import GRID, Frame, round_geom

FORCE_SYNTHETIC_ENV = "BIGSCREEN_SYNTHETIC_CITY"
SIMPLIFY = 0.0004  # coverage simplification, roughly 40 m: invisible at city zoom


@dataclass
class Seat:
    lon: float
    lat: float
    radius: float  # degrees of latitude over which the urban core thins out


@dataclass
class DistrictOutline:
    code: str
    name: str
    geometry: BaseGeometry
    seats: list[Seat]
    weight: float  # share of the population
    rural: float = 0.05  # density far from any seat, relative to a seat's centre
    extra: dict = field(default_factory=dict)


class OutlinesUnavailable(RuntimeError):
    pass


# District seats (county towns; 东营区 has two urban cores) and 2020 census population shares.
DONGYING: dict[str, tuple[list[Seat], float]] = {
    "370502": ([Seat(118.50, 37.46, 0.045), Seat(118.66, 37.44, 0.055)], 0.395),
    "370503": ([Seat(118.53, 37.89, 0.035)], 0.112),
    "370505": ([Seat(118.55, 37.59, 0.035)], 0.114),
    "370522": ([Seat(118.25, 37.49, 0.035)], 0.130),
    "370523": ([Seat(118.41, 37.06, 0.045)], 0.249),
}
SYNTHETIC_NAMES = ["中心区", "北区", "东区", "西区", "南区"]


def want_synthetic(synthetic: bool) -> bool:
    return synthetic or os.environ.get(FORCE_SYNTHETIC_ENV, "").lower() in {"1", "true", "yes"}


def real_districts(city_code: str) -> list[DistrictOutline]:
    try:
        from GeoToolCN import GeoTool  # type: ignore[import-not-found]

        data = GeoTool()._data
        lo, hi = data.level_ranges["district"]
        found = []
        for i in range(lo, hi):
            if str(data.parents[i]) != city_code:
                continue
            decoded = data.geometry(i)
            if decoded is None:
                continue
            scale = float(data.scale)
            _bbox, polygons = decoded
            parts = [
                Polygon(*_rings(rings, scale)) for rings in polygons
            ]
            found.append((str(data.adcodes[i]), str(data.names[i]), parts, float(data.lngs[i]), float(data.lats[i])))
    except Exception as exc:  # noqa: BLE001 - any failure of a private API means "not available"
        raise OutlinesUnavailable(f"geotool-cn outlines unavailable: {exc!r}") from exc
    if not found:
        raise OutlinesUnavailable(f"geotool-cn has no districts under {city_code}")
    geoms = [shapely.make_valid(p[0] if len(p) == 1 else MultiPolygon(p)) for _, _, p, _, _ in found]
    geoms = list(shapely.coverage_simplify(np.array(geoms, dtype=object), SIMPLIFY))
    out = []
    for (code, name, _, lng, lat), geom in zip(found, geoms, strict=True):
        geom = round_geom(geom)
        if geom is None:
            raise OutlinesUnavailable(f"empty outline for {code}")
        seats, weight = DONGYING.get(code, ([_fallback_seat(geom, lng, lat)], 1.0 / len(found)))
        out.append(DistrictOutline(code, name, geom, seats, weight))
    return out


def _rings(rings: list, scale: float) -> tuple[list, list]:
    coords = [list(zip(np.asarray(xs) / scale, np.asarray(ys) / scale, strict=True)) for xs, ys in rings]
    return coords[0], coords[1:]


def _fallback_seat(geom: BaseGeometry, lng: float, lat: float) -> Seat:
    if not geom.contains(shapely.Point(lng, lat)):
        p = geom.representative_point()
        lng, lat = p.x, p.y
    return Seat(lng, lat, 0.04)


def synthetic_districts(
    city_code: str, lon: float, lat: float, rng: np.random.Generator, names: list[tuple[str, str]] | None = None
) -> list[DistrictOutline]:
    """Five districts as plausible shapes: a wobbly city outline cut around a centre and four satellites."""
    frame = Frame(lat)
    radius = 0.45
    n = 72
    phase = rng.uniform(0, 2 * math.pi, 3)
    theta = np.linspace(0, 2 * math.pi, n, endpoint=False)
    r = radius * (1 + 0.12 * np.sin(2 * theta + phase[0]) + 0.08 * np.sin(3 * theta + phase[1]) + 0.04 * np.sin(7 * theta + phase[2]))
    ring = np.column_stack([r * np.cos(theta), r * np.sin(theta)]) + frame.to_plane(np.array([lon, lat]))
    outline = round_geom(Polygon(frame.to_wgs(ring)))
    # centre, north, east, west, south: the layout of Dongying's five districts
    offsets = np.array([[0, 0], [0, 1], [1, 0], [-1, 0], [0, -1]], dtype=float) * radius * 0.6
    offsets[1:] += rng.normal(0, radius * 0.08, (4, 2))
    seeds = frame.to_plane(np.array([lon, lat])) + offsets
    box = shapely.box(*(frame.to_plane(np.array([[lon - 2, lat - 2], [lon + 2, lat + 2]])).ravel()))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=box, ordered=True))
    cells = shapely.transform(cells, frame.to_wgs)
    names = names or [(f"{city_code[:4]}{i + 1:02d}", SYNTHETIC_NAMES[i]) for i in range(5)]
    weights = [0.395, 0.112, 0.114, 0.130, 0.249]
    out = []
    for i, cell in enumerate(cells):
        geom = round_geom(shapely.intersection(cell, outline, grid_size=GRID))
        slon, slat = frame.to_wgs(seeds[i])
        seat = Seat(float(slon), float(slat), 0.05 if i == 0 else 0.035)
        out.append(DistrictOutline(names[i][0], names[i][1], geom, [seat], weights[i]))
    return out
