"""The wall's figures: refresh cost at 10 thousand vs 1 million events, bytes per refresh,
event-to-screen latency, first paint, JS heap over many refreshes, 500 viewers.

    .venv/bin/python benchmarks/wall.py                      # every part (about 12.5 minutes)
    .venv/bin/python benchmarks/wall.py --part latency --part paint
    .venv/bin/python benchmarks/wall.py --large 200000        # a smaller "large" history

A 6,000-grid city in a temporary SQLite database and an embedded redis-server; the server is
`uvicorn --factory bigscreen.asgi:app --workers 2`; the product's FramePublisher runs in a thread
of this process; Chromium is Debian's /usr/bin/chromium through Playwright. History is written
straight into the `events` table (SQLAlchemy Core executemany, 10,000 rows per transaction) and
Redis is rebuilt from SQL with bigscreen.jobs.rebuild.rebuild. Figures are medians unless marked
p95. Helpers: wall_env.py (setup, history, CPU), wall_browser.py (Chromium), wall_viewers.py
(wrk, push clients, byte-counting proxy). Method and results: docs/BENCHMARKS.md, "The wall".
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import resource
import sys
import time
import zlib
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wall_env import CpuSampler, CpuWindow, Env, median, pct  # noqa: E402
from wall_viewers import (  # noqa: E402
    CountingProxy,
    auth_headers,
    collect,
    have_wrk,
    httpx_poll,
    poll_viewers,
    push_client_process,
    wrk_poll,
)

PARTS = ("refresh", "bytes", "latency", "paint", "heap", "viewers")
KB = 1024


def kb(n: float) -> str:
    return f"{n / KB:.1f} KB"


def ms(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1f} ms"


# -- part 1: what a refresh costs ----------------------------------------------------------------

def refresh_cost(env: Env, path: str, body: str, args) -> dict:
    """(b) FramePublisher.publish() for all scopes, timed `--builds` times; (a) the polling
    callback request on one keep-alive connection (wrk -t1 -c1), `--repeat` runs of
    `--poll-seconds`, with the server workers' CPU per request from /proc."""
    from bigscreen.wall.publisher import FramePublisher

    env.stop_publisher()
    pub = FramePublisher(env.rt)
    frames = pub.publish()  # plans the scopes once, as the running publisher does
    builds = []
    t_end = time.monotonic() + 120
    for _ in range(args.builds):
        t = time.perf_counter()
        frames = pub.publish()
        builds.append((time.perf_counter() - t) * 1000)
        if time.monotonic() > t_end:
            break
    sizes = {code: (len(b), len(gzip.compress(b, 9))) for code, b in frames.items()}
    city = orjson.loads(frames[env.city])

    r = httpx.post(env.url + path, content=body, timeout=10,
                   headers={"Content-Type": "application/json", "Accept-Encoding": "gzip, deflate, br", **auth_headers()})
    if r.status_code != 200 or orjson.loads(r.content)["response"]["wall-frame"]["data"] != frames[env.city].decode():
        raise RuntimeError(f"the polling request did not return the stored frame: {r.status_code} {r.text[:200]}")
    response = {"bytes": len(r.content), "encoding": r.headers.get("content-encoding", "identity"),
                "sent_bytes": r.num_bytes_downloaded, "gzip_bytes": len(gzip.compress(r.content, 9)), "headers": r.headers}

    runs = []
    for _ in range(args.repeat):
        pub.publish()  # a fresh frame stays in Redis for 10 minutes
        window = CpuWindow(env.server_pids()).start()
        if have_wrk():
            res = wrk_poll(env.url, path, body, connections=1, threads=1, seconds=args.poll_seconds)
        else:
            res = httpx_poll(env.url, path, body, seconds=args.poll_seconds, max_requests=20000)
        used = window.stop()
        if res["non2xx"] or res["errors"]:
            raise RuntimeError(f"polling errors: {res}")
        workers = sum(v for k, v in used.items() if k.startswith("worker"))
        runs.append({**res, "cpu_ms": 1000 * workers / res["requests"], "redis_ms": 1000 * used["redis"] / res["requests"]})
    return {
        "history": env.history, "build_ms": median(builds), "builds": len(builds), "sizes": sizes, "response": response,
        "poll_p50_ms": median([x["p50_ms"] for x in runs]), "poll_p95_ms": median([x["p95_ms"] for x in runs]),
        "poll_rate": median([x["rate"] for x in runs]), "cpu_ms": median([x["cpu_ms"] for x in runs]),
        "redis_ms": median([x["redis_ms"] for x in runs]), "requests": sum(x["requests"] for x in runs),
        "open": city["kpi"]["open"], "map_areas": len(city["map"]["open"]) // 2, "feed": len(city["feed"]),
    }


def print_refresh(r: dict) -> None:
    print(f"  history {r['history']:,} events: frame build (all {len(r['sizes'])} scopes) {r['build_ms']:.1f} ms "
          f"(median of {r['builds']}); poll p50 {r['poll_p50_ms']:.2f} ms, p95 {r['poll_p95_ms']:.2f} ms, "
          f"{r['poll_rate']:.0f} req/s on one connection; server CPU {r['cpu_ms']:.2f} ms/poll (+ redis {r['redis_ms']:.3f} ms)", flush=True)
    sizes = ", ".join(f"{code} {kb(raw)} ({kb(gz)} gzip)" for code, (raw, gz) in r["sizes"].items())
    print(f"    frame sizes: {sizes}; open cases {r['open']:,}, communities coloured {r['map_areas']}, feed {r['feed']}")
    resp = r["response"]
    print(f"    poll response body {kb(resp['bytes'])}, sent as {kb(resp['sent_bytes'])} (Content-Encoding {resp['encoding']})")


# -- part 2: bytes on the wire -------------------------------------------------------------------

def wire_bytes(chrome, env: Env, frames_to_count: int) -> dict:
    """Chromium through a byte-counting proxy: bytes per polling refresh (websockets blocked)
    and per pushed frame, counted between two refreshes `frames_to_count` refreshes apart."""
    from dash._utils import to_json
    from wall_browser import COUNT_RENDERS

    env.start_publisher()
    out = {}
    with CountingProxy(env.port) as proxy:
        ctx, page = chrome.wall(proxy.url, poll_only=True)
        page.wait_for_timeout(1500)
        is_poll = lambda r: "_dash-update-component" in r.url  # noqa: E731
        with page.expect_response(is_poll, timeout=10000):
            pass
        up0, down0 = proxy.totals(False)
        for _ in range(frames_to_count):
            with page.expect_response(is_poll, timeout=10000):
                pass
        page.wait_for_timeout(50)
        up1, down1 = proxy.totals(False)
        ctx.close()
        out["poll_up"], out["poll_down"] = (up1 - up0) / frames_to_count, (down1 - down0) / frames_to_count

        ctx, page = chrome.wall(proxy.url)
        page.wait_for_timeout(2500)
        page.evaluate(COUNT_RENDERS)
        page.wait_for_function("window.__renders >= 1", timeout=10000, polling=10)
        up0, down0 = proxy.totals(True)
        n0 = page.evaluate("window.__renders")
        page.wait_for_function(f"window.__renders >= {n0 + frames_to_count}", timeout=frames_to_count * 3000, polling=10)
        page.wait_for_timeout(50)
        up1, down1 = proxy.totals(True)
        n1 = page.evaluate("window.__renders")
        ctx.close()
        out["push_up"], out["push_down"] = (up1 - up0) / (n1 - n0), (down1 - down0) / (n1 - n0)
    frame = env.rt.redis.get(env.rt.keys.frame(env.city)).decode()
    msg = to_json({"type": "set_props", "rendererId": "00000000-0000-0000-0000-000000000000",
                   "payload": {"componentId": "wall-frame", "props": {"data": frame}}}).encode()
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    out["frame"] = len(frame.encode())
    out["push_message"] = len(msg)
    out["push_message_deflate"] = len(deflate.compress(msg) + deflate.flush(zlib.Z_SYNC_FLUSH))
    return out


# -- part 6: many viewers ------------------------------------------------------------------------

def many_viewers(env: Env, path: str, body: str, payload: dict, n: int, seconds: float, modes: list[str], poll: bool = True,
                 clients: int = 1, client: str = "websockets") -> dict:
    pub = env.start_publisher()
    out = {}
    pids = env.server_pids()
    if poll:
        window = CpuWindow({**pids, "bench (publisher)": os.getpid()}).start()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        res = poll_viewers(env.url, path, body, n, seconds)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = window.stop()
        workers = sum(v for k, v in used.items() if k.startswith("worker"))
        out["poll"] = {**res, "server_cores": workers / used["wall_s"], "redis_cores": used["redis"] / used["wall_s"],
                       "publisher_cores": used["bench (publisher)"] / used["wall_s"],
                       "client_cores": (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / used["wall_s"],
                       "per_viewer_per_s": res["rate"] / n}
        out["poll"]["cpu_ms_per_frame"] = 1000 * out["poll"]["server_cores"] / res["rate"]
        print(f"  polling: {n} viewers, {res['rate']:.0f} polls/s, p50 {res['p50_ms']:.1f} ms, p95 {res['p95_ms']:.1f} ms, "
              f"p99 {res['p99_ms']:.1f} ms; server {out['poll']['server_cores']:.2f} cores "
              f"({out['poll']['cpu_ms_per_frame']:.2f} ms per poll), redis {out['poll']['redis_cores']:.2f}, "
              f"client {out['poll']['client_cores']:.2f}", flush=True)
    for mode in modes:
        pub.deltas = mode == "delta"  # "whole": every viewer gets whole frames, as before issue 14
        out[f"push_{mode}"] = push_viewers(env, pub, pids, payload, n, seconds, mode, clients, client)
    return out


def push_viewers(env: Env, pub, pids: dict, payload: dict, n: int, seconds: float, mode: str, clients: int = 1,
                 client: str = "websockets") -> dict:
    """`n` pushed viewers held by `clients` processes (one process reads its sockets in turn: with
    thousands, the last message of a frame is read well after the first, and that wait is the client's),
    each speaking websockets through `client` (wall_viewers: "websockets" or "raw")."""
    procs = [push_client_process(env.url, payload, env.city, n // clients + (k < n % clients), settle_s=3, seconds=seconds,
                                 client=client) for k in range(clients)]
    with CpuSampler({**pids, "bench (publisher)": os.getpid(), **{f"client {k}": p.pid for k, p in enumerate(procs)}}) as sampler:
        parts = [collect(p, timeout=seconds + 240) for p in procs]
    got = {"records": [r for g in parts for r in g["records"]], "sizes": [s for g in parts for s in g["sizes"]],
           "failures": [f for g in parts for f in g["failures"]], "connected_s": max(g["connected_s"] for g in parts),
           "window": [max(g["window"][0] for g in parts), min(g["window"][1] for g in parts)],
           **{k: sum(g.get(k, 0) for g in parts) for k in ("deltas", "wholes", "gaps")}}
    t0, t1 = got["window"]
    used = sampler.usage(t0, t1)
    lat, frames, unknown = [], 0, 0
    for rows in got["records"]:
        for recv, built in rows:
            if not t0 <= recv < t1:  # the window every client process measured
                continue
            frames += 1
            sent = pub.published.get(built)
            if sent is None:
                unknown += 1
            else:
                lat.append((recv - sent) * 1000)
    receiving = sum(1 for rows in got["records"] if rows)
    workers = sum(v for k, v in used.items() if k.startswith("worker"))
    wall = used["wall_s"]
    p = {"mode": mode, "viewers": n, "receiving": receiving, "failures": len(got["failures"]), "failure_sample": got["failures"][:3],
         "frames_per_viewer_per_s": frames / n / (t1 - t0), "p50_ms": median(lat), "p95_ms": pct(lat, 95),
         "p99_ms": pct(lat, 99), "max_ms": max(lat, default=float("nan")), "unmatched": unknown,
         "server_cores": workers / wall, "redis_cores": used.get("redis", 0) / wall,
         "publisher_cores": used.get("bench (publisher)", 0) / wall, "client_cores": sum(v for k, v in used.items() if k.startswith("client")) / wall, "client_processes": clients, "client": client,
         "connect_s": got["connected_s"], "message_bytes": median(got["sizes"]),
         "deltas": got.get("deltas", 0), "wholes": got.get("wholes", 0), "gaps": got.get("gaps", 0)}
    p["cpu_ms_per_frame"] = 1000 * p["server_cores"] / (p["frames_per_viewer_per_s"] * n) if frames else float("nan")
    print(f"  push ({mode} frames): {receiving}/{n} viewers receiving ({p['failures']} failed), {p['frames_per_viewer_per_s']:.2f} frames/viewer/s, "
          f"publish→received p50 {p['p50_ms']:.1f} ms, p95 {p['p95_ms']:.1f} ms, p99 {p['p99_ms']:.1f} ms; "
          f"server {p['server_cores']:.2f} cores ({p['cpu_ms_per_frame']:.3f} ms per frame per viewer), redis {p['redis_cores']:.2f}, "
          f"publisher {p['publisher_cores']:.2f}, client {p['client_cores']:.2f} ({clients} {client} process{'es' if clients > 1 else ''}); message {p['message_bytes']:.0f} B (median); "
          f"{p['wholes']} whole, {p['deltas']} deltas, {p['gaps']} gaps", flush=True)
    return p


# -- the run ---------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", action="append", choices=PARTS, help="run only these parts (repeatable); default all")
    ap.add_argument("--grids", type=int, default=6000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--small", type=int, default=10_000, help="events in the small history")
    ap.add_argument("--large", type=int, default=1_000_000, help="events in the large history")
    ap.add_argument("--history", choices=("small", "large"), default=None,
                    help="history for the parts after 'refresh' (default: large when 'refresh' runs, else small)")
    ap.add_argument("--builds", type=int, default=40, help="frame builds timed per history")
    ap.add_argument("--poll-seconds", type=float, default=5, help="length of one single-connection polling run")
    ap.add_argument("--repeat", type=int, default=3, help="single-connection polling runs per history")
    ap.add_argument("--wire-frames", type=int, default=10, help="refreshes counted for bytes on the wire")
    ap.add_argument("--events", type=int, default=50, help="events per channel for the latency")
    ap.add_argument("--loads", type=int, default=7, help="cold page loads for the first paint")
    ap.add_argument("--heap-first", type=int, default=100)
    ap.add_argument("--heap-last", type=int, default=2000)
    ap.add_argument("--heap-rate", type=float, default=8.0, help="forced frame builds per second for the heap part")
    ap.add_argument("--heap-limit", type=float, default=540, help="seconds at most for the heap part")
    ap.add_argument("--viewers", type=int, default=500)
    ap.add_argument("--viewer-seconds", type=float, default=30)
    ap.add_argument("--push", action="append", choices=("whole", "delta"),
                    help="pushed viewers get whole frames (as before issue 14) or deltas; repeatable, in that order (default both)")
    ap.add_argument("--no-poll", action="store_true", help="the viewers part without its polling viewers")
    ap.add_argument("--client-processes", type=int, default=1,
                    help="processes holding the pushed viewers between them (each reads its sockets in turn)")
    ap.add_argument("--push-client", choices=("websockets", "raw"), default="websockets",
                    help="how the pushed viewers speak websockets: the websockets library (as before), or a bare "
                         "asyncio protocol that costs the load generator a fraction of its CPU (wall_viewers.RawWall; "
                         "not with --deflate)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data dir")
    ap.add_argument("--deflate", action="store_true", help="serve websockets with permessage-deflate "
                    "(BIGSCREEN_WS_DEFLATE=true; the product's default is off)")
    args = ap.parse_args()
    if args.deflate and args.push_client == "raw":
        ap.error("--push-client raw does not speak permessage-deflate: use --push-client websockets with --deflate")
    parts = args.part or list(PARTS)
    history = args.history or ("large" if "refresh" in parts else "small")
    started = time.monotonic()
    results: dict = {"parts": parts}
    marks: dict = {}
    gen: dict = {}

    from wall_browser import Chromium, capture, first_paint, heap, latency

    Env.uvicorn_args = ("--ws-per-message-deflate", "true" if args.deflate else "false")  # as `bigscreen serve` does
    with Env(args.grids, args.workers, keep=args.keep) as env, Chromium() as chrome:
        gen["small"] = env.grow_history(args.small)
        env.start_server()
        chrome.wall_path = env.wall_path
        env.start_publisher()
        import random

        rng = random.Random(3)
        with httpx.Client(timeout=10) as client:  # live events: today's figures and a full feed
            for _ in range(60):
                env.post_event(client, rng, "warm")
        time.sleep(1.5)
        path, body, push_payload = capture(chrome, env.url)
        print(f"captured from Chromium: polling request {len(body)} bytes, push callback {push_payload['output'][:12]}…", flush=True)

        if "refresh" in parts:
            print("part 1: refresh cost", flush=True)
            results["refresh_small"] = refresh_cost(env, path, body, args)
            print_refresh(results["refresh_small"])
            gen["large"] = env.grow_history(args.large)
            results["refresh_large"] = refresh_cost(env, path, body, args)
            print_refresh(results["refresh_large"])
        elif history == "large":
            gen["large"] = env.grow_history(args.large)
        results["history"] = env.history
        results["gen"] = gen
        env.start_publisher()

        if "bytes" in parts:
            print("part 2: bytes per refresh", flush=True)
            if "refresh_large" not in results and "refresh_small" not in results:
                results["sizes"] = refresh_cost(env, path, body, argparse.Namespace(builds=3, repeat=1, poll_seconds=1))
                print_refresh(results["sizes"])
                env.start_publisher()
            results["wire"] = w = wire_bytes(chrome, env, args.wire_frames)
            print(f"  frame (city) {kb(w['frame'])}; polling refresh on the wire: {kb(w['poll_down'])} down, {kb(w['poll_up'])} up; "
                  f"pushed frame: message {kb(w['push_message'])} ({kb(w['push_message_deflate'])} deflated), "
                  f"on the wire {kb(w['push_down'])} down, {w['push_up']:.0f} B up", flush=True)

        marks["setup, refresh, bytes"] = time.monotonic()
        if "latency" in parts:
            print("part 3: event-to-screen latency", flush=True)
            for name, poll_only in (("push", False), ("poll", True)):
                r = results[f"latency_{name}"] = latency(chrome, env, poll_only=poll_only, events=args.events, seed=5)
                print(f"  {name}: {r['n']} events, p50 {ms(r['p50'])}, p95 {ms(r['p95'])}, max {ms(r['max'])}, "
                      f"{r['missed']} missed, {r['polls_per_s']:.2f} polls/s seen; deciles "
                      f"{' '.join(f'{x:.0f}' for x in r['deciles'])} ms", flush=True)

        marks["latency"] = time.monotonic()
        if "paint" in parts:
            print("part 4: first paint", flush=True)
            r = results["paint"] = first_paint(chrome, env.url, args.loads)
            print(f"  first frame drawn {ms(r['first_frame_ms'])} after navigation start (median of {r['n']}: "
                  f"{', '.join(f'{x:.0f}' for x in r['all_ms'])}); first contentful paint {ms(r['fcp_ms'])}, "
                  f"DOMContentLoaded {ms(r['dcl_ms'])}", flush=True)

        marks["paint"] = time.monotonic()
        if "heap" in parts:
            print("part 5: JS heap", flush=True)
            r = results["heap"] = heap(chrome, env, first=args.heap_first, last=args.heap_last, rate=args.heap_rate, limit_s=args.heap_limit)
            print(f"  heap {r['first']['heap'] / 1e6:.2f} MB after {r['first']['renders']} frames, {r['last']['heap'] / 1e6:.2f} MB after "
                  f"{r['last']['renders']}: {100 * r['growth']:+.1f}%; DOM nodes {r['first']['nodes']} → {r['last']['nodes']}; "
                  f"{r['frames_per_s']:.1f} frames drawn/s, page main thread {r['page_ms_per_frame']:.0f} ms per frame", flush=True)

        marks["heap"] = time.monotonic()
        if "viewers" in parts:
            print(f"part 6: {args.viewers} viewers", flush=True)
            results["viewers"] = many_viewers(env, path, body, push_payload, args.viewers, args.viewer_seconds,
                                              args.push or ["whole", "delta"], poll=not args.no_poll,
                                              clients=args.client_processes, client=args.push_client)

        marks["viewers"] = time.monotonic()
    results["elapsed_s"] = time.monotonic() - started
    prev, took = started, {}
    for name, t in marks.items():
        took[name] = round(t - prev)
        prev = t
    results["seconds_per_part"] = took
    summary(results, args)


def summary(r: dict, args) -> None:
    rows = []

    def row(part, what, value, target="", met=None):
        rows.append((part, what, value, target, "" if met is None else ("yes" if met else "NO")))

    gen = r.get("gen", {})
    for name, (ins, reb) in gen.items():
        row("history", f"{name}: insert / rebuild", f"{ins:.0f} s / {reb:.0f} s")
    if "refresh_large" in r:
        a, b = r["refresh_small"], r["refresh_large"]
        lbl = f"{a['history'] // 1000}k → {b['history'] / 1e6:g}M"
        for key, what in (("poll_p50_ms", "poll request p50"), ("cpu_ms", "server CPU per poll"), ("build_ms", "frame build, all scopes")):
            ratio = b[key] / a[key]
            row("1 refresh", f"{what} ({lbl})", f"{a[key]:.2f} → {b[key]:.2f} ms, ratio {ratio:.2f}", "ratio ≤ 1.2", ratio <= 1.2)
    sizes_from = r.get("refresh_large") or r.get("refresh_small") or r.get("sizes")
    if sizes_from:
        sizes = sizes_from["sizes"]
        biggest = max(raw for raw, _ in sizes.values())
        row("2 bytes", f"frame per scope ({sizes_from['history']:,} events)",
            " / ".join(f"{raw / KB:.1f}" for raw, _ in sizes.values()) + " KB", "< 20 KB", biggest < 20 * KB)
    if "wire" in r:
        w = r["wire"]
        resp = sizes_from["response"]
        row("2 bytes", "polling refresh, response body: sent / decoded",
            f"{kb(resp['sent_bytes'])} ({resp['encoding']}) / {kb(resp['bytes'])}", "< 20 KB", resp["sent_bytes"] < 20 * KB)
        row("2 bytes", "polling refresh on the wire (down / up)", f"{kb(w['poll_down'])} / {kb(w['poll_up'])}", "< 20 KB",
            w["poll_down"] < 20 * KB)
        row("2 bytes", "pushed frame on the wire", f"{kb(w['push_down'])} (message {kb(w['push_message'])})", "< 20 KB",
            w["push_down"] < 20 * KB)
    for name in ("push", "poll"):
        if f"latency_{name}" in r:
            x = r[f"latency_{name}"]
            row("3 latency", f"{name}: p50 / p95 ({x['n']} events)", f"{ms(x['p50'])} / {ms(x['p95'])}", "p95 < 200 ms", x["p95"] < 200)
    if "paint" in r:
        x = r["paint"]
        row("4 first paint", f"first frame drawn (median of {x['n']})", ms(x["first_frame_ms"]), "< 3 s", x["first_frame_ms"] < 3000)
    if "heap" in r:
        x = r["heap"]
        row("5 heap", f"after {x['first']['renders']} → {x['last']['renders']} frames",
            f"{x['first']['heap'] / 1e6:.2f} → {x['last']['heap'] / 1e6:.2f} MB ({100 * x['growth']:+.1f}%)", "≤ +10%",
            x["growth"] <= 0.10 and x["last"]["renders"] >= args.heap_last)
    if "viewers" in r:
        v = r["viewers"]
        if "poll" in v:
            p = v["poll"]
            row("6 viewers", "polling: response p95, server CPU", f"{ms(p['p95_ms'])}, {p['server_cores']:.2f} cores",
                "p95 < 200 ms, < 1 core", p["p95_ms"] < 200 and p["server_cores"] < 1)
            row("6 viewers", "polling: server CPU per frame per viewer", f"{p['cpu_ms_per_frame']:.2f} ms")
        for mode in ("whole", "delta"):
            if f"push_{mode}" in v:
                q = v[f"push_{mode}"]
                row("6 viewers", f"push, {mode} frames: publish→received p50 / p95, server CPU",
                    f"{ms(q['p50_ms'])} / {ms(q['p95_ms'])}, {q['server_cores']:.2f} cores", "p95 < 100 ms, < 1 core",
                    q["p95_ms"] < 100 and q["server_cores"] < 1 and q["receiving"] == q["viewers"])
                row("6 viewers", f"push, {mode} frames: CPU per frame per viewer, message",
                    f"{q['cpu_ms_per_frame']:.3f} ms, {q['message_bytes']:.0f} B")
    widths = [max(len(str(x[i])) for x in rows + [("part", "figure", "value", "target", "met")]) for i in range(5)]
    print()
    print(f"summary (history for parts 2-6: {r.get('history', 0):,} events; {args.grids} grids; {args.workers} workers; "
          f"run took {r['elapsed_s'] / 60:.1f} min; seconds per part {r['seconds_per_part']})")
    for x in [("part", "figure", "value", "target", "met")] + rows:
        print("  " + "  ".join(str(v).ljust(w) for v, w in zip(x, widths)))
    print("WALL " + json.dumps({k: v for k, v in r.items() if k != "heap"} | ({"heap": {k: v for k, v in r["heap"].items() if k != "samples"}}
                                                                          if "heap" in r else {}), default=str))


if __name__ == "__main__":
    main()
