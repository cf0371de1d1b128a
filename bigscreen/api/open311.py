"""Open311 GeoReport v2 over the same model, so existing 311 clients and tools can talk to us."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from sqlalchemy import select

from bigscreen.api.auth import presented_key, source_of
from bigscreen.api.bodies import body_error, parse_form, parse_json, raw_body
from bigscreen.api.docs import OPEN311_CREATED, OPEN311_REQUESTS, ok, open311_errors
from bigscreen.api.events import RT, Id, ingest
from bigscreen.api.responses import JSON
from bigscreen.auth.privacy import mask_text
from bigscreen.db.models import Event
from bigscreen.db.reading import UNREADABLE, one_row, unreadable
from bigscreen.domain.lifecycle import CLOSED_STATUSES
from bigscreen.domain.schemas import MAX_ID, AwareDatetime, EventIn, Problem, field_error, validation_errors

log = logging.getLogger(__name__)
router = APIRouter(prefix="/open311/v2", tags=["open311"], responses=open311_errors(400))
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


@router.get("/requests.json", responses=ok(OPEN311_REQUESTS), summary="Open311: service requests, newest first")
def list_requests(
    rt: RT,
    service_request_id: Annotated[str | None, Query(max_length=2000)] = None,
    service_code: Annotated[str | None, Query(max_length=200)] = None,
    start_date: AwareDatetime | None = None,
    end_date: AwareDatetime | None = None,
    status: Annotated[str | None, Query(pattern="^(open|closed)(,(open|closed))?$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_REQUESTS)] = 50,
):
    q = select(Event).order_by(Event.id.desc()).limit(limit)
    if service_request_id:
        try:
            ids = [int(x) for x in service_request_id.split(",")]
        except ValueError:
            ids = []
        if not ids or not all(1 <= i <= MAX_ID for i in ids):
            raise Problem(422, [field_error(["query", "service_request_id"], "comma-separated request ids expected")])
        q = q.where(Event.id.in_(ids))
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
        except UNREADABLE as exc:  # one row another tool left unreadable: list the others
            if not unreadable(exc):
                raise
            events = [e for i in session.scalars(q.with_only_columns(Event.id)).all() if (e := _readable(session, i))]
        return [request_out(e, rt) for e in events]


def _readable(session, event_id: int) -> Event | None:
    try:
        return session.get(Event, event_id)
    except UNREADABLE as exc:
        if not unreadable(exc):
            raise
        log.error("skipping unreadable event %s: %s", event_id, exc)
        return None


@router.get("/requests/{request_id}.json", responses={**open311_errors(404, 409), **ok(OPEN311_REQUESTS)}, summary="Open311: one service request")
def get_request(request_id: Id, rt: RT):
    with rt.sessions() as session, one_row("event", request_id):
        event = session.get(Event, request_id)
    if event is None:
        raise Problem(404, f"no service request {request_id}")
    return [request_out(event, rt)]


TEXT_FIELDS = ("service_code", "description", "address_string", "media_url", "first_name", "last_name", "phone",
               "source_id", "api_key")
NUMBER_FIELDS = ("lat", "long")
RENAMED = {"item": "service_code", "lon": "long", "address": "address_string", "photo_urls": "media_url",
           "reporter_phone": "phone", "reporter_name": "first_name"}  # our field -> the Open311 field it came from
FORM, JSON_TYPE = "application/x-www-form-urlencoded", "application/json"
REQUEST_SCHEMA = {
    "type": "object",
    "properties": {
        **{name: {"type": "string"} for name in TEXT_FIELDS},
        **{name: {"oneOf": [{"type": "number"}, {"type": "string"}]} for name in NUMBER_FIELDS},
    },
    "required": ["service_code", "description"],
}


async def read_fields(request: Request) -> dict:
    """The request's fields, from a form or a JSON object: 400 for a body that is neither (or not
    UTF-8), 415 for another content type (multipart too: its parser reads bytes that are not
    UTF-8 as Latin-1)."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind == JSON_TYPE or kind.endswith("+json"):
        fields = parse_json(await raw_body(request))
        if not isinstance(fields, dict):
            raise Problem(400, body_error("must be a JSON object of the request's fields", "model_type"))
        return fields
    if kind in (FORM, ""):
        return parse_form(await raw_body(request))
    raise Problem(415, f"send the request as {FORM} or {JSON_TYPE}, not {kind}")


def _field_errors(fields: dict) -> list[dict]:
    errors = []
    for name in TEXT_FIELDS:
        if fields.get(name) is not None and not isinstance(fields[name], str):
            errors.append(field_error(["body", name], "must be text", "string_type"))
    for name in NUMBER_FIELDS:
        value = fields.get(name)
        if value in (None, ""):
            continue
        try:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError
            fields[name] = float(value)
        except (ValueError, OverflowError):
            errors.append(field_error(["body", name], "must be a number", "float_type"))
    return errors


def _renamed(errors: list[dict]) -> list[dict]:
    for err in errors:
        if len(err["loc"]) > 1:
            err["loc"][1] = RENAMED.get(err["loc"][1], err["loc"][1])
    return errors


@router.post("/requests.json", status_code=201,
             responses={**open311_errors(401, 415), **ok(OPEN311_CREATED, 201, "Stored"),
                        **ok(OPEN311_CREATED, 200, "A retry of a request stored before (same source_id)")},
             summary="Open311: report a service request (form or JSON; api_key among the fields, or X-API-Key)",
             openapi_extra={"requestBody": {"required": True, "content": {
                 FORM: {"schema": REQUEST_SCHEMA}, JSON_TYPE: {"schema": REQUEST_SCHEMA}}}})
async def post_request(request: Request, rt: RT):
    form = await read_fields(request)
    source = await source_of(request, presented_key(request, form))
    if errors := _field_errors(form):
        raise Problem(422, errors)
    name = " ".join(x for x in (form.get("last_name"), form.get("first_name")) if x) or None
    data = {
        "source_id": form.get("source_id") or str(uuid.uuid4()),
        "channel": "city_platform", "item": form.get("service_code"),
        "description": form.get("description") or "", "address": form.get("address_string") or None,
        "lat": form.get("lat"), "lon": form.get("long"),
        "photo_urls": [form["media_url"]] if form.get("media_url") else [],
        "reporter_name": name, "reporter_phone": form.get("phone") or None,
    }
    try:
        item = EventIn.model_validate(data)
    except ValidationError as exc:
        raise Problem(422, _renamed(validation_errors(exc))) from exc
    try:
        outcome = (await ingest(rt, request.app.state.ingest, source, [item], False))[0]
    except Problem as problem:
        if isinstance(problem.detail, list):
            _renamed(problem.detail)
        raise
    return JSON([{"service_request_id": str(outcome.event.id), "service_notice": "", "account_id": ""}],
                status_code=201 if outcome.created else 200)
