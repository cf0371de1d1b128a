"""A wall fed by deltas (bigscreen.wall.delta) shows what a wall fed whole frames shows, and the
figures of SQL: after a series of events, after its connection dropped, and after a gap."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select
from tests_support import LiveServer, free_port, layout_prop_js

from bigscreen.db.models import Event
from bigscreen.domain.lifecycle import CLOSED_STATUSES
from bigscreen.simulation.life import ROLE_OF

# what a person reads off the wall (ages and the clock aside): every figure, list and map colour
PICTURE = """() => {
  const text = (sel) => Array.from(document.querySelectorAll(sel)).map((n) => n.textContent);
  return JSON.stringify({
    kpi: Array.from(document.querySelectorAll('[data-kpi]')).map((n) => n.dataset.kpi + '=' + n.dataset.value + '|' + n.textContent),
    figures: text('[data-figure]'), gauges: text('.gauge-value'),
    lists: ['#wall-categories', '#wall-streets', '#wall-departments', '#wall-feed', '#wall-trend-list'].map((s) => document.querySelector(s)?.innerHTML),
    alerts: Array.from(document.querySelectorAll('#wall-alerts li')).map((li) => [li.dataset.alert, li.dataset.status, li.className,
      li.querySelector('.alert-title')?.textContent]),
    total: document.querySelector('#wall-alerts-total')?.textContent,
    map: %s,
  });
}""" % layout_prop_js("wall-map-fill", "hideout.values")

# counts the deltas the page is handed (the clientside callback is looked up at each call)
COUNT = """() => { const wall = window.dash_clientside.wall, render = wall.render;
  window.__deltas = 0;
  wall.render = function (data) { if (data && JSON.parse(data).ops) window.__deltas++; return render.apply(this, arguments); }; }"""


def _post(url, api_key, runtime, sid, i):
    grids = runtime.areas.at_level(runtime.areas.grid_level)
    items = [it.code for c in runtime.config.categories for it in c.items if runtime.config.alert_level(it.code) is None]
    r = httpx.post(url + "/api/v1/events", headers={"X-API-Key": api_key},
                   json={"source_id": sid, "channel": "citizen_snap", "item": items[i % len(items)],
                         "grid": grids[(i * 13) % len(grids)].code, "description": f"事件 {i}"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _close(url, api_key, event_id):
    for body in ({"action": "accept"}, {"action": "handle"}, {"action": "verify", "photo_url": "/v.jpg"},
                 {"action": "close", "resolved_level": "street"}):
        r = httpx.post(f"{url}/api/v1/events/{event_id}/transitions", headers={"X-API-Key": api_key},
                       json={**body, "role": ROLE_OF[body["action"]]})
        assert r.status_code == 200, r.text


def _sql(runtime) -> dict[str, str]:
    with runtime.sessions() as s:
        reported = s.scalar(select(func.count()).select_from(Event))
        still_open = s.scalar(select(func.count()).select_from(Event).where(Event.status.not_in(CLOSED_STATUSES)))
    return {"reported_today": str(reported), "open": str(still_open)}


def _shows(page, figures: dict[str, str]) -> None:
    cond = " && ".join(f"document.querySelector('[data-kpi={k}]')?.dataset.value === '{v}'" for k, v in figures.items())
    page.wait_for_function(cond, timeout=15000)


def _same_picture(fed_deltas, fed_whole) -> None:
    """Both walls settle on one picture (the publisher builds every second: wait for the same one)."""
    for _ in range(20):
        a, b = fed_deltas.evaluate(PICTURE), fed_whole.evaluate(PICTURE)
        if a == b:
            return
        fed_deltas.wait_for_timeout(300)
    assert a == b


def test_a_wall_fed_deltas_shows_what_whole_frames_show_and_sql_holds(browser, runtime, api_key, publisher, kiosk_token):
    port = free_port()
    from bigscreen.app import create_app

    server = LiveServer(create_app(runtime).server, port).start()
    pushed = browser.new_page(viewport={"width": 1920, "height": 1080})
    errors: list[str] = []
    pushed.on("pageerror", lambda exc: errors.append(str(exc)))
    pushed.goto(server.url + f"/wall?token={kiosk_token}")
    pushed.wait_for_function("document.querySelector('[data-kpi=reported_today]')?.dataset.value === '0'", timeout=15000)
    pushed.evaluate(COUNT)
    pushed.wait_for_function("window.__deltas >= 2", timeout=15000)  # the push channel took over
    polled_ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    polled_ctx.route(re.compile(r".*dash-ws-worker.*"), lambda route: route.abort())  # no websocket: whole frames by polling
    polled = polled_ctx.new_page()
    polled.goto(server.url + f"/wall?token={kiosk_token}")
    try:
        ids = [_post(server.url, api_key, runtime, f"d-{i}", i) for i in range(6)]
        for i in range(6, 30):  # a series, some of them closed: feed, map, rates and rankings move
            ids.append(_post(server.url, api_key, runtime, f"d-{i}", i))
            if i % 5 == 0:
                _close(server.url, api_key, ids[i - 6])
            pushed.wait_for_timeout(120)
        figures = _sql(runtime)
        assert figures["reported_today"] == "30" and figures["open"] == "26"
        _shows(pushed, figures)
        _shows(polled, figures)
        assert pushed.evaluate("window.__deltas") >= 10, "fed deltas"
        _same_picture(pushed, polled)

        server.stop()  # the connection drops; events arrive meanwhile at the other server
        pushed.wait_for_selector("#wall-stale", state="visible", timeout=10000)
        server = LiveServer(create_app(runtime).server, port).start()
        for i in range(30, 36):
            ids.append(_post(server.url, api_key, runtime, f"d-{i}", i))
        _close(server.url, api_key, ids[20])
        figures = _sql(runtime)
        deltas = pushed.evaluate("window.__deltas")
        _shows(pushed, figures)
        _shows(polled, figures)
        pushed.wait_for_function(f"window.__deltas > {deltas} + 2", timeout=15000)  # back on the push channel, fed deltas again
        _post(server.url, api_key, runtime, "d-after", 99)
        figures = _sql(runtime)
        _shows(pushed, figures)
        _shows(polled, figures)
        _same_picture(pushed, polled)

        # a gap: a delta that does not start from the frame held; the wall asks for the whole frame
        polls: list[str] = []
        pushed.on("request", lambda req: "_dash-update-component" in req.url and polls.append(req.url))
        pushed.evaluate("window.dash_clientside.set_props('wall-frame', {data: JSON.stringify({seq: 1, base: 0, "
                        "ops: [[['kpi', 'open'], 999]]})})")
        pushed.wait_for_timeout(1500)
        assert polls, "a gap asks for a whole frame at once"
        assert pushed.get_attribute('[data-kpi="open"]', "data-value") == figures["open"], "a delta to another frame is not applied"
        _post(server.url, api_key, runtime, "d-gap", 100)
        figures = _sql(runtime)
        _shows(pushed, figures)
        _shows(polled, figures)
        _same_picture(pushed, polled)
        assert not errors, errors
    finally:
        pushed.close()
        polled_ctx.close()
        server.stop()
