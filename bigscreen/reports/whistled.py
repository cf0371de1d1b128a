"""Whistles (吹哨报到) blown in a report's period on the area's cases, and how the summoned departments
reported in (报到) by the end (docs/METRICS.md, "Reports"). One query: a period holds few whistles, so
their calls are read and counted here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, select

from bigscreen.db.models import Event, Whistle, WhistleCall
from bigscreen.domain.lifecycle import WHISTLE_KINDS
from bigscreen.live.kpi import ratio
from bigscreen.reports.scope import Scope


@dataclass
class CallCounts:
    calls: int = 0  # departments summoned
    on_time: int = 0  # reported in by the whistle's report-by time
    late: int = 0  # reported in after it, by the period's end
    missing: int = 0  # not reported in by the period's end
    report_in_minutes: list[float] = field(default_factory=list, repr=False)

    @property
    def on_time_rate(self) -> float | None:
        return ratio(self.on_time, self.calls)

    @property
    def avg_report_in_minutes(self) -> float | None:
        """From the whistle to the report-in, over the calls reported in by the end."""
        m = self.report_in_minutes
        return round(sum(m) / len(m), 1) if m else None

    def add(self, whistled: datetime, report_by: datetime, reported: datetime | None, as_of: datetime) -> None:
        self.calls += 1
        if reported is None or reported >= as_of:
            self.missing += 1
            return
        self.report_in_minutes.append((reported - whistled).total_seconds() / 60)
        if reported <= report_by:
            self.on_time += 1
        else:
            self.late += 1


@dataclass
class DepartmentCalls(CallCounts):
    code: str = ""
    name: str = ""


@dataclass
class WhistleLine:
    whistle_id: int
    event_id: int
    kind: str
    at: datetime
    report_by: datetime
    calls: CallCounts


@dataclass
class Whistles:
    whistles: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)  # assembly, livelihood, emergency
    calls: CallCounts = field(default_factory=CallCounts)
    departments: list[DepartmentCalls] = field(default_factory=list)  # most summoned first
    lines: list[WhistleLine] = field(default_factory=list)  # every whistle of the period, in order


def whistles(conn: Connection, scope: Scope) -> Whistles:
    w, c, e = Whistle.__table__.c, WhistleCall.__table__.c, Event.__table__.c
    source = Whistle.__table__.join(WhistleCall.__table__, c.whistle_id == w.id).join(Event.__table__, e.id == w.event_id)
    rows = conn.execute(select(w.id, w.event_id, w.kind, w.at, w.report_by, c.department_code, c.reported_at)
                        .select_from(source)
                        .where(scope.cases, w.at >= scope.start, w.at < scope.as_of).order_by(w.at, w.id, c.department_code))
    out = Whistles(by_kind=dict.fromkeys(WHISTLE_KINDS, 0))
    lines: dict[int, WhistleLine] = {}
    departments: dict[str, DepartmentCalls] = {}
    names = {d.code: d.name for d in scope.config.departments}
    for r in rows:
        line = lines.get(r.id)
        if line is None:
            line = lines[r.id] = WhistleLine(r.id, r.event_id, r.kind, r.at, r.report_by, CallCounts())
            out.by_kind[r.kind] = out.by_kind.get(r.kind, 0) + 1
        dept = departments.setdefault(r.department_code, DepartmentCalls(code=r.department_code,
                                                                          name=names.get(r.department_code, r.department_code)))
        for counts in (line.calls, out.calls, dept):
            counts.add(r.at, r.report_by, r.reported_at, scope.as_of)
    out.whistles = len(lines)
    out.lines = list(lines.values())
    out.departments = sorted(departments.values(), key=lambda d: (-d.calls, -d.missing, d.code))
    return out

