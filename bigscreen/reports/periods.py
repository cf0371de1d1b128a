"""The periods reports cover, in the city's local calendar: a week (2026-W48, ISO weeks from Monday),
a month (2026-11), a quarter (2026-Q4), a year (2026) or any range of days (2026-11-03..2026-11-17,
both days included).

A period is a half-open range of local days, turned into UTC instants only at its edges: a case
reported at 23:30 on Sunday, Beijing time, belongs to that Sunday's week. Each period knows the one
before it (the previous week, month ...; for a range, the range of the same length just before) and
the same period a year earlier, which reports compare against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

KINDS = ("week", "month", "quarter", "year", "range")
_WEEK = re.compile(r"(\d{4})-W(\d{1,2})")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])")
_YEAR = re.compile(r"(\d{4})")
_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})")
MAX_RANGE_DAYS = 366 * 5


class PeriodError(ValueError):
    """A period that cannot be read or is not allowed; the message says which and why."""


@dataclass(frozen=True)
class Period:
    kind: str
    first: date  # the first local day in it
    last: date  # the last local day in it

    @property
    def label(self) -> str:
        if self.kind == "week":
            year, week, _ = self.first.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return f"{self.first.year}-{self.first.month:02d}"
        if self.kind == "quarter":
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        if self.kind == "year":
            return str(self.first.year)
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) as UTC instants: local midnight of the first day and of the day after the last."""
        return _midnight(self.first, tz), _midnight(self.last + timedelta(days=1), tz)

    def each_day(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.days)]

    def previous(self) -> Period:
        """The period of the same kind just before this one (for a range: as many days, just before)."""
        if self.kind == "week":
            return Period("week", self.first - timedelta(days=7), self.last - timedelta(days=7))
        if self.kind in ("month", "quarter", "year"):
            months = {"month": 1, "quarter": 3, "year": 12}[self.kind]
            first = _add_months(self.first, -months)
            return Period(self.kind, first, _add_months(first, months) - timedelta(days=1))
        return Period("range", self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def year_before(self) -> Period:
        """The same period a year earlier (同比): the same ISO week number, month, quarter or days."""
        if self.kind == "week":
            year, week, _ = self.first.isocalendar()
            return week_period(year - 1, min(week, _weeks_in(year - 1)))
        if self.kind == "range":
            return Period("range", _same_day_a_year_before(self.first), _same_day_a_year_before(self.last))
        first = _add_months(self.first, -12)
        months = {"month": 1, "quarter": 3, "year": 12}[self.kind]
        return Period(self.kind, first, _add_months(first, months) - timedelta(days=1))


def parse_period(text: str, today: date) -> Period:
    """The period `text` names; refused (PeriodError) when it is malformed, impossible, or begins after
    `today` (the city's local date now). A period that has begun but not ended is allowed: a report
    of the week so far."""
    text = (text or "").strip()
    try:
        period = _parse(text)
    except ValueError as exc:  # an impossible date: month 13, 2026-02-30, week 54
        raise PeriodError(f"period {text!r}: {exc}") from None
    if period is None:
        raise PeriodError(f"period {text!r} is not one of 2026-W48 (a week), 2026-11 (a month), 2026-Q4 (a quarter), "
                          "2026 (a year) or 2026-11-03..2026-11-17 (days, both included)")
    if period.first > today:
        raise PeriodError(f"period {period.label} begins after today ({today.isoformat()}): nothing to report yet")
    return period


SCHEDULED = ("week", "month", "quarter")  # the kinds the scheduler produces (bigscreen.jobs.reports)


def last_complete(kind: str, today: date) -> Period:
    """The latest week, month or quarter that ended before `today`."""
    if kind == "week":
        monday = today - timedelta(days=today.weekday())
        return Period("week", monday - timedelta(days=7), monday - timedelta(days=1))
    months = {"month": 1, "quarter": 3}[kind]
    current = date(today.year, today.month - (today.month - 1) % months, 1)
    first = _add_months(current, -months)
    return Period(kind, first, current - timedelta(days=1))


def due(kind: str, now_local: datetime, at: time) -> Period:
    """The latest period of `kind` whose report is due by `now_local`: a week on the Monday after it
    at `at`, a month on the 1st of the next, a quarter on the 1st after it."""
    period = last_complete(kind, now_local.date())
    if now_local.replace(tzinfo=None) < datetime.combine(period.last + timedelta(days=1), at):
        return period.previous()
    return period


def week_period(year: int, week: int) -> Period:
    if not 1 <= week <= _weeks_in(year):
        raise ValueError(f"{year} has weeks 1 to {_weeks_in(year)}")
    first = date.fromisocalendar(year, week, 1)
    return Period("week", first, first + timedelta(days=6))


def _parse(text: str) -> Period | None:
    if m := _WEEK.fullmatch(text):
        return week_period(int(m[1]), int(m[2]))
    if m := _QUARTER.fullmatch(text):
        first = date(int(m[1]), 3 * int(m[2]) - 2, 1)
        return Period("quarter", first, _add_months(first, 3) - timedelta(days=1))
    if m := _MONTH.fullmatch(text):
        first = date(int(m[1]), int(m[2]), 1)
        return Period("month", first, _add_months(first, 1) - timedelta(days=1))
    if m := _YEAR.fullmatch(text):
        return Period("year", date(int(m[1]), 1, 1), date(int(m[1]), 12, 31))
    if m := _RANGE.fullmatch(text):
        first, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
        if last < first:
            raise ValueError("the last day is before the first")
        if (last - first).days >= MAX_RANGE_DAYS:
            raise ValueError(f"a range covers at most {MAX_RANGE_DAYS} days")
        return Period("range", first, last)
    return None


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _add_months(day: date, months: int) -> date:
    """The first of the month `months` after `day`'s month (day is always a first here)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _weeks_in(year: int) -> int:
    return date(year, 12, 28).isocalendar()[1]


def _same_day_a_year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)
