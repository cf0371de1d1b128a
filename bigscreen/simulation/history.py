"""The demo's history: the day(s) before a new demo city's first start, sent in process in seconds, and
picked up again after a crash.

A history is planned once per city (a seed, the moment it ends, days, reports a day) and kept in the data
dir (`demo-history.json`) until it has been sent in full. From the plan the simulator draws the same reports
(source ids `history-{end}-{n}`) and the same lives every time, so a demo started again after it stopped or
crashed half-way sends the history again and the product's idempotence does the rest: a report already
stored is answered with the stored case, and of each case only the steps after its last stored one are sent
(`Simulator.backfill`). Nothing is stored twice and the trend keeps no hole.

It goes through `simulation.local.LocalCity`: reports through ingest, steps through their commands, a step
of each case per transaction; Redis is brought in line from SQL once at the end
(`bigscreen.jobs.rebuild.rebuild`).
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import func, select

from bigscreen.alerts.desk import announce
from bigscreen.db.models import Event
from bigscreen.jobs.rebuild import rebuild
from bigscreen.process.runtime import Runtime
from bigscreen.simulation.simulator import Simulator

log = logging.getLogger(__name__)
PLAN_FILE = "demo-history.json"


@dataclass
class HistoryPlan:
    seed: int
    until: float        # epoch seconds: the history ends here (the first start of the city)
    days: int
    per_day: int        # reports a day
    done: bool = False

    @property
    def source_prefix(self) -> str:
        return f"history-{int(self.until)}"

    @property
    def reports(self) -> int:
        return self.days * self.per_day

    @classmethod
    def load(cls, data_dir: Path) -> HistoryPlan | None:
        try:
            return cls(**json.loads((data_dir / PLAN_FILE).read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as exc:  # unreadable: as if there were none
            log.warning("ignoring %s: %s", data_dir / PLAN_FILE, exc)
            return None

    def save(self, data_dir: Path) -> None:
        path = data_dir / PLAN_FILE
        part = path.with_suffix(".part")
        part.write_text(json.dumps(asdict(self)))
        os.replace(part, path)  # whole or not at all


def plan_history(rt: Runtime, *, days: int, per_day: int, new_city: bool) -> HistoryPlan | None:
    """The history this start sends: a new one for a new city (or a city with no events yet), the unfinished one
    of an earlier start, or none (`days` 0, or sent in full before)."""
    if days <= 0:
        return None
    data_dir = rt.settings.data_dir
    plan = HistoryPlan.load(data_dir)
    if new_city or (plan is None and not _any_events(rt)):
        plan = HistoryPlan(seed=random.SystemRandom().getrandbits(32), until=time.time(), days=days, per_day=per_day)
        plan.save(data_dir)
    return plan if plan is not None and not plan.done else None


def _any_events(rt: Runtime) -> bool:
    with rt.engine.connect() as conn:
        return bool(conn.scalar(select(func.count()).select_from(select(Event.id).limit(1).subquery())))


def send_history(rt: Runtime, sim: Simulator, plan: HistoryPlan, stop: threading.Event) -> bool:
    """Sends `plan` through `sim` (a simulator on `LocalCity`, seeded with `plan.seed`), then rebuilds the live
    figures from SQL and marks the plan done. Returns whether it was sent in full (False: stopped; the next
    start sends the rest)."""
    started = time.monotonic()
    log.info("simulator: sending the history of the last %d day(s) in process (%d reports)", plan.days, plan.reports)
    created = sim.backfill(days=plan.days, per_day=plan.per_day, progress=False, until=plan.until,
                           source_prefix=plan.source_prefix, stop=stop)
    if stop.is_set():
        return False
    rebuild(rt)  # the steps were stored without moving Redis
    announce(rt)  # the whistles' alerts
    plan.done = True
    plan.save(rt.settings.data_dir)
    log.info("simulator: history sent in %.1f s (%d new reports; %d cases go on live)",
             time.monotonic() - started, created, sim.open_cases)
    return True
