"""Point to grid: which grid holds a reported location. An STRtree, not a scan."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape


class GridLocator:
    def __init__(self, ids: Sequence[int], geometries: Sequence[Any]) -> None:
        self._ids = np.asarray(ids, dtype=np.int64)
        self._geoms = np.asarray(geometries, dtype=object)
        # Ties on a shared edge go to the lowest id, so the answer does not depend on row order.
        order = np.argsort(self._ids, kind="stable")
        self._ids, self._geoms = self._ids[order], self._geoms[order]
        shapely.prepare(self._geoms)
        self._tree = shapely.STRtree(self._geoms)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, dict]]) -> GridLocator:
        """rows: (grid id, GeoJSON geometry dict) pairs, e.g. from the areas table."""
        ids: list[int] = []
        geoms: list[Any] = []
        for grid_id, geojson in rows:
            ids.append(int(grid_id))
            geoms.append(shape(geojson))
        return cls(ids, geoms)

    def __len__(self) -> int:
        return len(self._ids)

    def locate(self, lat: float, lon: float) -> int | None:
        """The id of the grid containing the point (WGS84), or None outside every grid."""
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        return int(self._ids[hits.min()]) if len(hits) else None

    def locate_many(self, lats: Sequence[float], lons: Sequence[float]) -> list[int | None]:
        """Vectorised locate: one answer per point, in order."""
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        point_idx, geom_idx = self._tree.query(points, predicate="intersects")
        best = np.full(len(points), len(self._ids), dtype=np.int64)
        np.minimum.at(best, point_idx, geom_idx)
        return [int(self._ids[i]) if i < len(self._ids) else None for i in best]
