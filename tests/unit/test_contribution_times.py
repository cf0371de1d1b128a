"""The counters' local days and hours, remembered per quarter of an hour of UTC, are exactly
what converting each instant gives: across daylight saving changes, zones offset by a quarter
or half an hour, and old local mean times that are not."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bigscreen.live.contrib import DAY_KEEP, Contributions
from bigscreen.live.keys import Keys

ZONES = ["Asia/Shanghai", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "Europe/Dublin"]


def _instants(tz: ZoneInfo) -> list[datetime]:
    rng = random.Random(7)
    out = [datetime(1900, 6, 1, 12, 5, tzinfo=timezone.utc), datetime(1901, 1, 1, tzinfo=timezone.utc)]
    moment = datetime(1985, 1, 1, tzinfo=timezone.utc)
    while moment < datetime(2030, 1, 1, tzinfo=timezone.utc):  # every offset change, and around it
        after = moment.astimezone(tz).utcoffset()
        step = moment + timedelta(hours=6)
        if step.astimezone(tz).utcoffset() != after:
            low, high = moment, step
            while high - low > timedelta(microseconds=1):
                mid = low + (high - low) / 2
                if mid.astimezone(tz).utcoffset() == after:
                    low = mid
                else:
                    high = mid
            out += [high + timedelta(microseconds=d) for d in (-2, -1, 0, 1, 899_999_999, 900_000_000)]
        moment = step
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    out += [base + timedelta(seconds=rng.randrange(0, 3 * 365 * 86400), microseconds=rng.randrange(10**6)) for _ in range(3000)]
    out += [base + timedelta(minutes=15 * k, microseconds=d) for k in range(400) for d in (-1, 0)]
    return out


@pytest.mark.parametrize("zone", ZONES)
def test_local_days_and_hours_are_those_of_each_instant(zone):
    tz = ZoneInfo(zone)
    contrib = Contributions(Keys(), tz)
    instants = _instants(tz)
    for moment in instants + instants[::-1]:  # filled in one order, read in the other
        local = moment.astimezone(tz)
        assert contrib.day(moment) == local.strftime("%Y%m%d"), moment
        assert contrib._local(moment)[1] == local.strftime("%Y%m%d%H"), moment
    now = datetime(2027, 3, 10, 9, tzinfo=timezone.utc)
    for moment in instants:
        kept = (now.astimezone(tz).date() - moment.astimezone(tz).date()).days < DAY_KEEP
        assert contrib.keep_day(moment, now) == kept, moment
