"""Every process keeps Redis in view; the leader repairs the live figures after an outage.

A `LiveWatch` runs in every process that serves or runs jobs (web workers, with or without the
background scheduler; `bigscreen scheduler`; `bigscreen demo`). Once a second it probes Redis on a
connection of its own (with back-off from `BACKOFF_MIN_S` to `BACKOFF_MAX_S` while Redis does not
answer) and keeps `Runtime.health` up to date (bigscreen.live.health: requests that need Redis
fail at once while it is down).

Whether the figures in Redis can be trusted is kept in Redis itself, in the hash `{p}live`:

- `run_id`: the Redis server's run id (`INFO server`) the figures were last verified or rebuilt
  against. A restarted Redis has a new run id, whether it came back empty, replayed its AOF
  (which may lack its last second of writes and every write made while it was away) or was
  restored from an old snapshot: all of them fail this check. An empty Redis has no hash at all.
- `built_at`: when (epoch s) the last rebuild began reading SQL.
- `lost_at`: the latest time a process failed to reach Redis (reported once it answers again).
  Writes it failed to make were committed to SQL before that moment, so a rebuild that began
  later covers them; until one has, the figures are not trusted.
- `clean`: set by the owner of an embedded Redis just before stopping it while the figures were
  trusted, so the next start may trust the AOF as it is (see `bigscreen.setup.sync_live`).

When the figures are not trusted, the leader (bigscreen.leader) rebuilds them from SQL through
`bigscreen.live.rebuild.rebuild` and writes the hash anew; the other processes only watch the
verdict change. The owner of an embedded Redis restarts it when it dies
(bigscreen.live.server.EmbeddedRedis.keep_alive); this module then repairs what it holds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from bigscreen.live.keys import Keys
from bigscreen.runtime import Runtime

log = logging.getLogger(__name__)
PROBE_EVERY_S = 1.0
BACKOFF_MIN_S = 0.25
BACKOFF_MAX_S = 1.0  # a probe is cheap; requests wait for it (bigscreen.live.health) once Redis is back
PROBE_TIMEOUT_S = 2.0
CLOCK_MARGIN_S = 1.0  # processes on other hosts compare their clocks: a loss this close to a rebuild is not covered
REPAIR_RETRY_S = 5.0
SETTLE_S = BACKOFF_MAX_S + PROBE_EVERY_S  # every watcher has probed (and reported its losses) by then

_LOST = """
local old = tonumber(redis.call('hget', KEYS[1], 'lost_at') or '0')
if tonumber(ARGV[1]) > old then redis.call('hset', KEYS[1], 'lost_at', ARGV[1]) end
return 0
"""


def marker_key(rt: Runtime) -> str:
    return rt.keys.live


def run_id(client: redis.Redis) -> str:
    return str(client.info("server")["run_id"])


def read_marker(client: redis.Redis, key: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in client.hgetall(key).items()}


def distrust(marker: dict[str, str], current_run_id: str, *, at_start: bool = False) -> str | None:
    """Why the figures of the Redis with `current_run_id` cannot be trusted, or None if they can.
    `at_start`: a clean stop of the embedded Redis also counts (its AOF holds every write)."""
    if not marker.get("run_id"):
        return "Redis holds no verified figures (it came back empty, or was wiped)"
    if marker["run_id"] != current_run_id and not (at_start and marker.get("clean") == marker["run_id"]):
        return "Redis restarted since its figures were last verified (its data may be old)"
    if float(marker.get("lost_at", 0)) + CLOCK_MARGIN_S >= float(marker.get("built_at", 0)):
        return "live writes were lost while Redis was away"
    return None


def figures_distrusted(rt: Runtime, *, at_start: bool = False) -> str | None:
    """`distrust` for this runtime's Redis now."""
    return distrust(read_marker(rt.redis, marker_key(rt)), run_id(rt.redis), at_start=at_start)


def mark_verified(rt: Runtime, *, built_at: float | None = None) -> None:
    """Records that the figures now in Redis agree with SQL (after a rebuild that began at
    `built_at`, or as they were)."""
    key, client = marker_key(rt), rt.redis
    pipe = client.pipeline(transaction=True)
    pipe.hset(key, "run_id", run_id(client))
    if built_at is not None:
        pipe.hset(key, "built_at", repr(built_at))
    pipe.hdel(key, "clean")
    pipe.execute()
    rt.health.saw_up(True)


def mark_clean_stop(client: redis.Redis, keys: Keys) -> None:
    """Before a clean stop of the embedded Redis: its AOF will hold every write, so the next start
    may trust it as it is, if the figures are trusted now."""
    try:
        current = run_id(client)
        if distrust(read_marker(client, keys.live), current) is None:
            client.hset(keys.live, "clean", current)
    except redis.RedisError as exc:
        log.warning("could not mark the live figures as cleanly stopped (%s); the next start rebuilds them", exc)


def report_loss(client: redis.Redis, key: str, at: float) -> None:
    """Writes made by this process before `at` may be missing from Redis."""
    client.eval(_LOST, 1, key, repr(at))


def repair(rt: Runtime) -> int:
    """Rebuilds the live figures from SQL and marks them verified; returns the events counted.
    Begins no sooner than CLOCK_MARGIN_S after the last reported loss, so that one rebuild covers it."""
    from bigscreen.live.rebuild import rebuild

    lost_at = float(read_marker(rt.redis, marker_key(rt)).get("lost_at", 0))
    time.sleep(max(0.0, min(CLOCK_MARGIN_S, lost_at + CLOCK_MARGIN_S - time.time())) + 0.01)
    started = time.time()
    counted = rebuild(rt)
    mark_verified(rt, built_at=started)
    return counted


def start_watch(rt: Runtime, stop: threading.Event, lead: Callable[[], bool] = lambda: False) -> threading.Thread:
    """Runs a LiveWatch of this process in a thread until `stop`."""
    thread = threading.Thread(target=LiveWatch(rt, lead).run, args=(stop,), name="live-watch", daemon=True)
    thread.start()
    return thread


class LiveWatch:
    """Probes Redis, keeps `rt.health` current, reports this process's lost writes, and (while
    `lead()` says this process leads) rebuilds figures that cannot be trusted."""

    def __init__(self, rt: Runtime, lead: Callable[[], bool] = lambda: False) -> None:
        self.rt = rt
        self.lead = lead
        self.key = marker_key(rt)
        self._probe = redis.Redis.from_url(rt.settings.redis_url, socket_timeout=PROBE_TIMEOUT_S,
                                           socket_connect_timeout=PROBE_TIMEOUT_S)
        self._reported = time.time()  # failures before the watch began were seen by the start-up check
        rt.health.watched = True
        self._down_since: float | None = None
        self._distrusted_since: float | None = None
        self._repair_after = 0.0
        self.repairs = 0

    def run(self, stop: threading.Event) -> None:
        backoff = 0.0
        while not stop.is_set():
            try:
                healthy = self.check()
            except Exception:  # the watch must outlive anything
                log.exception("live watch: check failed")
                healthy = False
            backoff = 0.0 if healthy else min(BACKOFF_MAX_S, max(BACKOFF_MIN_S, backoff * 2))
            wake = self.rt.health.wake
            wake.clear()
            if wake.wait(backoff or PROBE_EVERY_S):
                wake.clear()  # a connection failed somewhere in this process: look now
        self._probe.close()

    def check(self) -> bool:
        """One probe; returns whether Redis answered."""
        health = self.rt.health
        try:
            current = run_id(self._probe)
            failed_at = health.failed_at
            if failed_at > self._reported:  # something here failed to reach Redis since the last report
                report_loss(self._probe, self.key, failed_at)
                self._reported = failed_at
            why = distrust(read_marker(self._probe, self.key), current)
        except (redis.RedisError, OSError) as exc:
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("Redis unavailable: %s; retrying with back-off", exc)
            health.saw_down(f"Redis unavailable: {exc}")
            return False
        if self._down_since is not None:
            log.warning("Redis answers again after %.1f s", time.monotonic() - self._down_since)
            self._down_since = None
        if why is None:
            self._distrusted_since = None
            health.saw_up(True)
            return True
        health.saw_up(False, f"live figures are being rebuilt: {why}")
        now = time.monotonic()
        if self._distrusted_since is None:
            self._distrusted_since = now
        # the other processes' watchers see Redis answer within a probe or two and report their losses
        # first, so that one rebuild covers them all
        if now - self._distrusted_since >= SETTLE_S and now >= self._repair_after and self.lead():
            self._repair(why)
        return True

    def _repair(self, why: str) -> None:
        started = time.monotonic()
        log.warning("live figures not trusted: %s; rebuilding them from SQL", why)
        try:
            counted = repair(self.rt)
        except Exception:  # Redis or SQL went away again: the next probe retries
            log.exception("rebuilding the live figures failed; retrying in %.0f s", REPAIR_RETRY_S)
            self._repair_after = time.monotonic() + REPAIR_RETRY_S
            return
        self.repairs += 1
        log.warning("live figures rebuilt from SQL (%d events) in %.1f s", counted, time.monotonic() - started)
        self.rt.health.saw_up(True)
