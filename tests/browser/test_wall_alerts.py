"""Alerts on the wall: a red alert reaches the ticker and marks its area within 2 s, its
acknowledgement shows who owns it within 2 s, resolving removes it; titles are text; the
band fits every screen size."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import select
from tests_support import Officer, layout_prop_js

from bigscreen.auth.roles import Principal, Role
from bigscreen.db.models import Alert, User

SIZES = [(1920, 1080, 1), (3840, 2160, 1), (1366, 768, 1), (5760, 1080, 1), (1920, 1080, 1.5)]
XSS = '<img src=x onerror="window.__xss=1">燃气泄漏<script>window.__xss=2</script>'
# play() as a browser without an autoplay permission answers it: refused (counted here)
REFUSE_PLAY = """window.__plays = 0; HTMLMediaElement.prototype.play = function () {
  window.__plays += 1; return Promise.reject(new DOMException("play() needs a user gesture", "NotAllowedError")); };"""
HIDEOUT = layout_prop_js("wall-map-fill", "hideout.alerts")
FILLED = "document.querySelector('[data-kpi=open]')?.dataset.value !== undefined && document.querySelector('[data-kpi=open]').dataset.value !== ''"


@pytest.fixture
def sound_on(runtime, monkeypatch):
    alerts = runtime.config.city.alerts.model_copy(update={"sound": True})
    monkeypatch.setattr(runtime.config, "city", runtime.config.city.model_copy(update={"alerts": alerts}))


def _desk(runtime, username):
    with runtime.sessions() as s:
        user = s.scalar(select(User).where(User.username == username))
    return Officer(runtime, Principal("user", user.username, Role(user.role), user.area_code, user.id))


def _emergency(server, api_key, runtime, sid, description, grid_index=5):
    item = next(i.code for i in runtime.config.items if runtime.config.alert_level(i.code) == "red")
    grid = runtime.areas.at_level(runtime.areas.grid_level)[grid_index]
    r = httpx.post(server.url + "/api/v1/events", headers={"X-API-Key": api_key},
                   json={"source_id": sid, "channel": "hotline_12345", "item": item, "grid": grid.code, "description": description})
    assert r.status_code == 201, r.text
    return grid


def _wall(browser, server, token, width=1920, height=1080, scale=1, init=None):
    page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=scale)
    page.hosts, page.errors, page.urls = set(), [], []
    page.on("request", lambda req: (page.hosts.add(req.url.split("/")[2]), page.urls.append(req.url)))
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    if init:
        page.add_init_script(init)
    page.goto(server.url + f"/wall?token={token}")
    page.wait_for_function(FILLED + " && document.getElementById('wall-stage').dataset.fitted === '1'", timeout=15000)
    return page


def _within(page, expression, seconds, since):
    left_ms = max(1, int(1000 * (since + seconds - time.monotonic())))
    page.wait_for_function(expression, timeout=left_ms, polling=20)
    assert time.monotonic() - since < seconds


def test_red_alert_marks_the_wall_then_shows_its_owner_then_goes(browser, live_server, runtime, api_key, publisher,
                                                                 kiosk_token, account, sound_on):
    officer = account("duty")
    page = _wall(browser, live_server, kiosk_token, init=REFUSE_PLAY)
    page.wait_for_selector("#wall-alerts-none", state="visible", timeout=5000)
    assert page.inner_text("#wall-alerts-total") == "0" and page.get_attribute("#wall-root", "data-sound") == "1"

    since = time.monotonic()
    grid = _emergency(live_server, api_key, runtime, "a-1", XSS)
    card = "#wall-alerts li.alert-red[data-status=open]"
    _within(page, f"!!document.querySelector('{card}')", 2, since)
    _within(page, "!!document.querySelector('.leaflet-marker-icon.alert-mark.alert-red.is-open')", 2, since)
    with runtime.sessions() as s:
        alert = s.scalars(select(Alert)).one()
    community = grid.chain[3]
    assert page.evaluate(HIDEOUT) == {community: "red"}, "its community is outlined"
    assert page.get_attribute(card, "data-alert") == str(alert.id)
    assert page.locator(f".alert-mark-{alert.id}").count() == 1
    title = page.inner_text(f"{card} .alert-title")
    assert "<img src=x onerror=" in title and "<script>" in title, "a title is text"
    assert page.locator("#wall-alerts img, #wall-alerts script").count() == 0 and page.evaluate("window.__xss") is None
    assert page.inner_text(f"{card} .alert-area") == runtime.areas.by_code[community].name
    assert page.inner_text(f"{card} .alert-chip") == "红"
    assert page.inner_text(f"{card} .alert-state") == "待签收" and page.inner_text(f"{card} .alert-age").endswith("秒")
    assert page.is_hidden("#wall-alerts-none") and page.inner_text("#wall-alerts-total") == "1"
    page.wait_for_timeout(300)
    assert page.evaluate("window.__plays") == 1, "a new red alert chimes once; a refused play() breaks nothing"
    assert any(u.endswith("/assets/chime.wav") for u in page.urls), "the chime is our own asset"

    _emergency(live_server, api_key, runtime, "a-2", "又闻到燃气味")  # the same item in the same community: counted up
    page.wait_for_function(f"document.querySelector('{card} .alert-count').textContent === '×2'", timeout=2000)
    assert page.evaluate("window.__plays") == 1, "a repeat is not a new alert"

    since = time.monotonic()
    _desk(runtime, officer).acknowledge(alert.id, "已派燃气公司")
    acked = f"#wall-alerts li[data-alert='{alert.id}'][data-status=acknowledged]"
    _within(page, f"document.querySelector(\"{acked} .alert-state\")?.textContent === '已签收 · {officer}'", 2, since)
    assert page.inner_text(f"{acked} .alert-age").startswith("· ")
    page.wait_for_selector(f".alert-mark-{alert.id}.is-acknowledged", timeout=2000)
    assert page.locator(".alert-mark.is-open").count() == 0, "acknowledged: calmer"
    assert page.evaluate(HIDEOUT) == {community: "calm"}

    since = time.monotonic()
    _desk(runtime, officer).resolve(alert.id, "已处置")
    _within(page, "document.querySelectorAll('#wall-alerts li').length === 0", 2, since)
    page.wait_for_selector(".alert-mark", state="detached", timeout=2000)
    assert page.evaluate(HIDEOUT) == {} and page.is_visible("#wall-alerts-none")
    assert page.hosts == {live_server.url.split("/")[2]}, page.hosts
    assert not page.errors, page.errors
    page.close()


def test_alerts_present_at_load_do_not_chime_and_the_band_fits_every_size(browser, live_server, runtime, api_key,
                                                                           publisher, kiosk_token, account, sound_on):
    desk = _desk(runtime, account("duty"))
    communities = runtime.areas.at_level(3)
    for i, colour in enumerate(["red", "orange", "yellow", "blue", "red", "orange"]):
        desk.raise_by_hand(colour, f"第{i + 1}条预警:{'很长的标题' * (4 if i == 1 else 1)}", communities[i * 3].code)
    _emergency(live_server, api_key, runtime, "s-1", "小区地下室燃气味很重,居民已疏散")
    desk.acknowledge(desk.raise_by_hand("red", "河堤渗水", communities[1].code)["id"], "收到")
    for width, height, scale in SIZES:
        p = _wall(browser, live_server, kiosk_token, width, height, scale, init=REFUSE_PLAY)
        p.wait_for_function("document.querySelectorAll('#wall-alerts li').length === 8", timeout=5000)
        assert p.inner_text("#wall-alerts-total") == "8"
        assert p.locator("#wall-alerts li:not([hidden])").count() == 4 and p.inner_text("#wall-alerts-page") == "1/2"
        sizes = p.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight, innerWidth, innerHeight]")
        assert sizes[0] <= sizes[2] and sizes[1] <= sizes[3], (width, height, scale, sizes)
        overflow = p.evaluate("""(() => { const band = document.getElementById('wall-alerts-band').getBoundingClientRect();
            return [...document.querySelectorAll('#wall-alerts li:not([hidden])')].map(li => li.getBoundingClientRect())
              .filter(r => r.right > band.right + 0.5 || r.bottom > band.bottom + 0.5 || r.left < band.left - 0.5).length; })()""")
        assert overflow == 0, (width, height, scale)
        p.wait_for_timeout(400)  # the pulse at its brighter half
        p.screenshot(path=f"/tmp/bigscreen-wall-alerts-{width}x{height}@{scale}.png")
        assert p.evaluate("window.__plays") == 0, "alerts already there at load do not chime"
        assert p.hosts == {live_server.url.split("/")[2]} and not p.errors, (p.hosts, p.errors)
        p.close()
