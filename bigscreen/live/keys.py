"""The Redis key schema, in one place. Every key starts with the configured prefix.

area hash      {p}a:{area}              all-time counters of an area (see bigscreen.live.contrib)
day hash       {p}a:{area}:d:{yyyymmdd} counters of the events reported that (local) day,
                                        plus fl:* flows that happened that day
trend hash     {p}tr:{area}:{yyyymmddhh} per-minute buckets, field "{mm}:{flow}"
deadlines      {p}deadlines             zset: open cases not yet overdue, scored by deadline (epoch s)
overdue        {p}overdue               set: open cases counted as overdue
ticker         {p}ticker                capped stream of recent events
changed        {p}changed               pub/sub channel: area codes whose figures moved
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "bs:"

    def area(self, code: str) -> str:
        return f"{self.prefix}a:{code}"

    def day(self, code: str, day: str) -> str:
        return f"{self.prefix}a:{code}:d:{day}"

    def trend(self, code: str, hour: str) -> str:
        return f"{self.prefix}tr:{code}:{hour}"

    @property
    def deadlines(self) -> str:
        return f"{self.prefix}deadlines"

    @property
    def overdue(self) -> str:
        return f"{self.prefix}overdue"

    @property
    def ticker(self) -> str:
        return f"{self.prefix}ticker"

    @property
    def changed(self) -> str:
        return f"{self.prefix}changed"

    def all_pattern(self) -> str:
        return f"{self.prefix}*"
