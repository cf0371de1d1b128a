"""One leader among many processes: a Redis key with an expiry that only its holder renews.

Every process that may run the scheduled jobs holds a `LeaderLock` on the same key and calls
`try_lead()` every few seconds; exactly one of them holds the key at a time. A holder that
dies stops renewing, the key expires, and the next `try_lead()` of another process takes it.
A holder that loses Redis stops counting itself leader on its own once its last renewal is
older than the TTL, which is no later than the key's expiry in Redis, so two processes never
both act as leader.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time

import redis

from bigscreen.process import metrics

log = logging.getLogger(__name__)

LEADER_TTL_S = 15.0

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class LeaderLock:
    def __init__(self, client: redis.Redis, key: str, ttl_s: float = LEADER_TTL_S) -> None:
        self.client = client
        self.key = key
        self.ttl_s = ttl_s
        self.token = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(8)}"
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._held_at: float | None = None  # time.monotonic() before our last successful acquire or renew

    @property
    def is_leader(self) -> bool:
        held_at = self._held_at
        return held_at is not None and time.monotonic() - held_at < self.ttl_s

    def try_lead(self) -> bool:
        """Renews the key if we hold it, else takes it if it is free; returns whether we lead.
        Never raises: a Redis error means we do not lead."""
        was_leader = self.is_leader
        # measured before the call, so our own deadline falls before the key's expiry in Redis
        started = time.monotonic()
        ttl_ms = int(self.ttl_s * 1000)
        try:
            leads = bool(self._renew(keys=[self.key], args=[self.token, ttl_ms])
                         or self.client.set(self.key, self.token, nx=True, px=ttl_ms))
        except redis.RedisError as exc:
            log.warning("leader lock %s: %s; not leading until Redis answers", self.key, exc)
            leads = False
        self._held_at = started if leads else None
        if leads != was_leader:
            log.info("%s leader (%s)", "now" if leads else "no longer", self.token)
            metrics.leader_changes.labels("took" if leads else "lost").inc()
        return leads

    def release(self) -> bool:
        """Gives the key up if we hold it, so another process takes over at its next try."""
        self._held_at = None
        try:
            return bool(self._release(keys=[self.key], args=[self.token]))
        except redis.RedisError as exc:
            log.warning("leader lock %s: release failed (%s); it expires by itself", self.key, exc)
            return False
