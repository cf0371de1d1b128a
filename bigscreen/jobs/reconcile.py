"""Compare the live counters with SQL, the source of truth, and repair any drift (scheduled).

Drift should never happen (every counter move follows a commit), but a Redis write lost after a
commit, a restored backup or a hand edit would otherwise stay on the wall for good. A reconcile is
a resync (bigscreen.jobs.resync: exact while writes go on) that also says what it repaired: every
key no live change touched meanwhile is compared with what SQL says, and each difference logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from bigscreen.jobs.resync import Busy, resync
from bigscreen.process import metrics
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)
LOG_LINES = 20


@dataclass
class Repairs:
    lines: list[str] = field(default_factory=list)
    moving: int = 0  # keys live changes touched meanwhile: put right, not compared

    def __len__(self) -> int:
        return len(self.lines)


def reconcile(rt: Runtime, now: datetime | None = None) -> Repairs:
    now = now or rt.clock()
    rt.live.sweep(now, rt.areas.chain_of)  # SQL counts a case late the moment its deadline passes: so must Redis
    try:
        done = resync(rt, now, compare=True)
    except Busy:
        log.info("reconcile: a rebuild or reconcile is running; this run is skipped")
        return Repairs()
    repairs = Repairs(done.differences, done.moving)
    if repairs:
        metrics.reconcile_repairs.inc(len(repairs))
        for line in repairs.lines[:LOG_LINES]:
            log.warning("reconcile repaired %s", line)
        log.warning("reconcile: %d repair(s) from SQL (%d shown)", len(repairs), min(len(repairs), LOG_LINES))
    return repairs


def reconcile_job(rt: Runtime) -> int:
    return len(reconcile(rt))
