"""Faults under load against a demo-like setup: events accepted vs stored across each fault, and
seconds from a Redis kill to live figures equal to SQL.

    .venv/bin/python benchmarks/faults.py [--grids 6000] [--history 10000] [--kills 3]
                                          [--part redis --part busy --part external --part sqlite --part postgres --part disk]

Setup: the demo city (`--grids`, 6,000 like `bigscreen demo`), a day of history (`--history`
events, about what the demo's day holds) posted through the API, and `bigscreen serve --workers 2`
on the data dir (its embedded Redis, owned and kept alive by serve's parent process; a worker
leads). The load is the fault tests' (tests/fault_support.py): two sources posting batches of 10
and single events without pause, and a third moving created cases on (accept, start).

Parts (all by default):
- redis: `kill -9` of the embedded redis-server under load, `--kills` times; the load stops half
  a second after the server is back, before the repair. Prints seconds to the server's restart
  and to figures equal to SQL (the headline figures of the city and every district, and the
  map's open cases per community, read the way the API and the wall read them).
- busy: the same once with the load going on for `--busy-s` seconds after the kill, through the
  repair (a resync, bigscreen.jobs.resync: exact while events keep arriving).
- external: serve on a Redis it does not own, killed, away 3 s, back empty.
- sqlite: the SQLite database locked by another process for 10 s (the default busy timeout of
  30 s: writers wait rather than fail).
- postgres: PostgreSQL crashed (`pg_ctl stop -m immediate`) for 10 s under serve, then started.
- disk: the SQLite database on a small tmpfs (needs root) filled up; then room is made again.
For every part: events accepted (2xx) and how many of them are stored (must be all), answers
refused and by which status, refused batches found stored (whole, never in part), and the
slowest answer.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fault_support import (  # noqa: E402
    SOURCE,
    CityDir,
    Filler,
    Load,
    Served,
    figures_differ,
    postgres_outage,
    redis_server_pid,
    small_disk,
    sqlite_locked,
    stored_ids,
    wait_until_equal,
)
from tests_support import PG_BIN, PostgresCluster  # noqa: E402

from bigscreen.api.auth import create_api_key  # noqa: E402
from bigscreen.auth.kiosk import create_kiosk_token  # noqa: E402
from bigscreen.live.server import EmbeddedRedis  # noqa: E402
from bigscreen.process.datadir import build_city, prepare_database  # noqa: E402
from bigscreen.process.runtime import Runtime  # noqa: E402
from bigscreen.process.settings import Settings  # noqa: E402

LEVELS = (1,)  # figures compared: the city, every district, the map (streets too would make each check ~1 s)
LIMIT_S = 120.0
PARTS = ("redis", "busy", "external", "sqlite", "postgres", "disk")


def city(data_dir: Path, grids: int, database_url: str | None = None) -> tuple[CityDir, Runtime]:
    """A data dir (and database) holding the demo city; a runtime on it for reading."""
    settings = Settings(data_dir=data_dir, database_url=database_url)
    rt = Runtime.open(settings)
    rt.config.city = rt.config.city.model_copy(update={"demo": rt.config.city.demo.model_copy(update={"grids": grids})})
    prepare_database(rt)
    t = time.perf_counter()
    build_city(rt, progress=False)
    print(f"  city: {len(rt.areas.at_level(rt.areas.grid_level))} grids in {time.perf_counter() - t:.0f} s")
    return CityDir(data_dir, settings.sqlalchemy_url, create_api_key(rt, SOURCE), create_kiosk_token(rt, "benchmark")), rt


def history(url: str, key: str, rt: Runtime, n: int) -> None:
    """`n` events reported over the last day, posted in batches of 1,000; a fifth of them accepted."""
    rng = random.Random(11)
    grids = [g.code for g in rt.areas.at_level(rt.areas.grid_level)]
    items = [i.code for c in rt.config.categories for i in c.items if c.code != "emergency"]
    now = datetime.now(timezone.utc)
    t = time.perf_counter()
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=120) as client:
        for start in range(0, n, 1000):
            bodies = [{"source_id": f"h-{k}", "channel": "hotline_12345", "item": rng.choice(items),
                       "description": "历史事件 history", "grid": rng.choice(grids),
                       "reported_at": (now - timedelta(seconds=rng.uniform(120, 86400))).isoformat()}
                      for k in range(start, min(n, start + 1000))]
            r = client.post("/api/v1/events", json=bodies)
            r.raise_for_status()
            for e in r.json()["events"][::5]:
                client.post(f"/api/v1/events/{e['id']}/transitions", json={"action": "accept", "role": "department"})
    print(f"  history: {n} events in {time.perf_counter() - t:.0f} s")


def report(name: str, load: Load, rt: Runtime, extra: str = "") -> dict:
    stored = stored_ids(rt, SOURCE, load.prefix)
    accepted = load.accepted()
    refused = load.refused()
    refused_stored = sum(1 for a in refused if stored & set(a.ids))
    torn = sum(1 for a in refused if 0 < len(stored & set(a.ids)) < len(a.ids))
    codes = Counter(a.status for a in refused)
    slowest = max((a.took_s for a in load.answers if a.what != "step"), default=0.0)
    line = (f"| {name} | {len(accepted):,} | {len(accepted & stored):,} | "
            f"{sum(len(a.ids) for a in refused):,} in {len(refused)} answers {dict(codes) or ''} | "
            f"{refused_stored} ({torn} in part) | {slowest:.1f} s | {extra} |")
    print(line)
    return {"accepted": len(accepted), "stored": len(accepted & stored), "torn": torn}


def part_redis(args, work: Path) -> None:
    print("\n## redis: the embedded redis-server killed under load")
    cd, rt = city(work / "redis", args.grids)
    served = Served(cd, work / "redis-serve.log").wait_ready()
    socket = cd.data_dir / "redis" / "redis.sock"
    rt.settings = rt.settings.model_copy(update={"redis_url": f"unix://{socket}"})  # serve's own server
    try:
        history(served.url, cd.api_key, rt, args.history)
        print("| run | accepted | of them stored | refused | refused yet stored | slowest answer | recovery |")
        print("|---|---|---|---|---|---|---|")
        backs, equals = [], []
        for k in range(args.kills if "redis" in args.part else 0):
            load = Load.for_city(rt, served.url, cd.api_key, prefix=f"kill{k}").start()
            time.sleep(3.0)
            old = redis_server_pid(socket)
            killed = time.monotonic()
            os.kill(old, signal.SIGKILL)
            while redis_server_pid(socket) in (None, old):
                time.sleep(0.01)
            back = time.monotonic() - killed
            time.sleep(0.5)
            load.stop()
            equal = wait_until_equal(rt, killed, LIMIT_S, LEVELS)
            backs.append(back)
            equals.append(equal)
            report(f"kill {k + 1}", load, rt, f"server back {back:.2f} s, figures = SQL {equal:.1f} s after the kill")
            time.sleep(2.0)
        if backs:
            print(f"median: redis-server back {statistics.median(backs):.2f} s, live figures equal SQL "
                  f"{statistics.median(equals):.1f} s after the kill ({args.history:,} events of history)")
        if "busy" in args.part:
            print(f"\n## busy: the same with the load going on {args.busy_s:.0f} s after the kill")
            load = Load.for_city(rt, served.url, cd.api_key, prefix="busy").start()
            time.sleep(3.0)
            killed = time.monotonic()
            os.kill(redis_server_pid(socket), signal.SIGKILL)
            time.sleep(args.busy_s)
            load.stop()
            stopped = time.monotonic()
            try:
                after = f"figures = SQL {wait_until_equal(rt, stopped, 30.0, LEVELS):.1f} s after the load stopped"
            except AssertionError:
                gap = figures_differ(rt, LEVELS)
                after = f"figures still differ 30 s after the load stopped: {gap[0] if gap else '?'}"
            report("busy", load, rt, after)
            print(f"(killed {stopped - killed:.0f} s before the load stopped)")
    finally:
        served.stop()
        rt.close()


def part_external(args, work: Path) -> None:
    print("\n## external: a Redis serve does not own, killed, away 3 s, back empty")
    redis = EmbeddedRedis(work / "external-redis", persist=False).start()
    cd, rt = city(work / "external", args.grids)
    rt.settings = rt.settings.model_copy(update={"redis_url": redis.url})
    served = Served(cd, work / "external-serve.log", env={"BIGSCREEN_REDIS_URL": redis.url}).wait_ready()
    try:
        history(served.url, cd.api_key, rt, args.history)
        load = Load.for_city(rt, served.url, cd.api_key, prefix="ext").start()
        time.sleep(3.0)
        redis.process.kill()
        redis.process.wait()
        time.sleep(3.0)
        redis = EmbeddedRedis(redis.directory, persist=False).start()
        back = time.monotonic()
        time.sleep(0.5)
        load.stop()
        equal = wait_until_equal(rt, back, LIMIT_S, LEVELS)
        print("| part | accepted | of them stored | refused | refused yet stored | slowest answer | recovery |")
        print("|---|---|---|---|---|---|---|")
        report("external Redis", load, rt, f"figures = SQL {equal:.1f} s after Redis was back")
    finally:
        served.stop()
        rt.close()
        redis.stop()


def outage(name: str, cd: CityDir, rt: Runtime, work: Path, make_unavailable, env: dict | None = None) -> None:
    served = Served(cd, work / f"{name}-serve.log", env=env).wait_ready()
    try:
        load = Load.for_city(rt, served.url, cd.api_key, prefix=name).start()
        time.sleep(3.0)
        with make_unavailable():
            time.sleep(10.0)
        back = time.monotonic()
        while not [a for a in load.answers if a.at > back and a.what != "step" and a.status in (200, 201)]:
            time.sleep(0.05)
        first = min(a.at for a in load.answers if a.at > back and a.what != "step" and a.status in (200, 201)) - back
        time.sleep(2.0)
        load.stop()
        print("| part | accepted | of them stored | refused | refused yet stored | slowest answer | recovery |")
        print("|---|---|---|---|---|---|---|")
        report(name, load, rt, f"writes answered again {first:.1f} s after it returned")
    finally:
        served.stop()


def part_sqlite(args, work: Path) -> None:
    print("\n## sqlite: the database locked by another process for 10 s")
    cd, rt = city(work / "sqlite", args.grids)
    try:
        outage("sqlite", cd, rt, work, lambda: sqlite_locked(cd.data_dir / "bigscreen.db"))
    finally:
        rt.close()


def part_postgres(args, work: Path) -> None:
    print("\n## postgres: PostgreSQL crashed for 10 s")
    if not (PG_BIN / "initdb").exists():
        print("  skipped: PostgreSQL 15 is not installed")
        return
    cluster = PostgresCluster(PG_BIN).create()
    try:
        url = cluster.create_database("faults")
        cd, rt = city(work / "postgres", args.grids, url)
        try:
            outage("postgres", cd, rt, work, lambda: postgres_outage(cluster), env={"BIGSCREEN_DATABASE_URL": url})
        finally:
            rt.close()
    finally:
        cluster.destroy()


def part_disk(args, work: Path) -> None:
    print("\n## disk: the SQLite database's disk full")
    with small_disk(work / "disk", size_mb=64) as disk:
        if disk is None:
            print("  skipped: mounting a tmpfs needs root")
            return
        url = f"sqlite:///{disk / 'bigscreen.db'}"
        cd, rt = city(work / "disk-data", args.grids, url)
        served = Served(cd, work / "disk-serve.log", env={"BIGSCREEN_DATABASE_URL": url}).wait_ready()
        try:
            filler = Filler(disk)
            filler.fill()
            load = Load.for_city(rt, served.url, cd.api_key, prefix="disk").start()
            started = time.monotonic()
            while not [a for a in load.answers if a.status == 507] and time.monotonic() - started < LIMIT_S:
                time.sleep(0.05)
            full = time.monotonic() - started
            time.sleep(3.0)
            filler.free()
            freed = time.monotonic()
            while not [a for a in load.answers if a.at > freed and a.what != "step" and a.status in (200, 201)]:
                time.sleep(0.05)
            time.sleep(1.0)
            load.stop()
            print("| part | accepted | of them stored | refused | refused yet stored | slowest answer | recovery |")
            print("|---|---|---|---|---|---|---|")
            report("disk full", load, rt, f"full after {full:.1f} s; writes again "
                   f"{min(a.at for a in load.answers if a.at > freed and a.status in (200, 201)) - freed:.1f} s after room was made")
        finally:
            served.stop()
            rt.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grids", type=int, default=6000)
    ap.add_argument("--history", type=int, default=10_000)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--busy-s", type=float, default=20.0)
    ap.add_argument("--part", action="append", choices=PARTS)
    args = ap.parse_args()
    args.part = args.part or list(PARTS)
    work = Path(tempfile.mkdtemp(prefix="bs-faults-"))
    print(f"faults benchmark in {work}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    t = time.perf_counter()
    if "redis" in args.part or "busy" in args.part:
        part_redis(args, work)
    for part, run in (("external", part_external), ("sqlite", part_sqlite), ("postgres", part_postgres), ("disk", part_disk)):
        if part in args.part:
            run(args, work)
    print(f"\nall parts in {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
