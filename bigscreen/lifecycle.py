"""The life of a case: statuses, the actions that move between them, and their timestamps."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    REPORTED = "reported"        # 上报
    DISPATCHED = "dispatched"    # 派单
    ACCEPTED = "accepted"        # 签收
    IN_PROGRESS = "in_progress"  # 处置中
    HANDLED = "handled"          # 已处置
    VERIFIED = "verified"        # 核查
    CLOSED = "closed"            # 办结
    RATED = "rated"              # 评价
    RETURNED = "returned"        # 退回


CLOSED_STATUSES = frozenset({Status.CLOSED, Status.RATED})
OPEN_STATUSES = frozenset(Status) - CLOSED_STATUSES


@dataclass(frozen=True)
class Action:
    name: str
    sources: frozenset[Status]
    target: Status
    stamp: str | None  # the Event column set to the transition's time


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("dispatch", frozenset({Status.REPORTED, Status.RETURNED}), Status.DISPATCHED, "dispatched_at"),
        Action("redispatch", frozenset({Status.DISPATCHED, Status.ACCEPTED, Status.RETURNED}), Status.DISPATCHED, "dispatched_at"),
        Action("return", frozenset({Status.DISPATCHED, Status.ACCEPTED}), Status.RETURNED, None),
        Action("accept", frozenset({Status.DISPATCHED}), Status.ACCEPTED, "accepted_at"),
        Action("start", frozenset({Status.ACCEPTED}), Status.IN_PROGRESS, "started_at"),
        Action("handle", frozenset({Status.ACCEPTED, Status.IN_PROGRESS}), Status.HANDLED, "handled_at"),
        Action("reopen", frozenset({Status.HANDLED}), Status.IN_PROGRESS, None),
        Action("verify", frozenset({Status.HANDLED}), Status.VERIFIED, "verified_at"),
        Action("close", frozenset({Status.VERIFIED}), Status.CLOSED, "closed_at"),
        Action("rate", frozenset({Status.CLOSED}), Status.RATED, "rated_at"),
    )
}

RESOLUTION_LEVELS = ("grid", "community", "street", "district", "city")
RATINGS = {3: "satisfied", 2: "basically_satisfied", 1: "dissatisfied"}


def allowed_actions(status: str) -> list[str]:
    return [a.name for a in ACTIONS.values() if status in a.sources]
