"""Moves the live counters in Redis, always after the SQL commit that justifies the move."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib.resources import files

import orjson
import redis
import redis.cluster
from redis.exceptions import NoScriptError

from bigscreen.domain.lifecycle import CLOSED_STATUSES
from bigscreen.live.contrib import Contributions, Delta, EventFacts, Waiting
from bigscreen.live.field_work import FieldWorkChange
from bigscreen.live.keys import Keys

log = logging.getLogger(__name__)
TICKER_MAXLEN = 2000
SWEEP_BATCH = 500
CLOCK = "clock"  # tag of the deadline sweep's moves
SCHEDULE = "sched"  # tag of supervision schedule moves (absolute: replaying one is harmless)
HELD = -1  # what a counter script answers while a resync holds changes (lua/gate.lua)


def event_tag(event_id: int, version: int) -> str:
    """The tag of a change that follows the write of this version of an event (for a group of
    events written in one transaction, any one of them)."""
    return f"e:{event_id}:{version}"


def activity_tag(activity_id: int) -> str:
    return f"f:{activity_id}"


class ChangeSet:
    """Collects counter deltas and deadline moves for one atomic Redis script call.

    `tag` names the SQL write the change follows (`event_tag`, or CLOCK / SCHEDULE for moves that
    follow the clock or the supervision schedule): a resync under live writes tells by it whether
    its snapshot of SQL already holds the change (bigscreen.jobs.resync)."""

    def __init__(self, contrib: Contributions, first_notice_s: float = 0, tag: str = SCHEDULE) -> None:
        self.contrib = contrib
        self.first_notice_s = first_notice_s
        self.tag = tag
        self.sched: dict[str, float] = {}
        self.unsched: list[str] = []
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
        index: dict[str, int] = {}  # key -> its place in the script's KEYS, after the three fixed ones
        expiry, expires = self.contrib.expiry, []  # [place, unix time] of each dated key

        def grouped(delta: Delta) -> dict[int, dict[str, int]]:
            by_key: dict[str, dict[str, int]] = {}
            for (key, field), value in delta.items():
                if value:
                    fields = by_key.get(key)
                    if fields is None:
                        fields = by_key[key] = {}
                    fields[field] = value
            out = {}
            for key, fields in by_key.items():
                place = index.get(key)
                if place is None:
                    place = index[key] = len(index) + 4
                    if (ts := expiry(key)) is not None:
                        expires.append([place, ts])
                out[place] = fields
            return out

        body = {
            "inc": grouped(self.inc),
            "zadd": [[s, m] for s, m in self.zadd],
            "done": [[m, grouped(d)] for m, d in self.done],
            "due": [[m, grouped(d)] for m, d in self.due],
            "move": [[old, new, score, grouped(d)] for old, new, score, d in self.move],
            "first_s": self.first_notice_s,
            "sched": [[score, subject] for subject, score in self.sched.items()],
            "unsched": self.unsched,
        }
        body["exp"] = expires
        return [keys.deadlines, keys.overdue, keys.supervise, *index], orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)

class LiveWriter:
    def __init__(self, client: redis.Redis, keys: Keys, contrib: Contributions, first_notice_s: float = 0,
                 on_lost: Callable[[], None] = lambda: None) -> None:
        """`on_lost`: called when a move may be lost (its connection failed or timed out mid-command, a
        dead server; or refused, READONLY, by a master demoted at a failover); the process's
        `RedisHealth.note_failure`."""
        self.client = client
        self.on_lost = on_lost
        self.keys = keys
        self.contrib = contrib
        self.first_notice_s = first_notice_s
        lua = files("bigscreen.live").joinpath("lua")
        gate = lua.joinpath("gate.lua").read_text()
        # every script that moves counters passes the resync gate first (lua/gate.lua)
        self.scripts = {name: client.register_script(f"local SCRIPT = '{name}'\n{gate}\n{lua.joinpath(name + '.lua').read_text()}")
                        for name in ("apply", "field_work")}
        self._gate_keys = [keys.resync, keys.resync_journal]
        self._ticker = client.register_script(lua.joinpath("ticker.lua").read_text())

    def run_script(self, name: str, keys: list[str], args: list, tag: str, client=None):
        """Runs a counter script through the gate; `tag` as ChangeSet.tag, "!" when replaying."""
        return self._call(self.scripts[name], [*self._gate_keys, *keys], [tag, *args], client)

    @staticmethod
    def _call(script, keys: list[str], args: list, client=None):
        """`script` run on `client` (default: the writer's own), or queued on a pipeline, which loads it first.
        A cluster pipeline does not load its scripts first, as a pipeline on one server does: a node that
        never saw the script (or lost it with a restart or failover) would fail EVALSHA, so it gets EVAL."""
        if isinstance(client, redis.cluster.ClusterPipeline):
            return client.eval(script.script, len(keys), *keys, *args)
        return script(keys=keys, args=args, client=client)

    def change_set(self, tag: str = SCHEDULE) -> ChangeSet:
        return ChangeSet(self.contrib, self.first_notice_s, tag)

    def schedule(self, sched: dict[str, float] = {}, unsched: list[str] = ()) -> ChangeSet:  # noqa: B006
        """A change that only moves supervision subjects in the `supervise` zset."""
        change = self.change_set(SCHEDULE)
        change.sched.update(sched)
        change.unsched.extend(unsched)
        return change

    @contextmanager
    def _may_lose(self) -> Iterator[None]:
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError):
            self.on_lost()
            raise

    def apply(self, change: ChangeSet, ticker: list[dict[str, str]] = (), pipe: redis.client.Pipeline | None = None,
              message: tuple[str, str] | None = None) -> None:
        """Moves the counters by `change`, or queues the move on `pipe` (its caller executes it).
        `message`: (channel, payload) published with it, after the move (ingest's alerts)."""
        keys, body = change.script_args(self.keys)
        if pipe is None:
            self._run_and_publish("apply", keys, [body], change.tag, ticker, message)
            return
        self.run_script("apply", keys, [body], change.tag, client=pipe)
        if ticker:
            self._call(self._ticker, [self.keys.ticker], self._ticker_args(ticker), client=pipe)
        if message is not None:
            pipe.publish(*message)
        pipe.publish(self.keys.changed, "1")

    def _run_and_publish(self, name: str, keys: list[str], args: list, tag: str, ticker: list[dict[str, str]] = (),
                         message: tuple[str, str] | None = None) -> None:
        """A counter script, the ticker's new entries, `message` and the wake-up of the walls, in one round trip.

        The script goes as EVALSHA, not through redis-py's pipeline, which first asks the server
        whether it knows the pipeline's scripts (SCRIPT EXISTS: a round trip and a command more per
        ingest group). A server that does not know it (restarted, flushed, failed over) answers
        NOSCRIPT: the script is then loaded and run on its own, and the walls woken again."""
        p = self.client.pipeline(transaction=False)
        calls = [(self.scripts[name], [*self._gate_keys, *keys], [tag, *args])]
        if ticker:
            calls.append((self._ticker, [self.keys.ticker], self._ticker_args(ticker)))
        for script, script_keys, script_args in calls:
            self._queue(p, script, script_keys, script_args)
        if message is not None:
            p.publish(*message)
        p.publish(self.keys.changed, "1")
        with self._may_lose():
            replies = p.execute(raise_on_error=False)
            told = False
            for (script, script_keys, script_args), reply in zip(calls, replies):
                if isinstance(reply, NoScriptError):
                    script(keys=script_keys, args=script_args)  # redis-py's Script loads it when told NOSCRIPT
                    told = True
                elif isinstance(reply, Exception):
                    raise reply
            if told:
                self.client.publish(self.keys.changed, "1")
            for reply in replies[len(calls):]:
                if isinstance(reply, Exception):
                    raise reply

    def _queue(self, pipe, script, keys: list[str], args: list) -> None:
        """`script` on `pipe` as bare EVALSHA, its NOSCRIPT answered by `_run_and_publish`; on a cluster as `_call`."""
        if isinstance(pipe, redis.cluster.ClusterPipeline):
            self._call(script, keys, args, client=pipe)
        else:
            pipe.evalsha(script.sha, len(keys), *keys, *args)

    @staticmethod
    def _ticker_args(ticker: list[dict[str, str]]) -> list:
        return [TICKER_MAXLEN, orjson.dumps([[part for item in entry.items() for part in item] for entry in ticker])]

    def field_work_change(self) -> FieldWorkChange:
        return FieldWorkChange(self.contrib)

    def apply_field_work(self, change: FieldWorkChange, tag: str) -> None:
        """Counts committed field work in the day hashes (one atomic script call) and wakes the wall;
        `tag`: `activity_tag` of one of the activities (all written in one transaction)."""
        if not change:
            return
        keys, body = change.script_args()
        self._run_and_publish("field_work", keys, [body], tag)

    def sweep(self, now: datetime, chain_of: Callable[[str], tuple[str, ...]]) -> int:
        """Counts as overdue every open case whose deadline has passed (a case is late after
        its deadline, not at it), and schedules its first supervision notice. Cost grows with
        the cases due, not the cases open: it reads only the head of the deadline zset."""
        total = 0
        while True:
            members = self.client.zrangebyscore(self.keys.deadlines, "-inf", f"({now.timestamp()}", start=0, num=SWEEP_BATCH)
            if not members:
                return total
            change = self.change_set(CLOCK)
            for m in members:
                try:
                    change.overdue(m.decode(), chain_of, now)
                except (KeyError, ValueError):  # not a member we wrote (its grid is unknown): drop it
                    log.error("deadline sweep: dropping malformed member %r", m)
                    self.client.zrem(self.keys.deadlines, m)
            keys, body = change.script_args(self.keys)
            with self._may_lose():
                counted = self.run_script("apply", keys, [body], CLOCK)
            if counted == HELD:  # a resync holds changes for a moment: the next sweep goes on
                return total
            total += counted
            if len(members) < SWEEP_BATCH:
                if counted:
                    self.client.publish(self.keys.changed, "1")
                return total
