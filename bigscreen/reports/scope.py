"""What every section of a report is computed over: the area, its period and the one before, as UTC
instants, and the condition that picks the area's cases (docs/METRICS.md, "Reports").

Also the one way a report turns an instant into the city's local day in SQL (`local_day`): the zone's
offset is constant between its transitions, so the day is the instant shifted by the offset of its
stretch, a CASE over the few transitions inside the period (none in Asia/Shanghai).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from sqlalchemy import Date, case, cast, func, literal, literal_column
from sqlalchemy.sql import ColumnElement

from bigscreen.configuration.loading import Config
from bigscreen.db.types import UTCDateTime
from bigscreen.geo.areas import AreaIndex, AreaInfo
from bigscreen.reports.periods import Period

TOP = 10  # rows of a "most ..." list (hotspots, repeats, supervised cases)


@dataclass(frozen=True)
class Scope:
    areas: AreaIndex
    area: AreaInfo
    period: Period
    start: datetime  # the period's first local midnight, UTC
    end: datetime  # the local midnight after its last day, UTC
    as_of: datetime  # the end, or now for a period not yet over
    previous_start: datetime  # the period before runs from here to `start`
    tz: ZoneInfo
    config: Config
    cases: ColumnElement[bool]  # the area's events (by their grids; true for the city)

    @classmethod
    def of(cls, areas: AreaIndex, area: AreaInfo, period: Period, tz: ZoneInfo, now: datetime, config: Config,
           cases: ColumnElement[bool]) -> Scope:
        start, end = period.bounds(tz)
        previous_start, previous_end = period.previous().bounds(tz)
        assert previous_end == start, "the period before ends where this one begins"
        return cls(areas, area, period, start, end, min(end, now), previous_start, tz, config, cases)

    @property
    def is_city(self) -> bool:
        return self.area.level == 0

    @cached_property
    def grids(self) -> list[AreaInfo]:
        """The area's grids, retired ones included (their cases and field work are history of the area)."""
        return sorted((a for a in self.areas.by_code.values()
                       if a.level == self.areas.grid_level and self.area.code in a.chain), key=lambda a: a.id)

    @property
    def community_level(self) -> int:
        """Where the city has communities (社区/村): the level named so, else the level just above the grid."""
        found = self.areas.level_number("community")
        return found if found is not None else self.areas.grid_level - 1


def local_day(column, tz: ZoneInfo, start: datetime, end: datetime, dialect: str) -> ColumnElement:
    """The city's local date of `column` (a UTCDateTime) for instants in [start, end): text
    'YYYY-MM-DD' on SQLite, a DATE on PostgreSQL; use it to group and to count distinct days."""
    stretches = offsets(tz, start, end)

    def shifted(seconds: int) -> ColumnElement:
        # the offset written into the SQL, not bound: a GROUP BY on this expression is then the same
        # expression as the column selected, computed once per row
        if dialect == "postgresql":
            return cast(column + literal_column(f"INTERVAL '{int(seconds)} seconds'"), Date)
        return func.date(column, literal_column(f"'{int(seconds):+d} seconds'"))

    if len(stretches) == 1:
        return shifted(stretches[0][1])
    whens = [(column < literal(since, UTCDateTime()), shifted(before))
             for (since, _), (_, before) in zip(stretches[1:], stretches)]
    return case(*whens, else_=shifted(stretches[-1][1]))


def offsets(tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The zone's UTC offset over [start, end), as (from when, seconds) stretches, the first from `start`."""
    def offset(t: datetime) -> int:
        return int(t.astimezone(tz).utcoffset().total_seconds())

    out = [(start, offset(start))]
    lo = start
    while lo < end:
        hi = min(lo + timedelta(hours=6), end)
        last = hi - timedelta(seconds=1)
        if offset(last) != out[-1][1]:
            a, b = lo, last  # offset(a) is the current one, offset(b) the next: find the first second of b's
            while b - a > timedelta(seconds=1):
                mid = a + (b - a) // 2
                mid = mid.replace(microsecond=0)
                if offset(mid) == out[-1][1]:
                    a = mid
                else:
                    b = mid
            out.append((b, offset(b)))
        lo = hi
    return out
