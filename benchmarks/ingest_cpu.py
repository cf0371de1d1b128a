"""CPU per reported event inside one app process, without uvicorn, HTTP or a load client.

    .venv/bin/python benchmarks/ingest_cpu.py [--posts 4000] [--batch 0] [--concurrency 16] [--grids 1500] [--loop uvloop|asyncio]

The whole ASGI app (middleware, the fast lane, validation, the group-commit writer and its Redis
publisher) is driven by coroutines in its own event loop, as uvicorn would call it, on a temporary
SQLite database and an embedded redis-server, with the garbage collector set as a worker sets it
(`bigscreen.asgi.settle_heap`). Prints the process's CPU per event and each thread's share (the event
loop, `ingest-writer`, `ingest-live`), read from /proc, and redis-server's beside it. Less noisy than
`benchmarks/ingest.py` (no client on the same cores), so it is the one to compare two versions of the
code with: run it from each checkout (its own `bigscreen` is imported from the current directory).
`--batch 1000` posts arrays of that many events, two in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
from prometheus_client import REGISTRY

sys.path.insert(0, os.getcwd())

from bigscreen.api.auth import create_api_key  # noqa: E402
from bigscreen.app import create_app  # noqa: E402
from bigscreen.asgi import settle_heap  # noqa: E402
from bigscreen.live.server import EmbeddedRedis  # noqa: E402
from bigscreen.process.datadir import build_city, prepare_database  # noqa: E402
from bigscreen.process.runtime import Runtime  # noqa: E402
from bigscreen.process.settings import Settings  # noqa: E402


def thread_ticks() -> dict[str, tuple[str, int]]:
    """CPU ticks (user + system) of each of this process's threads, by native id, with its name."""
    names = {str(t.native_id): t.name for t in threading.enumerate()}
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[tid] = (names.get(tid, "other"), int(fields[11]) + int(fields[12]))
    return out


def process_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=4000, help="events to report in the measured run")
    ap.add_argument("--batch", type=int, default=0, help="events per post (0: one object per post)")
    ap.add_argument("--concurrency", type=int, default=16, help="posts in flight (2 for batches)")
    ap.add_argument("--grids", type=int, default=1500)
    ap.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop", help="the event loop (uvicorn's is uvloop)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bs-ingest-cpu-"))
    with EmbeddedRedis(tmp / "redis", persist=False) as server:
        rt = Runtime.open(Settings(data_dir=tmp, redis_url=server.url))
        demo = rt.config.city.demo.model_copy(update={"grids": args.grids})
        rt.config.city = rt.config.city.model_copy(update={"demo": demo})
        prepare_database(rt)
        build_city(rt, progress=False)
        rt.close()
        rt = Runtime.open(Settings(data_dir=tmp, redis_url=server.url))
        try:
            key = create_api_key(rt, "bench")
            if args.loop == "uvloop":  # what uvicorn runs its workers on when uvloop is installed (it is: uvicorn[standard])
                import uvloop

                uvloop.run(measure(rt, key, args, server.process.pid))
            else:
                asyncio.run(measure(rt, key, args, server.process.pid))
        finally:
            rt.close()


async def measure(rt: Runtime, key: str, args, redis_pid: int) -> None:
    app = create_app(rt).server
    settle_heap()  # as a uvicorn worker does once its app is built (bigscreen.asgi)
    rng = random.Random(0)
    grids = [g.code for g in rt.areas.at_level(rt.areas.grid_level)]
    items = [i.code for c in rt.config.categories for i in c.items]

    def event(ident: str) -> dict:
        return {"source_id": ident, "channel": "grid_app", "item": rng.choice(items), "urgency": "normal",
                "description": "解放中路社区3号楼楼道堆放杂物,已派网格员清理", "grid": rng.choice(grids)}

    async def post(payload) -> None:
        raw = orjson.dumps(payload)
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
                 "path": "/api/v1/events", "raw_path": b"/api/v1/events", "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                             (b"x-api-key", key.encode()), (b"content-length", str(len(raw)).encode())],
                 "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 80)}
        messages = [{"type": "http.request", "body": raw, "more_body": False}]

        async def receive():
            if messages:
                return messages.pop()
            await asyncio.sleep(3600)  # the client never disconnects

        status = []

        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        assert status[0] in (200, 201), status

    async def run(prefix: str, events: int) -> None:
        if args.batch:
            payloads = [[event(f"{prefix}-{k}-{j}") for j in range(args.batch)] for k in range(max(1, events // args.batch))]
        else:
            payloads = [event(f"{prefix}-{k}") for k in range(events)]
        payloads.reverse()

        async def worker():
            while payloads:
                await post(payloads.pop())

        await asyncio.gather(*(worker() for _ in range(2 if args.batch else args.concurrency)))

    await run("warm", 2 * args.batch if args.batch else 200)
    groups0 = REGISTRY.get_sample_value("bigscreen_ingest_group_seconds_count") or 0
    before, cpu0, t0, redis0 = thread_ticks(), time.process_time(), time.perf_counter(), process_ticks(redis_pid)
    await run("run", args.posts)
    after, cpu1, t1, redis1 = thread_ticks(), time.process_time(), time.perf_counter(), process_ticks(redis_pid)
    events = (args.posts // args.batch) * args.batch if args.batch else args.posts
    hz = os.sysconf("SC_CLK_TCK")
    shares: dict[str, float] = {}
    for tid, (name, ticks) in after.items():
        shares[name.split("_")[0]] = shares.get(name.split("_")[0], 0) + (ticks - before.get(tid, (name, 0))[1]) / hz
    kind = f"batches of {args.batch}, 2 in flight" if args.batch else f"single posts, {args.concurrency} in flight"
    print(f"{events} events ({kind}): {(cpu1 - cpu0) / events * 1e6:.0f} us CPU per event, "
          f"{events / (t1 - t0):.0f} events/s in one process")
    groups = (REGISTRY.get_sample_value("bigscreen_ingest_group_seconds_count") or 0) - groups0
    print(f"  {groups:.0f} group commits, {events / max(groups, 1):.1f} events a group")
    for name, seconds in sorted(shares.items(), key=lambda kv: -kv[1]):
        if seconds:
            print(f"  {name:14s} {seconds / events * 1e6:6.0f} us per event")
    print(f"  redis-server   {(redis1 - redis0) / hz / events * 1e6:6.0f} us per event (its own process, not in the total above)")
    print(f"  load average {os.getloadavg()[0]:.1f} (one run: run it a few times, alternating the versions compared)")


if __name__ == "__main__":
    main()
