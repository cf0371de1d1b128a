"""`events import`: historical cases from an old 12345 or grid system's export, with their statuses and
times, so that every figure (closure and on-time rates, handling time, satisfaction) counts them.

The file is read once, row by row, and written in chunks of CHUNK rows within one transaction: a
million rows take the memory of a chunk, and one error anywhere refuses the whole file (every row is
still checked, so that one run lists every error, into the errors file as they come). After the commit
the live counters are rebuilt from SQL (`bigscreen.jobs.rebuild`), so the wall's figures equal SQL.

- Idempotent by the source's own id: a case already stored under (source, source_id) is skipped, so a
  file can be imported again (or a longer export over a shorter one); the same id twice in one file is
  an error.
- Category mapping: the file's category value → one of our sub-items (a sub-item's code or exact name
  maps itself). Every distinct unmapped value is one error, listed once with its count and first row.
  Statuses likewise (our status names and their Chinese labels map themselves).
- Times as the old system wrote them, in the city's timezone unless they carry an offset, through the
  same bounds as every entry point (`TimeWindow`). A step's time is kept when given; the steps of a
  case must follow one another (each at or after the one before), and none may lie past its status (a
  closed case has its closed_at; an open one none). The deadline is the file's, or the report time
  plus our limit for the sub-item and urgency (as ingest fixes it).
- The log (event_transitions) gets one step per given time, in the order of the life of a case, by
  `import:{source}` in the channel `import`; a status whose own time the file lacks gets its step at
  the latest known time, noted as such. History raises no alerts and sends no ticker entries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError
from sqlalchemy import Connection, String, bindparam, case, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from tqdm import tqdm

from bigscreen.commands.base import Command
from bigscreen.commands.checks import FUTURE_SLACK, TimeWindow
from bigscreen.db.models import Event, EventTransition
from bigscreen.db.session import IN_CHUNK
from bigscreen.domain.lifecycle import ACTIONS, RATINGS, RESOLUTION_LEVELS, Status
from bigscreen.domain.schemas import Channel, Problem
from bigscreen.imports import tabular
from bigscreen.imports.rows import RowErrors, RowIn, control_errors, local_time
from bigscreen.jobs.rebuild import rebuild
from bigscreen.process.runtime import Runtime
from bigscreen.screens.i18n import STRINGS

log = logging.getLogger(__name__)

CHUNK = 5000
# the steps of a case that have a time of their own, in the order of its life: (action, status, column),
# each status and column as the lifecycle defines the action
STAGES = tuple((name, ACTIONS[name].target, ACTIONS[name].stamp)
               for name in ("dispatch", "accept", "start", "handle", "verify", "close", "rate"))
STAMPS = tuple(column for _, _, column in STAGES)
TIMES = ("reported_at", *STAMPS)
# how far along its life each status is: the stamps after it must be empty
REACHED = {Status.REPORTED: 0, **{status: i + 1 for i, (_, status, _) in enumerate(STAGES)}, Status.RETURNED: 2}
URGENCIES = {"normal": "normal", "urgent": "urgent", "critical": "critical", "一般": "normal", "普通": "normal",
             "紧急": "urgent", "特急": "critical", "特别紧急": "critical"}
LEVELS = {**{lv: lv for lv in RESOLUTION_LEVELS}, "网格": "grid", "社区": "community", "村居": "community",
          "街道": "street", "镇街": "street", "乡镇": "street", "区县": "district", "区": "district", "县": "district",
          "市": "city", "市级": "city"}
RATING_NAMES = {"3": 3, "2": 2, "1": 1, "满意": 3, "基本满意": 2, "不满意": 1, "satisfied": 3,
                "basically_satisfied": 2, "dissatisfied": 1}
assert set(RATING_NAMES.values()) == set(RATINGS)

FIELDS = [
    tabular.Field("source_id", True, ("工单编号", "事件编号", "案件编号", "编号")),
    tabular.Field("item", True, ("小类", "事件小类", "事件类型", "问题类型", "诉求类型")),
    tabular.Field("reported_at", True, ("上报时间", "受理时间", "登记时间")),
    tabular.Field("description", True, ("问题描述", "事件描述", "诉求内容", "内容")),
    tabular.Field("urgency", headers=("紧急程度",)),
    tabular.Field("channel", headers=("渠道",)),
    tabular.Field("address", headers=("地址", "事发地址")),
    tabular.Field("lat", headers=("纬度",)),
    tabular.Field("lon", headers=("经度",)),
    tabular.Field("grid", headers=("网格编码", "网格代码")),
    tabular.Field("reporter_name", headers=("诉求人", "上报人")),
    tabular.Field("reporter_phone", headers=("联系电话",)),
    tabular.Field("status", headers=("状态", "办理状态", "工单状态")),
    tabular.Field("department", headers=("承办部门", "处置部门")),
    tabular.Field("deadline", headers=("办结时限", "截止时间")),
    tabular.Field("dispatched_at", headers=("派单时间", "派遣时间")),
    tabular.Field("accepted_at", headers=("签收时间",)),
    tabular.Field("started_at", headers=("开始处置时间",)),
    tabular.Field("handled_at", headers=("处置时间", "处置完成时间")),
    tabular.Field("verified_at", headers=("核查时间",)),
    tabular.Field("closed_at", headers=("办结时间", "结案时间")),
    tabular.Field("rated_at", headers=("评价时间",)),
    tabular.Field("rating", headers=("评价", "满意度")),
    tabular.Field("resolved_level", headers=("化解层级", "办结层级")),
]


def _named(names: dict[str, Any], what: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        if value is None:
            return None
        found = names.get(str(value).strip().removesuffix(".0"))
        if found is None:
            raise ValueError(f"unknown {what} '{value}' (one of: {', '.join(names)})")
        return found
    return BeforeValidator(check)


def _text(value: Any) -> Any:
    return value if value is None or type(value) is str else str(value)


Time = Annotated[datetime | None, BeforeValidator(local_time)]
Str = BeforeValidator(_text)


class CaseRow(RowIn):
    source_id: Annotated[str, Str, Field(min_length=1, max_length=128)]
    item: Annotated[str, Str, Field(min_length=1, max_length=200)]
    reported_at: Annotated[datetime, BeforeValidator(local_time)]
    description: Annotated[str, Str, Field(min_length=1, max_length=2000)]
    urgency: Annotated[str, _named(URGENCIES, "urgency")] = "normal"
    channel: Channel | None = None
    address: Annotated[str | None, Str, Field(max_length=300)] = None
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    lon: Annotated[float | None, Field(ge=-180, le=180)] = None
    grid: Annotated[str | None, Str, Field(max_length=32)] = None
    reporter_name: Annotated[str | None, Str, Field(max_length=100)] = None
    reporter_phone: Annotated[str | None, Str, Field(max_length=32, pattern=r"^[0-9+\- ]{3,32}$")] = None
    status: Annotated[str | None, Str, Field(max_length=100)] = None
    department: Annotated[str | None, Str, Field(max_length=100)] = None
    deadline: Time = None
    dispatched_at: Time = None
    accepted_at: Time = None
    started_at: Time = None
    handled_at: Time = None
    verified_at: Time = None
    closed_at: Time = None
    rated_at: Time = None
    rating: Annotated[int | None, _named(RATING_NAMES, "rating")] = None
    resolved_level: Annotated[str | None, _named(LEVELS, "resolution level")] = None


def _log_statements(by_range: bool) -> list:
    """INSERT .. SELECT of the log steps of a chunk just stored, written by the database from its rows:
    the report, one step per given time, then the step into a status whose time is not given. The chunk
    is the events above the id `floor` (`by_range`), or the events `ids`."""
    events, log_table = Event.__table__, EventTransition.__table__
    e = events.c
    columns = ["event_id", "action", "from_status", "to_status", "at", "actor", "role", "channel", "department_code", "note"]
    actor = literal("import:", String) + e.source

    def before(k: int):
        """The status reached just before stage k (the latest given stamp below it), as SQL."""
        whens = [(e[STAGES[j][2]].is_not(None), literal(STAGES[j][1].value)) for j in range(k - 1, -1, -1)]
        return case(*whens, else_=literal(Status.REPORTED.value)) if whens else literal(Status.REPORTED.value)

    def latest(k: int):
        earlier = [e[STAGES[j][2]] for j in range(k - 1, -1, -1)]
        return func.coalesce(*earlier, e.reported_at) if earlier else e.reported_at

    # by range: the id alone, so that SQLite walks the table from `floor` on (with the source too, it may take
    # the (source, source_id) index and read every case of the source so far, chunk after chunk)
    ids = e.id > bindparam("floor") if by_range else e.id.in_(bindparam("ids", expanding=True))
    none = literal(None, String)

    def step(action, src, dst, at, where, department=none, note=none):
        return log_table.insert().from_select(columns, select(
            e.id, literal(action), src, literal(dst), at, actor, literal("system"), literal("import"), department, note,
        ).where(ids, *where).order_by(e.id))

    statements = [step("report", none, Status.REPORTED.value, e.reported_at, [])]
    for k, (action, status, column) in enumerate(STAGES):
        department = e.department_code if action == "dispatch" else none
        statements.append(step(action, before(k), status.value, e[column], [e[column].is_not(None)], department))
    unknown = literal("imported without the time of this step: logged at the latest time known")
    for k, (action, status, column) in enumerate(STAGES):
        statements.append(step(action, before(k), status.value, latest(k), [e.status == status.value, e[column].is_(None)],
                               e.department_code if action == "dispatch" else none, unknown))
    statements.append(step("return", before(2), Status.RETURNED.value, latest(2), [e.status == Status.RETURNED.value]))
    return statements


class ImportEvents(Command):
    def __init__(self, rt: Runtime, path: Path | str, source: str, *, columns: dict[str, str] | None = None,
                 categories: dict[str, str] | None = None, statuses: dict[str, str] | None = None,
                 channel: str = Channel.HOTLINE_12345.value, errors_path: Path | None = None,
                 encoding: str | None = None, header_row: int = 1, sheet: str | None = None,
                 progress: bool = False, chunk: int = CHUNK) -> None:
        self.rt = rt
        self.path = Path(path)
        self.source = source
        self.columns = columns or {}
        self.channel = channel
        self.errors_path = errors_path
        self.options = {"encoding": encoding, "header_row": header_row, "sheet": sheet}
        self.progress = progress
        self.chunk = chunk
        self.table: tabular.Table | None = None
        self.stored: dict[str, int] = {}
        cfg = rt.config
        self.categories = {i.code: i.code for i in cfg.items} | {i.name: i.code for i in cfg.items}
        for theirs, ours in (categories or {}).items():
            self.categories[theirs] = ours
        self.statuses = {s.value: s.value for s in Status} | {STRINGS[f"status.{s.value}"]["zh"]: s.value for s in Status}
        self.statuses |= dict(statuses or {})
        self.departments = {d.code: d.code for d in cfg.departments} | {d.name: d.code for d in cfg.departments}

    def validate(self) -> None:
        """The source, the mappings and the file's columns, before any transaction."""
        errors = []
        source = (self.source or "").strip()
        if not source or len(source) > 64:
            errors.append("--source: must be 1 to 64 characters")
        self.source = source
        if self.channel not in {c.value for c in Channel}:
            errors.append(f"--channel: unknown channel '{self.channel}' (one of: {', '.join(c.value for c in Channel)})")
        items = {i.code for i in self.rt.config.items}
        wrong = sorted({f"'{k}': '{v}'" for k, v in self.categories.items() if v not in items})
        if wrong:
            errors.append(f"categories: not a sub-item of config/categories.yaml: {', '.join(wrong)}")
        wrong = sorted({f"'{k}': '{v}'" for k, v in self.statuses.items() if v not in {s.value for s in Status}})
        if wrong:
            errors.append(f"statuses: not a status ({', '.join(s.value for s in Status)}): {', '.join(wrong)}")
        if errors:
            raise Problem(422, {"message": f"{self.path}: " + "; ".join(errors), "file": str(self.path)})
        try:
            self.table = tabular.open_table(self.path, FIELDS, self.columns, **self.options)
        except tabular.TableError as exc:
            raise Problem(422, {"message": str(exc), "file": str(self.path)}) from None

    def write(self, conn: Connection) -> dict[str, int]:
        rt, table = self.rt, self.table
        errors = RowErrors(table, self.errors_path)
        events = Event.__table__
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        # SQLite: a plain executemany (the driver's fast path, no RETURNING); the chunk's new cases are those
        # above the largest id before it, exact because this transaction holds the database's only write lock.
        # PostgreSQL: other transactions insert meanwhile (a live source of the same name), so the new ids
        # come back (RETURNING, at little cost there: its driver sends many rows per statement either way).
        self.by_range = conn.dialect.name != "postgresql"
        statement = insert(events).on_conflict_do_nothing(index_elements=["source", "source_id"])
        if not self.by_range:
            statement = statement.returning(events.c.id, events.c.source_id)
        logs = _log_statements(self.by_range)
        start = conn.scalar(select(func.max(events.c.id))) or 0
        check = _RowCheck(self, TimeWindow.of(rt), errors)
        counts = {"rows": 0, "created": 0, "skipped": 0}
        pending: list[tuple[int, dict]] = []

        def flush() -> None:
            if pending and not (errors.count or check.unmapped_seen()):
                self._store(conn, statement, logs, pending, start, errors, counts)
            pending.clear()

        bar = tqdm(total=table.total, unit="row", desc=f"importing {self.path.name}", disable=not self.progress,
                   leave=False, mininterval=0.5)
        try:
            try:
                for row in table.rows():
                    counts["rows"] += 1
                    stored = check(row.number, row.values)
                    if stored is not None and not (errors.count or check.unmapped_seen()):
                        pending.append((row.number, stored))
                    if counts["rows"] % self.chunk == 0:
                        bar.update(counts["rows"] - bar.n)
                        flush()
                flush()
                bar.update(counts["rows"] - bar.n)
            except tabular.TableError as exc:
                errors.close()
                raise Problem(422, {"message": str(exc), "file": str(self.path)}) from None
        finally:
            bar.close()
        check.unmapped_errors()
        errors.refuse("events import")  # raises: the caller's transaction rolls back whatever was written
        self.stored = counts
        return counts

    def _store(self, conn, statement, logs, pending, start: int, errors: RowErrors, counts: dict) -> None:
        """Stores a chunk and its log. A row not stored is a case imported before (its id up to `start`,
        the largest before this import: skipped) or one this file already holds (an error)."""
        e = Event.__table__.c
        rows = [r for _, r in pending]
        if self.by_range:
            floor = conn.scalar(select(func.max(e.id))) or 0
            conn.execute(statement, rows)
            created = conn.scalar(select(func.count()).where(e.id > floor))
            ids: list[int] = []
        else:
            floor = None
            ids = sorted(i for i, _ in conn.execute(statement, rows))
            created = len(ids)
        counts["created"] += created
        if created < len(rows):
            found: dict[str, int] = {}
            for at in range(0, len(rows), IN_CHUNK):
                part = [r["source_id"] for r in rows[at:at + IN_CHUNK]]
                found.update(conn.execute(select(e.source_id, e.id).where(e.source == self.source, e.source_id.in_(part))).all())
            new = set(ids) if floor is None else {i for i in found.values() if i > floor}
            seen: set[str] = set()
            for number, r in pending:
                sid = r["source_id"]
                if sid in seen or (found[sid] > start and found[sid] not in new):
                    errors.add(number, "source_id", f"'{sid}' appears twice in this file (also in an earlier row)")
                elif found[sid] <= start:
                    counts["skipped"] += 1  # imported before: idempotent
                seen.add(sid)
        if errors.count or not created:
            return
        if self.by_range:
            for log_statement in logs:
                conn.execute(log_statement, {"floor": floor})
            return
        for at in range(0, len(ids), IN_CHUNK):
            for log_statement in logs:
                conn.execute(log_statement, {"ids": ids[at:at + IN_CHUNK]})

    def publish(self) -> None:
        """The live counters, rebuilt from SQL (exact also against a running centre)."""
        if self.stored.get("created"):
            rebuild(self.rt)


class _RowCheck:
    """One row → the events row to store, or None with its errors added."""

    def __init__(self, command: ImportEvents, window: TimeWindow, errors: RowErrors) -> None:
        self.c = command
        self.window = window
        self.bounds = (window.earliest, window.now + FUTURE_SLACK)  # what TimeWindow.error lets pass
        self.errors = errors
        self.tz = {"tz": command.rt.tz}
        self.unmapped: dict[str, dict[str, list[int]]] = {"item": {}, "status": {}}  # value → [count, first row]
        self.dispatch: dict[tuple[str, str | None], str] = {}
        self.limits: dict[tuple[str, str], Any] = {}
        self.cfg = command.rt.config
        self.areas = command.rt.areas
        self.add: Callable = errors.add
        self.category_of = {i.code: self.cfg.item_category(i.code).code for i in self.cfg.items}
        # the columns every row stores alike (photo_urls: one empty list, never changed, serialised per row)
        self.constant = {"source": command.source, "photo_urls": [], "verify_photo_url": None, "dispute_rung": None,
                         "dispute_outcome": None, "version": 1}

    def __call__(self, number: int, values: dict[str, Any]) -> dict | None:
        if bad := control_errors(values):
            for name, problem in bad:
                self.add(number, name, problem, "control_character")
            return None
        try:
            r = CaseRow.model_validate(values, context=self.tz)
        except ValidationError as exc:
            self.errors.add_validation(number, exc)
            return None
        before = self.errors.count
        item = self._mapped("item", r.item, self.c.categories, number)
        status = self._mapped("status", r.status, self.c.statuses, number) if r.status is not None else self._derived(r)
        grid, lat, lon = self._place(r, number)
        fields = r.__dict__
        stamps = {column: fields[column] for column in STAMPS}
        low, high = self.bounds
        for name in TIMES:
            at = fields[name]
            if at is not None and not low <= at <= high and (error := self.window.error(at, [name])):
                self.add(number, name, error["msg"], error["type"])
        if status is not None:
            self._steps(r, status, stamps, number)
        department = None
        if r.department is not None:
            department = self.c.departments.get(r.department)
            if department is None:
                self.add(number, "department", f"unknown department '{r.department}' (a code or name of config/departments.yaml)")
        if self.errors.count > before or item is None or grid is None or status is None:
            return None
        if department is None:
            district = grid.chain[1] if len(grid.chain) > 1 else None
            key = (item, district)
            department = self.dispatch.get(key) or self.dispatch.setdefault(key, self.cfg.dispatch(item, district))
        deadline = r.deadline
        if deadline is None:
            key = (item, r.urgency)
            limit = self.limits.get(key) or self.limits.setdefault(key, self.cfg.time_limit(item, r.urgency))
            deadline = r.reported_at + limit
        elif deadline < r.reported_at:
            self.add(number, "deadline", "is before reported_at")
            return None
        return {
            **self.constant, "source_id": r.source_id, "channel": r.channel or self.c.channel,
            "category_code": self.category_of[item], "item_code": item, "urgency": r.urgency,
            "description": r.description, "address": r.address, "reporter_name": r.reporter_name,
            "reporter_phone": r.reporter_phone, "lat": lat, "lon": lon, "grid_id": grid.id, "status": status,
            "department_code": department, "deadline": deadline, "reported_at": r.reported_at, **stamps,
            "rating": r.rating, "resolved_level": r.resolved_level,
        }

    def _mapped(self, name: str, value: str, mapping: dict[str, str], number: int) -> str | None:
        found = mapping.get(value)
        if found is None:
            seen = self.unmapped[name].setdefault(value, [0, number])
            seen[0] += 1
        return found

    @staticmethod
    def _derived(r: CaseRow) -> str:
        """Without a status column: the furthest step the row has a time for."""
        for _, status, column in reversed(STAGES):
            if getattr(r, column) is not None:
                return status.value
        return Status.REPORTED.value

    def _steps(self, r: CaseRow, status: str, stamps: dict, number: int) -> None:
        reached = REACHED[Status(status)]
        last_name, last = "reported_at", r.reported_at
        for i, (_, _, column) in enumerate(STAGES):
            at = stamps[column]
            if at is None:
                continue
            if i + 1 > reached:
                self.add(number, column, f"is given, but the case's status is '{status}', which comes before this step")
                continue
            if at < last:
                self.add(number, column, f"is before {last_name} ({last.isoformat(sep=' ')})")
            last_name, last = column, at
        if status in (Status.CLOSED, Status.RATED) and stamps["closed_at"] is None:
            self.add(number, "closed_at", f"is empty, but the case is '{status}': a closed case keeps its time of closing")
        if status == Status.RATED and (stamps["rated_at"] is None or r.rating is None):
            self.add(number, "rated_at" if stamps["rated_at"] is None else "rating",
                     "is empty, but the case is 'rated': a rated case has its rating and when it was given")
        if r.rating is not None and status != Status.RATED:
            self.add(number, "rating", f"is given, but the case's status is '{status}', not 'rated'")
        if r.resolved_level is not None and status not in (Status.CLOSED, Status.RATED):
            self.add(number, "resolved_level", f"is given, but the case's status is '{status}': only a closed case has one")

    def _place(self, r: CaseRow, number: int):
        areas = self.areas
        if (r.lat is None) != (r.lon is None):
            self.add(number, "lon" if r.lon is None else "lat", "lat and lon must be given together")
            return None, None, None
        if r.grid is not None:
            grid = areas.grid(r.grid)
            if grid is None:
                self.add(number, "grid", f"unknown grid '{r.grid}'")
                return None, None, None
            return grid, (r.lat if r.lat is not None else grid.lat), (r.lon if r.lon is not None else grid.lon)
        if r.lat is None:
            self.add(number, "grid", "give a grid code or a point (lat, lon)")
            return None, None, None
        grid = areas.locate(r.lat, r.lon)
        if grid is None:
            self.add(number, "lat", f"point ({r.lat}, {r.lon}) is outside the city's grids (lat and lon in WGS84)")
            return None, None, None
        return grid, r.lat, r.lon

    def unmapped_seen(self) -> bool:
        return bool(self.unmapped["item"] or self.unmapped["status"])

    def unmapped_errors(self) -> None:
        """Each distinct unmapped value once: how many rows hold it and the first of them."""
        for name, values in self.unmapped.items():
            section = "categories" if name == "item" else "statuses"
            ours = "a sub-item code of config/categories.yaml" if name == "item" else "one of " + ", ".join(s.value for s in Status)
            for value, (count, first) in values.items():
                self.add(first, name, f"'{value}' is not mapped ({count} row(s), first at row {first}): map it to {ours} "
                                      f"in the mapping file's '{section}:' section", "unmapped_value")
