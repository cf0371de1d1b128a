"""Server-side sessions in Redis: the cookie holds only a random id; the session holds the
principal and its CSRF token, slides with use and ends at an absolute limit."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from importlib.resources import files

import redis

from bigscreen.auth.roles import Principal, Role
from bigscreen.live.keys import Keys

SESSION_COOKIE = "bs_session"
CSRF_COOKIE = "_csrf_token"      # the name Dash's renderer reads to send X-CSRFToken
CSRF_HEADER = "x-csrftoken"
IDLE_S = 8 * 3600                # a person's session ends after 8 idle hours
ABSOLUTE_S = 12 * 3600           # and after 12 hours whatever happens (a shift)
KIOSK_IDLE_S = 7 * 24 * 3600     # a wall re-presents its token at every page load anyway


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str
    key: str | None = None  # its Redis key: a long-lived connection asks `alive(key)` now and then


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class Sessions:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._read = client.register_script(files("bigscreen.auth").joinpath("lua", "session.lua").read_text())

    def _limits(self, p: Principal) -> tuple[int, int]:
        return (KIOSK_IDLE_S, KIOSK_IDLE_S) if p.role == Role.WALL else (IDLE_S, ABSOLUTE_S)

    def create(self, p: Principal, ip: str | None, *, kiosk_digest: str | None = None) -> tuple[str, Session]:
        """A new session for `p`; indexed by its account (`user_id`) or, for a wall, by the digest of the
        kiosk token it began with, so that revoking either ends it (`destroy_user`, `destroy_kiosk`)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        key = self.keys.session(_digest(sid))
        idle, absolute = self._limits(p)
        now = int(time.time())
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(key, mapping={"kind": p.kind, "name": p.name, "role": p.role.value, "area": p.area or "",
                                "user_id": p.user_id or "", "csrf": csrf, "created": now, "ends": now + absolute,
                                "idle": idle, "ip": ip or ""})
        pipe.expire(key, idle)
        index = self.keys.user_sessions(p.user_id) if p.user_id else (
            self.keys.kiosk_sessions(kiosk_digest) if kiosk_digest else None)
        if index:
            pipe.sadd(index, key)
            pipe.expire(index, absolute)  # no session of it outlives its absolute limit
        pipe.execute()
        return sid, Session(p, csrf, key)

    def load(self, sid: str | None) -> Session | None:
        """The session of a cookie's id, its expiry slid (one Redis call, see lua/session.lua)."""
        if not sid or len(sid) > 100:
            return None
        key = self.keys.session(_digest(sid))
        flat = self._read(keys=[key], args=[int(time.time())])
        if not flat:
            return None
        raw = {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}
        p = Principal(raw["kind"], raw["name"], Role(raw["role"]), raw["area"] or None,
                      int(raw["user_id"]) if raw["user_id"] else None)
        return Session(p, raw["csrf"], key)

    def alive(self, key: str) -> bool:
        """Whether a session still exists (not signed out, revoked or ended), without sliding it."""
        return bool(self.client.exists(key))

    def destroy(self, sid: str | None) -> None:
        if sid:
            self.client.delete(self.keys.session(_digest(sid)))

    def destroy_user(self, user_id: int) -> None:
        """Ends every session of an account (disabled, password changed)."""
        self._destroy_indexed(self.keys.user_sessions(user_id))

    def destroy_kiosk(self, kiosk_digest: str) -> None:
        """Ends every session a wall began with this kiosk token (revoked, rotated)."""
        self._destroy_indexed(self.keys.kiosk_sessions(kiosk_digest))

    def _destroy_indexed(self, index: str) -> None:
        keys = self.client.smembers(index)
        if keys:
            self.client.delete(*keys)
        self.client.delete(index)
