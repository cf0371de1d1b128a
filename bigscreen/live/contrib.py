"""What one event adds to the live counters: a pure function of the event.

The live path applies contribution(after) - contribution(before); `rebuild` sums
contribution(e) over every event in SQL. Both use this one function, so they cannot
disagree. Overdue is the one figure that moves with the clock rather than with the
event: the deadline sweep counts it (bigscreen.live.writer), and rebuild recounts it.

Fields of an area hash and of a day hash (the cohort of events reported that day):
  st:{status}                    current status; reported, open and closed are sums of these
                                 (bigscreen.live.kpi), so ingest moves only two fields per hash
  cat:{cat}                      reported in that category (the wall's top categories)
  ontime, handle_s               closed by the deadline; seconds from report to close
  rated, satisfied               rated; rated 2 or 3
  lvl:{level}                    closed at that level (grid, community, street ...)
  med:{outcome}                  disputes settled: mediated, or referred to court
  med:lvl:{rung}                 disputes mediated on that rung of the ladder
  overdue                        open and past the deadline (kept by the sweep)
Department hashes carry the same fields as an area's all-time hash.
Flows counted on the day they happen (day hash of that day): fl:closed, fl:ontime.
Trend hashes (city, district and street only), one per hour: "r" reported, "c" closed.
The map hash holds each community's open cases (field: its code; MAP_LEVEL), so the wall's map
is one read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property, lru_cache
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bigscreen.lifecycle import CLOSED_STATUSES
from bigscreen.live.keys import Keys

DAY_KEEP = 8  # days of day hashes kept; older days live only in SQL reports
TREND_MAX_LEVEL = 2  # city, district, street
MAP_LEVEL = 3  # communities: the level the wall's map colours, on every scope
TREND_KEEP_S = 25 * 3600
ONE_SECOND = timedelta(seconds=1)


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
    department: str | None = None
    dispute_rung: str | None = None
    dispute_outcome: str | None = None

    @property
    def waiting(self) -> Waiting:
        return Waiting(self.id, self.category, self.chain[-1], self.reported_at, self.department)


@dataclass(frozen=True)
class Waiting:
    """What the deadline zset and the overdue set know of an open case: enough to find
    every counter its lateness moves, without reading SQL."""

    id: int
    category: str
    grid: str
    reported_at: datetime
    department: str | None

    @property
    def member(self) -> str:
        return f"{self.id}|{self.category}|{self.grid}|{self.reported_at.timestamp():.0f}|{self.department or ''}"

    @classmethod
    def parse(cls, member: str) -> Waiting:
        event_id, category, grid, reported, department = member.split("|")
        return cls(int(event_id), category, grid, datetime.fromtimestamp(int(reported), timezone.utc), department or None)


Delta = Counter  # (key, field) -> int


class Contributions:
    def __init__(self, keys: Keys, tz: ZoneInfo) -> None:
        self.keys = keys
        self.tz = tz
        self._today_of: tuple[datetime | None, date | None] = (None, None)
        self._keys_of: dict[str, tuple[str]] = {}
        self._dept_keys: dict[str, str] = {}
        self._day_keys: dict[tuple[str, str], str] = {}
        self._map_open = keys.map_open

    def day(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).strftime("%Y%m%d")

    def keep_day(self, moment: datetime, now: datetime) -> bool:
        return (self._local_date(now) - moment.astimezone(self.tz).date()).days < DAY_KEEP

    def _local_date(self, now: datetime) -> date:
        cached = self._today_of  # one attribute, read once: safe across threads
        if cached[0] is not now:  # a change set asks with the same `now` for every event
            cached = self._today_of = (now, now.astimezone(self.tz).date())
        return cached[1]

    def of(self, e: EventFacts, now: datetime) -> Delta:
        return self.add(Counter(), e, now)

    def add(self, out: Delta, e: EventFacts, now: datetime, sign: int = 1) -> Delta:
        """Adds `sign` times the event's contribution into `out` (and returns it)."""
        c = e.category
        closed = e.status in CLOSED_STATUSES
        fields = [f"st:{e.status}", f"cat:{c}"]
        handle_s = 0
        ontime = False
        if closed:
            assert e.closed_at is not None
            ontime = e.closed_at <= e.deadline
            if ontime:
                fields.append("ontime")
            if e.resolved_level:
                fields.append(f"lvl:{e.resolved_level}")
            handle_s = (e.closed_at - e.reported_at) // ONE_SECOND  # whole seconds, truncated (docs/METRICS.md)
        if e.dispute_outcome:
            fields.append(f"med:{e.dispute_outcome}")
            if e.dispute_outcome == "mediated":
                fields.append(f"med:lvl:{e.dispute_rung}")
        if e.rating is not None:
            fields.append("rated")
            if e.rating >= 2:
                fields.append("satisfied")
        report_day = self.day(e.reported_at) if self.keep_day(e.reported_at, now) else None
        close_day = self.day(e.closed_at) if closed and self.keep_day(e.closed_at, now) else None
        trends = [slot for slot in (self._trend_slot(e.reported_at, "r", now),
                                    self._trend_slot(e.closed_at, "c", now) if closed else None) if slot]
        get = out.get
        if not closed and len(e.chain) > MAP_LEVEL:
            k = (self._map_open, e.chain[MAP_LEVEL])
            out[k] = get(k, 0) + sign
        if e.department:
            key = self._dept_key(e.department)
            for f in fields:
                out[(key, f)] = get((key, f), 0) + sign
            if closed:
                out[(key, "handle_s")] = get((key, "handle_s"), 0) + sign * handle_s
        for level, code in enumerate(e.chain):
            keys = self._area_keys(code)
            targets = [keys[0], self._day_key(code, report_day)] if report_day else [keys[0]]
            for key in targets:
                for f in fields:
                    out[(key, f)] = get((key, f), 0) + sign
                if closed:
                    out[(key, "handle_s")] = get((key, "handle_s"), 0) + sign * handle_s
            if close_day:
                key = self._day_key(code, close_day)
                out[(key, "fl:closed")] = get((key, "fl:closed"), 0) + sign
                if ontime:
                    out[(key, "fl:ontime")] = get((key, "fl:ontime"), 0) + sign
            if level <= TREND_MAX_LEVEL:
                for hour, field in trends:
                    k = (self.keys.trend(code, hour), field)
                    out[k] = get(k, 0) + sign
        return out

    def _area_keys(self, code: str) -> tuple[str]:
        found = self._keys_of.get(code)
        if found is None:
            found = self._keys_of[code] = (self.keys.area(code),)
        return found

    def _dept_key(self, code: str) -> str:
        found = self._dept_keys.get(code)
        if found is None:
            found = self._dept_keys[code] = self.keys.department(code)
        return found

    def _day_key(self, code: str, day: str) -> str:
        found = self._day_keys.get((code, day))
        if found is None:
            if len(self._day_keys) > 200_000:
                self._day_keys.clear()
            found = self._day_keys[(code, day)] = self.keys.day(code, day)
        return found

    def _trend_slot(self, moment: datetime, flow: str, now: datetime) -> tuple[str, str] | None:
        if (now - moment).total_seconds() >= TREND_KEEP_S or moment > now + timedelta(minutes=5):
            return None
        local = moment.astimezone(self.tz)
        return local.strftime("%Y%m%d%H"), flow

    def overdue_fields(self, w: Waiting, chain: tuple[str, ...], now: datetime, sign: int = 1) -> Delta:
        """The counters one case moves by being overdue: its areas (all-time and its report
        day) and its department."""
        out: Delta = Counter()
        day = self.day(w.reported_at) if self.keep_day(w.reported_at, now) else None
        targets = [self._dept_key(w.department)] if w.department else []
        for code in chain:
            targets.append(self._area_keys(code)[0])
            if day:
                targets.append(self._day_key(code, day))
        for key in targets:
            out[(key, "overdue")] = sign
        return out

    def department_overdue_fields(self, w: Waiting, sign: int) -> Delta:
        if not w.department:
            return Counter()
        return Counter({(self._dept_key(w.department), "overdue"): sign})

    def expiry(self, key: str) -> int | None:
        """Unix time at which a dated key may go, or None for all-time keys."""
        if ":d:" in key:
            return self._expiry(key.rsplit(":", 1)[1], "%Y%m%d", timedelta(days=DAY_KEEP + 1))
        if key.startswith(self._trend_prefix):
            return self._expiry(key.rsplit(":", 1)[1], "%Y%m%d%H", timedelta(seconds=TREND_KEEP_S + 3600))
        return None

    @cached_property
    def _trend_prefix(self) -> str:
        return self.keys.trend("", "")[:-1]

    @lru_cache(maxsize=4096)  # noqa: B019 -- one Contributions per process; the stamps are few
    def _expiry(self, stamp: str, fmt: str, keep: timedelta) -> int:
        return int((datetime.strptime(stamp, fmt).replace(tzinfo=self.tz) + keep).timestamp())
