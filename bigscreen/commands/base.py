"""What every command holds: a request about one case, or a batch of items from one source."""

from __future__ import annotations

from typing import Any

from bigscreen.runtime import Runtime


class CaseCommand:
    """A request about one case (event), made by `actor` through `channel`."""

    def __init__(self, rt: Runtime, event_id: int, request: Any, *, actor: str, channel: str = "api") -> None:
        self.rt = rt
        self.event_id = event_id
        self.request = request
        self.actor = actor
        self.channel = channel


class BatchCommand:
    """Items from one source: one object, or a batch whose errors name the item's index."""

    def __init__(self, rt: Runtime, source: str, items: list, *, batch: bool) -> None:
        self.rt = rt
        self.source = source
        self.items = items
        self.batch = batch

    def _loc(self, index: int, name: str) -> list:
        return ["body", index, name] if self.batch else ["body", name]
