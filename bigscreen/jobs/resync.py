"""Putting every live counter exactly where SQL says, while events and steps keep arriving.

A rebuild or reconcile reads SQL for seconds (a minute at a million events); meanwhile writers
commit and move Redis. Reading SQL, then overwriting Redis, would lose the moves that came after
the read and count twice those that were read but reached Redis later. So a resync:

1. opens the gate (`{p}resync` = "journal", lua/gate.lua): every counter script still applies its
   change, and also records it in the journal with its tag (which SQL write it follows);
2. reads SQL in one snapshot and writes what it says into staging keys (`{p}rs:new:…`);
3. replays onto the staging keys every recorded change the snapshot does not hold (a tag's event
   version or activity is not in it; moves of the clock and the supervision schedule always: they
   are absolute, and replaying one that the snapshot holds changes nothing);
4. holds the gate for a moment (`hold`: scripts record changes without applying them), replays the
   last ones, and renames the staging keys over the live ones in one transaction;
5. applies what was held (unless the snapshot holds it), and closes the gate once the journal is empty.

The wall keeps moving during steps 1-3 and freezes only for the swap. Changes reach Redis within
milliseconds of their commit; a commit just before the snapshot gets `SETTLE_S` to arrive. A
resync that dies half-way leaves the live keys as they were; its gate expires by itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
import redis
from sqlalchemy import Connection, select

from bigscreen.db.models import Event, FieldActivity
from bigscreen.db.session import IN_CHUNK
from bigscreen.db.session import snapshot as sql_snapshot
from bigscreen.jobs.expected import Expected, expected
from bigscreen.live.keys import SCHEMA_VERSION
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)
LEASE_MS = 30_000  # the gate expires by itself this long after its resync died (renewed while it runs)
RENEW_S = 5.0
SETTLE_S = 1.0
WAIT_S = 0.2
BATCH = 2000
UNLINK_BATCH = 5000
JOURNAL_PAGE = 5000  # journal entries read and replayed per round trip

_ACQUIRE = """
if redis.call('SET', KEYS[1], 'journal', 'NX', 'PX', ARGV[1]) then
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
"""
# every live key to its retired name, every staging key to its live name: one script, so one atomic step
# and no round trip per key (KEYS: each live name, then its staging name, then its retired name)
_SWAP = """
for i = 1, #KEYS, 3 do
  local k, staged, retired = KEYS[i], KEYS[i + 1], KEYS[i + 2]
  if redis.call('EXISTS', k) == 1 then
    redis.call('RENAME', k, retired)
  end
  if redis.call('EXISTS', staged) == 1 then
    redis.call('RENAME', staged, k)
  end
end
return #KEYS / 3
"""
_CLOSE = """
if redis.call('LLEN', KEYS[2]) == tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
"""


class Busy(RuntimeError):
    """Another rebuild or reconcile is running."""


@dataclass
class Resynced:
    events: int  # events counted
    differences: list[str] = field(default_factory=list)  # what the replaced counters had wrong
    moving: int = 0  # keys live changes touched meanwhile: not compared
    held_s: float = 0.0  # how long changes were held


@dataclass
class _Entry:
    tag: str
    script: str
    applied: bool
    keys: list[str]
    args: list

    @classmethod
    def parse(cls, raw: bytes) -> _Entry:
        tag, script, applied, keys, args = orjson.loads(raw)
        return cls(tag, script, applied, list(keys) if keys else [], list(args) if args else [])


def resync(rt: Runtime, now: datetime | None = None, *, wait: bool = False, compare: bool = False) -> Resynced:
    """Makes the counters equal what SQL says (see the module's docstring). `wait`: if another resync
    runs, wait for it instead of raising `Busy`. `compare`: list what the replaced counters had wrong."""
    r, keys = rt.redis, rt.keys
    acquire = r.register_script(_ACQUIRE)
    while not acquire(keys=[keys.resync, keys.resync_journal], args=[LEASE_MS]):
        if not wait:
            raise Busy("a rebuild or reconcile is running")
        time.sleep(WAIT_S)
    closed = False
    renewing = _Renewal(rt)
    try:
        live = set(derived_keys(rt))
        _clear_staging(rt)
        with sql_snapshot(rt.engine) as conn:
            began = time.monotonic()
            now = now or rt.clock()
            want = expected(rt, now, conn)
            staged = _stage(rt, want)
            time.sleep(max(0.0, SETTLE_S - (time.monotonic() - began)))
            journal = _Journal(rt, conn)
            journal.replay_new(onto_staging=True)  # most of them, while the wall still moves
            r.set(keys.resync, "hold", xx=True, px=LEASE_MS)
            held = time.monotonic()
            journal.replay_new(onto_staging=True)
            staged |= journal.touched_staging
            live |= journal.touched
            _swap(rt, live, staged)
            while True:  # what was held while swapping, then close the gate when nothing is left
                journal.replay_new(onto_staging=False)
                if r.register_script(_CLOSE)(keys=[keys.resync, keys.resync_journal], args=[journal.read]):
                    closed = True
                    break
            held_s = time.monotonic() - held
        r.set(keys.schema, SCHEMA_VERSION)
        r.publish(keys.changed, "resync")
        result = Resynced(want.events, held_s=held_s, moving=len(journal.touched))
        if compare:
            result.differences = _differences(rt, want, live, journal.touched, now)
        unlink(rt, (keys.retired(k) for k in live))
        return result
    finally:
        renewing.stop()
        if not closed:
            r.delete(keys.resync, keys.resync_journal)
            _clear_staging(rt)


class _Renewal(threading.Thread):
    """Keeps the gate's lease while its resync runs (a minute at a million events)."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__(name="resync-lease", daemon=True)
        self.rt, self._stop = rt, threading.Event()
        self.start()

    def run(self) -> None:
        while not self._stop.wait(RENEW_S):
            try:
                self.rt.redis.pexpire(self.rt.keys.resync, LEASE_MS, xx=True)
            except redis.RedisError as exc:
                log.warning("resync: could not renew the gate's lease: %s", exc)

    def stop(self) -> None:
        self._stop.set()


class _Journal:
    """The changes recorded since the gate opened, read in order, each replayed once if the
    snapshot does not hold it."""

    def __init__(self, rt: Runtime, conn: Connection) -> None:
        self.rt, self.conn = rt, conn
        self.read = 0
        self.touched: set[str] = set()  # live keys the recorded changes moved
        self.touched_staging: set[str] = set()

    def replay_new(self, *, onto_staging: bool) -> None:
        """Replays what was recorded since the last call, a page at a time (a journal that grew over a
        long staging is not read in one reply: at 363k events on a loaded machine, one read timed out)."""
        while self._replay_page(onto_staging=onto_staging) == JOURNAL_PAGE:
            pass

    def _replay_page(self, *, onto_staging: bool) -> int:
        r, keys = self.rt.redis, self.rt.keys
        raw = r.lrange(keys.resync_journal, self.read, self.read + JOURNAL_PAGE - 1)
        if not raw:
            return 0
        self.read += len(raw)
        entries = [_Entry.parse(x) for x in raw]
        held = in_snapshot(self.conn, {e.tag for e in entries})
        pipe = r.pipeline(transaction=False)
        for e in entries:
            self.touched.update(e.keys)
            if e.tag in held:
                continue
            target = [keys.staged(k) for k in e.keys] if onto_staging else e.keys
            if onto_staging:
                self.touched_staging.update(e.keys)
            self.rt.live.run_script(e.script, target, e.args, "!", client=pipe)
        pipe.execute()
        return len(raw)


def in_snapshot(conn: Connection, tags: Iterable[str]) -> set[str]:
    """The tags whose SQL write this snapshot holds (bigscreen.live.writer.event_tag, activity_tag)."""
    versions: dict[int, int] = {}
    activities: set[int] = set()
    for tag in tags:
        kind, _, rest = tag.partition(":")
        if kind == "e":
            event_id, _, version = rest.partition(":")
            versions[int(event_id)] = max(versions.get(int(event_id), 0), int(version))
        elif kind == "f":
            activities.add(int(rest))
    out: set[str] = set()
    events, acts = Event.__table__.c, FieldActivity.__table__.c
    ids = sorted(versions)
    for i in range(0, len(ids), IN_CHUNK):
        for event_id, version in conn.execute(select(events.id, events.version).where(events.id.in_(ids[i:i + IN_CHUNK]))):
            out.update(f"e:{event_id}:{v}" for v in range(1, version + 1))
    ids = sorted(activities)
    for i in range(0, len(ids), IN_CHUNK):
        out.update(f"f:{a}" for a in conn.scalars(select(acts.id).where(acts.id.in_(ids[i:i + IN_CHUNK]))))
    return out


def _clear_staging(rt: Runtime) -> None:
    prefix = rt.keys.staged(rt.keys.prefix)
    unlink(rt, (k.decode() for k in rt.redis.scan_iter(match=f"{prefix}*", count=5000)))


def _stage(rt: Runtime, want: Expected) -> set[str]:
    """Writes what SQL says into the staging keys; returns the (live) names of the keys written."""
    keys, contrib = rt.keys, rt.contributions
    pipe = rt.redis.pipeline(transaction=False)
    written: set[str] = set()

    def expire(key: str) -> None:
        if (ts := contrib.expiry(key)) is not None:
            pipe.expireat(keys.staged(key), ts)

    for i, (key, mapping) in enumerate(want.hashes.items(), 1):
        pipe.hset(keys.staged(key), mapping=mapping)
        expire(key)
        written.add(key)
        if i % BATCH == 0:
            pipe.execute()
    for key, scores in ((keys.deadlines, want.deadlines), (keys.supervise, want.supervise)):
        items = list(scores.items())
        for i in range(0, len(items), BATCH):
            pipe.zadd(keys.staged(key), dict(items[i:i + BATCH]))
            written.add(key)
    members = list(want.overdue)
    for i in range(0, len(members), BATCH):
        pipe.sadd(keys.staged(keys.overdue), *members[i:i + BATCH])
        written.add(keys.overdue)
    for i, (key, workers) in enumerate(want.duty.items(), 1):
        if workers:
            pipe.sadd(keys.staged(key), *workers)
            expire(key)
            written.add(key)
        if i % BATCH == 0:
            pipe.execute()
    pipe.execute()
    return written


def _swap(rt: Runtime, live: set[str], staged: set[str]) -> None:
    """In one step: every live key to its retired name, every staging key to its live name (the names
    Keys.retired and Keys.staged give)."""
    keys = rt.keys
    names = [name for key in sorted(live | staged) for name in (key, keys.staged(key), keys.retired(key))]
    rt.redis.eval(_SWAP, len(names), *names)


def _differences(rt: Runtime, want: Expected, replaced: set[str], touched: set[str], now: datetime) -> list[str]:
    """What the replaced counters held that SQL does not say, for the keys no live change touched
    meanwhile (on those the replaced value is what the counters had drifted to)."""
    keys = rt.keys
    lines: list[str] = []
    wanted_sets = {keys.overdue: set(want.overdue), **want.duty}
    wanted_zsets = {keys.deadlines: want.deadlines, keys.supervise: want.supervise}
    names = sorted((set(want.hashes) | set(wanted_sets) | set(wanted_zsets) | replaced) - touched)
    client = rt.redis
    for key in names:
        if _ages_out(rt, key, now):
            continue
        old = keys.retired(key)
        kind = client.type(old).decode() if key in replaced else "none"
        if key in wanted_zsets or kind == "zset":
            have = {m.decode(): s for m, s in client.zrange(old, 0, -1, withscores=True)} if kind != "none" else {}
            should = wanted_zsets.get(key, {})
            for member in sorted(set(have) | set(should)):
                if have.get(member) == should.get(member):
                    continue
                lines.append(f"{key} {member}: score {have.get(member)} -> {should[member]}" if member in should
                             else f"{key} {member}: removed")
        elif key in wanted_sets or keys.is_duty(key) or kind == "set":
            have = {m.decode() for m in client.smembers(old)} if kind != "none" else set()
            should = wanted_sets.get(key, set())
            lines += [f"{key} {m}: {'added' if m in should else 'removed'}" for m in sorted(have ^ should)]
        else:
            have = {f.decode(): int(v) for f, v in client.hgetall(old).items()} if kind == "hash" else {}
            should = want.hashes.get(key, {})
            for name in sorted(set(have) | set(should)):
                if have.get(name, 0) != should.get(name, 0):
                    lines.append(f"{key} {name}: {have.get(name, 0)} -> {should.get(name, 0)}")
    return lines


def _ages_out(rt: Runtime, key: str, now: datetime) -> bool:
    """Day and trend keys the clock has moved past: SQL no longer counts into them, they only
    waited for their expiry, so they are not compared."""
    contrib = rt.contributions
    if ":d:" in key:
        day = datetime.strptime(key.rsplit(":", 1)[1], "%Y%m%d").replace(tzinfo=rt.tz)
        return not contrib.keep_day(day, now)
    if key.startswith(rt.keys.trend("", "")[:-1]):
        hour = datetime.strptime(key.rsplit(":", 1)[1], "%Y%m%d%H").replace(tzinfo=rt.tz)
        return hour < now - timedelta(hours=24)
    return False


def derived_keys(rt: Runtime) -> Iterator[str]:
    """Every key of the prefix a rebuild owns: the counters, and anything else not on the list of
    keys it leaves alone (a key family an older schema had)."""
    for key in rt.redis.scan_iter(match=rt.keys.all_pattern(), count=UNLINK_BATCH):
        k = key.decode()
        if not rt.keys.not_counters(k):
            yield k


def unlink(rt: Runtime, keys: Iterable[str]) -> None:
    """Deletes these keys, a batch per call."""
    batch: list[str] = []
    for key in keys:
        batch.append(key)
        if len(batch) >= UNLINK_BATCH:
            rt.redis.unlink(*batch)
            batch = []
    if batch:
        rt.redis.unlink(*batch)
