"""The live figures of an area, read from Redis only: the numbers the wall shows."""

from __future__ import annotations

from datetime import datetime

import redis

from bigscreen.lifecycle import CLOSED_STATUSES, Status
from bigscreen.live.contrib import Contributions
from bigscreen.live.keys import Keys

KPI_NAMES = (
    "reported_today", "closed_today", "open", "overdue",
    "closure_rate", "ontime_rate", "satisfaction", "avg_handling_hours",
)


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


STATUS_FIELDS = {f"st:{s.value}": s.value for s in Status}
CLOSED_FIELDS = tuple(f"st:{s.value}" for s in CLOSED_STATUSES)


def figures(h: dict[str, int]) -> dict:
    """Rates from one hash's counters; None where nothing has happened yet."""
    reported = sum(h.get(f, 0) for f in STATUS_FIELDS)
    closed = sum(h.get(f, 0) for f in CLOSED_FIELDS)
    return {
        "reported": reported,
        "closed": closed,
        "open": reported - closed,
        "overdue": h.get("overdue", 0),
        "closure_rate": _ratio(closed, reported),
        "ontime_rate": _ratio(h.get("ontime", 0), closed + h.get("overdue", 0)),
        "satisfaction": _ratio(h.get("satisfied", 0), h.get("rated", 0)),
        "avg_handling_hours": round(h.get("handle_s", 0) / closed / 3600, 2) if closed else None,
        "by_status": {status: h.get(f, 0) for f, status in STATUS_FIELDS.items()},
    }


def ints(raw: dict[bytes, bytes]) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in raw.items()}


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
        "total": total,
        "today": today_fig,
    }
