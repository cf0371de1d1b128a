"""Field work of the grid workers (一日两巡五访): check-ins, patrols and visits. Validate, store, then count.

One transaction per request: every activity of a batch is stored, or none. An activity sent again
with a (source, source_id) already stored answers with the stored one and counts nothing, so a
grid app may retry an upload. After the commit the new activities are counted in the day hashes
of their grid and every area above it (bigscreen.live.field_work); if Redis fails then, the answer
stands (the activities are stored) and reconcile or `bigscreen rebuild` brings Redis in line.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field
from redis.exceptions import RedisError
from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from bigscreen.commands.base import BatchCommand
from bigscreen.commands.checks import TimeWindow, refuse_role
from bigscreen.db.models import FieldActivity, GridWorker
from bigscreen.db.session import IN_CHUNK
from bigscreen.domain.lifecycle import FIELD_WORK_ROLES
from bigscreen.domain.schemas import AwareDatetime, Incoming, Problem, field_error
from bigscreen.live.field_work import FIELD_KINDS, KIND_NAMES, ActivityFacts
from bigscreen.live.writer import activity_tag
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)


class FieldChannel(StrEnum):
    GRID_APP = "grid_app"  # 网格员APP
    WEB = "web"            # 指挥中心代录
    IMPORT = "import"      # 批量导入


class FieldActivityIn(Incoming):
    kind: Annotated[str, Field(min_length=1, max_length=16,
                               description="check_in (签到上岗), patrol (巡查) or visit (走访).")]
    worker_id: Annotated[int, Field(ge=1, le=2**31 - 1, strict=True, description="The grid worker (full-time or helper).")]
    grid: Annotated[str | None, Field(min_length=1, max_length=32,
                                      description="The worker's grid code; default: the worker's grid.")] = None
    at: Annotated[AwareDatetime | None, Field(description="When it happened; default: now.")] = None
    role: Annotated[str, Field(min_length=1, max_length=32, description="grid_worker or centre.")]
    channel: FieldChannel = FieldChannel.GRID_APP
    source_id: Annotated[str | None, Field(min_length=1, max_length=128,
                                           description="The source's own id; sent again, nothing new is stored.")] = None


@dataclass(frozen=True)
class FieldActivityRecord:
    """A stored activity (the columns of a `field_activities` row)."""

    id: int
    kind: str
    worker_id: int
    grid_code: str
    at: datetime
    source: str
    source_id: str | None
    channel: str
    created_at: datetime


@dataclass(frozen=True)
class Recorded:
    activity: FieldActivityRecord
    created: bool  # False: (source, source_id) was stored before, this is that activity


def record_field_activity(rt: Runtime, source: str, activity: FieldActivityIn) -> Recorded:
    """One activity (errors name ["body", field])."""
    return RecordFieldWork(rt, source, [activity], batch=False).run()[0]


def record_field_activities(rt: Runtime, source: str, activities: Sequence[FieldActivityIn]) -> list[Recorded]:
    """A batch, all or nothing (errors name ["body", index, field])."""
    return RecordFieldWork(rt, source, list(activities), batch=True).run()


class RecordFieldWork(BatchCommand):
    items: list[FieldActivityIn]
    _fresh: tuple[list[FieldActivityRecord], datetime] = ([], datetime.min.replace(tzinfo=UTC))  # (stored now, when) once written

    def validate(self) -> None:
        errors: list[dict] = []
        seen: dict[str, int] = {}
        kinds = ", ".join(f"{k} ({KIND_NAMES[k]})" for k in FIELD_KINDS)
        window = TimeWindow.of(self.rt)
        for i, item in enumerate(self.items):
            if item.kind not in FIELD_KINDS:
                errors.append(field_error(self._loc(i, "kind"), f"unknown kind '{item.kind}'; one of {kinds}"))
            if error := window.error(item.at, self._loc(i, "at")):
                errors.append(error)
            if item.grid is not None and self.rt.areas.grid(item.grid) is None:
                errors.append(field_error(self._loc(i, "grid"), f"unknown grid '{item.grid}'"))
            if item.source_id is not None:
                if item.source_id in seen:
                    errors.append(field_error(self._loc(i, "source_id"),
                                              f"duplicate source_id in this batch (also at index {seen[item.source_id]})"))
                seen.setdefault(item.source_id, i)
        if errors:
            raise Problem(422, errors)
        for item in self.items:
            refuse_role(item.role, FIELD_WORK_ROLES, "record field work")

    def _rows(self, conn: Connection, now: datetime) -> list[dict]:
        """The rows to store, after checking each worker exists and works in the grid given."""
        workers = GridWorker.__table__
        ids = sorted({item.worker_id for item in self.items})
        grid_of: dict[int, int] = {}
        for start in range(0, len(ids), IN_CHUNK):
            chunk = ids[start : start + IN_CHUNK]
            grid_of.update(conn.execute(select(workers.c.id, workers.c.area_id).where(workers.c.id.in_(chunk))).all())
        errors: list[dict] = []
        rows: list[dict] = []
        areas = self.rt.areas
        for i, item in enumerate(self.items):
            area = areas.by_id.get(grid_of.get(item.worker_id, -1))
            if area is None:  # (or a worker of an area this process has not loaded: a city built since)
                errors.append(field_error(self._loc(i, "worker_id"), f"unknown grid worker {item.worker_id}"))
                continue
            grid = area.code
            if item.grid is not None and item.grid != grid:
                errors.append(field_error(self._loc(i, "grid"),
                                          f"grid worker {item.worker_id} works in grid '{grid}', not '{item.grid}'"))
                continue
            rows.append({"kind": item.kind, "worker_id": item.worker_id, "grid_code": grid, "at": item.at or now,
                         "source": self.source, "source_id": item.source_id, "channel": item.channel.value,
                         "created_at": now})
        if errors:
            raise Problem(422, errors)
        return rows

    def run(self) -> list[Recorded]:
        try:
            return super().run()
        except IntegrityError as exc:  # a worker or grid removed meanwhile (the city was rebuilt)
            log.warning("field work not stored: %s", exc.orig)
            raise Problem(409, "the grid workers changed meanwhile; nothing was stored, try again") from exc

    def write(self, conn: Connection) -> list[Recorded]:
        now = self.rt.clock()
        results = self._store(conn, self._rows(conn, now))
        self._fresh = ([r.activity for r in results if r.created], now)
        return results

    def publish(self) -> None:
        self._count(*self._fresh)

    def _store(self, conn: Connection, rows: list[dict]) -> list[Recorded]:
        table = FieldActivity.__table__
        c = table.c
        columns = (c.id, c.kind, c.worker_id, c.grid_code, c.at, c.source, c.source_id, c.channel, c.created_at)
        keyed = [r for r in rows if r["source_id"] is not None]
        plain = [r for r in rows if r["source_id"] is None]
        created: dict[str, FieldActivityRecord] = {}
        if keyed:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            stmt = insert(table).on_conflict_do_nothing(index_elements=["source", "source_id"]).returning(*columns)
            created = {r.source_id: FieldActivityRecord(*r) for r in conn.execute(stmt, keyed)}
        fresh = iter([FieldActivityRecord(*r) for r in conn.execute(
            table.insert().returning(*columns, sort_by_parameter_order=True), plain)] if plain else [])
        existing = self._existing(conn, [r["source_id"] for r in keyed if r["source_id"] not in created])
        return [Recorded(next(fresh), True) if r["source_id"] is None
                else Recorded(created[r["source_id"]], True) if r["source_id"] in created
                else Recorded(existing[r["source_id"]], False)
                for r in rows]

    def _existing(self, conn: Connection, source_ids: list[str]) -> dict[str, FieldActivityRecord]:
        """Activities stored before under these ids (retries): answered as they were stored."""
        if not source_ids:
            return {}
        c = FieldActivity.__table__.c
        out: dict[str, FieldActivityRecord] = {}
        for start in range(0, len(source_ids), IN_CHUNK):
            chunk = source_ids[start : start + IN_CHUNK]
            query = select(c.id, c.kind, c.worker_id, c.grid_code, c.at, c.source, c.source_id, c.channel,
                           c.created_at).where(c.source == self.source, c.source_id.in_(chunk))
            out.update({r.source_id: FieldActivityRecord(*r) for r in conn.execute(query)})
        return out

    def _count(self, fresh: list[FieldActivityRecord], now: datetime) -> None:
        if not fresh:
            return
        live = self.rt.live
        change = live.field_work_change()
        for a in fresh:
            change.add(ActivityFacts(a.kind, a.worker_id, self.rt.areas.by_code[a.grid_code].chain, a.at), now)
        try:
            live.apply_field_work(change, activity_tag(fresh[0].id))  # all written in one transaction
        except RedisError:  # stored in SQL: the answer stands; reconcile/rebuild repairs Redis
            log.exception("live counters not updated for %d stored field activit(ies)", len(fresh))
