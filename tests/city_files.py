"""Boundary files of the test city written with the real writer (pyogrio), as a GIS office would send them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely
from pyogrio.raw import write

from bigscreen.geo.importing import crs


def write_layer(path: Path, areas: list, *, shift=None, driver: str, encoding: str | None = None,
                prj: str | None = "EPSG:4326", parent: bool = False, code_field: str = "CODE",
                layer: str | None = None) -> Path:
    """`areas`: AreaPlans (or anything with code, name, parent_code, geometry); `shift`: a function of
    an (n, 2) array of lon/lat, e.g. crs.wgs84_to_gcj02."""
    geoms = np.array([a.geometry for a in areas], dtype=object)
    if shift is not None:
        geoms = shapely.transform(geoms, shift)
    fields = [code_field, "NAME"] + (["PARENT"] if parent else [])
    columns = [np.array([a.code for a in areas], dtype=object), np.array([a.name for a in areas], dtype=object)]
    if parent:
        columns.append(np.array([a.parent_code or "" for a in areas], dtype=object))
    multi = shapely.multipolygons(shapely.get_parts(geoms, return_index=True)[0], indices=shapely.get_parts(geoms, return_index=True)[1])
    write(str(path), shapely.to_wkb(multi), columns, fields, geometry_type="MultiPolygon", crs=prj,
          encoding=encoding, driver=driver, **({"layer": layer, "append": path.exists()} if layer else {}))
    return path


def gcj02(xy):
    return crs.wgs84_to_gcj02(xy)


def bd09(xy):
    return crs.wgs84_to_bd09(xy)
