"""What one event adds to the live counters: a pure function of the event.

The live path applies contribution(after) - contribution(before); `rebuild` sums
contribution(e) over every event in SQL. Both use this one function, so they cannot
disagree. Overdue is the one figure that moves with the clock rather than with the
event: the deadline sweep counts it (bigscreen.live.writer), and rebuild recounts it.

Fields of an area hash and of a day hash (the cohort of events reported that day):
  n, n:{cat}                     reported
  st:{status}, st:{status}:{cat} current status
  open, open:{cat}               not closed
  closed, ontime, handle_s       closed; closed by the deadline; seconds from report to close
  rated, satisfied               rated; rated 2 or 3
  lvl:{level}                    closed at that level (grid, community, street ...)
  overdue, overdue:{cat}         open and past the deadline (kept by the sweep)
Flows counted on the day they happen (day hash of that day): fl:closed, fl:ontime.
Trend hashes (city, district and street only): "{minute}:r" reported, "{minute}:c" closed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bigscreen.lifecycle import CLOSED_STATUSES
from bigscreen.live.keys import Keys

DAY_KEEP = 8  # days of day hashes kept; older days live only in SQL reports
TREND_MAX_LEVEL = 2  # city, district, street
TREND_KEEP_S = 25 * 3600


@dataclass(frozen=True)
class EventFacts:
    id: int
    category: str
    chain: tuple[str, ...]  # area codes from the city down to the grid
    status: str
    reported_at: datetime
    deadline: datetime
    closed_at: datetime | None = None
    rating: int | None = None
    resolved_level: str | None = None

    @property
    def member(self) -> str:
        """How the event appears in the deadline zset and the overdue set."""
        return f"{self.id}|{self.category}|{self.chain[-1]}|{self.reported_at.timestamp():.0f}"


def parse_member(member: str) -> tuple[int, str, str, datetime]:
    """(event id, category, grid code, reported at) of a deadline-zset member."""
    event_id, category, grid, reported = member.split("|")
    return int(event_id), category, grid, datetime.fromtimestamp(int(reported), timezone.utc)


Delta = Counter  # (key, field) -> int


class Contributions:
    def __init__(self, keys: Keys, tz: ZoneInfo) -> None:
        self.keys = keys
        self.tz = tz

    def day(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).strftime("%Y%m%d")

    def keep_day(self, moment: datetime, now: datetime) -> bool:
        return (now.astimezone(self.tz).date() - moment.astimezone(self.tz).date()).days < DAY_KEEP

    def of(self, e: EventFacts, now: datetime) -> Delta:
        out: Delta = Counter()
        c = e.category
        closed = e.status in CLOSED_STATUSES
        fields = [f"n", f"n:{c}", f"st:{e.status}", f"st:{e.status}:{c}"]
        sums: list[tuple[str, int]] = []
        if closed:
            assert e.closed_at is not None
            fields.append("closed")
            if e.closed_at <= e.deadline:
                fields.append("ontime")
            if e.resolved_level:
                fields.append(f"lvl:{e.resolved_level}")
            sums.append(("handle_s", round((e.closed_at - e.reported_at).total_seconds())))
        else:
            fields += ["open", f"open:{c}"]
        if e.rating is not None:
            fields.append("rated")
            if e.rating >= 2:
                fields.append("satisfied")
        cohort = self.keep_day(e.reported_at, now)
        close_day = closed and self.keep_day(e.closed_at, now)
        for level, code in enumerate(e.chain):
            targets = [self.keys.area(code)]
            if cohort:
                targets.append(self.keys.day(code, self.day(e.reported_at)))
            for key in targets:
                for f in fields:
                    out[(key, f)] += 1
                for f, v in sums:
                    out[(key, f)] += v
            if close_day:
                key = self.keys.day(code, self.day(e.closed_at))
                out[(key, "fl:closed")] += 1
                if e.closed_at <= e.deadline:
                    out[(key, "fl:ontime")] += 1
            if level <= TREND_MAX_LEVEL:
                self._trend(out, code, e.reported_at, "r", now)
                if closed:
                    self._trend(out, code, e.closed_at, "c", now)
        return out

    def _trend(self, out: Delta, code: str, moment: datetime, flow: str, now: datetime) -> None:
        if (now - moment).total_seconds() >= TREND_KEEP_S or moment > now + timedelta(minutes=5):
            return
        local = moment.astimezone(self.tz)
        out[(self.keys.trend(code, local.strftime("%Y%m%d%H")), f"{local.minute:02d}:{flow}")] += 1

    def overdue_fields(self, category: str, chain: tuple[str, ...], reported_at: datetime, now: datetime) -> Delta:
        out: Delta = Counter()
        cohort = self.keep_day(reported_at, now)
        for code in chain:
            targets = [self.keys.area(code)]
            if cohort:
                targets.append(self.keys.day(code, self.day(reported_at)))
            for key in targets:
                out[(key, "overdue")] += 1
                out[(key, f"overdue:{category}")] += 1
        return out

    def expiry(self, key: str) -> int | None:
        """Unix time at which a dated key may go, or None for all-time keys."""
        if ":d:" in key:
            day = datetime.strptime(key.rsplit(":", 1)[1], "%Y%m%d").replace(tzinfo=self.tz)
            return int((day + timedelta(days=DAY_KEEP + 1)).timestamp())
        if key.startswith(self.keys.trend("", "")[:-1]):
            hour = datetime.strptime(key.rsplit(":", 1)[1], "%Y%m%d%H").replace(tzinfo=self.tz)
            return int((hour + timedelta(seconds=TREND_KEEP_S + 3600)).timestamp())
        return None


def difference(after: Delta, before: Delta) -> Delta:
    out = Counter(after)
    out.subtract(before)
    return Counter({k: v for k, v in out.items() if v})
