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
from datetime import datetime, timedelta, timezone
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

from bigscreen.domain.lifecycle import CLOSED_STATUSES
from bigscreen.live.keys import Keys

DAY_KEEP = 8  # days of day hashes kept; older days live only in SQL reports
TREND_MAX_LEVEL = 2  # city, district, street
MAP_LEVEL = 3  # communities: the level the wall's map colours, on every scope
TREND_KEEP_S = 25 * 3600
TREND_KEEP = timedelta(seconds=TREND_KEEP_S)
TREND_AHEAD = timedelta(minutes=5)
ONE_SECOND = timedelta(seconds=1)
ZERO = timedelta(0)
LOCAL_BUCKET_S = 900  # local days and hours are remembered per quarter of an hour of UTC (Contributions._local)
LOCAL_BUCKET = timedelta(seconds=LOCAL_BUCKET_S)
LOCAL_BUCKET_LAST = LOCAL_BUCKET - timedelta(microseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(slots=True)  # not frozen: a frozen dataclass is made three times slower, and ingest makes one per report
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


@dataclass(slots=True)  # not frozen, as EventFacts
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
        self._local_of: dict[int, tuple[str, str, int]] = {}
        self._keys_of: dict[str, tuple[str]] = {}
        self._dept_keys: dict[str, str] = {}
        self._day_keys: dict[tuple[str, str], str] = {}
        self._chain_keys: dict[tuple[tuple[str, ...], str | None], tuple[str, ...]] = {}
        self._trend_keys: dict[tuple[str, str], str] = {}
        self._expiries: dict[str, int | None] = {}
        self._fields_of: dict[tuple[str, str], tuple[str, str]] = {}
        self._bounds_of: tuple[datetime | None, tuple] = (None, ())
        self._trend_chains: dict[tuple[str, str], tuple[str, ...]] = {}
        self._map_open = keys.map_open

    def day(self, moment: datetime) -> str:
        return self._local(moment)[0]

    def keep_day(self, moment: datetime, now: datetime) -> bool:
        return self._local_date(now) - self._local(moment)[2] < DAY_KEEP

    def _local_date(self, now: datetime) -> int:
        """The city's date today (ordinal)."""
        return self._now_bounds(now)[0]

    def _local(self, moment: datetime) -> tuple[str, str, int]:
        """The instant's local day ("%Y%m%d"), hour ("%Y%m%d%H") and date (ordinal) in the city's
        zone. Remembered per quarter of an hour of UTC, in which they cannot change (zones are
        offset by whole quarters of an hour, and change offset at most once in one), so ingest
        does not convert and format every event's times (it was a third of the counters' cost)."""
        bucket = (moment - EPOCH) // LOCAL_BUCKET  # exact, in whole quarters of an hour
        found = self._local_of.get(bucket)
        if found is None:
            local = moment.astimezone(self.tz)
            found = (local.strftime("%Y%m%d"), local.strftime("%Y%m%d%H"), local.toordinal())
            start = EPOCH + bucket * LOCAL_BUCKET
            first, last = start.astimezone(self.tz).utcoffset(), (start + LOCAL_BUCKET_LAST).astimezone(self.tz).utcoffset()
            if first == last and first % LOCAL_BUCKET == ZERO:  # else (old local mean times): not remembered
                if len(self._local_of) > 100_000:
                    self._local_of.clear()
                self._local_of[bucket] = found
        return found

    def of(self, e: EventFacts, now: datetime) -> Delta:
        return self.add(Counter(), e, now)

    def add(self, out: Delta, e: EventFacts, now: datetime, sign: int = 1) -> Delta:
        """Adds `sign` times the event's contribution into `out` (and returns it)."""
        closed = e.status in CLOSED_STATUSES
        fields = self._fields_of.get((e.status, e.category))
        if fields is None:
            fields = self._fields_of[(e.status, e.category)] = (f"st:{e.status}", f"cat:{e.category}")
        if closed or e.dispute_outcome or e.rating is not None:
            fields = list(fields)
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
        today, trend_from, trend_to = self._now_bounds(now)
        reported = self._local(e.reported_at)
        report_day = reported[0] if today - reported[2] < DAY_KEEP else None
        trends = [(reported[1], "r")] if trend_from < e.reported_at <= trend_to else []
        close_day = None
        if closed:
            closed_at = self._local(e.closed_at)
            close_day = closed_at[0] if today - closed_at[2] < DAY_KEEP else None
            if trend_from < e.closed_at <= trend_to:
                trends.append((closed_at[1], "c"))
        chain = e.chain
        keys = self._area_day_keys(chain, report_day)  # every level's all-time hash, and its report day's
        if e.department:
            keys = (self._dept_key(e.department), *keys)
        counted = [(key, f) for key in keys for f in fields]
        if not closed and len(chain) > MAP_LEVEL:
            counted.append((self._map_open, chain[MAP_LEVEL]))
        if close_day:
            for code in chain:
                key = self._day_key(code, close_day)
                counted.append((key, "fl:closed"))
                if ontime:
                    counted.append((key, "fl:ontime"))
        for hour, field in trends:
            counted += [(key, field) for key in self._trend_chain_keys(chain, hour)]
        if sign == 1:
            out.update(counted)  # counts each (key, field) once, in C
        else:
            get = out.get
            for k in counted:
                out[k] = get(k, 0) + sign
        if closed:
            get = out.get
            for key in keys:
                out[(key, "handle_s")] = get((key, "handle_s"), 0) + sign * handle_s
        return out

    def _now_bounds(self, now: datetime) -> tuple[int, datetime, datetime]:
        """The city's date today (ordinal), and the trend's window: a moment after the first time and up to
        the second is in it (the last 25 hours, and not more than 5 minutes ahead); remembered for the `now`
        a change set asks with for every event."""
        cached = self._bounds_of  # one attribute, read once: safe across threads
        if cached[0] is not now:  # a change set asks with the same `now` for every event
            cached = self._bounds_of = (now, (self._local(now)[2], now - TREND_KEEP, now + TREND_AHEAD))
        return cached[1]

    def _trend_chain_keys(self, chain: tuple[str, ...], hour: str) -> tuple[str, ...]:
        """The trend hashes of the chain's levels that keep a trend, for this hour. Remembered by the
        lowest of those areas (a code names one area, and so its chain up to the city), not by the whole
        chain: a few hundred streets, where thousands of grids would make most reports a new entry."""
        top = chain[TREND_MAX_LEVEL] if len(chain) > TREND_MAX_LEVEL else chain[-1]
        found = self._trend_chains.get((top, hour))
        if found is None:
            found = tuple(self._trend_key(code, hour) for code in chain[: TREND_MAX_LEVEL + 1])
            if len(self._trend_chains) > 100_000:
                self._trend_chains.clear()
            self._trend_chains[(top, hour)] = found
        return found

    def _area_day_keys(self, chain: tuple[str, ...], day: str | None) -> tuple[str, ...]:
        """The all-time hash of every area of the chain, then (for a day still kept) their day hashes."""
        found = self._chain_keys.get((chain, day))
        if found is None:
            found = tuple(self._area_keys(code)[0] for code in chain)
            if day:
                found += tuple(self._day_key(code, day) for code in chain)
            if len(self._chain_keys) > 100_000:
                self._chain_keys.clear()
            self._chain_keys[(chain, day)] = found
        return found

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

    def _trend_key(self, code: str, hour: str) -> str:
        found = self._trend_keys.get((code, hour))
        if found is None:
            if len(self._trend_keys) > 200_000:
                self._trend_keys.clear()
            found = self._trend_keys[(code, hour)] = self.keys.trend(code, hour)
        return found

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
        try:
            return self._expiries[key]
        except KeyError:
            pass
        found = None
        if ":d:" in key:
            found = self._expiry(key.rsplit(":", 1)[1], "%Y%m%d", timedelta(days=DAY_KEEP + 1))
        elif key.startswith(self._trend_prefix):
            found = self._expiry(key.rsplit(":", 1)[1], "%Y%m%d%H", timedelta(seconds=TREND_KEEP_S + 3600))
        if len(self._expiries) > 200_000:
            self._expiries.clear()
        self._expiries[key] = found  # every group asks again for the same keys
        return found

    @cached_property
    def _trend_prefix(self) -> str:
        return self.keys.trend("", "")[:-1]

    @lru_cache(maxsize=4096)  # noqa: B019 -- one Contributions per process; the stamps are few
    def _expiry(self, stamp: str, fmt: str, keep: timedelta) -> int:
        return int((datetime.strptime(stamp, fmt).replace(tzinfo=self.tz) + keep).timestamp())
