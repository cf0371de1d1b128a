"""The audit trail: who did or tried what, when, from where. Refusals are recorded too."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from bigscreen.auth.roles import Principal
from bigscreen.db.models import AuditEntry
from bigscreen.process.runtime import Runtime


def record(rt: Runtime, who: Principal | None, action: str, *, subject: str | None = None, outcome: str = "ok",
           channel: str = "web", ip: str | None = None, detail: dict[str, Any] | None = None,
           conn: Connection | None = None) -> None:
    """Writes one entry, inside `conn`'s transaction when given (so an action and its entry are
    stored together or not at all), else in its own."""
    row = {"at": rt.clock(), "username": who.name if who else None, "role": who.role.value if who else None,
           "action": action, "subject": subject, "outcome": outcome, "channel": channel, "ip": ip, "detail": detail}
    if conn is not None:
        conn.execute(AuditEntry.__table__.insert().values(**row))
        return
    with rt.engine.begin() as own:
        own.execute(AuditEntry.__table__.insert().values(**row))
