"""A leader on a tablet, in both orientations: drills down by tapping the map, the list and the
breadcrumb, and on a grid's page sees its team, its people and its open cases (text as text)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from tests_support import PASSWORD, hot_spot_js, sign_in

from bigscreen.db.models import GridProfile, GridWorker
from bigscreen.screens.i18n import t

SIZES = [(1024, 768), (768, 1024)]
XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">楼道堆放杂物'

HOT_SPOT = hot_spot_js(".tablet-map")


def _post_case(server, api_key, grid_code: str) -> int:
    r = httpx.post(server.url + "/api/v1/events", headers={"X-API-Key": api_key},
                   json={"source_id": "tablet-1", "channel": "hotline_12345", "item": "MS07", "grid": grid_code,
                         "description": XSS, "reporter_name": "张三", "reporter_phone": "13812345678"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _at(page, area) -> None:
    page.wait_for_function(f"document.getElementById('tablet')?.dataset.area === '{area.code}'", timeout=10000)
    current = "document.querySelector('.tablet-crumbs [aria-current=page]')?.textContent"
    page.wait_for_function(f"{current} === '{area.name}'", timeout=5000)
    _fits(page)


def _fits(page) -> None:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    assert width <= inner, f"horizontal overflow: {width} > {inner}"
    small = page.evaluate("""[...document.querySelectorAll('.tablet-crumb, .tablet-child, .tablet-lang')]
        .map(e => e.getBoundingClientRect()).filter(r => r.width && (r.height < 44 || r.width < 44)).length""")
    assert small == 0, "every touch target is at least 44 px"


def _drill_by_map(page, target) -> None:
    page.locator(".tablet-map").scroll_into_view_if_needed()
    page.wait_for_function(HOT_SPOT, timeout=10000)
    x, y = page.evaluate(HOT_SPOT)
    page.touchscreen.tap(x, y)
    _at(page, target)


def _tap(page, selector: str) -> None:
    page.locator(selector).scroll_into_view_if_needed()
    page.locator(selector).tap()


def _check_grid_page(page, runtime, grid) -> None:
    with runtime.sessions() as s:
        staff = s.scalars(select(GridWorker).where(GridWorker.area_id == grid.id)).all()
        profile = s.get(GridProfile, grid.id)
    page.wait_for_selector("#tablet-cases .tablet-case", timeout=10000)
    team = page.inner_text("#tablet-workers")
    worker = next(w for w in staff if w.role == "full_time")
    helpers = [w for w in staff if w.role == "helper"]
    assert worker.name in team and helpers and all(h.name in team for h in helpers)
    assert page.locator('#tablet-workers [data-role="helper"]').count() == len(helpers)
    for name in ("population", "households", "buildings", "key_places", "cared_for"):
        assert page.inner_text(f'#tablet-people [data-figure="{name}"]') == f"{getattr(profile, name):,}"
    case = page.locator("#tablet-cases .tablet-case").first
    assert case.locator(".tablet-case-text").inner_text() == XSS, "citizens' text is shown as text"
    assert page.locator("#tablet-cases script, #tablet-cases img").count() == 0
    assert page.evaluate("window.__xss") is None
    text = case.inner_text()
    assert "张*" in text and "138****5678" in text, "a leader sees the reporter masked"
    assert "13812345678" not in page.content() and "张三" not in page.content()
    assert "楼道照明损坏" in text and case.get_attribute("data-overdue") == "0"


@pytest.mark.parametrize("width,height", SIZES, ids=["landscape", "portrait"])
def test_a_leader_drills_down_on_a_tablet(browser, live_server, runtime, api_key, account, width, height):
    areas = runtime.areas
    grid = areas.at_level(areas.grid_level)[len(areas.at_level(areas.grid_level)) // 2]
    district, street, community = (areas.by_code[c] for c in grid.chain[1:4])
    leader = account("leader", district.code)
    _post_case(live_server, api_key, grid.code)
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=True)
    page = context.new_page()
    hosts, errors = set(), []
    page.on("request", lambda req: hosts.add(req.url.split("/")[2]))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    sign_in(page, live_server.url, leader, PASSWORD)
    _at(page, district)
    assert page.locator(".tablet-crumbs li").count() == 1, "no links above the leader's own area"
    assert page.get_attribute('[data-kpi="open"]', "data-value") == "1"
    page.wait_for_timeout(500)
    page.screenshot(path=f"/tmp/bigscreen-tablet-{width}x{height}-district.png", full_page=True)

    for target in (street, community, grid):  # by the map
        _drill_by_map(page, target)
    _check_grid_page(page, runtime, grid)
    page.screenshot(path=f"/tmp/bigscreen-tablet-{width}x{height}-grid.png", full_page=True)

    _tap(page, f'.tablet-crumbs li[data-code="{district.code}"] a')  # back up by the breadcrumb
    _at(page, district)
    for target in (street, community, grid):  # by the list
        _tap(page, f'#tablet-children li[data-code="{target.code}"] a')
        _at(page, target)
    _check_grid_page(page, runtime, grid)
    _tap(page, f'.tablet-crumbs li[data-code="{community.code}"] a')
    _at(page, community)
    assert page.locator("#tablet-children li").count() == len([a for a in areas.by_code.values()
                                                               if a.parent_code == community.code])
    page.screenshot(path=f"/tmp/bigscreen-tablet-{width}x{height}-community.png", full_page=True)

    _tap(page, ".tablet-lang")
    page.wait_for_function("document.getElementById('tablet')?.dataset.lang === 'en'", timeout=10000)
    assert page.inner_text(".tablet-title") == runtime.config.city.title_en
    assert t("tablet.children.grid", "en") in page.inner_text(".tablet-children-panel")
    _fits(page)

    assert hosts == {live_server.url.split("/")[2]}, hosts
    assert not errors, errors
    context.close()
