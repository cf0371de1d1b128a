"""Every process keeps Redis in view; the leader repairs the live figures after an outage.

A `LiveWatch` runs in every process that serves or runs jobs (web workers, with or without the
background scheduler; `bigscreen scheduler`; `bigscreen demo`). Once a second it probes Redis on a
connection of its own (with back-off from `BACKOFF_MIN_S` to `BACKOFF_MAX_S` while Redis does not
answer) and keeps `Runtime.health` up to date (bigscreen.live.health: requests that need Redis
fail at once while it is down). Under Sentinel it first asks the sentinels where the master is, so
that the process leaves a master demoted alive (bigscreen.process.redis_clients.follow_master).

Whether the figures in Redis can be trusted is kept in Redis itself (bigscreen.live.trust).

When the figures are not trusted, the leader (bigscreen.jobs.leader) rebuilds them from SQL through
`bigscreen.jobs.rebuild.rebuild` and writes the hash anew; the other processes only watch the
verdict change. The owner of an embedded Redis restarts it when it dies
(bigscreen.live.server.EmbeddedRedis.keep_alive); this module then repairs what it holds.

The same probe reads the map's version (`map:version`, set by `announce_map` after `city import` or `build`
stored a map, in whatever process): when it moved, the process rebuilds its map files if they are
older than the areas table, then reads its area tree again (`Runtime.reload_areas`); the frame
publisher re-plans on the new tree, pages ask for the current manifest, walls built on the old
map reload themselves (their frames' map key changes). No restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis
from sqlalchemy import func, select

from bigscreen.db import models
from bigscreen.jobs.rebuild import rebuild
from bigscreen.live.keys import SCHEMA_VERSION
from bigscreen.live.kpi import read_kpi
from bigscreen.live.trust import CLOCK_MARGIN_S, distrust, read_marker, report_loss, run_id
from bigscreen.process.redis_clients import follow_master, redis_client
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)
PROBE_EVERY_S = 1.0
BACKOFF_MIN_S = 0.25
BACKOFF_MAX_S = 1.0  # a probe is cheap; requests wait for it (bigscreen.live.health) once Redis is back
PROBE_TIMEOUT_S = 2.0
REPAIR_RETRY_S = 5.0
SETTLE_S = BACKOFF_MAX_S + PROBE_EVERY_S  # every watcher has probed (and reported its losses) by then


def marker_key(rt: Runtime) -> str:
    return rt.keys.live


def figures_distrusted(rt: Runtime, *, at_start: bool = False) -> str | None:
    """`distrust` for this runtime's Redis now."""
    return distrust(read_marker(rt.redis, marker_key(rt)), run_id(rt.redis, marker_key(rt)), at_start=at_start)


def mark_verified(rt: Runtime, *, built_at: float | None = None) -> None:
    """Records that the figures now in Redis agree with SQL (after a rebuild that began at
    `built_at`, or as they were)."""
    key, client = marker_key(rt), rt.redis
    pipe = client.pipeline(transaction=True)
    pipe.hset(key, "run_id", run_id(client, key))
    if built_at is not None:
        pipe.hset(key, "built_at", repr(built_at))
    pipe.hdel(key, "clean")
    pipe.execute()
    rt.health.saw_up(True)


def repair(rt: Runtime) -> int:
    """Rebuilds the live figures from SQL and marks them verified; returns the events counted.
    Begins no sooner than CLOCK_MARGIN_S after the last reported loss, so that one rebuild covers it."""
    lost_at = float(read_marker(rt.redis, marker_key(rt)).get("lost_at", 0))
    time.sleep(max(0.0, min(CLOCK_MARGIN_S, lost_at + CLOCK_MARGIN_S - time.time())) + 0.01)
    started = time.time()
    counted = rebuild(rt)
    mark_verified(rt, built_at=started)
    return counted


def announce_map(rt: Runtime) -> str:
    """Tells running processes a new map is stored: sets `map:version` to the areas' fingerprint."""
    from bigscreen.geo.assets import areas_fingerprint

    with rt.sessions() as session:
        version = areas_fingerprint(session, list(rt.config.city.levels))
    rt.redis.set(rt.keys.map_version, version)
    return version


def reload_map(rt: Runtime, version: str | None) -> None:
    """This process takes up the map stored now: map files first (pages built on the new tree find
    them), then the area tree."""
    from bigscreen.geo.assets import ensure_level_assets

    started = time.monotonic()
    try:
        ensure_level_assets(rt)
    except OSError as exc:  # the tree still changes; the files catch up at the next change or start
        log.warning("map files not rebuilt: %s", exc)
    index = rt.reload_areas(version)
    log.warning("new map taken up (version %s): %d areas in %.1f s", version, len(index.by_code), time.monotonic() - started)


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
        self._probe_client: redis.Redis | None = None
        self._reported = time.time()  # failures before the watch began were seen by the start-up check
        rt.health.watched = True
        self._down_since: float | None = None
        self._distrusted_since: float | None = None
        self._repair_after = 0.0
        self._map_after = 0.0
        self.repairs = 0
        self.map_reloads = 0

    def run(self, stop: threading.Event) -> None:
        backoff = 0.0
        while not stop.is_set():
            try:
                healthy = self.check()
            except Exception:  # the watch must outlive anything
                log.exception("live watch: check failed")
                healthy = False
            if healthy:
                self.follow_map()  # after the verdict: a reload never holds up what requests are told
            backoff = 0.0 if healthy else min(BACKOFF_MAX_S, max(BACKOFF_MIN_S, backoff * 2))
            wake = self.rt.health.wake
            wake.clear()
            if wake.wait(backoff or PROBE_EVERY_S):
                wake.clear()  # a connection failed somewhere in this process: look now
        if self._probe_client is not None:
            self._probe_client.close()

    @property
    def _probe(self) -> redis.Redis:
        """The watch's own client, made at its first use (a cluster client asks the nodes for the slots when
        it is made, and raises ConnectionError while none answers: the probe then counts as failed)."""
        if self._probe_client is None:
            self._probe_client = redis_client(self.rt.settings, timeout_s=PROBE_TIMEOUT_S)
        return self._probe_client

    def check(self) -> bool:
        """One probe; returns whether Redis answered."""
        health = self.rt.health
        try:
            for client in (self._probe, self.rt.redis):
                follow_master(client)
            current = run_id(self._probe, self.key)
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

    def follow_map(self) -> None:
        """Reloads the map when `map:version` moved since this process read its areas."""
        if time.monotonic() < self._map_after:
            return
        try:
            value = self._probe.get(self.rt.keys.map_version)
            areas = self.rt.areas
        except Exception:  # Redis or the database away: the next probe sees to it
            log.debug("map version not checked", exc_info=True)
            return
        version = value.decode() if value else ""
        if areas.version is None:  # Redis could not be asked when they were read: take this as theirs
            areas.version = version
            return
        if version == areas.version:
            return
        try:
            reload_map(self.rt, version)
            self.map_reloads += 1
        except Exception:  # the database away: try again shortly, the old map serves meanwhile
            log.exception("taking up the new map failed; retrying in %.0f s", REPAIR_RETRY_S)
            self._map_after = time.monotonic() + REPAIR_RETRY_S

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


def sync_live(rt: Runtime) -> bool:
    """Rebuilds the live counters unless Redis holds figures verified against SQL since it last
    started (or stopped cleanly since; see bigscreen.live.trust), counts the events SQL holds and
    was built with this key schema. Returns whether it rebuilt."""
    if not rt.areas.by_code:
        return False
    with rt.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(models.Event))
    counted = read_kpi(rt.redis, rt.keys, rt.contributions, rt.areas.city.code, rt.clock())["total"]["reported"]
    schema = rt.redis.get(rt.keys.schema)
    if stored == counted == 0:
        rt.redis.set(rt.keys.schema, SCHEMA_VERSION)  # an empty start: the live path builds this schema
        mark_verified(rt, built_at=time.time())
        return False
    if (stored == counted and schema is not None and schema.decode() == SCHEMA_VERSION
            and figures_distrusted(rt, at_start=True) is None):
        mark_verified(rt)
        return False
    repair(rt)
    return True
