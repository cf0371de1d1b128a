"""Open311 GeoReport v2 over the same model, so existing 311 clients and tools can talk to us."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from sqlalchemy import select

from bigscreen.api.auth import api_source
from bigscreen.api.bodies import validation_errors
from bigscreen.api.events import RT, ingest
from bigscreen.api.responses import JSON
from bigscreen.db.models import Event
from bigscreen.db.reading import UNREADABLE
from bigscreen.lifecycle import CLOSED_STATUSES
from bigscreen.privacy import mask_text
from bigscreen.schemas import EventIn, Problem

log = logging.getLogger(__name__)

router = APIRouter(prefix="/open311/v2", tags=["open311"])
MAX_REQUESTS = 1000


@router.get("/services.json", summary="Open311: the sub-items one can report")
async def services(rt: RT):
    return JSON([
        {"service_code": item.code, "service_name": item.name, "description": f"{cat.name} / {item.name}",
         "metadata": False, "type": "realtime", "keywords": cat.code, "group": cat.name}
        for cat in rt.config.categories for item in cat.items
    ])


def request_out(e: Event, rt) -> dict:
    """A request as Open311 lists it, to anyone (no key needed to read): personal data in the
    description masked, as on the wall."""
    item = rt.config.item(e.item_code)
    departments = {d.code: d.name for d in rt.config.departments}
    return {
        "service_request_id": str(e.id), "status": "closed" if e.status in CLOSED_STATUSES else "open",
        "status_notes": e.status, "service_name": item.name, "service_code": e.item_code,
        "description": mask_text(e.description), "agency_responsible": departments.get(e.department_code or "", ""),
        "service_notice": "", "requested_datetime": e.reported_at.isoformat(),
        "updated_datetime": (e.closed_at or e.dispatched_at or e.reported_at).isoformat(),
        "expected_datetime": e.deadline.isoformat(), "address": e.address or "",
        "address_id": "", "zipcode": "", "lat": e.lat, "long": e.lon,
        "media_url": e.photo_urls[0] if e.photo_urls else "",
    }


@router.get("/requests.json", summary="Open311: service requests, newest first")
def list_requests(
    rt: RT,
    service_request_id: Annotated[str | None, Query(max_length=2000)] = None,
    service_code: Annotated[str | None, Query(max_length=200)] = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    status: Annotated[str | None, Query(pattern="^(open|closed)(,(open|closed))?$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_REQUESTS)] = 50,
):
    q = select(Event).order_by(Event.id.desc()).limit(limit)
    if service_request_id:
        try:
            q = q.where(Event.id.in_([int(x) for x in service_request_id.split(",")]))
        except ValueError as exc:
            raise Problem(422, [{"loc": ["query", "service_request_id"], "msg": "comma-separated numbers expected", "type": "value_error"}]) from exc
    if service_code:
        q = q.where(Event.item_code.in_(service_code.split(",")))
    if start_date:
        q = q.where(Event.reported_at >= start_date)
    if end_date:
        q = q.where(Event.reported_at <= end_date)
    if status and "," not in status:
        closed = [s.value for s in CLOSED_STATUSES]
        q = q.where(Event.status.in_(closed) if status == "closed" else Event.status.not_in(closed))
    with rt.sessions() as session:
        try:
            events = session.scalars(q).all()
        except UNREADABLE:  # one row another tool left unreadable: list the others
            events = [e for i in session.scalars(q.with_only_columns(Event.id)).all() if (e := _readable(session, i))]
        return [request_out(e, rt) for e in events]


def _readable(session, event_id: int) -> Event | None:
    try:
        return session.get(Event, event_id)
    except UNREADABLE as exc:
        log.error("skipping unreadable event %s: %s", event_id, exc)
        return None


@router.get("/requests/{request_id}.json", summary="Open311: one service request")
def get_request(request_id: int, rt: RT):
    with rt.sessions() as session:
        event = session.get(Event, request_id)
    if event is None:
        raise Problem(404, f"no service request {request_id}")
    return [request_out(event, rt)]


@router.post("/requests.json", summary="Open311: report a service request (form or JSON; api_key required)")
async def post_request(request: Request, rt: RT, source: Annotated[str, Depends(api_source)]):
    if request.headers.get("content-type", "").startswith("application/json"):
        form = await request.json()
    else:
        form = dict(await request.form())
    name = " ".join(x for x in (form.get("last_name"), form.get("first_name")) if x) or None
    data = {
        "source_id": form.get("source_id") or str(uuid.uuid4()),
        "channel": "city_platform", "item": form.get("service_code"),
        "description": form.get("description") or "", "address": form.get("address_string") or None,
        "lat": form.get("lat"), "lon": form.get("long"),
        "photo_urls": [form["media_url"]] if form.get("media_url") else [],
        "reporter_name": name, "reporter_phone": form.get("phone") or None,
    }
    renamed = {"item": "service_code", "lon": "long", "address": "address_string", "photo_urls": "media_url", "reporter_phone": "phone"}
    try:
        item = EventIn.model_validate(data)
    except ValidationError as exc:
        errors = validation_errors(exc)
        for err in errors:
            if len(err["loc"]) > 1:
                err["loc"][1] = renamed.get(err["loc"][1], err["loc"][1])
        raise Problem(422, errors) from exc
    try:
        outcome = (await ingest(rt, source, [item], False))[0]
    except Problem as problem:
        if isinstance(problem.detail, list):
            for err in problem.detail:
                if len(err["loc"]) > 1:
                    err["loc"][1] = renamed.get(err["loc"][1], err["loc"][1])
        raise
    return JSON([{"service_request_id": str(outcome.event.id), "service_notice": "", "account_id": ""}],
                        status_code=201 if outcome.created else 200)
