"""Static map files: one hashed GeoJSON per level, a manifest, and the /geo route that serves them."""

from __future__ import annotations

import gzip
import hashlib
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from bigscreen.db.models import Area
from bigscreen.geo.assets import MANIFEST, ensure_level_assets, geo_dir, load_manifest
from tests_support import SQLITE_ONLY

LEVELS = ["district", "street", "community", "grid"]
TOO_PRECISE = re.compile(rb"\d\.\d{6,}")


@pytest.fixture
def manifest(runtime):
    return ensure_level_assets(runtime)


@pytest.fixture
def geo_client(runtime, manifest):
    from bigscreen.api import geo
    from bigscreen.app import create_api

    api = create_api(runtime)
    if not any(getattr(r, "path", "") == "/geo/{file_name}" for r in api.routes):
        api.include_router(geo.router)
    with TestClient(api) as c:
        yield c


@SQLITE_ONLY
def test_one_hashed_file_per_level_below_the_city(runtime, manifest):
    out = geo_dir(runtime.settings)
    assert list(manifest["levels"]) == LEVELS
    assert load_manifest(out) == manifest
    for level, info in manifest["levels"].items():
        blob = (out / info["file"]).read_bytes()
        assert re.fullmatch(rf"{level}-[0-9a-f]{{8}}\.json", info["file"])
        assert info["hash"] == hashlib.sha256(blob).hexdigest()[:8] and info["file"] == f"{level}-{info['hash']}.json"
        assert info["bytes"] == len(blob) and b"\n" not in blob and b", " not in blob
        assert gzip.decompress((out / (info["file"] + ".gz")).read_bytes()) == blob
        assert info["gzip_bytes"] < info["bytes"] / 3
        assert not TOO_PRECISE.search(blob)

        fc = json.loads(blob)
        expected = runtime.areas.at_level(runtime.areas.level_number(level))
        assert fc["type"] == "FeatureCollection" and info["features"] == len(fc["features"]) == len(expected)
        assert [{k: f["properties"][k] for k in ("code", "name", "parent")} for f in fc["features"]] == [
            {"code": a.code, "name": a.name, "parent": a.parent_code} for a in expected
        ]
        assert sum(f["properties"]["population"] for f in fc["features"]) == runtime.config.city.demo.population
        assert sum(f["properties"]["workers"] for f in fc["features"]) == len(runtime.areas.at_level(runtime.areas.grid_level))
        assert all(f["type"] == "Feature" and f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in fc["features"])
        west, south, east, north = info["bbox"]
        assert 117.5 < west < east < 119.6 and 36.5 < south < north < 38.5


@SQLITE_ONLY
def test_grid_geometry_is_simplified_without_gaps(runtime, manifest):
    import shapely
    from shapely.geometry import shape

    out = geo_dir(runtime.settings)
    fc = json.loads((out / manifest["levels"]["grid"]["file"]).read_bytes())
    grids = [shape(f["geometry"]) for f in fc["features"]]
    assert shapely.coverage_is_valid(grids)  # neighbours still share their edges exactly
    with runtime.sessions() as session:
        raw = [shape(g) for g in session.scalars(select(Area.geometry).where(Area.level_name == "grid"))]
    assert sum(len(g.exterior.coords) for g in grids if g.geom_type == "Polygon") <= sum(
        len(g.exterior.coords) for g in raw if g.geom_type == "Polygon")
    assert abs(shapely.union_all(grids).area - shapely.union_all(raw).area) / shapely.union_all(raw).area < 0.01


@SQLITE_ONLY
def test_ensure_rebuilds_only_when_the_areas_change(runtime, manifest):
    out = geo_dir(runtime.settings)
    stamp = (out / MANIFEST).stat().st_mtime_ns
    assert ensure_level_assets(runtime) == manifest
    assert (out / MANIFEST).stat().st_mtime_ns == stamp

    district = runtime.areas.at_level(1)[0]
    with runtime.sessions() as session, session.begin():
        session.execute(update(Area).where(Area.code == district.code).values(name="改名区"))
    rebuilt = ensure_level_assets(runtime)
    assert rebuilt["fingerprint"] != manifest["fingerprint"]
    assert rebuilt["levels"]["district"]["file"] != manifest["levels"]["district"]["file"]
    assert rebuilt["levels"]["grid"] == manifest["levels"]["grid"]
    assert "改名区" in (out / rebuilt["levels"]["district"]["file"]).read_text("utf-8")
    assert not (out / manifest["levels"]["district"]["file"]).exists()  # stale files go
    assert (out / rebuilt["levels"]["grid"]["file"]).exists()

    (out / rebuilt["levels"]["street"]["file"]).unlink()
    again = ensure_level_assets(runtime)
    assert (out / again["levels"]["street"]["file"]).exists()


@SQLITE_ONLY
def test_route_serves_hashed_files_for_a_year_gzipped(runtime, manifest, geo_client):
    info = manifest["levels"]["community"]
    blob = (geo_dir(runtime.settings) / info["file"]).read_bytes()

    r = geo_client.get(f"/geo/{info['file']}", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.content == blob
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["content-encoding"] == "gzip" and int(r.headers["content-length"]) == info["gzip_bytes"]
    assert r.headers["etag"] == f'"{info["hash"]}-gz"' and "accept-encoding" in r.headers["vary"].lower()
    assert "access-control-allow-origin" not in r.headers and "set-cookie" not in r.headers

    plain = geo_client.get(f"/geo/{info['file']}", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert plain.content == blob and plain.headers["etag"] == f'"{info["hash"]}"'
    assert geo_client.get(f"/geo/{info['file']}", headers={"Accept-Encoding": "gzip;q=0"}).headers.get("content-encoding") is None

    again = geo_client.get(f"/geo/{info['file']}", headers={"Accept-Encoding": "gzip", "If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and not again.content


@SQLITE_ONLY
def test_manifest_is_revalidated(manifest, geo_client):
    r = geo_client.get("/geo/manifest.json")
    assert r.status_code == 200 and r.json() == manifest
    assert r.headers["cache-control"] == "no-cache"
    assert geo_client.get("/geo/manifest.json", headers={"If-None-Match": r.headers["etag"]}).status_code == 304


@pytest.mark.parametrize("name", [
    "grid-00000000.json", "..%2Fsecret.json", "%2e%2e%2fsecret.json", "..", ".lock", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "manifest.json.gz", "community.json", "..%5Csecret.json", "extra.json", "%2Fetc%2Fpasswd",
])
@SQLITE_ONLY
def test_only_manifest_names_are_served(runtime, manifest, geo_client, name):
    (runtime.settings.data_dir / "secret.json").write_text("{}")
    (geo_dir(runtime.settings) / "extra.json").write_text("{}")
    r = geo_client.get(f"/geo/{name}")
    assert r.status_code == 404, (name, r.status_code)


@SQLITE_ONLY
def test_gz_files_are_not_reachable_by_name(manifest, geo_client):
    assert geo_client.get(f"/geo/{manifest['levels']['grid']['file']}.gz").status_code == 404
    assert geo_client.get("/geo/../secret.json").status_code == 404
    assert geo_client.get("/geo//etc/passwd").status_code == 404


def test_city_map_layout_loads_geometry_by_url():
    import dash_leaflet as dl

    from layouts.city_map import Legend, city_map
    from layouts.ids import map_ids

    manifest = {"levels": {"district": {"file": "district-0123abcd.json"}, "community": {"file": "community-89abcdef.json"}}}
    hideout = {"values": {"370502001001": 3}, "alerts": [], "max": 10}
    root = city_map("wall-map", (37.46, 118.67), 9, manifest, legend=Legend("事件密度", "少", "多", "预警"), hideout=hideout)
    ids = map_ids("wall-map")
    leaflet = root.children[0]
    assert isinstance(leaflet, dl.Map) and leaflet.id == ids.map
    assert leaflet.preferCanvas is True and leaflet.zoomControl is False and leaflet.attributionControl is False
    layers = {getattr(c, "id", None): c for c in leaflet.children}
    assert not any(isinstance(c, dl.TileLayer) for c in leaflet.children)
    assert layers[ids.fill].url == "/geo/community-89abcdef.json" and layers[ids.fill].hideout == hideout
    assert layers[ids.fill].style == {"variable": "bigscreen.map.areaStyle"}
    assert layers[ids.outline].url == "/geo/district-0123abcd.json"
    assert getattr(layers[ids.fill], "data", None) is None
    assert isinstance(layers[ids.events], dl.LayerGroup)
    legend_text = json.dumps(root.children[1].to_plotly_json(), default=lambda o: o.to_plotly_json(), ensure_ascii=False)
    assert all(t in legend_text for t in ("事件密度", "少", "多", "预警")) and '"10"' in legend_text

    tiled = city_map("m", (37.46, 118.67), 9, manifest, tile_url="http://10.0.0.5/tiles/{z}/{x}/{y}.png").children[0]
    assert tiled.children[0].url == "http://10.0.0.5/tiles/{z}/{x}/{y}.png"
