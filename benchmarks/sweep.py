"""The deadline sweep (`LiveWriter.sweep`, run every 5 s by the scheduler): time per sweep with
many cases open and none due, and with some due.

    .venv/bin/python benchmarks/sweep.py [--open 100000] [--small 10000] [--due 1000] [--reps 200] [--due-reps 30]

A 6,000-grid city in a temporary SQLite database and an embedded redis-server (set up by
benchmarks/wall_env.py). Open cases are real events: rows inserted straight into `events`
(SQLAlchemy Core executemany, 10,000 per transaction; random grids, sub-items by the config's
category weights, urgency 85/13/2%, status dispatched, reported within the last 3 days and
never further back than 90% of the item's time limit, deadline = reported + the config's time
limit), then Redis is filled by bigscreen.jobs.rebuild.rebuild at the measuring moment `now`,
so the deadline zset and the counters are the product's own. Every deadline lies after `now`.

A. none due: `rt.live.sweep(now, rt.areas.chain_of)` timed `--reps` times, first with
   `--small` open cases, then with `--open`; alternated call by call with the baseline, a bare
   `ZRANGEBYSCORE deadlines -inf (now LIMIT 0 500` round trip (the sweep's own first read, its
   floor). Ratios: sweep / baseline, and sweep at `--open` / sweep at `--small`.
B. `--due` due: `now` = halfway between the `--due`-th smallest deadline and the next, so exactly
   that many cases are past their deadline.
   Before each timed sweep (restore not timed) every key the sweep touches is put back from a
   Redis DUMP taken before the first sweep (RESTORE ... REPLACE ABSTTL; keys absent then are
   deleted). Which keys it touches is not assumed: a trial sweep runs with keyspace
   notifications on and every key it touched must be in the snapshot. Baseline of B, also
   restored before each run: the same reads (ZRANGEBYSCORE LIMIT 0 500 until short) and moves
   (one pipelined ZREM + SADD per batch) without counters or Python per case. The Lua time per
   sweep is Redis's own `INFO commandstats` (evalsha + eval) over the timed runs.

Figures are medians, with p95 (nearest rank).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wall_env import URGENCIES, Env, median, pct

from bigscreen.jobs.rebuild import rebuild

REPORTED_WITHIN = timedelta(days=3)
CHUNK = 10_000
SWEEP_BATCH_READ = 500  # as bigscreen.live.writer.SWEEP_BATCH: the baseline's LIMIT


# -- open cases -----------------------------------------------------------------------------------

def open_case_rows(env: Env, now: datetime, n: int, seed: int) -> list[dict]:
    """`n` dispatched events whose deadlines all lie after `now`."""
    rt = env.rt
    cfg = rt.config
    rng = random.Random(seed)
    grids = env.grid_areas
    urg_k, urg_w = list(URGENCIES), list(URGENCIES.values())
    items = rng.choices(env.items, weights=env.item_weights, k=n)
    depts: dict[tuple[str, str], str] = {}
    limits: dict[tuple[str, str], timedelta] = {}
    rows = []
    for k in range(n):
        item, cat = items[k]
        grid = grids[rng.randrange(len(grids))]
        urgency = rng.choices(urg_k, urg_w)[0]
        if (item, urgency) not in limits:
            limits[(item, urgency)] = cfg.time_limit(item, urgency)
        limit = limits[(item, urgency)]
        key = (item, grid.chain[1])
        if key not in depts:
            depts[key] = cfg.dispatch(item, grid.chain[1])
        back = rng.uniform(0, min(REPORTED_WITHIN, limit * 0.9).total_seconds())
        reported = now - timedelta(seconds=back)
        rows.append({"source": "sweep", "source_id": f"o{seed}-{k}", "channel": "grid_app", "category_code": cat, "item_code": item,
                     "urgency": urgency, "description": "解放中路社区3号楼楼道堆放杂物,已派网格员清理", "photo_urls": [],
                     "lat": grid.lat, "lon": grid.lon, "grid_id": grid.id, "department_code": depts[key], "status": "dispatched",
                     "deadline": reported + limit, "reported_at": reported, "dispatched_at": reported + timedelta(seconds=30),
                     "version": 1})
    return rows


def insert_rows(env: Env, rows: list[dict]) -> float:
    from sqlalchemy import insert

    from bigscreen.db.models import Event

    t0 = time.perf_counter()
    for i in range(0, len(rows), CHUNK):
        with env.rt.engine.begin() as conn:
            conn.execute(insert(Event), rows[i : i + CHUNK])
    return time.perf_counter() - t0


def fill(env: Env, rows: list[dict], now: datetime, expect_open: int) -> None:
    ins = insert_rows(env, rows)
    t0 = time.perf_counter()
    counted = rebuild(env.rt, now)
    reb = time.perf_counter() - t0
    r, keys = env.rt.redis, env.rt.keys
    waiting, overdue = r.zcard(keys.deadlines), r.scard(keys.overdue)
    print(f"  {len(rows):,} open cases inserted in {ins:.1f} s; rebuild counted {counted:,} events in {reb:.1f} s: "
          f"deadlines zset {waiting:,}, overdue set {overdue:,}", flush=True)
    if waiting != expect_open or overdue or r.zcount(keys.deadlines, "-inf", now.timestamp()):
        raise RuntimeError(f"expected {expect_open:,} waiting and none due at now, found {waiting:,} waiting, {overdue:,} overdue")


# -- case A ---------------------------------------------------------------------------------------

def case_none_due(env: Env, now: datetime, reps: int) -> tuple[list[float], list[float]]:
    rt = env.rt
    r, deadlines, ts = rt.redis, rt.keys.deadlines, now.timestamp()

    def sweep() -> float:
        t = time.perf_counter()
        counted = rt.live.sweep(now, rt.areas.chain_of)
        took = (time.perf_counter() - t) * 1000
        if counted:
            raise RuntimeError(f"the sweep counted {counted} cases where none is due")
        return took

    def bare() -> float:
        t = time.perf_counter()
        found = r.zrangebyscore(deadlines, "-inf", f"({ts}", start=0, num=SWEEP_BATCH_READ)
        took = (time.perf_counter() - t) * 1000
        assert not found
        return took

    for _ in range(20):  # warm-up: connection, script cache, code paths
        sweep(), bare()
    swept, base = [], []
    for i in range(reps):  # alternated, and which goes first alternates too
        if i % 2:
            swept.append(sweep())
            base.append(bare())
        else:
            base.append(bare())
            swept.append(sweep())
    return swept, base


# -- case B ---------------------------------------------------------------------------------------

class Snapshot:
    """DUMPs of some keys, put back with RESTORE ... REPLACE ABSTTL (absent keys: deleted)."""

    def __init__(self, client, keys: set[str]) -> None:
        self.client = client
        self.keys = sorted(keys)
        pipe = client.pipeline(transaction=False)
        for k in self.keys:
            pipe.dump(k)
            pipe.pexpiretime(k)
        out = pipe.execute()
        self.dumps = {k: (out[2 * i], out[2 * i + 1]) for i, k in enumerate(self.keys)}

    def restore(self) -> None:
        pipe = self.client.pipeline(transaction=False)
        for k, (dump, at_ms) in self.dumps.items():
            if dump is None:
                pipe.delete(k)
            else:
                pipe.restore(k, max(0, at_ms), dump, replace=True, absttl=at_ms > 0)
        pipe.execute()


def touched_by(env: Env, action) -> set[str]:
    """The keys `action()` writes, from Redis keyspace notifications."""
    r = env.rt.redis
    sentinel = "bench-sweep:sentinel"
    old = r.config_get("notify-keyspace-events")["notify-keyspace-events"]
    ps = r.pubsub(ignore_subscribe_messages=True)
    ps.psubscribe("__keyevent@*__:*")
    ps.get_message(timeout=1)
    r.config_set("notify-keyspace-events", "EA")
    try:
        action()
        r.set(sentinel, "1")
        seen: set[str] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = ps.get_message(timeout=1)
            if m is None:
                continue
            key = m["data"].decode()
            if key == sentinel:
                break
            seen.add(key)
        else:
            raise RuntimeError("keyspace notifications: sentinel not seen")
    finally:
        r.config_set("notify-keyspace-events", old)
        r.delete(sentinel)
        ps.close()
    return seen


def lua_usec(r) -> tuple[int, int]:
    stats = r.info("commandstats")
    calls = usec = 0
    for name in ("cmdstat_evalsha", "cmdstat_eval"):
        if name in stats:
            calls += stats[name]["calls"]
            usec += stats[name]["usec"]
    return calls, usec


def case_due(env: Env, due: int, reps: int) -> dict:
    rt = env.rt
    r, keys = rt.redis, rt.keys
    head = r.zrange(keys.deadlines, due - 1, due, withscores=True)
    if len(head) < 2:
        raise RuntimeError(f"fewer than {due + 1} cases wait; raise --open")
    (_, s_due), (_, s_next) = head
    # halfway between the due-th and the next deadline: exactly `due` scores lie before `now`
    # whether the sweep reads "<= now" or "< now" (it reads "< now": late after the deadline)
    now = datetime.fromtimestamp((s_due + s_next) / 2, UTC)
    if not (r.zcount(keys.deadlines, "-inf", now.timestamp()) == r.zcount(keys.deadlines, "-inf", f"({now.timestamp()}") == due):
        raise RuntimeError(f"cannot choose a moment with exactly {due} deadlines passed (a tie at the {due}th)")
    members = [m.decode() for m in r.zrangebyscore(keys.deadlines, "-inf", now.timestamp())]

    # what the sweep should touch: the two sets, the supervision zset (the sweep may schedule
    # notices), and every counter hash the due cases move
    expected = {keys.deadlines, keys.overdue, keys.supervise}
    from bigscreen.live.contrib import Waiting

    for m in members:
        w = Waiting.parse(m)
        for key, _field in rt.contributions.overdue_fields(w, rt.areas.chain_of(w.grid), now):
            expected.add(key)
    snap = Snapshot(r, expected)

    def check_start() -> None:
        if r.zcount(keys.deadlines, "-inf", now.timestamp()) != due or r.scard(keys.overdue):
            raise RuntimeError("the restored state is not the starting state")

    def sweep() -> float:
        t = time.perf_counter()
        counted = rt.live.sweep(now, rt.areas.chain_of)
        took = (time.perf_counter() - t) * 1000
        if counted != due:
            raise RuntimeError(f"the sweep counted {counted}, expected {due}")
        return took

    trial: list[float] = []
    touched = touched_by(env, lambda: trial.append(sweep()))
    extra = touched - set(snap.keys)
    if extra:
        raise RuntimeError(f"the sweep touched keys the snapshot does not hold: {sorted(extra)[:10]} ({len(extra)})")
    t = time.perf_counter()
    snap.restore()
    restore_ms = (time.perf_counter() - t) * 1000
    check_start()
    after_first = {k: r.dump(k) for k in (keys.deadlines, keys.overdue)}

    def bare() -> float:
        t = time.perf_counter()
        moved = 0
        while True:
            batch = r.zrangebyscore(keys.deadlines, "-inf", f"({now.timestamp()}", start=0, num=SWEEP_BATCH_READ)
            if not batch:
                break
            pipe = r.pipeline(transaction=False)
            pipe.zrem(keys.deadlines, *batch)
            pipe.sadd(keys.overdue, *batch)
            pipe.execute()
            moved += len(batch)
            if len(batch) < SWEEP_BATCH_READ:
                break
        took = (time.perf_counter() - t) * 1000
        assert moved == due
        return took

    for _ in range(3):  # warm-up
        sweep(), snap.restore(), bare(), snap.restore()
    c0, u0 = lua_usec(r)
    swept = []
    for _ in range(reps):
        check_start()
        swept.append(sweep())
        snap.restore()
    c1, u1 = lua_usec(r)
    base = []
    for _ in range(reps):
        check_start()
        base.append(bare())
        snap.restore()
    check_start()
    # the restored sets are byte for byte what they were after the first restore
    if any(r.dump(k) != v for k, v in after_first.items()):
        raise RuntimeError("restore drifted")
    return {"now": now, "swept": swept, "base": base, "trial": trial[0], "touched": len(touched), "snapshot": len(snap.keys),
            "restore_ms": restore_ms, "lua_calls": (c1 - c0) / reps, "lua_ms": (u1 - u0) / reps / 1000}


# -- main -----------------------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grids", type=int, default=6000)
    ap.add_argument("--open", type=int, default=100_000, help="open cases for both cases")
    ap.add_argument("--small", type=int, default=10_000, help="open cases for the growth check of case A (0: skip)")
    ap.add_argument("--due", type=int, default=1000, help="cases due in case B")
    ap.add_argument("--reps", type=int, default=200, help="timed sweeps per size in case A")
    ap.add_argument("--due-reps", type=int, default=30, help="timed sweeps in case B")
    ap.add_argument("--seed", type=int, default=4)
    args = ap.parse_args()
    if not 0 <= args.small < args.open or not 0 < args.due < args.open:
        ap.error("need 0 <= --small < --open and 0 < --due < --open")

    t_start = time.perf_counter()
    with Env(args.grids, workers=0) as env:
        r = env.rt.redis
        info = r.info("server")
        print(f"machine: {cpu_model()}, {len(os.sched_getaffinity(0))} cores; Python {platform.python_version()}; "
              f"redis-server {info['redis_version']} on a unix socket", flush=True)
        now = datetime.now(UTC).replace(microsecond=0)
        rows = open_case_rows(env, now, args.open, args.seed)
        results = []
        if args.small:
            fill(env, rows[: args.small], now, args.small)
            sw, bl = case_none_due(env, now, args.reps)
            results.append(("A", args.small, 0, sw, bl))
        fill(env, rows[args.small :], now, args.open)
        del rows
        sw, bl = case_none_due(env, now, args.reps)
        results.append(("A", args.open, 0, sw, bl))
        b = case_due(env, args.due, args.due_reps)

    a_big = results[-1]
    print()
    print(f"open cases: {args.open:,} (growth check at {args.small:,}); case A {args.reps} sweeps per size, "
          f"case B {args.due_reps}; times in ms, median (p95)")
    print(f"{'case':<28} {'sweep':>17} {'baseline':>17} {'sweep/baseline':>15}")
    for _, n_open, _, sw, bl in results:
        print(f"{'A: ' + f'{n_open:,} open, none due':<28} {median(sw):8.3f} ({pct(sw, 95):6.3f}) {median(bl):8.3f} ({pct(bl, 95):6.3f}) "
              f"{median(sw) / median(bl):15.2f}")
    sw, bl = b["swept"], b["base"]
    print(f"{'B: ' + f'{args.open:,} open, {args.due:,} due':<28} {median(sw):8.1f} ({pct(sw, 95):6.1f}) {median(bl):8.1f} ({pct(bl, 95):6.1f}) "
          f"{median(sw) / median(bl):15.2f}")
    print()
    print("baseline A: one bare ZRANGEBYSCORE deadlines -inf (now LIMIT 0 500 (the sweep's first read)")
    print(f"baseline B: the same reads plus one pipelined ZREM + SADD per batch of {SWEEP_BATCH_READ}, no counters")
    if args.small:
        print(f"A, {args.open:,} open / {args.small:,} open (sweep medians): {median(a_big[3]) / median(results[0][3]):.2f}")
    print(f"B per due case: {median(sw) / args.due * 1000:.1f} µs (median sweep / {args.due:,}); "
          f"Lua inside Redis {b['lua_ms']:.1f} ms per sweep in {b['lua_calls']:.0f} script calls; "
          f"trial sweep (cold, keyspace notifications on) {b['trial']:.1f} ms")
    print(f"B set-up: now just after the {args.due:,}th deadline ({b['now'].isoformat()}); the trial sweep touched {b['touched']:,} keys, "
          f"all among the {b['snapshot']:,} restored before each run (restore {b['restore_ms']:.0f} ms, not timed)")
    met = median(a_big[3]) < 50
    print(f"target: none due, {args.open:,} open, under 50 ms: {'met' if met else 'NOT met'} ({median(a_big[3]):.3f} ms)")
    print(f"run took {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
