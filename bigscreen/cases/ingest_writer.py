"""Group commit of reports (bigscreen.db.group_commit): one writer thread per process stores whatever
ingest requests are waiting, together, in one transaction and one Redis call.

Under load, single posts then cost about what batches cost, and SQLite sees one writer per
process instead of one per request (its busy handler sleeps in millisecond steps when writers
collide). A request's events are never split: a group commits whole or fails whole, and every
waiting request gets its own outcome or the group's error.

The Redis update of a large committed group runs on a second thread while the writer stores
the next group; a small group's the writer makes itself (PUBLISH_HERE_EVENTS). Either way Redis
moves only after its own group's commit, groups reach it in commit order, and a request is
answered only once its figures are in Redis.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from redis.exceptions import RedisError
from sqlalchemy import String, and_, bindparam, literal, or_, select

from bigscreen.alerts.desk import Raise, announcement, raise_alerts
from bigscreen.auth.privacy import excerpt
from bigscreen.cases.facts import EventRecord, facts, ticker_entry
from bigscreen.db.group_commit import GroupCommit, Job
from bigscreen.db.models import Event, EventTransition
from bigscreen.db.new_rows import NewRows
from bigscreen.db.session import padded_chunks
from bigscreen.domain.lifecycle import Status
from bigscreen.live.writer import event_tag
from bigscreen.process import metrics

log = logging.getLogger(__name__)
GROUP_MAX_EVENTS = 2000
# A group this small is published by the writer itself: the hand-over to the second thread cost more
# than the overlap gained, and requests that arrive meanwhile make the next group larger. A larger group's
# Redis update overlaps the next group's SQL on the second thread. Groups reach Redis in commit order.
PUBLISH_HERE_EVENTS = 100
TICKER_PER_GROUP = 50


@dataclass
class Outcome:
    event: EventRecord
    created: bool


@dataclass
class _Rows:
    source: str
    rows: list[dict]


@lru_cache(maxsize=None)
def log_steps(size: int | None) -> tuple:
    """INSERT .. SELECT of the report and the automatic dispatch of the events whose ids are bound to
    `id0` .. `id{size-1}` (`db.session.padded_chunks`), in that order; with `size` None, of those from `lo`
    to `hi`. An expanding IN had cost a small group a third of its transition log."""
    events, log_table = Event.__table__, EventTransition.__table__
    columns = ["event_id", "action", "from_status", "to_status", "at", "actor", "role", "channel", "department_code"]
    which = (events.c.id.between(bindparam("lo"), bindparam("hi")) if size is None
             else events.c.id.in_([bindparam(f"id{k}") for k in range(size)]))
    steps = (
        ("report", None, Status.REPORTED.value, events.c.reported_at, events.c.source, "source", None),
        ("dispatch", Status.REPORTED.value, Status.DISPATCHED.value, events.c.dispatched_at,
         literal("auto-dispatch"), "system", events.c.department_code),
    )
    return tuple(
        log_table.insert().from_select(columns, select(
            events.c.id, literal(action), literal(src, String), literal(dst), at, actor,
            literal(role), literal("api"), department if department is not None else literal(None, String),
        ).where(which).order_by(events.c.id))
        for action, src, dst, at, actor, role, department in steps
    )


class IngestWriter(GroupCommit[_Rows]):
    thread_name = "ingest-writer"
    group_max = GROUP_MAX_EVENTS  # events: a request's events are never split

    def __init__(self, rt, *, live: bool = True) -> None:
        """`live` False: SQL only, Redis left alone (the demo's earlier history: the caller rebuilds the live
        figures from SQL once at the end, and the wall's ticker never shows weeks-old reports)."""
        super().__init__(rt.engine)
        self.rt, self.live = rt, live
        self._live = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-live")
        self._publishing: Future | None = None  # the last group handed to the second thread
        self._new_rows = NewRows(rt.engine.dialect, Event.__table__, unique=("source", "source_id"), returning=("id", "source", "source_id"))

    def submit(self, source: str, rows: list[dict]) -> Future:
        return super().submit(_Rows(source, rows))

    def store(self, source: str, rows: list[dict]) -> list[Outcome]:
        return self.submit(source, rows).result()

    def close(self) -> None:
        super().close()
        self._live.shutdown(wait=True)

    def _size(self, item: _Rows) -> int:
        return len(item.rows)

    def _store(self, group: list[Job[_Rows]]) -> tuple:
        started, size = time.perf_counter(), sum(len(j.item.rows) for j in group)
        stored = self._store_group(group)
        metrics.ingest_group(len(group), size, time.perf_counter() - started, self.waiting())
        return size, stored

    def _failed(self, group: list[Job[_Rows]], exc: Exception) -> None:
        log.error("ingest group of %d event(s) failed", sum(len(j.item.rows) for j in group), exc_info=exc)
        for j in group:
            j.future.set_exception(exc)

    def _publish(self, group: list[Job[_Rows]], stored: tuple) -> None:
        size, (results, fresh, alerts) = stored
        if size <= PUBLISH_HERE_EVENTS and (self._publishing is None or self._publishing.done()):
            self._publish_group(group, results, fresh, alerts)
        else:
            self._publishing = self._live.submit(self._publish_group, group, results, fresh, alerts)

    def _publish_group(self, group: list[Job[_Rows]], results: list[list[Outcome]], fresh: list[EventRecord], alerts: list[int]) -> None:
        rt = self.rt
        try:
            if fresh and self.live:  # the group's alerts are told in the same round trip, after its figures moved
                now = rt.clock()
                change = rt.live.change_set(event_tag(fresh[0].id, fresh[0].version))  # one transaction
                for event in fresh:
                    change.event_changed(None, facts(event, rt.areas), now)
                rt.live.apply(change, ticker=[ticker_entry(e, rt.areas) for e in fresh[-TICKER_PER_GROUP:]],
                              message=announcement(rt.keys, alerts) if alerts else None)
        except RedisError as exc:  # stored in SQL: the answer stands; the watch repairs Redis once it is back
            log.warning("live counters not updated for %d stored event(s): %s", len(fresh), exc)
        except Exception:  # a fault of ours: the answer stands all the same; reconcile repairs Redis
            log.exception("live counters not updated for %d stored event(s)", len(fresh))
        for j, outcome in zip(group, results):
            j.future.set_result(outcome)

    def _store_group(self, group: list[Job[_Rows]]) -> tuple[list[list[Outcome]], list[EventRecord], list[int]]:
        rows = [r for j in group for r in j.item.rows]
        with self.rt.engine.begin() as conn:
            created = {(source, source_id): event_id for event_id, source, source_id in self._new_rows.insert(conn, rows)}
            replayed = {(r["source"], r["source_id"]) for r in rows if (r["source"], r["source_id"]) not in created}
            existing = self._existing(conn, replayed)
            claimed: set[tuple[str, str]] = set()
            results: list[list[Outcome]] = []
            fresh: list[EventRecord] = []
            records: dict[tuple[str, str], EventRecord] = {}
            for j in group:
                outcomes = []
                for r in j.item.rows:
                    ident = (r["source"], r["source_id"])
                    if ident in created and ident not in claimed:
                        claimed.add(ident)
                        records[ident] = record = EventRecord(**{**r, "id": created[ident]})  # one dict: a third of `id=.., **r`
                        fresh.append(record)
                        outcomes.append(Outcome(record, True))
                    else:  # a retry, or the same id twice in one group: the stored event
                        outcomes.append(Outcome(records.get(ident) or existing[ident], False))
                results.append(outcomes)
            alerts = []
            if fresh:
                self._log_transitions(conn, [e.id for e in fresh])
                alerts = self._emergencies(conn, fresh)
        return results, fresh, alerts

    def _emergencies(self, conn, fresh: list[EventRecord]) -> list[int]:
        """Items of an emergency colour (fire, flood, gas, collapse) alert at once; more reports
        of the same item in the same community within the window count up that one alert.
        Reports from the past (imports, backfill) are history, not emergencies: no alert.
        The group's alerts are raised together (`raise_alerts`: a few statements, not a few per
        report); returns the ids of the alerts raised or counted up, each once."""
        rt, cfg = self.rt, self.rt.config
        wanted = set(cfg.city.alerts.emergency_colours)
        window = timedelta(minutes=cfg.city.alerts.repeat_window_minutes)
        now = rt.clock()
        raises = []
        for e in fresh:
            colour = cfg.alert_level(e.item_code)
            if colour not in wanted or now - e.reported_at > window:
                continue
            chain = rt.areas.by_id[e.grid_id].chain
            community = chain[min(3, len(chain) - 1)]
            raises.append(Raise(colour=colour, source="emergency", subject=f"{e.item_code}@{community}",
                                title=f"{cfg.item(e.item_code).name}: {excerpt(e.description, 60)}", at=e.reported_at,
                                area_code=community, event_id=e.id))
        return list(dict.fromkeys(raise_alerts(conn, raises, window)))

    @staticmethod
    def _log_transitions(conn, ids: list[int]) -> None:
        """The report and the automatic dispatch of each new event, written by the database
        from the rows just stored (INSERT .. SELECT) rather than sent again from Python. The ids of
        one insert mostly follow each other (always on SQLite, whose writer holds the file meanwhile):
        then they are bound as a range, two parameters instead of one per event, whose processing
        cost SQLAlchemy more than the database's own work."""
        lo, hi = min(ids), max(ids)
        if hi - lo + 1 == len(ids):  # distinct ids (new rows), without a gap
            for statement in log_steps(None):
                conn.execute(statement, {"lo": lo, "hi": hi})
            return
        for size, params in padded_chunks(ids, "id"):
            for statement in log_steps(size):
                conn.execute(statement, params)

    @staticmethod
    def _existing(conn, idents: set[tuple[str, str]]) -> dict[tuple[str, str], object]:
        if not idents:
            return {}
        events = Event.__table__
        by_source: dict[str, list[str]] = {}
        for source, source_id in idents:
            by_source.setdefault(source, []).append(source_id)
        clause = or_(*(and_(events.c.source == s, events.c.source_id.in_(ids)) for s, ids in by_source.items()))
        return {(r.source, r.source_id): r for r in conn.execute(select(events).where(clause))}
