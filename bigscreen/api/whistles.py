"""/api/v1: whistle a case to departments (吹哨), report in (报到), and see who did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from bigscreen.api.docs import also, errors
from bigscreen.api.events import RT, Id, Source
from bigscreen.api.responses import JSON
from bigscreen.cases.whistle import (
    KIND_NAMES,
    CallRecord,
    ReportIn,
    ReportInCase,
    WhistleCase,
    WhistleIn,
    WhistleRecord,
    call_state,
    load_whistles,
)
from bigscreen.db.models import Event
from bigscreen.domain.schemas import Problem
from bigscreen.process.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["whistles"], responses=errors(401, 422))


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def call_out(c: CallRecord, report_by: datetime, rt: Runtime, now: datetime) -> dict[str, Any]:
    return {"call_id": c.id, "code": c.department, "name": rt.config.department(c.department).name,
            "reported_at": _iso(c.reported_at), "reported_by": c.reported_by, "note": c.note,
            "state": call_state(c, report_by, now)}


def whistle_out(w: WhistleRecord, rt: Runtime, now: datetime) -> dict[str, Any]:
    calls = [call_out(c, w.report_by, rt, now) for c in w.calls]
    counts = {"reported": 0, "waiting": 0, "late": 0}
    for c in calls:
        counts["reported" if c["state"].startswith("reported") else c["state"]] += 1
    return {"id": w.id, "event_id": w.event_id, "kind": w.kind, "name": KIND_NAMES[w.kind],
            "at": w.at.isoformat(), "report_by": w.report_by.isoformat(), "actor": w.actor, "role": w.role,
            "note": w.note, "departments": calls, "counts": counts}


@router.post("/events/{event_id}/whistles", status_code=201,
             responses={**errors(403, 404, 409), **also(200, "The same whistle, still open")},
             summary="Whistle a case to departments (吹哨): 201 new, 200 the same whistle still open")
async def post_whistle(event_id: Id, body: WhistleIn, rt: RT, source: Source):
    whistle, created = await run_in_threadpool(WhistleCase(rt, event_id, body, actor=body.actor or source).run)
    return JSON({**whistle_out(whistle, rt, rt.clock()), "created": created}, status_code=201 if created else 200)


@router.post("/events/{event_id}/whistles/{whistle_id}/reports", responses=errors(403, 404, 409),
             summary="A summoned department reports in (报到); again: the first report stands")
async def post_report(event_id: Id, whistle_id: Id, body: ReportIn, rt: RT, source: Source):
    command = ReportInCase(rt, event_id, whistle_id, body, actor=body.actor or source)
    whistle, call, created = await run_in_threadpool(command.run)
    return JSON({"whistle_id": whistle.id, "event_id": whistle.event_id, "report_by": whistle.report_by.isoformat(),
                 **call_out(call, whistle.report_by, rt, rt.clock()), "created": created})


@router.get("/events/{event_id}/whistles", responses=errors(404), summary="A case's whistles: who reported in, who is waited for, who is late")
async def get_whistles(event_id: Id, rt: RT, source: Source):
    whistles = await run_in_threadpool(_load, rt, event_id)
    now = rt.clock()
    return JSON({"event_id": event_id, "whistles": [whistle_out(w, rt, now) for w in whistles]})


def _load(rt: Runtime, event_id: int) -> list[WhistleRecord]:
    events = Event.__table__
    with rt.engine.connect() as conn:
        if conn.scalar(select(events.c.id).where(events.c.id == event_id)) is None:
            raise Problem(404, f"no event {event_id}")
        return load_whistles(conn, event_id)
