"""Scheduled jobs, run by one process at a time however many run the scheduler (APScheduler 3).

Every web worker, `bigscreen scheduler` and `bigscreen demo` start the same background
scheduler (`start_background`); a `LeaderLock` decides which one of them actually runs the
jobs, builds the wall's frames and repairs the live figures after a Redis outage (each
process watches Redis, bigscreen.jobs.watch). A job is a `JobSpec` in `JOBS`; each run is recorded in
the Redis stream `{p}jobs` (job, owner, at, result).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

import redis
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from bigscreen.alerts.desk import escalate_unacknowledged
from bigscreen.alerts.spikes import detect_spikes
from bigscreen.cases.supervision import supervise
from bigscreen.jobs.leader import LeaderLock
from bigscreen.jobs.reconcile import reconcile_job
from bigscreen.jobs.reports import produce_due_reports
from bigscreen.jobs.watch import start_watch
from bigscreen.process.runtime import Runtime
from bigscreen.wall.publisher import FramePublisher

log = logging.getLogger(__name__)
SWEEP_EVERY_S = 5
SUPERVISE_EVERY_S = 5
ESCALATE_EVERY_S = 15
SPIKES_EVERY_S = 60
RECONCILE_EVERY_S = 600  # a full read of SQL: at a million events it takes a minute or so
REPORTS_EVERY_S = 300  # what is due and not stored yet: a report is at most five minutes late
JOBS_STREAM_MAXLEN = 1000
STOP_FRAMES_TIMEOUT_S = 5.0


class JobSpec(NamedTuple):
    name: str
    run: Callable[[Runtime], int | None]
    every_s: float


def sweep_deadlines(rt: Runtime) -> int:
    counted = rt.live.sweep(rt.clock(), rt.areas.chain_of)
    if counted:
        log.info("deadline sweep: %d case(s) became overdue", counted)
    return counted


JOBS: list[JobSpec] = [
    JobSpec("sweep_deadlines", sweep_deadlines, SWEEP_EVERY_S),
    JobSpec("supervise", supervise, SUPERVISE_EVERY_S),
    JobSpec("escalate_alerts", escalate_unacknowledged, ESCALATE_EVERY_S),
    JobSpec("detect_spikes", detect_spikes, SPIKES_EVERY_S),
    JobSpec("reconcile", reconcile_job, RECONCILE_EVERY_S),
    JobSpec("produce_reports", produce_due_reports, REPORTS_EVERY_S),
]

# Jobs that judge cases by the clock: while past history is being sent (the demo's backfill) they would
# count as late, supervise or call a spike what has only not been replayed yet.
CLOCK_JOBS = ("sweep_deadlines", "supervise", "escalate_alerts", "detect_spikes")


def register(scheduler: BaseScheduler, rt: Runtime, lock: LeaderLock) -> BaseScheduler:
    """Adds the lock's renewal and every job in `JOBS`, each running only while `lock` leads."""
    lock.try_lead()  # decided now, so the jobs' first runs below already know
    scheduler.add_job(lock.try_lead, "interval", seconds=lock.ttl_s / 3,  # two renewals may fail before it lapses
                      id="leader", max_instances=1, coalesce=True)
    for spec in JOBS:
        scheduler.add_job(_run_if_leader, "interval", seconds=spec.every_s, args=[spec, rt, lock], id=spec.name,
                          max_instances=1, coalesce=True, next_run_time=rt.clock())
    return scheduler


def _run_if_leader(spec: JobSpec, rt: Runtime, lock: LeaderLock) -> None:
    if not lock.is_leader or not rt.health.trusted:
        return  # Redis away, or its figures about to be rebuilt (bigscreen.jobs.watch): the next run catches up
    try:
        outcome = spec.run(rt)
        result = "ok" if outcome is None else str(outcome)
    except redis.RedisError as exc:  # an outage: the watch reports it once; no traceback every few seconds
        log.warning("scheduled job %s: Redis failed (%s)", spec.name, exc)
        result = "error"
    except Exception:
        log.exception("scheduled job %s failed", spec.name)
        result = "error"
    try:
        rt.redis.xadd(rt.keys.jobs, {"job": spec.name, "owner": lock.token, "at": rt.clock().isoformat(), "result": result},
                      maxlen=JOBS_STREAM_MAXLEN, approximate=True)
    except redis.RedisError as exc:
        log.warning("could not record the run of %s: %s", spec.name, exc)


class Background:
    """The scheduler, its lock, the wall's frame publisher and the watch over Redis of one process."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.lock = LeaderLock(rt.redis, rt.keys.leader, rt.settings.leader_ttl_s)
        self.scheduler = register(BackgroundScheduler(timezone="UTC"), rt, self.lock)
        self._watch: threading.Thread | None = None
        self._frames = threading.Thread(target=FramePublisher(rt, is_leader=lambda: self.lock.is_leader).run,
                                        args=(rt.stopping,), name="frames", daemon=True)

    def _lead(self) -> bool:
        """Whether this process leads, trying for the lock at once if nobody holds it (after Redis
        came back, the repair need not wait for the next renewal)."""
        return self.lock.is_leader or self.lock.try_lead()

    def start(self) -> Background:
        self.rt.stopping.clear()
        self._watch = start_watch(self.rt, self.rt.stopping, lead=self._lead)
        self.scheduler.start()
        self._frames.start()
        return self

    @contextmanager
    def paused(self, *names: str) -> Iterator[None]:
        """Holds these jobs (by name) for the duration; they run again at their next interval after."""
        for name in names:
            self.scheduler.pause_job(name)
        try:
            yield
        finally:
            for name in names:
                self.scheduler.resume_job(name)

    def shutdown(self) -> None:
        """Stops the jobs and the frames, then releases the lock for another process's next renewal."""
        self.rt.stopping.set()  # the frames, the watch and long jobs (a catch-up of reports) end now
        self.scheduler.shutdown(wait=True)  # a job still running must finish before another process may start it
        self._frames.join(STOP_FRAMES_TIMEOUT_S)
        if self._watch is not None:
            self._watch.join(STOP_FRAMES_TIMEOUT_S)  # a repair under way finishes while the lock is still held
        self.lock.release()


def start_background(rt: Runtime) -> Background:
    """Starts this process's leader-locked scheduler and frame publisher; call `shutdown()` to stop."""
    return Background(rt).start()
