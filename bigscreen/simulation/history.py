"""The demo's history: the weeks before a new demo city's first start, sent in process, and picked up again
after a crash.

It comes in two parts. The last day (`days`) is sent first, in seconds, before the live city starts, so the
wall opens on a full day. The earlier weeks (`earlier_days`, a month and more so that the month's and the
weeks' reports are full) follow in the background while the city lives (`send_earlier`): reports and steps
stored in SQL alone (nothing on the wall's ticker), the grid workers' field work of those days with them,
the clock's and the reports' jobs held meanwhile, then the live figures rebuilt from SQL once and the cases
still going handed to the live simulator.

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
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis.exceptions import RedisError
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
    earlier_days: int = 0        # before those `days`: sent by `send_earlier` (0 in plans of older demos)
    earlier_done: bool = False

    @property
    def source_prefix(self) -> str:
        return f"history-{int(self.until)}"

    @property
    def earlier_prefix(self) -> str:
        return f"history-{int(self.until)}-earlier"

    @property
    def earlier_seed(self) -> int:
        return (self.seed * 31 + 7) % 2**32

    @property
    def finished(self) -> bool:
        return self.done and (self.earlier_done or not self.earlier_days)

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


RECENT_DAYS = 1  # sent before the live city starts; the rest of `days` follows in the background


def plan_history(rt: Runtime, *, days: int, per_day: int, new_city: bool) -> HistoryPlan | None:
    """The history this start sends: a new one of `days` for a new city (or a city with no events yet), the
    unfinished one of an earlier start, or none (`days` 0, or sent in full before)."""
    if days <= 0:
        return None
    data_dir = rt.settings.data_dir
    plan = HistoryPlan.load(data_dir)
    if new_city or (plan is None and not _any_events(rt)):
        recent = min(days, RECENT_DAYS)
        plan = HistoryPlan(seed=random.SystemRandom().getrandbits(32), until=time.time(), days=recent,
                           per_day=per_day, earlier_days=days - recent)
        plan.save(data_dir)
    return plan if plan is not None and not plan.finished else None


def _any_events(rt: Runtime) -> bool:
    with rt.engine.connect() as conn:
        return bool(conn.scalar(select(func.count()).select_from(select(Event.id).limit(1).subquery())))


def send_history(rt: Runtime, sim: Simulator, plan: HistoryPlan, stop: threading.Event) -> bool:
    """Sends `plan` through `sim` (a simulator on `LocalCity`, seeded with `plan.seed`), then rebuilds the live
    figures from SQL and marks the plan done. Returns whether it was sent in full (False: stopped; the next
    start sends the rest)."""
    if plan.done:
        return True
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


def send_earlier(rt: Runtime, plan: HistoryPlan, stop: threading.Event, live: Simulator, *,
                 rate: float, source: str) -> bool:
    """Sends the plan's earlier weeks (the `earlier_days` before its last `days`) through a simulator of its own,
    in SQL alone, with the grid workers' field work of those days; then rebuilds the live figures from SQL,
    announces the alerts, and hands the cases still going to `live`. The caller holds the clock's and the
    reports' jobs meanwhile (or a case would be supervised before its past steps are in, and a week's report
    made from half of it). Returns whether it was sent in full (False: stopped; the next start sends the rest)."""
    from bigscreen.simulation.field_work import FieldWorkSimulator
    from bigscreen.simulation.local import LocalCity

    if plan.earlier_done or not plan.earlier_days:
        return True
    started = time.monotonic()
    total = plan.days + plan.earlier_days
    log.info("simulator: sending the %d earlier day(s) of the history in the background (%d reports)",
             plan.earlier_days, plan.earlier_days * plan.per_day)
    sim = Simulator(api=LocalCity(rt, source, live=False), rate=rate, seed=plan.earlier_seed, workers=1)
    try:
        created = sim.backfill(days=total, per_day=plan.per_day, progress=False, until=plan.until,
                               source_prefix=plan.earlier_prefix, stop=stop, skip_newest_days=plan.days)
        if stop.is_set():
            return False
        first = datetime.fromtimestamp(plan.until - total * 86400, UTC).astimezone(rt.tz).date()
        last = datetime.fromtimestamp(plan.until, UTC).astimezone(rt.tz).date()  # today: the live field work's
        activities = FieldWorkSimulator(rt, source).send_days(
            [first + timedelta(days=n) for n in range((last - first).days)], stop)
        if stop.is_set():
            return False
        live.adopt(sim.hand_over())
    finally:
        sim.close()
    plan.earlier_done = True  # all of it is in SQL: a next start has nothing to send again
    plan.save(rt.settings.data_dir)
    _rebuild_live(rt)
    log.info("simulator: earlier history sent in %.0f s (%d new reports, %d field activities)",
             time.monotonic() - started, created, activities)
    return True


def _rebuild_live(rt: Runtime, attempts: int = 3) -> None:
    """The live figures rebuilt from SQL, and the history's alerts announced; a Redis that fails the rebuild
    (a busy machine can time a long one out) is tried again, then left to the watch and reconcile."""
    for attempt in range(1, attempts + 1):
        try:
            rebuild(rt)
            announce(rt)
            return
        except RedisError as exc:
            log.warning("history: rebuilding the live figures failed (%s)%s", exc,
                        "; trying again" if attempt < attempts else "; the watch and reconcile repair them")
            time.sleep(5 * attempt)
