"""What a duty officer does with alerts, one command each: acknowledge (the acknowledger owns it and
escalation stops), resolve, escalate by hand, and raise one by hand. The API and the duty desk run
these same commands (the shape of bigscreen.commands.base).

Every change is one SQL transaction with its audit entry, then a message on the `alerts` channel.
Two officers acknowledging the same alert at the same moment: the conditional UPDATE lets exactly
one win; the other is told who did, and the refusal is audited too.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field
from sqlalchemy import Connection, func, select, update

from bigscreen.alerts.desk import COLOURS, MAX_ESCALATION, alert_rows, announce, escalate, raise_alert
from bigscreen.auth.audit import record
from bigscreen.auth.context import Forbidden
from bigscreen.auth.roles import Permission, Principal
from bigscreen.commands.base import Command
from bigscreen.db.models import Acknowledgement, Alert
from bigscreen.domain.schemas import Incoming, Problem, RowId, field_error
from bigscreen.process.runtime import Runtime

MAX_COMMENT = 1000


class AlertNote(Incoming):
    """What an officer may add to a step on an alert."""

    comment: Annotated[str | None, Field(max_length=MAX_COMMENT)] = None


class NewAlert(Incoming):
    """An alert raised by hand."""

    colour: Annotated[str, Field(max_length=8)]
    title: Annotated[str, Field(max_length=300)]  # an empty one is refused by validate(), with the other fields
    area: Annotated[str | None, Field(max_length=32)] = None
    event_id: RowId | None = None


class AlertCommand(Command):
    """Done by `who` (a duty officer or an admin) through `channel`; answers the alert as it is after."""

    action: ClassVar[str]

    def __init__(self, rt: Runtime, who: Principal | None, *, channel: str = "web", ip: str | None = None) -> None:
        self.rt = rt
        self.who = who
        self.channel = channel
        self.ip = ip
        self.alert_id: int | None = None

    def validate(self) -> None:
        who = self.who
        if who is None or not who.can(Permission.ACT) or who.user_id is None:
            raise Forbidden(f"the role '{who.role if who else 'anonymous'}' may not {self.action} alerts",
                            action=f"alert.{self.action}", subject=str(self.alert_id) if self.alert_id else None, who=who)

    def publish(self) -> None:
        announce(self.rt, self.alert_id)

    def run(self) -> dict:
        super().run()
        return alert_rows(self.rt, ids=[self.alert_id])[0]

    def _audit(self, conn: Connection | None, detail: dict, outcome: str = "ok") -> None:
        record(self.rt, self.who, f"alert.{self.action}", subject=str(self.alert_id), outcome=outcome,
               channel=self.channel, ip=self.ip, detail=detail, conn=conn)


class AlertStep(AlertCommand):
    """A step on one alert, with the officer's comment."""

    def __init__(self, rt: Runtime, who: Principal | None, alert_id: int, request: AlertNote | None = None, *,
                 channel: str = "web", ip: str | None = None) -> None:
        super().__init__(rt, who, channel=channel, ip=ip)
        self.alert_id = alert_id
        self.request = request or AlertNote()

    def _load(self, conn: Connection) -> Any:
        """The alert (404 if none), if it lies within the officer's area (else Forbidden)."""
        alerts = Alert.__table__
        row = conn.execute(select(alerts).where(alerts.c.id == self.alert_id)).first()
        if row is None:
            raise Problem(404, f"no alert {self.alert_id}")
        areas = self.rt.areas
        if row.area_code and row.area_code in areas.by_code and not self.who.covers(areas.chain_of(row.area_code)):
            raise Forbidden(f"alert {self.alert_id} is outside this account's area", action=f"alert.{self.action}",
                            subject=str(self.alert_id), who=self.who)
        return row


class AcknowledgeAlert(AlertStep):
    action = "acknowledge"

    def write(self, conn: Connection) -> None:
        alerts, now, who = Alert.__table__, self.rt.clock(), self.who
        row = self._load(conn)
        won = row.status == "open" and conn.execute(
            update(alerts).where(alerts.c.id == self.alert_id, alerts.c.status == "open")
            .values(status="acknowledged", owner_id=who.user_id, acknowledged_at=now, version=alerts.c.version + 1)
        ).rowcount == 1
        if not won:  # nothing was written: someone else was first, or it is past acknowledging
            raise _Taken()
        conn.execute(Acknowledgement.__table__.insert().values(
            alert_id=self.alert_id, user_id=who.user_id, at=now, comment=self.request.comment, channel=self.channel))
        self._audit(conn, {"comment": self.request.comment})

    def run(self) -> dict:
        try:
            return super().run()
        except _Taken:
            current = alert_rows(self.rt, ids=[self.alert_id])[0]
            self._audit(None, {"why": f"already {current['status']}", "owner": current["owner"]}, outcome="refused")
            owner = current["owner"] or "—"
            raise Problem(409, {"message": f"alert {self.alert_id} was already {current['status']} by {owner}",
                                "status": current["status"], "owner": current["owner"],
                                "acknowledged_at": current["acknowledged_at"]}) from None


class _Taken(Exception):
    """An acknowledgement that lost: the alert was no longer open."""


class ResolveAlert(AlertStep):
    action = "resolve"

    def write(self, conn: Connection) -> None:
        alerts, now, who = Alert.__table__, self.rt.clock(), self.who
        self._load(conn)
        done = conn.execute(
            update(alerts).where(alerts.c.id == self.alert_id, alerts.c.status != "resolved")
            .values(status="resolved", resolved_at=now, resolved_by_id=who.user_id,
                    owner_id=func.coalesce(alerts.c.owner_id, who.user_id), version=alerts.c.version + 1)
        ).rowcount == 1
        if not done:
            raise Problem(409, {"message": f"alert {self.alert_id} is resolved already", "status": "resolved"})
        self._audit(conn, {"comment": self.request.comment})


class EscalateAlert(AlertStep):
    action = "escalate"

    def write(self, conn: Connection) -> None:
        row = self._load(conn)
        if row.status == "resolved":
            raise Problem(409, {"message": f"alert {self.alert_id} is resolved already", "status": "resolved"})
        if row.escalation >= MAX_ESCALATION:
            raise Problem(409, {"message": f"alert {self.alert_id} has reached the top level", "escalation": row.escalation})
        escalate(self.rt, conn, row, self.rt.clock())
        self._audit(conn, {"comment": self.request.comment, "level": row.escalation + 1})


class RaiseAlert(AlertCommand):
    action = "raise"

    def __init__(self, rt: Runtime, who: Principal | None, request: NewAlert, *, channel: str = "web",
                 ip: str | None = None) -> None:
        super().__init__(rt, who, channel=channel, ip=ip)
        self.request = request

    def validate(self) -> None:
        super().validate()
        r, areas = self.request, self.rt.areas
        errors = []
        if r.colour not in COLOURS:
            errors.append(field_error(["body", "colour"], f"one of {', '.join(COLOURS)}"))
        if not r.title.strip():
            errors.append(field_error(["body", "title"], "must not be empty"))
        if r.area is not None and r.area not in areas.by_code:
            errors.append(field_error(["body", "area"], f"unknown area '{r.area}'"))
        if errors:
            raise Problem(422, errors)
        if r.area and not self.who.covers(areas.chain_of(r.area)):
            raise Forbidden("the area is outside this account's area", action="alert.raise", subject=r.area, who=self.who)

    def write(self, conn: Connection) -> None:
        r, now, title = self.request, self.rt.clock(), self.request.title.strip()
        self.alert_id = raise_alert(conn, colour=r.colour, source="manual", subject=f"manual:{self.who.name}:{now.isoformat()}",
                                    title=title, at=now, area_code=r.area, event_id=r.event_id)
        self._audit(conn, {"colour": r.colour, "title": title})
