"""The demo's day of history (bigscreen.simulation.history): how long a newcomer's first start waits for it.

    .venv/bin/python benchmarks/demo_history.py                  # 3 days in process, samples of the other paths (~4 min)
    .venv/bin/python benchmarks/demo_history.py --runs 1 --sample 200

The world is benchmarks/wall_env.py's: the demo's city (6,000 grids) in a temporary SQLite database and an
embedded redis-server on a unix socket. Every run starts from a copy of the database holding the city only,
its own Redis key prefix and the same plan (seed 1, one day ending now, the demo's default rate 0.2/s:
10,368 reports), so every run sends the same history.

A. in process, as `bigscreen demo` does: `send_history` through `LocalCity` (reports through ingest and the
   group-commit writer, which counts them live; a step of each case per transaction, the transitions
   together; then `rebuild` from SQL once). Wall seconds, and CPU seconds of this process (all its threads;
   redis-server's own CPU is not included), for the whole day and for its parts.
B. baselines, measured in the same run on a day like the plan's (same seed and end) with `--sample` reports
   instead, scaled to the plan's day by calls (its reports and steps against the sample's):
   - run() per step: the same `LocalCity`, each step a whole command `run()` (its own transaction, then its
     Redis call), as `step()` does;
   - HTTP: the simulator through `CityApi` against `uvicorn --factory bigscreen.asgi:app --workers 1`
     (jobs off), each step a request, as the demo sent its history before (two requests at a time).
Figures are medians over runs (A) and the sample's rate (B).
"""

from __future__ import annotations

import argparse
import logging
import platform
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wall_env import Env  # noqa: E402

from bigscreen.jobs.rebuild import rebuild  # noqa: E402
from bigscreen.process.runtime import Runtime  # noqa: E402
from bigscreen.process.settings import Settings  # noqa: E402
from bigscreen.simulation.api import CityApi  # noqa: E402
from bigscreen.simulation.history import HistoryPlan, send_history  # noqa: E402
from bigscreen.simulation.local import LocalCity  # noqa: E402
from bigscreen.simulation.simulator import Simulator  # noqa: E402

RATE = 0.2        # the demo's default
DAY_SHARE = 0.6   # as bigscreen.demo.DAY_SHARE
SOURCE = "demo-simulator"


class Timed:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> Timed:
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.w0, time.process_time() - self.c0


def fresh_runtime(env: Env, city_db: Path, name: str) -> Runtime:
    data = env.tmp / name
    data.mkdir()
    shutil.copy(city_db, data / "bigscreen.db")
    settings = Settings(data_dir=data, redis_url=env.redis_server.url, redis_prefix=f"{name}:")
    rt = Runtime(settings, env.rt.config)
    rt.areas  # the area tree and the point index, read once as a started demo has them  # noqa: B018
    rt.areas.locate(rt.areas.city.lat or 0.0, rt.areas.city.lon or 0.0)
    return rt


def steps_taken(sim: Simulator) -> int:
    return sum(n for k, n in sim.stats.items() if k.startswith("step_"))


def in_process(env: Env, city_db: Path, plan: HistoryPlan, run: int) -> dict:
    rt = fresh_runtime(env, city_db, f"run{run}")
    try:
        sim = Simulator(api=LocalCity(rt, SOURCE), seed=plan.seed, rate=RATE, workers=1)
        parts: dict[str, float] = {}
        api = sim.api
        post, many = api.post_events, api.steps

        def timed(name, fn):
            def wrapper(*args, **kw):
                t = time.perf_counter()
                try:
                    return fn(*args, **kw)
                finally:
                    parts[name] = parts.get(name, 0.0) + time.perf_counter() - t
            return wrapper

        api.post_events, api.steps = timed("reports", post), timed("steps", many)
        with Timed() as whole:
            assert send_history(rt, sim, plan, threading.Event())
        with Timed() as again:
            rebuild(rt)
        return {"wall": whole.wall, "cpu": whole.cpu, "reports": parts["reports"], "steps": parts["steps"],
                "rebuild": again.wall, "n_steps": steps_taken(sim), "created": sim.stats["events_created"]}
    finally:
        rt.close()


def sample(env: Env, city_db: Path, plan: HistoryPlan, n: int, how: str) -> dict:
    """A day like the plan's (same seed and end) with `n` reports instead of the plan's number."""
    rt = fresh_runtime(env, city_db, f"sample-{how}")
    try:
        if how == "http":
            sim = Simulator(api=CityApi(env.url, env.api_key), seed=plan.seed, rate=RATE, workers=2)
        else:
            sim = Simulator(api=LocalCity(rt, SOURCE), seed=plan.seed, rate=RATE, workers=1)
            sim.api.steps = lambda calls, through=map: [sim.api.step(c) for c in calls]  # each a whole run()
        sim.load_catalogue()
        with Timed() as t:
            sim.backfill(days=plan.days, per_day=n, progress=False, until=plan.until, source_prefix=plan.source_prefix)
        return {"wall": t.wall, "cpu": t.cpu, "reports": sim.stats["events_created"], "n_steps": steps_taken(sim)}
    finally:
        rt.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sample", type=int, default=500, help="reports of the day each baseline sends")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    per_day = round(RATE * 86400 * DAY_SHARE)
    print(f"python {platform.python_version()}, {platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores")
    with Env(grids=6000, workers=1) as env:
        env.rt.engine.dispose()
        city_db = env.tmp / "city.db"
        shutil.copy(env.tmp / "bigscreen.db", city_db)
        plan = HistoryPlan(seed=1, until=time.time(), days=1, per_day=per_day)
        print(f"plan: one day ending now, {plan.reports:,} reports (rate {RATE}/s)", flush=True)
        runs = []
        for run in range(args.runs):
            r = in_process(env, city_db, plan, run)
            runs.append(r)
            print(f"A run {run + 1}: {r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU; reports {r['reports']:.1f} s, "
                  f"steps {r['steps']:.1f} s, rebuild {r['rebuild']:.1f} s; {r['created']:,} reports, {r['n_steps']:,} steps",
                  flush=True)
        day = {k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu", "reports", "steps", "rebuild", "n_steps")}
        local = sample(env, city_db, plan, args.sample, "run")
        env.start_server()
        http = sample(env, city_db, plan, args.sample, "http")
        env.stop_server()
    print(f"\nA. a day in process (median of {len(runs)}): {day['wall']:.1f} s wall ({day['cpu']:.1f} s CPU): "
          f"reports {day['reports']:.1f} s, {day['n_steps']:,.0f} steps {day['steps']:.1f} s "
          f"({day['n_steps'] / day['steps']:,.0f}/s), rebuild {day['rebuild']:.1f} s")
    for name, s in (("run() per step", local), ("HTTP", http)):
        scale = (plan.reports + day["n_steps"]) / (s["reports"] + s["n_steps"])
        print(f"B. {name}: {s['reports']} reports, {s['n_steps']} steps in {s['wall']:.1f} s "
              f"({(s['reports'] + s['n_steps']) / s['wall']:.0f} calls/s); a day at that pace: {s['wall'] * scale:,.0f} s, "
              f"{s['wall'] * scale / day['wall']:.1f} times the in-process path")


if __name__ == "__main__":
    main()
