"""A zone's offset stretches over a report's period (bigscreen.reports.scope.offsets), which the SQL
local day of an instant is shifted by."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bigscreen.reports.periods import Period
from bigscreen.reports.scope import offsets


def test_a_zone_without_changes_has_one_stretch():
    tz = ZoneInfo("Asia/Shanghai")
    start, end = Period("year", datetime(2026, 1, 1).date(), datetime(2026, 12, 31).date()).bounds(tz)
    assert offsets(tz, start, end) == [(start, 8 * 3600)]


def test_summer_time_starts_and_ends_at_the_exact_second():
    tz = ZoneInfo("Europe/Berlin")
    start, end = Period("year", datetime(2026, 1, 1).date(), datetime(2026, 12, 31).date()).bounds(tz)
    assert offsets(tz, start, end) == [
        (start, 3600),
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 7200),  # 02:00 CET becomes 03:00 CEST
        (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), 3600),  # 03:00 CEST becomes 02:00 CET
    ]
    summer = Period("month", datetime(2026, 7, 1).date(), datetime(2026, 7, 31).date()).bounds(tz)
    assert offsets(tz, *summer) == [(summer[0], 7200)]
