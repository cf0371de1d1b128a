"""Which coordinates a boundary file holds, and turning them into WGS84 longitude/latitude.

    to_wgs84 = converter("gcj02")          # or "bd09", "wgs84", "cgcs2000", "EPSG:4547", a .prj's WKT
    geometries = to_wgs84(geometries)      # a numpy array of shapely geometries

GCJ-02 (高德, 腾讯) and BD-09 (百度) are not datums PROJ knows: their published formulas come from
the `coordTransform` package (its C batch functions); the way back from GCJ-02 is the formula's
inverse refined by fixed-point iteration (Caijun 2014), so a point goes back to within a millimetre
rather than the metre or two of the one-step inverse. Everything else goes through pyproj.
CGCS2000 and WGS84 differ by centimetres: CGCS2000 is taken as it is.
"""

from __future__ import annotations

from collections.abc import Callable

import coordTransform
import numpy as np
import pyproj
import shapely

SHIFTED = {"gcj02": "GCJ-02", "bd09": "BD-09"}
GEOGRAPHIC = {"wgs84": "EPSG:4326", "cgcs2000": "EPSG:4490"}
ITERATIONS = 3  # each one divides the error by about 1,000: 500 m, 0.5 m, 0.5 mm, 0.5 µm


class CrsError(ValueError):
    """The coordinate system cannot be read or named."""


Convert = Callable[[np.ndarray], np.ndarray]


def describe(crs: str) -> str:
    """A short name for the report: "GCJ-02", "EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E)"."""
    key = crs.strip().lower().replace("-", "").replace("_", "")
    if key in SHIFTED:
        return SHIFTED[key]
    parsed = _parse(crs)
    epsg = parsed.to_epsg()
    return f"EPSG:{epsg} ({parsed.name})" if epsg else parsed.name


def converter(crs: str) -> Convert:
    """A function from geometries in `crs` to geometries in WGS84 lon/lat; raises CrsError."""
    key = crs.strip().lower().replace("-", "").replace("_", "")
    if key == "gcj02":
        return lambda geoms: shapely.transform(geoms, gcj02_to_wgs84)
    if key == "bd09":
        return lambda geoms: shapely.transform(geoms, bd09_to_wgs84)
    parsed = _parse(GEOGRAPHIC.get(key, crs))
    datum = parsed.geodetic_crs.to_epsg() if parsed.geodetic_crs is not None else None
    if parsed.is_geographic and datum in (4326, 4490):  # GDAL hands coordinates over as lon/lat
        return lambda geoms: geoms
    transformer = pyproj.Transformer.from_crs(parsed, "EPSG:4326", always_xy=True)

    def project(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return lambda geoms: shapely.transform(geoms, project)


def _parse(crs: str) -> pyproj.CRS:
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise CrsError(f"cannot read the coordinate system {crs[:80]!r}: use gcj02, bd09, wgs84, cgcs2000 or EPSG:<number>") from exc


# -- GCJ-02 and BD-09 ----------------------------------------------------------------------------

def wgs84_to_gcj02(xy: np.ndarray) -> np.ndarray:
    lon, lat = coordTransform.wgs84_to_gcj02(*_columns(xy))
    return np.column_stack([lon, lat])


def gcj02_to_wgs84(xy: np.ndarray) -> np.ndarray:
    """The inverse of `wgs84_to_gcj02`, iterated to a fixed point (the forward is smooth and close
    to the identity, so each step shrinks the error about a thousandfold)."""
    target = np.asarray(xy, dtype=float)
    guess = target.copy()
    for _ in range(ITERATIONS):
        guess = guess - (wgs84_to_gcj02(guess) - target)
    return guess


def bd09_to_gcj02(xy: np.ndarray) -> np.ndarray:
    lon, lat = coordTransform.bd09_to_gcj02(*_columns(xy))
    return np.column_stack([lon, lat])


def gcj02_to_bd09(xy: np.ndarray) -> np.ndarray:
    lon, lat = coordTransform.gcj02_to_bd09(*_columns(xy))
    return np.column_stack([lon, lat])


def bd09_to_wgs84(xy: np.ndarray) -> np.ndarray:
    """BD-09 → GCJ-02 refined against the forward formula too, then GCJ-02 → WGS84."""
    target = np.asarray(xy, dtype=float)
    guess = bd09_to_gcj02(target)
    for _ in range(ITERATIONS):
        guess = guess - (gcj02_to_bd09(guess) - target)
    return gcj02_to_wgs84(guess)


def wgs84_to_bd09(xy: np.ndarray) -> np.ndarray:
    return gcj02_to_bd09(wgs84_to_gcj02(xy))


def _columns(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xy = np.asarray(xy, dtype=float)
    if not len(xy):
        return np.zeros(0), np.zeros(0)
    return np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
