"""/api/v1/reports: the reports produced (on the schedule or by hand), listed and downloaded by the
people who may see their area: leaders their own area and the areas below it, duty officers and
admins every area. Walls and sources may not."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from bigscreen.api.auth import api_principal
from bigscreen.api.docs import errors
from bigscreen.api.events import Id
from bigscreen.api.responses import JSON
from bigscreen.auth.context import Forbidden
from bigscreen.auth.roles import Permission, Principal
from bigscreen.process.runtime import Runtime
from bigscreen.reports import store

router = APIRouter(prefix="/api/v1", tags=["reports"], responses=errors(401, 403, 422))
Who = Annotated[Principal, Depends(api_principal)]


def _may_read(who: Principal) -> None:
    if not who.can(Permission.VIEW_AREA):
        raise Forbidden(f"the role '{who.role}' may not read reports", action="report.read", who=who)


def visible_areas(rt: Runtime, who: Principal) -> set[str] | None:
    """The area codes whose reports `who` may read (None: all): a leader's area and those below it."""
    if who.area is None:
        return None
    return {code for code, info in rt.areas.by_code.items() if who.area in info.chain}


@router.get("/reports", summary="Reports produced, newest first (a leader: its own area and below)")
async def list_reports(request: Request, who: Who):
    _may_read(who)
    rt: Runtime = request.app.state.runtime

    def rows() -> list[dict]:
        with rt.engine.connect() as conn:
            return store.listed(conn, visible_areas(rt, who))

    listed = await run_in_threadpool(rows)
    for row in listed:
        row["produced_at"] = row["produced_at"].isoformat()
        row["area_name"] = rt.areas.by_code[row["area_code"]].name if row["area_code"] in rt.areas.by_code else None
        row["url"] = f"/api/v1/reports/{row['id']}"
    return JSON({"reports": listed})


@router.get("/reports/{report_id}", responses={**errors(404), 200: {"description": "The report file",
            "content": {media: {} for media in store.MEDIA_TYPES.values()}}}, summary="Download one report")
async def get_report(request: Request, report_id: Id, who: Who):
    _may_read(who)
    rt: Runtime = request.app.state.runtime

    def load():
        with rt.engine.connect() as conn:
            return store.content(conn, report_id)

    found = await run_in_threadpool(load)
    visible = visible_areas(rt, who)
    if found is None:
        raise HTTPException(404, f"no report {report_id}")
    meta, content = found
    if visible is not None and meta["area_code"] not in visible:
        raise Forbidden(f"report {report_id} is of area {meta['area_code']}, outside {who.area}", action="report.read",
                        subject=str(report_id), who=who)
    name = f"{meta['area_code']}-{meta['period']}.{meta['format']}"
    area = rt.areas.by_code.get(meta["area_code"])
    shown = f"{area.name if area else meta['area_code']}-{meta['period']}.{meta['format']}"
    return Response(content, media_type=store.MEDIA_TYPES[meta["format"]], headers={
        "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(shown)}"})
