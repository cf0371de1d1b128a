"""What every administrative command shares: who may run it, and its entry in the audit trail.

An admin command is run by a `Caller`: a person signed in on the admin page (channel "web", their
address), or the `bigscreen` command on the server (channel "system", no principal: whoever may
run it there holds the data dir anyway; the operating-system user is kept as `by`). Anyone else
is refused with `Forbidden`, which the app answers with 403 and records.

Each change writes its audit entry in its own transaction (the change and its entry are stored
together or not at all); a refusal (`Problem`: an unknown name, the last admin) is recorded too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Connection

from bigscreen.auth.audit import record
from bigscreen.auth.context import Caller, Forbidden
from bigscreen.auth.roles import Permission
from bigscreen.commands.base import Command
from bigscreen.domain.schemas import Problem
from bigscreen.process.runtime import Runtime

SYSTEM = "system"


def system_caller() -> Caller:
    """The `bigscreen` command on the server."""
    return Caller(None, None, SYSTEM)


@dataclass(frozen=True)
class Secret:
    """A key or token just made: shown once, stored only as a hash."""

    name: str
    secret: str
    created_at: datetime


def require_admin(caller: Caller, action: str, subject: str | None = None) -> None:
    """Forbidden unless the caller is the server's own command or a signed-in admin."""
    if caller.channel == SYSTEM and caller.principal is None:
        return
    who = caller.principal
    if who is None or not who.can(Permission.ADMIN) or who.user_id is None:
        raise Forbidden(f"the role '{who.role if who else 'anonymous'}' may not {action}", action=action,
                        subject=subject, who=who)


def problem_text(exc: Problem) -> str:
    """A refusal as one line: its message, or each field and what is wrong with it."""
    detail = exc.detail
    if isinstance(detail, list):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in detail)
    if isinstance(detail, dict):
        return str(detail.get("message", detail))
    return str(detail)


class AdminCommand(Command):
    """Done by `caller` to one `subject` (a source, a wall's name, a username)."""

    action: ClassVar[str]

    def __init__(self, rt: Runtime, caller: Caller, subject: str, *, by: str | None = None) -> None:
        self.rt = rt
        self.caller = caller
        self.subject = (subject or "").strip()
        self.by = by  # the operating-system user, for the command line

    def validate(self) -> None:
        require_admin(self.caller, self.action, self.subject)

    def run(self) -> Any:
        try:
            return super().run()
        except Problem as exc:
            self.audit(None, {"why": problem_text(exc)}, outcome="refused")
            raise

    def audit(self, conn: Connection | None, detail: dict | None = None, outcome: str = "ok") -> None:
        detail = {**(detail or {}), **({"by": self.by} if self.by else {})}
        record(self.rt, self.caller.principal, self.action, subject=self.subject[:100], outcome=outcome,
               channel=self.caller.channel, ip=self.caller.ip, detail=detail or None, conn=conn)
