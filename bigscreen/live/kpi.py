"""The live figures of an area, read from Redis only: the numbers the wall shows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import redis

from bigscreen.domain.lifecycle import CLOSED_STATUSES, MEDIATION_RUNGS, RESOLUTION_LEVELS, Status
from bigscreen.live.contrib import Contributions
from bigscreen.live.keys import Keys

KPI_NAMES = (
    "reported_today", "closed_today", "open", "overdue",
    "closure_rate", "ontime_rate", "satisfaction", "avg_handling_hours",
    "resolved_locally_share", "mediation_success",
)
LOCAL_LEVELS = ("grid", "community")  # 小事不出网格, 大事不出社区


def ratio(num: int, den: int) -> float | None:
    """Every rate of docs/METRICS.md: a fraction rounded to 4 places, None when nothing is counted."""
    return round(num / den, 4) if den else None


def hours(seconds: int, count: int) -> float | None:
    return round(seconds / count / 3600, 2) if count else None


STATUS_FIELDS = {f"st:{s.value}": s.value for s in Status}
CLOSED_FIELDS = tuple(f"st:{s.value}" for s in CLOSED_STATUSES)
# Every field `figures` and `headline` read. A hash also holds per-category counts (`cat:{code}`),
# so a reader that needs only the figures asks for these by name.
FIGURE_FIELDS = (
    *STATUS_FIELDS, "overdue", "ontime", "satisfied", "rated", "handle_s", "fl:closed",
    *(f"lvl:{level}" for level in RESOLUTION_LEVELS), "med:mediated", "med:referred",
    *(f"med:lvl:{rung}" for rung in MEDIATION_RUNGS),
)


def standing(h: dict[str, int]) -> dict:
    """What an area is ranked by (and the first of its `figures`): cases reported, closed, open and
    overdue, and its closure and on-time rates."""
    reported = sum(h.get(f, 0) for f in STATUS_FIELDS)
    closed = sum(h.get(f, 0) for f in CLOSED_FIELDS)
    return {
        "reported": reported,
        "closed": closed,
        "open": reported - closed,
        "overdue": h.get("overdue", 0),
        "closure_rate": ratio(closed, reported),
        "ontime_rate": ratio(h.get("ontime", 0), closed + h.get("overdue", 0)),
    }


def figures(h: dict[str, int]) -> dict:
    """Rates from one hash's counters; None where nothing has happened yet. The definitions
    are those of docs/METRICS.md (bigscreen.reports.figures computes the same from SQL)."""
    out = standing(h)
    by_level = {level: h.get(f"lvl:{level}", 0) for level in RESOLUTION_LEVELS}
    mediated, referred = h.get("med:mediated", 0), h.get("med:referred", 0)
    out.update({
        "satisfaction": ratio(h.get("satisfied", 0), h.get("rated", 0)),
        "avg_handling_hours": hours(h.get("handle_s", 0), out["closed"]),
        "resolved_locally_share": ratio(sum(by_level[lv] for lv in LOCAL_LEVELS), sum(by_level.values())),
        "mediation_success": ratio(mediated, mediated + referred),
        "by_status": {status: h.get(f, 0) for f, status in STATUS_FIELDS.items()},
        "by_level": by_level,
        "mediation": {"mediated": mediated, "referred": referred,
                      "by_rung": {rung: h.get(f"med:lvl:{rung}", 0) for rung in MEDIATION_RUNGS}},
    })
    return out


def ints(raw: dict[bytes, bytes]) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in raw.items()}


def named(fields: Sequence[str], values: Sequence[bytes | None]) -> dict[str, int]:
    """An HMGET reply as a dict, like `ints` of an HGETALL restricted to `fields`."""
    return {f: int(v) for f, v in zip(fields, values) if v is not None}


def read_kpi(client: redis.Redis, keys: Keys, contrib: Contributions, code: str, now: datetime) -> dict:
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.area(code))
    pipe.hgetall(keys.day(code, contrib.day(now)))
    whole, day = (ints(r) for r in pipe.execute())
    return headline(code, whole, day, now)


def headline(code: str, whole: dict[str, int], day: dict[str, int], now: datetime) -> dict:
    """The wall's headline figures from an area's all-time hash and today's hash."""
    total, today_fig = figures(whole), figures(day)
    return {
        "area": code,
        "as_of": now.isoformat(),
        "reported_today": today_fig["reported"],
        "closed_today": day.get("fl:closed", 0),
        "open": total["open"],
        "overdue": total["overdue"],
        "closure_rate": total["closure_rate"],
        "ontime_rate": total["ontime_rate"],
        "satisfaction": total["satisfaction"],
        "avg_handling_hours": total["avg_handling_hours"],
        "resolved_locally_share": total["resolved_locally_share"],
        "mediation_success": total["mediation_success"],
        "total": total,
        "today": today_fig,
    }
