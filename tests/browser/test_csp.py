"""The wall, the duty desk, the tablet and the admin page work under the app's real Content-Security-Policy: pages
load, live figures arrive (the wall's by push over its websocket), and the browser refuses nothing.
(Other browser tests bypass the policy: Playwright's wait_for_function needs eval.) Waits here use
selectors only, which the policy does not touch."""

from __future__ import annotations

import time

import httpx
from tests_support import PASSWORD, sign_in

WAIT_MS = 15000


def _watched(browser, viewport=(1920, 1080)):
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, bypass_csp=False)
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda exc: page.problems.append(str(exc)))
    return context, page


def _post(server, api_key, runtime, sid: str, item: str | None = None) -> None:
    grid = runtime.areas.at_level(runtime.areas.grid_level)[5]
    r = httpx.post(server.url + "/api/v1/events", headers={"X-API-Key": api_key},
                   json={"source_id": sid, "channel": "citizen_snap", "grid": grid.code, "description": "路灯不亮",
                         "item": item or runtime.config.categories[1].items[0].code})
    assert r.status_code == 201, r.text


def _kpi(page, name: str, value: str) -> None:
    page.wait_for_selector(f'[data-kpi="{name}"][data-value="{value}"]', state="attached", timeout=WAIT_MS)


def test_the_pages_work_under_the_policy(browser, live_server, runtime, api_key, publisher, kiosk_token, account):
    csp = httpx.get(live_server.url + "/login").headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in csp and "'unsafe-eval'" not in csp

    wall_context, wall = _watched(browser)
    polls: list[float] = []
    wall.on("request", lambda req: "_dash-update-component" in req.url and polls.append(time.monotonic()))
    wall.goto(live_server.url + f"/wall?token={kiosk_token}")
    _kpi(wall, "reported_today", "0")
    wall.wait_for_selector("#wall-map-panel .leaflet-overlay-pane canvas", state="attached", timeout=WAIT_MS)
    wall.wait_for_timeout(1500)  # the push channel takes over and turns polling off
    quiet_from = time.monotonic()
    _post(live_server, api_key, runtime, "csp-1")
    _kpi(wall, "reported_today", "1")
    assert not [t for t in polls if t > quiet_from], "the frame came by push: the websocket is allowed"

    desk_context, desk = _watched(browser)
    sign_in(desk, live_server.url, account("duty"), PASSWORD, "/duty")
    desk.wait_for_selector('#duty-as-of:text-matches("[0-9]:[0-9]")', state="attached", timeout=WAIT_MS)
    red = next(i.code for i in runtime.config.items if runtime.config.alert_level(i.code) == "red")
    _post(live_server, api_key, runtime, "csp-red", red)
    desk.wait_for_selector("#duty-alerts li.duty-alert.colour-red", timeout=WAIT_MS)

    tablet_context, tablet = _watched(browser, (1280, 800))
    sign_in(tablet, live_server.url, account("leader", runtime.areas.city.code), PASSWORD)
    _kpi(tablet, "reported_today", "2")
    tablet.wait_for_selector("#tablet-children li", timeout=WAIT_MS)
    _post(live_server, api_key, runtime, "csp-3")
    _kpi(tablet, "reported_today", "3")
    _kpi(wall, "reported_today", "3")

    for page in (wall, desk, tablet):
        assert not page.problems, page.problems
    for context in (wall_context, desk_context, tablet_context):
        context.close()


def test_the_admin_page_works_under_the_policy(browser, live_server, runtime, api_key, account):
    context, page = _watched(browser)
    sign_in(page, live_server.url, account("admin"), PASSWORD, "/admin")
    page.wait_for_selector("table.admin-audit", timeout=WAIT_MS)  # the newest entries: the sign-in
    page.locator("table.admin-apikey tr", has_text="test-source").get_by_role("button", name="轮换").click()
    page.wait_for_selector(".admin-secret-value", timeout=WAIT_MS)
    assert not page.problems, page.problems
    context.close()
