"""A duty officer opens / (the tablet, at the whole city) and sees the numbers move as events arrive."""

from __future__ import annotations

import httpx
from tests_support import PASSWORD, sign_in


def test_home_shows_live_numbers(browser, live_server, runtime, api_key, account):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    origins = set()
    page.on("request", lambda req: origins.add(req.url.split("/")[2]))
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_server.url, account("duty"), PASSWORD)
    page.goto(live_server.url + "/")
    tile = page.locator('[data-kpi="reported_today"]')
    page.wait_for_function("document.querySelector('[data-kpi=reported_today]')?.dataset.value === '0'", timeout=15000)
    assert runtime.config.city.title in page.content()
    city = runtime.areas.city
    assert page.get_attribute("#tablet", "data-area") == city.code, "an account without an area starts at the city"
    assert page.locator("#tablet-children li").count() == len(runtime.areas.at_level(1))
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0]
    item = runtime.config.categories[0].items[0].code
    r = httpx.post(live_server.url + "/api/v1/events", headers={"X-API-Key": api_key},
                   json={"source_id": "b-1", "channel": "grid_app", "item": item, "grid": grid.code,
                         "description": "<img src=x onerror=alert(1)>楼道堆放杂物"})
    assert r.status_code == 201, r.text
    page.wait_for_function("document.querySelector('[data-kpi=reported_today]')?.dataset.value === '1'", timeout=10000)
    assert tile.inner_text().strip().endswith("1")
    district = page.locator(f'#tablet-children li[data-code="{grid.chain[1]}"]')
    page.wait_for_function(f"""document.querySelector('#tablet-children li[data-code="{grid.chain[1]}"] b')
                               ?.textContent === '1'""", timeout=10000)
    assert "1" in district.inner_text()
    assert origins == {live_server.url.split("/")[2]}, origins
    assert not errors
    page.screenshot(path="/tmp/bigscreen-home.png")
    page.close()
