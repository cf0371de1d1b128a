"""What every command holds: a request about one case, or a batch of items from one source."""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError

from bigscreen.runtime import Runtime

log = logging.getLogger(__name__)


class CaseCommand:
    """A request about one case (event), made by `actor` through `channel`."""

    def __init__(self, rt: Runtime, event_id: int, request: Any, *, actor: str, channel: str = "api") -> None:
        self.rt = rt
        self.event_id = event_id
        self.request = request
        self.actor = actor
        self.channel = channel

    def _count(self, change) -> None:
        """Moves the live counters by a change SQL has committed. A Redis failure does not undo the
        answer (the change is stored); the figures are repaired from SQL (bigscreen.live.watch,
        reconcile)."""
        try:
            self.rt.live.apply(change)
        except RedisError as exc:
            log.warning("case %d stored, but its live counters were not moved: %s", self.event_id, exc)


class BatchCommand:
    """Items from one source: one object, or a batch whose errors name the item's index."""

    def __init__(self, rt: Runtime, source: str, items: list, *, batch: bool) -> None:
        self.rt = rt
        self.source = source
        self.items = items
        self.batch = batch

    def _loc(self, index: int, name: str) -> list:
        return ["body", index, name] if self.batch else ["body", name]
