"""/api/v1: grid workers' field work (一日两巡五访): check-ins, patrols and visits, one at a time or a day's batch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from bigscreen.api.bodies import one_or_batch_schema, read_one_or_batch
from bigscreen.api.docs import also, errors
from bigscreen.api.events import RT, Area, Source
from bigscreen.api.responses import JSON
from bigscreen.cases.field_work import (
    FieldActivityIn,
    FieldActivityRecord,
    Recorded,
    record_field_activities,
    record_field_activity,
)
from bigscreen.live.field_work import KIND_NAMES, WORKFORCE_FIELDS, workforce
from bigscreen.live.kpi import named
from bigscreen.process.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["field work"], responses=errors(401, 422))


def activity_out(a: FieldActivityRecord, rt: Runtime, created: bool) -> dict[str, Any]:
    grid = rt.areas.by_code[a.grid_code]
    return {
        "id": a.id, "kind": a.kind, "kind_name": KIND_NAMES[a.kind], "worker_id": a.worker_id,
        "grid": grid.code, "grid_name": grid.name, "area_path": list(grid.chain), "at": a.at.isoformat(),
        "source": a.source, "source_id": a.source_id, "channel": a.channel, "created_at": a.created_at.isoformat(),
        "created": created,
    }


@router.post("/field-activities", openapi_extra=one_or_batch_schema("FieldActivityIn"), status_code=201,
             responses={**errors(403, 409), **also(200, "All of it was stored before")},
             summary="Record a check-in (签到上岗), patrol (巡查) or visit (走访): one (object) or a batch (array), "
                     "all or nothing; 201 when something new was stored, 200 when all of it was stored before")
async def post_field_activities(request: Request, rt: RT, source: Source):
    items, batch = await read_one_or_batch(request, FieldActivityIn, rt.settings.max_batch, "activities")
    if not batch:
        one: Recorded = await run_in_threadpool(record_field_activity, rt, source, items[0])
        return JSON(activity_out(one.activity, rt, one.created), status_code=201 if one.created else 200)
    results: list[Recorded] = await run_in_threadpool(record_field_activities, rt, source, items)
    created = sum(r.created for r in results)
    return JSON({"activities": [activity_out(r.activity, rt, r.created) for r in results],
                 "created": created, "existing": len(results) - created}, status_code=201 if created else 200)


@router.get("/field-work", responses=errors(404), summary="Today's field work of an area (default: the city): on duty, patrols, visits")
async def get_field_work(rt: RT, source: Source, info: Area):
    code, now = info.code, rt.clock()
    rt.health.check_figures()  # 503 while Redis is away or its figures are being rebuilt
    values = rt.redis.hmget(rt.keys.day(code, rt.contributions.day(now)), WORKFORCE_FIELDS)
    plan = rt.config.city.workforce
    return JSON({"area": code, "name": info.name, "level": info.level_name, "as_of": now.isoformat(),
                 **workforce(named(WORKFORCE_FIELDS, values)),
                 "patrols_per_day": plan.patrols_per_day, "visits_per_day": plan.visits_per_day})
