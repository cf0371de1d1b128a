"""`people import` and `workers import`: a grid's people and housing (人房) and its 1+N workers, from a
table the centre is given, into the tables the demo city fills (`grid_profiles`, `grid_workers`), so
the tablets and the wall's map show them.

Both are all-or-nothing: every row is checked first, and one error refuses the file whole (every
error listed, with its row and column); nothing is written then.

- People: one row per grid, keyed by the grid's code; a grid's figures are replaced by the row's. A
  figure whose column the file lacks keeps its stored value (0 for a grid without figures yet).
- Workers: one row per person, keyed by grid and name: a person already on the grid's roster is
  updated (phone, role, kind of helper), anyone else is added. Nobody is removed (field work names
  its worker; see docs/IMPORT.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError
from sqlalchemy import Connection, bindparam, insert, select, update

from bigscreen.commands.base import Command
from bigscreen.db.models import GridProfile, GridWorker
from bigscreen.domain.schemas import Problem
from bigscreen.geo.areas import AreaInfo
from bigscreen.geo.people import HELPER_KINDS
from bigscreen.geo.totals import PEOPLE
from bigscreen.imports import tabular
from bigscreen.imports.rows import RowErrors, RowIn, control_errors
from bigscreen.process.runtime import Runtime

log = logging.getLogger(__name__)

Count = Annotated[int | None, Field(ge=0, le=100_000_000)]
ROLES = {"full_time": "full_time", "helper": "helper", "专职": "full_time", "专职网格员": "full_time",
         "网格员": "full_time", "专职网格长": "full_time", "网格长": "full_time", "兼职": "helper",
         "兼职网格员": "helper", "网格助理": "helper", "网格协管员": "helper", "协管员": "helper", "辅助力量": "helper"}
HELPER_KIND_NAMES = {"police": "police", "doctor": "doctor", "cadre": "cadre", "building_head": "building_head",
                     "volunteer": "volunteer", "utility": "utility", "民警": "police", "社区民警": "police",
                     "医生": "doctor", "家庭医生": "doctor", "干部": "cadre", "机关干部": "cadre", "下沉干部": "cadre",
                     "楼栋长": "building_head", "楼长": "building_head", "单元长": "building_head",
                     "志愿者": "volunteer", "水电气": "utility", "水电气暖": "utility", "公用事业": "utility"}
assert set(HELPER_KIND_NAMES.values()) == set(HELPER_KINDS)

PEOPLE_FIELDS = [
    tabular.Field("grid", True, ("网格编码", "网格代码", "网格编号")),
    tabular.Field("population", headers=("人口", "实有人口", "人口数")),
    tabular.Field("households", headers=("户数", "实有户数")),
    tabular.Field("buildings", headers=("楼栋数", "房屋数", "楼栋")),
    tabular.Field("key_places", headers=("重点场所", "重点场所数")),
    tabular.Field("cared_for", headers=("关爱对象", "重点人群", "关爱人数")),
]
WORKER_FIELDS = [
    tabular.Field("grid", True, ("网格编码", "网格代码", "网格编号")),
    tabular.Field("name", True, ("姓名",)),
    tabular.Field("phone", headers=("电话", "手机", "手机号", "联系电话")),
    tabular.Field("role", headers=("角色", "类别", "人员类别")),
    tabular.Field("helper_kind", headers=("力量类型", "辅助类型")),
]


class PeopleRow(RowIn):
    grid: Annotated[str, Field(min_length=1, max_length=32), BeforeValidator(lambda v: v if v is None else str(v))]
    population: Count = None
    households: Count = None
    buildings: Count = None
    key_places: Count = None
    cared_for: Count = None


def _choice(names: dict[str, str], what: str):
    def check(value: Any) -> Any:
        if value is None:
            return None
        found = names.get(str(value).strip())
        if found is None:
            raise ValueError(f"unknown {what} '{value}' (one of: {', '.join(names)})")
        return found
    return BeforeValidator(check)


class WorkerRow(RowIn):
    grid: Annotated[str, Field(min_length=1, max_length=32), BeforeValidator(lambda v: v if v is None else str(v))]
    name: Annotated[str, Field(min_length=1, max_length=50)]
    phone: Annotated[str | None, BeforeValidator(lambda v: v if v is None else str(v)),
                     Field(max_length=32, pattern=r"^[0-9+\- ]{3,32}$")] = None
    role: Annotated[str, _choice(ROLES, "role")] = "full_time"
    helper_kind: Annotated[str | None, _choice(HELPER_KIND_NAMES, "kind of helper")] = None


class _TableImport(Command):
    FIELDS: list[tabular.Field]
    WHAT = ""

    def __init__(self, rt: Runtime, path: Path | str, columns: dict[str, str] | None = None, *,
                 errors_path: Path | None = None, encoding: str | None = None, header_row: int = 1,
                 sheet: str | None = None) -> None:
        self.rt = rt
        self.path = Path(path)
        self.columns = columns or {}
        self.errors_path = errors_path
        self.options = {"encoding": encoding, "header_row": header_row, "sheet": sheet}
        self.table: tabular.Table | None = None
        self.stored: dict[str, int] = {}

    def validate(self) -> None:
        """Opens the file and finds its columns (refusing what cannot be read as a whole)."""
        try:
            self.table = tabular.open_table(self.path, self.FIELDS, self.columns, **self.options)
        except tabular.TableError as exc:
            raise Problem(422, {"message": str(exc), "file": str(self.path)}) from None

    def _rows(self, model, errors: RowErrors) -> Iterator[tuple[int, Any]]:
        """The rows that pass the model, in order (the others' errors added as they come)."""
        try:
            for row in self.table.rows():
                if bad := control_errors(row.values):
                    for name, problem in bad:
                        errors.add(row.number, name, problem, "control_character")
                    continue
                try:
                    checked = model.model_validate(row.values)
                except ValidationError as exc:
                    errors.add_validation(row.number, exc)
                    continue
                yield row.number, checked
        except tabular.TableError as exc:
            errors.close()
            raise Problem(422, {"message": str(exc), "file": str(self.path)}) from None

    def _grid(self, code: str, number: int, errors: RowErrors) -> AreaInfo | None:
        grid = self.rt.areas.grid(code)
        if grid is None:
            other = self.rt.areas.by_code.get(code)
            errors.add(number, "grid", f"'{code}' is a {other.level_name} ({other.name}), not a grid" if other
                       else f"unknown grid '{code}'")
        return grid

    def publish(self) -> None:
        """The map's level files carry people and workforce per area: written again from SQL. (The wall's
        frames read the totals once per process: a running centre shows them after its next start.)"""
        from bigscreen.geo.assets import build_level_assets, geo_dir

        try:
            with self.rt.sessions() as session:
                build_level_assets(session, list(self.rt.config.city.levels), geo_dir(self.rt.settings))
        except OSError as exc:  # stored in SQL: the map's files catch up at the next start
            log.warning("the map's files were not rewritten: %s", exc)


class ImportPeople(_TableImport):
    FIELDS = PEOPLE_FIELDS
    WHAT = "people import"

    def write(self, conn: Connection) -> dict[str, int]:
        errors = RowErrors(self.table, self.errors_path)
        given = [f for f in PEOPLE if f in self.table.columns]
        if not given:
            raise Problem(422, {"message": f"{self.path}: no column of figures ({', '.join(PEOPLE)}): map one with "
                                           "--columns population=HEADER", "file": str(self.path)})
        rows = self._rows(PeopleRow, errors)
        first: dict[int, int] = {}
        plan: list[tuple[int, dict[str, int]]] = []
        for number, row in rows:
            grid = self._grid(row.grid, number, errors)
            if grid is None:
                continue
            if grid.id in first:
                errors.add(number, "grid", f"grid '{row.grid}' again (first at row {first[grid.id]})")
                continue
            first[grid.id] = number
            missing = [f for f in given if getattr(row, f) is None]
            for f in missing:
                errors.add(number, f, "is empty (a count, 0 or more)")
            if not missing:
                plan.append((grid.id, {f: getattr(row, f) for f in given}))
        errors.refuse(self.WHAT)  # before any write
        stored = {r.area_id: r for r in conn.execute(select(GridProfile.__table__))}
        fresh = [{"area_id": a, **dict.fromkeys(PEOPLE, 0), **v} for a, v in plan if a not in stored]
        changed = [{"b_area_id": a, **v} for a, v in plan if a in stored]
        table = GridProfile.__table__
        if fresh:
            conn.execute(insert(table), fresh)
        if changed:
            conn.execute(update(table).where(table.c.area_id == bindparam("b_area_id")), changed)
        self.stored = {"rows": len(plan), "added": len(fresh), "updated": len(changed)}
        return self.stored


class ImportWorkers(_TableImport):
    FIELDS = WORKER_FIELDS
    WHAT = "workers import"

    def write(self, conn: Connection) -> dict[str, int]:
        errors = RowErrors(self.table, self.errors_path)
        rows = self._rows(WorkerRow, errors)
        first: dict[tuple[int, str], int] = {}
        plan: list[dict] = []
        for number, row in rows:
            grid = self._grid(row.grid, number, errors)
            if grid is None:
                continue
            key = (grid.id, row.name)
            if key in first:
                errors.add(number, "name", f"'{row.name}' of grid '{row.grid}' again (first at row {first[key]}); "
                                           "a grid's workers are told apart by name")
                continue
            first[key] = number
            kind = row.helper_kind if row.role == "helper" else None
            if row.role == "full_time" and row.helper_kind is not None:
                errors.add(number, "helper_kind", "a full-time grid worker has no kind of helper")
                continue
            plan.append({"area_id": grid.id, "name": row.name, "role": row.role, "helper_kind": kind, "phone": row.phone})
        errors.refuse(self.WHAT)
        workers = GridWorker.__table__
        stored: dict[tuple[int, str], int] = {}
        for r in conn.execute(select(workers.c.id, workers.c.area_id, workers.c.name).order_by(workers.c.id)):
            stored.setdefault((r.area_id, r.name), r.id)
        fresh = [p for p in plan if (p["area_id"], p["name"]) not in stored]
        changed = [{"b_id": stored[(p["area_id"], p["name"])], "role": p["role"], "helper_kind": p["helper_kind"],
                    "phone": p["phone"]} for p in plan if (p["area_id"], p["name"]) in stored]
        if fresh:
            conn.execute(insert(workers), fresh)
        if changed:
            conn.execute(update(workers).where(workers.c.id == bindparam("b_id")), changed)
        self.stored = {"rows": len(plan), "added": len(fresh), "updated": len(changed)}
        return self.stored
