"""/api/v1: disputes climb the mediation ladder (递进式调解)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from bigscreen.api.docs import errors
from bigscreen.api.events import RT, Id, Source
from bigscreen.api.responses import JSON
from bigscreen.cases.mediation import MediateDispute, MediationIn, read_mediation

router = APIRouter(prefix="/api/v1", tags=["mediation"], responses=errors(401, 422))


@router.post("/events/{event_id}/mediation", responses=errors(403, 404, 409), summary="Record how mediation ended on a dispute's current rung")
async def post_mediation(event_id: Id, body: MediationIn, rt: RT, source: Source):
    command = MediateDispute(rt, event_id, body, actor=body.actor or source)
    return JSON(await run_in_threadpool(command.run))


@router.get("/events/{event_id}/mediation", responses=errors(404), summary="A dispute's rung, outcome and mediation steps")
async def get_mediation(event_id: Id, rt: RT, source: Source):
    return JSON(await run_in_threadpool(read_mediation, rt, event_id))
