"""/api/v1/alerts: list, raise by hand, acknowledge, resolve, escalate. Duty officers and admins
act; walls and leaders read (a leader only its area); sources may do neither."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from bigscreen.alerts.commands import AcknowledgeAlert, AlertNote, EscalateAlert, NewAlert, RaiseAlert, ResolveAlert
from bigscreen.alerts.desk import LIVE_STATUSES, alert_rows
from bigscreen.api.auth import api_principal
from bigscreen.api.docs import errors
from bigscreen.api.events import Id
from bigscreen.api.responses import JSON
from bigscreen.api.security import client_ip
from bigscreen.auth.context import Forbidden
from bigscreen.auth.privacy import shown_text
from bigscreen.auth.roles import Permission, Principal
from bigscreen.process.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["alerts"], responses=errors(401, 403, 422))
Who = Annotated[Principal, Depends(api_principal)]


def _by(request: Request) -> dict:
    return {"channel": "api", "ip": client_ip(request)}


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
    return JSON(await run_in_threadpool(RaiseAlert(request.app.state.runtime, who, body, **_by(request)).run), 201)


@router.post("/alerts/{alert_id}/acknowledge", responses=errors(404, 409), summary="Acknowledge: you own it, escalation stops")
async def acknowledge(request: Request, alert_id: Id, body: AlertNote, who: Who):
    return JSON(await run_in_threadpool(AcknowledgeAlert(request.app.state.runtime, who, alert_id, body, **_by(request)).run))


@router.post("/alerts/{alert_id}/resolve", responses=errors(404, 409), summary="Resolve")
async def resolve(request: Request, alert_id: Id, body: AlertNote, who: Who):
    return JSON(await run_in_threadpool(ResolveAlert(request.app.state.runtime, who, alert_id, body, **_by(request)).run))


@router.post("/alerts/{alert_id}/escalate", responses=errors(404, 409), summary="Escalate by hand to the next level")
async def escalate(request: Request, alert_id: Id, body: AlertNote, who: Who):
    return JSON(await run_in_threadpool(EscalateAlert(request.app.state.runtime, who, alert_id, body, **_by(request)).run))
