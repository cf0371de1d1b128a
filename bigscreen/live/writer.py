"""Moves the live counters in Redis, always after the SQL commit that justifies the move."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from importlib.resources import files

import orjson
import redis

from bigscreen.lifecycle import CLOSED_STATUSES
from bigscreen.live.contrib import Contributions, Delta, EventFacts, Waiting
from bigscreen.live.field_work import FieldWorkChange
from bigscreen.live.keys import Keys

log = logging.getLogger(__name__)
TICKER_MAXLEN = 2000
SWEEP_BATCH = 500


class ChangeSet:
    """Collects counter deltas and deadline moves for one atomic Redis script call."""

    def __init__(self, contrib: Contributions, first_notice_s: float = 0) -> None:
        self.contrib = contrib
        self.first_notice_s = first_notice_s
        self.inc: Delta = Counter()
        self.zadd: list[tuple[float, str]] = []
        self.done: list[tuple[str, Delta]] = []
        self.due: list[tuple[str, Delta]] = []
        self.move: list[tuple[str, str, float, Delta]] = []

    def event_changed(self, before: EventFacts | None, after: EventFacts, now: datetime) -> None:
        self.contrib.add(self.inc, after, now)
        if before is not None:
            self.contrib.add(self.inc, before, now, sign=-1)
        was_open = before is not None and before.status not in CLOSED_STATUSES
        is_open = after.status not in CLOSED_STATUSES
        if is_open and not was_open:
            self.zadd.append((after.deadline.timestamp(), after.waiting.member))
        elif was_open and not is_open:
            w = before.waiting
            self.done.append((w.member, self.contrib.overdue_fields(w, before.chain, now, sign=-1)))
        elif was_open and before.department != after.department:
            old, new = before.waiting, after.waiting
            shift = self.contrib.department_overdue_fields(old, -1)
            shift.update(self.contrib.department_overdue_fields(new, 1))  # update, not +: keeps negatives
            self.move.append((old.member, new.member, after.deadline.timestamp(), shift))

    def overdue(self, member: str, chain_of: Callable[[str], tuple[str, ...]], now: datetime) -> None:
        w = Waiting.parse(member)
        self.due.append((member, self.contrib.overdue_fields(w, chain_of(w.grid), now)))

    def script_args(self, keys: Keys) -> tuple[list[str], bytes]:
        index: dict[str, int] = {}

        def grouped(delta: Delta) -> dict[str, dict[str, int]]:
            out: dict[str, dict[str, int]] = {}
            for (key, field), value in delta.items():
                if value:
                    i = index.setdefault(key, len(index) + 4)
                    out.setdefault(str(i), {})[field] = value
            return out

        body = {
            "inc": grouped(self.inc),
            "zadd": [[s, m] for s, m in self.zadd],
            "done": [[m, grouped(d)] for m, d in self.done],
            "due": [[m, grouped(d)] for m, d in self.due],
            "move": [[old, new, score, grouped(d)] for old, new, score, d in self.move],
            "first_s": self.first_notice_s,
        }
        body["exp"] = [[i, ts] for k, i in index.items() if (ts := self.contrib.expiry(k)) is not None]
        return [keys.deadlines, keys.overdue, keys.supervise, *index], orjson.dumps(body)

class LiveWriter:
    def __init__(self, client: redis.Redis, keys: Keys, contrib: Contributions, first_notice_s: float = 0) -> None:
        self.client = client
        self.keys = keys
        self.contrib = contrib
        self.first_notice_s = first_notice_s
        lua = files("bigscreen.live").joinpath("lua")
        self._apply = client.register_script(lua.joinpath("apply.lua").read_text())
        self._field_work = client.register_script(lua.joinpath("field_work.lua").read_text())

    def change_set(self) -> ChangeSet:
        return ChangeSet(self.contrib, self.first_notice_s)

    def apply(self, change: ChangeSet, ticker: list[dict[str, str]] = (), pipe: redis.client.Pipeline | None = None) -> None:
        keys, body = change.script_args(self.keys)
        p = pipe or self.client.pipeline(transaction=False)
        self._apply(keys=keys, args=[body], client=p)
        for entry in ticker:
            p.xadd(self.keys.ticker, entry, maxlen=TICKER_MAXLEN, approximate=True)
        p.publish(self.keys.changed, "1")
        if pipe is None:
            p.execute()

    def field_work_change(self) -> FieldWorkChange:
        return FieldWorkChange(self.contrib)

    def apply_field_work(self, change: FieldWorkChange) -> None:
        """Counts committed field work in the day hashes (one atomic script call) and wakes the wall."""
        if not change:
            return
        keys, body = change.script_args()
        pipe = self.client.pipeline(transaction=False)
        self._field_work(keys=keys, args=[body], client=pipe)
        pipe.publish(self.keys.changed, "1")
        pipe.execute()

    def sweep(self, now: datetime, chain_of: Callable[[str], tuple[str, ...]]) -> int:
        """Counts as overdue every open case whose deadline has passed (a case is late after
        its deadline, not at it), and schedules its first supervision notice. Cost grows with
        the cases due, not the cases open: it reads only the head of the deadline zset."""
        total = 0
        while True:
            members = self.client.zrangebyscore(self.keys.deadlines, "-inf", f"({now.timestamp()}", start=0, num=SWEEP_BATCH)
            if not members:
                return total
            change = self.change_set()
            for m in members:
                try:
                    change.overdue(m.decode(), chain_of, now)
                except (KeyError, ValueError):  # not a member we wrote (its grid is unknown): drop it
                    log.error("deadline sweep: dropping malformed member %r", m)
                    self.client.zrem(self.keys.deadlines, m)
            keys, body = change.script_args(self.keys)
            counted = self._apply(keys=keys, args=[body])
            total += counted
            if len(members) < SWEEP_BATCH:
                if counted:
                    self.client.publish(self.keys.changed, "1")
                return total
