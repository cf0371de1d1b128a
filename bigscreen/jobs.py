"""Scheduled jobs and their registration (APScheduler 3)."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from bigscreen.runtime import Runtime

log = logging.getLogger(__name__)
SWEEP_EVERY_S = 5


def sweep_deadlines(rt: Runtime) -> int:
    counted = rt.live.sweep(rt.clock(), rt.areas.chain_of)
    if counted:
        log.info("deadline sweep: %d case(s) became overdue", counted)
    return counted


def register(scheduler: BaseScheduler, rt: Runtime) -> BaseScheduler:
    scheduler.add_job(sweep_deadlines, "interval", seconds=SWEEP_EVERY_S, args=[rt], id="sweep_deadlines",
                      max_instances=1, coalesce=True, next_run_time=rt.clock())
    return scheduler


def background_scheduler(rt: Runtime) -> BackgroundScheduler:
    return register(BackgroundScheduler(timezone="UTC"), rt)
