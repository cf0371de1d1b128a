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
