"""Ingest throughput through the real HTTP API (`bigscreen serve`) into SQLite + Redis, beside a bare baseline.

    .venv/bin/python benchmarks/ingest.py [--grids 6000] [--single 3000] [--batches 20] [--workers 2]

Prints events/s for single posts and for batches of 1,000, and a baseline measured in the
same run: the same rows inserted with bare SQL (executemany, one commit per 1,000) plus one
Redis pipeline per 1,000 with one HINCRBY per row. Ratios: the API's single posts and batches against it.

Also the CPU each figure cost per event (user + system time from /proc: the serve workers and
redis-server for the API; the benchmark process and redis-server for the baseline), how each run's
CPU fell on the workers (an uneven split bounds a run by its busiest worker: `serve` spreads connections
over them, bigscreen.process.balanced_accept), and the load average: on a machine other work shares,
throughput moves with that work, CPU per event much less.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

CHECKOUT = Path(__file__).resolve().parent.parent  # the code measured is this script's own checkout's
sys.path.insert(0, str(CHECKOUT))

from bigscreen.api.auth import create_api_key  # noqa: E402
from bigscreen.live.server import EmbeddedRedis  # noqa: E402
from bigscreen.process.datadir import build_city, prepare_database  # noqa: E402
from bigscreen.process.runtime import Runtime  # noqa: E402
from bigscreen.process.settings import Settings  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bodies(rt: Runtime, n: int, prefix: str, seed: int) -> list[dict]:
    rng = random.Random(seed)
    grids = rt.areas.at_level(rt.areas.grid_level)
    items = [i.code for c in rt.config.categories for i in c.items]
    return [{"source_id": f"{prefix}-{k}", "channel": "grid_app", "item": rng.choice(items), "urgency": "normal",
             "description": "解放中路社区3号楼楼道堆放杂物,已派网格员清理", "grid": rng.choice(grids).code} for k in range(n)]


async def post_all(url: str, key: str, payloads: list, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, limits=limits, timeout=60) as client:
        queue = list(reversed(payloads))

        async def worker():
            while queue:
                r = await client.post("/api/v1/events", json=queue.pop())
                if r.status_code not in (200, 201):
                    raise RuntimeError(r.text[:300])

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - t0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (children not included)."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def workers_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def split(workers: list[int], before: list[float]) -> str:
    """How the run's CPU fell on the workers: a run whose connections landed unevenly is bounded by its
    busiest worker."""
    spent = [cpu_seconds([w]) - b for w, b in zip(workers, before)]
    total = sum(spent) or 1.0
    return "workers' CPU " + " / ".join(f"{100 * s / total:.0f}%" for s in spent if s > 0.01 * total)


def wrk_single(url: str, key: str, rt: Runtime, run: str, seconds: int, connections: int) -> tuple[float, float]:
    """Single posts from wrk (C, so the load generator takes little of the 2 cores)."""
    grids = [g.code for g in rt.areas.at_level(rt.areas.grid_level)]
    items = [i.code for c in rt.config.categories for i in c.items]
    env = {**os.environ, "BENCH_GRIDS": ",".join(grids), "BENCH_ITEMS": ",".join(items), "BENCH_KEY": key, "BENCH_RUN": run}
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(Path(__file__).parent / "single_post.lua"), url],
                         capture_output=True, text=True, env=env, check=True).stdout
    fields = dict(kv.split("=") for kv in next(line for line in out.splitlines() if line.startswith("WRK ")).split()[1:])
    if int(fields["non2xx"]) or int(fields["errors"]):
        raise RuntimeError(out)
    print(f"  wrk: {fields['requests']} posts, p50 {fields['p50_ms']} ms, p99 {fields['p99_ms']} ms")
    seconds = int(fields["duration_us"]) / 1e6
    return int(fields["requests"]) / seconds, seconds


def baseline(rt: Runtime, rows: list[dict], pids: list[int] = ()) -> tuple[float, float]:
    """The floor: the same event rows inserted with bare SQL (executemany, one commit per 1,000)
    plus one Redis pipeline per 1,000 with one HINCRBY per row. No validation, no HTTP, no
    transition log, no per-level counters. Rows are prepared before the clock starts.
    Returns the seconds taken and the CPU seconds `pids` spent meanwhile."""
    from sqlalchemy import insert

    from bigscreen.db.models import Event

    now = datetime.now(timezone.utc)
    cfg, areas = rt.config, rt.areas
    values = []
    for b in rows:
        grid = areas.grid(b["grid"])
        values.append(dict(source="baseline", source_id=b["source_id"], channel=b["channel"],
                           category_code=cfg.item_category(b["item"]).code, item_code=b["item"], urgency="normal",
                           description=b["description"], photo_urls=[], lat=grid.lat, lon=grid.lon, grid_id=grid.id,
                           status="dispatched", department_code=cfg.dispatch(b["item"], grid.chain[1]),
                           deadline=now + cfg.time_limit(b["item"], "normal"), reported_at=now, dispatched_at=now, version=1))
    c0, t0 = cpu_seconds(pids), time.perf_counter()
    for start in range(0, len(values), 1000):
        chunk = values[start : start + 1000]
        with rt.engine.begin() as conn:
            conn.execute(insert(Event), chunk)
        pipe = rt.redis.pipeline(transaction=False)
        for v in chunk:
            pipe.hincrby(f"baseline:{v['grid_id']}", v["category_code"], 1)
        pipe.execute()
    return time.perf_counter() - t0, cpu_seconds(pids) - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grids", type=int, default=6000)
    ap.add_argument("--single", type=int, default=3000, help="posts per repeat when wrk is absent")
    ap.add_argument("--seconds", type=int, default=10, help="wrk duration per repeat")
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=32, help="connections for single posts")
    ap.add_argument("--batch-concurrency", type=int, default=2, help="batches in flight at once")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bs-bench-"))
    with EmbeddedRedis(tmp / "redis", persist=False) as redis_server:
        settings = Settings(data_dir=tmp, redis_url=redis_server.url)
        rt = Runtime.open(settings)
        rt.config.city = rt.config.city.model_copy(update={"demo": rt.config.city.demo.model_copy(update={"grids": args.grids})})
        prepare_database(rt)
        t = time.perf_counter()
        build_city(rt, progress=False)
        print(f"city: {len(rt.areas.at_level(rt.areas.grid_level))} grids built in {time.perf_counter() - t:.1f} s")
        key = create_api_key(rt, "bench")
        port = free_port()
        env = {**os.environ, "BIGSCREEN_DATA_DIR": str(tmp), "BIGSCREEN_REDIS_URL": redis_server.url}
        # the product's own command, as a centre runs it (`-m` imports from the current directory first: this checkout's code)
        server = subprocess.Popen([sys.executable, "-m", "bigscreen.cli", "serve", "--data-dir", str(tmp), "--port", str(port),
                                   "--workers", str(args.workers)], env=env, cwd=CHECKOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(url + "/api/v1/openapi.json").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            asyncio.run(post_all(url, key, bodies(rt, 200, "warm", 0), 8))
            workers = workers_of(server.pid)
            api = [*workers, redis_server.process.pid]
            load = [os.getloadavg()[0]]
            single, batched, base = [], [], []
            cpu_single, cpu_batched, cpu_base = [], [], []
            for r in range(args.repeat):
                c0, w0 = cpu_seconds(api), [cpu_seconds([w]) for w in workers]
                if shutil.which("wrk"):
                    rate, seconds = wrk_single(url, key, rt, f"s{r}", args.seconds, args.concurrency)
                    single.append(rate)
                    posted = rate * seconds
                else:
                    rows = bodies(rt, args.single, f"s{r}", r)
                    single.append(args.single / asyncio.run(post_all(url, key, rows, args.concurrency)))
                    posted = args.single
                c1 = cpu_seconds(api)
                cpu_single.append((c1 - c0) / posted)
                print(f"  single posts: {single[-1]:.0f}/s, {split(workers, w0)}")
                n = args.batches * 1000
                rows = bodies(rt, n, f"b{r}", 100 + r)
                batches = [rows[i : i + 1000] for i in range(0, n, 1000)]
                c0, w0 = cpu_seconds(api), [cpu_seconds([w]) for w in workers]
                batched.append(n / asyncio.run(post_all(url, key, batches, args.batch_concurrency)))
                cpu_batched.append((cpu_seconds(api) - c0) / n)
                print(f"  batches: {batched[-1]:.0f}/s, {split(workers, w0)}")
                seconds, cpu = baseline(rt, bodies(rt, n, f"base{r}", 200 + r), [os.getpid(), redis_server.process.pid])
                base.append(n / seconds)
                cpu_base.append(cpu / n)
                load.append(os.getloadavg()[0])
        finally:
            server.terminate()
            server.wait()
    s, b, bl = statistics.median(single), statistics.median(batched), statistics.median(base)
    client = "wrk" if shutil.which("wrk") else "httpx"
    print(f"workers={args.workers} concurrency={args.concurrency} batch-concurrency={args.batch_concurrency} repeats={args.repeat} single-post client={client} (medians)")
    print(f"single posts   : {s:8.0f} events/s   (target >= 1,000)")
    print(f"batches of 1000: {b:8.0f} events/s   (target >= 5,000)")
    print(f"baseline       : {bl:8.0f} events/s   (bare SQL executemany + one HINCRBY per row, pipelined)")
    print(f"ratio single/baseline : {s / bl:.3f}  (target >= 0.1, issue 11)")
    print(f"ratio batched/baseline: {b / bl:.2f}   (target >= 0.5, issue 11)")
    cs, cb, cbl = (statistics.median(v) * 1e6 for v in (cpu_single, cpu_batched, cpu_base))
    print(f"CPU per event  : single {cs:.0f} us, batched {cb:.0f} us (workers + redis-server); baseline {cbl:.0f} us (this process + redis-server)")
    print(f"CPU ratio baseline/batched: {cbl / cb:.2f}; load average during the runs: {min(load):.1f}-{max(load):.1f}")


if __name__ == "__main__":
    main()
