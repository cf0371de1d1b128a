"""Soak (issue 14): minutes of a centre's working day on PostgreSQL and an external Redis, with a
rebuild and a scheduler failover in the middle; at the end, nothing lost and every figure equal to SQL.

    .venv/bin/python benchmarks/soak.py                                  # 10 min, 200 events/s, 500 walls, 2 workers
    .venv/bin/python benchmarks/soak.py --walls 2000 --workers 4         # 2,000 pushed viewers over 4 workers
    .venv/bin/python benchmarks/soak.py --minutes 1 --rate 50 --walls 50 --history 10000   # a smoke run

Setup: a throwaway PostgreSQL 15 cluster (initdb on a random port, tests_support.PostgresCluster), a
redis-server the benchmark starts (no `serve` owns it), the demo city (`--grids`) and `--history`
events written straight into SQL (wall_env.Env); `--servers` `bigscreen serve` processes sharing
`--workers` web workers, with jobs off (BIGSCREEN_RUN_JOBS=false); two `bigscreen scheduler`
processes, one leading (frames, sweep, reconcile), one standing by.

The run (wall clock from the load's start):
- the load (benchmarks/soak_load.py, a process of its own): single reports at `--rate` a second
  (`--batch` to group them), round robin over the servers; `--moved` of the cases taken through
  their life in seconds (5% returned and dispatched again; accept, start, handle, verify, close; 90%
  rated); `--officers` duty officers signed in through the login form acknowledging the alerts the
  reports raise, and resolving them 20 s later;
- `--walls` pushed walls (wall_viewers.push_recorder_process, through `--push-client`: Dash's websocket protocol;
  the websockets client applies each delta as assets/wall.js does, the raw one reads each frame's number,
  base and built_ms from the message's bytes; `--per-recorder` walls a process), each noting every frame it holds;
- at `--rebuild-at` of the run, `bigscreen rebuild` against the running centre; at `--failover-at`,
  `kill -9` of the leading scheduler: the standby takes over; a new standby is started (as systemd would).
Then the load stops, and the checks run:
- reports sent / accepted (2xx) / refused; lost: accepted reports SQL does not hold (by source id);
- figures: the headline figures of the city, every district and every street and the map, as the
  API and the wall read them, against SQL (fault_support.figures_differ, waited for up to 60 s for
  the sweep's clock), then every counter key (every area of every level, every department, day and
  trend hashes, deadline, overdue and supervision sets) against what SQL says (a resync with
  `compare`, which also repairs what it finds, so it runs last);
- event-to-screen: from the API's answer to a report to the first frame a wall holds that was
  built after it (a frame's `built_ms` is taken before the publisher reads Redis, and the API
  answers after the counters moved, so that frame holds the report), for every report and every
  wall; p50/p95/p99 per minute and overall; reports a wall never saw are counted as missed; and
  the part of it after the build began: each frame's age when a wall read it, and how often a
  new frame came;
- memory: resident set of the servers (every serve process and worker), the schedulers and Redis,
  every 2 s; growth from the end of `--warmup` to the end;
- CPU seconds of each part;
- each server's event-loop lag (`bigscreen_event_loop_lag_seconds`) and push lag
  (`bigscreen_push_lag_seconds`) per half minute, read from its `/metrics` (loopback may read it).
`--sabotage N` deletes N accepted reports from SQL before the checks: the report must then show N
lost and figures that differ (a check of the checks).
Method and results: docs/BENCHMARKS.md, "Soak (issue 14)".
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from fault_support import CityDir, Served, figures_differ, stored_ids, wait_until_equal  # noqa: E402
from tests_support import PASSWORD, PG_BIN, PostgresCluster  # noqa: E402
from wall_env import Env, children, proc_cpu_s  # noqa: E402
from wall_viewers import collect_recorder, push_recorder_process  # noqa: E402

PREFIX = "soak"
SOURCE = "bench"  # wall_env.Env's API key
BIN_MS = 1  # latency histograms: 1 ms bins up to MAX_MS, one overflow bin
MAX_MS = 60_000
MAX_IN_FLIGHT_NOTE = "256 requests were already waiting for answers"  # soak_load.MAX_IN_FLIGHT
SEEN_BY_S = 5.0  # a report answered less than this before the walls stopped need not have reached them


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Parts:
    """The processes of each part (servers, schedulers, redis, postgres, load, walls, this one),
    sampled every 2 s: resident memory now, CPU seconds since `start()` (a process that ended keeps
    what it used)."""

    def __init__(self) -> None:
        self.pids: dict[str, set[int]] = {}
        self.cpu: dict[int, float] = {}  # pid -> CPU seconds last seen
        self.owner: dict[int, str] = {}
        self.samples: list[tuple[float, dict[str, int]]] = []  # (time, part -> RSS kB)
        self.base: dict[int, float] = {}  # pid -> CPU seconds at start(): what it used before the run

    def start(self) -> None:
        self.sample()
        self.base = dict(self.cpu)

    def add(self, part: str, pid: int, with_children: bool = True) -> None:
        pids = {pid, *(children(pid) if with_children else ())}
        self.pids.setdefault(part, set()).update(pids)
        for p in pids:
            self.owner[p] = part

    def refresh(self, part: str, root: int) -> None:
        """Takes up `root`'s children started since (uvicorn's workers, PostgreSQL's backends)."""
        try:
            self.add(part, root)
        except OSError:
            pass

    def sample(self) -> None:
        row: dict[str, int] = {}
        for part, pids in self.pids.items():
            total = 0
            for p in pids:
                try:
                    self.cpu[p] = proc_cpu_s(p)
                except OSError:
                    continue
                total += rss_kb(p)
            row[part] = total
        self.samples.append((time.time(), row))

    def cpu_by_part(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for p, used in self.cpu.items():
            out[self.owner[p]] = out.get(self.owner[p], 0.0) + used - self.base.get(p, 0.0)
        return out


LAGS = ("bigscreen_event_loop_lag_seconds", "bigscreen_push_lag_seconds")


class Lags:
    """Each server's lag histograms (its workers' sum), scraped from `/metrics` every half minute:
    per interval, the share of observations at or under each bucket's bound."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.rows: list[tuple[float, int, dict[str, list[tuple[float, float]]]]] = []  # (time, server, name -> cumulative buckets)

    def scrape(self) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        for i, url in enumerate(self.urls):
            try:
                text = httpx.get(url + "/metrics", timeout=10).text
            except httpx.HTTPError:
                continue
            got = {}
            for family in text_string_to_metric_families(text):
                if family.name in LAGS:
                    got[family.name] = sorted((float(x.labels["le"]), x.value) for x in family.samples
                                              if x.name.endswith("_bucket"))
            self.rows.append((time.time(), i, got))

    def report(self, t0: float) -> list[dict]:
        out = []
        for name in LAGS:
            for i in range(len(self.urls)):
                mine = [(t, got[name]) for t, server, got in self.rows if server == i and name in got]
                for (_, before), (t, after) in zip(mine, mine[1:]):
                    counts = [(le, b - a) for (le, b), (_, a) in zip(after, before)]
                    total = counts[-1][1] if counts else 0
                    if not total:
                        continue
                    bound = lambda q: next(le for le, c in counts if c >= q * total)  # noqa: E731
                    out.append({"name": name, "server": i, "until_s": round(t - t0), "n": int(total),
                                "p50_le": bound(0.5), "p95_le": bound(0.95), "p99_le": bound(0.99)})
        return out


def stop_all(procs: list[subprocess.Popen], servers: list[Served]) -> None:
    """Stops what the soak started (schedulers, load, walls; then the servers), each by its own handle."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    procs.clear()
    for s in servers:
        s.stop()
    servers.clear()


def leader_pid(rt) -> int | None:
    token = rt.redis.get(rt.keys.leader)
    return int(token.decode().split(":")[1]) if token else None


def scheduler(env: Env, database_url: str, log: Path) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BIGSCREEN_")}
    return subprocess.Popen([sys.executable, "-m", "bigscreen.cli", "scheduler", "--data-dir", str(env.tmp)],
                            env={**clean, "BIGSCREEN_DATABASE_URL": database_url, "BIGSCREEN_REDIS_URL": env.redis_server.url},
                            stdout=log.open("a"), stderr=subprocess.STDOUT)


def wait_for(what: str, predicate, timeout: float, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(every)
    raise RuntimeError(f"timed out waiting for {what}")


def sabotage(rt, n: int) -> int:
    """Deletes `n` accepted reports no one moved and no alert names from SQL (their log rows too),
    as a lost write would leave them: counted in Redis, absent from SQL."""
    from sqlalchemy import text

    with rt.engine.begin() as conn:
        ids = conn.execute(text("SELECT id FROM events WHERE source = :s AND source_id LIKE :p AND status = 'dispatched' "
                                "AND id NOT IN (SELECT event_id FROM alerts WHERE event_id IS NOT NULL) ORDER BY id LIMIT :n"),
                           {"s": SOURCE, "p": f"{PREFIX}-%", "n": n}).scalars().all()
        if ids:
            conn.execute(text("DELETE FROM event_transitions WHERE event_id = ANY(:ids)"), {"ids": list(ids)})
            conn.execute(text("DELETE FROM events WHERE id = ANY(:ids)"), {"ids": list(ids)})
    return len(ids)


def latencies(events_ms: np.ndarray, minutes: np.ndarray, n_minutes: int, walls: list[tuple[np.ndarray, np.ndarray]],
              stopped: float) -> dict:
    """Histograms (per minute of the run, 1 ms bins) of event-to-screen over every report and every
    wall; reports a wall never got a frame after (and answered SEEN_BY_S before the walls stopped) are missed."""
    nb = MAX_MS // BIN_MS + 1
    hist = np.zeros(n_minutes * nb, dtype=np.int64)
    missed = 0
    answered = events_ms / 1000
    due = answered < stopped - SEEN_BY_S
    for recv, built in walls:
        idx = np.searchsorted(built, answered, side="left")
        seen = idx < len(built)
        missed += int(np.count_nonzero(due & ~seen))
        lat = (recv[idx[seen]] - answered[seen]) * 1000
        bins = np.minimum((np.maximum(lat, 0) // BIN_MS).astype(np.int64), nb - 1)
        hist += np.bincount(minutes[seen] * nb + bins, minlength=n_minutes * nb)
    return {"hist": hist.reshape(n_minutes, nb), "missed": missed}


def pcts(hist: np.ndarray, ps=(50, 95, 99)) -> list[float]:
    total = hist.sum()
    if not total:
        return [float("nan")] * len(ps)
    cum = np.cumsum(hist)
    return [float(np.searchsorted(cum, math.ceil(p / 100 * total)) * BIN_MS) for p in ps]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=float, default=200, help="reports a second")
    ap.add_argument("--walls", "--viewers", dest="walls", type=int, default=500, help="pushed walls (viewers)")
    ap.add_argument("--workers", type=int, default=2, help="web workers in all, spread over the servers")
    ap.add_argument("--servers", type=int, default=2, help="`bigscreen serve` processes")
    ap.add_argument("--grids", type=int, default=6000)
    ap.add_argument("--history", type=int, default=100_000, help="events written into SQL before the start")
    ap.add_argument("--batch", type=int, default=1, help="reports per POST")
    ap.add_argument("--moved", type=float, default=0.25, help="share of the reports taken through their life")
    ap.add_argument("--officers", type=int, default=3)
    ap.add_argument("--per-recorder", type=int, default=500, help="pushed walls per client process")
    ap.add_argument("--push-client", choices=("websockets", "raw"), default="websockets",
                    help="how the walls speak websockets: the websockets library, or wall_viewers.RawWall (a fraction "
                         "of the load generator's CPU)")
    ap.add_argument("--warmup", type=float, default=None, help="seconds before memory is taken as the baseline "
                    "(default: a minute, or a fifth of a shorter run)")
    ap.add_argument("--rebuild-at", type=float, default=0.4, help="when `bigscreen rebuild` runs, as a share of the run")
    ap.add_argument("--failover-at", type=float, default=0.6, help="when the leading scheduler is killed")
    ap.add_argument("--sabotage", type=int, default=0, help="delete this many accepted reports from SQL before the checks")
    ap.add_argument("--keep", action="store_true", help="keep the data dir and logs")
    args = ap.parse_args()
    seconds = args.minutes * 60
    warmup = args.warmup if args.warmup is not None else min(60.0, seconds / 5)
    servers_n = max(1, min(args.servers, args.workers))
    per_server = [args.workers // servers_n + (1 if i < args.workers % servers_n else 0) for i in range(servers_n)]
    load0 = os.getloadavg()
    print(f"soak: {args.minutes:g} min, {args.rate:g} reports/s, {args.walls} pushed walls, {servers_n} servers with "
          f"{per_server} workers; {os.cpu_count()} CPUs, load average {load0[0]:.1f} {load0[1]:.1f} {load0[2]:.1f}", flush=True)

    cluster = PostgresCluster(PG_BIN).create()
    parts = Parts()
    procs: list[subprocess.Popen] = []
    servers: list[Served] = []
    work = Path(tempfile.mkdtemp(prefix="bs-soak-"))
    try:
        database_url = cluster.create_database("soak")
        pg_root = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
        parts.add("postgres", pg_root)
        with Env(args.grids, args.workers, keep=args.keep, database_url=database_url) as env:
            rt = env.rt
            parts.add("redis", env.redis_server.process.pid)
            if args.history:
                env.grow_history(args.history)
            from bigscreen.auth.users import add_user

            officers = [(f"soak-duty{i}", PASSWORD) for i in range(args.officers)]
            for name, password in officers:
                add_user(rt, name, password, "duty")
            from bigscreen.auth.kiosk import create_kiosk_token

            city_dir = CityDir(env.tmp, database_url, env.api_key, create_kiosk_token(rt, "soak"))
            for i, w in enumerate(per_server):
                (work / f"metrics-{i}").mkdir()  # each server's Prometheus files (they share the data dir)
                servers.append(Served(city_dir, work / f"serve-{i}.log", workers=w, env={
                    "BIGSCREEN_DATABASE_URL": database_url, "BIGSCREEN_REDIS_URL": env.redis_server.url,
                    "BIGSCREEN_RUN_JOBS": "false", "PROMETHEUS_MULTIPROC_DIR": str(work / f"metrics-{i}")}))
            for s in servers:
                s.wait_ready(180)
            urls = [s.url for s in servers]
            sched_log = work / "scheduler.log"
            schedulers = [scheduler(env, database_url, sched_log)]
            procs.extend(schedulers)
            first_leader = wait_for("a scheduler to lead", lambda: leader_pid(rt), 60)
            schedulers.append(scheduler(env, database_url, sched_log))
            procs.append(schedulers[-1])
            print(f"servers {urls}; scheduler {first_leader} leads, {schedulers[1].pid} stands by", flush=True)

            from wall_browser import Chromium, capture

            env.sign_in_wall(urls[0])
            with Chromium() as chrome:
                chrome.wall_path = env.wall_path
                _, _, payload = capture(chrome, urls[0])
            for u in urls:  # each worker serves /wall once: first-request costs out of the figures
                for _ in range(4):
                    httpx.get(u + env.wall_path, timeout=30)

            stop_path = str(work / "walls.stop")
            recorders = []
            for k in range(0, args.walls, args.per_recorder):
                n = min(args.per_recorder, args.walls - k)
                recorders.append(push_recorder_process(urls, payload, env.city, n, f"{stop_path}.{k}", client=args.push_client))
                procs.append(recorders[-1])
            for k, r in zip(range(0, args.walls, args.per_recorder), recorders):
                wait_for("the walls to connect", lambda k=k: Path(f"{stop_path}.{k}.ready").exists(), 300, 0.5)
            print(f"{args.walls} pushed walls connected", flush=True)

            load_args = work / "load.json"
            load_args.write_text(json.dumps({
                "urls": urls, "api_key": env.api_key, "rate": args.rate, "seconds": seconds, "batch": args.batch,
                "moved": args.moved, "officers": officers, "prefix": PREFIX, "items": env.item_codes,
                "weights": env.item_weights, "grids": env.grid_codes}))
            load_out = work / "load.npz"
            load = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "soak_load.py"), str(load_args), str(load_out)])
            procs.append(load)
            started = Path(f"{load_out}.started")
            t0 = float(wait_for("the load to start", lambda: started.exists() and started.read_text(), 120))

            for s in servers:
                parts.add("servers", s.proc.pid)
            for sp in schedulers:
                parts.add("schedulers", sp.pid)
            parts.add("load", load.pid)
            for r in recorders:
                parts.add("walls", r.pid)
            parts.add("bench", os.getpid(), with_children=False)
            parts.refresh("postgres", pg_root)
            parts.start()
            lags = Lags(urls)
            lags.scrape()
            scraped = time.time()

            events: dict[str, float | str | int] = {}
            rebuilding: subprocess.Popen | None = None
            failed_over = False
            loads = [os.getloadavg()[0]]
            while load.poll() is None:
                elapsed = time.time() - t0
                parts.refresh("postgres", pg_root)
                parts.sample()
                if int(elapsed) % 30 < 2:
                    loads.append(os.getloadavg()[0])
                if time.time() - scraped >= 30:
                    lags.scrape()
                    scraped = time.time()
                if rebuilding is None and elapsed >= args.rebuild_at * seconds:
                    rebuild_log = work / "rebuild.log"
                    rebuilding = subprocess.Popen(
                        [sys.executable, "-m", "bigscreen.cli", "rebuild", "--data-dir", str(env.tmp)],
                        env={**{k: v for k, v in os.environ.items() if not k.startswith("BIGSCREEN_")},
                             "BIGSCREEN_DATABASE_URL": database_url, "BIGSCREEN_REDIS_URL": env.redis_server.url},
                        stdout=rebuild_log.open("w"), stderr=subprocess.STDOUT)
                    procs.append(rebuilding)
                    events["rebuild_at"] = time.time() - t0
                    print(f"  {events['rebuild_at']:5.0f} s: bigscreen rebuild started", flush=True)
                if rebuilding is not None and "rebuild_s" not in events and rebuilding.poll() is not None:
                    events.update(rebuild_s=time.time() - t0 - events["rebuild_at"], rebuild_rc=rebuilding.returncode,
                                  rebuild_out=rebuild_log.read_text(errors="replace").strip()[-300:])
                    print(f"  {time.time() - t0:5.0f} s: bigscreen rebuild done in {events['rebuild_s']:.1f} s "
                          f"(exit {rebuilding.returncode}): {events['rebuild_out']}", flush=True)
                if not failed_over and elapsed >= args.failover_at * seconds:
                    failed_over = True
                    old = wait_for("a scheduler to lead", lambda: leader_pid(rt), 60)
                    t = time.time()
                    os.kill(old, signal.SIGKILL)
                    new = wait_for("the standby to lead", lambda: (p := leader_pid(rt)) not in (None, old) and p, 60)
                    events.update(failover_at=t - t0, takeover_s=time.time() - t, killed=old, new_leader=new, killed_t=t)
                    print(f"  {t - t0:5.0f} s: leader {old} killed; {new} leads {events['takeover_s']:.1f} s later", flush=True)
                    schedulers.append(scheduler(env, database_url, sched_log))  # restarted, as systemd would
                    procs.append(schedulers[-1])
                    parts.add("schedulers", schedulers[-1].pid)
                    print(f"  new standby {schedulers[-1].pid}", flush=True)
                time.sleep(2.0)
            load_end = time.time()
            parts.sample()
            lags.scrape()
            if rebuilding is not None and "rebuild_s" not in events:
                rebuilding.wait()  # longer than the run: its time still counts
                events.update(rebuild_s=time.time() - t0 - events["rebuild_at"], rebuild_rc=rebuilding.returncode,
                              rebuild_out=rebuild_log.read_text(errors="replace").strip()[-300:])
            time.sleep(3.0)  # the last frames reach the walls
            for k in range(0, args.walls, args.per_recorder):
                Path(f"{stop_path}.{k}").touch()
            walls_stopped = time.time()
            recorded = [collect_recorder(r, 120) for r in recorders]
            cpu = parts.cpu_by_part()
            loads.append(os.getloadavg()[0])

            with np.load(load_out, allow_pickle=False) as z:
                sent, answered, status = z["sent"], z["answered"], z["status"]
                load_meta = json.loads(str(z["meta"]))

            # -- checks ----------------------------------------------------------------------------
            sabotaged = sabotage(rt, args.sabotage) if args.sabotage else 0
            ok = (status == 200) | (status == 201)
            accepted = {f"{PREFIX}-{k}" for k in np.flatnonzero(ok)}
            stored = stored_ids(rt, SOURCE, PREFIX)
            lost = accepted - stored
            stored_refused = {f"{PREFIX}-{k}" for k in np.flatnonzero(~ok)} & stored
            checked = time.monotonic()
            try:
                equal_s = wait_until_equal(rt, checked, 60.0, levels=(1, 2))
                figures = f"equal to SQL ({equal_s:.1f} s after the load stopped and the checks began)"
                figures_ok = True
            except AssertionError:
                gaps = figures_differ(rt, (1, 2))
                figures = f"DIFFER from SQL in {len(gaps)} areas, e.g. {gaps[:3]}"
                figures_ok = False
            from bigscreen.jobs.resync import resync

            now = rt.clock()
            rt.live.sweep(now, rt.areas.chain_of)
            done = resync(rt, now, wait=True, compare=True)
            counters_ok = not done.differences

            # -- event to screen ---------------------------------------------------------------------
            acc_ms = answered[ok] * 1000
            minute = ((answered[ok] - t0) // 60).astype(np.int64).clip(0)
            n_minutes = int(minute.max()) + 1 if len(minute) else 1
            walls = [(recv, built) for rec in recorded for recv, built in zip(rec["recv"], rec["built"])]
            lat = latencies(acc_ms, minute, n_minutes, walls, walls_stopped)
            frames_built = np.unique(np.concatenate([b for _, b in walls])) if walls else np.zeros(0)
            gaps = np.diff(frames_built)
            longest = (float(gaps.max()), float(frames_built[gaps.argmax()] - t0)) if len(gaps) else (float("nan"), 0.0)
            lat_out = None
            if "killed_t" in events and len(frames_built):
                # the frames stop when the leader dies and start again when the standby leads: reports
                # answered between the last frame before the kill and the first after wait for the standby
                kill = events["killed_t"]
                before = frames_built[frames_built < kill]
                after = frames_built[frames_built >= kill]
                window = (before[-1] if len(before) else t0, after[0] if len(after) else walls_stopped)
                events["no_frames_s"] = window[1] - window[0]
                keep = ~((acc_ms / 1000 >= window[0]) & (acc_ms / 1000 < window[1]))
                events["waited_for_standby"] = int((~keep).sum())
                lat_out = latencies(acc_ms[keep], minute[keep], n_minutes, walls, walls_stopped)

            # -- report ------------------------------------------------------------------------------
            errors = int(np.count_nonzero(~ok))
            steps = load_meta["steps"]
            step_err = sum(c for _, s, c in steps if s != 200)
            off = load_meta["officer"]
            off_err = sum(c for w, s, c in off if not (s == 200 or (w == "sign in" and s == 303)))
            wall_failures = sum(len(r["failures"]) for r in recorded)
            frames = sum(len(r) for r, _ in walls)
            run_s = load_meta["ended"] - t0
            print()
            print(f"summary: {args.minutes:g} min on PostgreSQL + external Redis; {servers_n} servers, {args.workers} workers; "
                  f"{args.walls} pushed walls; {args.history:,} events of history; load average {min(loads):.1f}-{max(loads):.1f}")
            print(f"  reports: sent {len(status):,} ({len(status) / run_s:.0f}/s, {load_meta['behind']} sent late), "
                  f"accepted {int(ok.sum()):,}, errors {errors} {dict(zip(*(x.tolist() for x in np.unique(status[~ok], return_counts=True)))) if errors else ''}")
            if load_meta["behind"] > 0.01 * len(status):
                print(f"  NOTE: {load_meta['behind']:,} reports left late ({MAX_IN_FLIGHT_NOTE}): the rate was not held, and "
                      f"the answer times below include that wait")
            answer_ms = (answered[ok] - sent[ok]) * 1000
            print(f"  API answer to a report: p50 {np.percentile(answer_ms, 50):.0f} ms, p95 {np.percentile(answer_ms, 95):.0f} ms, "
                  f"p99 {np.percentile(answer_ms, 99):.0f} ms" if len(answer_ms) else "  no report accepted")
            print(f"  lost: {len(lost)} accepted reports not in SQL{f' (e.g. {sorted(lost)[:3]})' if lost else ''}; "
                  f"{len(stored_refused)} refused yet stored" + (f"; sabotage deleted {sabotaged}" if args.sabotage else ""))
            print(f"  steps: {sum(c for *_, c in steps):,} ({', '.join(f'{a} {s}: {c}' for a, s, c in steps)}); errors {step_err}")
            print(f"  duty officers: {', '.join(f'{w} {s}: {c}' for w, s, c in off)}; errors {off_err}")
            if load_meta["samples"]:
                print(f"  first refusals: {load_meta['samples'][:5]}")
            print(f"  rebuild at {events.get('rebuild_at', float('nan')):.0f} s: {events.get('rebuild_s', float('nan')):.1f} s, "
                  f"exit {events.get('rebuild_rc')}; failover at {events.get('failover_at', float('nan')):.0f} s: "
                  f"standby led {events.get('takeover_s', float('nan')):.1f} s after the kill")
            print(f"  figures (city, {len(rt.areas.at_level(1))} districts, {len(rt.areas.at_level(2))} streets, map): {figures}")
            print(f"  counters (every key, every area and department): "
                  f"{'equal to SQL' if counters_ok else f'{len(done.differences)} differ, e.g. {done.differences[:3]}'}"
                  f" ({done.events:,} events; {done.moving} keys moving meanwhile, not compared)")
            print(f"  walls: {args.walls - wall_failures}/{args.walls} connected to the end ({wall_failures} failed"
                  f"{', e.g. ' + recorded[0]['failures'][0][2] if wall_failures and recorded[0]['failures'] else ''}); "
                  f"{frames / max(1, len(walls)) / run_s:.2f} frames a wall a second; "
                  f"{sum(r['wholes'] for r in recorded):,} whole, {sum(r['deltas'] for r in recorded):,} deltas, "
                  f"{sum(r['gaps'] for r in recorded)} gaps; message {np.median([s for r in recorded for s in r['sizes']] or [0]):.0f} B (median)")
            print(f"  event to screen (API answer -> frame held by the wall; {int(lat['hist'].sum()):,} report x wall pairs, "
                  f"{lat['missed']} missed):")
            per_min = []
            for m in range(n_minutes):
                p = pcts(lat["hist"][m])
                per_min.append(p)
                mark = " (rebuild)" if "rebuild_at" in events and m == int(events["rebuild_at"] // 60) else ""
                mark += " (failover)" if "failover_at" in events and m == int(events["failover_at"] // 60) else ""
                print(f"    minute {m + 1}: p50 {p[0]:.0f} ms, p95 {p[1]:.0f} ms, p99 {p[2]:.0f} ms{mark}")
            overall = pcts(lat["hist"].sum(axis=0))
            print(f"    overall: p50 {overall[0]:.0f} ms, p95 {overall[1]:.0f} ms, p99 {overall[2]:.0f} ms")
            print(f"    longest time without a new frame: {longest[0]:.1f} s, from {longest[1]:.0f} s into the run")
            ages = np.concatenate([(recv - built) * 1000 for recv, built in walls]) if walls else np.zeros(1)
            print(f"    of which a frame's age when a wall read it (its build began -> the wall read it): p50 {np.percentile(ages, 50):.0f}, "
                  f"p95 {np.percentile(ages, 95):.0f}, p99 {np.percentile(ages, 99):.0f} ms; a new frame every "
                  f"{np.median(gaps) * 1000 if len(gaps) else float('nan'):.0f} ms (median)")
            per_min_out = per_min
            if lat_out is not None:
                per_min_out = [pcts(h) for h in lat_out["hist"]]
                out_all = pcts(lat_out["hist"].sum(axis=0))
                print(f"    without the {events['waited_for_standby']:,} reports answered while no scheduler led "
                      f"(no frame for {events['no_frames_s']:.1f} s around the kill): per minute p95 "
                      f"{', '.join(f'{p[1]:.0f}' for p in per_min_out)} ms; overall p50 {out_all[0]:.0f} ms, "
                      f"p95 {out_all[1]:.0f} ms, p99 {out_all[2]:.0f} ms")
            warm = next((row for t, row in parts.samples if t - t0 >= warmup), parts.samples[0][1])
            end = next((row for t, row in reversed(parts.samples) if t <= load_end + 0.5), parts.samples[-1][1])
            mem = {k: (warm.get(k, 0), end.get(k, 0)) for k in ("servers", "schedulers", "redis")}
            growth = {k: (b - a) / a * 100 if a else float("nan") for k, (a, b) in mem.items()}
            print(f"  memory after {warmup:.0f} s of warm-up -> at the end: " + "; ".join(
                f"{k} {a / 1024:.0f} -> {b / 1024:.0f} MB ({growth[k]:+.1f}%)" for k, (a, b) in mem.items())
                + (" (a scheduler killed and another started between)" if "killed_t" in events else ""))
            print(f"  CPU seconds over {run_s:.0f} s: " + ", ".join(f"{k} {v:.0f} ({v / run_s:.2f} cores)" for k, v in sorted(cpu.items())))
            print("  the walls' client processes' own loop lag (p50/p95/max, s): " + "; ".join(
                "/".join(f"{x:.2f}" for x in r.get("client_lag_s", [])) for r in recorded))
            lag_rows = lags.report(t0)
            for name in LAGS:
                rows = [r for r in lag_rows if r["name"] == name]
                if rows:
                    print(f"  {name} (bucket bounds, per half minute, server: p50/p95/p99 in s): " + "; ".join(
                        f"{r['until_s']} s #{r['server']}: {r['p50_le']:g}/{r['p95_le']:g}/{r['p99_le']:g}" for r in rows))
            verdict = {
                "0 errors": errors == 0 and step_err == 0 and off_err == 0 and wall_failures == 0,
                "0 lost": not lost,
                "figures = SQL": figures_ok and counters_ok,
                "memory growth < 10%": growth["servers"] < 10,
                "p95 < 200 ms every minute": all(p[1] < 200 for p in per_min),
                "the same, but for the failover's gap": all(p[1] < 200 for p in per_min_out),
            }
            print("  targets: " + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in verdict.items()))
            print("SOAK " + json.dumps({"args": vars(args), "sent": len(status), "accepted": int(ok.sum()), "errors": errors,
                                        "lost": len(lost), "step_errors": step_err, "officer_errors": off_err,
                                        "wall_failures": wall_failures, "figures_ok": figures_ok, "counters_ok": counters_ok,
                                        "differences": done.differences[:20], "events": events, "per_minute": per_min, "per_minute_but_failover": per_min_out,
                                        "overall": overall, "missed": lat["missed"], "memory_kb": mem, "growth": growth,
                                        "cpu_s": cpu, "run_s": run_s, "lags": lag_rows, "loads": loads, "verdict": verdict}, default=str))
            stop_all(procs, servers)  # before Env stops Redis under them
    finally:
        stop_all(procs, servers)
        cluster.destroy()
        if args.keep:
            print(f"logs in {work}")


if __name__ == "__main__":
    main()
