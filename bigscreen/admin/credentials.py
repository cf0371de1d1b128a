"""Sources' API keys and walls' kiosk tokens: list them, revoke them, rotate them.

A key belongs to a source, a token to a wall's name; both are named by that, and a name may have
had several over time. Revoking ends every key (token) of the name still in force. Rotating does
the same and makes one new one for the same name (a wall keeps its scope), shown once: the old
one stops working at once.

How soon "at once" is: the revocation is committed in SQL, then announced
(bigscreen.auth.revocation). Every process's API key cache drops what it holds within a second;
the kiosk token caches at the next lookup; without Redis, both within 30 s. The sessions walls
began with a revoked token end in the same step: an open wall's next request is refused, and its
pushed frames stop within 30 s (callbacks/wall.py checks the session of each push connection).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from redis.exceptions import RedisError
from sqlalchemy import Connection, select, update

from bigscreen.admin.base import AdminCommand, Secret
from bigscreen.api.auth import hash_key, new_api_key
from bigscreen.auth.kiosk import new_kiosk_token, token_digest
from bigscreen.auth.revocation import announce_revocation
from bigscreen.auth.sessions import Sessions
from bigscreen.db.models import ApiKey, KioskToken
from bigscreen.domain.schemas import Problem
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Credential:
    """One key or token as an admin sees it (never its secret: only a hash is kept)."""

    id: int
    name: str  # the source, or the wall's name
    scope: str | None  # a wall's area; None for keys and city walls
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def list_api_keys(rt: Runtime) -> list[Credential]:
    """Every key, in force first, then by source and newest first."""
    with rt.engine.connect() as conn:
        rows = conn.execute(select(ApiKey.id, ApiKey.source, ApiKey.created_at, ApiKey.revoked_at)).all()
    return _ordered(Credential(r.id, r.source, None, r.created_at, r.revoked_at) for r in rows)


def list_kiosk_tokens(rt: Runtime) -> list[Credential]:
    with rt.engine.connect() as conn:
        rows = conn.execute(select(KioskToken.id, KioskToken.name, KioskToken.scope, KioskToken.created_at,
                                   KioskToken.revoked_at)).all()
    return _ordered(Credential(r.id, r.name, r.scope, r.created_at, r.revoked_at) for r in rows)


def _ordered(items) -> list[Credential]:
    items = sorted(items, key=lambda c: c.created_at, reverse=True)
    return sorted(items, key=lambda c: (not c.active, c.name))


class _Revoke(AdminCommand):
    """Revokes every key or token of the name still in force (404 for a name never given one)."""

    table: type  # ApiKey or KioskToken
    name_column: str  # what names it: source, name
    secret_column: str  # the hash of its secret
    what: str  # in words, for a refusal

    def _revoke(self, conn: Connection) -> list:
        table = self.table.__table__
        named = table.c[self.name_column]
        rows = conn.execute(select(table.c.id, table.c[self.secret_column], table.c.revoked_at, *self._kept(table))
                            .where(named == self.subject).order_by(table.c.created_at.desc())).all()
        if not rows:
            raise Problem(404, {"message": f"no {self.what} named '{self.subject}'", "loc": [self.name_column],
                               "reason": "unknown"})
        active = [r for r in rows if r.revoked_at is None]
        if active:
            conn.execute(update(table).where(table.c.id.in_([r.id for r in active])).values(revoked_at=self.rt.clock()))
        self.revoked = [r[1] for r in active]
        self.newest = rows[0]
        return active

    def _kept(self, table) -> tuple:
        return ()

    def publish(self) -> None:
        announce_revocation(self.rt)


class RevokeApiKey(_Revoke):
    action = "apikey.revoke"
    table, name_column, secret_column, what = ApiKey, "source", "key_hash", "API key for a source"

    def write(self, conn: Connection) -> int:
        active = self._revoke(conn)
        if not active:
            raise Problem(409, {"message": f"the source '{self.subject}' has no API key in force", "loc": ["source"],
                                "reason": "none_in_force"})
        self.audit(conn, {"revoked": len(active)})
        return len(active)


class RotateApiKey(RevokeApiKey):
    action = "apikey.rotate"

    def write(self, conn: Connection) -> Secret:
        active = self._revoke(conn)
        key, now = new_api_key(), self.rt.clock()
        conn.execute(ApiKey.__table__.insert().values(source=self.subject, key_hash=hash_key(key), created_at=now))
        self.audit(conn, {"revoked": len(active)})
        return Secret(self.subject, key, now)


class RevokeKioskToken(_Revoke):
    action = "kiosk.revoke"
    table, name_column, secret_column, what = KioskToken, "name", "token_hash", "kiosk token for a wall"

    def _kept(self, table) -> tuple:
        return (table.c.scope,)

    def write(self, conn: Connection) -> int:
        active = self._revoke(conn)
        if not active:
            raise Problem(409, {"message": f"the wall '{self.subject}' has no kiosk token in force", "loc": ["name"],
                                "reason": "none_in_force"})
        self.audit(conn, {"revoked": len(active)})
        return len(active)

    def publish(self) -> None:
        """Tells the caches, then ends the sessions walls began with the revoked tokens (in this
        order: a wall loading meanwhile cannot begin a session after they were ended)."""
        super().publish()
        sessions = Sessions(self.rt.redis, self.rt.keys)
        try:
            for digest in self.revoked:
                sessions.destroy_kiosk(digest)
        except RedisError as exc:
            log.warning("kiosk token '%s' revoked, but its walls' sessions could not be ended: %s", self.subject, exc)


class RotateKioskToken(RevokeKioskToken):
    """A new token for the same wall, with the scope of its newest one."""

    action = "kiosk.rotate"

    def write(self, conn: Connection) -> Secret:
        active = self._revoke(conn)
        token, now, scope = new_kiosk_token(), self.rt.clock(), self.newest.scope
        conn.execute(KioskToken.__table__.insert().values(name=self.subject, token_hash=token_digest(token), scope=scope,
                                                         created_at=now))
        self.audit(conn, {"revoked": len(active), "scope": scope})
        return Secret(self.subject, f"/wall?token={token}" + (f"&scope={scope}" if scope else ""), now)
