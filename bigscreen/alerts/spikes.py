"""Spikes (事件激增): an area's events in the last hour at least `factor` times its usual level
for that hour, the usual level being the same clock hour averaged over the past days (as many of
`history_days` as the history covers: none in a system's first day).

Scheduled every minute. The usual levels come from one SQL query per clock hour (cached); the
last hour's counts from one query over the last hour. An area raises one alert when it goes
into a spike and is marked in Redis until it falls back below, so a spike lasting an hour
is one alert, not sixty.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select

from bigscreen.alerts.desk import announce, raise_alert
from bigscreen.db.models import Event
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)
HOUR = timedelta(hours=1)


class SpikeWatch:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.cfg = rt.config.city.alerts.spikes
        self.level = rt.areas.level_number(self.cfg.level)
        self._usual: tuple[datetime, dict[str, float]] | None = None

    def _by_area(self, rows) -> Counter:
        out: Counter = Counter()
        for grid_id, count in rows:
            chain = self.rt.areas.by_id[grid_id].chain
            if len(chain) > self.level:
                out[chain[self.level]] += count
        return out

    def usual(self, now: datetime) -> dict[str, float] | None:
        """Mean events per area in the clock hour that holds `now`, over the past days that the history
        covers (a system in its first weeks has fewer than `history_days`); None before it covers one."""
        hour = now.replace(minute=0, second=0, microsecond=0)
        if self._usual and self._usual[0] == hour:
            return self._usual[1]
        e = Event.__table__.c
        with self.rt.engine.connect() as conn:
            # the days the history covers: those with an event reported before them (asked of SQL, not read
            # back, so one unreadable timestamp cannot stop the job)
            starts = [t for d in range(1, self.cfg.history_days + 1)
                      if conn.scalar(select(e.id).where(e.reported_at <= (t := hour - timedelta(days=d))).limit(1)) is not None]
            usual = None
            if starts:
                windows = [and_(e.reported_at >= t, e.reported_at < t + HOUR) for t in starts]
                rows = conn.execute(select(e.grid_id, func.count()).where(or_(*windows)).group_by(e.grid_id)).all()
                usual = {code: total / len(starts) for code, total in self._by_area(rows).items()}
        self._usual = (hour, usual)
        return usual

    def last_hour(self, now: datetime) -> Counter:
        e = Event.__table__.c
        with self.rt.engine.connect() as conn:
            rows = conn.execute(select(e.grid_id, func.count())
                                .where(e.reported_at > now - HOUR, e.reported_at <= now).group_by(e.grid_id)).all()
        return self._by_area(rows)

    def run(self, now: datetime | None = None) -> int:
        """Raises an alert for every area that went into a spike since the last run."""
        now = now or self.rt.clock()
        usual = self.usual(now)
        counts = self.last_hour(now) if usual is not None else {}  # no usual level yet: nothing to compare
        spiking = {code: n for code, n in counts.items()
                   if n >= self.cfg.min_events and n >= self.cfg.factor * usual.get(code, 0.0)}
        key = self.rt.keys.spikes
        before = {m.decode() for m in self.rt.redis.smembers(key)}
        new = sorted(set(spiking) - before)
        raised = []
        if new:
            window = timedelta(minutes=self.rt.config.city.alerts.repeat_window_minutes)
            with self.rt.engine.begin() as conn:
                for code in new:
                    area = self.rt.areas.by_code[code]
                    title = f"事件激增: {area.name}近一小时{spiking[code]}件, 平常约{usual.get(code, 0.0):.1f}件"
                    raised.append(raise_alert(conn, colour=self.cfg.colour, source="spike", subject=f"spike:{code}",
                                              title=title, at=now, area_code=code, window=window))
            log.info("spikes: %s", ", ".join(new))
        pipe = self.rt.redis.pipeline(transaction=True)
        pipe.delete(key)
        if spiking:
            pipe.sadd(key, *spiking)
        pipe.execute()
        if raised:
            announce(self.rt, *raised)
        return len(raised)


_watches: dict[int, SpikeWatch] = {}


def detect_spikes(rt: Runtime) -> int:
    """The scheduled job (one watch per runtime, keeping its cache of usual levels)."""
    watch = _watches.get(id(rt))
    if watch is None:
        watch = _watches[id(rt)] = SpikeWatch(rt)
    return watch.run()
