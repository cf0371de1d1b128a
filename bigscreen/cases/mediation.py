"""Climb a dispute up the mediation ladder (递进式调解): check the step, store it, then move the counters.

A dispute is a case whose category has `dispute: true`. `Event.dispute_rung` is its rung on
the ladder (None: not started, so the first rung) and `Event.dispute_outcome` is None until
it is settled as mediated (on that rung) or referred to court. "failed" climbs one rung.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import Connection, select, update

from bigscreen.cases.facts import EventRecord, facts, last_step_at, load_event
from bigscreen.commands.base import CaseCommand
from bigscreen.commands.checks import refuse_role, time_error
from bigscreen.db.models import Event, EventTransition, MediationStep
from bigscreen.domain.lifecycle import (
    CLOSED_STATUSES,
    MEDIATION_OUTCOMES,
    MEDIATION_ROLES,
    MEDIATION_RUNGS,
)
from bigscreen.domain.schemas import AwareDatetime, Incoming, Problem, field_error
from bigscreen.live.writer import event_tag
from bigscreen.process.runtime import Runtime


class MediationIn(Incoming):
    outcome: Annotated[str, Field(min_length=1, max_length=16, description="mediated, failed (climbs a rung) or referred (to court).")]
    rung: Annotated[str | None, Field(max_length=16, description="The rung the step was taken on; when given, it must be the current one.")] = None
    role: Annotated[str, Field(min_length=1, max_length=32, description="centre or grid_worker.")]
    actor: Annotated[str | None, Field(min_length=1, max_length=100, description="Who mediated; default: the API key's source.")] = None
    note: Annotated[str | None, Field(max_length=2000)] = None
    at: AwareDatetime | None = None


def current_rung(event: Event | EventRecord) -> str:
    return event.dispute_rung or MEDIATION_RUNGS[0]


def state(event: Event | EventRecord, dispute: bool, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """What both routes answer: where the dispute stands and the steps that led there."""
    return {
        "event_id": event.id,
        "dispute": dispute,
        "rung": current_rung(event) if dispute else None,
        "outcome": event.dispute_outcome,
        "steps": steps,
        "rungs": list(MEDIATION_RUNGS),
    }


def step_out(step: Any) -> dict[str, Any]:
    """One step as answered, from a `mediation_steps` row or the values just stored."""
    return {"rung": step.rung, "outcome": step.outcome, "at": step.at.isoformat(), "actor": step.actor,
            "role": step.role, "note": step.note}


def _steps(conn: Connection, event_id: int) -> list[Any]:
    steps = MediationStep.__table__
    return list(conn.execute(select(steps).where(steps.c.event_id == event_id).order_by(steps.c.id)))


def read_mediation(rt: Runtime, event_id: int) -> dict[str, Any]:
    with rt.engine.connect() as conn:
        event = load_event(conn, event_id)
        dispute = rt.config.category(event.category_code).dispute
        return state(event, dispute, [step_out(s) for s in _steps(conn, event_id)] if dispute else [])


class MediateDispute(CaseCommand):
    request: MediationIn
    _moved: tuple[EventRecord, EventRecord] | None = None  # (before, after) once written

    def validate(self) -> None:
        r = self.request
        errors = []
        if r.outcome not in MEDIATION_OUTCOMES:
            errors.append(field_error(["body", "outcome"], f"unknown outcome '{r.outcome}'; one of {', '.join(MEDIATION_OUTCOMES)}"))
        if r.rung is not None and r.rung not in MEDIATION_RUNGS:
            errors.append(field_error(["body", "rung"], f"unknown rung '{r.rung}'; one of {', '.join(MEDIATION_RUNGS)}"))
        if error := time_error(self.rt, r.at):
            errors.append(error)
        if errors:
            raise Problem(422, errors)
        refuse_role(r.role, MEDIATION_ROLES, "mediate a dispute")

    def write(self, conn: Connection) -> dict[str, Any]:
        r = self.request
        events, log, steps = Event.__table__, EventTransition.__table__, MediationStep.__table__
        event = load_event(conn, self.event_id)
        category = event.category_code
        if not self.rt.config.category(category).dispute:
            raise Problem(409, f"case {event.id} is not a dispute: category {category}")
        history = _steps(conn, event.id)
        if history and r.rung == history[-1].rung and r.outcome == history[-1].outcome:
            return state(event, True, [step_out(s) for s in history])  # the last step sent again: nothing changes
        if event.status in CLOSED_STATUSES:
            raise Problem(409, {"message": f"cannot mediate a case that is {event.status}", "status": event.status})
        if event.dispute_outcome is not None:
            raise Problem(409, {"message": f"the dispute is settled: {event.dispute_outcome} at {event.dispute_rung}",
                                "outcome": event.dispute_outcome, "rung": event.dispute_rung})
        rung = current_rung(event)
        if r.rung is not None and r.rung != rung:
            raise Problem(409, {"message": f"the dispute is at the {rung} rung, not {r.rung}; reload and try again",
                                "rung": rung})
        if r.outcome == "failed" and rung == MEDIATION_RUNGS[-1]:
            raise Problem(422, [field_error(["body", "outcome"],
                                            f"at the {rung} route a dispute is mediated or referred to court")])
        at = r.at or self.rt.clock()
        logged = last_step_at(conn, event.id)
        last = max([t for t in (logged, history[-1].at if history else None) if t is not None], default=None)
        if last is not None and at < last:
            raise Problem(422, [field_error(["body", "at"], f"must not be before the case's previous step at {last.isoformat()}")])
        if r.outcome == "failed":
            values = {"dispute_rung": MEDIATION_RUNGS[MEDIATION_RUNGS.index(rung) + 1], "dispute_outcome": None}
        else:
            values = {"dispute_rung": rung, "dispute_outcome": r.outcome}
        values["version"] = event.version + 1
        moved = conn.execute(
            update(events).where(events.c.id == event.id, events.c.version == event.version).values(**values)
        ).rowcount
        if moved != 1:
            raise Problem(409, {"message": "the case changed meanwhile; reload and try again"})
        step = SimpleNamespace(rung=rung, outcome=r.outcome, at=at, actor=self.actor, role=r.role, note=r.note)
        conn.execute(steps.insert().values(event_id=event.id, channel=self.channel, **vars(step)))
        conn.execute(log.insert().values(
            event_id=event.id, action="mediate", from_status=event.status, to_status=event.status,
            at=at, actor=self.actor, role=r.role, channel=self.channel, note=f"{rung}: {r.outcome}",
        ))
        after = EventRecord(**{**vars(event), **values})
        self._moved = (event, after)
        return state(after, True, [step_out(s) for s in (*history, step)])

    def publish(self) -> None:
        if self._moved is None:  # the last step sent again: nothing changed
            return
        before, after = self._moved
        change = self.rt.live.change_set(event_tag(after.id, after.version))
        change.event_changed(facts(before, self.rt.areas), facts(after, self.rt.areas), self.rt.clock())
        self._count(change)
