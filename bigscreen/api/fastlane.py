"""The busiest routes straight to their endpoint, past the framework's per-request machinery.

A source posting events one at a time pays, per request, for FastAPI's routing through every
included router, its dependency solving (cache keys, scopes and signatures, for each `Depends`)
and Starlette's exception middleware: more than the endpoint itself (docs/BENCHMARKS.md, issue
11). A lane answers one method and path by calling the route's own endpoint with what its
dependencies would give it, computed by those same dependency functions, and answers what it
raises through the app's own exception handlers: the same answers, the same OpenAPI document (the
route stays declared as it is), a third of the work. `tests/integration/test_fastlane.py` keeps each lane's
dependencies equal to its route's.

It sits inside the security middleware (the caller is known, the headers are set), the body limit
and gzip, and outside everything else (Dash's middleware too: `create_app` adds it after the Dash app).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from inspect import isawaitable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Lane = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Exception], Awaitable[Response] | Response]


class FastLane:
    def __init__(self, app: ASGIApp, lanes: dict[tuple[str, str], Lane],
                 handlers: dict[type | int, Handler]) -> None:
        self.app = app
        self.lanes = lanes
        self.handlers = handlers  # the app's own, by exception class (FastAPI.exception_handlers: the same dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.lanes.get((scope.get("method"), scope["path"])) if scope["type"] == "http" else None
        if lane is None:
            return await self.app(scope, receive, send)
        request = Request(scope, receive)
        try:
            response = await lane(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise  # to the server-error middleware, as from any route
            response = handler(request, exc)
            if isawaitable(response):
                response = await response
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Handler | None:
        for cls in type(exc).__mro__:
            if cls in self.handlers:
                return self.handlers[cls]
        return None
