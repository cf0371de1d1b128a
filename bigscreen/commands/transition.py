"""Move one case along its life: check the action is legal now, store it, then move the counters."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from bigscreen.commands.base import CaseCommand
from bigscreen.commands.checks import not_in_future, refuse_role
from bigscreen.commands.facts import EventRecord, facts, load_event
from bigscreen.db.models import Event, EventTransition
from bigscreen.lifecycle import ACTIONS, RESOLUTION_LEVELS, Role, Status, allowed_actions
from bigscreen.live.writer import event_tag
from bigscreen.runtime import Runtime
from bigscreen.schemas import Problem, TransitionIn, field_error


class TransitionEvent(CaseCommand):
    request: TransitionIn
    _moved: tuple[EventRecord, EventRecord] | None = None  # (before, after) once written

    def __init__(self, rt: Runtime, event_id: int, request: TransitionIn, *, actor: str, role: str, channel: str = "api") -> None:
        super().__init__(rt, event_id, request, actor=actor, channel=channel)
        self.role = role

    def validate(self) -> None:
        r = self.request
        errors = []
        if r.action not in ACTIONS:
            errors.append(field_error(["body", "action"], f"unknown action '{r.action}'; one of {', '.join(ACTIONS)}"))
        if r.role not in set(Role) - {Role.SYSTEM}:
            errors.append(field_error(["body", "role"], f"unknown role '{r.role}'; one of centre, department, grid_worker, citizen"))
        if r.action in ("redispatch", "dispatch") and r.department is not None and r.department not in {d.code for d in self.rt.config.departments}:
            errors.append(field_error(["body", "department"], f"unknown department '{r.department}'"))
        if r.action == "redispatch" and r.department is None:
            errors.append(field_error(["body", "department"], "required to redispatch"))
        if r.action == "verify" and not r.photo_url:
            errors.append(field_error(["body", "photo_url"], "a photo taken on site is required to verify"))
        if r.action == "close" and r.resolved_level not in RESOLUTION_LEVELS:
            errors.append(field_error(["body", "resolved_level"], f"required to close; one of {', '.join(RESOLUTION_LEVELS)}"))
        if r.action == "rate" and r.rating is None:
            errors.append(field_error(["body", "rating"], "required to rate: 3 satisfied, 2 basically satisfied, 1 dissatisfied"))
        if error := not_in_future(self.rt, r.at):
            errors.append(error)
        if errors:
            raise Problem(422, errors)
        action = ACTIONS[r.action]
        refuse_role(self.role, action.roles, f"{action.name} a case")

    def write(self, conn: Connection) -> EventRecord:
        action = ACTIONS[self.request.action]
        r = self.request
        events, log = Event.__table__, EventTransition.__table__
        event = load_event(conn, self.event_id)
        if event.status == action.target and action.target != Status.DISPATCHED:
            return event  # the same action again: idempotent, nothing changes
        if event.status not in action.sources:
            raise Problem(409, {"message": f"cannot {action.name} a case that is {event.status}",
                                "status": event.status, "allowed": allowed_actions(event.status)})
        at = r.at or self.rt.clock()
        last = conn.scalar(select(log.c.at).where(log.c.event_id == event.id).order_by(log.c.id.desc()).limit(1))
        if last is not None and at < last:
            raise Problem(422, [field_error(["body", "at"], f"must not be before the case's previous step at {last.isoformat()}")])
        values: dict = {"status": action.target.value, "version": event.version + 1}
        if action.stamp:
            values[action.stamp] = at
        if r.department:
            values["department_code"] = r.department
        if action.name == "verify":
            values["verify_photo_url"] = r.photo_url
        if action.name == "close":
            values["resolved_level"] = r.resolved_level
        if action.name == "rate":
            values["rating"] = r.rating
        moved = conn.execute(
            update(events).where(events.c.id == event.id, events.c.version == event.version).values(**values)
        ).rowcount
        if moved != 1:
            raise Problem(409, {"message": "the case changed meanwhile; reload and try again",
                                "status": event.status, "allowed": allowed_actions(event.status)})
        conn.execute(log.insert().values(
            event_id=event.id, action=action.name, from_status=event.status, to_status=action.target.value,
            at=at, actor=self.actor, role=self.role, channel=self.channel, note=r.note, department_code=r.department,
        ))
        after = EventRecord(**{**vars(event), **values})
        self._moved = (event, after)
        return after

    def publish(self) -> None:
        if self._moved is None:  # the same action again: nothing changed
            return
        before, after = self._moved
        change = self.rt.live.change_set(event_tag(after.id, after.version))
        change.event_changed(facts(before, self.rt.areas), facts(after, self.rt.areas), self.rt.clock())
        self.rt.live.apply(change)
