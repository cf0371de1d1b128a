"""Recompute every live counter from SQL, the source of truth."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import select

from bigscreen.commands.facts import facts
from bigscreen.db.models import Event, FieldActivity
from bigscreen.lifecycle import CLOSED_STATUSES
from bigscreen.live.contrib import DAY_KEEP
from bigscreen.live.field_work import FIELD_KINDS, ActivityFacts, FieldWorkChange
from bigscreen.live.keys import SCHEMA_VERSION
from bigscreen.runtime import Runtime
from bigscreen.supervision import Supervisor

CHUNK = 5000


@dataclass
class Expected:
    """Everything the counter keys should hold, computed from SQL at one moment."""

    hashes: dict[str, dict[str, int]]
    deadlines: dict[str, float]  # member -> deadline
    overdue: set[str]
    supervise: dict[str, float]  # subject -> when its next notice is due
    events: int
    duty: dict[str, set[str]] = field(default_factory=dict)  # duty set -> ids of the workers on duty
    activities: int = 0  # field activities counted (those of the kept days)


def expected(rt: Runtime, now: datetime) -> Expected:
    """Sums every event's contribution (the same function the live path applies) and places
    each open case in the deadline zset or the overdue set as the sweep at `now` would."""
    contrib, areas = rt.contributions, rt.areas
    total: Counter = Counter()
    deadlines: dict[str, float] = {}
    overdue: set[str] = set()
    count = 0
    with rt.sessions() as session:
        for event in session.scalars(select(Event).execution_options(yield_per=CHUNK)):
            f = facts(event, areas)
            contrib.add(total, f, now)
            count += 1
            if f.status in CLOSED_STATUSES:
                continue
            w = f.waiting
            if f.deadline.timestamp() < now.timestamp():  # late after the deadline, not at it
                overdue.add(w.member)
                total.update(contrib.overdue_fields(w, f.chain, now))
            else:
                deadlines[w.member] = f.deadline.timestamp()
    with rt.engine.connect() as conn:
        supervise = Supervisor(rt).pending(conn, now)
    work, activities = field_work(rt, now)
    total.update(work.expected_hashes())
    hashes: dict[str, dict[str, int]] = {}
    for (key, name), value in total.items():
        if value:
            hashes.setdefault(key, {})[name] = value
    return Expected(hashes, deadlines, overdue, supervise, count, work.expected_sets(), activities)


def field_work(rt: Runtime, now: datetime) -> tuple[FieldWorkChange, int]:
    """The field work of the days whose day hashes are kept, summed by the function the live path
    applies (bigscreen.live.field_work); and how many activities that was."""
    work = FieldWorkChange(rt.contributions)
    oldest = now.astimezone(rt.tz).date() - timedelta(days=DAY_KEEP - 1)
    since = datetime.combine(oldest, time(0), tzinfo=rt.tz)
    c = FieldActivity.__table__.c
    query = select(c.kind, c.worker_id, c.grid_code, c.at).where(c.kind.in_(FIELD_KINDS), c.at >= since)
    chain_of, count = rt.areas.chain_of, 0
    with rt.engine.connect() as conn:
        for kind, worker_id, grid, at in conn.execution_options(yield_per=CHUNK).execute(query):
            count += work.add(ActivityFacts(kind, worker_id, chain_of(grid), at), now)
    return work, count


def rebuild(rt: Runtime, now: datetime | None = None) -> int:
    """Wipes the prefix's keys and writes them anew; returns the number of events counted."""
    now = now or rt.clock()
    state = expected(rt, now)
    wipe(rt)
    contrib = rt.contributions
    pipe = rt.redis.pipeline(transaction=False)
    for i, (key, mapping) in enumerate(state.hashes.items(), 1):
        pipe.hset(key, mapping=mapping)
        if (ts := contrib.expiry(key)) is not None:
            pipe.expireat(key, ts)
        if i % 2000 == 0:
            pipe.execute()
    for key, scores in ((rt.keys.deadlines, state.deadlines), (rt.keys.supervise, state.supervise)):
        items = list(scores.items())
        for i in range(0, len(items), CHUNK):
            pipe.zadd(key, dict(items[i : i + CHUNK]))
    members = list(state.overdue)
    for i in range(0, len(members), CHUNK):
        pipe.sadd(rt.keys.overdue, *members[i : i + CHUNK])
    for i, (key, workers) in enumerate(state.duty.items(), 1):
        pipe.sadd(key, *workers)
        if (ts := contrib.expiry(key)) is not None:
            pipe.expireat(key, ts)
        if i % 2000 == 0:
            pipe.execute()
    pipe.set(rt.keys.schema, SCHEMA_VERSION)
    pipe.publish(rt.keys.changed, "rebuild")
    pipe.execute()
    return state.events


def wipe(rt: Runtime) -> None:
    """Deletes every counter key of this prefix (not the ticker, sessions, the leader lock ...)."""
    client = rt.redis
    batch: list[bytes] = []
    for key in client.scan_iter(match=rt.keys.all_pattern(), count=5000):
        if rt.keys.not_counters(key.decode()):
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
