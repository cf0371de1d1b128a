"""The principal of the request being served, for code far from the request (Dash callbacks).

The security middleware sets it for every HTTP request and websocket connection; Dash runs
callbacks in a copy of that context, so `require()` works inside them. A refusal raises
`Forbidden`, which the app answers with 403 and records in the audit trail.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from bigscreen.auth.roles import Permission, Principal


@dataclass(frozen=True)
class Caller:
    principal: Principal | None
    ip: str | None
    channel: str  # web or api
    csrf: str | None = None  # the session's CSRF token, for forms a page renders (sign out)
    session: str | None = None  # the session's Redis key: a long-lived connection checks it still exists


_current: ContextVar[Caller | None] = ContextVar("bigscreen_caller", default=None)


class Forbidden(Exception):
    """Refused: `who` (when known) may not do `action`. The app answers 403 and records it."""

    def __init__(self, message: str, *, action: str, subject: str | None = None, who: Principal | None = None) -> None:
        super().__init__(message)
        self.action = action
        self.subject = subject
        self.who = who


def bind(caller: Caller):
    return _current.set(caller)


def unbind(token) -> None:
    _current.reset(token)


def caller() -> Caller:
    return _current.get() or Caller(None, None, "web", None)


def require(permission: Permission, *, action: str, area_chain: tuple[str, ...] | None = None,
            subject: str | None = None) -> Principal:
    """The current principal if it holds `permission` (and reaches the area), else Forbidden."""
    who = caller().principal
    if who is None:
        raise Forbidden("not signed in", action=action, subject=subject)
    if not who.can(permission):
        raise Forbidden(f"the role '{who.role}' may not {action}", action=action, subject=subject, who=who)
    if area_chain is not None and not who.covers(area_chain):
        raise Forbidden(f"area {area_chain[-1]} is outside this account's area {who.area}", action=action,
                        subject=subject, who=who)
    return who
