"""The world the wall benchmark runs in: a temporary data dir, an embedded redis-server, a city,
a history of events written straight into SQL, the server as uvicorn workers, and a frame
publisher in this process. Used by benchmarks/wall.py."""

from __future__ import annotations

import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bigscreen.api.auth import create_api_key  # noqa: E402
from bigscreen.live.server import EmbeddedRedis  # noqa: E402
from bigscreen.process.datadir import build_city, prepare_database  # noqa: E402
from bigscreen.process.runtime import Runtime  # noqa: E402
from bigscreen.process.settings import Settings  # noqa: E402
from bigscreen.wall.publisher import FramePublisher  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
DESCRIPTIONS = (
    "解放中路社区3号楼楼道堆放杂物,已派网格员清理", "西城南一路路灯不亮,夜间通行存在安全隐患", "小区东门窨井盖破损,已有行人险些摔倒",
    "幸福路与黄河路交叉口积水严重,影响车辆行人通行", "12号楼电梯停运两天,老人小孩出行不便", "沿街商户占道经营,影响市容环境",
    "楼上住户夜间噪声扰民,多次协商未果", "河道漂浮垃圾较多,群众反映强烈", "建筑工地扬尘较大,周边居民意见较大",
    "供暖不热,室温不足16度,涉及约30户居民", "共享单车乱停乱放堵塞盲道", "餐饮店油烟直排,影响楼上住户正常生活",
)
CHANNELS = {"grid_app": 54, "hotline_12345": 20, "citizen_snap": 15, "sensor": 3.5, "video": 3.5, "wechat_group": 3, "city_platform": 1}
URGENCIES = {"normal": 0.85, "urgent": 0.13, "critical": 0.02}
HOURLY = (0.22, 0.15, 0.12, 0.10, 0.11, 0.18, 0.38, 0.75, 1.25, 1.55, 1.60, 1.45, 1.15, 1.10, 1.40, 1.55, 1.55,
          1.45, 1.30, 1.15, 0.95, 0.72, 0.48, 0.32)  # as bigscreen.simulation.events.HOURLY
OPEN_STEPS = ("dispatched", "accepted", "in_progress", "handled", "verified")
RESOLVED = {"grid": 0.68, "community": 0.27, "street": 0.035, "district": 0.012, "city": 0.003}
RATINGS = {3: 0.895, 2: 0.09, 1: 0.015}


def event_body(rng: random.Random, source_id: str, items: list[str], weights: list[float], grids: list[str]) -> dict:
    """One report as a grid worker's app sends it: an item by the catalogue's weights, a random grid."""
    return {"source_id": source_id, "channel": "grid_app", "item": rng.choices(items, weights=weights)[0], "urgency": "normal",
            "description": rng.choice(DESCRIPTIONS), "grid": rng.choice(grids)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def median(xs) -> float:
    return statistics.median(xs) if xs else float("nan")


def pct(xs, p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def proc_cpu_s(pid: int) -> float:
    """utime + stime of one process, in seconds (from /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


class CpuWindow:
    """CPU seconds used by some processes between start() and stop()."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.t0 = self.c0 = None

    def start(self) -> CpuWindow:
        self.c0 = {k: proc_cpu_s(p) for k, p in self.pids.items()}
        self.t0 = time.monotonic()
        return self

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self.t0
        used = {k: proc_cpu_s(p) - self.c0[k] for k, p in self.pids.items()}
        return {"wall_s": wall, **used}


class CpuSampler:
    """Samples the CPU seconds of some processes twice a second, so the CPU of a window known only
    afterwards (e.g. by a client process) can be read off."""

    def __init__(self, pids: dict[str, int], every: float = 0.5) -> None:
        self.pids, self.every = pids, every
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            row = {}
            for k, p in self.pids.items():
                try:
                    row[k] = proc_cpu_s(p)
                except OSError:
                    pass
            self.samples.append((time.time(), row))
            self._stop.wait(self.every)

    def usage(self, t0: float, t1: float) -> dict[str, float]:
        """CPU seconds per process between the samples closest inside [t0, t1]; plus wall_s."""
        inside = [s for s in self.samples if t0 <= s[0] <= t1]
        if len(inside) < 2:
            return {"wall_s": float("nan")}
        (a_t, a), (b_t, b) = inside[0], inside[-1]
        return {"wall_s": b_t - a_t, **{k: b[k] - a[k] for k in a if k in b}}


class TimedPublisher(FramePublisher):
    """The product's publisher, also noting when each frame (by built_ms) was stored and announced.
    With `deltas` false it forgets each frame once stored, so it stores no delta and every viewer
    gets whole frames, as before issue 14 (the viewers part measures both in one run)."""

    deltas = True

    def __init__(self, rt: Runtime) -> None:
        super().__init__(rt)
        self.published: dict[int, float] = {}
        self.builds: list[float] = []
        self._lock = threading.Lock()

    def publish(self, only: set[str] | None = None, besides: set[str] = frozenset()) -> dict[str, bytes]:
        t0 = time.perf_counter()
        frames = super().publish(only, besides)
        if not self.deltas and hasattr(self, "_last"):
            self._last = {}
        if not frames:  # a change, and no scope shown
            return frames
        done = time.time()
        self.builds.append(time.perf_counter() - t0)
        built_ms = orjson.loads(next(iter(frames.values())))["built_ms"]
        with self._lock:
            self.published[built_ms] = done
            if len(self.published) > 20000:
                for k in sorted(self.published)[:10000]:
                    del self.published[k]
        return frames


class Env:
    """Everything the parts share. Use as a context manager."""

    uvicorn_args: tuple[str, ...] = ()  # e.g. ("--ws-per-message-deflate", "false")

    def __init__(self, grids: int, workers: int, keep: bool = False, database_url: str | None = None) -> None:
        """`database_url`: a database of its own (default: SQLite in the temporary data dir)."""
        self.grids, self.workers, self.keep, self.database_url = grids, workers, keep, database_url
        self.tmp = Path(tempfile.mkdtemp(prefix="bs-wall-"))
        self.redis_server = EmbeddedRedis(self.tmp / "redis", persist=False)
        self.server: subprocess.Popen | None = None
        self.history = 0
        self.history_counts: dict[str, int] = {}
        self._serial = 0
        self._pub_thread: threading.Thread | None = None
        self._pub_stop: threading.Event | None = None
        self.publisher: TimedPublisher | None = None
        self.notes: list[str] = []

    # -- life ---------------------------------------------------------------------------------
    def __enter__(self) -> Env:
        self.redis_server.start()
        settings = Settings(data_dir=self.tmp, redis_url=self.redis_server.url, database_url=self.database_url)
        rt = self.rt = Runtime.open(settings)
        rt.config.city = rt.config.city.model_copy(update={"demo": rt.config.city.demo.model_copy(update={"grids": self.grids})})
        prepare_database(rt)
        t = time.perf_counter()
        build_city(rt, progress=False)
        self.grid_areas = rt.areas.at_level(rt.areas.grid_level)
        self.grid_codes = [g.code for g in self.grid_areas]
        print(f"city: {len(self.grid_areas)} grids built in {time.perf_counter() - t:.1f} s  (data dir {self.tmp})", flush=True)
        self.api_key = create_api_key(rt, "bench")
        self.city = rt.areas.city.code
        self.items = [(i.code, c.code) for c in rt.config.categories for i in c.items]
        self.item_codes = [i for i, _ in self.items]
        self.item_weights = [c.weight / len(c.items) for c in rt.config.categories for _ in c.items]
        loud = set(rt.config.city.alerts.emergency_colours)  # such items raise an alert when reported live
        self.quiet = [(i.alert or c.alert) not in loud
                      for c in rt.config.categories for i in c.items]
        return self

    def __exit__(self, *exc) -> None:
        self.stop_publisher()
        self.stop_server()
        self.rt.close()
        self.redis_server.stop()
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def start_server(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "BIGSCREEN_DATA_DIR": str(self.tmp), "BIGSCREEN_REDIS_URL": self.redis_server.url,
               "BIGSCREEN_RUN_JOBS": "false"}  # the benchmark runs its own frame publisher
        self.server = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "bigscreen.asgi:app", "--port", str(self.port),
                                        "--workers", str(self.workers), "--log-level", "warning", "--no-access-log",
                                        *self.uvicorn_args], env=env,
                                       cwd=Path(__file__).resolve().parent.parent)  # this checkout's code (`-m` imports from the cwd first)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/api/v1/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        deadline = time.monotonic() + 30  # every worker up
        while len(children(self.server.pid)) < self.workers and time.monotonic() < deadline:
            time.sleep(0.1)
        self.worker_pids = children(self.server.pid)
        self.sign_in_wall()
        for _ in range(2 * self.workers):  # each worker serves /wall once: first-request costs out of the figures
            httpx.get(self.url + self.wall_path, timeout=30)

    def sign_in_wall(self, url: str | None = None) -> None:
        """A kiosk token for the wall pages, and its session for the HTTP clients (cookie and
        CSRF token in the environment: see wall_viewers.auth_headers), begun at `url` (default:
        the server start_server started; sessions live in Redis, so every server shares them)."""
        from bigscreen.auth.kiosk import create_kiosk_token

        self.wall_path = f"/wall?token={create_kiosk_token(self.rt, 'benchmark wall')}"
        r = httpx.get((url or self.url) + self.wall_path, timeout=30)
        os.environ["BENCH_COOKIE"] = "; ".join(f"{k}={v}" for k, v in r.cookies.items())
        os.environ["BENCH_CSRF"] = r.cookies["_csrf_token"]

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.terminate()
            try:
                self.server.wait(20)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
            self.server = None

    def server_pids(self) -> dict[str, int]:
        pids = {f"worker{i}": p for i, p in enumerate(self.worker_pids)}
        pids["redis"] = self.redis_server.process.pid
        return pids

    # -- publisher ----------------------------------------------------------------------------
    def start_publisher(self) -> TimedPublisher:
        """The product's FramePublisher.run loop (≤ 4 builds/s on change, ≥ 1/s), in a thread."""
        if self._pub_thread is None:
            self.publisher = TimedPublisher(self.rt)
            self._pub_stop = threading.Event()
            self._pub_thread = threading.Thread(target=self.publisher.run, args=(self._pub_stop,), daemon=True, name="publisher")
            self._pub_thread.start()
        return self.publisher

    def stop_publisher(self) -> None:
        if self._pub_thread is not None:
            self._pub_stop.set()
            self._pub_thread.join(10)
            self._pub_thread = None

    # -- events -------------------------------------------------------------------------------
    def body(self, rng: random.Random, prefix: str, quiet: bool = False) -> dict:
        """`quiet`: no item that raises an alert (the picture's content stays the same size)."""
        self._serial += 1
        weights = [w if q or not quiet else 0 for w, q in zip(self.item_weights, self.quiet)]
        return event_body(rng, f"{prefix}-{self._serial}", self.item_codes, weights, self.grid_codes)

    def post_event(self, client: httpx.Client, rng: random.Random, prefix: str = "live", quiet: bool = False) -> float:
        """POST one event; returns time.time() when the API answered 201."""
        r = client.post(self.url + "/api/v1/events", json=self.body(rng, prefix, quiet), headers={"X-API-Key": self.api_key})
        done = time.time()
        if r.status_code != 201:
            raise RuntimeError(f"POST /api/v1/events: {r.status_code} {r.text[:300]}")
        return done

    def grow_history(self, total: int, seed: int = 7, chunk: int = 10_000) -> tuple[float, float]:
        """Inserts events straight into `events` (SQLAlchemy Core executemany, `chunk` rows per
        transaction) until the generated history holds `total` events, then rebuilds Redis from SQL
        with bigscreen.jobs.rebuild.rebuild. Returns (seconds inserting, seconds rebuilding)."""
        from sqlalchemy import insert

        from bigscreen.db.models import Event
        from bigscreen.jobs.rebuild import rebuild

        rng = random.Random(seed + self.history)
        cfg, tz = self.rt.config, self.rt.tz
        now = datetime.now(timezone.utc)
        start = now - timedelta(days=365)
        days = 365
        hour_w = list(HOURLY)
        depts = {}
        limits = {}
        t0 = time.perf_counter()
        n = self.history
        grids = self.grid_areas
        chan_k, chan_w = list(CHANNELS), list(CHANNELS.values())
        urg_k, urg_w = list(URGENCIES), list(URGENCIES.values())
        res_k, res_w = list(RESOLVED), list(RESOLVED.values())
        rat_k, rat_w = list(RATINGS), list(RATINGS.values())
        counts = self.history_counts
        while n < total:
            rows = []
            m = min(chunk, total - n)
            items = rng.choices(self.items, weights=self.item_weights, k=m)
            for k in range(m):
                item, cat = items[k]
                grid = grids[rng.randrange(len(grids))]
                urgency = rng.choices(urg_k, urg_w)[0]
                # a local day in the last year, an hour by the city's rhythm, a moment in it
                day = rng.randrange(days + 1)
                local = (start + timedelta(days=day)).astimezone(tz).replace(hour=rng.choices(range(24), hour_w)[0],
                                                                         minute=0, second=0, microsecond=0)
                reported = local.astimezone(timezone.utc) + timedelta(seconds=rng.uniform(0, 3600))
                if reported > now:  # later today: the same moment yesterday
                    reported -= timedelta(days=1)
                key = (item, grid.chain[1])
                if key not in depts:
                    depts[key] = cfg.dispatch(item, grid.chain[1])
                if (item, urgency) not in limits:
                    limits[(item, urgency)] = cfg.time_limit(item, urgency)
                limit = limits[(item, urgency)]
                deadline = reported + limit
                # report to close: lognormal around 2 h inside the limit; ~2% late by up to a day, ~2% stuck for days
                u = rng.random()
                if u < 0.02:
                    close_s = limit.total_seconds() + rng.uniform(600, 86400)
                elif u < 0.04:
                    close_s = limit.total_seconds() + rng.uniform(1, 8) * 86400
                else:
                    close_s = min(rng.lognormvariate(math.log(7200), 0.8), 0.95 * limit.total_seconds())
                closed_at = reported + timedelta(seconds=close_s)
                r = dict(source="history", source_id=f"h{n + k}", channel=rng.choices(chan_k, chan_w)[0], category_code=cat,
                         item_code=item, urgency=urgency, description=DESCRIPTIONS[rng.randrange(len(DESCRIPTIONS))],
                         photo_urls=[], lat=grid.lat, lon=grid.lon, grid_id=grid.id, department_code=depts[key],
                         deadline=deadline, reported_at=reported, dispatched_at=reported + timedelta(seconds=30),
                         accepted_at=None, started_at=None, handled_at=None, verified_at=None, closed_at=None,
                         rated_at=None, rating=None, resolved_level=None, version=1)
                if closed_at <= now:
                    d = closed_at - reported
                    r.update(accepted_at=reported + d * 0.1, started_at=reported + d * 0.2, handled_at=reported + d * 0.8,
                             verified_at=reported + d * 0.9, closed_at=closed_at, status="closed",
                             resolved_level=rng.choices(res_k, res_w)[0], version=7)
                    rated_at = closed_at + timedelta(seconds=rng.uniform(600, 86400))
                    if rng.random() < 0.9 and rated_at <= now:
                        r.update(status="rated", rated_at=rated_at, rating=rng.choices(rat_k, rat_w)[0], version=8)
                else:  # still open: as far along as its share of the way to closing
                    step = min(len(OPEN_STEPS) - 1, int(len(OPEN_STEPS) * (now - reported) / (closed_at - reported)))
                    r["status"] = OPEN_STEPS[step]
                    r["version"] = step + 2
                counts[r["status"]] = counts.get(r["status"], 0) + 1
                rows.append(r)
            with self.rt.engine.begin() as conn:
                conn.execute(insert(Event), rows)
            n += m
            if n % 100_000 < chunk:
                print(f"  history: {n:,} events inserted ({time.perf_counter() - t0:.0f} s)", flush=True)
        insert_s = time.perf_counter() - t0
        self.history = n
        t0 = time.perf_counter()
        counted = rebuild(self.rt)
        rebuild_s = time.perf_counter() - t0
        print(f"  history: {n:,} generated events (+ live ones) in SQL, rebuild counted {counted:,}: "
              f"insert {insert_s:.1f} s, rebuild {rebuild_s:.1f} s", flush=True)
        return insert_s, rebuild_s
