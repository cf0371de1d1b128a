"""Re-importing an edited map over one with cases on it (`bigscreen city import` a second time): one grid
split, one renamed, one merged into its neighbour (a mapping file), one dropped. Every case is kept, open
cases land where they belong with a step in their log, closed ones keep their historical grid, the live
figures equal SQL, a case that cannot be placed refuses the import with nothing written, and a running
server takes up the new map without a restart."""

from __future__ import annotations

import csv
import json
import re
import threading
import time
from dataclasses import replace

import httpx
import pytest
import shapely
from city_files import write_layer
from click.testing import CliRunner
from shapely.geometry import box
from sqlalchemy import select

from bigscreen.db.models import Area, Event, EventTransition
from bigscreen.live.kpi import read_kpi
from bigscreen.reports.figures import area_kpi
from bigscreen.simulation.life import ROLE_OF

CLOSE = [("accept", {}), ("handle", {}), ("verify", {"photo_url": "/media/v.jpg"}), ("close", {"resolved_level": "community"})]


@pytest.fixture
def cli(runtime, monkeypatch):
    from bigscreen.cli import main

    for name, value in (("DATA_DIR", runtime.settings.data_dir), ("DATABASE_URL", runtime.settings.database_url),
                        ("REDIS_URL", runtime.settings.redis_url)):
        monkeypatch.setenv(f"BIGSCREEN_{name}", str(value))
    runner = CliRunner()
    return lambda *args: runner.invoke(main, ["city", "import", *map(str, args), "--quiet"])


def pick(city_plan):
    """Four grids of one community: split, renamed, merged away, merged into."""
    grids = city_plan.at_level("grid")
    by_parent: dict[str, list] = {}
    for g in grids:
        by_parent.setdefault(g.parent_code, []).append(g)
    four = next(kids for kids in by_parent.values() if len(kids) >= 4)
    return four[:4]


def halves(geometry):
    minx, miny, maxx, maxy = geometry.bounds
    mid = geometry.centroid.x
    return geometry.intersection(box(minx - 1, miny - 1, mid, maxy + 1)), geometry.intersection(box(mid, miny - 1, maxx + 1, maxy + 1))


def edited(city_plan, *, merge: bool = True):
    """The map next year: `split` in two (codes …901 west, …902 east), `renamed` renamed, `gone` merged into
    `into` (or, with merge=False, dropped: a gap)."""
    split, renamed, gone, into = pick(city_plan)
    west, east = halves(split.geometry)
    areas = []
    for a in city_plan.areas[1:]:
        if a.code == split.code:
            areas += [replace(a, code=a.parent_code + "901", name=a.name + "西", geometry=west),
                      replace(a, code=a.parent_code + "902", name=a.name + "东", geometry=east)]
        elif a.code == renamed.code:
            areas.append(replace(a, name="滨河新村网格"))
        elif a.code == into.code and merge:
            areas.append(replace(a, geometry=shapely.union(a.geometry, gone.geometry)))
        elif a.code != gone.code:
            areas.append(a)
    return areas


def report(client, runtime, lat, lon, source_id):
    answer = client.post("/api/v1/events", json={
        "source_id": source_id, "channel": "grid_app", "item": runtime.config.categories[0].items[0].code,
        "urgency": "normal", "description": "楼道堆放杂物", "lat": lat, "lon": lon})
    assert answer.status_code in (200, 201), answer.text
    return answer.json()["id"]


def inside(geometry):
    p = geometry.representative_point()
    return p.y, p.x


def grids_of(runtime, *ids) -> dict[int, str]:
    with runtime.sessions() as session:
        rows = session.execute(select(Event.id, Area.code).join(Area, Area.id == Event.grid_id).where(Event.id.in_(ids))).all()
    return dict(rows)


def test_a_reimported_map_keeps_every_case_and_moves_the_open_ones(runtime, client, city_plan, cli, tmp_path):
    split, renamed, gone, into = pick(city_plan)
    west, east = halves(split.geometry)
    east_case = report(client, runtime, *inside(east), "east")
    west_case = report(client, runtime, *inside(west), "west")
    closed_case = report(client, runtime, *inside(east), "closed")
    for action, extra in CLOSE:
        assert client.post(f"/api/v1/events/{closed_case}/transitions",
                           json={"action": action, "role": ROLE_OF[action], "actor": "张三", **extra}).status_code == 200
    renamed_case = report(client, runtime, *inside(renamed.geometry), "renamed")
    gone_case = report(client, runtime, *inside(gone.geometry), "gone")
    assert grids_of(runtime, east_case, gone_case) == {east_case: split.code, gone_case: gone.code}

    new_map = write_layer(tmp_path / "next-year.geojson", edited(city_plan), driver="GeoJSON")
    mapping = tmp_path / "moves.csv"
    with mapping.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["旧编码", "新编码"], [gone.code, into.code]])

    dry = cli(new_map, "--mapping", mapping, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "added: 2" in dry.output and "retired: 2" in dry.output and "renamed: 1" in dry.output, dry.output
    assert f"{split.code} → {split.parent_code}902: 1 (by the case's point)" in dry.output
    assert f"{gone.code} → {into.code}: 1 (by the mapping file)" in dry.output and "open cases moved: 3" in dry.output
    assert grids_of(runtime, east_case)[east_case] == split.code, "a dry run writes nothing"

    done = cli(new_map, "--mapping", mapping)
    assert done.exit_code == 0, done.output
    assert grids_of(runtime, east_case, west_case, closed_case, renamed_case, gone_case) == {
        east_case: split.parent_code + "902", west_case: split.parent_code + "901",
        closed_case: split.code,  # closed: stays where it was handled, on the retired grid
        renamed_case: renamed.code, gone_case: into.code}
    with runtime.sessions() as session:
        retired = dict(session.execute(select(Area.code, Area.retired_at).where(Area.code.in_([split.code, gone.code, renamed.code]))).all())
        steps = session.execute(select(EventTransition.action, EventTransition.role, EventTransition.note)
                                .where(EventTransition.event_id == gone_case).order_by(EventTransition.id)).all()
        assert session.scalar(select(Area.name).where(Area.code == renamed.code)) == "滨河新村网格"
    assert retired[split.code] and retired[gone.code] and retired[renamed.code] is None
    assert steps[-1][:2] == ("regrid", "system") and f"{gone.code} → {into.code}" in steps[-1][2] and "moves.csv" in steps[-1][2]

    # the live figures equal SQL on the new map (the city, the community, the new and merged grids)
    runtime.reload_areas(None)
    areas, now = runtime.areas, runtime.clock()
    assert areas.grid(split.code) is None and areas.by_code[split.code].retired  # history still resolves it
    day_start = now.astimezone(runtime.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    with runtime.engine.connect() as conn:
        for code in (areas.city.code, split.parent_code, split.parent_code + "902", into.code, renamed.code):
            assert read_kpi(runtime.redis, runtime.keys, runtime.contributions, code, now) == \
                area_kpi(conn, areas, code, now, day_start), code
    assert read_kpi(runtime.redis, runtime.keys, runtime.contributions, split.parent_code + "902", now)["total"]["open"] == 1
    assert read_kpi(runtime.redis, runtime.keys, runtime.contributions, areas.city.code, now)["total"]["reported"] == 5


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_case_that_cannot_be_placed_refuses_the_import_whole(runtime, client, city_plan, cli, tmp_path):
    split, renamed, gone, into = pick(city_plan)
    stranded = report(client, runtime, *inside(gone.geometry), "stranded")
    with runtime.sessions() as session:
        before = session.execute(select(Area.code, Area.name, Area.retired_at).order_by(Area.code)).all()
    new_map = write_layer(tmp_path / "gap.geojson", edited(city_plan, merge=False), driver="GeoJSON")
    refused = cli(new_map)
    assert refused.exit_code == 1, refused.output
    assert f"1 open case(s) on grid {gone.code} (ids {stranded}) cannot be placed" in refused.output
    assert "re-import refused, the database is untouched" in refused.output
    with runtime.sessions() as session:
        assert session.execute(select(Area.code, Area.name, Area.retired_at).order_by(Area.code)).all() == before
    assert grids_of(runtime, stranded) == {stranded: gone.code}

    wrong = tmp_path / "wrong.csv"
    wrong.write_text(f"old,new\n{renamed.code},{into.code}\n{gone.code},370502999999999\n", encoding="utf-8")
    bad = cli(new_map, "--mapping", wrong)
    assert bad.exit_code == 1
    assert f"mapping file: {renamed.code} is still in the new map" in bad.output
    assert f"{gone.code} → 370502999999999: 370502999999999 is no grid of the new map" in bad.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_running_server_takes_up_the_new_map_without_a_restart(runtime, client, api_key, city_plan, cli, live_server, tmp_path):
    from bigscreen.jobs.watch import start_watch, sync_live

    split, *_ = pick(city_plan)
    report(client, runtime, *inside(split.geometry), "before")
    sync_live(runtime)
    stop = threading.Event()
    watch = start_watch(runtime, stop)
    web = httpx.Client(base_url=live_server.url, headers={"X-API-Key": api_key}, timeout=10)
    try:
        from bigscreen.geo.assets import geo_dir, load_manifest

        grid_file = load_manifest(geo_dir(runtime.settings))["levels"]["grid"]["file"]
        assert cli(write_layer(tmp_path / "next.geojson", edited(city_plan), driver="GeoJSON")).exit_code == 0
        wanted = {split.parent_code + "901", split.parent_code + "902"}
        deadline = time.monotonic() + 20
        while True:
            codes = {a["code"] for a in web.get("/api/v1/areas", params={"level": "grid"}).json()}
            if wanted <= codes or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert wanted <= codes and split.code not in codes
        manifest = load_manifest(geo_dir(runtime.settings))  # what the server's pages now name
        assert manifest["levels"]["grid"]["file"] != grid_file
        features = json.loads((geo_dir(runtime.settings) / manifest["levels"]["grid"]["file"]).read_text())["features"]
        assert wanted <= {f["properties"]["code"] for f in features} and split.code not in {f["properties"]["code"] for f in features}
        _, east = halves(split.geometry)
        lat, lon = inside(east)
        answer = web.post("/api/v1/events", json={
            "source_id": "after", "channel": "grid_app", "item": runtime.config.categories[0].items[0].code,
            "urgency": "normal", "description": "井盖破损", "lat": lat, "lon": lon})
        assert answer.status_code in (200, 201), answer.text
        assert json.loads(answer.text)["grid"] == split.parent_code + "902"  # ingest locates on the new tree
    finally:
        web.close()
        stop.set()
        watch.join(5)


def bar(output: str, desc: str, total: int) -> bool:
    """Whether tqdm drew a bar named `desc` counting to `total` (leave=False clears it once done)."""
    return re.search(rf"\r{re.escape(desc)}:\s+\d+%\|[^|]*\| \d+/{total} \[", output) is not None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_long_steps_show_progress_bars(runtime, client, city_plan, cli, tmp_path):
    """Without --quiet, storing the map, building the map files and moving open cases each show a bar
    (`cli` sets the environment; the commands run here without its --quiet)."""
    from bigscreen.cli import main

    runner = CliRunner()
    first = runner.invoke(main, ["city", "import", str(write_layer(tmp_path / "same.geojson", city_plan.areas[1:], driver="GeoJSON"))])
    assert first.exit_code == 0, first.output
    assert bar(first.output, "storing the map", len(city_plan.areas)), first.output
    assert bar(first.output, "building the map files", 4), first.output
    runtime.reload_areas(None)  # as the watch of a running process does (map:version)
    split, *_ = pick(city_plan)
    report(client, runtime, *inside(halves(split.geometry)[1]), "east")
    areas = edited(city_plan)
    again = runner.invoke(main, ["city", "import", str(write_layer(tmp_path / "next.geojson", areas, driver="GeoJSON"))])
    assert again.exit_code == 0, again.output
    assert bar(again.output, "storing the map: new areas", 2) and bar(again.output, "storing the map: kept areas", len(areas) - 1)
    assert bar(again.output, "moving open cases", 1) and bar(again.output, "building the map files", 4), again.output
    quiet = runner.invoke(main, ["city", "import", str(tmp_path / "next.geojson"), "--quiet"])
    assert quiet.exit_code == 0 and "%|" not in quiet.output, quiet.output
