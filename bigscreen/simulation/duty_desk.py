"""The demo's duty officer: answers the alerts people leave, as a staffed command centre would, and leaves
people enough to do.

An alert raised by a rule (an emergency report, a whistle, a supervision notice, a spike) and still open
`ACK_AFTER_S[colour]` seconds after it was raised (each alert 0.5–1.5 times that) is acknowledged by the
demo's duty account, through the same commands the duty desk runs (bigscreen.alerts.commands), except:
- the newest `LEFT_FOR_PEOPLE` open rule alerts, whatever their age: whoever opens the duty desk finds a
  steady few to acknowledge (once that many have been raised);
- red alerts wait longest (half an hour on average): they are the ones a person must take, and meanwhile
  they escalate to the duty chief, the district and the city as the product does when nobody answers.
An alert it acknowledged is resolved once its case is closed, or, for an alert without a case,
`RESOLVE_AFTER_S` after the acknowledgement. Alerts raised by hand, and alerts a person acknowledged, are
left to people.

Without it the wall of a demo that has run for a day shows hundreds of day-old unanswered alerts, which no
centre would tolerate. Alerts from the backfilled history are as old as their reports: the first pass
settles those whose cases are closed.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import select

from bigscreen.alerts.commands import AcknowledgeAlert, AlertNote, ResolveAlert
from bigscreen.alerts.desk import LIVE_STATUSES, alert_rows
from bigscreen.auth.roles import Principal, Role
from bigscreen.db.models import Event, User
from bigscreen.domain.lifecycle import CLOSED_STATUSES
from bigscreen.domain.schemas import Problem
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)

ACK_AFTER_S = {"red": 30 * 60, "orange": 10 * 60, "yellow": 15 * 60, "blue": 20 * 60}  # mean; each alert 0.5–1.5×
LEFT_FOR_PEOPLE = 3
RESOLVE_AFTER_S = 15 * 60
RULE_SOURCES = ("emergency", "whistle", "supervision", "spike")
TICK_S = 10.0
MAX_BACKOFF_S = 120.0
READ_AT_MOST = 2000
CLOSED = tuple(s.value for s in CLOSED_STATUSES)


def _spread(alert_id: int) -> float:
    """0.5–1.5, fixed per alert (golden-ratio steps), so answers do not come in lockstep."""
    return 0.5 + (alert_id * 0.6180339887) % 1.0


class DutyDeskSimulator:
    def __init__(self, rt: Runtime, username: str) -> None:
        self.rt = rt
        self.username = username
        self._who: Principal | None = None
        self._shown_as = ""  # how the desk names the account as an alert's owner

    def who(self) -> Principal:
        if self._who is None:
            with self.rt.sessions() as session:
                user = session.scalar(select(User).where(User.username == self.username))
            if user is None:
                raise LookupError(f"no account '{self.username}'")
            self._who = Principal("user", user.username, Role(user.role), user.area_code, user.id)
            self._shown_as = user.display_name or user.username
        return self._who

    def tick(self, now: datetime | None = None) -> tuple[int, int]:
        """One pass over the unresolved alerts; returns how many were acknowledged and resolved."""
        now = now or self.rt.clock()
        who = self.who()
        rows = [r for r in alert_rows(self.rt, statuses=LIVE_STATUSES, limit=READ_AT_MOST) if r["source"] in RULE_SOURCES]
        closed = self._closed_cases([r["event_id"] for r in rows if r["event_id"]])
        newest = sorted((r for r in rows if r["status"] == "open"), key=lambda r: (_at(r["raised_at"]), r["id"]))
        left = {r["id"] for r in newest[-LEFT_FOR_PEOPLE:]}
        acknowledged = resolved = 0
        for r in rows:
            try:
                if (r["status"] == "open" and r["id"] not in left
                        and now >= _at(r["raised_at"]) + timedelta(seconds=ACK_AFTER_S[r["colour"]] * _spread(r["id"]))):
                    r = AcknowledgeAlert(self.rt, who, r["id"], AlertNote(comment="演示值班员签收"), channel="system").run()
                    acknowledged += 1
                if r["status"] == "acknowledged" and r["owner"] == self._shown_as and self._done(r, closed, now):
                    ResolveAlert(self.rt, who, r["id"], AlertNote(comment="已处置"), channel="system").run()
                    resolved += 1
            except Problem as exc:  # a person took or resolved it meanwhile: theirs now
                log.debug("duty desk simulation: alert %s left alone: %s", r["id"], exc)
        if acknowledged or resolved:
            log.debug("duty desk (demo): %d alert(s) acknowledged, %d resolved", acknowledged, resolved)
        return acknowledged, resolved

    def _done(self, r: dict, closed: set[int], now: datetime) -> bool:
        if r["event_id"]:
            return r["event_id"] in closed
        return now >= _at(r["acknowledged_at"]) + timedelta(seconds=RESOLVE_AFTER_S)

    def _closed_cases(self, event_ids: list[int]) -> set[int]:
        if not event_ids:
            return set()
        events = Event.__table__
        with self.rt.engine.connect() as conn:
            return set(conn.scalars(select(events.c.id).where(events.c.id.in_(set(event_ids)), events.c.status.in_(CLOSED))))

    def run(self, stop: threading.Event, every_s: float = TICK_S) -> None:
        """A pass every `every_s` until `stop`; errors are logged and retried with back-off, never fatal."""
        backoff = 0.0
        while not stop.is_set():
            try:
                self.tick()
                backoff = 0.0
            except Exception:  # the database may be busy: try again later
                backoff = min(MAX_BACKOFF_S, max(every_s, backoff * 2))
                log.exception("duty desk simulation failed; retrying in %.0f s", backoff)
            stop.wait(backoff or every_s)


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)
