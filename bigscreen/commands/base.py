"""What every command holds and the one shape they share.

A command is made from its input model (a request about one case, or a batch of items from one source)
and does its work in three parts, which `run()` calls in order:

- `validate()` refuses what is wrong with the input itself (422 naming the fields, 403 for a role that
  may not act), before any transaction;
- `write(conn)` is the SQL part, in the caller's transaction: it reads what it needs, refuses (409, 422)
  *before* writing anything, so a refused command leaves that transaction as it found it, and returns
  the answer;
- `publish()` moves Redis (counters, the supervision schedule, the alerts channel) for what `write`
  stored, once that is committed.

`run()` is the three with a transaction of its own. A caller that stores many commands' work in one
transaction (the demo's history, `bigscreen.simulation.local`) calls `validate()` and `write(conn)` for
each and brings Redis in line from SQL afterwards instead of calling `publish()`.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import Connection

from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)


class Command:
    rt: Runtime

    def validate(self) -> None:
        """Refuses (Problem) what is wrong with the input alone; reads nothing that a transaction guards."""

    def write(self, conn: Connection) -> Any:
        """The SQL part, in the caller's transaction; refuses before it writes. Returns the answer."""
        raise NotImplementedError

    def publish(self) -> None:
        """After the commit: moves Redis for what `write` stored (nothing when it stored nothing)."""

    def run(self) -> Any:
        self.validate()
        with self.rt.engine.begin() as conn:
            answer = self.write(conn)
        self.publish()
        return answer


class CaseCommand(Command):
    """A request about one case (event), made by `actor` through `channel`."""

    def __init__(self, rt: Runtime, event_id: int, request: Any, *, actor: str, channel: str = "api") -> None:
        self.rt = rt
        self.event_id = event_id
        self.request = request
        self.actor = actor
        self.channel = channel

    def _count(self, change) -> None:
        """Moves the live counters by a change SQL has committed. A Redis failure does not undo the
        answer (the change is stored); the figures are repaired from SQL (bigscreen.jobs.watch,
        reconcile)."""
        try:
            self.rt.live.apply(change)
        except RedisError as exc:
            log.warning("case %d stored, but its live counters were not moved: %s", self.event_id, exc)


class BatchCommand(Command):
    """Items from one source: one object, or a batch whose errors name the item's index."""

    def __init__(self, rt: Runtime, source: str, items: list, *, batch: bool) -> None:
        self.rt = rt
        self.source = source
        self.items = items
        self.batch = batch

    def _loc(self, index: int, name: str) -> list:
        return ["body", index, name] if self.batch else ["body", name]
