"""/api/v1: report events, move them along, read them and the live figures."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from bigscreen.api.auth import api_source
from bigscreen.api.bodies import one_or_batch_schema, read_one_or_batch
from bigscreen.api.docs import EVENT, RECEIPTS, errors, ok
from bigscreen.api.errors import clean_query
from bigscreen.api.responses import JSON
from bigscreen.cases.ingest import IngestEvents
from bigscreen.cases.ingest_writer import IngestWriter
from bigscreen.cases.supervision import case_subject
from bigscreen.cases.transition import TransitionEvent
from bigscreen.cases.transition_writer import TransitionWriter
from bigscreen.db.models import Event, EventTransition, SupervisionNotice
from bigscreen.db.reading import one_row
from bigscreen.domain.schemas import MAX_ID, EventIn, Problem, TransitionIn
from bigscreen.geo.areas import AreaInfo, NoCity
from bigscreen.live.kpi import read_kpi
from bigscreen.process.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["events"], responses=errors(401, 422))


async def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RT = Annotated[Runtime, Depends(runtime)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]  # a row id in the path: larger numbers are no row, and overflow SQL
Source = Annotated[str, Depends(api_source)]


async def query_area(rt: RT, area: Annotated[str | None, Query(max_length=32)] = None) -> AreaInfo:
    """The area a figures route asks about (`?area=`, default the whole city); 404 if unknown."""
    code = area or rt.areas.city.code
    info = rt.areas.by_code.get(code)
    if info is None:
        raise Problem(404, f"unknown area '{code}'")
    return info


Area = Annotated[AreaInfo, Depends(query_area)]


def event_out(e: Event, rt: Runtime, created: bool | None = None) -> dict[str, Any]:
    """An event as the API answers it. Its times go to orjson (JSON) as datetimes, as in `receipt`."""
    grid = rt.areas.by_id[e.grid_id]
    out = {
        "id": e.id, "source": e.source, "source_id": e.source_id, "status": e.status,
        "channel": e.channel, "category": e.category_code, "item": e.item_code, "urgency": e.urgency,
        "description": e.description, "address": e.address, "lat": e.lat, "lon": e.lon,
        "grid": grid.code, "area_path": list(grid.chain), "department": e.department_code,
        "photo_urls": e.photo_urls, "deadline": e.deadline, "reported_at": e.reported_at, "closed_at": e.closed_at,
        "rating": e.rating, "resolved_level": e.resolved_level,
    }
    if created is not None:
        out["created"] = created
    return out


def receipt(e: Event, rt: Runtime, created: bool) -> dict[str, Any]:
    """What a batch answers per event: enough to follow it up, not the whole event again. The
    times go to orjson (JSON) as datetimes: it writes them as isoformat() would, in a sixth of the time."""
    return {
        "id": e.id, "source_id": e.source_id, "created": created, "status": e.status,
        "grid": rt.areas.by_id[e.grid_id].code, "department": e.department_code,
        "reported_at": e.reported_at, "deadline": e.deadline,
    }


@router.post("/events", openapi_extra=one_or_batch_schema("EventIn"), status_code=201,
             responses={**ok(EVENT, 201, "The event, stored"),
                        **ok({"oneOf": [EVENT, RECEIPTS]}, 200, "A retry of an event stored before, or a batch")},
             summary="Report one event (object) or a batch of up to 1,000 (array)")
async def post_events(request: Request, rt: RT, source: Source):
    items, batch = await read_one_or_batch(request, EventIn, rt.settings.max_batch, "events")
    outcomes = await ingest(rt, request.app.state.ingest, source, items, batch)
    if batch:
        created = sum(o.created for o in outcomes)
        return JSON({"events": [receipt(o.event, rt, o.created) for o in outcomes],
                     "created": created, "existing": len(outcomes) - created}, status_code=200)
    o = outcomes[0]
    return JSON(event_out(o.event, rt, o.created), status_code=201 if o.created else 200)


async def post_events_lane(request: Request) -> JSON:
    """`post_events` for the fast lane (bigscreen.api.fastlane): its route's dependencies, called by hand."""
    await clean_query(request)
    return await post_events(request, await runtime(request), await api_source(request))


LANES = {("POST", "/api/v1/events"): post_events_lane}


async def ingest(rt: Runtime, writer: IngestWriter, source: str, items: list[EventIn], batch: bool) -> list:
    """Validates in the request's own task, then waits for the process's group-commit writer."""
    return await asyncio.wrap_future(IngestEvents(rt, source, items, batch=batch).submit(writer))


@router.post("/events/{event_id}/transitions", responses={**errors(403, 404, 409), **ok(EVENT)}, summary="Move a case along its life")
async def post_transition(request: Request, event_id: Id, body: TransitionIn, rt: RT, source: Source):
    writer: TransitionWriter = request.app.state.transitions  # the process's group-commit writer of steps
    event = await writer.take(TransitionEvent(rt, event_id, body, actor=body.actor or source, role=body.role))
    return JSON(event_out(event, rt))


@router.get("/events/{event_id}", responses={**errors(404, 409), **ok(EVENT)}, summary="One event")
async def get_event(event_id: Id, rt: RT, source: Source):
    event = await run_in_threadpool(_load_event, rt, event_id)
    if event is None:
        raise HTTPException(404, f"no event {event_id}")
    return JSON(event_out(event, rt))


def _load_event(rt: Runtime, event_id: int) -> Event | None:
    with rt.sessions() as session, one_row("event", event_id):
        return session.get(Event, event_id)


@router.get("/events/{event_id}/history", responses=errors(404, 409), summary="Every step of a case: who, as what, when, through which channel")
async def get_history(event_id: Id, rt: RT, source: Source):
    return JSON(await run_in_threadpool(_history, rt, event_id))


def _history(rt: Runtime, event_id: int) -> dict[str, Any]:
    with rt.sessions() as session, one_row("event", event_id):
        if session.get(Event, event_id) is None:
            raise Problem(404, f"no event {event_id}")
        steps = session.scalars(select(EventTransition).where(EventTransition.event_id == event_id)
                                .order_by(EventTransition.id)).all()
        level = session.scalar(select(func.max(SupervisionNotice.level))
                               .where(SupervisionNotice.subject == case_subject(event_id)))
    return {
        "event_id": event_id,
        "supervision_level": level or 0,
        "steps": [{"action": t.action, "from": t.from_status, "to": t.to_status, "at": t.at.isoformat(),
                   "actor": t.actor, "role": t.role, "channel": t.channel, "note": t.note,
                   "department": t.department_code} for t in steps],
    }


@router.get("/kpi", responses=errors(404), summary="Live figures of an area (default: the whole city)")
async def get_kpi(rt: RT, source: Source, info: Area):
    rt.health.check_figures()  # 503 while Redis is away or its figures are being rebuilt
    figures = read_kpi(rt.redis, rt.keys, rt.contributions, info.code, rt.clock())
    return JSON({"name": info.name, "level": info.level_name, **figures})


@router.get("/areas", summary="Areas of one level, optionally under a parent")
async def get_areas(rt: RT, source: Source, level: Annotated[str, Query(max_length=16)] = "district",
              parent: Annotated[str | None, Query(max_length=32)] = None):
    number = rt.areas.level_number(level)
    if number is None and not rt.areas.by_code:
        raise NoCity()  # 503 until a city is imported, not "unknown level"
    if number is None:
        raise Problem(422, [{"loc": ["query", "level"], "msg": f"unknown level '{level}'; one of {', '.join(rt.config.city.levels)}", "type": "value_error"}])
    return JSON([
        {"code": a.code, "name": a.name, "level": a.level_name, "parent": a.parent_code, "kind": a.kind, "lat": a.lat, "lon": a.lon}
        for a in rt.areas.at_level(number)
        if parent is None or parent in a.chain[:-1]
    ])
