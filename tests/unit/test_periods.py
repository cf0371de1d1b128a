"""Report periods in the city's local calendar (bigscreen.reports.periods)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bigscreen.reports.periods import Period, PeriodError, parse_period

TODAY = date(2026, 12, 5)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(("text", "kind", "first", "last"), [
    ("2026-W48", "week", date(2026, 11, 23), date(2026, 11, 29)),
    ("2026-W01", "week", date(2025, 12, 29), date(2026, 1, 4)),  # ISO: the week of the year's first Thursday
    ("2026-11", "month", date(2026, 11, 1), date(2026, 11, 30)),
    ("2024-02", "month", date(2024, 2, 1), date(2024, 2, 29)),
    ("2026-Q4", "quarter", date(2026, 10, 1), date(2026, 12, 31)),
    ("2025", "year", date(2025, 1, 1), date(2025, 12, 31)),
    ("2026-11-03..2026-11-17", "range", date(2026, 11, 3), date(2026, 11, 17)),
    (" 2026-W49 ", "week", date(2026, 11, 30), date(2026, 12, 6)),  # begun, not ended: the week so far
])
def test_every_kind_of_period_is_read(text, kind, first, last):
    p = parse_period(text, TODAY)
    assert (p.kind, p.first, p.last) == (kind, first, last)
    assert parse_period(p.label, TODAY) == p


def test_a_case_at_2330_on_sunday_beijing_time_belongs_to_that_week():
    start, end = parse_period("2026-W48", TODAY).bounds(SHANGHAI)
    assert start == datetime(2026, 11, 22, 16, tzinfo=UTC)  # Monday 00:00 in Beijing
    sunday_2330 = datetime(2026, 11, 29, 23, 30, tzinfo=SHANGHAI)
    assert start <= sunday_2330 < end
    assert not start <= datetime(2026, 11, 30, 0, 0, tzinfo=SHANGHAI) < end


@pytest.mark.parametrize(("text", "previous", "year_before"), [
    ("2026-W48", "2026-W47", "2025-W48"),
    ("2026-W01", "2025-W52", "2025-W01"),
    ("2026-01", "2025-12", "2025-01"),
    ("2026-Q1", "2025-Q4", "2025-Q1"),
    ("2026", "2025", "2025"),
    ("2026-11-03..2026-11-17", "2026-10-19..2026-11-02", "2025-11-03..2025-11-17"),
    ("2024-02-29..2024-03-01", "2024-02-27..2024-02-28", "2023-02-28..2023-03-01"),
    ("2020-W53", "2020-W52", "2019-W52"),  # 2019 has no week 53: its last
])
def test_each_period_knows_the_one_before_and_the_year_before(text, previous, year_before):
    p = parse_period(text, TODAY)
    assert p.previous().label == previous
    assert p.year_before().label == year_before
    assert p.previous().last.toordinal() + 1 == p.first.toordinal()


@pytest.mark.parametrize(("text", "says"), [
    ("", "is not one of"),
    ("2026-W", "is not one of"),
    ("last week", "is not one of"),
    ("2026-13", "month must be in 1..12"),
    ("2026-W54", "has weeks 1 to 53"),
    ("2025-W53", "has weeks 1 to 52"),
    ("2026-02-30..2026-03-01", "day is out of range"),
    ("2026-11-17..2026-11-03", "the last day is before the first"),
    ("2000-01-01..2026-01-01", "at most"),
    ("2026-W50", "begins after today"),
    ("2027", "begins after today"),
    ("0000", "year 0 is out of range"),
])
def test_a_bad_period_is_refused_saying_why(text, says):
    with pytest.raises(PeriodError, match=says):
        parse_period(text, TODAY)


def test_days_and_their_count():
    p = Period("range", date(2026, 3, 30), date(2026, 4, 2))
    assert p.days == 4 and p.each_day()[-1] == date(2026, 4, 2)


@pytest.mark.parametrize(("now", "kind", "label"), [
    (datetime(2026, 11, 30, 7, 59), "week", "2026-W47"),  # Monday before 08:00: last week's is not due yet
    (datetime(2026, 11, 30, 8, 0), "week", "2026-W48"),
    (datetime(2026, 12, 5, 9, 0), "week", "2026-W48"),
    (datetime(2026, 12, 1, 8, 0), "month", "2026-11"),
    (datetime(2026, 12, 1, 7, 0), "month", "2026-10"),
    (datetime(2027, 1, 1, 8, 0), "quarter", "2026-Q4"),
    (datetime(2026, 12, 5, 9, 0), "quarter", "2026-Q3"),
    (datetime(2026, 1, 1, 9, 0), "month", "2025-12"),
])
def test_which_report_is_due(now, kind, label):
    from datetime import time

    from bigscreen.reports.periods import due

    assert due(kind, now.replace(tzinfo=SHANGHAI), time(8, 0)).label == label
