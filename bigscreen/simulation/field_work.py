"""The demo's field work (一日两巡五访): every full-time grid worker's day, recorded through the command a
grid app's uploads go through (bigscreen.cases.field_work), so the live counters move as they would.

Unlike the event simulator (bigscreen.simulation.simulator, HTTP only) this one runs inside `bigscreen demo`: it needs
the grid workers' ids, which the API does not list.

A worker's day is drawn from a generator seeded by the demo's seed, the day and the worker, so it is the same
plan however often it is drawn: on duty with probability `workforce.on_duty_share`; a check-in around 08:30
(nearly all between 08:00 and 09:00); `patrols_per_day` patrols, one in each equal part of the working day
(rarely one is skipped); about `visits_per_day` visits spread over the working day outside the lunch break.
Each activity carries the source id "fw-{yyyymmdd}-{worker}-{kind}-{n}": a demo started again mid-day
sends the morning again (`backfill`) and nothing is stored or counted twice.
"""

from __future__ import annotations

import logging
import random
import threading
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bigscreen.cases.field_work import FieldActivityIn, FieldChannel, record_field_activities
from bigscreen.configuration.models import Workforce
from bigscreen.db.models import GridWorker
from bigscreen.domain.lifecycle import Role
from bigscreen.live.field_work import CHECK_IN, PATROL, VISIT
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)

CHECK_IN_MEAN = time(8, 30)
CHECK_IN_SD_MIN = 12.0                      # minutes: 99% of check-ins fall between 08:00 and 09:00
CHECK_IN_RANGE = (time(7, 30), time(9, 45))
WORK_DAY = (time(9, 0), time(17, 30))
LUNCH = (time(12, 0), time(13, 30))
PATROL_DONE = 0.97                          # a patrol is now and then skipped
VISITS_SD = 1.2
BATCH = 1000                                # activities per command call (one transaction each)
TICK_S = 5.0                                # live: what fell due is sent this often, as one batch
MAX_BACKOFF_S = 60.0


@dataclass(frozen=True, slots=True)
class Planned:
    at: datetime  # UTC
    kind: str
    worker_id: int
    source_id: str


def _local(day: date, clock: time, tz: ZoneInfo, minutes: float = 0.0) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz) + timedelta(minutes=minutes)


def worker_day(worker_id: int, day: date, tz: ZoneInfo, plan: Workforce, seed: int) -> list[Planned]:
    """One worker's field work on one local day (nothing when absent), in no particular order."""
    rng = random.Random(f"{seed}:{day.isoformat()}:{worker_id}")
    if rng.random() >= plan.on_duty_share:
        return []
    stamp = day.strftime("%Y%m%d")

    def made(at: datetime, kind: str, n: int) -> Planned:
        return Planned(at.astimezone(UTC), kind, worker_id, f"fw-{stamp}-{worker_id}-{kind}-{n}")

    low, high = (_local(day, t, tz) for t in CHECK_IN_RANGE)
    checked_in = min(high, max(low, _local(day, CHECK_IN_MEAN, tz, rng.gauss(0, CHECK_IN_SD_MIN))))
    out = [made(checked_in, CHECK_IN, 1)]
    start, end = max(checked_in, _local(day, WORK_DAY[0], tz)), _local(day, WORK_DAY[1], tz)
    lunch_from, lunch_to = _local(day, LUNCH[0], tz), _local(day, LUNCH[1], tz)
    lunch = max(timedelta(0), min(end, lunch_to) - max(start, lunch_from))
    working = end - start - lunch

    def at_work(share: float) -> datetime:
        """The moment `share` of the way through the working time, the lunch break left out."""
        at = start + working * share
        return at + lunch if at >= lunch_from else at

    k = plan.patrols_per_day
    for n in range(k):  # one patrol in each equal part of the working day
        if rng.random() < PATROL_DONE:
            out.append(made(at_work((n + rng.random()) / k), PATROL, n + 1))
    for n in range(max(0, round(rng.gauss(plan.visits_per_day, VISITS_SD)))):
        out.append(made(at_work(rng.random()), VISIT, n + 1))
    return out


def plan_day(workers: Sequence[int], day: date, tz: ZoneInfo, plan: Workforce, seed: int) -> list[Planned]:
    """Every worker's field work on one local day, in time order."""
    out = [p for w in workers for p in worker_day(w, day, tz, plan, seed)]
    out.sort(key=lambda p: (p.at, p.worker_id, p.kind))
    return out


class FieldWorkSimulator:
    """Sends the planned field work as it falls due; `backfill` first catches up with the day so far."""

    def __init__(self, rt: Runtime, source: str, *, seed: int | None = None) -> None:
        self.rt = rt
        self.source = source
        self.seed = rt.config.city.demo.seed if seed is None else seed
        self._workers: list[int] | None = None
        self._day: date | None = None
        self._plan: list[Planned] = []
        self._times: list[datetime] = []
        self._sent = 0  # activities of the day's plan sent so far
        self._stop = threading.Event()  # `run`'s: a long catch-up ends between batches when it is set

    def workers(self) -> list[int]:
        """The full-time grid workers (helpers do not keep the 一日两巡五访 routine)."""
        if self._workers is None:
            with self.rt.sessions() as session:
                self._workers = list(session.scalars(
                    select(GridWorker.id).where(GridWorker.role == "full_time").order_by(GridWorker.id)))
        return self._workers

    def _plan_for(self, day: date) -> None:
        self._day = day
        self._plan = plan_day(self.workers(), day, self.rt.tz, self.rt.config.city.workforce, self.seed)
        self._times = [p.at for p in self._plan]
        self._sent = 0

    def backfill(self, now: datetime | None = None) -> int:
        """Sends today's field work up to now (a demo started mid-day); returns how many were new."""
        now = now or self.rt.clock()
        self._plan_for(now.astimezone(self.rt.tz).date())
        due = bisect_right(self._times, now)
        created = self._send(self._plan[:due])
        self._sent = due
        log.info("field work: %d of today's %d planned activities were due, %d new", due, len(self._plan), created)
        return created

    def send_days(self, days: Sequence[date], stop: threading.Event | None = None) -> int:
        """Sends every activity of whole past days (the demo's earlier history); returns how many were new."""
        if stop is not None:
            self._stop = stop
        created = 0
        for day in days:
            if self._stop.is_set():
                break
            created += self._send(plan_day(self.workers(), day, self.rt.tz, self.rt.config.city.workforce, self.seed))
        return created

    def tick(self, now: datetime | None = None) -> int:
        """Sends what fell due since the last call (the rest of yesterday first, after midnight)."""
        now = now or self.rt.clock()
        today = now.astimezone(self.rt.tz).date()
        created = 0
        if self._day != today:
            if self._day is not None and self._day < today:
                created += self._send(self._plan[self._sent:])
            self._plan_for(today)
        due = bisect_right(self._times, now)
        if due > self._sent:
            created += self._send(self._plan[self._sent:due])
            self._sent = due
        return created

    def _send(self, planned: Sequence[Planned]) -> int:
        created = 0
        for start in range(0, len(planned), BATCH):
            if self._stop.is_set():
                break
            items = [FieldActivityIn(kind=p.kind, worker_id=p.worker_id, at=p.at, role=Role.GRID_WORKER.value,
                                     channel=FieldChannel.GRID_APP, source_id=p.source_id)
                     for p in planned[start : start + BATCH]]
            created += sum(r.created for r in record_field_activities(self.rt, self.source, items))
        return created

    def run(self, stop: threading.Event, every_s: float = TICK_S) -> None:
        """Catch up with today, then send what falls due every `every_s` until `stop`; errors are logged and
        retried with back-off, never fatal."""
        backoff, caught_up = 0.0, False
        self._stop = stop
        while not stop.is_set():
            try:
                if not caught_up:
                    self.backfill()
                    caught_up = True
                else:
                    self.tick()
                backoff = 0.0
            except Exception:  # the database may be busy or restarting: try again later
                backoff = min(MAX_BACKOFF_S, max(every_s, backoff * 2))
                log.exception("field work simulation failed; retrying in %.0f s", backoff)
            stop.wait(backoff or every_s)
