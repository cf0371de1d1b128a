"""What a rebuild or reconcile costs now that it is exact under live writes (bigscreen.jobs.resync).

    .venv/bin/python benchmarks/resync.py [--grids 6000] [--events 200000] [--rate 40] [--runs 3]

Builds the demo city, writes `--events` of history straight into SQL, starts the server (one uvicorn
worker), then measures, `--runs` times each:
- baseline: `expected()` alone, the read of SQL and the sum every resync starts with;
- resync on a quiet system: the whole of it, and how long changes were held (the wall stands still);
- resync while events arrive through the API at `--rate` per second: the same, the answers' p95, and at
  the end whether the counters equal SQL (a reconcile after the load finds nothing to repair).
Prints medians and the ratio of each resync to the baseline.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wall_env import Env, median, pct  # noqa: E402

from bigscreen.jobs.expected import expected  # noqa: E402
from bigscreen.jobs.reconcile import reconcile  # noqa: E402
from bigscreen.jobs.resync import resync  # noqa: E402


class Load(threading.Thread):
    """Single POSTs at a steady rate, recording each answer's latency."""

    def __init__(self, env: Env, rate: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.env, self.rate, self.rng = env, rate, random.Random(seed)
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.errors = 0

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            nxt = time.monotonic()
            while not self.stop.is_set():
                t = time.monotonic()
                try:
                    self.env.post_event(client, self.rng, prefix=f"load{id(self)}", quiet=True)
                    self.latencies.append(time.monotonic() - t)
                except Exception:  # noqa: BLE001 - counted
                    self.errors += 1
                nxt += 1 / self.rate
                self.stop.wait(max(0.0, nxt - time.monotonic()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grids", type=int, default=6000)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--rate", type=float, default=40)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    with Env(a.grids, workers=1) as env:
        env.grow_history(a.events)
        env.start_server()
        rt = env.rt
        base, quiet, quiet_held, loaded, loaded_held, p95s, errors, repairs = [], [], [], [], [], [], 0, []
        for run in range(a.runs):
            t = time.perf_counter()
            expected(rt, rt.clock())
            base.append(time.perf_counter() - t)

            t = time.perf_counter()
            done = resync(rt, wait=True)
            quiet.append(time.perf_counter() - t)
            quiet_held.append(done.held_s)

            load = Load(env, a.rate, run)
            load.start()
            time.sleep(1.0)
            t = time.perf_counter()
            done = resync(rt, wait=True)
            loaded.append(time.perf_counter() - t)
            loaded_held.append(done.held_s)
            time.sleep(1.0)
            load.stop.set()
            load.join()
            p95s.append(pct(load.latencies, 95))
            errors += load.errors
            repairs.append(len(reconcile(rt)))
            print(f"run {run + 1}: baseline {base[-1]:.2f} s, quiet {quiet[-1]:.2f} s (held {quiet_held[-1] * 1000:.0f} ms), "
                  f"under {a.rate:g}/s {loaded[-1]:.2f} s (held {loaded_held[-1] * 1000:.0f} ms, answers p95 "
                  f"{p95s[-1] * 1000:.0f} ms, {len(load.latencies)} posted), repairs after: {repairs[-1]}", flush=True)
        b = median(base)
        print(f"\n{env.history:,} events, {len(env.grid_areas)} grids, {a.runs} runs (medians)")
        print(f"  baseline expected():           {b:.2f} s")
        print(f"  resync, quiet:                 {median(quiet):.2f} s  ratio {median(quiet) / b:.2f}  held {median(quiet_held) * 1000:.0f} ms")
        print(f"  resync, {a.rate:g} events/s arriving: {median(loaded):.2f} s  ratio {median(loaded) / b:.2f}  "
              f"held {median(loaded_held) * 1000:.0f} ms  answers p95 {median(p95s) * 1000:.0f} ms  errors {errors}")
        print(f"  repairs a reconcile found after each loaded resync: {repairs}")


if __name__ == "__main__":
    main()
