"""The event simulator: a believable live city, driven through the product's HTTP API as any source would
(`simulation.api.CityApi`), or in process through the same commands (`simulation.local.LocalCity`, the demo's
history).

`backfill()` sends days of history (reports with past timestamps, each case moved along its life with
past `at` times, in rounds: the next step of every case); `run()` then keeps the city alive: new reports at a
day-night rhythm and open cases moved on, with the life steps sped up by `speedup` while every timestamp stays
real wall-clock time.

Besides its status steps a case may have side steps (`simulation.sidesteps`): a dispute is mediated before it is
closed, an emergency is whistled to departments that then report in. A side step refused with 409 (someone else
acted first) is skipped; a refused status step makes the case resync with the server, as before.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import random
import threading
import time
from bisect import insort
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import httpx
from tqdm import tqdm

from bigscreen.simulation.api import CityApi, ServerUnavailable, StepCall, epoch
from bigscreen.simulation.catalogue import (
    AREA_LEVELS,
    Catalogue,
    CatalogueError,
    SubItem,
)
from bigscreen.simulation.events import EventFactory, iso, rhythm, sample_times
from bigscreen.simulation.life import Step, limit_from, plan_from_status, plan_life
from bigscreen.simulation.sidesteps import (
    summon,
    whistle_kind,
    with_mediation,
    with_whistle,
)
from bigscreen.simulation.vocab import DEFAULT_PROFILE, Profile

if TYPE_CHECKING:
    from bigscreen.simulation.local import LocalCity

log = logging.getLogger(__name__)

BATCH_SIZE = 500                # events per POST in backfill and after an outage
BACKFILL_NEWEST_S = 60          # the newest history is at least this old
STEP_MARGIN_S = 5               # backfill steps later than now minus this are left to `run`
MAX_OPEN_CASES = 100_000        # live cases tracked at most; new reports pause above it
MAX_LIVE_OVERDUE_S = 2 * 86400  # in live mode a stuck case is closed at most this long after its deadline
MAX_LATE_CASES = 20_000         # live cases waiting for their real deadline (about 2 kB each); more close on time
MAX_PENDING_EVENTS = 5_000      # reports waiting for the server during an outage; the oldest are dropped
MAX_STEPS_PER_TICK = 200
MAX_ARRIVAL_LAG_S = 10.0        # after a stall, new reports restart from now instead of bursting
IDLE_WAIT_S = 1.0
MIN_WAIT_S = 0.02
MAX_BACKOFF_S = 30.0
RETRIES = 4                     # backfill retries of one request while the server is unavailable
MAX_RESYNCS = 3
STATS_EVERY_S = 300.0
LOUD_FAILURES = 5               # failures of one kind logged as warnings; the rest at debug level
SIDE_ACTIONS = frozenset({"mediate", "whistle", "report_in"})  # steps that do not move the case's status
# Outcomes of a step after which the case goes on with its next step, and the stat each is counted under.
GOES_ON = {"step": "step", "skipped": "skipped", "refused": "skipped"}
ALARM = "!"                     # the key under which `_handlers` lists the departments of alarming sub-items


@dataclass(slots=True)
class Case:
    id: int | str
    steps: list[Step]
    origin: float             # epoch seconds the step offsets count from (the report)
    deadline: float
    anchor: float             # when the case entered live mode: steps before the deadline are sped up from here
    profile: Profile
    channel: str
    department: str | None
    index: int = 0
    resyncs: int = 0
    whistle_id: int | None = None   # from the whistle's answer, for the report-ins that follow it


class Simulator:
    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, rate: float = 2.0,
                 seed: int | None = None, speedup: float = 60.0, client: httpx.Client | None = None, workers: int = 2,
                 api: CityApi | LocalCity | None = None):
        if rate <= 0 or speedup <= 0:
            raise ValueError("rate and speedup must be positive")
        self.api = api if api is not None else CityApi(base_url, api_key, client)
        self.rate, self.speedup, self.workers = rate, speedup, max(1, workers)
        self.rng = random.Random(seed)
        self.clock = time.time
        # Unique per simulator (a retry of one report reuses its id; a second simulator never collides).
        self._prefix = f"sim{int(time.time()):x}-{self.rng.getrandbits(24):06x}"
        self.catalogue: Catalogue | None = None
        self.factory: EventFactory | None = None
        self.departments: set[str] = set()
        self._department_list: list[str] = []
        self._handlers: dict[str, list[str]] = {}  # departments seen handling a profile's cases (or ALARM ones)
        self.stats: Counter[str] = Counter()
        self._heap: list[tuple[float, int, Case]] = []
        self._adopted: queue.SimpleQueue[list[Case]] = queue.SimpleQueue()
        self._late_waiting = 0          # heap entries whose step waits for the real clock
        self._tie = itertools.count()
        self._pending: deque[dict] = deque()
        self._next_arrival: float | None = None
        self._backoff = 0.0
        self._down_since: float | None = None
        self._last_stats = time.monotonic()

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def open_cases(self) -> int:
        return len(self._heap)

    def hand_over(self) -> list[Case]:
        """The cases still going, taken out of this simulator (for another one to `adopt`)."""
        cases = [entry[2] for entry in self._heap]
        self._heap.clear()
        self._late_waiting = 0
        return cases

    def adopt(self, cases: list[Case]) -> None:
        """Takes over another simulator's cases; safe from another thread while `run` goes on (they join at its next
        tick)."""
        self._adopted.put(cases)

    def _retrying(self, fn, *args):
        for attempt in range(RETRIES + 1):
            try:
                return fn(*args)
            except (httpx.TransportError, ServerUnavailable) as exc:
                if attempt == RETRIES:
                    raise
                log.warning("simulator: %s; retrying", exc)
                time.sleep(min(MAX_BACKOFF_S, 0.5 * 2 ** attempt))

    def load_catalogue(self) -> Catalogue:
        """Read the grids and the sub-items from the server (once; `run` retries until it works)."""
        areas = {level: found for level in AREA_LEVELS if (found := self.api.areas(level)) is not None}
        services = self.api.services()
        if services is None:
            raise CatalogueError("GET /open311/v2/services.json gave no list")
        self.catalogue = Catalogue.from_api(areas, services, self.rng)
        self.factory = EventFactory(self.catalogue, self.rng, self._prefix)
        self._items = {i.code: i for i in self.catalogue.items}
        log.info("simulator: %d grids, %d sub-items; hotspot streets %s", len(self.catalogue.grids),
                 len(self.catalogue.items), sorted(self.catalogue.hotspot_streets))
        return self.catalogue

    def _ingest(self, bodies: list[dict]) -> tuple[list[tuple[dict, dict]], int]:
        pairs, created, rejected = self.api.post_events(bodies)
        self.stats["events_created"] += created
        self.stats["events_rejected"] += rejected
        return pairs, created

    # -- cases --------------------------------------------------------------------------------------
    def _new_case(self, body: dict, event: dict, anchor: float, live: bool = False) -> Case | None:
        if event.get("id") is None:
            return None
        item = self._items.get(body["item"])
        profile = item.profile if item else DEFAULT_PROFILE
        department = event.get("department")
        self._learn(department, item)
        origin = epoch(body.get("reported_at")) or anchor
        limit = limit_from(body["urgency"], origin, epoch(event.get("deadline")))
        case = Case(event["id"], [], origin, origin + limit, anchor, profile, body["channel"], department)
        status = event.get("status", "dispatched")
        if status == "dispatched":
            for _ in range(10):
                case.steps = self._plan(body, item, profile, limit, department)
                if not (live and self._late_waiting >= MAX_LATE_CASES and any(s.late for s in case.steps)):
                    break
        else:  # a replay of a report whose case has moved on
            self._replan(case, status, anchor)
        return case if case.steps else None

    def _learn(self, department: str | None, item: SubItem | None) -> None:
        """Remember the departments the server sends cases to, and which of them handle which kind of case."""
        if not department or (department not in self.departments and len(self.departments) >= 500):
            return
        if department not in self.departments:
            self.departments.add(department)
            self._department_list = sorted(self.departments)
        if item is not None:
            for key in (item.profile.key, ALARM) if item.alarming else (item.profile.key,):
                handlers = self._handlers.setdefault(key, [])
                if department not in handlers:
                    insort(handlers, department)

    def _plan(self, body: dict, item: SubItem | None, profile: Profile, limit: float,
              department: str | None) -> list[Step]:
        """A new case's whole life: its status steps, a dispute's mediation, an emergency's whistle and report-ins.

        A whistle summons the case's own department, then others that handle the same kind of case, then (for
        alarming cases) others that answer alarms, then any."""
        steps = plan_life(self.rng, urgency=body["urgency"], limit_s=limit, profile=profile, channel=body["channel"],
                          department=department, departments=self._department_list)
        if item is None:
            return steps
        if item.dispute:
            steps = with_mediation(self.rng, steps)
        kind = whistle_kind(self.rng, body["urgency"], item)
        if kind is None:
            return steps
        pools = (self._handlers.get(item.profile.key, []), self._handlers.get(ALARM, []) if item.alarming else [],
                 self._department_list)
        summoned = summon(self.rng, department, pools)
        return with_whistle(self.rng, steps, kind, summoned) if summoned else steps

    def _replan(self, case: Case, status: str, now: float) -> None:
        others = sorted(self.departments - {case.department})
        case.steps = plan_from_status(self.rng, status, case.profile, channel=case.channel,
                                      department=self.rng.choice(others) if others else case.department)
        case.index, case.origin, case.anchor = 0, now, now

    def _schedule(self, case: Case) -> None:
        if len(self._heap) >= MAX_OPEN_CASES:
            self.stats["cases_untracked"] += 1
            return
        step = case.steps[case.index]
        at = case.origin + step.offset_s
        if step.late:  # overdue cases stay open for real, so the wall shows them
            due = max(case.anchor, min(at, max(case.deadline, case.anchor) + MAX_LIVE_OVERDUE_S))
        else:
            due = case.anchor + max(0.0, at - case.anchor) / self.speedup
        self._push((due, next(self._tie), case))

    def _push(self, entry: tuple[float, int, Case]) -> None:
        case = entry[2]
        self._late_waiting += case.steps[case.index].late
        heapq.heappush(self._heap, entry)

    def _pop(self) -> tuple[float, int, Case]:
        entry = heapq.heappop(self._heap)
        case = entry[2]
        self._late_waiting -= case.steps[case.index].late
        return entry

    # -- history ------------------------------------------------------------------------------------
    def backfill(self, days: float = 7, per_day: int = 3000, progress: bool = True, *, until: float | None = None,
                 source_prefix: str | None = None, stop: threading.Event | None = None,
                 skip_newest_days: float = 0) -> int:
        """Send `days` of history up to `until` (default: now), `per_day` reports a day, each moved along its life
        with past times. Steps later than `until` (less a margin) are kept for `run`. Returns how many reports
        were created. `skip_newest_days`: no reports in that many days before `until` (another part of the
        history sends them), though the cases' steps still run up to `until`.

        With a seed, `until` and `source_prefix` it is the same history every time, so sending it again picks
        up where it stopped (a crash, `stop`): a report already stored is not stored again (its source id), and
        of its case only the steps later than the case's last stored step are sent. `stop` ends it between
        rounds of steps."""
        if self.catalogue is None:
            self._retrying(self.load_catalogue)
        end = self.clock() if until is None else until
        cutoff = end - STEP_MARGIN_S
        factory = self.factory if source_prefix is None else EventFactory(self.catalogue, self.rng, source_prefix)
        newest = end - max(BACKFILL_NEWEST_S, skip_newest_days * 86400)
        times = sample_times(self.rng, end - days * 86400, newest, int((days - skip_newest_days) * per_day))
        created = 0
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="simulator") if self.workers > 1 else None
        with pool or nullcontext(), tqdm(total=len(times), disable=not progress, unit="event", desc="backfill") as bar:
            for start in range(0, len(times), BATCH_SIZE):
                if stop is not None and stop.is_set():
                    log.info("simulator backfill stopped after %d of %d reports", start, len(times))
                    break
                bodies = [factory.make(t) for t in times[start:start + BATCH_SIZE]]
                pairs, n = self._retrying(self._ingest, bodies)
                created += n
                self._replay(self._history_cases(pairs), cutoff, pool, stop)
                bar.update(len(bodies))
        log.info("simulator backfill: %d events created over %d days, %d cases continue live; %s",
                 created, days, len(self._heap), dict(self.stats))
        return created

    def _history_cases(self, pairs: list[tuple[dict, dict]]) -> list[Case]:
        """The cases of a batch of history, each planned from its report as when it was new (so a history sent
        again draws the same lives); a case stored before goes on after its last stored step."""
        stored = [e["id"] for _, e in pairs if e.get("id") is not None and e.get("created") is False]
        done = self.api.progress(stored) if stored else {}
        now = self.clock()
        cases = []
        for body, event in pairs:
            sofar = done.get(event.get("id"))
            if sofar is not None:  # as it was answered when it was new
                event = {**event, "status": "dispatched", "department": sofar.dispatched_to or event.get("department")}
            case = self._new_case(body, event, now)
            if case is None:
                continue
            if sofar is not None:
                case.whistle_id = sofar.whistle_id
                case.index = sum(case.origin + s.offset_s <= sofar.last_step for s in case.steps)  # in time order
                self.stats["backfill_resumed"] += 1
            cases.append(case)
        return cases

    def _replay(self, cases: list[Case], cutoff: float, pool: ThreadPoolExecutor | None,
                stop: threading.Event | None = None) -> None:
        """Post the steps of these cases that lie before `cutoff`, with their own past times, and schedule the rest
        for `run`. In rounds: the next step of every case still going, so each case's steps keep their order and a
        round's steps are about distinct cases (sent together: a thread pool's requests, or one call in process).

        Counts step_* and skipped_* per action, and backfill_ok|conflict|missing|rejected per case. `stop` ends it
        between rounds (what is left is sent when the same history is sent again)."""
        def through(step, calls):  # each call of its own: retried, several at once through the pool
            send = partial(self._retrying, step)
            return pool.map(send, calls) if pool else map(send, calls)

        going = cases
        while going and not (stop is not None and stop.is_set()):
            due = []
            for case in going:
                if case.index < len(case.steps) and case.origin + case.steps[case.index].offset_s <= cutoff:
                    due.append(case)
                    continue
                self.stats["backfill_ok"] += 1
                if case.index < len(case.steps):
                    self._schedule(case)
            wanted = [(case, self._call(case, case.steps[case.index], case.origin + case.steps[case.index].offset_s))
                      for case in due]
            calls = [call for _, call in wanted if call is not None]
            answers = iter(self.api.steps(calls, through))
            going = []
            for case, call in wanted:
                step, r = case.steps[case.index], next(answers) if call is not None else None
                outcome = self._outcome(case, step, r)
                if outcome not in GOES_ON:
                    self.stats[f"backfill_{outcome}"] += 1
                    self._complain(f"backfill_{outcome}", f"case {case.id} {_why(step, r)}")
                    continue
                if outcome == "refused":
                    self._complain(f"refused_{step.action}", f"case {case.id} {_why(step, r)}; going on without it")
                self.stats[f"{GOES_ON[outcome]}_{step.action}"] += 1
                case.index += 1
                going.append(case)

    @staticmethod
    def _call(case: Case, step: Step, at: float | None = None) -> StepCall | None:
        """One step as sent: at its past time `at` (backfill) or at the server's own now (live); None: nothing to
        send (a report-in to a whistle that was never blown)."""
        if step.action == "report_in" and case.whistle_id is None:
            return None
        return StepCall(case.id, step.action, step.body if at is None else {**step.body, "at": iso(at)}, case.whistle_id)

    def _send(self, case: Case, step: Step) -> httpx.Response | None:
        """Post one step where it belongs, now (the server's own time); None: nothing to send."""
        call = self._call(case, step)
        return None if call is None else self.api.step(call)

    @staticmethod
    def _outcome(case: Case, step: Step, r: httpx.Response | None) -> str:
        """What the answer to one step means (and a whistle's answer gives the case its whistle's id).

        step: taken. skipped: a side step someone else made moot (409), or a report-in without a whistle.
        refused: a side step refused otherwise; the case goes on without it. conflict: someone else moved the
        case's status. missing: no such case. rejected: the server refused the status step."""
        if r is None:
            return "skipped"
        if r.status_code in (200, 201):
            if step.action == "whistle":
                case.whistle_id = _whistle_id(r)
            return "step"
        if step.action in SIDE_ACTIONS:
            return "skipped" if r.status_code == 409 else "refused"
        return {409: "conflict", 404: "missing"}.get(r.status_code, "rejected")

    def _complain(self, kind: str, message: str) -> None:
        self.stats[f"complaints_{kind}"] += 1
        level = logging.WARNING if self.stats[f"complaints_{kind}"] <= LOUD_FAILURES else logging.DEBUG
        log.log(level, "simulator: %s %s", kind, message)

    # -- live ---------------------------------------------------------------------------------------
    def run(self, stop: threading.Event, duration_s: float | None = None) -> None:
        """Keep the city alive until `stop` is set (or `duration_s` has passed); errors are logged, never fatal."""
        ends = None if duration_s is None else time.monotonic() + duration_s
        log.info("simulator: live at %.2f reports/s, life steps sped up %g times", self.rate, self.speedup)
        while not stop.is_set():
            wait = self._tick()
            if ends is not None:
                left = ends - time.monotonic()
                if left <= 0:
                    break
                wait = min(wait, left)
            stop.wait(max(MIN_WAIT_S, wait))

    def _tick(self) -> float:
        """One round of work; returns how long to sleep."""
        try:
            if self.catalogue is None:
                self.load_catalogue()
            while not self._adopted.empty():
                for case in self._adopted.get():
                    self._schedule(case)
            self._emit_arrivals(self.clock())
            self._flush_pending()
            more = self._advance(self.clock())
        except Exception as exc:  # the server may be restarting: wait and go on
            self._backoff = min(MAX_BACKOFF_S, max(0.5, self._backoff * 2))
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("simulator: %s: %s; retrying with back-off", type(exc).__name__, exc,
                            exc_info=not isinstance(exc, (httpx.TransportError, ServerUnavailable, CatalogueError)))
            return self._backoff
        if self._down_since is not None:
            log.info("simulator: server answers again after %.0f s", time.monotonic() - self._down_since)
            self._down_since = None
        self._backoff = 0.0
        if time.monotonic() - self._last_stats > STATS_EVERY_S:
            self._last_stats = time.monotonic()
            log.info("simulator: %d open cases; %s", len(self._heap), dict(self.stats))
        if more:
            return MIN_WAIT_S
        now = self.clock()
        due = min(now + IDLE_WAIT_S, self._next_arrival or now, self._heap[0][0] if self._heap else now + IDLE_WAIT_S)
        return due - now

    def _gap(self, t: float) -> float:
        return self.rng.expovariate(self.rate * rhythm(t))

    def _emit_arrivals(self, now: float) -> None:
        if self._next_arrival is None:
            self._next_arrival = now + self._gap(now)
        elif now - self._next_arrival > MAX_ARRIVAL_LAG_S:
            self._next_arrival = now
        while self._next_arrival <= now:
            if len(self._heap) + len(self._pending) >= MAX_OPEN_CASES:
                self._next_arrival = now + IDLE_WAIT_S
                self.stats["arrivals_paused"] += 1
                return
            t = self._next_arrival
            if len(self._pending) >= MAX_PENDING_EVENTS:
                self._pending.popleft()
                self.stats["events_dropped"] += 1
            # The source's own time: a call logged or a photo taken a little before it reaches us.
            self._pending.append(self.factory.make(t - self.rng.uniform(3, 90)))
            self._next_arrival = t + self._gap(t)

    def _flush_pending(self) -> None:
        while self._pending:
            bodies = [self._pending[i] for i in range(min(BATCH_SIZE, len(self._pending)))]
            pairs, _ = self._ingest(bodies)
            for _ in bodies:
                self._pending.popleft()
            now = self.clock()
            for body, event in pairs:
                if case := self._new_case(body, event, now, live=True):
                    self._schedule(case)

    def _advance(self, now: float) -> bool:
        """Post the due steps of open cases (at most MAX_STEPS_PER_TICK); True if more are due."""
        for _ in range(MAX_STEPS_PER_TICK):
            if not self._heap or self._heap[0][0] > now:
                return False
            entry = self._pop()
            case = entry[2]
            step = case.steps[case.index]
            try:
                r = self._send(case, step)  # `at`: the server's now
                self._after_step(case, step, r)
            except Exception:
                self._push(entry)  # the same step again after the back-off
                raise
        return bool(self._heap) and self._heap[0][0] <= now

    def _after_step(self, case: Case, step: Step, r: httpx.Response | None) -> None:
        outcome = self._outcome(case, step, r)
        if outcome in GOES_ON:
            if outcome == "refused":
                self._complain(f"refused_{step.action}", f"case {case.id} {_why(step, r)}; going on without it")
            self.stats[f"{GOES_ON[outcome]}_{step.action}"] += 1
            case.index += 1
            if case.index < len(case.steps):
                self._schedule(case)
            return
        if outcome == "conflict" and case.resyncs < MAX_RESYNCS:
            # Someone else (a duty officer) moved the case: carry on from where it is.
            try:
                detail = r.json().get("detail")
            except (ValueError, AttributeError):
                detail = None
            status = detail.get("status") if isinstance(detail, dict) else None
            if status is None:
                status = (self.api.event(case.id) or {}).get("status")
            case.resyncs += 1
            self.stats["cases_resynced"] += 1
            if status:
                self._replan(case, status, self.clock())
                if case.steps:
                    self._schedule(case)
            return
        self._complain(f"dropped_{r.status_code}", f"case {case.id} {_why(step, r)}; leaving it")


def _why(step: Step, r: httpx.Response) -> str:
    return f"{step.action}: HTTP {r.status_code} {r.text[:300]}"


def _whistle_id(r: httpx.Response) -> int | None:
    try:
        data = r.json()
    except ValueError:
        return None
    return data.get("id") if isinstance(data, dict) else None
