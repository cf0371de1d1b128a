"""The shape of an error answer, by the path's prefix: FastAPI's {"detail": ...} under /api/,
Open311's [{code, description}] under /open311/ (with 400 where we say 422). Everything that refuses a
request answers through here: the error handlers, the security middleware, the body limit."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

OPEN311_PREFIX = "/open311/"


def error_body(path: str, status: int, detail: Any) -> tuple[int, Any]:
    """The status and body to answer: Open311 wants its own list and 400 where we say 422."""
    if path.startswith(OPEN311_PREFIX):
        status = 400 if status == 422 else status
        return status, open311_body(status, detail)
    return status, {"detail": detail}


def error_response(request: HTTPConnection, status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    status, body = error_body(request.url.path, status, detail)
    return JSONResponse(body, status_code=status, headers=headers)


def error_bytes(path: str, status: int, detail: Any) -> tuple[int, bytes]:
    """For ASGI middleware that answers before FastAPI sees the request (the body limit)."""
    status, body = error_body(path, status, detail)
    return status, orjson.dumps(body)


def open311_body(status: int, detail) -> list[dict]:
    """Open311's error format: one {code, description} per problem, each naming its field."""
    if isinstance(detail, list):
        out = []
        for err in detail:
            loc = [str(p) for p in err.get("loc", [])]
            where = ".".join(loc[1:]) or ".".join(loc)
            out.append({"code": status, "description": f"{where}: {err.get('msg', '')}" if where else str(err.get("msg"))})
        return out or [{"code": status, "description": "invalid request"}]
    if isinstance(detail, dict):
        return [{"code": status, "description": str(detail.get("message", detail))}]
    return [{"code": status, "description": str(detail)}]
