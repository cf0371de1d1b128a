"""The wall in Chromium (Playwright, Debian's /usr/bin/chromium): capturing what a real wall sends,
event-to-screen latency, first paint, and the JS heap over many refreshes. Used by benchmarks/wall.py."""

from __future__ import annotations

import json
import random
import re
import threading
import time

import httpx
from wall_env import Env, median, pct

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # as tests/browser/conftest.py
VIEWPORT = {"width": 1920, "height": 1080}
FILLED = "(document.querySelector('[data-kpi=open]')?.dataset.value ?? '') !== ''"

# Dash's renderer talks to its SharedWorker (which owns the websocket) through a MessagePort:
# note the callback requests it sends, to replay them from Python.
HOOK_WS_REQUESTS = """(() => { const orig = MessagePort.prototype.postMessage;
  MessagePort.prototype.postMessage = function (m, ...rest) {
    try { if (m && m.type === 'callback_request') (window.__wsRequests = window.__wsRequests || []).push(JSON.parse(JSON.stringify(m))); } catch (e) {}
    return orig.call(this, m, ...rest); }; })();"""

# Time of the first drawn frame, in ms since navigation start: the first time a counter gets a value.
HOOK_FIRST_FRAME = """(() => { const obs = new MutationObserver((records) => {
    for (const r of records) {
      if (r.target.dataset && r.target.dataset.kpi === 'open' && r.target.dataset.value !== '') {
        window.__firstFrame = performance.now(); obs.disconnect(); return; } } });
  obs.observe(document, {subtree: true, attributes: true, attributeFilter: ['data-value']}); })();"""

# Every change of the reported_today counter, with the page's wall clock.
WATCH_REPORTED = """() => { window.__changes = []; const node = document.querySelector('[data-kpi=reported_today]');
  new MutationObserver(() => window.__changes.push([Date.now(), node.dataset.value]))
    .observe(node, {attributes: true, attributeFilter: ['data-value']}); }"""

# Count the frames the wall actually draws (render() skips a frame it has already drawn).
COUNT_RENDERS = """() => { const wall = window.dash_clientside.wall, orig = wall.render; let last = null;
  window.__renders = 0;
  wall.render = function (data) { if (data && data !== last) { last = data; window.__renders++; } return orig.apply(this, arguments); }; }"""


class Chromium:
    """One headless Chromium; `wall_path` is the wall's URL path with its kiosk token."""

    wall_path = "/wall"

    def __enter__(self) -> Chromium:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        return self

    def __exit__(self, *exc) -> None:
        self.browser.close()
        self._pw.stop()

    def wall(self, url: str, *, poll_only: bool = False, init: tuple[str, ...] = (), timeout_ms: int = 30000):
        """A new context (empty cache) with one page showing the wall, its first frame drawn."""
        ctx = self.browser.new_context(viewport=VIEWPORT, bypass_csp=True)  # the probes evaluate strings
        for script in init:
            ctx.add_init_script(script)
        page = ctx.new_page()
        if poll_only:
            # Dash's websocket lives in a SharedWorker, which page.route_web_socket does not reach:
            # the socket would still connect. Keep the worker script from loading as well, so the
            # wall never gets a push channel and stays on polling (its fallback).
            page.route_web_socket(re.compile(".*"), lambda ws: ws.close())
            ctx.route(re.compile(r"dash-ws-worker"), lambda route: route.abort())
        page.goto(url + self.wall_path)
        page.wait_for_function(FILLED, timeout=timeout_ms)
        return ctx, page


def capture(chrome: Chromium, url: str) -> tuple[str, str, dict]:
    """A wall's polling request (path with query, body; websockets blocked) and its push callback request."""
    ctx, page = chrome.wall(url, poll_only=True)
    seen = []
    page.on("request", lambda r: "_dash-update-component" in r.url and seen.append((r.url, r.post_data)))
    page.wait_for_timeout(2500)
    ctx.close()
    polls = [(u, b) for u, b in seen if b and json.loads(b).get("output") == "wall-frame.data"]
    if not polls:
        raise RuntimeError("no polling request seen from the wall")
    path = polls[-1][0][len(url):]
    ctx, page = chrome.wall(url, init=(HOOK_WS_REQUESTS,))
    page.wait_for_timeout(1500)
    sent = page.evaluate("window.__wsRequests || []")
    ctx.close()
    persistent = [m for m in sent if not m["payload"].get("inputs")]
    if not persistent:
        raise RuntimeError(f"no persistent websocket callback seen: {sent}")
    return path, polls[-1][1], persistent[0]["payload"]


def latency(chrome: Chromium, env: Env, *, poll_only: bool, events: int, seed: int) -> dict:
    """From `POST /api/v1/events` returning to the new reported_today value in the page's DOM.
    Events are spaced 0.6-1.6 s apart (random), so they land at random points of the
    publisher's and the poll's one-second cycles."""
    rng = random.Random(seed)
    ctx, page = chrome.wall(env.url, poll_only=poll_only)
    polls = []
    page.on("request", lambda r: "_dash-update-component" in r.url and polls.append(time.monotonic()))
    page.wait_for_timeout(2000)  # the push channel takes over (or polling settles)
    page.evaluate(WATCH_REPORTED)
    out, missed = [], 0
    t_start = time.monotonic()
    with httpx.Client(timeout=10) as client:
        for k in range(events + 2):
            if time.monotonic() - t_start > events * 4 + 60:
                break
            time.sleep(rng.uniform(0.6, 1.6))
            before = int(page.get_attribute("[data-kpi=reported_today]", "data-value") or 0)
            page.evaluate("window.__changes = []")
            posted_ms = env.post_event(client, rng, "lat") * 1000
            try:
                page.wait_for_function(f"window.__changes.some(c => Number(c[1]) > {before})", timeout=5000, polling=20)
            except Exception:
                missed += 1
                continue
            shown_ms = next(t for t, v in page.evaluate("window.__changes") if int(v) > before)
            if k >= 2:  # two warm-up events
                out.append(shown_ms - posted_ms)
    window_s = time.monotonic() - t_start
    ctx.close()
    return {"n": len(out), "missed": missed, "p50": median(out), "p95": pct(out, 95), "max": max(out, default=float("nan")),
            "deciles": [pct(out, p) for p in range(10, 100, 10)], "all": sorted(out),
            "polls_per_s": len([t for t in polls if t >= t_start]) / window_s}


def first_paint(chrome: Chromium, url: str, loads: int) -> dict:
    """Navigation start to the first frame drawn, each load in a new context (cold cache)."""
    firsts, fcp, dcl = [], [], []
    for _ in range(loads):
        ctx = chrome.browser.new_context(viewport=VIEWPORT, bypass_csp=True)  # the probes evaluate strings
        ctx.add_init_script(HOOK_FIRST_FRAME)
        page = ctx.new_page()
        page.goto(url + chrome.wall_path, wait_until="commit")
        page.wait_for_function("window.__firstFrame !== undefined", timeout=30000)
        firsts.append(page.evaluate("window.__firstFrame"))
        timing = page.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
            const p = performance.getEntriesByName('first-contentful-paint')[0];
            return [n ? n.domContentLoadedEventEnd : null, p ? p.startTime : null]; }""")
        dcl.append(timing[0] or float("nan"))
        fcp.append(timing[1] or float("nan"))
        ctx.close()
    return {"n": len(firsts), "first_frame_ms": median(firsts), "all_ms": firsts, "fcp_ms": median(fcp), "dcl_ms": median(dcl)}


class ForcedFrames:
    """Frames built far more often than in production (the product's publisher stops meanwhile),
    with events posted so the figures, the feed and the map really change."""

    def __init__(self, env: Env, rate: float, events_per_s: float) -> None:
        from wall_env import TimedPublisher

        self.env, self.rate, self.events_per_s = env, rate, events_per_s
        self.publisher = TimedPublisher(env.rt)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._publish, daemon=True), threading.Thread(target=self._post, daemon=True)]

    def __enter__(self) -> ForcedFrames:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(10)

    def _publish(self) -> None:
        while not self.stop.is_set():
            t0 = time.monotonic()
            self.publisher.publish()
            self.stop.wait(max(0.0, 1 / self.rate - (time.monotonic() - t0)))

    def _post(self) -> None:
        rng = random.Random(11)
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                try:
                    self.env.post_event(client, rng, "heap", quiet=True)  # no alerts piling up: the same picture, new figures
                except (httpx.HTTPError, RuntimeError):
                    pass
                self.stop.wait(1 / self.events_per_s)


def heap(chrome: Chromium, env: Env, *, first: int, last: int, rate: float, limit_s: float) -> dict:
    """JS heap (after a forced GC) once the wall has drawn `first` frames and again after `last`."""
    env.stop_publisher()
    ctx, page = chrome.wall(env.url)
    cdp = ctx.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.wait_for_timeout(2000)
    page.evaluate(COUNT_RENDERS)

    def sample() -> dict:
        cdp.send("HeapProfiler.collectGarbage")
        cdp.send("HeapProfiler.collectGarbage")
        used = cdp.send("Runtime.getHeapUsage")["usedSize"]
        dom = cdp.send("Memory.getDOMCounters")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        undo = page.evaluate("(() => { try { return window.store.getState().history.past.length; } catch (e) { return null; } })()")
        return {"renders": page.evaluate("window.__renders"), "heap": used, "nodes": dom["nodes"], "dash_history": undo,
                "listeners": dom["jsEventListeners"], "task_s": metrics.get("TaskDuration", 0.0), "t": time.monotonic()}

    samples = []
    t0 = time.monotonic()
    marks = sorted({first, *range(500, last, 500), last})
    with ForcedFrames(env, rate, events_per_s=2.0) as forced:
        for mark in marks:
            while page.evaluate("window.__renders") < mark and time.monotonic() - t0 < limit_s:
                page.wait_for_timeout(500)
            samples.append(sample())
            print(f"  heap: {samples[-1]['renders']} frames drawn, {samples[-1]['heap'] / 1e6:.2f} MB, "
                  f"{samples[-1]['nodes']} DOM nodes, Dash undo history {samples[-1]['dash_history']} entries "
                  f"({time.monotonic() - t0:.0f} s)", flush=True)
            if time.monotonic() - t0 >= limit_s:
                break
        built = len(forced.publisher.builds)
    ctx.close()
    env.start_publisher()
    a, b = samples[0], samples[-1]
    drawn = b["renders"] - a["renders"]
    return {"samples": samples, "first": a, "last": b, "growth": b["heap"] / a["heap"] - 1,
            "frames_per_s": drawn / (b["t"] - a["t"]) if b["t"] > a["t"] else float("nan"),
            "page_ms_per_frame": 1000 * (b["task_s"] - a["task_s"]) / drawn if drawn else float("nan"),
            "built": built, "elapsed_s": time.monotonic() - t0}

