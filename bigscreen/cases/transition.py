"""Move a case along its life: check the action is legal now, store it, then move the counters.

`write_transitions` does the SQL part of many at once (the API's steps, grouped by
bigscreen.cases.transition_writer; the demo's history: a step of each of many cases)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, update

from bigscreen.cases.facts import EventRecord, facts, last_steps_at, load_events
from bigscreen.commands.base import CaseCommand
from bigscreen.commands.checks import refuse_role, time_error
from bigscreen.db.models import Event, EventTransition
from bigscreen.domain.lifecycle import ACTIONS, RESOLUTION_LEVELS, Role, Status, allowed_actions
from bigscreen.domain.schemas import Problem, TransitionIn, field_error
from bigscreen.live.writer import event_tag
from bigscreen.process.runtime import Runtime

# Built once (the SET clause is the columns each call passes): see facts.load_event.
_MOVE = update(Event.__table__).where(Event.__table__.c.id == bindparam("event_id"),
                                      Event.__table__.c.version == bindparam("was"))
_LOG = EventTransition.__table__.insert()
PEOPLE_ROLES = frozenset(Role) - {Role.SYSTEM}  # who may send a step (the system dispatches by itself)


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
        if r.role not in PEOPLE_ROLES:
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
        if error := time_error(self.rt, r.at):
            errors.append(error)
        if errors:
            raise Problem(422, errors)
        action = ACTIONS[r.action]
        refuse_role(self.role, action.roles, f"{action.name} a case")

    def write(self, conn: Connection) -> EventRecord:
        done = write_transitions(conn, [self])[0]
        if isinstance(done, Problem):
            raise done
        return done

    def _move(self, conn: Connection, event: EventRecord, last: datetime | None, log_rows: list[dict]) -> EventRecord:
        """Checks the step against the case as stored, moves the case, and adds its log row to `log_rows`."""
        action = ACTIONS[self.request.action]
        r = self.request
        if event.status == action.target and action.target != Status.DISPATCHED:
            return event  # the same action again: idempotent, nothing changes
        if event.status not in action.sources:
            raise Problem(409, {"message": f"cannot {action.name} a case that is {event.status}",
                                "status": event.status, "allowed": allowed_actions(event.status)})
        at = r.at or self.rt.clock()
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
        moved = conn.execute(_MOVE, {"event_id": event.id, "was": event.version, **values}).rowcount
        if moved != 1:
            raise Problem(409, {"message": "the case changed meanwhile; reload and try again",
                                "status": event.status, "allowed": allowed_actions(event.status)})
        log_rows.append(dict(
            event_id=event.id, action=action.name, from_status=event.status, to_status=action.target.value,
            at=at, actor=self.actor, role=self.role, channel=self.channel, note=r.note, department_code=r.department,
        ))
        after = EventRecord(**{**vars(event), **values})
        self._moved = (event, after)
        return after

    @property
    def moved(self) -> tuple[EventRecord, EventRecord] | None:
        """The case before and after the step, once written (None: not written, or the same action again)."""
        return self._moved

    def count_into(self, change, now: datetime) -> None:
        """Adds what the written step moves to `change` (a live ChangeSet)."""
        if self._moved is not None:
            before, after = self._moved
            change.event_changed(facts(before, self.rt.areas), facts(after, self.rt.areas), now)

    def publish(self) -> None:
        if self._moved is None:  # the same action again: nothing changed
            return
        after = self._moved[1]
        change = self.rt.live.change_set(event_tag(after.id, after.version))
        self.count_into(change, self.rt.clock())
        self._count(change)


def write_transitions(conn: Connection, commands: Sequence[TransitionEvent]) -> list[EventRecord | Problem]:
    """`TransitionEvent.write` of many commands, each about a case of its own, in the caller's transaction:
    the cases and their last steps read once for all, each case moved on its version, the log rows written
    in one statement. A refused command gets its Problem in its place and writes nothing; the others go on.
    (Two commands about one case would see the case as it was before both: the second is refused with 409.)"""
    ids = [c.event_id for c in commands]
    events, lasts = load_events(conn, ids), last_steps_at(conn, ids)
    done: list[EventRecord | Problem] = []
    log_rows: list[dict] = []
    for command in commands:
        try:
            if (event := events.get(command.event_id)) is None:
                raise Problem(404, f"no event {command.event_id}")
            if isinstance(event, Problem):
                raise event
            done.append(command._move(conn, event, lasts.get(event.id), log_rows))
        except Problem as exc:
            done.append(exc)
    if log_rows:
        conn.execute(_LOG, log_rows)
    return done
