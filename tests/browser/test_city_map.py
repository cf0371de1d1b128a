"""The city map in real Chromium: polygons from /geo files, colours from hideout, nothing off the machine."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from dash import Dash, Input, Output, html
from tests_support import LiveServer, free_port

from bigscreen.geo.assets import ensure_level_assets
from layouts.city_map import Legend, city_map, event_marker
from layouts.ids import map_ids

ROOT = Path(__file__).resolve().parents[2]
IDS = map_ids("test-map")
RED = "rgb(255,48,48)"
ALERT = "#ff7a1a"


def map_app(runtime, prefer_canvas: bool) -> Dash:
    from bigscreen.api import geo
    from bigscreen.app import create_api

    manifest = ensure_level_assets(runtime)
    api = create_api(runtime)
    if not any(getattr(r, "path", "") == "/geo/{file_name}" for r in api.routes):
        api.include_router(geo.router)
    app = Dash(__name__, server=api, backend="fastapi", serve_locally=True, assets_folder=str(ROOT / "assets"))
    communities = runtime.areas.at_level(runtime.areas.level_number("community"))
    first, second = communities[0], communities[-1]
    city = runtime.config.city
    app.layout = html.Div([
        html.Button("heat", id="heat", style={"position": "absolute", "zIndex": 1000, "right": 0}),
        html.Button("events", id="events", style={"position": "absolute", "zIndex": 1000, "right": 60}),
        html.Div(
            city_map(IDS.map, (city.center.lat, city.center.lon), 9.2, manifest, "community",
                     legend=Legend("事件数", "少", "多", "预警区域"), prefer_canvas=prefer_canvas, fit=prefer_canvas),
            style={"width": "1280px", "height": "720px"},
        ),
    ])

    @app.callback(Output(IDS.fill, "hideout"), Output(IDS.legend_max, "children"), Input("heat", "n_clicks"),
                  prevent_initial_call=True)
    def heat(n):
        if prefer_canvas:  # a lively picture for the screenshot: every community coloured, a few alerts
            values = {a.code: (i * 37) % 23 for i, a in enumerate(communities)}
            return {"values": values, "alerts": [a.code for a in communities[5::20]], "max": 20}, "20"
        values = {first.code: 10} if n == 1 else {first.code: 5, second.code: 10}
        return {"values": values, "alerts": [first.code], "max": 10}, "10"

    @app.callback(Output(IDS.events, "children"), Input("events", "n_clicks"), prevent_initial_call=True)
    def events(n):
        picks = communities[:: max(1, len(communities) // 6)]
        return [event_marker(f"ev-{n}-{a.code}", a.lat, a.lon, "urgent" if i % 3 == 0 else "") for i, a in enumerate(picks)]

    return app


@pytest.fixture
def serve(runtime):
    servers = []

    def start(prefer_canvas: bool):
        servers.append(LiveServer(map_app(runtime, prefer_canvas).server, free_port()).start())
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


def watch(page):
    seen = {"urls": [], "errors": []}
    page.on("request", lambda r: seen["urls"].append(r.url))
    page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    return seen


def count(page, selector: str) -> int:
    return page.locator(selector).count()


def test_svg_map_draws_areas_and_recolours_them_without_refetching(browser, runtime, serve):
    server = serve(prefer_canvas=False)
    n_communities = len(runtime.areas.at_level(runtime.areas.level_number("community")))
    n_districts = len(runtime.areas.at_level(1))
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    seen = watch(page)
    page.goto(server.url + "/")
    page.wait_for_function(f"document.querySelectorAll('.leaflet-overlay-pane path').length === {n_communities + n_districts}",
                           timeout=20000)
    assert count(page, ".leaflet-overlay-pane path.leaflet-interactive") == n_communities  # outlines are not interactive
    assert count(page, f'path[fill="{RED}"]') == 0 and count(page, f'path[stroke="{ALERT}"]') == 0
    assert count(page, ".leaflet-tile, .leaflet-control-attribution, .leaflet-control-zoom") == 0

    page.click("#heat")
    page.wait_for_function(f"document.querySelectorAll('path[fill=\"{RED}\"]').length === 1", timeout=10000)
    hot = page.locator(f'path[fill="{RED}"]')
    assert hot.get_attribute("stroke") == ALERT and hot.get_attribute("stroke-width") == "3.5"
    assert page.inner_text(f"#{IDS.legend_max}") == "10"

    page.click("#heat")
    mid = page.evaluate("bigscreen.map.colour(0.5)")
    page.wait_for_function(f"document.querySelectorAll('path[fill=\"{mid}\"]').length === 1", timeout=10000)
    assert count(page, f'path[fill="{RED}"]') == 1  # the second area is now the hot one
    assert count(page, f'path[stroke="{ALERT}"]') == 1
    assert count(page, ".leaflet-overlay-pane path") == n_communities + n_districts

    page.click("#events")
    page.wait_for_selector(".leaflet-marker-icon.pulse", timeout=10000)
    assert count(page, ".leaflet-marker-icon.pulse") >= 2
    page.wait_for_timeout(3300)
    assert page.eval_on_selector(".pulse > span", "e => getComputedStyle(e).opacity") == "0"

    geo = sorted(u.split("/geo/")[1] for u in seen["urls"] if "/geo/" in u)
    manifest = ensure_level_assets(runtime)["levels"]
    assert geo == sorted([manifest["community"]["file"], manifest["district"]["file"]])  # geometry fetched once
    assert {u.split("/")[2] for u in seen["urls"] if not u.startswith("data:")} == {server.url.split("/")[2]}
    assert not seen["errors"], seen["errors"]
    page.close()

    (runtime.settings.data_dir / "secret.json").write_text("{}")
    for tricky in ("%2e%2e%2fsecret.json", "..%2Fsecret.json", "a/b.json", "%2e%2e/%2e%2e/etc/passwd"):
        assert httpx.get(f"{server.url}/geo/{tricky}").status_code == 404, tricky  # not Dash's catch-all page


RED_PIXELS = """() => {
  const c = document.querySelector('.leaflet-overlay-pane canvas');
  if (!c || !c.width) return -1;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let red = 0, drawn = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] > 0) drawn++;
    if (d[i] > 235 && d[i + 1] < 80 && d[i + 2] < 80 && d[i + 3] > 200) red++;
  }
  return drawn > 10000 ? red : -1;
}"""


def test_canvas_map_as_on_the_wall(browser, runtime, serve):
    server = serve(prefer_canvas=True)
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    seen = watch(page)
    page.goto(server.url + "/")
    page.wait_for_function(f"({RED_PIXELS})() === 0", timeout=20000)
    assert count(page, ".leaflet-overlay-pane canvas") == 1 and count(page, ".leaflet-overlay-pane svg") == 0

    page.click("#heat")
    page.wait_for_function(f"({RED_PIXELS})() > 500", timeout=10000)
    page.click("#events")
    page.wait_for_selector(".leaflet-marker-icon.pulse", timeout=10000)
    page.wait_for_timeout(400)
    page.screenshot(path="/tmp/bigscreen-map.png")

    geo = [u for u in seen["urls"] if "/geo/" in u]
    assert len(geo) == 2, geo
    assert {u.split("/")[2] for u in seen["urls"] if not u.startswith("data:")} == {server.url.split("/")[2]}
    assert not seen["errors"], seen["errors"]
    page.close()

