"""A report for a period and an area, from SQL (docs/METRICS.md, "Reports"): the headline figures
against the period before (环比) and the same period a year earlier (同比) where the history covers
it, the days of the period, and the rankings of the areas one level down and of the departments. Then its
sections (`bigscreen.reports.sections`: categories, hotspots, laggards, supervision, whistles, disputes,
field work), each from a module of its own.

Every figure is `bigscreen.live.kpi.figures` over `figures.period_counters`: the cases reported in
the period, as they stood at its end (or now, for a period not yet over).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, select, true
from sqlalchemy.sql import ColumnElement

from bigscreen.db.models import Event
from bigscreen.live.kpi import figures
from bigscreen.process.runtime import Runtime
from bigscreen.reports.breakdown import CategoryCount, Counted
from bigscreen.reports.disputes import Disputes
from bigscreen.reports.field_work import FieldWork
from bigscreen.reports.figures import count_of, period_counters
from bigscreen.reports.hotspots import Hotspots
from bigscreen.reports.laggards import Laggard, laggards
from bigscreen.reports.periods import Period
from bigscreen.reports.scope import Scope
from bigscreen.reports.sections import build_sections
from bigscreen.reports.supervised import Supervision
from bigscreen.reports.whistled import Whistles

HEADLINE = ("reported", "closed_in_period", "closure_rate", "ontime_rate", "satisfaction", "avg_handling_hours",
            "resolved_locally_share", "mediation_success")
RATES = ("closure_rate", "ontime_rate", "satisfaction", "resolved_locally_share", "mediation_success")
RANK_BY = ("ontime_rate", "closure_rate", "satisfaction")  # the first decides; ties go to the next, then the code
QUERY_THREADS = 3  # a report's queries running at once, each on a connection of its own


class ReportError(ValueError):
    """A report that cannot be made (an unknown area, a period before the history); says why."""


@dataclass
class Comparison:
    value: float | int | None
    previous: float | int | None
    year_before: float | int | None  # None where the history does not reach back a year

    @property
    def change(self) -> float | None:
        """Against the period before: a difference for rates and hours, a fraction for counts."""
        return _change(self.value, self.previous)

    @property
    def change_year(self) -> float | None:
        return _change(self.value, self.year_before)


@dataclass
class Ranked:
    code: str
    name: str
    figures: dict[str, Any]
    rank: int
    previous_rank: int | None

    @property
    def rank_change(self) -> int | None:
        """Places climbed since the period before (negative: places lost)."""
        return None if self.previous_rank is None else self.previous_rank - self.rank


@dataclass
class Report:
    area_code: str
    area_name: str
    period: Period
    start: datetime
    end: datetime
    as_of: datetime
    produced_at: datetime
    headline: dict[str, Comparison]
    days: list[tuple[date, int, int]]  # (local day, reported, closed)
    areas: list[Ranked] = field(default_factory=list)
    departments: list[Ranked] = field(default_factory=list)
    # the sections (bigscreen.reports.sections), each from its own module
    categories: list[CategoryCount] = field(default_factory=list)
    channels: list[Counted] = field(default_factory=list)
    hotspots: Hotspots | None = None
    laggards: list[Laggard] = field(default_factory=list)
    supervision: Supervision | None = None
    whistles: Whistles | None = None
    disputes: Disputes | None = None
    field_work: FieldWork | None = None


def build_report(rt: Runtime, period: Period, area_code: str | None, now: datetime) -> Report:
    """The report of `period` for the area `area_code` (None: the city); ReportError when it cannot be made."""
    areas = rt.areas
    if not areas.at_level(0):
        raise ReportError("no city in this database yet: `bigscreen city build` or `bigscreen city import` first")
    area_code = area_code or areas.city.code
    info = areas.by_code.get(area_code)
    if info is None or info.retired:
        raise ReportError(f"unknown area {area_code!r}")
    if info.level >= areas.grid_level:
        raise ReportError(f"area {area_code} is a grid: reports cover the city, a district, a street or a community")
    tz = rt.tz
    start, end = period.bounds(tz)
    if start > now:
        raise ReportError(f"period {period.label} begins after now")
    where = _cases_of(areas, info)
    with rt.engine.connect() as conn:
        first = conn.scalar(select(func.min(Event.reported_at)))
    if first is None or end <= first:
        raise ReportError(f"period {period.label} ends before the history begins"
                          + (f" ({first.astimezone(tz).date().isoformat()})" if first else " (no cases yet)"))
    level = info.level + 1
    year = period.year_before()
    covered = first.astimezone(tz).date() <= year.first  # the history began by the comparison's first day

    def counts(p: Period) -> _Counts:
        with rt.engine.connect() as conn:
            return _counts(conn, where, p, tz, now, areas, level)

    def days_of() -> list[tuple[date, int, int]]:
        with rt.engine.connect() as conn:
            return _days(conn, where, period, tz, min(end, now))

    # the queries on connections of their own, at once: each reads the cases apart (SQLite and PostgreSQL
    # both count on another core while Python waits), the longest first
    scope = Scope.of(areas, info, period, tz, now, rt.config, where)
    with ThreadPoolExecutor(max_workers=QUERY_THREADS, thread_name_prefix="report") as pool:
        sections_done = pool.submit(build_sections, rt.engine, scope)
        now_done, before_done = pool.submit(counts, period), pool.submit(counts, period.previous())
        year_done = pool.submit(counts, year) if covered else None
        days_done = pool.submit(days_of)
        now_counts, before = now_done.result(), before_done.result()
        year_counts = year_done.result() if year_done else None
        days, sections = days_done.result(), sections_done.result()
    headline = {name: Comparison(now_counts.total[name], before.total[name],
                                 year_counts.total[name] if year_counts else None) for name in HEADLINE}
    children = sorted((a for a in areas.by_code.values() if a.parent_code == area_code and not a.retired), key=lambda a: a.code)
    ranked_areas = _rank([(a.code, a.name) for a in children], now_counts.areas, before.areas)
    names = {d.code: d.name for d in rt.config.departments}
    ranked_departments = _rank([(code, names.get(code, code)) for code in sorted(now_counts.departments)],
                               now_counts.departments, before.departments)
    ranked_departments = [r for r in ranked_departments if r.figures["reported"]]
    sections["laggards"] = laggards(ranked_areas, ranked_departments, rt.config.city.targets)
    return Report(area_code, info.name, period, start, end, min(end, now), now, headline, days,
                  ranked_areas, ranked_departments, **sections)


@dataclass
class _Counts:
    """A period's figures: the whole area's, and by area one level down and by department."""

    total: dict[str, Any]
    areas: dict[str, dict[str, Any]]
    departments: dict[str, dict[str, Any]]



def _counts(conn: Connection, where, period: Period, tz, now: datetime, areas, level: int) -> _Counts:
    """The counters by grid and department (two queries); they add up into the whole area, the areas
    one level down and the departments."""
    start, end = period.bounds(tz)
    e = Event.__table__.c
    grouped = period_counters(conn, where, start, end, min(end, now), (e.grid_id, e.department_code))
    total: dict[str, int] = {}
    by_area: dict[str, dict[str, int]] = {}
    by_department: dict[str, dict[str, int]] = {}
    for (grid_id, department), counters in grouped.items():
        chain = areas.by_id[grid_id].chain
        _add(total, counters)
        if level < len(chain):
            _add(by_area.setdefault(chain[level], {}), counters)
        if department is not None:
            _add(by_department.setdefault(department, {}), counters)
    return _Counts(_figures(total), {code: _figures(c) for code, c in by_area.items()},
                   {code: _figures(c) for code, c in by_department.items()})


def _cases_of(areas, info) -> ColumnElement[bool]:
    """The cases of an area, by their grids (retired ones included: their cases are history of the area),
    without reading the areas table: the city's are all of them."""
    if info.level == 0:
        return true()
    grids = sorted(a.id for a in areas.by_code.values() if a.level == areas.grid_level and info.code in a.chain)
    return Event.__table__.c.grid_id.in_(grids)


def _add(into: dict[str, int], counters: dict[str, int]) -> None:
    for name, value in counters.items():
        into[name] = into.get(name, 0) + value


def _figures(counters: dict[str, int]) -> dict[str, Any]:
    out = figures(counters)
    out["closed_in_period"] = counters.get("fl:closed", 0)
    return out


def _days(conn: Connection, where, period: Period, tz, as_of: datetime) -> list[tuple[date, int, int]]:
    """Cases reported and cases closed on each local day of the period (one query)."""
    e = Event.__table__.c
    bounds = [(day, *Period("range", day, day).bounds(tz)) for day in period.each_day()]
    columns = []
    for _day, lo, hi in bounds:
        columns.append(count_of((e.reported_at >= lo) & (e.reported_at < hi)))
        columns.append(count_of((e.closed_at >= lo) & (e.closed_at < hi) & (e.closed_at < as_of)))
    source = Event.__table__
    start, end = bounds[0][1], bounds[-1][2]
    in_period = ((e.reported_at >= start) & (e.reported_at < end)) | ((e.closed_at >= start) & (e.closed_at < end))
    row = conn.execute(select(*columns).select_from(source).where(where, in_period)).one()
    return [(day, int(row[2 * i]), int(row[2 * i + 1])) for i, (day, _lo, _hi) in enumerate(bounds)]


def _rank(subjects: list[tuple[str, str]], current: dict[str, dict], previous: dict[str, dict]) -> list[Ranked]:
    """Areas or departments ranked by RANK_BY in this period and the one before; a subject with no
    case in a period has no rank in it."""
    empty = _figures({})
    now_figures = {code: current.get(code, empty) for code, _name in subjects}
    now_rank, before_rank = _places(now_figures), _places(previous)
    return sorted((Ranked(code, name, now_figures[code], now_rank.get(code, 0), before_rank.get(code))
                   for code, name in subjects), key=lambda r: (r.rank == 0, r.rank, r.code))


def _places(by_code: dict[str, dict]) -> dict[str, int]:
    counted = [code for code, f in by_code.items() if f["reported"]]
    key = lambda code: tuple(-(by_code[code][name] if by_code[code][name] is not None else -1) for name in RANK_BY) + (code,)  # noqa: E731
    return {code: place for place, code in enumerate(sorted(counted, key=key), start=1)}


def _change(value, base) -> float | None:
    if value is None or base is None:
        return None
    if isinstance(value, int) and isinstance(base, int):
        return round((value - base) / base, 4) if base else None
    return round(value - base, 4)

