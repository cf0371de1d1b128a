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
}
ALWAYS = (413, 503)  # any route: the body limit, and an outage


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
