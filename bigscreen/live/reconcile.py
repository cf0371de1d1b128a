"""Compare the live counters with SQL, the source of truth, and repair any drift (scheduled).

Drift should never happen (every counter move follows a commit), but a Redis write lost after a
commit, a restored backup or a hand edit would otherwise stay on the wall for good. Writes go
on while this runs, so Redis is read twice, before and after SQL: only a value that did not
change in between and still differs from SQL is repaired, and counters are repaired by
HINCRBY of the difference, so a concurrent increment is never lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bigscreen.live.rebuild import expected, snapshot
from bigscreen.runtime import Runtime

log = logging.getLogger(__name__)
LOG_LINES = 20


@dataclass
class Repairs:
    lines: list[str] = field(default_factory=list)
    unstable: int = 0  # differences left alone because Redis moved meanwhile

    def add(self, line: str) -> None:
        self.lines.append(line)

    def __len__(self) -> int:
        return len(self.lines)


def reconcile(rt: Runtime, now: datetime | None = None) -> Repairs:
    now = now or rt.clock()
    rt.live.sweep(now, rt.areas.chain_of)  # SQL counts a case late the moment its deadline passes
    before = snapshot(rt)
    want = expected(rt, now)
    after = snapshot(rt)
    keys = rt.keys
    repairs = Repairs()
    pipe = rt.redis.pipeline(transaction=False)

    duty_keys = {k for k in set(want.duty) | set(before) if keys.is_duty(k)}
    hash_keys = (set(want.hashes) | set(before)) - {keys.deadlines, keys.overdue, keys.supervise} - duty_keys
    for key in sorted(k for k in hash_keys if not _ages_out(rt, k, now)):
        have, moved, should = before.get(key, {}), after.get(key, {}), want.hashes.get(key, {})
        for name in set(have) | set(should):
            delta = should.get(name, 0) - have.get(name, 0)
            if not delta:
                continue
            if moved.get(name, 0) != have.get(name, 0):
                repairs.unstable += 1
                continue
            pipe.hincrby(key, name, delta)
            repairs.add(f"{key} {name}: {have.get(name, 0)} -> {should.get(name, 0)}")
        if key not in before and (ts := rt.contributions.expiry(key)) is not None:
            pipe.expireat(key, ts)

    for key, should in ((keys.deadlines, want.deadlines), (keys.supervise, want.supervise)):
        have, moved = before.get(key, {}), after.get(key, {})
        for member in set(have) | set(should):
            if have.get(member) == should.get(member):
                continue
            if moved.get(member) != have.get(member):
                repairs.unstable += 1
            elif member in should:
                pipe.zadd(key, {member: should[member]})
                repairs.add(f"{key} {member}: score {have.get(member)} -> {should[member]}")
            else:
                pipe.zrem(key, member)
                repairs.add(f"{key} {member}: removed")

    sets = [(keys.overdue, want.overdue)]
    sets += [(k, want.duty.get(k, set())) for k in sorted(duty_keys) if not _ages_out(rt, k, now)]
    for key, should in sets:
        have, moved = set(before.get(key, [])), set(after.get(key, []))
        for member in have ^ should:
            if (member in have) != (member in moved):
                repairs.unstable += 1
            elif member in should:
                pipe.sadd(key, member)
                repairs.add(f"{key} {member}: added")
            else:
                pipe.srem(key, member)
                repairs.add(f"{key} {member}: removed")
        if key not in before and should and (ts := rt.contributions.expiry(key)) is not None:
            pipe.expireat(key, ts)

    if repairs:
        pipe.publish(keys.changed, "reconcile")
        pipe.execute()
        for line in repairs.lines[:LOG_LINES]:
            log.warning("reconcile repaired %s", line)
        log.warning("reconcile: %d repair(s) from SQL (%d shown)%s", len(repairs), min(len(repairs), LOG_LINES),
                    f", {repairs.unstable} moving value(s) left for the next run" if repairs.unstable else "")
    return repairs


def _ages_out(rt: Runtime, key: str, now: datetime) -> bool:
    """Day and trend keys the clock has moved past: SQL no longer counts into them, they only
    wait for their expiry, so they are not compared."""
    contrib = rt.contributions
    if ":d:" in key:
        day = datetime.strptime(key.rsplit(":", 1)[1], "%Y%m%d").replace(tzinfo=rt.tz)
        return not contrib.keep_day(day, now)
    if key.startswith(rt.keys.trend("", "")[:-1]):
        hour = datetime.strptime(key.rsplit(":", 1)[1], "%Y%m%d%H").replace(tzinfo=rt.tz)
        return hour < now - timedelta(hours=24)
    return False


def reconcile_job(rt: Runtime) -> int:
    return len(reconcile(rt))
