"""三次督办: supervision notices for late cases and for whistled departments that did not report in.

A subject is a late case ("case:{id}") or a summoned department that has not reported in
("call:{id}"). The `supervise` zset in Redis holds each subject's next notice, scored by when
it is due: the deadline sweep adds a case when it falls overdue (deadline + the first delay),
a whistle adds its calls (report-by + the first delay). This job reads only the head of that
zset, so its cost grows with the notices due, not with the cases open.

The notices themselves are rows in SQL; the level a subject has reached and when it was last
noticed always come from those rows, so a crash between the SQL commit and the Redis update
neither repeats a notice nor sends the next one early. Level 1 goes to the department, level 2
to the case's street or district (config), level 3 to the city; each raises an alert in the
level's colour.

The three levels fall due on a timeline anchored at the subject's start (the deadline or the
report-by time): level k at start + the first k delays of the config. So when the jobs resume
after a pause or a downtime, every level that fell due meanwhile is sent at once, in order (one
alert, for the highest level, names them all), and the next keeps its place on the timeline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from bigscreen.alerts.desk import announcement, raise_alert
from bigscreen.auth.privacy import excerpt
from bigscreen.db.models import Event, EventTransition, SupervisionNotice, Whistle, WhistleCall
from bigscreen.db.reading import readable_rows
from bigscreen.domain.lifecycle import CLOSED_STATUSES, SUPERVISION_LEVELS
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)
BATCH = 200
LEVELS = SUPERVISION_LEVELS
ORDINALS = {1: "第一次", 2: "第二次", 3: "第三次"}
NUMERALS = {1: "一", 2: "二", 3: "三"}


@dataclass(frozen=True)
class Outstanding:
    """What a notice needs to know of its subject."""

    subject: str
    event_id: int
    call_id: int | None
    department: str | None
    start: datetime  # when the subject became late: the deadline or the report-by time
    chain: tuple[str, ...]
    status: str
    description: str


def case_subject(event_id: int) -> str:
    return f"case:{event_id}"


def call_subject(call_id: int) -> str:
    return f"call:{call_id}"


class Supervisor:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.cfg = rt.config.city.supervision

    def delay(self, level_reached: int) -> timedelta:
        """From the start (level 0), or from when the last level fell due, to the next level."""
        return timedelta(hours=self.cfg.delays()[level_reached])

    def due(self, start: datetime, level_reached: int) -> datetime:
        """When the level after `level_reached` falls due: the start plus the delays up to it."""
        return start + sum((self.delay(k) for k in range(level_reached + 1)), timedelta())

    def target(self, level: int, s: Outstanding) -> tuple[str, str]:
        if level == 1 and s.department:
            return "department", s.department
        if level <= 2:
            kind = self.cfg.second_level
            depth = self.rt.areas.level_number(kind)
            return kind, s.chain[min(depth, len(s.chain) - 1)]
        return "city", s.chain[0]

    def run(self, now: datetime | None = None) -> int:
        """Sends every notice whose time has passed (like a deadline: due after it, not at it);
        returns how many were sent."""
        now = now or self.rt.clock()
        sent = 0
        while True:
            members = [m.decode() for m in self.rt.redis.zrangebyscore(
                self.rt.keys.supervise, "-inf", f"({now.timestamp()}", start=0, num=BATCH)]
            if not members:
                return sent
            reschedule: dict[str, float] = {}
            drop: list[str] = []
            alerts: list[int] = []
            with self.rt.engine.begin() as conn:
                subjects = self._load(conn, members, now)
                reached = self._reached(conn, members)
                for member in members:
                    s = subjects.get(member)
                    level = reached.get(member, 0)
                    if s is None or level >= LEVELS:
                        drop.append(member)
                        continue
                    fell_due = []  # every level whose time has passed (more than one after a pause)
                    while level + len(fell_due) < LEVELS and self.due(s.start, level + len(fell_due)) < now:
                        fell_due.append(level + len(fell_due) + 1)
                    if fell_due:
                        alerts.append(self._notices(conn, s, fell_due, now))
                        sent += len(fell_due)
                        level = fell_due[-1]
                    if level < LEVELS:  # also when nothing fell due: a lost Redis update is only rescheduled
                        reschedule[member] = self.due(s.start, level).timestamp()
                    else:
                        drop.append(member)
            pipe = self.rt.redis.pipeline(transaction=False)
            if reschedule or drop:
                self.rt.live.apply(self.rt.live.schedule(reschedule, drop), pipe=pipe)
            if alerts:
                pipe.publish(*announcement(self.rt.keys, alerts))  # the wall shows alerts
            pipe.execute()
            if len(members) < BATCH:
                if sent:
                    log.info("supervision: %d notice(s) sent", sent)
                return sent

    def _notices(self, conn: Connection, s: Outstanding, levels: list[int], now: datetime) -> int:
        """Sends these levels in order (a notice and a step of the case's history each) and raises one
        alert, in the highest level's colour; returns the alert's id."""
        top = levels[-1]
        kind, target = self.target(top, s)
        what = "未按时报到" if s.call_id else "超期未办结"
        ordinal = ORDINALS[top] if len(levels) == 1 else "第" + "、".join(NUMERALS[k] for k in levels) + "次"
        # what tells one alert from the next comes first: a wall's ticker cuts a long title at its end
        title = f"{excerpt(s.description, 40)} · {ordinal}督办({what}) → {self._name(kind, target)}"
        alert_id = raise_alert(conn, colour=self.cfg.colours[top - 1], source="supervision",
                               subject=f"{s.subject}/{top}", title=title, at=now,
                               area_code=s.chain[-1], event_id=s.event_id)
        for level in levels:
            kind, target = self.target(level, s)
            conn.execute(SupervisionNotice.__table__.insert().values(
                subject=s.subject, event_id=s.event_id, whistle_call_id=s.call_id, level=level,
                target_kind=kind, target=target, at=now, alert_id=alert_id))
            conn.execute(EventTransition.__table__.insert().values(
                event_id=s.event_id, action="supervise", from_status=s.status, to_status=s.status, at=now,
                actor="督办", role="system", channel="system", note=f"{ORDINALS[level]}督办 → {self._name(kind, target)}",
                department_code=s.department))
        return alert_id

    def _name(self, kind: str, code: str) -> str:
        if kind == "department":
            return self.rt.config.department(code).name
        return self.rt.areas.by_code[code].name

    def _load(self, conn: Connection, members: list[str], now: datetime) -> dict[str, Outstanding]:
        """The subjects still outstanding: open cases past their deadline, calls not reported
        in on open cases. Anything else is dropped from the zset."""
        case_ids = [int(m[5:]) for m in members if m.startswith("case:")]
        call_ids = [int(m[5:]) for m in members if m.startswith("call:")]
        events, calls, whistles = Event.__table__, WhistleCall.__table__, Whistle.__table__
        out: dict[str, Outstanding] = {}
        chain_of = self.rt.areas.by_id
        if case_ids:
            for e in readable_rows(conn, select(events.c.id, events.c.status, events.c.deadline, events.c.grid_id,
                                                events.c.department_code, events.c.description)
                                   .where(events.c.id.in_(case_ids)), events.c.id, what="event"):
                if e.status not in CLOSED_STATUSES and e.deadline < now:
                    out[case_subject(e.id)] = Outstanding(case_subject(e.id), e.id, None, e.department_code,
                                                          e.deadline, chain_of[e.grid_id].chain, e.status, e.description)
        if call_ids:
            rows = conn.execute(
                select(calls.c.id, calls.c.department_code, calls.c.reported_at, whistles.c.report_by,
                       events.c.id.label("event_id"), events.c.status, events.c.grid_id, events.c.description)
                .join(whistles, whistles.c.id == calls.c.whistle_id).join(events, events.c.id == whistles.c.event_id)
                .where(calls.c.id.in_(call_ids)))
            for c in rows:
                if c.reported_at is None and c.status not in CLOSED_STATUSES and c.report_by < now:
                    out[call_subject(c.id)] = Outstanding(call_subject(c.id), c.event_id, c.id, c.department_code,
                                                          c.report_by, chain_of[c.grid_id].chain, c.status, c.description)
        return out

    @staticmethod
    def _reached(conn: Connection, members: list[str]) -> dict[str, int]:
        notices = SupervisionNotice.__table__
        rows = conn.execute(select(notices.c.subject, func.max(notices.c.level))
                            .where(notices.c.subject.in_(members)).group_by(notices.c.subject))
        return {r[0]: r[1] for r in rows}

    def pending(self, conn: Connection, now: datetime) -> dict[str, float]:
        """Every subject's next notice as the zset should hold it, from SQL alone (rebuild and
        reconcile). Cases not yet overdue are absent: the sweep adds them when they fall due."""
        events, calls, whistles, notices = (Event.__table__, WhistleCall.__table__, Whistle.__table__,
                                            SupervisionNotice.__table__)
        reached = {r[0]: r[1] for r in conn.execute(
            select(notices.c.subject, func.max(notices.c.level)).group_by(notices.c.subject))}
        starts: dict[str, datetime] = {}
        for e in readable_rows(conn, select(events.c.id, events.c.deadline)
                               .where(events.c.status.notin_([s.value for s in CLOSED_STATUSES]), events.c.deadline < now),
                               events.c.id, what="event"):
            starts[case_subject(e.id)] = e.deadline
        for c in conn.execute(select(calls.c.id, whistles.c.report_by)
                              .join(whistles, whistles.c.id == calls.c.whistle_id)
                              .join(events, events.c.id == whistles.c.event_id)
                              .where(calls.c.reported_at.is_(None),
                                     events.c.status.notin_([s.value for s in CLOSED_STATUSES]))):
            starts[call_subject(c.id)] = c.report_by
        out: dict[str, float] = {}
        for subject, start in starts.items():
            level = reached.get(subject, 0)
            if level < LEVELS:
                out[subject] = self.due(start, level).timestamp()
        return out


def supervise(rt: Runtime) -> int:
    """The scheduled job."""
    return Supervisor(rt).run()
