"""What wraps every request's body and answer: oversized bodies refused with 413 before anything
reads them; answers gzipped for clients that accept it."""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware

from bigscreen.api.problems import error_bytes


class BodyLimit:
    def __init__(self, app, max_bytes: int, prefixes: tuple[str, ...] = ("/api/", "/open311/")) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefixes = prefixes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(scope, send)
        seen = 0
        refused = False

        async def counted():
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    raise _TooLarge
            return message

        try:
            return await self.app(scope, counted, send)
        except _TooLarge:
            return await self._refuse(scope, send)

    async def _refuse(self, scope, send):
        status, body = error_bytes(scope["path"], 413, f"request body larger than {self.max_bytes} bytes")
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class GZip(GZipMiddleware):
    """Starlette's, except that a POST from a client that does not accept gzip goes straight
    through: Starlette would still wrap its answer, only to add `Vary: Accept-Encoding`, which
    matters to caches, and a POST's answer is not cached. A source posting events one at a time
    pays for that wrapping on every post."""

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST" and not any(
                name == b"accept-encoding" and b"gzip" in value for name, value in scope["headers"]):
            return await self.app(scope, receive, send)
        return await super().__call__(scope, receive, send)
