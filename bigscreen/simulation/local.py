"""The simulator's calls (`simulation.api.CityApi`), answered in process by the product's own commands.

`bigscreen demo` sends its history through this: the same validation and the same SQL as a source's HTTP
requests, without HTTP. Reports go through `IngestEvents` and the process's group-commit writer (which also
counts them live). `step()` takes one step through its command's `run()`, as its route does. `steps()`, for
the history, takes a step of each of many cases in one transaction: the commands' SQL parts
(`Command.write`, the transitions together through `write_transitions`) and no Redis; the caller brings
Redis in line from SQL once at the end (`bigscreen.jobs.rebuild.rebuild`). A day of the demo's history takes
seconds that way instead of a commit and a Redis call per step (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import func, select

from bigscreen.cases.facts import load_event
from bigscreen.cases.ingest import IngestEvents
from bigscreen.cases.ingest_writer import IngestWriter
from bigscreen.cases.mediation import MediateDispute, MediationIn
from bigscreen.cases.transition import TransitionEvent, write_transitions
from bigscreen.cases.whistle import ReportIn, ReportInCase, WhistleCase, WhistleIn
from bigscreen.commands.base import Command
from bigscreen.db.models import EventTransition, Whistle
from bigscreen.db.session import IN_CHUNK
from bigscreen.domain.schemas import EventIn, Problem, TransitionIn, validation_errors
from bigscreen.process.runtime import Runtime
from bigscreen.simulation.api import Progress, StepCall, repair

log = logging.getLogger("bigscreen.simulation.simulator")
EVENTS = TypeAdapter(list[EventIn])


class Answer:
    """What the simulator reads of an HTTP response: the status, the JSON and a text for its log."""

    __slots__ = ("status_code", "_data")

    def __init__(self, status_code: int, data: Any) -> None:
        self.status_code, self._data = status_code, data

    def json(self) -> Any:
        return self._data

    @property
    def text(self) -> str:
        return orjson.dumps(self._data, default=str).decode()


def _refused(exc: Problem) -> Answer:
    return Answer(exc.status, {"detail": exc.detail})


def _moved(event) -> Answer:
    return Answer(200, {"id": event.id, "status": event.status})


def _parsed(model: type[BaseModel], body: dict) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise Problem(422, validation_errors(exc)) from exc


class LocalCity:
    """The calls of `CityApi`, made as the source `source` through the commands in this process."""

    def __init__(self, rt: Runtime, source: str, *, live: bool = True) -> None:
        """`live` False: reports are stored without moving Redis either (see `IngestWriter`)."""
        self.rt, self.source = rt, source
        self.writer = IngestWriter(rt, live=live)  # reports are stored as the API stores them: the group-commit writer

    def close(self) -> None:
        self.writer.close()

    # -- reading --------------------------------------------------------------------------------------
    def areas(self, level: str) -> list[dict] | None:
        """As `GET /api/v1/areas?level=`."""
        areas = self.rt.areas
        number = areas.level_number(level)
        if number is None:
            return None
        return [{"code": a.code, "name": a.name, "level": a.level_name, "parent": a.parent_code, "kind": a.kind,
                 "lat": a.lat, "lon": a.lon} for a in areas.at_level(number)]

    def services(self) -> list[dict]:
        """As Open311's service list, the fields the simulator reads."""
        return [{"service_code": item.code, "service_name": item.name, "keywords": cat.code, "group": cat.name}
                for cat in self.rt.config.categories for item in cat.items]

    def event(self, event_id) -> dict | None:
        try:
            with self.rt.engine.connect() as conn:
                e = load_event(conn, int(event_id))
        except Problem:
            return None
        return {"id": e.id, "status": e.status, "department": e.department_code}

    def progress(self, event_ids: list[int]) -> dict[int, Progress]:
        """How far each case has come: its last step, the department of its automatic dispatch, its whistle."""
        steps, whistles = EventTransition.__table__.c, Whistle.__table__.c
        last: dict[int, float] = {}
        dispatched: dict[int, str | None] = {}
        whistled: dict[int, int] = {}
        with self.rt.engine.connect() as conn:
            for start in range(0, len(event_ids), IN_CHUNK):
                ids = event_ids[start:start + IN_CHUNK]
                for event_id, at in conn.execute(select(steps.event_id, func.max(steps.at))
                                                 .where(steps.event_id.in_(ids)).group_by(steps.event_id)):
                    last[event_id] = at.timestamp()
                dispatched.update(conn.execute(select(steps.event_id, steps.department_code)
                                               .where(steps.event_id.in_(ids), steps.action == "dispatch",
                                                      steps.role == "system")).all())
                for event_id, whistle_id in conn.execute(select(whistles.event_id, func.max(whistles.id))
                                                         .where(whistles.event_id.in_(ids)).group_by(whistles.event_id)):
                    whistled[event_id] = whistle_id
        return {i: Progress(last[i], dispatched.get(i), whistled.get(i)) for i in event_ids if i in last}

    # -- writing --------------------------------------------------------------------------------------
    def step(self, call: StepCall) -> Answer:
        """One step of a case, as its route takes it (`run()`: its own transaction, then Redis) and answers it
        (the fields the simulator reads)."""
        try:
            command, answer = self._command(call)
            return answer(command.run())
        except Problem as exc:
            return _refused(exc)

    def steps(self, calls: list[StepCall], through: Callable = map) -> list[Answer]:
        """Steps of distinct cases, their SQL parts (`Command.write`) in one transaction, and Redis left alone:
        the caller brings it in line from SQL afterwards. Their transitions are written together
        (`write_transitions`: two reads for all of them, one statement for their log rows). `through` is unused."""
        answers: list[Answer | None] = [None] * len(calls)
        moves: list[tuple[int, TransitionEvent]] = []
        with self.rt.engine.begin() as conn:
            for i, call in enumerate(calls):
                try:
                    command, answer = self._command(call)
                    command.validate()
                    if isinstance(command, TransitionEvent):
                        moves.append((i, command))
                    else:
                        answers[i] = answer(command.write(conn))
                except Problem as exc:
                    answers[i] = _refused(exc)
            for (i, _), done in zip(moves, write_transitions(conn, [c for _, c in moves])):
                answers[i] = _refused(done) if isinstance(done, Problem) else _moved(done)
        return answers

    def _command(self, call: StepCall) -> tuple[Command, Callable[[Any], Answer]]:
        rt, event_id, action, body = self.rt, int(call.event_id), call.action, call.body
        actor = body.get("actor") or self.source
        if action == "mediate":
            return MediateDispute(rt, event_id, _parsed(MediationIn, body), actor=actor), lambda state: Answer(200, state)
        if action == "whistle":
            def whistled(done) -> Answer:
                whistle, created = done
                return Answer(201 if created else 200, {"id": whistle.id, "created": created})
            return WhistleCase(rt, event_id, _parsed(WhistleIn, body), actor=actor), whistled
        if action == "report_in":
            def reported(done) -> Answer:
                _, call_done, created = done
                return Answer(200, {"whistle_id": call.whistle_id, "call_id": call_done.id, "created": created})
            return ReportInCase(rt, event_id, int(call.whistle_id), _parsed(ReportIn, body), actor=actor), reported
        request = _parsed(TransitionIn, {"action": action, **body})
        return TransitionEvent(rt, event_id, request, actor=actor, role=request.role), _moved

    def post_events(self, bodies: list[dict]) -> tuple[list[tuple[dict, dict]], int, int]:
        """As `CityApi.post_events`: (body, event) pairs, how many were new, how many were rejected. Stored by
        the process's group-commit writer, which counts them live as it does for HTTP."""
        rejected = 0
        for _ in range(3):
            if not bodies:
                break
            try:
                try:
                    items = EVENTS.validate_python(bodies)
                except ValidationError as exc:
                    raise Problem(422, validation_errors(exc)) from exc
                outcomes = IngestEvents(self.rt, self.source, items, batch=True).run(self.writer)
            except Problem as exc:
                log.warning("simulator: reports refused (%s): %s", exc.status, str(exc.detail)[:300])
                kept = repair(bodies, exc.status, exc.detail)
                rejected += len(bodies) - len(kept)
                bodies = kept
                continue
            by_id = {o.event.source_id: o for o in outcomes}
            pairs = [(b, _receipt(by_id[b["source_id"]])) for b in bodies]
            return pairs, sum(o.created for o in outcomes), rejected
        return [], 0, rejected + len(bodies)


def _receipt(outcome) -> dict:
    """What a batch answers per event (`api.events.receipt`), the fields the simulator reads."""
    e = outcome.event
    return {"id": e.id, "source_id": e.source_id, "created": outcome.created, "status": e.status,
            "department": e.department_code, "reported_at": e.reported_at.isoformat(), "deadline": e.deadline.isoformat()}
