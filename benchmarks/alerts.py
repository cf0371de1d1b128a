"""Alerts on the wall (issue #5): alert-to-wall latency, and the acknowledgement round trip from
the duty officer's click to the wall showing 已签收.

    .venv/bin/python benchmarks/alerts.py                        # 50 alerts a path, quiet and at 20 events/s (~16 min)
    .venv/bin/python benchmarks/alerts.py --alerts 10 --load 0   # a quick look

The world is benchmarks/wall_env.py's: a city (6,000 grids) in a temporary SQLite database, an
embedded redis-server, `uvicorn --factory bigscreen.asgi:app --workers 2` (its jobs off), and the
product's FramePublisher in a thread of this process (subclassed only to note when each alert
first reached a stored frame). Chromium (Debian's /usr/bin/chromium through Playwright) shows
the city wall with a kiosk token, and a duty officer's /duty desk in a second context.

Every time is wall-clock milliseconds since the epoch, taken on this one machine: time.time()
in Python, Date.now() in the pages. The wall page records, with a MutationObserver on the
ticker and on Leaflet's marker pane, when each alert's card first appears in the DOM, when it
first says acknowledged, when it goes, and when its map marker appears.

Alert to wall, from just before the commit that raises the alert:
  event: just before `POST /api/v1/events` of an emergency item (red in config/categories.yaml):
         the request, the group commit that stores the event and raises the alert, the
         `changed` message, the publisher's SQL read of the alerts, the frame, the push;
  hand:  just before RaiseAlert (its transaction, then announce) in this process.
Acknowledgement, to the wall showing 已签收:
  desk:  from the click on the row's 签收 button on /duty (a capturing click listener's
         Date.now(); Playwright's real mouse click) through the desk's callback;
  api:   from just before AcknowledgeAlert in this process.
Each alert is then resolved (ResolveAlert) and its card's removal timed too, so the
ticker holds one alert at a time. Alerts are 0.6-1.6 s apart (random), landing at random
points of the publisher's once-a-second cycle. "Under load", ordinary events (no alert) are
posted meanwhile at --load per second, so the publisher also builds for them (four builds a
second; an alert does not wait out their spacing, but may wait for a build in progress).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from playwright.sync_api import Error as PlaywrightError
from wall_browser import Chromium
from wall_env import Env, TimedPublisher, median, pct

from bigscreen.alerts.commands import AcknowledgeAlert, AlertNote, NewAlert, RaiseAlert, ResolveAlert
from bigscreen.auth.roles import Principal, Role

PASSWORD = "benchmark duty officer"
WATCH = """() => {
  const shown = window.__shown = {}, acked = window.__acked = {}, gone = window.__gone = {}, marked = window.__marked = {};
  const ticker = document.getElementById('wall-alerts');
  let present = new Set();
  new MutationObserver(() => {
    const now = Date.now(), here = new Set();
    for (const li of ticker.children) {
      const id = li.dataset.alert;
      if (!id) continue;
      here.add(id);
      if (!(id in shown)) shown[id] = now;
      if (li.dataset.status === 'acknowledged' && !(id in acked)) acked[id] = now;
    }
    for (const id of present) if (!here.has(id) && !(id in gone)) gone[id] = now;
    present = here;
  }).observe(ticker, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-alert', 'data-status']});
  const pane = document.querySelector('.leaflet-marker-pane');
  new MutationObserver(() => {
    const now = Date.now();
    for (const m of pane.querySelectorAll('.alert-mark.is-open')) {
      const c = [...m.classList].find(c => /^alert-mark-\\d+$/.test(c));
      if (c && !(c.slice(11) in marked)) marked[c.slice(11)] = now;
    }
  }).observe(pane, {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});
}"""
NOTE_CLICKS = "document.addEventListener('click', () => { window.__clickAt = Date.now(); }, true);"


class AlertTimedPublisher(TimedPublisher):
    """The product's publisher, noting when each alert (and each acknowledgement) first reached a
    stored city frame, and what reading the alerts from SQL cost."""

    def __init__(self, rt) -> None:
        super().__init__(rt)
        self.first_stored: dict[tuple[int, str], tuple[float, float]] = {}  # (build began, frame stored)
        self.alert_reads: list[float] = []

    def _refresh_alerts(self) -> None:
        stale = self._alerts_stale or time.monotonic() >= self._alerts_next
        t0 = time.perf_counter()
        super()._refresh_alerts()
        if stale:
            self.alert_reads.append(1000 * (time.perf_counter() - t0))

    def publish(self, only: set[str] | None = None, besides: set[str] = frozenset()) -> dict[str, bytes]:
        began = time.time() * 1000
        frames = super().publish(only, besides)
        done = time.time() * 1000
        if self.rt.areas.city.code not in frames:  # the scopes shown did not include the city's
            return frames
        for a in orjson.loads(frames[self.rt.areas.city.code])["alerts"]:
            self.first_stored.setdefault((a["id"], a["status"]), (began, done))
        return frames


class Background:
    """Ordinary events (items that raise no alert) posted at `rate` a second, in a thread."""

    def __init__(self, env: Env, rate: float) -> None:
        self.env, self.rate, self.posted = env, rate, 0
        cfg = env.rt.config
        self.items = [i.code for i in cfg.items if cfg.alert_level(i.code) is None]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Background:
        if self.rate > 0:
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(10)

    def _run(self) -> None:
        rng = random.Random(3)
        with httpx.Client(timeout=10, headers={"X-API-Key": self.env.api_key}) as client:
            while not self.stop.is_set():
                t0 = time.monotonic()
                body = {"source_id": f"bg-{self.posted}-{rng.random()}", "channel": "grid_app", "item": rng.choice(self.items),
                        "description": "楼道堆放杂物", "grid": rng.choice(self.env.grid_areas).code}
                try:
                    client.post(self.env.url + "/api/v1/events", json=body)
                    self.posted += 1
                except httpx.HTTPError:
                    pass
                self.stop.wait(max(0.0, rng.expovariate(self.rate) - (time.monotonic() - t0)))


def officer(env: Env) -> Principal:
    from sqlalchemy import select

    from bigscreen.auth.users import add_user
    from bigscreen.db.models import User

    add_user(env.rt, "bench.duty", PASSWORD, "duty", None, display_name="值班员甲")
    with env.rt.sessions() as s:
        user = s.scalar(select(User).where(User.username == "bench.duty"))
    return Principal("user", user.username, Role(user.role), user.area_code, user.id)


def duty_desk(chrome: Chromium, env: Env):
    """A signed-in /duty desk in its own context; None if the desk cannot be opened."""
    ctx = chrome.browser.new_context(viewport={"width": 1920, "height": 1080}, bypass_csp=True)  # the probes evaluate strings
    ctx.add_init_script(NOTE_CLICKS)
    page = ctx.new_page()
    try:
        page.goto(env.url + "/login?next=/duty")
        page.fill("input[name=username]", "bench.duty")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(env.url + "/duty*", timeout=15000)
        page.wait_for_selector("#duty-alerts", timeout=15000)
        return ctx, page
    except PlaywrightError as exc:  # the desk is optional: the api path still measures the round trip
        print(f"  duty desk not usable ({exc!s:.200}); acknowledging through AcknowledgeAlert only", flush=True)
        ctx.close()
        return None, None


def stamp(page, table: str, alert_id: int, timeout_ms: int = 10000) -> float | None:
    try:
        page.wait_for_function(f"window.{table}['{alert_id}'] !== undefined", timeout=timeout_ms, polling=20)
    except PlaywrightError:  # not shown in time: counted as missed
        return None
    return page.evaluate(f"window.{table}['{alert_id}']")


def run(env: Env, chrome: Chromium, desk_api, desk_page, pub: AlertTimedPublisher, *, alerts: int, load: float, seed: int) -> dict:
    from sqlalchemy import select

    from bigscreen.db.models import Alert

    rng = random.Random(seed)
    red = [i.code for i in env.rt.config.items if env.rt.config.alert_level(i.code) == "red"]
    communities = env.rt.areas.at_level(3)
    ctx, wall = chrome.wall(env.url)
    wall.wait_for_timeout(2000)  # the push channel takes over from polling
    wall.evaluate(WATCH)
    rows: list[dict] = []
    missed = 0
    with Background(env, load) as background, httpx.Client(timeout=10, headers={"X-API-Key": env.api_key}) as client:
        t_start = time.time()
        for k in range(2 * alerts + 2):
            path = "event" if k % 2 == 0 else "hand"
            ack = "desk" if desk_page is not None and (k // 2) % 2 == 0 else "api"
            time.sleep(rng.uniform(0.6, 1.6))
            grid = rng.choice(env.grid_areas)
            t0 = time.time() * 1000
            if path == "event":
                r = client.post(env.url + "/api/v1/events", json={
                    "source_id": f"alert-{seed}-{k}", "channel": "hotline_12345", "item": rng.choice(red),
                    "description": "小区地下室燃气味很重,请速来", "grid": grid.code})
                answered = time.time() * 1000
                if r.status_code != 201:
                    raise RuntimeError(f"POST /api/v1/events: {r.status_code} {r.text[:300]}")
                with env.rt.sessions() as s:
                    alert_id = s.scalar(select(Alert.id).where(Alert.event_id == r.json()["id"]))
            else:
                alert_id = RaiseAlert(env.rt, desk_api, NewAlert(colour="red", title=f"河堤渗水 #{k}", area=rng.choice(communities).code)).run()["id"]
                answered = time.time() * 1000
            shown = stamp(wall, "__shown", alert_id)
            marked = stamp(wall, "__marked", alert_id, 3000)
            if shown is None:
                missed += 1
                ResolveAlert(env.rt, desk_api, alert_id, AlertNote(comment="bench")).run()
                continue
            began, stored = pub.first_stored.get((alert_id, "open"), (math.nan, math.nan))
            row = {"path": path, "ack": ack, "id": alert_id, "shown": shown - t0, "answered": answered - t0,
                   "marked": None if marked is None else marked - t0, "began": began - t0, "stored": stored - t0}
            if ack == "desk":
                button = desk_page.locator(f'li.duty-alert[data-alert="{alert_id}"] .duty-ack')
                button.wait_for(timeout=15000)  # the desk lists it at its next refresh
                desk_page.wait_for_timeout(rng.uniform(100, 400))
                button.click()
                t1 = desk_page.evaluate("window.__clickAt")
            else:
                time.sleep(rng.uniform(0.3, 1.0))  # an officer reads before acknowledging
                t1 = time.time() * 1000
                AcknowledgeAlert(env.rt, desk_api, alert_id, AlertNote(comment="bench")).run()
            acked = stamp(wall, "__acked", alert_id)
            row["ack_ms"] = None if acked is None else acked - t1
            row["ack_stored"] = pub.first_stored.get((alert_id, "acknowledged"), (math.nan, math.nan))[1] - t1
            wall.wait_for_timeout(rng.uniform(200, 600))
            t2 = time.time() * 1000
            ResolveAlert(env.rt, desk_api, alert_id, AlertNote(comment="bench")).run()
            gone = stamp(wall, "__gone", alert_id)
            row["resolve_ms"] = None if gone is None else gone - t2
            if k >= 2:  # two warm-up alerts
                rows.append(row)
        elapsed = time.time() - t_start
        posted = background.posted
    ctx.close()
    return {"rows": rows, "missed": missed, "load": load, "background_rate": posted / elapsed if load else 0.0}


def summary(xs) -> dict:
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    return {"n": len(xs), "p50": median(xs), "p95": pct(xs, 95), "max": max(xs, default=math.nan)}


def report(result: dict) -> dict:
    rows = result["rows"]
    out = {}
    for path in ("event", "hand"):
        mine = [r for r in rows if r["path"] == path]
        out[f"alert[{path}]"] = summary([r["shown"] for r in mine])
        out[f"  began[{path}]"] = summary([r["began"] for r in mine])
        out[f"  stored[{path}]"] = summary([r["stored"] for r in mine])
        out[f"  marker[{path}]"] = summary([r["marked"] for r in mine])
        out[f"  answered[{path}]"] = summary([r["answered"] for r in mine])
    for ack in ("desk", "api"):
        mine = [r for r in rows if r["ack"] == ack]
        out[f"ack[{ack}]"] = summary([r["ack_ms"] for r in mine])
        out[f"  stored[{ack}]"] = summary([r["ack_stored"] for r in mine])
    out["resolve"] = summary([r["resolve_ms"] for r in rows])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=50, help="alerts a raising path (event, hand) per run")
    ap.add_argument("--load", type=float, default=20.0, help="ordinary events a second in the second run (0: quiet run only)")
    ap.add_argument("--grids", type=int, default=6000)
    ap.add_argument("--history", type=int, default=10_000, help="events of history in SQL and Redis before measuring")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, help="write every measurement here")
    args = ap.parse_args()

    with Env(args.grids, args.workers) as env, Chromium() as chrome:
        env.grow_history(args.history)
        env.start_server()
        chrome.wall_path = env.wall_path
        pub = env.publisher = AlertTimedPublisher(env.rt)
        env._pub_stop = threading.Event()
        env._pub_thread = threading.Thread(target=pub.run, args=(env._pub_stop,), daemon=True, name="publisher")
        env._pub_thread.start()
        desk_api = officer(env)
        desk_ctx, desk_page = duty_desk(chrome, env)
        results = {}
        for load in [0.0] + ([args.load] if args.load > 0 else []):
            name = "quiet" if load == 0 else f"load {load:g}/s"
            print(f"{name}: {args.alerts} alerts a path ...", flush=True)
            builds0, reads0 = len(pub.builds), len(pub.alert_reads)
            result = run(env, chrome, desk_api, desk_page, pub, alerts=args.alerts, load=load, seed=int(load) + 1)
            result["builds"], result["alert_reads"] = len(pub.builds) - builds0, pub.alert_reads[reads0:]
            results[name] = result
            print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
            print(f"  {len(result['rows'])} alerts measured, {result['missed']} missed; background {result['background_rate']:.1f} events/s; "
                  f"{result['builds']} builds, {len(result['alert_reads'])} alert reads from SQL "
                  f"(median {median(result['alert_reads']):.1f} ms)", flush=True)
            for key, s in report(result).items():
                print(f"  {key:<20} n={s['n']:>3}  p50 {s['p50']:7.1f} ms  p95 {s['p95']:7.1f} ms  max {s['max']:7.1f} ms", flush=True)
        if desk_ctx is not None:
            desk_ctx.close()
        print(f"frame build (every scope, or the scopes shown after a change): median {median(pub.builds) * 1000:.1f} ms, p95 {pct(pub.builds, 95) * 1000:.1f} ms "
              f"over {len(pub.builds)} builds", flush=True)
        if args.json:
            args.json.write_text(json.dumps({k: {**v, "summary": report(v)} for k, v in results.items()}, indent=1, default=str))


if __name__ == "__main__":
    main()
