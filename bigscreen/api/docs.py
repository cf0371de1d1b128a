"""What the OpenAPI document says each route may answer besides success: every status a route
can give, with the body it carries. `tests/fuzz` holds the document to it."""

from __future__ import annotations

from typing import Any

FIELD_ERROR = {
    "type": "object", "required": ["loc", "msg", "type"],
    "properties": {"loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                   "msg": {"type": "string"}, "type": {"type": "string"}},
}
ERROR = {
    "type": "object", "required": ["detail"],
    "properties": {"detail": {"anyOf": [
        {"type": "string"},
        {"type": "array", "items": FIELD_ERROR},
        {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
    ]}},
}
OPEN311_ERROR = {
    "type": "array", "minItems": 1,
    "items": {"type": "object", "required": ["code", "description"],
              "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}},
}
WHY = {
    400: "The request is malformed (Open311: also every field error)",
    401: "No credentials, or unknown ones",
    403: "The caller's role may not do this",
    404: "No such case, alert, whistle or area",
    409: "The case is not in a state that allows this (the body says which, and what is allowed)",
    413: "The body, or the batch, is too large",
    415: "The body is neither a form nor JSON",
    422: "A field is missing or wrong; each error names its field",
    503: "The database or Redis is unavailable; nothing was stored (Retry-After)",
    507: "The database's disk is full; nothing was stored (Retry-After)",
}
ALWAYS = (413, 503, 507)  # any route: the body limit, and an outage (bigscreen.api.outages)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of an /api/v1 route that may answer these statuses (and those of ALWAYS)."""
    return {s: {"description": WHY[s], "content": {"application/json": {"schema": ERROR}}}
            for s in sorted({*statuses, *ALWAYS})}


def open311_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of an Open311 route: the errors in Open311's format, 400 for every field error."""
    return {s: {"description": WHY[s], "content": {"application/json": {"schema": OPEN311_ERROR}}}
            for s in sorted({*statuses, *ALWAYS})}


def also(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    """A second success status (e.g. 200 for a retry of what answered 201 first)."""
    return {status: {"description": description}}


def ok(schema: dict[str, Any], status: int = 200, description: str = "Successful Response") -> dict[int | str, dict[str, Any]]:
    """A success status with the body it carries."""
    return {status: {"description": description, "content": {"application/json": {"schema": schema}}}}


_TEXT, _TIME, _NUMBER = {"type": "string"}, {"type": "string", "format": "date-time"}, {"type": "number"}
_MAYBE_TEXT, _MAYBE_TIME = {"type": ["string", "null"]}, {"type": ["string", "null"], "format": "date-time"}
EVENT = {
    "type": "object",
    "required": ["id", "source", "source_id", "status", "channel", "category", "item", "urgency", "description",
                 "lat", "lon", "grid", "area_path", "department", "deadline", "reported_at"],
    "properties": {
        "id": {"type": "integer"}, "source": _TEXT, "source_id": _TEXT, "status": _TEXT, "channel": _TEXT,
        "category": _TEXT, "item": _TEXT, "urgency": _TEXT, "description": _TEXT, "address": _MAYBE_TEXT,
        "lat": _NUMBER, "lon": _NUMBER, "grid": _TEXT, "area_path": {"type": "array", "items": _TEXT},
        "department": _MAYBE_TEXT, "photo_urls": {"type": "array", "items": _TEXT}, "deadline": _TIME,
        "reported_at": _TIME, "closed_at": _MAYBE_TIME, "rating": {"type": ["integer", "null"]},
        "resolved_level": _MAYBE_TEXT, "created": {"type": "boolean"},
    },
}
RECEIPTS = {
    "type": "object", "required": ["events", "created", "existing"],
    "properties": {"created": {"type": "integer"}, "existing": {"type": "integer"}, "events": {"type": "array", "items": {
        "type": "object", "required": ["id", "source_id", "created", "status", "grid", "reported_at", "deadline"],
        "properties": {"id": {"type": "integer"}, "source_id": _TEXT, "created": {"type": "boolean"}, "status": _TEXT,
                       "grid": _TEXT, "department": _MAYBE_TEXT, "reported_at": _TIME, "deadline": _TIME}}}},
}
OPEN311_REQUEST = {
    "type": "object", "required": ["service_request_id", "status", "service_code", "requested_datetime"],
    "properties": {"service_request_id": _TEXT, "status": {"enum": ["open", "closed"]}, "status_notes": _TEXT,
                   "service_name": _TEXT, "service_code": _TEXT, "description": _TEXT, "agency_responsible": _TEXT,
                   "requested_datetime": _TIME, "updated_datetime": _TIME, "expected_datetime": _TIME,
                   "address": _TEXT, "lat": _NUMBER, "long": _NUMBER, "media_url": _TEXT},
}
OPEN311_REQUESTS = {"type": "array", "items": OPEN311_REQUEST}
OPEN311_CREATED = {"type": "array", "minItems": 1, "items": {
    "type": "object", "required": ["service_request_id"],
    "properties": {"service_request_id": _TEXT, "service_notice": _TEXT, "account_id": _TEXT}}}
