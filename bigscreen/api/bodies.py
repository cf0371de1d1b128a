"""Request bodies read by hand: JSON (orjson: strict UTF-8, nesting at most 1,024 deep, refused
cheaply past that), a form (strict UTF-8), and bodies that are one object or a batch of them (a
JSON array), validated as a whole: a batch's errors name ["body", index, field], a single
object's ["body", field]."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson
from fastapi import Request
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import ClientDisconnect

from bigscreen.domain.schemas import Problem, validation_errors

Item = TypeVar("Item", bound=BaseModel)


def one_or_batch_schema(model: str, max_items: int = 1000) -> dict:
    """OpenAPI `openapi_extra` for a route whose body is read by `read_one_or_batch`."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
        {"$ref": f"#/components/schemas/{model}"},
        {"type": "array", "items": {"$ref": f"#/components/schemas/{model}"}, "minItems": 1, "maxItems": max_items},
    ]}}}}}


MAX_FORM_FIELDS = 100


def body_error(msg: str, kind: str) -> list[dict]:
    return [{"loc": ["body"], "msg": msg, "type": kind}]


async def raw_body(request: Request) -> bytes:
    try:
        return await request.body()
    except ClientDisconnect as exc:  # the client went away mid-body: nothing to answer, nothing stored
        raise Problem(400, "request body incomplete: the client disconnected") from exc


def parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Problem(422, body_error(f"not valid JSON: {exc}", "json_invalid")) from exc


def parse_form(raw: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body; bytes that are not UTF-8 (as they are, or
    %-escaped) are refused, not read as Latin-1 as Starlette's form parser would."""
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=MAX_FORM_FIELDS)
    except UnicodeDecodeError as exc:
        raise Problem(400, body_error(f"the form is not valid UTF-8 ({exc.reason} at byte {exc.start})", "form_invalid")) from exc
    except ValueError as exc:  # more than MAX_FORM_FIELDS
        raise Problem(400, body_error(f"a form holds at most {MAX_FORM_FIELDS} fields", "form_invalid")) from exc
    return dict(pairs)


async def json_body(request: Request) -> Any:
    return parse_json(await raw_body(request))


async def read_one_or_batch(request: Request, model: type[Item], max_batch: int, noun: str) -> tuple[list[Item], bool]:
    """The body's items and whether it was a batch; 413 over `max_batch`, 422 naming what is wrong."""
    data = await json_body(request)
    batch = isinstance(data, list)
    if batch and len(data) > max_batch:
        raise Problem(413, f"a batch holds at most {max_batch} {noun}, got {len(data)}")
    if batch and not data:
        raise Problem(422, [{"loc": ["body"], "msg": "empty batch", "type": "too_short"}])
    try:
        items = TypeAdapter(list[model]).validate_python(data) if batch else [model.model_validate(data)]
    except ValidationError as exc:
        raise Problem(422, validation_errors(exc)) from exc
    return items, batch
