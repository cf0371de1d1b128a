"""A person in front of the wall: right numbers, citizens' text as text, every size, self-recovery."""

from __future__ import annotations

import httpx
from sqlalchemy import distinct, func, select
from tests_support import LiveServer, free_port, hot_spot_js, layout_prop_js

from bigscreen.db.models import FieldActivity, GridWorker
from bigscreen.live.kpi import KPI_NAMES
from bigscreen.screens.presentation import display_value

SIZES = [(1920, 1080, 1), (3840, 2160, 1), (1366, 768, 1), (5760, 1080, 1), (1920, 1080, 1.5)]
MAP_VALUES = layout_prop_js("wall-map-fill", "hideout.values")
XSS = '<img src=x onerror="window.__xss=1">楼道堆放杂物<script>window.__xss=2</script>'


def _post(server, api_key, runtime, sid, description="路灯不亮", item=None):
    grid = runtime.areas.at_level(runtime.areas.grid_level)[5]
    item = item or runtime.config.categories[1].items[0].code
    r = httpx.post(server.url + "/api/v1/events", headers={"X-API-Key": api_key},
                   json={"source_id": sid, "channel": "citizen_snap", "item": item, "grid": grid.code, "description": description})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _settle(server, api_key, event_id, level, mediation=()):
    """Mediates (for a dispute), then closes the case at `level`."""
    for outcome in mediation:
        r = httpx.post(f"{server.url}/api/v1/events/{event_id}/mediation", headers={"X-API-Key": api_key},
                       json={"outcome": outcome, "role": "centre"})
        assert r.status_code == 200, r.text
    for body in ({"action": "accept", "role": "department"}, {"action": "handle", "role": "department"},
                 {"action": "verify", "role": "grid_worker", "photo_url": "/v.jpg"},
                 {"action": "close", "role": "centre", "resolved_level": level}):
        r = httpx.post(f"{server.url}/api/v1/events/{event_id}/transitions", headers={"X-API-Key": api_key}, json=body)
        assert r.status_code == 200, r.text


def _field_work(server, api_key, runtime) -> dict[str, int]:
    """Three workers check in (one twice), two patrols, three visits; returns the city's figures
    from the API after checking them against SQL."""
    with runtime.sessions() as s:
        workers = s.execute(select(GridWorker.id).where(GridWorker.role == "full_time").order_by(GridWorker.id).limit(3)).scalars().all()
    batch = [{"kind": "check_in", "worker_id": w, "role": "grid_worker"} for w in [*workers, workers[0]]]
    batch += [{"kind": "patrol", "worker_id": workers[0], "role": "grid_worker"} for _ in range(2)]
    batch += [{"kind": "visit", "worker_id": workers[1], "role": "grid_worker"} for _ in range(3)]
    r = httpx.post(server.url + "/api/v1/field-activities", headers={"X-API-Key": api_key}, json=batch)
    assert r.status_code == 201, r.text
    with runtime.sessions() as s:
        on_duty = s.scalar(select(func.count(distinct(FieldActivity.worker_id))).where(FieldActivity.kind == "check_in"))
    got = httpx.get(server.url + "/api/v1/field-work", headers={"X-API-Key": api_key}).json()
    figures = {k: got[k] for k in ("on_duty", "patrols_today", "visits_today")}
    assert figures == {"on_duty": on_duty, "patrols_today": 2, "visits_today": 3} and on_duty == 3, got
    return figures


def _value(page, name):
    return page.get_attribute(f'[data-kpi="{name}"]', "data-value")


def test_wall_numbers_text_sizes_and_origin(browser, live_server, runtime, api_key, publisher, kiosk_token):
    for i in range(7):
        _post(live_server, api_key, runtime, f"w-{i}")
    _settle(live_server, api_key, _post(live_server, api_key, runtime, "w-street"), "street")
    dispute = next(c for c in runtime.config.categories if c.dispute).items[0].code
    _settle(live_server, api_key, _post(live_server, api_key, runtime, "w-dispute", "邻里纠纷", dispute), "community",
            mediation=["failed", "mediated"])
    _post(live_server, api_key, runtime, "w-xss", XSS)
    field_work = _field_work(live_server, api_key, runtime)
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    hosts, errors = set(), []
    page.on("request", lambda req: hosts.add(req.url.split("/")[2]))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live_server.url + f"/wall?token={kiosk_token}")
    page.wait_for_function("document.querySelector('[data-kpi=reported_today]')?.dataset.value === '10'", timeout=15000)

    kpi = httpx.get(live_server.url + "/api/v1/kpi", headers={"X-API-Key": api_key}).json()
    assert kpi["resolved_locally_share"] == 0.5 and kpi["mediation_success"] == 1.0
    for name in KPI_NAMES:
        shown = _value(page, name)
        assert (None if shown == "" else float(shown)) == kpi[name], name
        assert page.inner_text(f'[data-kpi="{name}"]') == display_value(name, kpi[name]), name  # as the home page reads it

    for name, value in field_work.items():  # 网格力量 · 今日, as the field-work API and SQL count it
        assert page.inner_text(f'#wall-field-work [data-figure="field_work.{name}"]') == f"{value:,}", name
    feed = page.inner_text("#wall-feed")
    assert "<img src=x onerror=" in feed and "<script>" in feed
    assert page.evaluate("window.__xss") is None and page.locator("#wall-feed img, #wall-feed script").count() == 0

    _post(live_server, api_key, runtime, "w-new")
    page.wait_for_function("document.querySelector('[data-kpi=reported_today]').dataset.value === '11'", timeout=5000)
    # the map: all 9 open cases are in grid 5's community, and only there
    community = runtime.areas.at_level(runtime.areas.grid_level)[5].chain[3]
    page.wait_for_function(f"JSON.stringify({MAP_VALUES}) === '{{\"{community}\":9}}'", timeout=5000)
    page.wait_for_function(hot_spot_js("#wall-map-panel"), timeout=5000)  # and it is drawn: red, the top of the scale

    for width, height, scale in SIZES:
        p = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=scale)
        p.goto(live_server.url + f"/wall?token={kiosk_token}")
        p.wait_for_function("(document.querySelector('[data-kpi=open]')?.dataset.value ?? '') !== ''"
                            " && document.getElementById('wall-stage').dataset.fitted === '1'", timeout=15000)
        p.wait_for_function(hot_spot_js("#wall-map-panel"), timeout=8000)  # coloured by the first frame, no change needed
        sizes = p.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight, innerWidth, innerHeight]")
        assert sizes[0] <= sizes[2] and sizes[1] <= sizes[3], (width, height, scale, sizes)
        box = p.evaluate("(() => { const r = document.getElementById('wall-stage').getBoundingClientRect();"
                         " return [r.left, r.top, r.right, r.bottom]; })()")
        assert box[0] >= -0.5 and box[1] >= -0.5 and box[2] <= width + 0.5 and box[3] <= height + 0.5, (width, height, box)
        p.screenshot(path=f"/tmp/bigscreen-wall-{width}x{height}@{scale}.png")
        p.close()
    assert hosts == {live_server.url.split("/")[2]}, hosts
    assert not errors, errors
    page.close()


def test_wall_shows_stale_banner_and_recovers(browser, runtime, api_key, publisher, kiosk_token):
    from bigscreen.app import create_app

    port = free_port()
    app = create_app(runtime).server
    server = LiveServer(app, port).start()
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(server.url + f"/wall?token={kiosk_token}")
    page.wait_for_function("document.querySelector('[data-kpi=open]')?.dataset.value === '0'", timeout=15000)
    assert page.is_hidden("#wall-stale")
    server.stop()
    page.wait_for_selector("#wall-stale", state="visible", timeout=10000)
    assert page.get_attribute('[data-kpi="open"]', "data-value") == "0", "the last picture stays"
    server = LiveServer(create_app(runtime).server, port).start()
    try:
        _post(server, api_key, runtime, "after-restart")
        page.wait_for_function("document.querySelector('[data-kpi=open]').dataset.value === '1'", timeout=15000)
        page.wait_for_selector("#wall-stale", state="hidden", timeout=5000)
    finally:
        server.stop()
        page.close()


def test_wall_survives_losing_redis_and_comes_back_with_the_figures_of_sql(browser, runtime, api_key, kiosk_token, tmp_path):
    """Redis killed under an open wall: the wall keeps its last picture and says its data is stale
    (never an error page); an event still arrives meanwhile; Redis comes back empty, the figures are
    rebuilt from SQL, and the same page shows them by itself."""
    from bigscreen.app import create_app
    from bigscreen.jobs import schedule
    from bigscreen.jobs.watch import sync_live
    from bigscreen.live.server import EmbeddedRedis
    from bigscreen.process.runtime import Runtime

    own = EmbeddedRedis(tmp_path / "own-redis", persist=False).start()
    rt = Runtime(runtime.settings.model_copy(update={"redis_url": own.url}), runtime.config)
    sync_live(rt)
    background = schedule.start_background(rt)  # the watch, the leader's repair and the frames, as in `serve`
    server = LiveServer(create_app(rt).server, free_port()).start()
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    errors: list[str] = []
    page.on("response", lambda r: r.status >= 500 and r.status != 503 and errors.append(f"{r.status} {r.url}"))
    try:
        _post(server, api_key, runtime, "before")
        page.goto(server.url + f"/wall?token={kiosk_token}")
        page.wait_for_function("document.querySelector('[data-kpi=open]')?.dataset.value === '1'", timeout=15000)
        own.process.kill()
        own.process.wait()
        page.wait_for_selector("#wall-stale", state="visible", timeout=15000)
        assert page.get_attribute('[data-kpi="open"]', "data-value") == "1", "the last picture stays"
        _post(server, api_key, runtime, "while-redis-is-away")  # stored in SQL
        own = EmbeddedRedis(own.directory, persist=False).start()  # back, and empty
        page.wait_for_function("document.querySelector('[data-kpi=open]').dataset.value === '2'", timeout=30000)
        page.wait_for_selector("#wall-stale", state="hidden", timeout=5000)
        assert not errors, errors
    finally:
        page.close()
        server.stop()
        background.shutdown()
        rt.close()
        own.stop()


def test_wall_is_pushed_and_falls_back_to_polling(browser, live_server, runtime, api_key, publisher, kiosk_token):
    import re
    import time

    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    polls: list[float] = []
    page.on("request", lambda req: "_dash-update-component" in req.url and polls.append(time.monotonic()))
    page.goto(live_server.url + f"/wall?token={kiosk_token}")
    page.wait_for_function("document.querySelector('[data-kpi=reported_today]')?.dataset.value === '0'", timeout=15000)
    page.wait_for_timeout(1500)  # the push channel takes over and turns polling off
    quiet_from = time.monotonic()
    _post(live_server, api_key, runtime, "pushed")
    page.wait_for_function("document.querySelector('[data-kpi=reported_today]').dataset.value === '1'", timeout=5000)
    page.wait_for_timeout(1500)
    assert not [t for t in polls if t > quiet_from], "frames arrive by push, not by polling"
    page.close()

    # Dash's websocket lives in a SharedWorker, out of route_web_socket's reach: refuse the worker
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    context.route(re.compile(r".*dash-ws-worker.*"), lambda route: route.abort())
    blocked = context.new_page()
    fallback_polls: list[float] = []
    blocked.on("request", lambda req: "_dash-update-component" in req.url and fallback_polls.append(time.monotonic()))
    blocked.goto(live_server.url + f"/wall?token={kiosk_token}")
    blocked.wait_for_function("document.querySelector('[data-kpi=reported_today]')?.dataset.value === '1'", timeout=15000)
    _post(live_server, api_key, runtime, "polled")
    blocked.wait_for_function("document.querySelector('[data-kpi=reported_today]').dataset.value === '2'", timeout=8000)
    assert blocked.is_hidden("#wall-stale")
    assert len(fallback_polls) >= 3, "without the push channel the wall polls"
    context.close()


def test_new_events_pulse_and_cloud_maps_rotate(browser, live_server, runtime, api_key, publisher, kiosk_token):
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(live_server.url + f"/wall?rotate=2&token={kiosk_token}")
    page.wait_for_function("document.querySelector('[data-kpi=reported_today]')?.dataset.value === '0'", timeout=15000)
    assert page.locator(".leaflet-marker-icon.pulse").count() == 0
    _post(live_server, api_key, runtime, "pulse", "井盖缺失")
    page.wait_for_selector(".leaflet-marker-icon.pulse", timeout=5000)
    titles = set()
    for _ in range(12):
        titles.add(page.inner_text("#wall-map-panel-title"))
        page.wait_for_timeout(500)
    assert titles == {"事件统计云图", "人房管理云图", "运行管理云图"}
    page.wait_for_function("document.querySelector('#wall-map-panel-title').textContent === '人房管理云图'", timeout=8000)
    population = page.inner_text("#wall-people-population").replace(",", "")
    assert int(population) == runtime.config.city.demo.population
    page.wait_for_selector(".leaflet-marker-icon.pulse", state="detached", timeout=8000)
    page.close()


# Counts the frames the wall takes in and every change made under its stage, by the element changed.
WATCH_CHANGES = """() => {
  window.__frames = 0; window.__changed = {};
  const wall = window.dash_clientside.wall, render = wall.render;
  wall.render = function () { window.__frames += 1; return render.apply(this, arguments); };
  new MutationObserver(ms => ms.forEach(m => {
    const node = m.target.nodeType === 1 ? m.target : m.target.parentElement;
    const key = (node.id || node.className || node.tagName) + ' ' + m.type;
    window.__changed[key] = (window.__changed[key] || 0) + 1;
  })).observe(document.getElementById('wall-stage'), {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def test_a_wall_left_running_keeps_its_history_bounded_and_rewrites_only_what_changed(
        browser, live_server, runtime, api_key, publisher, kiosk_token):
    """A wall runs for months: Dash's undo history stays short, and the frames that arrive every second with
    the same figures write nothing into the page (each write costs the kiosk's browser a layout and a paint:
    an idle wall rewrote some 80 nodes a second); the clock and the data's age tick."""
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(live_server.url + f"/wall?token={kiosk_token}")
    page.wait_for_function("document.querySelector('[data-kpi=reported_today]')?.dataset.value === '0'", timeout=15000)
    for i in range(8):  # about ten frames: without trimming, ten undo steps or more
        _post(live_server, api_key, runtime, f"h-{i}")
        page.wait_for_timeout(1200)
    assert page.evaluate("window.store.getState().history.past.length") <= 6
    page.wait_for_function("document.querySelector('[data-kpi=reported_today]')?.dataset.value === '8'", timeout=10000)
    page.wait_for_function("!document.querySelector('.pulse')", timeout=15000)  # the new events' pulses are over
    page.evaluate(WATCH_CHANGES)
    page.wait_for_timeout(3500)
    assert page.evaluate("window.__frames") >= 2, "frames kept coming"
    changed = page.evaluate("window.__changed")
    assert {key.split(" ")[0] for key in changed} <= {"wall-clock", "wall-age"}, changed
    page.close()
