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


class Role(StrEnum):
    """Who acts on a case. Web users act through their account's role (duty officers as the
    centre); API sources name the role they act for on each request."""

    CENTRE = "centre"            # 指挥中心 (dispatchers, duty officers)
    DEPARTMENT = "department"    # 承办部门
    GRID_WORKER = "grid_worker"  # 网格员
    CITIZEN = "citizen"          # 群众 (the rating after closure)
    SYSTEM = "system"            # automatic steps: dispatch by the rules at ingest


_CENTRE, _DEPT, _GRID, _CITIZEN, _SYSTEM = Role.CENTRE, Role.DEPARTMENT, Role.GRID_WORKER, Role.CITIZEN, Role.SYSTEM


@dataclass(frozen=True)
class Action:
    name: str
    sources: frozenset[Status]
    target: Status
    stamp: str | None  # the Event column set to the transition's time
    roles: frozenset[Role]  # who may take this step


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("dispatch", frozenset({Status.REPORTED, Status.RETURNED}), Status.DISPATCHED, "dispatched_at",
               frozenset({_CENTRE, _SYSTEM})),
        Action("redispatch", frozenset({Status.DISPATCHED, Status.ACCEPTED, Status.RETURNED}), Status.DISPATCHED,
               "dispatched_at", frozenset({_CENTRE})),
        Action("return", frozenset({Status.DISPATCHED, Status.ACCEPTED}), Status.RETURNED, None, frozenset({_DEPT})),
        # a grid worker may take a small case in hand himself (小事不出网格)
        Action("accept", frozenset({Status.DISPATCHED}), Status.ACCEPTED, "accepted_at", frozenset({_DEPT, _GRID})),
        Action("start", frozenset({Status.ACCEPTED}), Status.IN_PROGRESS, "started_at", frozenset({_DEPT, _GRID})),
        Action("handle", frozenset({Status.ACCEPTED, Status.IN_PROGRESS}), Status.HANDLED, "handled_at",
               frozenset({_DEPT, _GRID})),
        # verification on site failed: the case goes back into hand
        Action("reopen", frozenset({Status.HANDLED}), Status.IN_PROGRESS, None, frozenset({_CENTRE, _GRID})),
        Action("verify", frozenset({Status.HANDLED}), Status.VERIFIED, "verified_at", frozenset({_GRID, _CENTRE})),
        Action("close", frozenset({Status.VERIFIED}), Status.CLOSED, "closed_at", frozenset({_CENTRE})),
        # the citizen rates, or the centre records the rating from its call-back (回访)
        Action("rate", frozenset({Status.CLOSED}), Status.RATED, "rated_at", frozenset({_CITIZEN, _CENTRE})),
    )
}

RESOLUTION_LEVELS = ("grid", "community", "street", "district", "city")
RATINGS = {3: "satisfied", 2: "basically_satisfied", 1: "dissatisfied"}


def allowed_actions(status: str) -> list[str]:
    return [a.name for a in ACTIONS.values() if status in a.sources]


# 矛盾纠纷: the mediation ladder (递进式调解), from the lowest rung up.
MEDIATION_RUNGS = ("community", "senior", "lawyer", "judicial")  # 社区调解员, 金牌调解员, 律师, 司法途径
MEDIATION_OUTCOMES = ("mediated", "failed", "referred")  # 调解成功, 调解不成 (climbs a rung), 引导诉讼
MEDIATION_ROLES = frozenset({_CENTRE, _GRID})

# 三次督办: notices about a late case (or an unreported whistle call) go up to three levels
SUPERVISION_LEVELS = 3

# 吹哨报到
WHISTLE_KINDS = ("assembly", "livelihood", "emergency")  # 集结哨, 民生哨, 紧急哨
WHISTLE_ROLES = frozenset({_CENTRE})
REPORT_IN_ROLES = frozenset({_DEPT})

# 一日两巡五访: a grid worker's app records check-ins, patrols and visits; the centre may record them for him
FIELD_WORK_ROLES = frozenset({_GRID, _CENTRE})
