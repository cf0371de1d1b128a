"""How the API answers what goes wrong: one JSON shape per prefix (FastAPI's {"detail": ...} under
/api/, Open311's [{code, description}] under /open311/), never a 500 for a caller's mistake and
never the app's page for a path the API does not define."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.routing import Match

from bigscreen.api.outages import OUTAGE_ERRORS, json_answer, outage_of
from bigscreen.api.problems import OPEN311_PREFIX, error_response
from bigscreen.api.security import client_ip
from bigscreen.auth.audit import record
from bigscreen.auth.context import Forbidden, caller
from bigscreen.domain.schemas import Problem, control_character_error, field_error
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)
API_PREFIXES = ("/api", OPEN311_PREFIX.rstrip("/"))
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _json_invalid(why: str) -> list[dict]:
    return [{"loc": ["body"], "msg": f"not valid JSON: {why}", "type": "json_invalid"}]


def install_error_handlers(api: FastAPI, rt: Runtime) -> None:
    @api.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return error_response(request, exc.status, exc.detail)

    @api.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        who = caller()
        await run_in_threadpool(record, rt, exc.who or who.principal, exc.action, subject=exc.subject, outcome="refused",
                                channel=who.channel, ip=client_ip(request), detail={"why": str(exc)})
        return error_response(request, 403, str(exc))

    async def _part_away(request: Request, exc: Exception):
        """Redis or the database away (503), the database's disk full (507): bigscreen.api.outages."""
        outage = outage_of(exc)
        answer = json_answer(outage)  # (logged once per kind every few seconds)
        if request.url.path.startswith(OPEN311_PREFIX):
            return error_response(request, outage.status, outage.detail, {"Retry-After": answer.headers["retry-after"]})
        return answer

    for error in OUTAGE_ERRORS:
        api.add_exception_handler(error, _part_away)

    @api.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError):
        # a safety net: what comes in is checked before it reaches SQL, so this is a check missing
        log.warning("a value the database refused reached it: %s", exc.orig)
        return error_response(request, 422, [field_error(["body"], "a value cannot be stored (the database refused "
                                                                   "it); nothing was stored", "unstorable")])

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = [_json_invalid((e.get("ctx") or {}).get("error", ""))[0] if e["type"] == "json_invalid"  # not its offset
                  else {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return error_response(request, 422, errors)

    @api.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        cause = exc.__cause__
        if exc.status_code == 400 and isinstance(cause, (UnicodeDecodeError, RecursionError)):
            # FastAPI reads JSON bodies with the json module: not UTF-8, or nested past its
            # recursion limit; the same answer as any other body that is not JSON
            why = "nested too deeply" if isinstance(cause, RecursionError) else f"not UTF-8 ({cause.reason})"
            return error_response(request, 422, _json_invalid(why))
        return error_response(request, exc.status_code, exc.detail, exc.headers)


async def clean_query(request: Request) -> None:
    """Every API route: a query parameter holding control characters is refused (422, naming it)
    before it reaches SQL (PostgreSQL cannot compare text holding a NUL)."""
    errors = [field_error(["query", name], problem, "control_character")
              for name, value in request.query_params.multi_items()
              if (problem := control_character_error(name) or control_character_error(value))]
    if errors:
        raise Problem(422, errors)


def add_fallback_routes(api: FastAPI) -> None:
    """Paths under /api/ and /open311/ that no route defines answer 404 (a path that exists, asked
    with another method, 405 naming the methods it has). Without these, Dash's catch-all would
    answer them with the app's page. Added after every API route and before Dash's catch-all."""
    routes = list(api.router.routes)  # the API's own, asked the way the router asks them

    async def no_such_route(request: Request):
        allowed = [m for m in METHODS if m != "OPTIONS"
                   and any(r.matches({**request.scope, "method": m})[0] == Match.FULL for r in routes)]
        if allowed:
            return error_response(request, 405, f"{request.method} is not allowed here; use {', '.join(allowed)}",
                                  {"Allow": ", ".join(allowed)})
        return error_response(request, 404, f"no such path: {request.url.path}")

    for prefix in API_PREFIXES:
        api.add_api_route(prefix + "/{rest:path}", no_such_route, methods=METHODS, include_in_schema=False)
