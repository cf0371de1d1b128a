"""Wall kiosk tokens: a random token in the wall's URL, kept only as a hash."""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import select

from bigscreen.auth.revocation import RevocationSignal
from bigscreen.auth.roles import Principal, Role
from bigscreen.db.models import KioskToken
from bigscreen.process.runtime import Runtime

PREFIX = "bsw_"
CACHE_S = 30.0


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_kiosk_token() -> str:
    """A fresh random token; store only its `token_digest`."""
    return PREFIX + secrets.token_urlsafe(24)


def create_kiosk_token(rt: Runtime, name: str, scope: str | None = None) -> str:
    if scope and (scope not in rt.areas.by_code or rt.areas.by_code[scope].level > 1):
        raise ValueError(f"scope: '{scope}' is not a district code (walls show the city or one district)")
    token = new_kiosk_token()
    with rt.sessions() as session, session.begin():
        session.add(KioskToken(name=name, token_hash=token_digest(token), scope=scope, created_at=rt.clock()))
    return token


class KioskTokens:
    """Looks tokens up with a short cache: a wall's reload does not need SQL. The cache is dropped
    when a revocation has been announced (bigscreen.auth.revocation: one Redis read a lookup), and
    each entry lasts CACHE_S."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self.revocations = RevocationSignal(rt, every_s=0)  # a lookup is a wall's page load: rare

    def principal(self, token: str | None) -> Principal | None:
        if not token or not token.startswith(PREFIX) or len(token) > 100:
            return None
        if self.revocations.moved():
            self._cache.clear()
        digest = token_digest(token)
        hit = self._cache.get(digest)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        with self.rt.sessions() as session:
            row = session.scalar(select(KioskToken).where(KioskToken.token_hash == digest, KioskToken.revoked_at.is_(None)))
        found = Principal("kiosk", row.name, Role.WALL, row.scope) if row else None
        if len(self._cache) > 1000:
            self._cache.clear()
        self._cache[digest] = (time.monotonic() + CACHE_S, found)
        return found
