"""API keys: one per source, only their SHA-256 kept (keys are random, so no slow hash is needed)."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Mapping
from typing import Any

from fastapi import Header, HTTPException, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from bigscreen.auth.context import caller
from bigscreen.auth.revocation import RevocationSignal
from bigscreen.auth.roles import Principal, Role
from bigscreen.db.models import ApiKey
from bigscreen.process.runtime import Runtime

CACHE_S = 30.0


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    """A fresh random key; store only its `hash_key`."""
    return "bsk_" + secrets.token_urlsafe(32)


def create_api_key(rt: Runtime, source: str) -> str:
    key = new_api_key()
    with rt.sessions() as session, session.begin():
        session.add(ApiKey(source=source, key_hash=hash_key(key), created_at=rt.clock()))
    return key


class KeyCache:
    """Maps key hashes to sources, so ingest does not hit SQL for auth. Reloaded when a revocation
    is announced (looked for at most every `revocation.CHECK_S`), and at least every CACHE_S."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._sources: dict[str, str] = {}
        self._loaded = float("-inf")
        self.revocations = RevocationSignal(rt)

    def fresh(self, digest: str) -> bool:
        """Whether `source(digest)` can answer from memory, without Redis or SQL."""
        return (digest in self._sources and time.monotonic() - self._loaded <= CACHE_S
                and not self.revocations.due())

    def source(self, digest: str) -> str | None:
        if not self.fresh(digest):
            moved = self.revocations.moved()
            if moved or digest not in self._sources or time.monotonic() - self._loaded > CACHE_S:
                self.reload()
        return self._sources.get(digest)

    def reload(self) -> None:
        with self.rt.sessions() as session:
            rows = session.execute(select(ApiKey.key_hash, ApiKey.source).where(ApiKey.revoked_at.is_(None))).all()
        self._sources = {h: s for h, s in rows}
        self._loaded = time.monotonic()


def presented_key(request: Request, fields: Mapping[str, Any] | None = None) -> str | None:
    """The API key a request presents: the X-API-Key header, else `api_key` in the query, else (for
    Open311 GeoReport v2, whose clients send it with the request's fields) `api_key` in the body."""
    key = request.headers.get("x-api-key") or request.query_params.get("api_key")
    if not key and fields is not None and isinstance(fields.get("api_key"), str):
        key = fields["api_key"]
    return key or None


async def source_of(request: Request, key: str | None) -> str:
    """The source an API key belongs to; 401 when there is no key or an unknown one."""
    cache: KeyCache = request.app.state.api_keys
    source = None
    if key:
        digest = hash_key(key)
        source = cache.source(digest) if cache.fresh(digest) else await run_in_threadpool(cache.source, digest)
    if source is None:
        raise HTTPException(401, "missing or unknown API key (header X-API-Key, or api_key)", headers={"WWW-Authenticate": "ApiKey"})
    return source


async def api_source(request: Request, x_api_key: str | None = Header(None, description="The source's API key.")) -> str:
    return await source_of(request, presented_key(request))


async def api_principal(request: Request, x_api_key: str | None = Header(None, description="A source's API key."),
                        authorization: str | None = Header(None, description="Bearer <a wall's kiosk token>.")) -> Principal:
    """Who calls an API route: a source (API key), a wall (kiosk token as a bearer token), or a
    person or wall signed in through the browser (the session the security middleware found)."""
    if x_api_key:
        return Principal("source", await source_of(request, x_api_key), Role.SOURCE)
    if authorization and authorization.lower().startswith("bearer "):
        kiosk = await run_in_threadpool(request.app.state.kiosks.principal, authorization[7:].strip())
        if kiosk is None:
            raise HTTPException(401, "unknown kiosk token", headers={"WWW-Authenticate": "Bearer"})
        return kiosk
    who = caller().principal
    if who is None:
        raise HTTPException(401, "sign in, or send an API key (X-API-Key) or a kiosk token (Authorization: Bearer)",
                            headers={"WWW-Authenticate": "ApiKey"})
    return who
