"""Checks every command makes the same way: times sent by a source, and who may act."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from bigscreen.runtime import Runtime
from bigscreen.schemas import Problem, field_error

FUTURE_SLACK = timedelta(minutes=2)  # sources' clocks run a little fast; more is an error


def not_in_future(rt: Runtime, at: datetime | None, loc: list | None = None) -> dict | None:
    """A field error when a source's own timestamp lies ahead of our clock (beyond the slack)."""
    if at is not None and at > rt.clock() + FUTURE_SLACK:
        return field_error(loc or ["body", "at"], "must not be in the future")
    return None


def refuse_role(role: str, allowed: Iterable[str], what: str) -> None:
    """403 naming the role, what it tried and the roles that may, unless `role` is allowed."""
    allowed = {str(r) for r in allowed} - {"system"}
    if role not in allowed:
        raise Problem(403, {"message": f"the role '{role}' may not {what}", "loc": ["body", "role"],
                            "roles": sorted(allowed)})
