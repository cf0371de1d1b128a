"""A report's figures (bigscreen.reports.report) equal the same figures counted by independent SQL,
on SQLite and PostgreSQL, over cases placed by hand around a week's edges in Beijing time: a case
reported at 23:30 on Sunday belongs to that week; a case closed after the week is open in it; a case
reported the week before and closed in it counts as closed in the period, not as reported."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import bindparam, text

from bigscreen.db.models import Event, MediationStep
from bigscreen.db.types import UTCDateTime
from bigscreen.reports.periods import parse_period
from bigscreen.reports.report import ReportError, build_report

BJ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=BJ)


def at(day: int, hour: int = 10, minute: int = 0, month: int = 11, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BJ)


def _cases(runtime):
    """(reported, deadline, closed, rated, rating, level, department, district index, dispute step)."""
    return [
        ("mon", at(23), at(25), at(24), at(25), 3, "grid", None, 0, None),
        ("sun-2330", at(29, 23, 30), at(12, 10, month=12), at(1, 9, month=12), None, None, "community", None, 0, None),
        ("prev-closed-in", at(22, 12), at(26), at(24), None, None, "street", None, 1, None),
        ("late-open", at(25), at(26), None, None, None, None, None, 1, None),
        ("late-closed", at(26), at(27), at(28), at(28, 12), 1, "street", "dept", 1, None),
        ("dispute", at(27), at(30), at(29), None, None, "community", None, 0, ("community", "mediated", at(28))),
        ("prev-week", at(16), at(18), at(17), at(17, 12), 3, "grid", "dept", 1, None),
        ("next-week", at(30, 0, 10), at(3, month=12), None, None, None, None, None, 0, None),
        ("year-before", at(24, year=2025), at(27, year=2025), at(26, year=2025), None, None, "grid", None, 0, None),
    ]


@pytest.fixture
def placed(runtime):
    rt = runtime
    districts = rt.areas.at_level(1)
    grids = {i: next(g for g in rt.areas.at_level(rt.areas.grid_level) if g.chain[1] == districts[i].code) for i in (0, 1)}
    dept = rt.config.departments[0].code
    item = rt.config.categories[0].items[0]
    rows, steps = [], []
    for n, (name, reported, deadline, closed, rated, rating, level, department, district, step) in enumerate(_cases(rt)):
        rows.append({
            "id": 1000 + n, "source": "hand", "source_id": name, "channel": "grid_app", "category_code": rt.config.categories[0].code,
            "item_code": item.code, "urgency": "normal", "description": name, "lat": grids[district].lat, "lon": grids[district].lon,
            "grid_id": grids[district].id, "status": ("rated" if rated else "closed") if closed else "dispatched",
            "department_code": dept if department else None, "deadline": deadline, "reported_at": reported,
            "closed_at": closed, "rated_at": rated, "rating": rating, "resolved_level": level if closed else None,
            "photo_urls": [], "version": 1,
        })
        if step:
            steps.append({"event_id": 1000 + n, "rung": step[0], "outcome": step[1], "at": step[2], "actor": "t",
                          "role": "centre", "channel": "api"})
    with rt.engine.begin() as conn:
        conn.execute(Event.__table__.insert(), rows)
        conn.execute(MediationStep.__table__.insert(), steps)
    return rt, districts, dept


def sql(rt, query: str, **params):
    """An independent count: plain SQL text, the times bound as the column type stores them."""
    stmt = text(query).bindparams(*(bindparam(k, type_=UTCDateTime) for k in params))
    with rt.engine.connect() as conn:
        return conn.execute(stmt, params).scalar_one()


def test_a_weeks_figures_equal_independent_sql(placed):
    rt, districts, dept = placed
    week = parse_period("2026-W48", NOW.date())
    s, e = datetime(2026, 11, 23, tzinfo=BJ), datetime(2026, 11, 30, tzinfo=BJ)
    report = build_report(rt, week, rt.areas.city.code, NOW)
    assert (report.start, report.end) == (s, e)

    cohort = "FROM events WHERE reported_at >= :s AND reported_at < :e"
    reported = sql(rt, f"SELECT COUNT(*) {cohort}", s=s, e=e)
    closed = sql(rt, f"SELECT COUNT(*) {cohort} AND closed_at IS NOT NULL AND closed_at < :e", s=s, e=e)
    ontime = sql(rt, f"SELECT COUNT(*) {cohort} AND closed_at < :e AND closed_at <= deadline", s=s, e=e)
    overdue = sql(rt, f"SELECT COUNT(*) {cohort} AND (closed_at IS NULL OR closed_at >= :e) AND deadline < :e", s=s, e=e)
    rated = sql(rt, f"SELECT COUNT(*) {cohort} AND closed_at < :e AND rated_at < :e", s=s, e=e)
    satisfied = sql(rt, f"SELECT COUNT(*) {cohort} AND closed_at < :e AND rated_at < :e AND rating >= 2", s=s, e=e)
    local = sql(rt, f"SELECT COUNT(*) {cohort} AND closed_at < :e AND resolved_level IN ('grid', 'community')", s=s, e=e)
    closed_in = sql(rt, "SELECT COUNT(*) FROM events WHERE closed_at >= :s AND closed_at < :e", s=s, e=e)
    assert (reported, closed, ontime, overdue, rated, satisfied, local, closed_in) == (5, 3, 2, 1, 2, 1, 2, 4), \
        "the placed cases are what this test thinks they are"

    h = report.headline
    assert h["reported"].value == reported
    assert h["closed_in_period"].value == closed_in
    assert h["closure_rate"].value == round(closed / reported, 4)
    assert h["ontime_rate"].value == round(ontime / (closed + overdue), 4)
    assert h["satisfaction"].value == round(satisfied / rated, 4)
    assert h["resolved_locally_share"].value == round(local / closed, 4)
    assert h["mediation_success"].value == 1.0
    handle_s = sql(rt, f"SELECT SUM(CAST(ROUND((julianday(closed_at) - julianday(reported_at)) * 86400) AS INTEGER)) {cohort} "
                       "AND closed_at < :e", s=s, e=e) if rt.engine.dialect.name == "sqlite" else \
        sql(rt, f"SELECT SUM(EXTRACT(EPOCH FROM closed_at - reported_at))::bigint {cohort} AND closed_at < :e", s=s, e=e)
    assert handle_s == (24 + 48 + 48) * 3600
    assert h["avg_handling_hours"].value == round(handle_s / closed / 3600, 2) == 40.0

    # the week before: two cases reported, one closed in it (on time), the other closed only this week
    assert (h["reported"].previous, h["closure_rate"].previous, h["ontime_rate"].previous) == (2, 0.5, 1.0)
    assert h["reported"].change == round((5 - 2) / 2, 4)
    # the same week a year before (2025-W48, from Monday 24 November), where the history begins: one case, on time
    assert (h["reported"].year_before, h["ontime_rate"].year_before) == (1, 1.0)
    assert h["reported"].change_year == 4.0

    days = dict((d, (r, c)) for d, r, c in report.days)
    assert len(days) == 7 and days[date(2026, 11, 29)] == (1, 1), "Sunday: the 23:30 case, the dispute closed"
    assert days[date(2026, 11, 24)] == (0, 2)
    assert sum(r for r, _ in days.values()) == reported and sum(c for _, c in days.values()) == closed_in


def test_areas_and_departments_are_ranked_with_their_change(placed):
    rt, districts, dept = placed
    report = build_report(rt, parse_period("2026-W48", NOW.date()), rt.areas.city.code, NOW)
    by_code = {r.code: r for r in report.areas}
    first, second = by_code[districts[0].code], by_code[districts[1].code]
    # district 0: mon (on time), sun-2330 (open, not late), dispute (on time): on time 2 of 2; district 1: 0 of 2 closed+late
    assert (first.figures["ontime_rate"], second.figures["ontime_rate"]) == (1.0, 0.0)
    assert (first.rank, second.rank) == (1, 2)
    assert second.previous_rank == 1 and second.rank_change == -1, "district 1 led the week before (its only ranked one)"
    assert first.previous_rank is None and first.rank_change is None
    assert [d.code for d in report.departments] == [dept]
    district = build_report(rt, parse_period("2026-W48", NOW.date()), districts[1].code, NOW)
    assert (district.headline["reported"].value, district.headline["closed_in_period"].value) == (2, 2)
    assert district.headline["reported"].value == sql(rt, "SELECT COUNT(*) FROM events e JOIN areas a ON a.id = e.grid_id "
                                                          f"WHERE a.path LIKE '%/{districts[1].code}/%' AND reported_at >= :s AND reported_at < :e",
                                                      s=datetime(2026, 11, 23, tzinfo=BJ),
                                                      e=datetime(2026, 11, 30, tzinfo=BJ))


@pytest.mark.parametrize(("period", "area", "says"), [
    ("2026-W48", "999999", "unknown area"),
    ("2024-W48", None, "before the history begins"),
])
def test_a_report_that_cannot_be_made_says_why(placed, period, area, says):
    rt, _, _ = placed
    with pytest.raises(ReportError, match=says):
        build_report(rt, parse_period(period, NOW.date()), area or rt.areas.city.code, NOW)



def test_no_year_on_year_where_the_history_does_not_reach_back(placed):
    rt, _, _ = placed
    report = build_report(rt, parse_period("2026-W47", NOW.date()), rt.areas.city.code, NOW)
    assert report.headline["reported"].value == 2 and report.headline["reported"].year_before is None
    assert report.headline["reported"].change_year is None


def test_the_cli_writes_the_report_as_xlsx_with_numbers_and_dates(placed, tmp_path, monkeypatch):
    from click.testing import CliRunner
    from openpyxl import load_workbook

    from bigscreen.cli import main

    rt, districts, _ = placed
    monkeypatch.setenv("BIGSCREEN_DATA_DIR", str(rt.settings.data_dir))
    monkeypatch.setenv("BIGSCREEN_DATABASE_URL", rt.settings.sqlalchemy_url)
    out = tmp_path / "周报.xlsx"
    done = CliRunner().invoke(main, ["report", "--period", "2026-W48", "--out", str(out)])
    assert done.exit_code == 0, done.output
    expected = build_report(rt, parse_period("2026-W48", NOW.date()), None, NOW)

    book = load_workbook(out)
    assert book.sheetnames[:4] == ["概览", "每日", "下级区域排名", "部门排名"]  # then the sections (test_report_formats)
    rows = {r[0]: r[1:] for r in book["概览"].iter_rows(min_row=7, values_only=True)}
    assert rows["受理量"][:2] == (5, 2) and rows["办结率"][0] == expected.headline["closure_rate"].value == 0.6
    assert rows["按期办结率"][3:] == (1.0, -0.5), "the year before, where the history reaches, and the change"
    assert book["概览"]["B7"].number_format == "0" and book["概览"]["B9"].number_format == "0.0%"
    days = list(book["每日"].iter_rows(min_row=2, values_only=True))
    assert len(days) == 7 and days[0][0].date() == date(2026, 11, 23) and days[-1][1:] == (1, 1)
    ranked = list(book["下级区域排名"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[1]) for r in ranked[:2]] == [(1, districts[0].code), (2, districts[1].code)]
    assert ranked[1][-2:] == (1, -1)

    refused = CliRunner().invoke(main, ["report", "--period", "2026-W48", "--area", "999999", "--out", str(tmp_path / "x.xlsx")])
    assert refused.exit_code == 2 and "unknown area" in refused.output and not (tmp_path / "x.xlsx").exists()
