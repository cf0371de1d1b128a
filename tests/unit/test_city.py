"""The demo city: nesting, coverage, codes, people and workers, determinism, storage."""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from types import SimpleNamespace

import numpy as np
import pytest
import shapely
from sqlalchemy import func, select

from bigscreen.geo import names
from bigscreen.geo.citybuild import AreaPlan, CityPlan, build_city, store_city
from bigscreen.geo.outlines import FORCE_SYNTHETIC_ENV
from bigscreen.geo.people import HELPER_KINDS

DONGYING = {"370502": "东营区", "370503": "河口区", "370505": "垦利区", "370522": "利津县", "370523": "广饶县"}
FIVE = ["city", "district", "street", "community", "grid"]
CODE_LENGTH = {"city": 6, "district": 6, "street": 9, "community": 12, "grid": 15, "committee": 17, "building": 19}


def city_cfg(grids: int = 600, seed: int = 7, levels: list[str] | None = None, population: int = 2_200_000, code: str = "370500") -> SimpleNamespace:
    return SimpleNamespace(
        name="东营市",
        code=code,
        center=SimpleNamespace(lat=37.4346, lon=118.6749),
        levels=levels or FIVE,
        demo=SimpleNamespace(seed=seed, grids=grids, population=population, households_per_grid=300),
    )


def has_geotool() -> bool:
    try:
        import GeoToolCN  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module", params=["real", "synthetic"])
def plan(request) -> CityPlan:
    if request.param == "real" and not has_geotool():
        pytest.skip("geotool-cn not installed")
    built = build_city(city_cfg(), progress=False, synthetic=request.param == "synthetic")
    assert built.synthetic is (request.param == "synthetic")
    return built


def by_code(plan: CityPlan) -> dict[str, AreaPlan]:
    return {a.code: a for a in plan.areas}


def test_levels_and_counts(plan: CityPlan) -> None:
    counts = Counter(a.level_name for a in plan.areas)
    assert counts["city"] == 1 and counts["district"] == 5
    assert abs(counts["grid"] - 600) <= 30
    assert counts["district"] < counts["street"] < counts["community"] <= counts["grid"]
    for a in plan.areas:
        assert a.level == FIVE.index(a.level_name)
        assert a.geometry.geom_type in ("Polygon", "MultiPolygon") and a.geometry.is_valid and not a.geometry.is_empty


def test_every_area_inside_its_parent(plan: CityPlan) -> None:
    areas = by_code(plan)
    for a in plan.areas[1:]:
        assert a.geometry.difference(areas[a.parent_code].geometry).area < 1e-6


def test_children_cover_their_parent(plan: CityPlan) -> None:
    areas = by_code(plan)
    children: dict[str, list[AreaPlan]] = defaultdict(list)
    for a in plan.areas[1:]:
        children[a.parent_code].append(a)
    for parent_code, kids in children.items():
        parent = areas[parent_code].geometry.area
        assert sum(k.geometry.area for k in kids) == pytest.approx(parent, rel=1e-3)
    assert set(children) == {a.code for a in plan.areas if a.level_name != "grid"}


def test_siblings_do_not_overlap(plan: CityPlan) -> None:
    grids = [a.geometry for a in plan.areas if a.level_name == "grid"]
    tree = shapely.STRtree(grids)
    left, right = tree.query(grids, predicate="intersects")
    pairs = left < right
    overlap = shapely.intersection(np.asarray(grids)[left[pairs]], np.asarray(grids)[right[pairs]])
    assert shapely.area(overlap).max() < 1e-9


def test_coordinates_rounded_to_5_decimals(plan: CityPlan) -> None:
    coords = shapely.get_coordinates([a.geometry for a in plan.areas])
    assert np.array_equal(coords, np.round(coords, 5))


def test_codes_and_parents(plan: CityPlan) -> None:
    areas = by_code(plan)
    assert len(areas) == len(plan.areas)
    assert plan.areas[0].code == "370500" and plan.areas[0].parent_code is None
    seen: set[str] = set()
    for a in plan.areas:
        assert len(a.code) == CODE_LENGTH[a.level_name]
        if a.parent_code is not None:
            assert a.parent_code in seen  # parents come first
            parent = areas[a.parent_code]
            assert parent.level == a.level - 1
            if a.level_name != "district":
                assert a.code.startswith(a.parent_code)
        seen.add(a.code)
        assert plan.paths[a.code].split("/")[-1] == a.code
        assert plan.paths[a.code] == (a.code if a.parent_code is None else f"{plan.paths[a.parent_code]}/{a.code}")


def test_real_dongying_names(plan: CityPlan) -> None:
    districts = {a.code: a.name for a in plan.areas if a.level_name == "district"}
    assert districts == DONGYING
    real_streets = {d.name for code in DONGYING for d in names.streets(code)}
    streets = [a for a in plan.areas if a.level_name == "street"]
    assert all(s.name in real_streets for s in streets)
    real_streets_codes = {d.code for code in DONGYING for d in names.streets(code)}
    assert all(s.code in real_streets_codes for s in streets)
    real_communities = {d.name for s in streets for d in names.communities(s.code)}
    communities = [a for a in plan.areas if a.level_name == "community"]
    assert sum(c.name in real_communities for c in communities) > 0.9 * len(communities)
    assert all(c.name.endswith(("社区", "村")) for c in communities)


def test_grid_names_and_special_grids(plan: CityPlan) -> None:
    areas = by_code(plan)
    grids = [a for a in plan.areas if a.level_name == "grid"]
    special = [g for g in grids if g.kind == "special"]
    assert 3 <= len(special) < 0.1 * len(grids)
    assert all(g.name.endswith("专属网格") for g in special)
    for g in grids:
        if g.kind == "base":
            assert re.fullmatch(re.escape(areas[g.parent_code].name) + r"第\d+网格", g.name)
    assert {a.kind for a in plan.areas} == {"base", "special"}


def test_people_add_up(plan: CityPlan) -> None:
    grid_codes = {a.code for a in plan.areas if a.level_name == "grid"}
    assert set(plan.profiles) == grid_codes
    assert sum(p["population"] for p in plan.profiles.values()) == 2_200_000
    households = [p["households"] for p in plan.profiles.values()]
    assert 200 < np.median(households) < 400 and max(households) > 2 * min(households)
    for p in plan.profiles.values():
        assert p["population"] >= p["households"] >= 0 and p["buildings"] >= 1
        assert 0 <= p["cared_for"] <= p["population"] and p["key_places"] >= 0


def test_population_is_exact_for_any_total() -> None:
    built = build_city(city_cfg(grids=50, population=123_457), progress=False, synthetic=True)
    assert sum(p["population"] for p in built.profiles.values()) == 123_457


def test_one_full_time_worker_and_helpers_per_grid(plan: CityPlan) -> None:
    full = Counter(w["grid_code"] for w in plan.workers if w["role"] == "full_time")
    helpers = Counter(w["grid_code"] for w in plan.workers if w["role"] == "helper")
    assert set(full) == set(plan.profiles) and set(full.values()) == {1}
    assert min(helpers.values()) >= 2 and max(helpers.values()) <= 6
    for w in plan.workers:
        assert re.fullmatch(r"1[3-9]\d{9}", w["phone"])
        assert 2 <= len(w["name"]) <= 3
        assert (w["helper_kind"] is None) == (w["role"] == "full_time")
        assert w["helper_kind"] is None or w["helper_kind"] in HELPER_KINDS


def test_deterministic_for_a_seed(plan: CityPlan) -> None:
    again = build_city(city_cfg(), progress=False, synthetic=plan.synthetic)
    assert [(a.code, a.name, a.kind, a.geometry.wkb) for a in again.areas] == [(a.code, a.name, a.kind, a.geometry.wkb) for a in plan.areas]
    assert again.profiles == plan.profiles and again.workers == plan.workers
    other = build_city(city_cfg(seed=8), progress=False, synthetic=plan.synthetic)
    assert [a.geometry.wkb for a in other.areas[6:]] != [a.geometry.wkb for a in plan.areas[6:]]


def test_fallback_when_geotool_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "GeoToolCN", None)  # makes the import fail
    built = build_city(city_cfg(grids=60), progress=False)
    assert built.synthetic
    assert {a.code: a.name for a in built.areas if a.level_name == "district"} == DONGYING


def test_fallback_forced_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FORCE_SYNTHETIC_ENV, "1")
    assert build_city(city_cfg(grids=60), progress=False).synthetic


def test_synthetic_city_elsewhere_gets_derived_names() -> None:
    built = build_city(city_cfg(grids=80, code="990100"), progress=False)
    assert built.synthetic
    districts = [a for a in built.areas if a.level_name == "district"]
    assert [d.code for d in districts] == ["990101", "990102", "990103", "990104", "990105"]
    assert all(a.code.startswith("9901") for a in built.areas)


def test_six_levels() -> None:
    levels = FIVE + ["committee", "building"]
    built = build_city(city_cfg(grids=40, levels=levels), progress=False, synthetic=True)
    counts = Counter(a.level_name for a in built.areas)
    assert 40 <= counts["committee"] <= 120 and 2 * counts["committee"] <= counts["building"] <= 5 * counts["committee"]
    areas = by_code(built)
    for a in built.areas[1:]:
        assert a.level == levels.index(a.level_name)
        assert len(a.code) == CODE_LENGTH[a.level_name]
        assert a.geometry.difference(areas[a.parent_code].geometry).area < 1e-9


def test_level_left_out_moves_children_up() -> None:
    levels = ["city", "district", "street", "grid", "committee"]
    built = build_city(city_cfg(grids=60, levels=levels), progress=False, synthetic=True)
    areas = by_code(built)
    assert "community" not in {a.level_name for a in built.areas}
    for a in built.areas:
        if a.level_name == "grid":
            assert areas[a.parent_code].level_name == "street" and len(a.code) == 12 and a.level == 3


def test_bad_levels_are_refused() -> None:
    with pytest.raises(ValueError):
        build_city(city_cfg(levels=["district", "city", "grid"]), progress=False, synthetic=True)


def test_store_city(plan: CityPlan, tmp_path) -> None:
    from bigscreen.db.models import Area, Base, GridProfile, GridWorker
    from bigscreen.db.session import make_engine, make_sessionmaker

    engine = make_engine(f"sqlite:///{tmp_path / 'city.db'}")
    Base.metadata.create_all(engine)
    with make_sessionmaker(engine)() as session:
        ids = store_city(session, plan)
        session.commit()
        assert session.scalar(select(func.count()).select_from(Area)) == len(plan.areas)
        assert session.scalar(select(func.count()).select_from(GridProfile)) == len(plan.profiles)
        assert session.scalar(select(func.count()).select_from(GridWorker)) == len(plan.workers)
        assert session.scalar(select(func.sum(GridProfile.population))) == 2_200_000
        grid = next(a for a in plan.areas if a.level_name == "grid")
        row = session.get(Area, ids[grid.code])
        assert row.parent_id == ids[grid.parent_code] and row.path == plan.paths[grid.code]
        assert row.level == 4 and row.level_name == "grid" and row.name == grid.name
        assert shapely.geometry.shape(row.geometry).equals(grid.geometry)
        assert row.min_lon <= row.lon <= row.max_lon and row.min_lat <= row.lat <= row.max_lat
        assert grid.geometry.contains(shapely.Point(row.lon, row.lat))
    engine.dispose()


@pytest.mark.skipif(not has_geotool(), reason="geotool-cn not installed")
def test_full_size_city() -> None:
    built = build_city(city_cfg(grids=6000), progress=False)
    grids = sum(a.level_name == "grid" for a in built.areas)
    assert abs(grids - 6000) <= 300
    assert sum(p["population"] for p in built.profiles.values()) == 2_200_000
    assert built.seconds < 60
