"""Recompute every live counter from SQL, the source of truth."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select

from bigscreen.commands.facts import facts
from bigscreen.db.models import Event
from bigscreen.lifecycle import CLOSED_STATUSES
from bigscreen.live.keys import SCHEMA_VERSION
from bigscreen.runtime import Runtime
from bigscreen.supervision import Supervisor

CHUNK = 5000


def rebuild(rt: Runtime, now: datetime | None = None) -> int:
    """Wipes the prefix's keys and writes them anew; returns the number of events counted.

    Counters are summed in memory and written in one script call per chunk of keys, so a
    reader sees either old or new figures per hash, never half a hash."""
    now = now or rt.clock()
    contrib, areas = rt.contributions, rt.areas
    total: Counter = Counter()
    deadlines: list[tuple[float, str]] = []
    overdue: list[tuple[str, Counter]] = []
    count = 0
    with rt.sessions() as session:
        for event in session.scalars(select(Event).execution_options(yield_per=CHUNK)):
            f = facts(event, areas)
            total.update(contrib.of(f, now))
            count += 1
            if f.status in CLOSED_STATUSES:
                continue
            w = f.waiting
            if f.deadline.timestamp() < now.timestamp():  # late after the deadline, not at it
                overdue.append((w.member, contrib.overdue_fields(w, f.chain, now)))
            else:
                deadlines.append((f.deadline.timestamp(), w.member))
    for _member, fields in overdue:
        total.update(fields)
    with rt.engine.connect() as conn:
        notices = Supervisor(rt).pending(conn, now)
    wipe(rt)
    by_key: dict[str, dict[str, int]] = {}
    for (key, field), value in total.items():
        if value:
            by_key.setdefault(key, {})[field] = value
    pipe = rt.redis.pipeline(transaction=False)
    for i, (key, mapping) in enumerate(by_key.items(), 1):
        pipe.hset(key, mapping=mapping)
        if (ts := contrib.expiry(key)) is not None:
            pipe.expireat(key, ts)
        if i % 2000 == 0:
            pipe.execute()
    for i in range(0, len(deadlines), CHUNK):
        pipe.zadd(rt.keys.deadlines, {m: s for s, m in deadlines[i : i + CHUNK]})
    for i in range(0, len(overdue), CHUNK):
        pipe.sadd(rt.keys.overdue, *(m for m, _ in overdue[i : i + CHUNK]))
    items = list(notices.items())
    for i in range(0, len(items), CHUNK):
        pipe.zadd(rt.keys.supervise, dict(items[i : i + CHUNK]))
    pipe.set(rt.keys.schema, SCHEMA_VERSION)
    pipe.publish(rt.keys.changed, "rebuild")
    pipe.execute()
    return count


def wipe(rt: Runtime) -> None:
    """Deletes every counter key of this prefix (not the ticker stream)."""
    client = rt.redis
    keep = rt.keys.not_counters()
    batch: list[bytes] = []
    for key in client.scan_iter(match=rt.keys.all_pattern(), count=5000):
        if key.decode() in keep:
            continue
        batch.append(key)
        if len(batch) >= 5000:
            client.unlink(*batch)
            batch = []
    if batch:
        client.unlink(*batch)


def snapshot(rt: Runtime) -> dict[str, dict]:
    """Every counter key and its content, for comparing two states (tests, reconcile)."""
    out: dict[str, dict] = {}
    client = rt.redis
    keep = rt.keys.not_counters()
    for key in client.scan_iter(match=rt.keys.all_pattern(), count=5000):
        k = key.decode()
        if k in keep:
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
