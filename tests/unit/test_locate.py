"""Point to grid through the STRtree index."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import shapely
from shapely.geometry import mapping

from bigscreen.geo.citybuild import CityPlan, build_city
from bigscreen.geo.locate import GridLocator


@pytest.fixture(scope="module")
def plan() -> CityPlan:
    cfg = SimpleNamespace(
        name="东营市",
        code="370500",
        center=SimpleNamespace(lat=37.4346, lon=118.6749),
        levels=["city", "district", "street", "community", "grid"],
        demo=SimpleNamespace(seed=3, grids=600, population=2_200_000, households_per_grid=300),
    )
    return build_city(cfg, progress=False, synthetic=True)


@pytest.fixture(scope="module")
def grids(plan: CityPlan) -> list[tuple[int, shapely.Geometry]]:
    return [(1000 + i, a.geometry) for i, a in enumerate(a for a in plan.areas if a.level_name == "grid")]


@pytest.fixture(scope="module")
def locator(grids) -> GridLocator:
    return GridLocator.from_rows([(gid, mapping(geom)) for gid, geom in grids])


def test_finds_the_grid_of_each_representative_point(locator: GridLocator, grids) -> None:
    assert len(locator) == len(grids)
    for gid, geom in grids:
        p = geom.representative_point()
        assert locator.locate(p.y, p.x) == gid


def test_none_outside_every_grid(locator: GridLocator, plan: CityPlan) -> None:
    minx, miny, maxx, maxy = plan.areas[0].geometry.bounds
    assert locator.locate(miny - 0.1, minx - 0.1) is None
    assert locator.locate(0.0, 0.0) is None
    assert locator.locate(39.9, 116.4) is None


def test_shared_vertex_goes_to_the_lowest_id(locator: GridLocator, grids) -> None:
    gid, geom = grids[0]
    others = [(g, other) for g, other in grids[1:] if other.touches(geom)]
    g2, neighbour = others[0]
    x, y = shapely.get_coordinates(geom.intersection(neighbour))[0]
    assert locator.locate(y, x) == min(gid, g2)


def test_locate_many_agrees(locator: GridLocator, plan: CityPlan) -> None:
    rng = np.random.default_rng(0)
    minx, miny, maxx, maxy = plan.areas[0].geometry.bounds
    lons = rng.uniform(minx - 0.05, maxx + 0.05, 500)
    lats = rng.uniform(miny - 0.05, maxy + 0.05, 500)
    many = locator.locate_many(lats, lons)
    assert many == [locator.locate(la, lo) for la, lo in zip(lats, lons, strict=True)]
    assert any(m is None for m in many) and any(m is not None for m in many)


def test_empty_locator() -> None:
    empty = GridLocator.from_rows([])
    assert empty.locate(37.4, 118.6) is None
    assert empty.locate_many([37.4], [118.6]) == [None]
