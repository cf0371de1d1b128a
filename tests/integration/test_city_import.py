"""`bigscreen city import`: a city's own boundaries, written with the real writer (pyogrio) in the
shapes GIS offices send them, imported back into the product: same places, same tree, every check
reported before a write, bad files refused with file, feature and field named and the database untouched."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import shapely
from city_files import bd09, gcj02, write_layer
from click.testing import CliRunner
from pyogrio.raw import write
from sqlalchemy import func, select

from bigscreen.db.models import Area, Event
from bigscreen.geo.assets import ensure_level_assets, geo_dir
from bigscreen.geo.importing import BoundaryFileError, FieldMap, plan_import
from bigscreen.process.datadir import import_city

FIVE_METRES = 4.5e-5  # degrees of latitude; a degree of longitude is shorter here, so this is stricter


def stored(rt) -> dict[str, tuple]:
    with rt.sessions() as session:
        rows = session.execute(select(Area.code, Area.name, Area.level_name, Area.parent_id, Area.id, Area.geometry)).all()
    code_of = {r.id: r.code for r in rows}
    return {r.code: (r.name, r.level_name, code_of.get(r.parent_id), shapely.geometry.shape(r.geometry)) for r in rows}


def stored_ids(rt) -> list[tuple]:
    with rt.sessions() as session:
        return session.execute(select(Area.code, Area.name, Area.level_name, Area.parent_id, Area.id)).all()


def area_count(rt) -> int:
    with rt.sessions() as session:
        return session.scalar(select(func.count()).select_from(Area))


def same_city(rt, city_plan) -> None:
    got = stored(rt)
    assert set(got) == {a.code for a in city_plan.areas}
    for a in city_plan.areas:
        name, level, parent, geometry = got[a.code]
        assert (name, level, parent) == (a.name, a.level_name, a.parent_code)
        if a.level_name != "city":
            assert a.geometry.hausdorff_distance(geometry) < FIVE_METRES, a.code


def test_a_gcj02_shapefile_with_gbk_text_comes_back_in_place(runtime, city_plan, tmp_path):
    """Gaode's coordinates, a WGS84 .prj (as such exports carry), GBK names and no .cpg, zipped."""
    shp = write_layer(tmp_path / "网格.shp", city_plan.areas[1:], shift=gcj02, driver="ESRI Shapefile", encoding="GBK")
    shp.with_suffix(".cpg").unlink()
    archive = tmp_path / "grids.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in tmp_path.glob("网格.*"):
            z.write(part, f"export/{part.name}")
    with runtime.sessions() as session, session.begin():  # a different city there before
        session.execute(Area.__table__.update().values(name="旧名"))

    report, plan = plan_import([archive], runtime.config.city, crs="gcj02")
    assert report.ok, report.text()
    assert report.files[0]["encoding"] == "GBK" and report.files[0]["crs"] == "GCJ-02"
    old_ids = {info[4] for info in stored_ids(runtime)}
    import_city(runtime, plan)
    assert not old_ids & {info[4] for info in stored_ids(runtime)}  # a stale process's grid id never means another place

    same_city(runtime, city_plan)
    manifest = ensure_level_assets(runtime)
    assert set(manifest["levels"]) == {"district", "street", "community", "grid"}
    grid_file = json.loads((geo_dir(runtime.settings) / manifest["levels"]["grid"]["file"]).read_text())
    assert len(grid_file["features"]) == len(city_plan.at_level("grid"))
    grid = city_plan.at_level("grid")[7]
    inside = grid.geometry.representative_point()
    assert runtime.areas.locate(inside.y, inside.x).code == grid.code


def test_a_bd09_geojson_per_level_with_a_parent_field(runtime, city_plan, tmp_path):
    files = [write_layer(tmp_path / f"{level}.geojson", city_plan.at_level(level), shift=bd09, driver="GeoJSON",
                         parent=True, code_field="ID")
             for level in ("grid", "community", "street", "district")]
    report, plan = plan_import(files, runtime.config.city, crs="bd09", fields=FieldMap.parse("code=ID,name=NAME,parent=PARENT"))
    assert report.ok, report.text()
    assert report.levels == {"city": 1, "district": 5, "street": len(city_plan.at_level("street")),
                             "community": len(city_plan.at_level("community")), "grid": len(city_plan.at_level("grid"))}
    import_city(runtime, plan)
    same_city(runtime, city_plan)


def test_a_geopackage_with_a_layer_per_level_in_cgcs2000(test_config, city_plan, tmp_path):
    gpkg = tmp_path / "city.gpkg"
    for level in ("district", "street", "community", "grid"):
        write_layer(gpkg, city_plan.at_level(level), driver="GPKG", prj="EPSG:4490", layer=f"{level}s")
    report, plan = plan_import([gpkg], test_config.city)
    assert report.ok, report.text()
    assert [f["source"] for f in report.files] == [f"{gpkg}:{level}s" for level in ("district", "street", "community", "grid")]
    assert {f["crs"] for f in report.files} == {"EPSG:4490 (China Geodetic Coordinate System 2000)"}
    assert [(a.code, a.name, a.level_name, a.parent_code) for a in plan.areas] == [
        (a.code, a.name, a.level_name, a.parent_code) for a in sorted(city_plan.areas, key=lambda a: (a.level, a.code))]


@pytest.mark.parametrize("epsg", ["EPSG:4549", "EPSG:32650"])  # CGCS2000 3° zone (CM 120E); UTM zone 50N
def test_projected_gauss_kruger_and_utm_are_read_through_their_prj(test_config, city_plan, tmp_path, epsg):
    import pyproj

    to_plane = pyproj.Transformer.from_crs("EPSG:4490", epsg, always_xy=True)

    def project(xy):
        return np.column_stack(to_plane.transform(xy[:, 0], xy[:, 1]))

    shp = write_layer(tmp_path / "gk.shp", city_plan.areas[1:], shift=project, driver="ESRI Shapefile",
                      encoding="UTF-8", prj=epsg)
    report, plan = plan_import([shp], test_config.city)
    assert report.ok, report.text()
    assert report.files[0]["crs"].startswith(epsg) and report.files[0]["encoding"] == "UTF-8"
    back = {a.code: a.geometry for a in plan.areas}
    assert max(a.geometry.hausdorff_distance(back[a.code]) for a in city_plan.at_level("grid")) < FIVE_METRES


def test_every_check_is_reported_and_errors_refuse_the_import_whole(runtime, city_plan, tmp_path):
    before = stored(runtime)
    grids = city_plan.at_level("grid")
    bad = list(city_plan.areas[1:])
    first, second = grids[0], grids[1]
    x0, y0, x1, y1 = first.geometry.bounds
    bowtie = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])  # crosses itself
    bad[bad.index(first)] = type(first)(**{**first.__dict__, "geometry": bowtie})
    bad[bad.index(second)] = type(second)(**{**second.__dict__, "geometry": second.geometry.buffer(0.01)})  # over its siblings
    orphan = type(first)(**{**first.__dict__, "code": "370599999999001", "geometry": first.geometry})
    twice = type(first)(**{**grids[2].__dict__})
    abroad = type(first)(**{**grids[3].__dict__, "code": grids[3].code[:-3] + "999",
                             "geometry": shapely.affinity.translate(grids[3].geometry, xoff=-100)})
    path = write_layer(tmp_path / "bad.geojson", [*bad, orphan, twice, abroad], driver="GeoJSON")
    pin = grids[4].geometry.representative_point()  # a point where an area belongs, in a layer of its own
    pins = tmp_path / "pins.geojson"
    write(str(pins), shapely.to_wkb(np.array([pin], dtype=object)),
          [np.array([grids[4].code[:-3] + "998"], dtype=object), np.array(["打点"], dtype=object)],
          ["CODE", "NAME"], geometry_type="Point", crs="EPSG:4326", driver="GeoJSON")

    report, plan = plan_import([path, pins], runtime.config.city)

    assert plan is None and not report.ok
    checks = {p.check for p in report.errors}
    assert checks == {"orphan", "duplicate", "outside-china", "not-an-area"}
    point_problem = next(p for p in report.errors if p.check == "not-an-area")
    assert (point_problem.source, point_problem.feature, point_problem.message) == (str(pins), 1, "a Point, not an area")
    assert {p.check for p in report.warnings} >= {"repaired", "overlap", "outside-parent"}
    orphan_problem = next(p for p in report.errors if p.check == "orphan")
    assert (orphan_problem.source, orphan_problem.field, orphan_problem.code) == (str(path), "CODE", "370599999999001")
    assert next(p for p in report.errors if p.check == "duplicate").line().startswith(f"{path}, feature {len(bad) + 2}, field CODE: code ")
    assert orphan_problem.feature == len(bad) + 1
    assert any(p.code == first.code for p in report.warnings if p.check == "repaired")
    saved = json.loads(report.json())
    assert saved["ok"] is False and len(saved["errors"]) == len(report.errors)
    assert stored(runtime).keys() == before.keys()


def test_warnings_alone_let_the_import_through(test_config, city_plan, tmp_path):
    areas = list(city_plan.areas[1:])
    grid = city_plan.at_level("grid")[0]
    x0, y0, x1, y1 = grid.geometry.bounds
    areas[areas.index(grid)] = type(grid)(**{**grid.__dict__, "geometry": shapely.Polygon(
        [(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])})
    crowded = next(c for c in city_plan.at_level("community") if sum(g.parent_code == c.code for g in city_plan.at_level("grid")) > 2)
    dropped = next(g for g in city_plan.at_level("grid") if g.parent_code == crowded.code and g.code != grid.code)
    areas.remove(dropped)  # leaves a hole in its community
    report, plan = plan_import([write_layer(tmp_path / "w.geojson", areas, driver="GeoJSON")], test_config.city)
    assert report.ok and plan is not None
    assert [p.code for p in report.warnings if p.check == "repaired"] == [grid.code]
    assert crowded.code in [p.code for p in report.warnings if p.check == "gap"]
    assert not report.errors
    assert "repaired" in report.text() and len(plan.areas) == len(city_plan.areas) - 1


# -- bad input: a clear message naming file, feature and field; the database untouched ----------

def refused(rt, paths, **options) -> str:
    before = area_count(rt)
    with pytest.raises(BoundaryFileError) as caught:
        plan_import(paths, rt.config.city, **options)
    assert area_count(rt) == before
    return str(caught.value)


def test_bad_files_are_refused_with_file_feature_and_field(runtime, city_plan, tmp_path):
    grids = city_plan.at_level("grid")[:3]
    fake = tmp_path / "grids.shp"
    fake.write_text("GRID_CODE,NAME\n1,东城\n")
    assert "grids.shp: cannot be read as ESRI Shapefile" in refused(runtime, [fake], crs="wgs84")

    for name, kind in (("grids.geojson", "GeoJSON"), ("grids.gpkg", "GeoPackage")):
        (tmp_path / name).write_text("GRID_CODE,NAME\n1,东城\n")
        assert refused(runtime, [tmp_path / name], crs="wgs84") == \
            f"{tmp_path / name}: cannot be read as {kind}: not in that format (nor in any other GDAL reads)"
    (tmp_path / "grids.zip").write_text("GRID_CODE,NAME\n1,东城\n")
    assert refused(runtime, [tmp_path / "grids.zip"], crs="wgs84") == f"{tmp_path / 'grids.zip'}: not a zip file"
    (tmp_path / "grids.csv").write_text("GRID_CODE,NAME\n1,东城\n")
    assert refused(runtime, [tmp_path / "grids.csv"]).startswith(f"{tmp_path / 'grids.csv'}: not a boundary file this import reads")

    no_shp = tmp_path / "nothing.zip"
    with zipfile.ZipFile(no_shp, "w") as z:
        z.writestr("readme.txt", "hi")
    assert refused(runtime, [no_shp], crs="wgs84") == f"{no_shp}: the zip holds no .shp (readme.txt)"

    gbk = write_layer(tmp_path / "gbk.shp", grids, driver="ESRI Shapefile", encoding="GBK")
    gbk.with_suffix(".cpg").unlink()
    message = refused(runtime, [gbk], encoding="UTF-8")
    assert message.startswith(f"{gbk}: feature 1, field NAME: the text is not valid UTF-8")
    gbk.with_suffix(".cpg").write_text("UTF-8")  # a .cpg that is wrong about its .dbf
    assert refused(runtime, [gbk]) == (f"{gbk}: feature 1, field NAME: the text is not valid UTF-8 (from its .cpg); "
                                       "name the encoding with --encoding")
    assert plan_import([gbk], runtime.config.city, encoding="GBK")[0].files[0]["encoding"] == "GBK"  # --encoding wins
    gbk.with_suffix(".cpg").unlink()

    gbk.with_suffix(".prj").write_text("PROJCS[garbage")
    assert refused(runtime, [gbk]) .startswith(f"{gbk}: the coordinate system in its .prj cannot be read")
    gbk.with_suffix(".prj").unlink()
    assert refused(runtime, [gbk]).startswith(f"{gbk}: no coordinate system (no .prj); name it with --crs")
    assert "cannot read the coordinate system 'EPSG:999999'" in refused(runtime, [gbk], crs="EPSG:999999")

    big = tmp_path / "huge.geojson"
    with open(big, "wb") as f:
        f.truncate(2 * 2**30)  # sparse: takes no disk
    assert "huge.geojson: 2.0 GiB is more than" in refused(runtime, [big])


def test_a_ring_that_does_not_close_and_a_loop_of_parents_are_named(runtime, tmp_path):
    before = area_count(runtime)
    open_ring = tmp_path / "open.geojson"
    open_ring.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": c, "name": n},
         "geometry": {"type": "Polygon", "coordinates": [[[118.5, 37.4], [118.6, 37.4], [118.6, 37.5], *end]]}}
        for c, n, end in (("370502", "东营区", [[118.5, 37.4]]), ("370503", "河口区", []))]}))
    report, plan = plan_import([open_ring], runtime.config.city)
    assert plan is None
    assert [(p.check, p.source, p.feature, p.code) for p in report.errors if p.check != "no-grids"] == [
        ("empty", str(open_ring), 2, "370503")]
    assert "a ring that does not close" in report.text()
    loop = tmp_path / "loop.geojson"
    square = {"type": "Polygon", "coordinates": [[[118.5, 37.4], [118.6, 37.4], [118.6, 37.5], [118.5, 37.4]]]}
    loop.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": c, "name": n, "up": p}, "geometry": square}
        for c, n, p in (("A", "甲", "B"), ("B", "乙", "C"), ("C", "丙", "A"))]}))
    report, plan = plan_import([loop], runtime.config.city, fields=FieldMap.parse("code=code,name=name,parent=up"))
    assert plan is None
    assert [p.line() for p in report.errors if p.check == "loop"] == [
        f"{loop}, feature 1, field up: the parents go round in a loop: A → B → C → A"]
    missing = plan_import([loop], runtime.config.city, fields=FieldMap.parse("code=GRID_CODE,name=name"))[0]
    assert [(p.check, p.field, p.source) for p in missing.errors] == [("field", "GRID_CODE", str(loop))]
    assert area_count(runtime) == before


def test_the_command_reports_dry_runs_imports_and_rebuilds(runtime, city_plan, tmp_path, monkeypatch):
    from bigscreen.cli import main

    for name, value in (("DATA_DIR", runtime.settings.data_dir), ("DATABASE_URL", runtime.settings.database_url),
                        ("REDIS_URL", runtime.settings.redis_url)):
        monkeypatch.setenv(f"BIGSCREEN_{name}", str(value))
    shp = write_layer(tmp_path / "city.shp", city_plan.areas[1:], shift=gcj02, driver="ESRI Shapefile", encoding="GBK")
    runner = CliRunner()
    dry = runner.invoke(main, ["city", "import", str(shp), "--crs", "gcj02", "--dry-run", "--quiet",
                               "--report", str(tmp_path / "r.json")])
    assert dry.exit_code == 0, dry.output
    assert "text in GBK" in dry.output and "dry run: nothing written" in dry.output
    assert json.loads((tmp_path / "r.json").read_text())["ok"] is True

    by_prj = runner.invoke(main, ["city", "import", str(shp), "--quiet", "--dry-run"])  # no --crs: the .prj's WGS84
    assert by_prj.exit_code == 0 and "EPSG:4326 (WGS 84)" in by_prj.output, by_prj.output
    shp.with_suffix(".prj").unlink()
    unnamed = runner.invoke(main, ["city", "import", str(shp), "--quiet"])
    assert unnamed.exit_code == 1 and "no coordinate system (no .prj); name it with --crs" in unnamed.output
    runner.invoke(main, ["city", "import", str(shp), "--quiet", "--report", str(tmp_path / "refused.json")])
    refused_report = json.loads((tmp_path / "refused.json").read_text())
    assert refused_report["ok"] is False and "no coordinate system" in refused_report["errors"][0]["message"]

    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0
    unwritable = runner.invoke(main, ["city", "import", str(shp), "--crs", "gcj02", "--dry-run", "--quiet",
                                      "--report", str(tmp_path / "no" / "r.json")])
    assert unwritable.exit_code == 2 and "cannot write" in unwritable.output and "Traceback" not in unwritable.output
    broken = runner.invoke(main, ["city", "import", str(shp), "--crs", "gcj02", "--fields", "code=CODE,nme=NAME"])
    assert broken.exit_code == 2 and "'nme=NAME': expected KEY=FIELD" in broken.output
    done = runner.invoke(main, ["city", "import", str(shp), "--crs", "gcj02", "--quiet"])
    assert done.exit_code == 0, done.output
    assert "city imported" in done.output and "live counters rebuilt" in done.output
    same_city(runtime, city_plan)


def test_a_map_with_cases_on_it_is_not_replaced(runtime, client, city_plan, tmp_path):
    from bigscreen.process.datadir import CityInUse

    grid = city_plan.at_level("grid")[0]
    point = grid.geometry.representative_point()
    answer = client.post("/api/v1/events", json={
        "source_id": "before-import", "channel": "grid_app", "item": runtime.config.categories[0].items[0].code,
        "urgency": "normal", "description": "楼道堆放杂物", "lat": point.y, "lon": point.x})
    assert answer.status_code in (200, 201), answer.text
    report, plan = plan_import([write_layer(tmp_path / "c.geojson", city_plan.areas[1:], driver="GeoJSON")], runtime.config.city)
    assert report.ok
    before = stored(runtime)
    with pytest.raises(CityInUse, match="holds 1 case on the map there now"):
        import_city(runtime, plan)
    assert stored(runtime).keys() == before.keys()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_rebuilt_demo_city_reaches_a_running_server_and_is_refused_over_cases(runtime, api_key, live_server, monkeypatch):
    """`city build` tells running processes (map:version) as `city import` does; over cases it refuses, nothing written."""
    import threading
    import time

    import httpx

    from bigscreen.cli import main
    from bigscreen.configuration.loading import load_config
    from bigscreen.jobs.watch import start_watch, sync_live
    from bigscreen.process.settings import REPO_CONFIG_DIR

    for name, value in (("DATA_DIR", runtime.settings.data_dir), ("DATABASE_URL", runtime.settings.database_url),
                        ("REDIS_URL", runtime.settings.redis_url)):
        monkeypatch.setenv(f"BIGSCREEN_{name}", str(value))
    demo_grids = load_config(REPO_CONFIG_DIR).city.demo.grids
    assert demo_grids != len(runtime.areas.at_level(runtime.areas.grid_level))
    sync_live(runtime)
    stop = threading.Event()
    watch = start_watch(runtime, stop)
    web = httpx.Client(base_url=live_server.url, headers={"X-API-Key": api_key}, timeout=10)
    try:
        built = CliRunner().invoke(main, ["city", "build", "--quiet"])
        assert built.exit_code == 0, built.output
        deadline = time.monotonic() + 20
        while len(grids := web.get("/api/v1/areas", params={"level": "grid"}).json()) != demo_grids and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(grids) == demo_grids, "the running server still shows the city from before the build"
        with runtime.sessions() as session:
            geometry = session.scalar(select(Area.geometry).where(Area.code == grids[0]["code"]))
        point = shapely.geometry.shape(geometry).representative_point()
        answer = web.post("/api/v1/events", json={
            "source_id": "on-the-new-city", "channel": "grid_app", "item": runtime.config.categories[0].items[0].code,
            "urgency": "normal", "description": "楼道堆放杂物", "lat": point.y, "lon": point.x})
        assert answer.status_code in (200, 201) and answer.json()["grid"] == grids[0]["code"], answer.text
    finally:
        web.close()
        stop.set()
        watch.join(5)
    before = stored_ids(runtime)
    refused_build = CliRunner().invoke(main, ["city", "build", "--quiet"])
    assert refused_build.exit_code == 1 and "holds 1 case on the map there now" in refused_build.output, refused_build.output
    assert "for a fresh demo, give another --data-dir" in refused_build.output
    assert "Traceback" not in refused_build.output and stored_ids(runtime) == before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_redis_away_after_the_map_is_stored_is_said_plainly(runtime, city_plan, tmp_path, monkeypatch):
    from bigscreen.cli import main
    from tests_support import free_port

    for name, value in (("DATA_DIR", runtime.settings.data_dir), ("DATABASE_URL", runtime.settings.database_url),
                        ("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")):
        monkeypatch.setenv(f"BIGSCREEN_{name}", str(value))
    areas = [a for a in city_plan.areas[1:] if a.code[:6] == city_plan.at_level("district")[0].code]
    result = CliRunner().invoke(main, ["city", "import", str(write_layer(tmp_path / "one.geojson", areas, driver="GeoJSON")),
                                       "--quiet"])
    assert result.exit_code == 1 and "Traceback" not in result.output and result.exception.__class__ is SystemExit
    assert "the map is stored and its files built, but Redis did not answer" in result.output
    assert "restart them, or run this command again once Redis answers" in result.output
    assert area_count(runtime) == len(areas) + 1  # stored: the message says so


def test_a_centre_served_before_its_map_says_so_and_comes_alive_with_the_import(tmp_path, test_config, city_plan, serve,
                                                                                monkeypatch):
    """`bigscreen init`, `serve`, then `city import`, as docs/DEPLOY.md has a centre do it. Before, the wall's frame
    publisher died at its first build with no city (a traceback in the log), so the wall stayed blank after the
    import until a restart, and the figures answered 500."""
    import time

    import httpx
    from fault_support import SOURCE, CityDir

    from bigscreen.api.auth import create_api_key
    from bigscreen.auth.kiosk import create_kiosk_token
    from bigscreen.cli import main
    from bigscreen.live.server import EmbeddedRedis
    from bigscreen.process.datadir import prepare_database
    from bigscreen.process.runtime import Runtime
    from bigscreen.process.settings import Settings

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = Settings(data_dir=data_dir)
    rt = Runtime(settings, test_config)
    prepare_database(rt)
    key, token = create_api_key(rt, SOURCE), create_kiosk_token(rt, "指挥大厅")
    rt.close()
    served = serve(CityDir(data_dir, settings.sqlalchemy_url, key, token), ready="/healthz")

    kpi = httpx.get(served.url + "/api/v1/kpi", headers={"X-API-Key": key})
    assert kpi.status_code == 503 and "bigscreen city import" in kpi.json()["detail"], kpi.text
    wall = httpx.get(served.url + f"/wall?token={token}")
    assert wall.status_code == 503 and "尚未载入城市区划" in wall.text and 'http-equiv="refresh"' in wall.text, wall.text

    for name in ("DATABASE_URL", "CONFIG_DIR"):
        monkeypatch.delenv(f"BIGSCREEN_{name}", raising=False)
    monkeypatch.setenv("BIGSCREEN_DATA_DIR", str(data_dir))
    # the served process's embedded Redis, which the command would find and export (set here: undone after the test)
    monkeypatch.setenv("BIGSCREEN_REDIS_URL", EmbeddedRedis(data_dir / "redis").url)
    done = CliRunner().invoke(main, ["city", "import", str(write_layer(tmp_path / "city.geojson", city_plan.areas[1:],
                                                                        driver="GeoJSON")), "--quiet"])
    assert done.exit_code == 0, done.output

    deadline, answers = time.monotonic() + 60, {}
    while time.monotonic() < deadline:  # no restart: the figures, the wall and its frames
        with httpx.Client(base_url=served.url) as client:
            answers = {"kpi": client.get("/api/v1/kpi", headers={"X-API-Key": key}).status_code,
                       "wall": client.get(f"/wall?token={token}").status_code,
                       "ready": client.get("/readyz").status_code}
        if set(answers.values()) == {200}:
            break
        time.sleep(0.5)
    assert set(answers.values()) == {200}, (answers, served.output()[-3000:])
    code = served.stop()
    said = served.log.read_text(errors="replace")
    assert code == 0 and "Traceback" not in said, said[-3000:]
