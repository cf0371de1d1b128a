"""The wall draws an imported city in real Chromium: a map sent as BD-09 GeoJSON (three of the five
districts), imported, served, and drawn community by community, with the wall's own colours."""

from __future__ import annotations

import pytest
from city_files import bd09, write_layer

from bigscreen.geo.importing import plan_import
from bigscreen.process.datadir import import_city


@pytest.fixture
def imported(runtime, city_plan, tmp_path):
    kept = {d.code for d in city_plan.at_level("district")[:3]}
    areas = [a for a in city_plan.areas[1:] if a.code[:6] in kept]
    report, plan = plan_import([write_layer(tmp_path / "baidu.geojson", areas, shift=bd09, driver="GeoJSON")],
                               runtime.config.city, crs="bd09")
    assert report.ok, report.text()
    import_city(runtime, plan)
    return [a for a in areas if a.level_name == "community"]


def test_the_wall_draws_the_imported_map(browser, imported, live_server, kiosk_token, publisher):
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    fetched = []
    page.on("response", lambda r: fetched.append(r) if "/geo/community-" in r.url else None)
    with page.expect_response(lambda r: "/geo/community-" in r.url, timeout=30000):
        page.goto(live_server.url + f"/wall?token={kiosk_token}")
    page.wait_for_selector("#wall-map-panel .leaflet-overlay-pane canvas, #wall-map-panel .leaflet-overlay-pane svg",
                           timeout=15000)
    page.wait_for_function("document.querySelector('#wall-map-panel .leaflet-overlay-pane canvas, "
                           "#wall-map-panel .leaflet-overlay-pane path') !== null", timeout=15000)
    assert len(fetched) == 1
    drawn = fetched[0].json()["features"]
    assert sorted(f["properties"]["code"] for f in drawn) == sorted(a.code for a in imported)
    assert {f["properties"]["name"] for f in drawn} == {a.name for a in imported}
    page.screenshot(path="/tmp/bigscreen-wall-imported-city.png")
    page.close()


def test_an_open_wall_takes_up_a_new_map_without_a_restart(browser, runtime, city_plan, live_server, kiosk_token, publisher,
                                                           monkeypatch, tmp_path):
    """A wall open on the demo's map; `city import` of a map with three districts in another process (the
    command); the server's watch sees `map:version` move, the frames carry the new map's key, and the page
    loads itself again (at most once a minute: the page's clock is moved on) and draws the new map."""
    import threading

    from click.testing import CliRunner

    from bigscreen.cli import main
    from bigscreen.jobs.watch import start_watch, sync_live

    for name, value in (("DATA_DIR", runtime.settings.data_dir), ("DATABASE_URL", runtime.settings.database_url),
                        ("REDIS_URL", runtime.settings.redis_url)):
        monkeypatch.setenv(f"BIGSCREEN_{name}", str(value))
    sync_live(runtime)
    stop = threading.Event()
    watch = start_watch(runtime, stop)
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    # the page's clock, moved on by the test: the wall reloads for a new map no sooner than a minute after it loaded
    page.add_init_script("(() => { const real = Date.now; window.__skew = 0; Date.now = () => real() + window.__skew; })()")
    fetched = []
    page.on("response", lambda r: fetched.append(r) if "/geo/community-" in r.url else None)
    try:
        # the map's layer is fetched after the page draws its first canvas: wait for the response itself
        with page.expect_response(lambda r: "/geo/community-" in r.url, timeout=30000):
            page.goto(live_server.url + f"/wall?token={kiosk_token}")
        page.wait_for_function("document.querySelector('#wall-map-panel .leaflet-overlay-pane canvas, "
                               "#wall-map-panel .leaflet-overlay-pane path') !== null", timeout=15000)
        assert len(fetched) == 1
        before = sorted(f["properties"]["code"] for f in fetched[0].json()["features"])
        assert before == sorted(a.code for a in city_plan.at_level("community"))

        kept = {d.code for d in city_plan.at_level("district")[:3]}
        areas = [a for a in city_plan.areas[1:] if a.code[:6] in kept]
        result = CliRunner().invoke(main, ["city", "import", str(write_layer(tmp_path / "new.geojson", areas, driver="GeoJSON")),
                                           "--quiet"])
        assert result.exit_code == 0, result.output
        page.evaluate("window.__skew = 61000")
        for _ in range(60):
            if len(fetched) > 1:
                break
            page.wait_for_timeout(500)
        assert len(fetched) > 1, "the open wall did not take up the new map"
        after = sorted(f["properties"]["code"] for f in fetched[-1].json()["features"])
        assert after == sorted(a.code for a in areas if a.level_name == "community") and after != before
        page.wait_for_function("document.querySelector('#wall-map-panel .leaflet-overlay-pane canvas, "
                               "#wall-map-panel .leaflet-overlay-pane path') !== null", timeout=15000)
    finally:
        page.close()
        stop.set()
        watch.join(5)
