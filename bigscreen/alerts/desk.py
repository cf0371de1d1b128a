"""Alerts (预警) in the four warning colours: raised by rules or by hand, counted up when they
repeat, acknowledged (the acknowledger owns it and escalation stops), resolved, escalated.

Every change is one SQL transaction with its audit entry, then a message on the `alerts`
channel (and `changed`, so the wall's frames are rebuilt at once). Two officers acknowledging
the same alert at the same moment: the conditional UPDATE lets exactly one win; the other is
told who did.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import Connection, bindparam, case, func, select, update

from bigscreen.alerts.notifications import Message, deliver
from bigscreen.auth.audit import record
from bigscreen.auth.context import Forbidden
from bigscreen.auth.roles import Permission, Principal
from bigscreen.db.models import Acknowledgement, Alert, Notification, User
from bigscreen.domain.schemas import Problem, field_error
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)

COLOURS = ("red", "orange", "yellow", "blue")  # most severe first
REPEAT_WINDOW = timedelta(hours=1)
LIVE_STATUSES = ("open", "acknowledged")       # shown until resolved
MAX_ESCALATION = 3
IN_CHUNK = 900  # subjects per IN (..): under every database's parameter limit
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
        ordered = sorted(subjects)
        for start in range(0, len(ordered), IN_CHUNK):
            rows = conn.execute(_UNRESOLVED, {"source": source, "subjects": ordered[start : start + IN_CHUNK], "since": since}).all()
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
        stored = conn.execute(_OPEN, new_rows)
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
_UNRESOLVED = (select(_ALERTS.c.id, _ALERTS.c.subject, _LAST.label("last"))
               .where(_ALERTS.c.source == bindparam("source"), _ALERTS.c.subject.in_(bindparam("subjects", expanding=True)),
                      _ALERTS.c.status != "resolved", _LAST >= bindparam("since", type_=_ALERTS.c.raised_at.type)))
_OPEN = _ALERTS.insert().returning(_ALERTS.c.id, _ALERTS.c.source, _ALERTS.c.subject, _ALERTS.c.raised_at)
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


def announce(rt: Runtime, *alert_ids: int) -> None:
    """Tells the wall and the duty desks that alerts changed (after the commit). Never raises: the
    change is stored, and a subscriber that missed the notice while Redis was away reads the
    alerts again when it resubscribes (bigscreen.wall.publisher)."""
    try:
        pipe = rt.redis.pipeline(transaction=False)
        for alert_id in alert_ids:
            pipe.publish(rt.keys.alerts, alert_id)
        pipe.publish(rt.keys.changed, "alerts")
        pipe.execute()
    except RedisError as exc:
        log.warning("alerts %s stored, but not announced: %s", list(alert_ids), exc)


class AlertDesk:
    """What a duty officer does with alerts, checked and recorded."""

    def __init__(self, rt: Runtime, who: Principal | None, *, channel: str = "web", ip: str | None = None) -> None:
        self.rt = rt
        self.who = who
        self.channel = channel
        self.ip = ip

    def _may_act(self, action: str, alert_id: int | None = None) -> Principal:
        who = self.who
        if who is None or not who.can(Permission.ACT) or who.user_id is None:
            raise Forbidden(f"the role '{who.role if who else 'anonymous'}' may not {action} alerts",
                            action=f"alert.{action}", subject=str(alert_id) if alert_id else None, who=who)
        return who

    def _load(self, conn: Connection, alert_id: int, action: str) -> Any:
        row = conn.execute(select(Alert.__table__).where(Alert.__table__.c.id == alert_id)).first()
        if row is None:
            raise Problem(404, f"no alert {alert_id}")
        if row.area_code and row.area_code in self.rt.areas.by_code and not self.who.covers(self.rt.areas.chain_of(row.area_code)):
            raise Forbidden(f"alert {alert_id} is outside this account's area", action=f"alert.{action}",
                            subject=str(alert_id), who=self.who)
        return row

    def _audit(self, conn: Connection, action: str, alert_id: int, detail: dict | None = None) -> None:
        record(self.rt, self.who, f"alert.{action}", subject=str(alert_id), channel=self.channel, ip=self.ip,
               detail=detail, conn=conn)

    def acknowledge(self, alert_id: int, comment: str | None) -> dict:
        who = self._may_act("acknowledge", alert_id)
        alerts, now = Alert.__table__, self.rt.clock()
        with self.rt.engine.begin() as conn:
            row = self._load(conn, alert_id, "acknowledge")
            won = row.status == "open" and conn.execute(
                update(alerts).where(alerts.c.id == alert_id, alerts.c.status == "open")
                .values(status="acknowledged", owner_id=who.user_id, acknowledged_at=now, version=alerts.c.version + 1)
            ).rowcount == 1
            if won:
                conn.execute(Acknowledgement.__table__.insert().values(
                    alert_id=alert_id, user_id=who.user_id, at=now, comment=comment, channel=self.channel))
                self._audit(conn, "acknowledge", alert_id, {"comment": comment})
        if not won:
            current = self.get(alert_id)
            record(self.rt, who, "alert.acknowledge", subject=str(alert_id), outcome="refused", channel=self.channel,
                   ip=self.ip, detail={"why": f"already {current['status']}", "owner": current["owner"]})
            owner = current["owner"] or "—"
            raise Problem(409, {"message": f"alert {alert_id} was already {current['status']} by {owner}",
                                "status": current["status"], "owner": current["owner"],
                                "acknowledged_at": current["acknowledged_at"]})
        announce(self.rt, alert_id)
        return self.get(alert_id)

    def resolve(self, alert_id: int, comment: str | None) -> dict:
        who = self._may_act("resolve", alert_id)
        alerts, now = Alert.__table__, self.rt.clock()
        with self.rt.engine.begin() as conn:
            self._load(conn, alert_id, "resolve")
            done = conn.execute(
                update(alerts).where(alerts.c.id == alert_id, alerts.c.status != "resolved")
                .values(status="resolved", resolved_at=now, resolved_by_id=who.user_id,
                        owner_id=func.coalesce(alerts.c.owner_id, who.user_id), version=alerts.c.version + 1)
            ).rowcount == 1
            if done:
                self._audit(conn, "resolve", alert_id, {"comment": comment})
        if not done:
            raise Problem(409, {"message": f"alert {alert_id} is resolved already", "status": "resolved"})
        announce(self.rt, alert_id)
        return self.get(alert_id)

    def escalate(self, alert_id: int, comment: str | None) -> dict:
        self._may_act("escalate", alert_id)
        with self.rt.engine.begin() as conn:
            row = self._load(conn, alert_id, "escalate")
            if row.status == "resolved":
                raise Problem(409, {"message": f"alert {alert_id} is resolved already", "status": "resolved"})
            if row.escalation >= MAX_ESCALATION:
                raise Problem(409, {"message": f"alert {alert_id} has reached the top level", "escalation": row.escalation})
            escalate(self.rt, conn, row, self.rt.clock())
            self._audit(conn, "escalate", alert_id, {"comment": comment, "level": row.escalation + 1})
        announce(self.rt, alert_id)
        return self.get(alert_id)

    def raise_by_hand(self, colour: str, title: str, area_code: str | None, event_id: int | None = None) -> dict:
        who = self._may_act("raise")
        errors = []
        if colour not in COLOURS:
            errors.append(field_error(["body", "colour"], f"one of {', '.join(COLOURS)}"))
        if not title.strip():
            errors.append(field_error(["body", "title"], "must not be empty"))
        if area_code is not None and area_code not in self.rt.areas.by_code:
            errors.append(field_error(["body", "area"], f"unknown area '{area_code}'"))
        if errors:
            raise Problem(422, errors)
        if area_code and not who.covers(self.rt.areas.chain_of(area_code)):
            raise Forbidden("the area is outside this account's area", action="alert.raise", subject=area_code, who=who)
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            alert_id = raise_alert(conn, colour=colour, source="manual", subject=f"manual:{who.name}:{now.isoformat()}",
                                   title=title.strip(), at=now, area_code=area_code, event_id=event_id)
            self._audit(conn, "raise", alert_id, {"colour": colour, "title": title.strip()})
        announce(self.rt, alert_id)
        return self.get(alert_id)

    def get(self, alert_id: int) -> dict:
        return alert_rows(self.rt, ids=[alert_id])[0]


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
               within: str | None = None, limit: int = 200) -> list[dict]:
    """Alerts as the wall and the duty desk show them: most severe first, then oldest first."""
    alerts, users = Alert.__table__, User.__table__
    q = (select(alerts, users.c.username, users.c.display_name)
         .select_from(alerts.outerjoin(users, users.c.id == alerts.c.owner_id)))
    if ids is not None:
        q = q.where(alerts.c.id.in_(ids))
    else:
        q = q.where(alerts.c.status.in_(statuses)).order_by(SEVERITY, alerts.c.raised_at).limit(limit)
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
