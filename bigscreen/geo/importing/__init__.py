"""`bigscreen city import`: a city's own boundaries, read, converted to WGS84, linked into a tree
and checked before anything is written (docs/IMPORT.md, "The map").

    report, plan = plan_import([Path("grids.zip")], city_cfg, crs="gcj02", fields=FieldMap.parse("code=GRID_CODE,name=NAME"))
    if report.ok: store the plan as `city build` stores the demo's (bigscreen.process.datadir.import_city)

`reading.py` (files, encodings, CRS) → `crs.py` (GCJ-02, BD-09, pyproj) → `hierarchy.py` (fields,
parents, levels) → `checks.py` (geometry) → `report.py` (what was found).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import shapely
from tqdm import tqdm

from bigscreen.geo.citybuild import AreaPlan, CityPlan
from bigscreen.geo.importing import checks, hierarchy
from bigscreen.geo.importing.checks import Tolerances
from bigscreen.geo.importing.hierarchy import FieldMap
from bigscreen.geo.importing.reading import BoundaryFileError, read_layers
from bigscreen.geo.importing.report import ImportReport

__all__ = ["BoundaryFileError", "FieldMap", "ImportReport", "Tolerances", "plan_import"]


def plan_import(paths: list[Path], city_cfg: Any, *, crs: str | None = None, encoding: str | None = None,
                fields: FieldMap | None = None, tolerances: Tolerances | None = None,
                progress: bool = False) -> tuple[ImportReport, CityPlan | None]:
    """The report, and the plan to store when it has no errors. A file that cannot be read at all
    raises BoundaryFileError (its message names the file, and the feature and field if any)."""
    levels = list(city_cfg.levels)
    city_code, grid_level = str(city_cfg.code), levels.index("grid")
    report = ImportReport()
    layers = read_layers(paths, crs=crs, encoding=encoding)
    for layer in layers:
        report.files.append({"source": layer.source, "features": len(layer), "crs": layer.crs, "encoding": layer.encoding})
        for note in layer.notes:
            report.warn("crs", note, source=layer.source)
    feats = hierarchy.features(layers, fields or FieldMap(), report)
    for f in tqdm(feats, desc="geometry", unit="area", disable=not progress, leave=False):
        f.geometry = checks.clean(f.geometry, {"source": f.source, "feature": f.number, "code": f.code}, report)
    feats = [f for f in feats if f.geometry is not None]
    linked = hierarchy.link(feats, city_code, levels, report)
    by_code = {f.code: f for f in feats}
    kept = sorted((by_code[code] for code in linked), key=lambda f: (linked[f.code][1], f.code))
    if not any(linked[f.code][1] == grid_level for f in kept) and not report.errors:
        deepest = max((linked[f.code][1] for f in kept), default=0)
        report.error("no-grids", f"no areas at the grid level: the deepest are {levels[deepest]}s; city.yaml's levels are "
                     f"{', '.join(levels)} (one file per level, or codes that nest: county 6 digits, township 9, community 12)")
    checks.tree([f.code for f in kept], [linked[f.code][0] if linked[f.code][0] != city_code else None for f in kept],
                [f.geometry for f in kept], [linked[f.code][1] for f in kept],
                [{"source": f.source, "feature": f.number} for f in kept], 1, grid_level,
                tolerances or Tolerances(), report, progress)
    report.levels = {levels[0]: 1}
    for f in kept:
        report.levels[levels[linked[f.code][1]]] = report.levels.get(levels[linked[f.code][1]], 0) + 1
    if not report.ok:
        return report, None
    city = by_code.get(city_code)
    districts = [f.geometry for f in kept if linked[f.code][1] == 1]
    city_geometry = city.geometry if city is not None else shapely.union_all(districts)
    areas = [AreaPlan(city_code, str(city_cfg.name), 0, "city", None, "base", city_geometry)]
    areas += [AreaPlan(f.code, f.name, linked[f.code][1], levels[linked[f.code][1]], linked[f.code][0], f.kind, f.geometry)
              for f in kept]
    return report, CityPlan(areas, profiles={}, workers=[])
