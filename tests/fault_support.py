"""What the fault tests (tests/faults/) and benchmarks/faults.py share: a source that keeps posting
while a part fails and remembers every answer, a watcher that keeps asking for the wall and the
figures, and the check that the live figures equal SQL."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import event, select
from tests_support import LiveServer, free_port

from bigscreen.db.models import Area, Event
from bigscreen.domain.lifecycle import CLOSED_STATUSES
from bigscreen.live.kpi import ints, read_kpi
from bigscreen.process.runtime import Runtime
from bigscreen.process.settings import Settings
from bigscreen.reports.figures import area_kpi

SOURCE = "fault-source"  # the API key's source in the fault tests
ROUTINE_STEPS = [("accept", "department"), ("start", "department")]


@dataclass
class Answer:
    at: float  # time.monotonic()
    what: str  # "batch", "single", "step"
    status: int  # 0: no answer (connection refused, timeout)
    ids: tuple[str, ...] = ()
    retry_after: str | None = None
    took_s: float = 0.0  # how long the answer took


@dataclass
class Load:
    """A source posting events (batches and single posts) and moving cases on, from threads, until
    stopped; every answer is kept. Source ids are unique per Load (`prefix`)."""

    base_url: str
    api_key: str
    grids: list[str]
    items: list[str]
    prefix: str = "f"
    description: str = "楼道堆放杂物 fault test"
    batch: int = 10
    pause_s: float = 0.02
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _created: list[int] = field(default_factory=list)
    _seq: itertools.count = field(default_factory=itertools.count)

    @classmethod
    def for_city(cls, rt: Runtime, base_url: str, api_key: str, **kw) -> Load:
        grids = [g.code for g in rt.areas.at_level(rt.areas.grid_level)]
        items = [i.code for c in rt.config.categories for i in c.items if c.code != "emergency"][:40]
        return cls(base_url, api_key, grids, items, **kw)

    def start(self, posters: int = 2) -> Load:
        for k in range(posters):
            self._threads.append(threading.Thread(target=self._post, args=(k,), daemon=True))
        self._threads.append(threading.Thread(target=self._move, daemon=True))
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> Load:
        self._stop.set()
        for t in self._threads:
            t.join(60)
        return self

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"X-API-Key": self.api_key}, timeout=httpx.Timeout(60, connect=5))

    def _body(self, rng: random.Random) -> dict:
        return {"source_id": f"{self.prefix}-{next(self._seq)}", "channel": "grid_app", "item": rng.choice(self.items),
                "urgency": "normal", "description": self.description, "grid": rng.choice(self.grids)}

    def _post(self, k: int) -> None:
        rng = random.Random(k)
        with self._client() as client:
            while not self._stop.is_set():
                single = k % 2 == 1
                bodies = [self._body(rng)] if single else [self._body(rng) for _ in range(self.batch)]
                self._send(client, "single" if single else "batch", bodies[0] if single else bodies,
                           tuple(b["source_id"] for b in bodies))
                self._stop.wait(self.pause_s)

    def _send(self, client: httpx.Client, what: str, payload, ids: tuple[str, ...]) -> None:
        sent = time.monotonic()
        try:
            r = client.post("/api/v1/events", json=payload)
        except httpx.HTTPError:
            self.answers.append(Answer(time.monotonic(), what, 0, ids, None, time.monotonic() - sent))
            return
        self.answers.append(Answer(time.monotonic(), what, r.status_code, ids, r.headers.get("retry-after"),
                                   time.monotonic() - sent))
        if r.status_code in (200, 201):
            body = r.json()
            events = body.get("events", [body])
            self._created.extend(e["id"] for e in events if e.get("created", True))

    def _move(self) -> None:
        """Accepts and starts cases that were created (transitions: SQL, then a Redis delta)."""
        with self._client() as client:
            done = 0
            while not self._stop.is_set():
                if done >= len(self._created):
                    self._stop.wait(0.05)
                    continue
                event_id = self._created[done]
                done += 1
                for action, role in ROUTINE_STEPS[: 1 + event_id % 2]:
                    try:
                        r = client.post(f"/api/v1/events/{event_id}/transitions", json={"action": action, "role": role})
                        status, retry_after = r.status_code, r.headers.get("retry-after")
                    except httpx.HTTPError:
                        status, retry_after = 0, None
                    self.answers.append(Answer(time.monotonic(), "step", status, (str(event_id),), retry_after))
                    if status != 200:
                        break

    # -- what the answers say ------------------------------------------------------------------------
    def accepted(self) -> set[str]:
        """Source ids of every event the API answered 2xx for."""
        return {i for a in self.answers if a.what != "step" and a.status in (200, 201) for i in a.ids}

    def refused(self) -> list[Answer]:
        return [a for a in self.answers if a.what != "step" and a.status not in (200, 201)]

    def statuses(self) -> Counter:
        return Counter((a.what, a.status) for a in self.answers)


@dataclass
class Looker:
    """Keeps asking, as a wall and a dashboard would: GET the wall (with its kiosk token) and GET
    /api/v1/kpi, every `every_s`; keeps (time, path, status, Retry-After)."""

    base_url: str
    api_key: str
    wall_token: str
    every_s: float = 0.2
    seen: list[tuple[float, str, int, str | None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Looker:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Looker:
        self._stop.set()
        self._thread.join(30)
        return self

    def _run(self) -> None:
        # a new browser each time: a wall load starts a session from its token, as after a reload
        while not self._stop.is_set():
            for path, headers in ((f"/wall?token={self.wall_token}", {}), ("/api/v1/kpi", {"X-API-Key": self.api_key})):
                try:
                    r = httpx.get(self.base_url + path, headers=headers, timeout=30)
                    self.seen.append((time.monotonic(), path.split("?")[0], r.status_code, r.headers.get("retry-after")))
                except httpx.HTTPError:
                    self.seen.append((time.monotonic(), path.split("?")[0], 0, None))
            self._stop.wait(self.every_s)

    def statuses(self) -> Counter:
        return Counter((path, status) for _, path, status, _ in self.seen)


def stored_ids(rt: Runtime, source: str, prefix: str) -> set[str]:
    with rt.sessions() as s:
        return set(s.scalars(select(Event.source_id).where(Event.source == source, Event.source_id.like(f"{prefix}-%"))))


def figures_differ(rt: Runtime, levels: tuple[int, ...] = (1, 2)) -> list[str]:
    """Where the live figures in Redis differ from SQL (empty: they agree): the headline figures of
    the city and every area of `levels` (districts, streets: as GET /api/v1/kpi and the wall show
    them), and the map's open cases per community."""
    now = datetime.now(UTC)
    day_start = now.astimezone(rt.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    areas = rt.areas
    codes = [areas.city.code, *(a.code for level in levels for a in areas.at_level(level))]
    out = []
    with rt.engine.connect() as conn:
        for code in codes:
            live = read_kpi(rt.redis, rt.keys, rt.contributions, code, now)
            sql = area_kpi(conn, areas, code, now, day_start)
            live.pop("as_of"), sql.pop("as_of")
            if live != sql:
                out.append(f"{code}: live {_brief(live)} vs SQL {_brief(sql)}")
        open_by_grid = Counter(conn.scalars(select(Area.code).join(Event, Event.grid_id == Area.id)
                                            .where(Event.status.not_in([s.value for s in CLOSED_STATUSES]))))
    community_of = {g.code: g.chain[3] for g in areas.at_level(areas.grid_level)}
    want: Counter = Counter()
    for grid, n in open_by_grid.items():
        want[community_of[grid]] += n
    have = ints(rt.redis.hgetall(rt.keys.map_open))
    if {k: v for k, v in have.items() if v} != dict(want):
        out.append(f"map: {sum(have.values())} open cases on the map vs {sum(want.values())} in SQL")
    return out


def _brief(k: dict) -> str:
    return f"reported {k['total']['reported']}, open {k['open']}, closed {k['total']['closed']}, today {k['reported_today']}"


def wait_until_equal(rt: Runtime, since: float, limit_s: float, levels: tuple[int, ...] = (1, 2)) -> float:
    """Seconds from `since` (monotonic) until the live figures equal SQL; AssertionError after `limit_s`."""
    while True:
        try:
            last = figures_differ(rt, levels)
        except Exception as exc:  # noqa: BLE001 - Redis still away
            last = [f"{type(exc).__name__}: {exc}"]
        if not last:
            return time.monotonic() - since
        if time.monotonic() - since > limit_s:
            break
        time.sleep(0.2)
    raise AssertionError(f"live figures still differ from SQL {limit_s:.0f} s on: {last[:5]}")


def redis_server_pid(socket: Path) -> int | None:
    """The pid of the redis-server listening on `socket` (found by its command line)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()  # redis-server rewrites it: "redis-server unixsocket:PATH"
            if b"redis-server" in cmdline and str(socket).encode() in cmdline and (entry / "stat").read_text().split()[2] != "Z":
                return int(entry.name)
        except OSError:
            continue
    return None


@dataclass
class ServedApp:
    url: str
    api_key: str
    wall_tokens: list[str]
    app_rt: Runtime  # the server's own runtime
    reader: Runtime  # another one, for the test to read what was stored


@contextmanager
def served_app(tmp_path: Path, database_url: str, redis_url: str, config, city_plan, **settings) -> Iterator[ServedApp]:
    """The app on `database_url` (given the small test city) in a real uvicorn server in this
    process, with a source's API key and two kiosk tokens."""
    from bigscreen.api.auth import create_api_key
    from bigscreen.app import create_app
    from bigscreen.auth.kiosk import create_kiosk_token
    from bigscreen.geo.citybuild import store_city
    from bigscreen.jobs.watch import sync_live
    from bigscreen.process.datadir import prepare_database

    s = Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=redis_url, **settings)
    rt = Runtime(s, config)
    prepare_database(rt)
    with rt.sessions() as session, session.begin():
        store_city(session, city_plan)
    sync_live(rt)
    key, tokens = create_api_key(rt, SOURCE), [create_kiosk_token(rt, f"故障测试大屏 {n}") for n in (1, 2)]
    server = LiveServer(create_app(rt).server, free_port()).start()
    reader = Runtime(s, config)
    try:
        yield ServedApp(server.url, key, tokens, rt, reader)
    finally:
        server.stop()
        reader.close()
        rt.close()


# -- making parts unavailable ------------------------------------------------------------------------

@contextmanager
def postgres_outage(cluster):
    """PostgreSQL down for as long as the block runs: stopped as by a crash (connections cut,
    transactions in flight aborted), started again after."""
    cluster.stop("immediate")
    try:
        yield
    finally:
        cluster.start()


@contextmanager
def sqlite_locked(path: Path):
    """Another process holds the SQLite database's write lock for as long as the block runs (as a
    maintenance session or a backup tool would)."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys; db = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); sys.stdin.readline()"), str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.stdin.close()  # the holder ends, and its lock with it
        holder.wait(10)


DISK_MB = 48
ROOM_LEFT_BYTES = 256 * 1024  # what a full disk leaves free: a few hundred events' worth


@contextmanager
def small_disk(where: Path, size_mb: int = DISK_MB):
    """A tmpfs of `size_mb` mounted at `where` (as root), or None where mounting is not allowed."""
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)],
                             capture_output=True, check=False).returncode == 0
    try:
        yield where if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


class Filler:
    """Takes a disk's free space but ROOM_LEFT_BYTES (`fill`), and gives it back (`free`)."""

    def __init__(self, disk: Path) -> None:
        self.path = disk / "filler"

    def fill(self) -> None:
        st = os.statvfs(self.path.parent)
        with self.path.open("wb") as f:
            f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - ROOM_LEFT_BYTES))

    def free(self) -> None:
        self.path.unlink()


class PageLimit:
    """Where no small disk can be mounted: the app's SQLite file may not grow beyond its size now
    plus ROOM_LEFT_BYTES (`max_page_count` on every new connection of the app's engine)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.pages: int | None = None

        @event.listens_for(rt.engine, "connect")
        def _limit(dbapi_conn, _record) -> None:
            if self.pages is not None:
                dbapi_conn.execute(f"PRAGMA max_page_count = {self.pages}")

    def fill(self) -> None:
        with self.rt.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            count, size = conn.exec_driver_sql("PRAGMA page_count").scalar(), conn.exec_driver_sql("PRAGMA page_size").scalar()
        self.pages = count + ROOM_LEFT_BYTES // size
        self.rt.engine.dispose()  # every new connection takes the limit

    def free(self) -> None:
        self.pages = None
        self.rt.engine.dispose()


# -- `bigscreen serve` in processes of its own -------------------------------------------------------

@dataclass
class CityDir:
    data_dir: Path
    database_url: str
    api_key: str
    wall_token: str


class Served:
    """`bigscreen serve` in a process of its own, its output in a log file."""

    def __init__(self, city: CityDir, log: Path, *, workers: int = 2, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        clean = {k: v for k, v in os.environ.items() if not k.startswith("BIGSCREEN_")}
        self._out = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bigscreen.cli", "serve", "--data-dir", str(city.data_dir), "--port", str(self.port),
             "--workers", str(workers)],
            env={**clean, **(env or {})}, stdout=self._out, stderr=subprocess.STDOUT)
        self.key = city.api_key

    def wait_ready(self, timeout: float = 90, path: str = "/api/v1/kpi") -> Served:
        """Until `path` answers 200 (the live figures by default; "/healthz": the process answers)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                if httpx.get(self.url + path, headers={"X-API-Key": self.key}, timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"serve did not answer within {timeout} s:\n{self.output()}")

    def output(self) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._out.close()
        return self.proc.returncode


