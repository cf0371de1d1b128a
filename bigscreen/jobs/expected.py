"""What SQL, the source of truth, says every live counter should hold at one moment."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import Connection, select

from bigscreen.cases.facts import facts
from bigscreen.cases.supervision import Supervisor
from bigscreen.db.models import Event, FieldActivity
from bigscreen.db.reading import readable_rows
from bigscreen.db.session import snapshot as snapshot_of
from bigscreen.domain.lifecycle import CLOSED_STATUSES
from bigscreen.live.contrib import DAY_KEEP
from bigscreen.live.field_work import FIELD_KINDS, ActivityFacts, FieldWorkChange
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class Expected:
    """Everything the counter keys should hold, computed from SQL at one moment."""

    hashes: dict[str, dict[str, int]]
    deadlines: dict[str, float]  # member -> deadline
    overdue: set[str]
    supervise: dict[str, float]  # subject -> when its next notice is due
    events: int
    duty: dict[str, set[str]] = field(default_factory=dict)  # duty set -> ids of the workers on duty
    activities: int = 0  # field activities counted (those of the kept days)


def expected(rt: Runtime, now: datetime, conn: Connection | None = None) -> Expected:
    """Sums every event's contribution (the same function the live path applies) and places
    each open case in the deadline zset or the overdue set as the sweep at `now` would. Reads
    through `conn` (one snapshot of SQL: `bigscreen.db.session.snapshot`) or a snapshot of its own.
    A row that cannot be read or counted is logged and left out."""
    if conn is None:
        with snapshot_of(rt.engine) as own:
            return expected(rt, now, own)
    contrib, areas = rt.contributions, rt.areas
    total: Counter = Counter()
    deadlines: dict[str, float] = {}
    overdue: set[str] = set()
    count = 0
    events = Event.__table__
    for event in readable_rows(conn, select(events), events.c.id, what="event"):
        try:
            f = facts(event, areas)
            counted = contrib.of(f, now)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            log.error("skipping event %s, its figures cannot be counted: %r", event.id, exc)
            continue
        total.update(counted)
        count += 1
        if f.status in CLOSED_STATUSES:
            continue
        w = f.waiting
        if f.deadline.timestamp() < now.timestamp():  # late after the deadline, not at it
            overdue.add(w.member)
            total.update(contrib.overdue_fields(w, f.chain, now))
        else:
            deadlines[w.member] = f.deadline.timestamp()
    supervise = Supervisor(rt).pending(conn, now)
    work, activities = field_work(rt, now, conn)
    total.update(work.expected_hashes())
    hashes: dict[str, dict[str, int]] = {}
    for (key, name), value in total.items():
        if value:
            hashes.setdefault(key, {})[name] = value
    return Expected(hashes, deadlines, overdue, supervise, count, work.expected_sets(), activities)


def field_work(rt: Runtime, now: datetime, conn: Connection) -> tuple[FieldWorkChange, int]:
    """The field work of the days whose day hashes are kept, summed by the function the live path
    applies (bigscreen.live.field_work); and how many activities that was."""
    work = FieldWorkChange(rt.contributions)
    oldest = now.astimezone(rt.tz).date() - timedelta(days=DAY_KEEP - 1)
    since = datetime.combine(oldest, time(0), tzinfo=rt.tz)
    c = FieldActivity.__table__.c
    query = select(c.id, c.kind, c.worker_id, c.grid_code, c.at).where(c.kind.in_(FIELD_KINDS), c.at >= since)
    chain_of, count = rt.areas.chain_of, 0
    for row in readable_rows(conn, query, c.id, what="field activity"):
        try:
            count += work.add(ActivityFacts(row.kind, row.worker_id, chain_of(row.grid_code), row.at), now)
        except (KeyError, ValueError, TypeError) as exc:
            log.error("skipping field activity %s, it cannot be counted: %r", row.id, exc)
    return work, count
