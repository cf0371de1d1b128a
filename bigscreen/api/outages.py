"""What a request is answered when a part it needs is away: never a 500, never a traceback.

Redis or the database unreachable: 503 with Retry-After. The database's disk full: 507 with
Retry-After. No city yet (a centre that runs `serve` before it imports its map): 503 with
Retry-After. Nothing is half-written either way: every command is one transaction, and an
answer that reports a failure means its transaction did not commit (or, for a connection lost
during a commit, that a retry with the same source ids stores nothing twice). Pages get a small
page that says so and reloads itself; API calls get JSON; websockets are closed with 1013 (try
again later).
"""

from __future__ import annotations

import html
import logging
import time
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.responses import HTMLResponse, JSONResponse, Response

from bigscreen.geo.areas import NoCity
from bigscreen.screens.i18n import pick_lang, t

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5
LOG_EVERY_S = 10.0
SQLITE_FULL = 13
PG_DISK_FULL = "53100"
WS_TRY_AGAIN_LATER = 1013
OUTAGE_ERRORS: tuple[type[Exception], ...] = (RedisError, OperationalError, InterfaceError, PoolTimeout, NoCity)


@dataclass(frozen=True)
class Outage:
    status: int
    detail: str
    what: str  # for the log: which part is away
    page: str = "outage"  # the string catalogue's keys of the page that says so ("{page}.title", "{page}.text")


def outage_of(exc: BaseException) -> Outage | None:
    """The answer to an exception that means a part is away, or None for any other exception."""
    if isinstance(exc, NoCity):
        return Outage(503, str(exc), "no city", page="nocity")
    if isinstance(exc, RedisError):
        return Outage(503, "live figures are unavailable; try again", f"redis unavailable: {exc}")
    if isinstance(exc, OperationalError) and disk_full(exc):
        return Outage(507, "the database's disk is full; nothing was stored", f"database disk full: {exc.orig}")
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)):
        return Outage(503, "the database is unavailable; nothing was stored, try again",
                      f"database unavailable: {getattr(exc, 'orig', None) or exc}")
    return None


def disk_full(exc: OperationalError) -> bool:
    orig = exc.orig
    return getattr(orig, "sqlite_errorcode", None) == SQLITE_FULL or getattr(orig, "sqlstate", None) == PG_DISK_FULL


_logged: dict[str, tuple[float, int]] = {}  # kind -> (when last logged, answers since)


def _log(outage: Outage) -> None:
    """One line per kind of outage every LOG_EVERY_S, with the number of answers in between: an
    outage under load must not flood the log."""
    now, kind = time.monotonic(), outage.what.split(":", 1)[0]
    last, since = _logged.get(kind, (float("-inf"), 0))
    if now - last < LOG_EVERY_S:
        _logged[kind] = (last, since + 1)
        return
    _logged[kind] = (now, 0)
    log.error("answered %d: %s%s", outage.status, outage.what, f" ({since} more such answers before this)" if since else "")


def json_answer(outage: Outage) -> JSONResponse:
    _log(outage)
    return JSONResponse({"detail": outage.detail}, status_code=outage.status, headers={"Retry-After": str(RETRY_AFTER_S)})


def page_answer(outage: Outage, lang: str | None) -> Response:
    """A page (the wall, the desk, a tablet) asked for while a part is away: it says so and loads
    itself again after Retry-After, so a kiosk comes back by itself."""
    _log(outage)
    lang = pick_lang(lang)
    title, text = html.escape(t(f"{outage.page}.title", lang)), html.escape(t(f"{outage.page}.text", lang))
    body = (f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="{RETRY_AFTER_S}"><title>{title}</title></head>'
            f'<body class="outage"><h1>{title}</h1><p>{text}</p></body></html>')
    return HTMLResponse(body, status_code=outage.status, headers={"Retry-After": str(RETRY_AFTER_S)})
