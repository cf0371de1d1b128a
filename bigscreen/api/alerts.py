"""/api/v1/alerts: list, raise by hand, acknowledge, resolve, escalate. Duty officers and admins
act; walls and leaders read (a leader only its area); sources may do neither."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from bigscreen.alerts.desk import LIVE_STATUSES, AlertDesk, alert_rows
from bigscreen.api.auth import api_principal
from bigscreen.api.docs import errors
from bigscreen.api.events import Id
from bigscreen.api.responses import JSON
from bigscreen.api.security import client_ip
from bigscreen.auth.context import Forbidden
from bigscreen.auth.privacy import shown_text
from bigscreen.auth.roles import Permission, Principal
from bigscreen.domain.schemas import Incoming, RowId
from bigscreen.process.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["alerts"], responses=errors(401, 403, 422))
Who = Annotated[Principal, Depends(api_principal)]


class Comment(Incoming):
    comment: Annotated[str | None, Field(max_length=1000)] = None


class NewAlert(Incoming):
    colour: Annotated[str, Field(max_length=8)]
    title: Annotated[str, Field(min_length=1, max_length=300)]
    area: Annotated[str | None, Field(max_length=32)] = None
    event_id: RowId | None = None


def _desk(request: Request, who: Principal) -> AlertDesk:
    rt: Runtime = request.app.state.runtime
    return AlertDesk(rt, who, channel="api", ip=client_ip(request))


@router.get("/alerts", summary="Alerts not yet resolved, most severe and oldest first")
async def list_alerts(request: Request, who: Who,
                      status: Annotated[str, Query(pattern=r"^(open|acknowledged|resolved)(,(open|acknowledged|resolved))*$")]
                      = ",".join(LIVE_STATUSES)):
    if not who.can(Permission.VIEW_WALL):
        raise Forbidden(f"the role '{who.role}' may not read alerts", action="alert.list", who=who)
    rt: Runtime = request.app.state.runtime
    rows = await run_in_threadpool(alert_rows, rt, statuses=tuple(status.split(",")), within=who.area)
    for row in rows:  # a title quotes the case's description: a wall or a leader reads it masked
        row["title"] = shown_text(row["title"], who)
    return JSON({"alerts": rows})


@router.post("/alerts", status_code=201, responses=errors(404), summary="Raise an alert by hand")
async def raise_alert(request: Request, body: NewAlert, who: Who):
    desk = _desk(request, who)
    return JSON(await run_in_threadpool(desk.raise_by_hand, body.colour, body.title, body.area, body.event_id), 201)


@router.post("/alerts/{alert_id}/acknowledge", responses=errors(404, 409), summary="Acknowledge: you own it, escalation stops")
async def acknowledge(request: Request, alert_id: Id, body: Comment, who: Who):
    return JSON(await run_in_threadpool(_desk(request, who).acknowledge, alert_id, body.comment))


@router.post("/alerts/{alert_id}/resolve", responses=errors(404, 409), summary="Resolve")
async def resolve(request: Request, alert_id: Id, body: Comment, who: Who):
    return JSON(await run_in_threadpool(_desk(request, who).resolve, alert_id, body.comment))


@router.post("/alerts/{alert_id}/escalate", responses=errors(404, 409), summary="Escalate by hand to the next level")
async def escalate(request: Request, alert_id: Id, body: Comment, who: Who):
    return JSON(await run_in_threadpool(_desk(request, who).escalate, alert_id, body.comment))
