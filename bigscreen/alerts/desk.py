"""Alerts (预警) in the four warning colours, as the centre keeps them: raised by rules (a repeat
within the hour is counted up, not raised again), escalated when nobody acknowledges them in time,
announced on the `alerts` channel (and `changed`, so the wall's frames are rebuilt at once), and
read as the wall and the duty desk show them. What officers do with them: bigscreen.alerts.commands.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import Connection, Dialect, and_, bindparam, case, func, or_, select, update

from bigscreen.alerts.notifications import Message, deliver
from bigscreen.auth.audit import record
from bigscreen.db.models import Alert, Notification, User
from bigscreen.db.new_rows import NewRows
from bigscreen.db.session import padded_chunks
from bigscreen.live.keys import Keys
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)

COLOURS = ("red", "orange", "yellow", "blue")  # most severe first
REPEAT_WINDOW = timedelta(hours=1)
LIVE_STATUSES = ("open", "acknowledged")       # shown until resolved
MAX_ESCALATION = 3
SEVERITY = case({c: i for i, c in enumerate(COLOURS)}, value=Alert.__table__.c.colour, else_=len(COLOURS))


@dataclass(frozen=True)
class Raise:
    """One raise of an alert (see `raise_alerts`)."""

    colour: str
    source: str
    subject: str
    title: str
    at: datetime
    area_code: str | None = None
    event_id: int | None = None


def raise_alert(conn: Connection, *, colour: str, source: str, subject: str, title: str, at: datetime,
                area_code: str | None = None, event_id: int | None = None,
                window: timedelta = REPEAT_WINDOW) -> int:
    """Opens an alert and returns its id; the same source and subject raised again within the
    window of its last raise counts up the unresolved alert instead. Runs inside the caller's
    transaction, so the alert is stored with what raised it or not at all; whoever commits
    calls `announce`."""
    return raise_alerts(conn, [Raise(colour, source, subject, title, at, area_code, event_id)], window)[0]


def raise_alerts(conn: Connection, raises: Sequence[Raise], window: timedelta = REPEAT_WINDOW) -> list[int]:
    """`raise_alert` for each of `raises` in turn, with the same outcome, in a fixed number of
    statements whatever their number (ingest raises a group's emergencies at once): one read of
    the unresolved alerts of their subjects, one insert of the alerts opened (with the repeats
    that followed already counted), one update of those counted up. Returns the alert id of each
    raise, in order."""
    if not raises:
        return []
    since = min(r.at for r in raises) - window
    by_source: dict[str, set[str]] = {}
    for r in raises:
        by_source.setdefault(r.source, set()).add(r.subject)
    # the unresolved alerts of these subjects that any raise can count up, oldest first
    candidates: dict[tuple[str, str], list[_Open]] = {}
    for source, subjects in by_source.items():
        for size, params in padded_chunks(sorted(subjects), "s"):
            rows = conn.execute(_unresolved(size), {"source": source, "since": since, **params}).all()
            for row in rows:
                candidates.setdefault((source, row.subject), []).append(_Open(row.id, row.last))
    for found in candidates.values():
        found.sort(key=lambda o: o.id)
    opened: list[_Open] = []  # new alerts, in the order they open (their ids will follow every existing one)
    chosen: list[_Open] = []
    for r in raises:
        found = candidates.setdefault((r.source, r.subject), [])
        target = next((o for o in reversed(found) if o.last >= r.at - window), None)  # the newest in its window
        if target is None:
            target = _Open(None, r.at, r)
            found.append(target)
            opened.append(target)
        else:
            target.repeats += 1
            target.last = r.at
        chosen.append(target)
    if opened:
        new_rows = [dict(colour=o.first.colour, source=o.first.source, subject=o.first.subject, title=o.first.title[:300],
                         area_code=o.first.area_code, event_id=o.first.event_id, count=1 + o.repeats, status="open",
                         raised_at=o.first.at, last_raised_at=o.last if o.repeats else None, escalation=0,
                         version=1 + o.repeats) for o in opened]
        # matched back by what tells them apart (a subject opens twice only a window apart):
        # asking RETURNING for the parameters' order would insert them one by one
        stored = _opener(conn.dialect).insert(conn, new_rows)
        ids = {(row.source, row.subject, row.raised_at): row.id for row in stored}
        for o in opened:
            o.id = ids[(o.first.source, o.first.subject, o.first.at)]
    counted = [o for found in candidates.values() for o in found if o.first is None and o.repeats]
    if counted:
        conn.execute(_COUNT_UP, [{"alert_id": o.id, "repeats": o.repeats, "at": o.last} for o in counted])
    return [o.id for o in chosen]


_ALERTS = Alert.__table__
_LAST = func.coalesce(_ALERTS.c.last_raised_at, _ALERTS.c.raised_at)
# raise_alerts' statements, built once (building one costs more than running it for a few raises)


@lru_cache(maxsize=None)
def _unresolved(size: int):
    """The unresolved alerts of a source's subjects `s0` .. `s{size-1}` (`db.session.padded_chunks`) raised or
    repeated since `since` (ingest's group commit reads it once a group)."""
    return (select(_ALERTS.c.id, _ALERTS.c.subject, _LAST.label("last"))
            .where(_ALERTS.c.source == bindparam("source"), _ALERTS.c.subject.in_([bindparam(f"s{k}") for k in range(size)]),
                   _ALERTS.c.status != "resolved", _LAST >= bindparam("since", type_=_ALERTS.c.raised_at.type)))


@lru_cache(maxsize=8)
def _opener(dialect: Dialect) -> NewRows:
    """The insert of the alerts a group of raises opens (`NewRows`: on SQLite, past SQLAlchemy's per-row work)."""
    return NewRows(dialect, _ALERTS, unique=None, returning=("id", "source", "subject", "raised_at"))


_COUNT_UP = (update(_ALERTS).where(_ALERTS.c.id == bindparam("alert_id"))
             .values(count=_ALERTS.c.count + bindparam("repeats"), last_raised_at=bindparam("at"),
                     version=_ALERTS.c.version + bindparam("repeats")))


@dataclass(eq=False)
class _Open:
    """An unresolved alert while a group of raises is worked out: stored (`id`) or about to be
    opened by its `first` raise; `repeats` raises counted it up, the last at `last`."""

    id: int | None
    last: datetime
    first: Raise | None = None
    repeats: int = 0


def _ranked(place: tuple[int, datetime, int], later: bool):
    """The alerts that come after (`later`) or before this place, (severity, raised_at, id), in the
    order the wall shows them (`alert_rows`)."""
    severity, raised_at, alert_id = place
    beyond = operator.gt if later else operator.lt
    alerts = Alert.__table__
    return or_(beyond(SEVERITY, severity),
               and_(SEVERITY == severity, or_(beyond(alerts.c.raised_at, raised_at),
                                              and_(alerts.c.raised_at == raised_at, beyond(alerts.c.id, alert_id)))))


def announcement(keys: Keys, alert_ids: Sequence[int]) -> tuple[str, str]:
    """The message that tells the wall that alerts changed (channel, payload): their ids, comma-separated,
    on `alerts`, in one message however many (the publisher reads each message in Python: a message per
    alert was most of its time under a stream of emergencies); without ids, "alerts" on `changed` (the
    frames are built again, no alert read again)."""
    if alert_ids:
        return keys.alerts, ",".join(map(str, alert_ids))
    return keys.changed, "alerts"


def announced_ids(payload: bytes) -> list[int]:
    """The alert ids of a message on `alerts` (`announcement`); ValueError if it is not one."""
    return [int(part) for part in payload.split(b",")]


def announce(rt: Runtime, *alert_ids: int) -> None:
    """Tells the wall and the duty desks that alerts changed (after the commit). Never raises: the
    change is stored, and a subscriber that missed the notice while Redis was away reads the
    alerts again when it resubscribes (bigscreen.wall.publisher)."""
    try:
        rt.redis.publish(*announcement(rt.keys, alert_ids))
    except RedisError as exc:
        log.warning("alerts %s stored, but not announced: %s", list(alert_ids), exc)


def escalation_target(rt: Runtime, level: int, area_code: str | None) -> str:
    """Level 1: the duty chief; 2: the leader of the alert's district; 3: the city."""
    if level == 1:
        return "duty-chief"
    area = rt.areas.by_code.get(area_code) if area_code else None
    if level == 2 and area is not None and len(area.chain) > 1:
        return f"leader:{area.chain[1]}"
    return "city"


def escalate(rt: Runtime, conn: Connection, row: Any, now: datetime) -> int:
    """Moves an alert one level up and notifies that level (inside the caller's transaction;
    the messages go out now, their record commits with the escalation)."""
    level = row.escalation + 1
    alerts = Alert.__table__
    conn.execute(update(alerts).where(alerts.c.id == row.id)
                 .values(escalation=level, escalated_at=now, version=alerts.c.version + 1))
    message = Message(row.id, level, escalation_target(rt, level, row.area_code), row.colour, row.title, row.area_code)
    for sent in deliver(rt, message):
        conn.execute(Notification.__table__.insert().values(alert_id=row.id, level=level, target=message.target,
                                                            at=now, **sent))
    return level


def escalate_unacknowledged(rt: Runtime, now: datetime | None = None) -> int:
    """The scheduled job: an alert nobody acknowledged within its colour's window goes one level
    up, and again after another window, up to the city. Returns how many moved."""
    now = now or rt.clock()
    windows = {c: timedelta(minutes=m) for c, m in rt.config.city.alerts.ack_minutes.items()}
    alerts = Alert.__table__
    moved = []
    with rt.engine.begin() as conn:
        rows = conn.execute(select(alerts).where(alerts.c.status == "open", alerts.c.escalation < MAX_ESCALATION)).all()
        for row in rows:
            since = row.escalated_at or row.raised_at
            if now - since > windows[row.colour]:
                escalate(rt, conn, row, now)
                record(rt, None, "alert.escalate", subject=str(row.id), channel="system",
                       detail={"why": "not acknowledged in time", "level": row.escalation + 1}, conn=conn)
                moved.append(row.id)
    if moved:
        announce(rt, *moved)
    return len(moved)


def alert_rows(rt: Runtime, *, ids: list[int] | None = None, statuses: tuple[str, ...] = LIVE_STATUSES,
               within: str | None = None, limit: int = 200, after: tuple[int, datetime, int] | None = None,
               before: tuple[int, datetime, int] | None = None) -> list[dict]:
    """Alerts as the wall and the duty desk show them: most severe first, then oldest first (then by
    id). `after`: only those that come after this place in that order, (severity, raised_at, id)
    (the wall's publisher tops up the alerts it holds: bigscreen.wall.publisher); `before`, with `ids`:
    only those of them that come before it (the publisher skips new alerts it could not show)."""
    alerts, users = Alert.__table__, User.__table__
    q = (select(alerts, users.c.username, users.c.display_name)
         .select_from(alerts.outerjoin(users, users.c.id == alerts.c.owner_id)))
    if ids is not None:
        q = q.where(alerts.c.id.in_(ids))
        if before is not None:
            q = q.where(_ranked(before, later=False))
    else:
        q = q.where(alerts.c.status.in_(statuses))
        if after is not None:
            q = q.where(_ranked(after, later=True))
        q = q.order_by(SEVERITY, alerts.c.raised_at, alerts.c.id).limit(limit)
    with rt.engine.connect() as conn:
        rows = conn.execute(q).all()
    out = []
    for r in rows:
        area = rt.areas.by_code.get(r.area_code) if r.area_code else None
        if within and (area is None or within not in area.chain):
            continue
        out.append({
            "id": r.id, "colour": r.colour, "source": r.source, "title": r.title, "count": r.count,
            "status": r.status, "area": r.area_code, "area_name": area.name if area else None,
            "area_chain": list(area.chain) if area else [], "event_id": r.event_id,
            "raised_at": r.raised_at.isoformat(), "last_raised_at": (r.last_raised_at or r.raised_at).isoformat(),
            "escalation": r.escalation, "owner": r.display_name or r.username,
            "acknowledged_at": r.acknowledged_at.isoformat() if r.acknowledged_at else None,
            "resolved_at": r.resolved_at.isoformat() if r.resolved_at else None, "version": r.version,
        })
    return out
