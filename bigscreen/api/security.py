"""The security middleware: who is calling, may they open this page, is their change request
their own (CSRF), and the wall's kiosk token exchanged for a session.

Every HTTP request and websocket passes here. The principal comes from the session cookie
(people, and walls after their first load), or for `/wall?token=...` from a kiosk token, which
starts a session. API routes authenticate on their own (an API key, or this session) and
check permissions per route; pages are checked here by path; Dash callbacks check with
`bigscreen.auth.context.require`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote

from redis.exceptions import RedisError
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bigscreen.api.outages import OUTAGE_ERRORS, WS_TRY_AGAIN_LATER, json_answer, outage_of, page_answer
from bigscreen.api.problems import error_response
from bigscreen.auth.audit import record
from bigscreen.auth.context import Caller, bind, unbind
from bigscreen.auth.kiosk import KioskTokens, token_digest
from bigscreen.auth.pages import OWN_AUTH_PREFIXES, page_permission, shows_city
from bigscreen.auth.roles import Permission
from bigscreen.auth.sessions import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    Session,
    Sessions,
)
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def content_security_policy(script_hashes: list[str] | tuple[str, ...] = ()) -> str:
    """Everything from this server only; inline scripts only by hash (Dash's one line that starts
    its renderer; its config travels in a script of type application/json, which is data, not
    run); no plugins, no framing, forms post here. Inline styles are allowed: the components'
    bundles (Leaflet's CSS among them) insert <style> elements as they load, with contents no hash
    list can follow, and a style cannot run code."""
    return "; ".join([
        "default-src 'self'",
        " ".join(["script-src 'self'", *script_hashes]),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def security_headers(csp: str) -> list[tuple[bytes, bytes]]:
    return [(b"content-security-policy", csp.encode()), (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]


def client_ip(conn: HTTPConnection) -> str | None:
    return conn.client.host if conn.client else None


class Security:
    def __init__(self, app: ASGIApp, rt: Runtime, *, secure_cookies: bool = False, csp: str | None = None) -> None:
        self.app = app
        self.headers = security_headers(csp or content_security_policy())
        self.rt = rt
        self.sessions = Sessions(rt.redis, rt.keys)
        self.kiosks = KioskTokens(rt)
        self.secure = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        if scope["type"] == "http":
            send = self._with_headers(send)
        conn = HTTPConnection(scope)
        try:
            admitted = self._admit(scope, conn)
        except OUTAGE_ERRORS as exc:  # sessions (Redis), kiosk tokens or the audit trail (SQL) away
            admitted = _unavailable(scope, conn, exc)
        if not isinstance(admitted, Admitted):
            return await admitted(scope, receive, send)  # refused, redirected, or a part is away
        bound = bind(admitted.caller)
        try:
            await self.app(scope, receive, self._with_cookies(send, admitted.fresh) if admitted.fresh else send)
        finally:
            unbind(bound)

    def _admit(self, scope: Scope, conn: HTTPConnection) -> Admitted | ASGIApp:
        """Who calls and whether they may: the caller to bind, or the answer that refuses them."""
        path, ip = scope["path"], client_ip(conn)
        try:
            session = self.sessions.load(conn.cookies.get(SESSION_COOKIE))
        except RedisError:
            if not api_key(conn):
                raise
            session = None  # a source with a stray cookie: its API key is all it needs
        fresh: tuple[str, Session] | None = None
        token = conn.query_params.get("token") if path == "/wall" else None
        if token and (session is None or session.principal.kind == "kiosk"):
            kiosk = self.kiosks.principal(token)
            if kiosk is not None:
                fresh = self.sessions.create(kiosk, ip, kiosk_digest=token_digest(token))
                session = fresh[1]
        who = session.principal if session else None
        api = path.startswith(OWN_AUTH_PREFIXES)

        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS and session and not api_key(conn):
            # /login has its own token; /logout takes the session's token from its form (a plain
            # form cannot send a header) and checks it itself
            if not path.startswith(("/login", "/logout")) and conn.headers.get(CSRF_HEADER) != session.csrf:
                record(self.rt, who, "csrf", subject=path, outcome="refused", channel="api" if api else "web", ip=ip)
                return error_response(conn, 403, "CSRF token missing or wrong; reload the page")
        if scope["type"] == "websocket" and session and not same_origin(conn):
            record(self.rt, who, "websocket", subject=path, outcome="refused", ip=ip, detail={"origin": conn.headers.get("origin")})
            return _close(4403)

        need = page_permission(path)
        if need is not None and (who is None or (need != "signed-in" and not who.can(need))):
            if scope["type"] == "websocket":
                return _close(4401 if who is None else 4403)
            if who is None and scope["method"] == "GET" and need != "signed-in":
                target = path + (f"?{scope['query_string'].decode()}" if scope["query_string"] else "")
                return RedirectResponse(f"/login?next={quote(target, safe='')}", 303)
            if who is not None:
                record(self.rt, who, "open", subject=path, outcome="refused", ip=ip)
            return error_response(conn, 401 if who is None else 403, "sign in first" if who is None else "not allowed for this account")
        if scope["type"] == "http" and shows_city(need):
            self.rt.areas.city  # noqa: B018 -- NoCity before one is imported: the page that says so, reloading itself
        return Admitted(Caller(who, ip, "api" if api else "web", session.csrf if session else None,
                               session.key if session else None), fresh)

    def _with_headers(self, send: Send) -> Send:
        """Every answer, whoever gives it (a route, Dash, a refusal here, the body limit): CSP,
        no framing, no MIME sniffing, no Referer (a wall's URL carries its kiosk token)."""
        extra = self.headers

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        return wrapped

    def _with_cookies(self, send: Send, fresh: tuple[str, Session]) -> Send:
        sid, session = fresh

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for cookie in session_cookies(sid, session, self.secure):
                    headers.append("set-cookie", cookie)
            await send(message)

        return wrapped


@dataclass(frozen=True)
class Admitted:
    caller: Caller
    fresh: tuple[str, Session] | None  # a session just made from a kiosk token: its cookies go with the answer


def _close(code: int) -> ASGIApp:
    async def close(_scope: Scope, _receive: Receive, send: Send) -> None:
        await send({"type": "websocket.close", "code": code})

    return close


def _unavailable(scope: Scope, conn: HTTPConnection, exc: Exception) -> ASGIApp:
    """The answer while a part the check needs is away: a page that waits and reloads itself for
    pages (a kiosk comes back by itself), 503 JSON for the rest, 1013 for websockets."""
    outage = outage_of(exc)
    if scope["type"] == "websocket":
        log.warning("websocket refused: %s", outage.what)
        return _close(WS_TRY_AGAIN_LATER)
    page = isinstance(page_permission(scope["path"]), Permission) or "text/html" in conn.headers.get("accept", "")
    if scope["method"] in SAFE_METHODS and page:  # a page, or what a browser opens as one (/login with an old cookie)
        return page_answer(outage, conn.query_params.get("lang"))
    return json_answer(outage)


def session_cookies(sid: str, session: Session, secure: bool) -> list[str]:
    """The session id (HttpOnly) and the CSRF token Dash's renderer echoes in X-CSRFToken."""
    flags = "Path=/; SameSite=Strict" + ("; Secure" if secure else "")
    return [f"{SESSION_COOKIE}={sid}; HttpOnly; {flags}", f"{CSRF_COOKIE}={session.csrf}; {flags}"]


def api_key(conn: HTTPConnection) -> bool:
    return "x-api-key" in conn.headers


def same_origin(conn: HTTPConnection) -> bool:
    origin = conn.headers.get("origin")
    if origin is None:
        return True  # not a browser
    host = conn.headers.get("host", "")
    return origin.split("://", 1)[-1] == host
