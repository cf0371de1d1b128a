"""Checks every command makes the same way: times sent from outside, and who may act."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bigscreen.domain.schemas import Problem, field_error
from bigscreen.process.runtime import Runtime

FUTURE_SLACK = timedelta(minutes=2)  # sources' clocks run a little fast; more is an error


@dataclass(frozen=True)
class TimeWindow:
    """The times a source may send: from the city's earliest date (city.yaml: earliest_date, local
    midnight) to the centre's clock plus FUTURE_SLACK. One rule for every entry point: reports,
    the steps of a case, mediation, whistles, reporting in, field work."""

    earliest: datetime
    now: datetime

    @classmethod
    def of(cls, rt: Runtime, now: datetime | None = None) -> TimeWindow:
        return cls(rt.config.city.earliest_time(), now or rt.clock())

    def error(self, at: datetime | None, loc: list) -> dict | None:
        """A field error naming the bound `at` lies outside of, or None (also for no time at all)."""
        if at is None:
            return None
        if at < self.earliest:
            day = self.earliest.date().isoformat()
            return field_error(loc, f"must not be before {day} (the earliest date this centre accepts, "
                                    "city.yaml: earliest_date)", "time_too_early")
        if at > self.now + FUTURE_SLACK:
            minutes = int(FUTURE_SLACK.total_seconds() // 60)
            return field_error(loc, f"must not be in the future (at most {minutes} minutes ahead of the centre's "
                                    f"clock, now {self.now.isoformat(timespec='seconds')})", "time_in_future")
        return None


def time_error(rt: Runtime, at: datetime | None, loc: list | None = None) -> dict | None:
    """`TimeWindow.error` for one time, by default the body's field "at"."""
    return TimeWindow.of(rt).error(at, loc or ["body", "at"])


def refuse_role(role: str, allowed: Iterable[str], what: str) -> None:
    """403 naming the role, what it tried and the roles that may, unless `role` is allowed."""
    allowed = {str(r) for r in allowed} - {"system"}
    if role not in allowed:
        raise Problem(403, {"message": f"the role '{role}' may not {what}", "loc": ["body", "role"],
                            "roles": sorted(allowed)})
