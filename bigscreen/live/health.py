"""This process's view of Redis: reachable or not, and whether the live figures in it can be trusted.

`LiveWatch` (bigscreen.jobs.watch) probes Redis with its own connection and keeps a `RedisHealth`
up to date; everything else only reads it:

- While Redis is down, `GuardedPool` (the pool behind `Runtime.redis`) fails at once instead of
  trying to connect: a request that needs Redis answers 503 in microseconds rather than waiting
  out a connect timeout on the event loop, and threads that retry do not hammer a dead server.
  The watcher alone reconnects, with back-off.
- After Redis comes back, its figures are not trusted until the watcher has seen them verified
  or rebuilt from SQL (a restarted Redis may be empty, or replay an old AOF or snapshot): the
  wall's frames are not built and the figures API answers 503 meanwhile.

A verdict the watcher has not refreshed for `STALE_AFTER_S` is ignored (a process without a
watcher, or one whose watcher stopped, behaves as if Redis were healthy and simply tries).
"""

from __future__ import annotations

import threading
import time

import redis
from redis.exceptions import MaxConnectionsError
from redis.sentinel import SentinelConnectionPool

STALE_AFTER_S = 10.0


class FiguresUnavailable(redis.ConnectionError):
    """The live figures cannot be read now (Redis away, or its figures being rebuilt). A RedisError,
    so every handler of Redis outages (HTTP 503 with Retry-After) applies."""


class RedisHealth:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down = False
        self._trusted = True
        self._seen_at = float("-inf")  # monotonic time of the watcher's last verdict
        self._failed_at = 0.0  # time.time() of the last Redis failure anything in this process saw
        self._up = threading.Event()
        self._up.set()
        self.wake = threading.Event()  # set when the watcher should look at once
        self.watched = False  # whether a LiveWatch keeps this up to date (without one, nothing is held back)
        self.why = ""  # the reason of the last verdict against Redis, for messages

    # -- read by everyone -------------------------------------------------------------------------
    def _fresh(self) -> bool:
        return time.monotonic() - self._seen_at < STALE_AFTER_S

    @property
    def down(self) -> bool:
        """Redis did not answer the watcher's last probe (and that probe is recent)."""
        return self._down and self._fresh()

    @property
    def trusted(self) -> bool:
        """Redis answers and its live figures agree with SQL as far as the watcher knows."""
        return not self._fresh() or (not self._down and self._trusted)

    def check_figures(self) -> None:
        """Raises FiguresUnavailable unless the live figures can be read and trusted now."""
        if not self.trusted:
            raise FiguresUnavailable(self.why or "live figures are being rebuilt")

    def wait_up(self, timeout: float) -> bool:
        """Waits until the watcher sees Redis answer (at most `timeout` s); whether it does."""
        return self._up.wait(timeout) or not self.down

    def note_failure(self) -> None:
        """A connection to Redis failed in this process: a live write may be lost, and Redis may come
        back empty or old. The figures are not trusted until the watcher, woken now, has looked."""
        self._failed_at = time.time()
        with self._lock:
            if self.watched and self._trusted:
                self._trusted, self.why = False, "a connection to Redis failed; checking its figures"
                self._seen_at = time.monotonic()
                self.wake.set()

    @property
    def failed_at(self) -> float:
        return self._failed_at

    # -- written by the watcher -------------------------------------------------------------------
    def saw_down(self, why: str) -> None:
        with self._lock:
            self._down, self._trusted, self.why = True, False, why
            self._seen_at = time.monotonic()
            self._up.clear()
        self.note_failure()

    def saw_up(self, trusted: bool, why: str = "") -> None:
        with self._lock:
            self._down, self._trusted, self.why = False, trusted, why
            self._seen_at = time.monotonic()
            self._up.set()


class Guarded:
    """What makes a connection pool guarded: it refuses at once while `health` says Redis is down, and
    notes every failure to connect (a write that may be lost). Mixed into a pool class."""

    def __init__(self, *args, health: RedisHealth, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.health = health

    def get_connection(self, *args, **kwargs):
        if self.health.down:
            self.health.note_failure()
            raise redis.ConnectionError(f"{self.health.why}; reconnecting in the background")
        try:
            return super().get_connection(*args, **kwargs)
        except MaxConnectionsError:
            raise  # this process is busy, Redis is not away
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            self.health.note_failure()
            raise


class GuardedPool(Guarded, redis.ConnectionPool):
    """A guarded pool on one address (a URL)."""


class GuardedSentinelPool(Guarded, SentinelConnectionPool):
    """A guarded pool on whichever server the sentinels name master (asked again on every new
    connection, so a failover is followed)."""

