"""The life a case will have: its steps with their delays after the report, fitted to its time limit.

Most cases are accepted within minutes and closed well inside their time limit; a few are sent back and
redispatched, a few fail the on-site check and are reopened, about 2% are closed a little late and about 2%
stay open for days past their deadline.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from bigscreen.simulation.vocab import Profile

HOUR = 3600.0
DEFAULT_LIMIT_S = {"normal": 72 * HOUR, "urgent": 12 * HOUR, "critical": 1 * HOUR}
MAX_LIMIT_S = 30 * 24 * HOUR
# Report to close, for cases closed in time: lognormal (median seconds, sigma), then fitted inside the limit.
CLOSE_MEDIAN_S = {"normal": 2.0 * HOUR, "urgent": 1.2 * HOUR, "critical": 0.35 * HOUR}
CLOSE_SIGMA = {"normal": 0.8, "urgent": 0.6, "critical": 0.4}
# Overdue cases: some are closed a little after their deadline, some stay stuck for days (supervised, 督办).
LATE_SHARE = {"normal": 0.02, "urgent": 0.018, "critical": 0.008}
STUCK_SHARE = {"normal": 0.022, "urgent": 0.015, "critical": 0.005}
STUCK_DAYS = (1.0, 8.0)
RETURN_SHARE = 0.03      # the department sends it back, the centre redispatches it
REOPEN_SHARE = 0.02      # the on-site check fails, the department works on it again
START_SHARE = 0.85       # the others are handled straight after acceptance
RATE_SHARE = {"hotline_12345": 0.97, "citizen_snap": 0.95}
RATE_SHARE_DEFAULT = 0.90
RESOLVED_LEVELS = {"grid": 0.68, "community": 0.27, "street": 0.035, "district": 0.012, "city": 0.003}
RATINGS = {3: 0.895, 2: 0.09, 1: 0.015}
RATING_NOTES = {3: "回访群众表示满意", 2: "回访群众表示基本满意", 1: "回访群众表示不满意"}
RETURN_NOTES = ("非本部门职责，申请退回", "事项不属本单位管辖", "地址信息有误，请核实后重新派单")
VERIFY_NOTES = ("网格员现场核查，问题已解决", "现场核查属实，已整改到位", "网格员回访核实，处置完毕")
VERIFY_PHOTOS = 12       # /media/demo/verify-01.jpg ... verify-12.jpg
NEXT_ACTION = {"reported": "dispatch", "returned": "redispatch", "dispatched": "accept", "accepted": "start",
               "in_progress": "handle", "handled": "verify", "verified": "close", "closed": "rate"}
HAPPY_PATH = ("accept", "start", "handle", "verify", "close", "rate")


@dataclass(slots=True)
class Step:
    offset_s: float                 # seconds after the case's origin (its report)
    action: str
    body: dict = field(default_factory=dict)
    late: bool = False              # after the deadline: in live mode it waits for the real clock


def pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def limit_from(urgency: str, reported: float, deadline: float | None) -> float:
    """The case's time limit in seconds, from the server's deadline, or a default when that looks wrong."""
    if deadline is not None and 60 <= deadline - reported <= MAX_LIMIT_S:
        return deadline - reported
    return DEFAULT_LIMIT_S.get(urgency, DEFAULT_LIMIT_S["normal"])


# Who takes each step in the simulated city, and in whose name.
ROLE_OF = {"dispatch": "centre", "redispatch": "centre", "return": "department", "accept": "department",
           "start": "department", "handle": "department", "reopen": "centre", "verify": "grid_worker",
           "close": "centre", "rate": "citizen"}
ACTOR_OF = {"centre": "指挥中心值班员", "department": "承办部门", "grid_worker": "网格员", "citizen": "群众"}


def step_body(rng: random.Random, action: str, profile: Profile, *, channel: str = "",
              department: str | None = None) -> dict:
    """The fields a transition needs besides `action` and `at`."""
    role = ROLE_OF.get(action, "centre")
    return {"role": role, "actor": ACTOR_OF[role], **_fields(rng, action, profile, department)}


def _fields(rng: random.Random, action: str, profile: Profile, department: str | None) -> dict:
    if action == "accept":
        return {"note": "已签收"}
    if action == "start":
        return {"note": "已派员赶赴现场处置"}
    if action == "handle":
        return {"note": rng.choice(profile.done)}
    if action == "verify":
        return {"photo_url": f"/media/demo/verify-{rng.randint(1, VERIFY_PHOTOS):02d}.jpg", "note": rng.choice(VERIFY_NOTES)}
    if action == "close":
        return {"resolved_level": pick(rng, RESOLVED_LEVELS), "note": "办结"}
    if action == "rate":
        rating = pick(rng, RATINGS)
        return {"rating": rating, "note": RATING_NOTES[rating]}
    if action == "return":
        return {"note": rng.choice(RETURN_NOTES)}
    if action in ("redispatch", "dispatch"):
        return {"department": department, "note": "重新派单"} if department else {"note": "重新派单"}
    if action == "reopen":
        return {"note": "核查未通过，问题仍存在"}
    return {}


def plan_life(rng: random.Random, *, urgency: str, limit_s: float, profile: Profile, channel: str = "",
              department: str | None = None, departments: Sequence[str] = ()) -> list[Step]:
    """Steps after the automatic dispatch, with offsets in seconds after the report, strictly increasing."""
    draw = rng.random()
    late_share, stuck_share = LATE_SHARE.get(urgency, 0.02), STUCK_SHARE.get(urgency, 0.02)
    late = draw < late_share + stuck_share
    pace = min(rng.lognormvariate(0, CLOSE_SIGMA.get(urgency, 0.8)) * CLOSE_MEDIAN_S.get(urgency, 2.5 * HOUR),
               limit_s * rng.uniform(0.5, 0.9))
    close_at = max(pace, min(20 * 60, 0.4 * limit_s))
    times: list[tuple[float, str]] = []
    if rng.random() < RETURN_SHARE:
        back = close_at * rng.uniform(0.02, 0.05)
        again = back + close_at * rng.uniform(0.02, 0.05)
        times += [(back, "return"), (again, "redispatch"), (again + close_at * rng.uniform(0.01, 0.04), "accept")]
    else:
        times.append((close_at * rng.uniform(0.03, 0.12), "accept"))
    if late:
        # Accepted and started at the usual pace, then stuck until after the deadline.
        if draw < late_share:
            close_at = limit_s * rng.uniform(1.05, 1.6)
        else:
            close_at = limit_s + rng.uniform(*STUCK_DAYS) * 24 * HOUR
        handled = limit_s + (close_at - limit_s) * rng.uniform(0.3, 0.7)
        times.append((min(limit_s * 0.4, times[-1][0] + close_at * rng.uniform(0.02, 0.1)), "start"))
        times += [(handled, "handle"), (handled + (close_at - handled) * rng.uniform(0.4, 0.8), "verify")]
    else:
        if rng.random() < START_SHARE:
            times.append((close_at * rng.uniform(0.15, 0.3), "start"))
        if rng.random() < REOPEN_SHARE:
            times += [(close_at * rng.uniform(0.4, 0.5), "handle"), (close_at * rng.uniform(0.55, 0.65), "reopen"),
                      (close_at * rng.uniform(0.75, 0.85), "handle")]
        else:
            times.append((close_at * rng.uniform(0.6, 0.85), "handle"))
        times.append((close_at * rng.uniform(0.88, 0.97), "verify"))
    times.append((close_at, "close"))
    if rng.random() < RATE_SHARE.get(channel, RATE_SHARE_DEFAULT):
        times.append((close_at + min(72 * HOUR, rng.lognormvariate(0, 1.0) * 3 * HOUR), "rate"))

    others = [d for d in departments if d != department]
    steps: list[Step] = []
    previous = 2.0  # the automatic dispatch is stamped one second after the report
    for offset, action in times:
        offset = max(float(int(offset)), previous + 1.0)
        target = rng.choice(others) if others else department
        steps.append(Step(offset, action, step_body(rng, action, profile, channel=channel, department=target),
                          late=late and offset > limit_s))
        previous = offset
    return steps


def plan_from_status(rng: random.Random, status: str, profile: Profile, *, channel: str = "",
                     department: str | None = None, gap_s: float = 600.0) -> list[Step]:
    """A short remaining life for a case found in `status` (someone else moved it), offsets from now."""
    action = NEXT_ACTION.get(status)
    if action is None:
        return []
    chain = [action] + list(HAPPY_PATH[HAPPY_PATH.index(action) + 1:] if action in HAPPY_PATH else HAPPY_PATH)
    if chain[-1] == "rate" and rng.random() >= RATE_SHARE.get(channel, RATE_SHARE_DEFAULT):
        chain.pop()
    steps, offset = [], 0.0
    for a in chain:
        offset += gap_s * rng.uniform(0.5, 1.5)
        steps.append(Step(offset, a, step_body(rng, a, profile, channel=channel, department=department)))
    return steps
