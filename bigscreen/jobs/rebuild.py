"""Recompute every live counter from SQL, the source of truth."""

from __future__ import annotations

from datetime import datetime

from bigscreen.jobs.resync import derived_keys, resync, unlink
from bigscreen.process.runtime import Runtime


def rebuild(rt: Runtime, now: datetime | None = None) -> int:
    """Recomputes every counter key from SQL and puts it in place of the old one, exactly, also while
    events and steps keep arriving (bigscreen.jobs.resync); keys of this prefix that are no counters
    of today's schema go too. Returns the number of events counted."""
    return resync(rt, now, wait=True).events


def wipe(rt: Runtime) -> None:
    """Deletes every counter key of this prefix (not the ticker, sessions, the leader lock ...)."""
    unlink(rt, derived_keys(rt))


def snapshot(rt: Runtime) -> dict[str, dict]:
    """Every counter key and its content, for comparing two states (tests, reconcile)."""
    out: dict[str, dict] = {}
    client = rt.redis
    for key in client.scan_iter(match=rt.keys.all_pattern(), count=5000):
        k = key.decode()
        if rt.keys.not_counters(k):
            continue
        kind = client.type(key).decode()
        if kind == "hash":
            out[k] = {f.decode(): int(v) for f, v in client.hgetall(key).items() if int(v) != 0}
            if not out[k]:
                del out[k]
        elif kind == "zset":
            out[k] = {m.decode(): s for m, s in client.zrange(key, 0, -1, withscores=True)}
        elif kind == "set":
            out[k] = sorted(m.decode() for m in client.smembers(key))
    return out
