"""people / workers / events import: files written by the real writers (csv, openpyxl), good and bad
rows, all or nothing, and history that counts in every figure (on SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from bigscreen.auth.roles import Principal, Role
from bigscreen.db.models import Event, EventTransition, GridProfile, GridWorker
from bigscreen.domain.schemas import Problem
from bigscreen.geo.totals import area_totals
from bigscreen.imports.history import ImportEvents
from bigscreen.imports.roster import ImportPeople, ImportWorkers
from bigscreen.jobs.rebuild import snapshot
from bigscreen.live.kpi import read_kpi
from bigscreen.reports.figures import area_kpi
from bigscreen.screens.tablet import grid_details


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list], merge: str | None = None) -> Path:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    if merge:
        ws.merge_cells(merge)
    wb.save(path)
    return path


def refused(command) -> dict:
    with pytest.raises(Problem) as caught:
        command.run()
    assert caught.value.status == 422
    return caught.value.detail


def where(detail: dict) -> list[tuple]:
    return [(e["loc"][1], e["loc"][2] if len(e["loc"]) > 2 else None) for e in detail["errors"]]


def table_rows(runtime, table) -> list[tuple]:
    with runtime.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(select(table.__table__)))


def grids(runtime, n: int) -> list:
    return runtime.areas.at_level(runtime.areas.grid_level)[:n]


# ---- people and housing -------------------------------------------------------------------------

def test_people_import_from_gbk_csv_with_chinese_headers_reaches_the_tablet_and_the_map(runtime, tmp_path):
    g1, g2 = grids(runtime, 2)
    path = write_csv(tmp_path / "人房.csv", [
        ["网格编码", "网格名称", "实有人口", "户数", "楼栋数", "重点场所", "关爱对象"],
        [g1.code, g1.name, "4321", "1500", "40", "3", "77"],
        [g2.code, g2.name, 999, 300, 12, 0, 5],
    ], encoding="gbk")
    done = ImportPeople(runtime, path).run()
    assert done == {"rows": 2, "added": 0, "updated": 2}  # the demo city had figures: replaced
    with runtime.sessions() as session:
        assert session.get(GridProfile, g1.id).population == 4321
        totals = area_totals(session)
    assert totals[g1.code]["cared_for"] == 77 and totals[g2.code]["households"] == 300
    who = Principal("user", "leader", Role.LEADER, None, 1)
    details = grid_details(runtime, g1, who, "zh", runtime.clock())
    assert details.people == {"population": 4321, "households": 1500, "buildings": 40, "key_places": 3, "cared_for": 77}


def test_people_import_with_mapped_columns_keeps_figures_the_file_lacks(runtime, tmp_path):
    (g1,) = grids(runtime, 1)
    with runtime.sessions() as session:
        before = session.get(GridProfile, g1.id).buildings
    path = write_xlsx(tmp_path / "people.xlsx", [["GRID_CODE", "POP"], [g1.code, 10]])
    ImportPeople(runtime, path, {"grid": "GRID_CODE", "population": "POP"}).run()
    with runtime.sessions() as session:
        profile = session.get(GridProfile, g1.id)
    assert (profile.population, profile.buildings) == (10, before)


def test_bad_people_rows_are_each_named_and_nothing_is_stored(runtime, tmp_path):
    g1, g2 = grids(runtime, 2)
    community = runtime.areas.at_level(runtime.areas.grid_level - 1)[0]
    before = table_rows(runtime, GridProfile)
    path = write_csv(tmp_path / "people.csv", [
        ["grid", "population", "households"],
        [g1.code, "100", "40"],            # good, but the file fails: not stored either
        ["999999", "1", "1"],              # row 3: unknown grid
        [g2.code, "-5", "abc"],            # row 4: two bad numbers
        [community.code, "1", "1"],        # row 5: not a grid
        [g1.code, "1", "1"],               # row 6: the same grid again
        [g2.code, "", "3"],                # row 7: an empty figure
    ])
    detail = refused(ImportPeople(runtime, path, errors_path=tmp_path / "errors.csv"))
    assert str(path) in detail["message"] and "nothing stored" in detail["message"]
    assert where(detail) == [(3, "grid"), (4, "population"), (4, "households"), (5, "grid"), (6, "grid"), (7, "population")]
    assert "not a grid" in detail["errors"][3]["msg"] and "first at row 2" in detail["errors"][4]["msg"]
    assert table_rows(runtime, GridProfile) == before
    with (tmp_path / "errors.csv").open(encoding="utf-8-sig") as fh:
        assert len(list(csv.DictReader(fh))) == 6


# ---- workers ------------------------------------------------------------------------------------

def test_workers_import_from_xlsx_adds_and_updates_by_grid_and_name(runtime, tmp_path):
    (g1,) = grids(runtime, 1)
    with runtime.sessions() as session:
        known = session.scalars(select(GridWorker).where(GridWorker.area_id == g1.id).order_by(GridWorker.id)).first()
        count = session.scalar(select(func.count()).select_from(GridWorker))
    path = write_xlsx(tmp_path / "网格员.xlsx", [
        ["姓名", "手机号", "网格编码", "人员类别", "力量类型"],
        [known.name, 13900001111, g1.code, "专职网格员", None],
        ["新来的", "13900002222", g1.code, "网格助理", "楼栋长"],
    ])
    assert ImportWorkers(runtime, path).run() == {"rows": 2, "added": 1, "updated": 1}
    with runtime.sessions() as session:
        assert session.get(GridWorker, known.id).phone == "13900001111"
        assert session.scalar(select(func.count()).select_from(GridWorker)) == count + 1
    who = Principal("user", "leader", Role.LEADER, None, 1)
    helpers = grid_details(runtime, g1, who, "zh", runtime.clock()).helpers
    assert ("新来的", "building_head") in [(p.name, p.helper_kind) for p in helpers]


def test_bad_worker_rows_and_a_merged_header_are_refused_and_nothing_is_stored(runtime, tmp_path):
    (g1,) = grids(runtime, 1)
    before = table_rows(runtime, GridWorker)
    path = write_csv(tmp_path / "workers.csv", [
        ["name", "phone", "grid", "role"],
        ["张三", "13900001111", g1.code, "full_time"],
        ["李四", "call me", g1.code, "helper"],       # row 3: phone
        ["", "13900003333", g1.code, "helper"],       # row 4: name
        ["王五", "13900004444", g1.code, "boss"],     # row 5: role
        ["张三", "13900005555", g1.code, "helper"],   # row 6: the same person twice
    ])
    detail = refused(ImportWorkers(runtime, path))
    assert where(detail) == [(3, "phone"), (4, "name"), (5, "role"), (6, "name")]
    assert table_rows(runtime, GridWorker) == before

    merged = write_xlsx(tmp_path / "merged.xlsx", [["网格员名册", None, None], ["姓名", "网格编码", "手机号"],
                                                   ["张三", g1.code, "13900001111"]], merge="A1:C1")
    detail = refused(ImportWorkers(runtime, merged))
    assert "merged cells A1:C1" in detail["message"] and str(merged) in detail["message"]
    assert ImportWorkers(runtime, merged, header_row=2).run()["rows"] == 1  # the header named: read


def test_a_missing_column_and_a_file_that_is_no_table_are_refused_by_name(runtime, tmp_path):
    path = write_csv(tmp_path / "workers.csv", [["姓名", "电话"], ["张三", "13900001111"]])
    assert "no column for grid" in refused(ImportWorkers(runtime, path))["message"]
    fake = tmp_path / "workers.xlsx"
    fake.write_text("姓名,网格编码\n")
    assert "not an XLSX file" in refused(ImportWorkers(runtime, fake))["message"]


def test_a_2_gb_file_without_line_breaks_is_refused_by_row_and_nothing_is_stored(runtime, tmp_path):
    """A one-line dump (or any file with no line breaks) named .csv: each import refuses it at the row
    where the line runs past a million characters, without reading 2 GB into memory."""
    huge = tmp_path / "dump.csv"
    with huge.open("wb") as fh:
        fh.write("网格编码,人口,姓名,工单编号,事件小类,上报时间,诉求内容\n".encode() + b"370502001001," + b"x" * 8000)
        fh.truncate(2 * 2**30)  # sparse: takes no disk
    before = [table_rows(runtime, t) for t in (GridProfile, GridWorker, Event)]
    for command in (ImportPeople(runtime, huge), ImportWorkers(runtime, huge),
                    ImportEvents(runtime, huge, "old-12345")):
        detail = refused(command)
        assert detail["message"] == (f"{huge}: row 2: more than 1,000,000 characters without a line break: "
                                     "not a table of records (is it the right file?)"), detail
    assert [table_rows(runtime, t) for t in (GridProfile, GridWorker, Event)] == before


# ---- historical cases ---------------------------------------------------------------------------

HEADER = ["工单编号", "事件小类", "上报时间", "诉求内容", "网格编码", "办理状态", "派单时间", "办结时间", "评价", "评价时间",
          "化解层级"]


def _now(runtime) -> datetime:
    local = datetime.now(timezone.utc).astimezone(runtime.tz)
    now = (local.replace(hour=18, minute=0, second=0, microsecond=0) - timedelta(days=1)).astimezone(timezone.utc)
    runtime.clock = lambda: now
    return now


def _local(now: datetime, runtime, days: float) -> str:
    return (now - timedelta(days=days)).astimezone(runtime.tz).strftime("%Y-%m-%d %H:%M:%S")


def history(runtime, now) -> list[list]:
    """Four cases: closed on time, closed late (then rated), open and late, open and not yet late."""
    g1, g2 = grids(runtime, 2)
    t = lambda d: _local(now, runtime, d)  # noqa: E731
    return [HEADER,
            ["OLD-1", "占道经营", t(10), "门口占道摆摊", g1.code, "已办结", t(9.99), t(9.5), None, None, "社区"],
            ["OLD-2", "MS01", t(20), "停水三天", g2.code, "已评价", t(19.9), t(5), "满意", t(4.9), "街道"],
            ["OLD-3", "MS02", t(30), "路灯不亮", g1.code, "已派单", t(29.9), None, None, None, None],
            ["OLD-4", "MS02", t(0.5), "刚报的停电", g2.code, "已派单", t(0.49), None, None, None, None]]


def _import(runtime, path, **kw) -> dict:
    return ImportEvents(runtime, path, "old-12345", categories={"占道经营": "SR01"}, **kw).run()


def test_history_keeps_statuses_and_times_counts_in_every_figure_and_imports_once(runtime, tmp_path):
    now = _now(runtime)
    rows = history(runtime, now)
    path = write_csv(tmp_path / "cases.csv", rows, encoding="utf-8-sig")  # Excel's "CSV UTF-8": with a BOM
    assert _import(runtime, path) == {"rows": 4, "created": 4, "skipped": 0}
    with runtime.sessions() as session:
        closed = session.scalar(select(Event).where(Event.source_id == "OLD-1"))
        steps = session.execute(select(EventTransition.action, EventTransition.to_status, EventTransition.at)
                                .where(EventTransition.event_id == closed.id).order_by(EventTransition.id)).all()
    assert closed.status == "closed" and closed.resolved_level == "community" and closed.item_code == "SR01"
    assert closed.closed_at == (now - timedelta(days=9.5)).replace(microsecond=0)
    assert closed.reported_at == (now - timedelta(days=10)).replace(microsecond=0)
    assert [(a, s) for a, s, _ in steps] == [("report", "reported"), ("dispatch", "dispatched"), ("close", "closed")]
    assert steps[-1][2] == closed.closed_at

    # the figures count the history: 1 of 3 (two closed, one open and late) on time, live equal to SQL
    day_start = now.astimezone(runtime.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    areas = runtime.areas
    with runtime.engine.connect() as conn:
        city = area_kpi(conn, areas, areas.city.code, now, day_start)
        for code in [areas.city.code] + [a.code for level in range(1, areas.grid_level + 1) for a in areas.at_level(level)[:4]]:
            assert read_kpi(runtime.redis, runtime.keys, runtime.contributions, code, now) == \
                area_kpi(conn, areas, code, now, day_start), code
    assert city["ontime_rate"] == round(1 / 3, 4) and city["closure_rate"] == 0.5 and city["satisfaction"] == 1.0
    assert city["avg_handling_hours"] == round((0.5 * 24 + 15 * 24) / 2, 2)

    # again, and a longer export over it: only what is new is stored, the figures unchanged by the rest
    counters = snapshot(runtime)
    assert _import(runtime, path) == {"rows": 4, "created": 0, "skipped": 4}
    assert snapshot(runtime) == counters
    longer = write_xlsx(tmp_path / "cases.xlsx", rows + [["OLD-5", "MS01", _local(now, runtime, 3), "又停水", rows[1][4],
                                                          "已派单", None, None, None, None, None]])
    assert _import(runtime, longer) == {"rows": 5, "created": 1, "skipped": 4}
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 5


def test_unmapped_categories_are_listed_once_each_and_nothing_is_stored(runtime, tmp_path):
    now = _now(runtime)
    g1 = grids(runtime, 1)[0]
    rows = [HEADER] + [[f"X-{i}", ["井盖丢失", "噪音扰民"][i % 2] if i < 7 else "MS01", _local(now, runtime, 2), "描述",
                        g1.code, "已派单", None, None, None, None, None] for i in range(9)]
    path = write_csv(tmp_path / "cases.csv", rows)
    detail = refused(ImportEvents(runtime, path, "old", errors_path=tmp_path / "errors.csv"))
    unmapped = [e for e in detail["errors"] if e["type"] == "unmapped_value"]
    assert [e["msg"].split(" is")[0] for e in unmapped] == ["'井盖丢失'", "'噪音扰民'"]
    assert "4 row(s), first at row 2" in unmapped[0]["msg"] and "3 row(s), first at row 3" in unmapped[1]["msg"]
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0


def test_bad_case_rows_go_to_the_errors_file_by_row_and_column_and_nothing_is_stored(runtime, tmp_path):
    now = _now(runtime)
    g1 = grids(runtime, 1)[0]
    t = lambda d: _local(now, runtime, d)  # noqa: E731
    rows = [HEADER,
            ["A-1", "MS01", t(5), "好的一行", g1.code, "已办结", t(4.9), t(4), None, None, None],
            ["A-2", "MS01", "昨天", "时间不对", g1.code, "已派单", None, None, None, None, None],             # reported_at
            ["A-3", "MS01", t(5), "办结早于上报", g1.code, "已办结", None, t(6), None, None, None],           # closed_at
            ["A-4", "MS01", t(5), "在办却有办结时间", g1.code, "已派单", None, t(4), None, None, None],       # closed_at
            ["A-5", "MS01", t(5), "办结却无时间", g1.code, "已办结", None, None, None, None, None],          # closed_at
            ["A-6", "MS01", "1999-01-01 08:00", "太早", g1.code, "已派单", None, None, None, None, None],   # reported_at
            ["A-7", "MS01", t(5), "没有网格", "nowhere", "已派单", None, None, None, None, None],           # grid
            ["A-1", "MS01", t(5), "重复编号", g1.code, "已派单", None, None, None, None, None],               # source_id
            ["A-9", "MS01", t(5), "评价不对", g1.code, "已评价", None, t(4), "很好", t(3), None]]           # rating
    errors = tmp_path / "errors.csv"
    detail = refused(ImportEvents(runtime, write_csv(tmp_path / "cases.csv", rows), "old", errors_path=errors))
    assert where(detail) == [(3, "上报时间"), (4, "办结时间"), (5, "办结时间"), (6, "办结时间"), (7, "上报时间"),
                             (8, "网格编码"), (10, "评价")]  # row 9's duplicate id is found as rows are stored: none are
    assert "earliest date" in detail["errors"][4]["msg"]
    with errors.open(encoding="utf-8-sig") as fh:
        written = list(csv.DictReader(fh))
    assert [(int(w["row"]), w["field"]) for w in written][:2] == [(3, "reported_at"), (4, "closed_at")]
    assert all(w["file"] == str(tmp_path / "cases.csv") for w in written)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0
        assert session.scalar(select(func.count()).select_from(EventTransition)) == 0


def test_the_same_id_twice_in_one_file_refuses_it(runtime, tmp_path):
    now = _now(runtime)
    g1 = grids(runtime, 1)[0]
    rows = [HEADER] + [["B-1", "MS01", _local(now, runtime, 5), "同一编号", g1.code, "已派单", None, None, None, None, None]] * 2
    detail = refused(ImportEvents(runtime, write_csv(tmp_path / "cases.csv", rows), "old"))
    assert where(detail) == [(3, "工单编号")] and "twice" in detail["errors"][0]["msg"]
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0


# ---- the commands -------------------------------------------------------------------------------

def test_the_commands_name_the_file_row_and_column_of_what_is_wrong_and_store_a_good_file(runtime, tmp_path):
    from click.testing import CliRunner

    from bigscreen.cli import main

    s = runtime.settings
    env = {"BIGSCREEN_DATA_DIR": str(s.data_dir), "BIGSCREEN_DATABASE_URL": s.database_url, "BIGSCREEN_REDIS_URL": s.redis_url}
    g1 = grids(runtime, 1)[0]
    now = datetime.now(timezone.utc)
    t = lambda d: _local(now, runtime, d)  # noqa: E731
    bad = write_csv(tmp_path / "cases.csv", [HEADER, ["C-1", "MS01", t(3), "好", g1.code, "已办结", None, "明天", None, None, None]])
    result = CliRunner().invoke(main, ["events", "import", str(bad), "--source", "old", "--quiet"], env=env)
    assert result.exit_code == 1
    assert f"{bad}: events import refused, nothing stored: 1 error(s) in 1 row(s); all of them in {bad}.errors.csv" in result.output
    assert "row 2, column 办结时间 (closed_at): must be a date and time" in result.output
    assert (tmp_path / "cases.csv.errors.csv").exists()

    good = write_csv(tmp_path / "cases.csv", [HEADER, ["C-1", "MS01", t(3), "好", g1.code, "已办结", None, t(1), None, None, "网格"]])
    result = CliRunner().invoke(main, ["events", "import", str(good), "--source", "old", "--quiet"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 row(s): 1 case(s) imported, 0 already there; live figures rebuilt" in result.output
    assert not (tmp_path / "cases.csv.errors.csv").exists()  # the earlier run's errors do not linger
    again = CliRunner().invoke(main, ["events", "import", str(good), "--source", "old"], env=env)  # with its progress bar
    assert again.exit_code == 0 and "1 row(s): 0 case(s) imported, 1 already there" in again.output, again.output
    assert "\rimporting cases.csv: 0row [" in again.output, again.output

    people = write_csv(tmp_path / "p.csv", [["GRID", "POP"], [g1.code, "12"]])
    result = CliRunner().invoke(main, ["people", "import", str(people), "--columns", "grid=GRID,population=POP"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 grid(s) imported (0 new, 1 updated)" in result.output


def test_a_status_without_its_time_and_a_returned_case_get_their_steps_in_the_log(runtime, tmp_path):
    now = _now(runtime)
    g1 = grids(runtime, 1)[0]
    t = lambda d: _local(now, runtime, d)  # noqa: E731
    rows = [HEADER, ["D-1", "MS01", t(4), "处置中但无时间", g1.code, "处置中", t(3.9), None, None, None, None],
            ["D-2", "MS01", t(4), "被退回", g1.code, "已退回", t(3.9), None, None, None, None]]
    assert ImportEvents(runtime, write_csv(tmp_path / "cases.csv", rows), "old").run()["created"] == 2
    with runtime.sessions() as session:
        logs = {}
        for sid in ("D-1", "D-2"):
            event = session.scalar(select(Event).where(Event.source_id == sid))
            logs[sid] = (event, session.execute(select(EventTransition).where(EventTransition.event_id == event.id)
                                                .order_by(EventTransition.id)).scalars().all())
    event, steps = logs["D-1"]
    assert event.status == "in_progress" and event.started_at is None  # no time made up for the case
    assert [(s.action, s.from_status, s.to_status) for s in steps] == [
        ("report", None, "reported"), ("dispatch", "reported", "dispatched"), ("start", "dispatched", "in_progress")]
    assert steps[-1].at == event.dispatched_at and "without the time" in steps[-1].note
    assert all(s.actor == "import:old" and s.channel == "import" for s in steps)
    event, steps = logs["D-2"]
    assert [(s.action, s.to_status) for s in steps][-1] == ("return", "returned") and steps[-1].at == event.dispatched_at
