"""吹哨报到: the centre whistles a case to several departments; each must report in by a set time.

A whistle is one transaction: the whistle, one call per summoned department, a line in the
case's log and an alert in the kind's colour. After the commit each call waits in the
`supervise` zset until it is due (bigscreen.cases.supervision sends notices for calls still not
reported in then); reporting in takes it out again. Redis failing after a commit leaves the
answer standing: `bigscreen rebuild` refills the zset from SQL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import Field
from redis.exceptions import RedisError
from sqlalchemy import Connection, select, update

from bigscreen.alerts.desk import announcement, raise_alert
from bigscreen.auth.privacy import excerpt
from bigscreen.cases.facts import load_event
from bigscreen.cases.supervision import Supervisor, call_subject
from bigscreen.commands.base import CaseCommand
from bigscreen.commands.checks import refuse_role, time_error
from bigscreen.db.models import EventTransition, Whistle, WhistleCall
from bigscreen.domain.lifecycle import CLOSED_STATUSES, REPORT_IN_ROLES, WHISTLE_KINDS, WHISTLE_ROLES
from bigscreen.domain.schemas import AwareDatetime, Incoming, Problem, field_error
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)

KIND_NAMES = {"assembly": "集结哨", "livelihood": "民生哨", "emergency": "紧急哨"}
MAX_DEPARTMENTS = 10
DepartmentCode = Annotated[str, Field(min_length=1, max_length=32)]
Actor = Annotated[str | None, Field(min_length=1, max_length=100, description="Who acts; default: the API key's source.")]
Note = Annotated[str | None, Field(max_length=2000)]


class WhistleIn(Incoming):
    kind: Annotated[str, Field(min_length=1, max_length=16,
                               description="assembly (集结哨), livelihood (民生哨) or emergency (紧急哨).")]
    departments: Annotated[list[DepartmentCode], Field(min_length=1, max_length=MAX_DEPARTMENTS,
                                                       description="Codes of the departments summoned.")]
    role: Annotated[str, Field(min_length=1, max_length=32, description="Only the centre whistles.")]
    actor: Actor = None
    note: Note = None
    at: AwareDatetime | None = None


class ReportIn(Incoming):
    department: DepartmentCode
    role: Annotated[str, Field(min_length=1, max_length=32, description="Only a department reports in.")]
    actor: Actor = None
    note: Note = None
    at: AwareDatetime | None = None


@dataclass(frozen=True)
class CallRecord:
    id: int
    department: str
    reported_at: datetime | None
    reported_by: str | None
    note: str | None


@dataclass(frozen=True)
class WhistleRecord:
    id: int
    event_id: int
    kind: str
    at: datetime
    report_by: datetime
    actor: str
    role: str
    note: str | None
    calls: tuple[CallRecord, ...]


def call_state(call: CallRecord, report_by: datetime, now: datetime) -> str:
    """reported, reported_late, waiting (not yet, still in time) or late (not yet, past report-by)."""
    if call.reported_at is not None:
        return "reported" if call.reported_at <= report_by else "reported_late"
    return "waiting" if now <= report_by else "late"


def _call(row) -> CallRecord:
    return CallRecord(row.id, row.department_code, row.reported_at, row.reported_by, row.note)


def load_whistles(conn: Connection, event_id: int, whistle_id: int | None = None) -> list[WhistleRecord]:
    """The whistles of a case (or the one asked for, if it belongs to the case) with their calls."""
    whistles, calls = Whistle.__table__, WhistleCall.__table__
    where = [whistles.c.event_id == event_id]
    if whistle_id is not None:
        where.append(whistles.c.id == whistle_id)
    rows = conn.execute(select(whistles).where(*where).order_by(whistles.c.id)).all()
    by_whistle: dict[int, list[CallRecord]] = {r.id: [] for r in rows}
    for c in conn.execute(select(calls).where(calls.c.whistle_id.in_(by_whistle)).order_by(calls.c.id)):
        by_whistle[c.whistle_id].append(_call(c))
    return [WhistleRecord(r.id, r.event_id, r.kind, r.at, r.report_by, r.actor, r.role, r.note, tuple(by_whistle[r.id]))
            for r in rows]


class WhistleCase(CaseCommand):
    request: WhistleIn
    _scheduled: tuple[int, int, list[int], float] | None = None  # (whistle, alert, calls, when due) once written

    def validate(self) -> None:
        r = self.request
        errors = []
        configured = [k for k in WHISTLE_KINDS if k in self.rt.config.city.whistles]
        if r.kind not in configured:
            kinds = ", ".join(f"{k} ({KIND_NAMES[k]})" for k in configured)
            errors.append(field_error(["body", "kind"], f"unknown kind '{r.kind}'; one of {kinds}"))
        known = {d.code for d in self.rt.config.departments}
        seen: set[str] = set()
        for i, code in enumerate(r.departments):
            if code not in known:
                errors.append(field_error(["body", "departments", i], f"unknown department '{code}'"))
            elif code in seen:
                errors.append(field_error(["body", "departments", i], f"department '{code}' is named twice"))
            seen.add(code)
        if error := time_error(self.rt, r.at):
            errors.append(error)
        if errors:
            raise Problem(422, errors)
        refuse_role(r.role, WHISTLE_ROLES, "whistle a case")

    def write(self, conn: Connection) -> tuple[WhistleRecord, bool]:
        """The whistle and whether this request created it (False: the same whistle is still open)."""
        r = self.request
        kind = self.rt.config.city.whistles[r.kind]
        whistles, calls = Whistle.__table__, WhistleCall.__table__
        # on PostgreSQL the row lock makes a repeated whistle wait for the first, then find it
        event = load_event(conn, self.event_id, for_update=True)
        if event.status in CLOSED_STATUSES:
            raise Problem(409, {"message": f"cannot whistle a case that is {event.status}", "status": event.status})
        at = r.at or self.rt.clock()
        if at < event.reported_at:
            raise Problem(422, [field_error(["body", "at"],
                                            f"must not be before the case was reported at {event.reported_at.isoformat()}")])
        summoned = set(r.departments)
        for earlier in load_whistles(conn, event.id):
            if (earlier.kind == r.kind and {c.department for c in earlier.calls} == summoned
                    and any(c.reported_at is None for c in earlier.calls)):
                return earlier, False
        report_by = at + timedelta(minutes=kind.report_within_minutes)
        whistle_id = conn.execute(whistles.insert().values(
            event_id=event.id, kind=r.kind, at=at, report_by=report_by, actor=self.actor, role=r.role,
            channel=self.channel, note=r.note,
        )).inserted_primary_key[0]
        call_ids = [conn.execute(calls.insert().values(whistle_id=whistle_id, department_code=code)).inserted_primary_key[0]
                    for code in r.departments]
        summary = f"{KIND_NAMES[r.kind]} → {', '.join(r.departments)}"
        conn.execute(EventTransition.__table__.insert().values(
            event_id=event.id, action="whistle", from_status=event.status, to_status=event.status, at=at,
            actor=self.actor, role=r.role, channel=self.channel, note=f"{summary}\n{r.note}" if r.note else summary,
        ))
        chain = self.rt.areas.by_id[event.grid_id].chain
        alert_id = raise_alert(conn, colour=kind.colour, source="whistle", subject=f"whistle:{whistle_id}",
                               title=f"{KIND_NAMES[r.kind]}: {excerpt(event.description, 40)}",
                               area_code=chain[2] if len(chain) > 2 else None, event_id=event.id, at=at)
        # report-by plus the configured first delay (0 by default): what a rebuild schedules
        self._scheduled = (whistle_id, alert_id, call_ids, Supervisor(self.rt).due(report_by, 0).timestamp())
        return WhistleRecord(
            whistle_id, event.id, r.kind, at, report_by, self.actor, r.role, r.note,
            tuple(CallRecord(c, code, None, None, None) for c, code in zip(call_ids, r.departments)),
        ), True

    def publish(self) -> None:
        if self._scheduled is None:  # the same whistle is still open: nothing new
            return
        whistle_id, alert_id, call_ids, due = self._scheduled
        try:
            pipe = self.rt.redis.pipeline(transaction=False)
            self.rt.live.apply(self.rt.live.schedule({call_subject(c): due for c in call_ids}), pipe=pipe)
            pipe.publish(*announcement(self.rt.keys, [alert_id]))  # the wall shows alerts
            pipe.execute()
        except RedisError:  # stored in SQL: the answer stands; rebuild refills the zset
            log.exception("whistle %d stored, but its calls were not scheduled for supervision", whistle_id)


class ReportInCase(CaseCommand):
    request: ReportIn
    _call: int  # the department's call, once written

    def __init__(self, rt: Runtime, event_id: int, whistle_id: int, request: ReportIn, *, actor: str,
                 channel: str = "api") -> None:
        super().__init__(rt, event_id, request, actor=actor, channel=channel)
        self.whistle_id = whistle_id

    def validate(self) -> None:
        r = self.request
        if error := time_error(self.rt, r.at):
            raise Problem(422, [error])
        refuse_role(r.role, REPORT_IN_ROLES, "report in to a whistle")

    def write(self, conn: Connection) -> tuple[WhistleRecord, CallRecord, bool]:
        """The whistle, the department's call, and whether this request recorded the report
        (False: it had reported already, and the first report stands)."""
        r = self.request
        calls = WhistleCall.__table__
        status = load_event(conn, self.event_id).status
        found = load_whistles(conn, self.event_id, self.whistle_id)
        if not found:
            raise Problem(404, f"no whistle {self.whistle_id} on event {self.event_id}")
        whistle = found[0]
        call = next((c for c in whistle.calls if c.department == r.department), None)
        if call is None:
            summoned = ", ".join(c.department for c in whistle.calls)
            raise Problem(422, [field_error(["body", "department"],
                                            f"'{r.department}' was not summoned by this whistle; summoned: {summoned}")])
        recorded = False
        if call.reported_at is None:
            at = r.at or self.rt.clock()
            if at < whistle.at:
                raise Problem(422, [field_error(["body", "at"],
                                                f"must not be before the whistle at {whistle.at.isoformat()}")])
            recorded = conn.execute(
                update(calls).where(calls.c.id == call.id, calls.c.reported_at.is_(None))
                .values(reported_at=at, reported_by=self.actor, note=r.note)
            ).rowcount == 1
            if recorded:
                call = replace(call, reported_at=at, reported_by=self.actor, note=r.note)
                conn.execute(EventTransition.__table__.insert().values(
                    event_id=self.event_id, action="report_in", from_status=status, to_status=status, at=at,
                    actor=self.actor, role=r.role, channel=self.channel, note=r.note, department_code=r.department,
                ))
            else:  # a concurrent report of the same department won: answer with it
                call = _call(conn.execute(select(calls).where(calls.c.id == call.id)).one())
        self._call = call.id
        return whistle, call, recorded

    def publish(self) -> None:
        try:  # also on a repeat: it repairs a removal lost to an earlier Redis failure
            self.rt.live.apply(self.rt.live.schedule(unsched=[call_subject(self._call)]))
        except RedisError:
            log.exception("report of call %d stored, but it was not taken off the supervision zset", self._call)
