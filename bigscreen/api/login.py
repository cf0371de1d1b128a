"""Sign in and out: a plain server-rendered form (works before any script loads), rate-limited,
with its own CSRF token (a login form can be forged too), recorded in the audit trail."""

from __future__ import annotations

import math
import secrets
from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from bigscreen.api.security import client_ip, session_cookies
from bigscreen.auth.audit import record
from bigscreen.auth.pages import landing
from bigscreen.auth.ratelimit import DEVICE_COOKIE, DEVICE_DAYS, Attempt, LoginLimiter, Refusal
from bigscreen.auth.sessions import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, Sessions
from bigscreen.auth.users import authenticate
from bigscreen.domain.schemas import control_character_error
from bigscreen.process.runtime import Runtime
from bigscreen.screens.i18n import pick_lang, t

router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "bs_login"


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (no open redirect; browsers drop tabs and
    newlines, so "/\t/evil.example" would be "//evil.example"); "" for none."""
    if (not target or not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in target)):
        return ""
    return target


def _form(rt: Runtime, lang: str, next_url: str, token: str, message: str = "", status: int = 200) -> HTMLResponse:
    title = escape(rt.config.city.title if lang == "zh" else rt.config.city.title_en)
    note = f'<p class="login-message" role="alert">{escape(message)}</p>' if message else ""
    html = f"""<!doctype html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(t("login.title", lang))} · {title}</title>
<link rel="stylesheet" href="/assets/login.css"></head>
<body class="login-page"><main class="login-box">
<h1>{title}</h1><h2>{escape(t("login.title", lang))}</h2>{note}
<form method="post" action="/login?lang={lang}">
<input type="hidden" name="csrf" value="{escape(token)}">
<input type="hidden" name="next" value="{escape(next_url)}">
<label>{escape(t("login.username", lang))}<input name="username" autocomplete="username" required maxlength="64" autofocus></label>
<label>{escape(t("login.password", lang))}<input name="password" type="password" autocomplete="current-password" required maxlength="200"></label>
<button type="submit">{escape(t("login.submit", lang))}</button>
</form></main></body></html>"""
    response = HTMLResponse(html, status_code=status)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login")
    return response


def _rt(request: Request) -> Runtime:
    return request.app.state.runtime


@router.get("/login")
async def login_page(request: Request, next: str | None = None, lang: str | None = None):
    rt = _rt(request)
    return _form(rt, pick_lang(lang), _safe_next(next), secrets.token_urlsafe(24))


@router.post("/login")
async def login(request: Request, username: Annotated[str, Form(max_length=64)], password: Annotated[str, Form(max_length=200)],
                csrf: Annotated[str, Form(max_length=100)] = "", next: Annotated[str, Form(max_length=500)] = "",
                lang: str | None = None):
    rt, lang, ip = _rt(request), pick_lang(lang), client_ip(request)
    target = _safe_next(next)
    fresh_token = secrets.token_urlsafe(24)
    if any(control_character_error(x) for x in (username, password, csrf, next)):  # no account has such a name
        return _form(rt, lang, target, fresh_token, t("login.failed", lang), status=400)
    if not csrf or request.cookies.get(LOGIN_COOKIE) != csrf:
        await run_in_threadpool(record, rt, None, "login", subject=username, outcome="refused", ip=ip,
                                detail={"why": "login form token missing or wrong"})
        return _form(rt, lang, target, fresh_token, t("login.expired", lang), status=403)
    limiter: LoginLimiter = request.app.state.login_limiter
    device = request.cookies.get(DEVICE_COOKIE)
    attempt = await run_in_threadpool(limiter.attempt, username, ip, device)
    refusal = await run_in_threadpool(limiter.admit, attempt)
    if refusal is not None:
        await run_in_threadpool(record, rt, None, "login", subject=username, outcome="refused", ip=ip,
                                detail={"why": "rate limited", "limit": refusal.limit, "retry_after": refusal.retry_after,
                                        "known_browser": attempt.known})
        return _limited(rt, lang, target, fresh_token, refusal)
    who = await run_in_threadpool(authenticate, rt, username, password)
    if who is None:
        await run_in_threadpool(_failed, rt, limiter, attempt, username, ip)
        return _form(rt, lang, target, fresh_token, t("login.failed", lang), status=401)
    device = await run_in_threadpool(limiter.succeeded, attempt, device)
    sid, session = Sessions(rt.redis, rt.keys).create(who, ip)
    await run_in_threadpool(record, rt, who, "login", subject=username, ip=ip)
    response = RedirectResponse(landing(who, target), status_code=303)
    for cookie in session_cookies(sid, session, rt.settings.secure_cookies):
        response.headers.append("set-cookie", cookie)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    response.set_cookie(DEVICE_COOKIE, device, max_age=DEVICE_DAYS * 86400, path="/login", httponly=True,
                        samesite="strict", secure=rt.settings.secure_cookies)
    return response


def _failed(rt: Runtime, limiter: LoginLimiter, attempt: Attempt, username: str, ip: str | None) -> None:
    """Counts a wrong password; records it, and each lock-out it begins."""
    record(rt, None, "login", subject=username, outcome="refused", ip=ip, detail={"why": "wrong username or password"})
    for limit in limiter.failed(attempt):
        record(rt, None, "login", subject=username, outcome="locked", ip=ip,
               detail={"limit": limit, "for_s": limiter.retry_after(limit, attempt), "known_browser": attempt.known})


def _limited(rt: Runtime, lang: str, target: str, token: str, refusal: Refusal) -> HTMLResponse:
    """429 with Retry-After, and on the form what happened, how long to wait and what else to do."""
    minutes = max(1, math.ceil(refusal.retry_after / 60))
    response = _form(rt, lang, target, token, t(f"login.limited.{refusal.limit}", lang).format(minutes=minutes), status=429)
    response.headers["Retry-After"] = str(refusal.retry_after)
    return response


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form(max_length=100)] = ""):
    """Needs the session's CSRF token, from the sign-out form or the X-CSRFToken header: a forged
    sign-out is refused."""
    rt = _rt(request)
    sessions = Sessions(rt.redis, rt.keys)
    sid = request.cookies.get(SESSION_COOKIE)
    session = sessions.load(sid)
    if session is not None and session.csrf not in (csrf, request.headers.get(CSRF_HEADER)):
        await run_in_threadpool(record, rt, session.principal, "logout", outcome="refused", ip=client_ip(request),
                                detail={"why": "CSRF token missing or wrong"})
        return HTMLResponse("CSRF token missing or wrong; reload the page", status_code=403)
    sessions.destroy(sid)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response
