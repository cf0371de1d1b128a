"""How every process learns that a key, token or account was revoked, within about a second.

A revocation moves one counter in Redis (`Keys.revocations`) after its SQL commit. The caches of
API keys (`bigscreen.api.auth.KeyCache`) and kiosk tokens (`bigscreen.auth.kiosk.KioskTokens`)
each hold a `RevocationSignal` and drop what they hold when the counter moved. The API keys' reads
it at most once every `CHECK_S`: ingest's hot path answers from memory for up to a second before
it asks Redis again, once, in a worker thread; so a revoked key works for up to a second more.
The kiosk tokens' reads it at every lookup (a wall's page load, rare): a revoked token opens
nothing from the moment the revocation is announced.

Without Redis the counter cannot be read: the caches then fall back to their own limit
(`CACHE_S`, 30 s), so a revocation takes effect within 30 s at worst.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError

from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)
CHECK_S = 1.0


def announce_revocation(rt: Runtime) -> None:
    """After a revocation is committed: tells every process's caches to drop what they hold."""
    try:
        rt.redis.incr(rt.keys.revocations)
    except RedisError as exc:
        log.warning("revocation stored, but not announced (caches honour it within their own limit): %s", exc)


class RevocationSignal:
    """Whether the revocations counter moved since this signal last looked."""

    def __init__(self, rt: Runtime, every_s: float = CHECK_S) -> None:
        self.rt = rt
        self.every_s = every_s
        self.checked = float("-inf")  # time.monotonic() of the last look
        self._seen: bytes | None = None

    def due(self) -> bool:
        return time.monotonic() - self.checked >= self.every_s

    def moved(self) -> bool:
        """Looks (at most once every `every_s`, else answers False): True when the counter moved, and
        at the first look, since what a cache loaded before it cannot be vouched for."""
        if not self.due():
            return False
        self.checked = time.monotonic()
        try:
            value = self.rt.redis.get(self.rt.keys.revocations) or b"0"
        except RedisError:
            return False
        first, self._seen, before = self._seen is None, value, self._seen
        return first or value != before
