"""网格员考核 (bigscreen.reports.assessment): every component of every worker's score, and the score,
equal what independent SQL (plain text, written another way) and the rules of docs/METRICS.md give, on
SQLite and PostgreSQL, over cases, field work and supervision notices placed by hand around November
2026's edges in Beijing time; workers ranked within their street; the weights from config/city.yaml
move the scores and are validated; `bigscreen report --kind workers` writes the workbook, the page and
the PDF, and refuses bad input without writing anything; the pages (/reports/workers/...) show the ranking
and each worker's components as the assessment has them, by role and area, refusals audited."""

from __future__ import annotations

import html
import re
import shutil
import statistics
from datetime import datetime
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import bindparam, text

from bigscreen.configuration.loading import ConfigError, load_config
from bigscreen.configuration.models import AssessmentWeights
from bigscreen.db.models import Event, FieldActivity, SupervisionNotice, Whistle, WhistleCall
from bigscreen.db.types import UTCDateTime
from bigscreen.process.settings import REPO_CONFIG_DIR
from bigscreen.reports.assessment import COMPONENTS, build_assessment
from bigscreen.reports.periods import parse_period
from bigscreen.reports.report import ReportError
from bigscreen.screens.i18n import STRINGS
from tests_support import SQLITE_ONLY

BJ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=BJ)
S, E = datetime(2026, 11, 1, tzinfo=BJ), datetime(2026, 12, 1, tzinfo=BJ)


def at(day: int, hour: int = 10, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BJ)


def sql(rt, query: str, **params):
    stmt = text(query).bindparams(*(bindparam(k, type_=UTCDateTime) for k in params if isinstance(params[k], datetime)))
    with rt.engine.connect() as conn:
        return conn.execute(stmt, params).all()


class Placed:
    """Street `street` (its full-time workers `workers`, grid by grid), the busy grid `busy` (its worker
    `worker`), and another street's worker `stranger`."""


@pytest.fixture
def placed(runtime):
    rt = runtime
    street_level = rt.areas.level_number("street")
    grids = rt.areas.at_level(rt.areas.grid_level)
    by_street: dict[str, list] = {}
    for g in grids:
        by_street.setdefault(g.chain[street_level], []).append(g)
    street, other = sorted((s for s in by_street if len(by_street[s]) >= 4), key=lambda s: (-len(by_street[s]), s))[:2]
    full_time = dict(sql(rt, "SELECT area_id, MIN(id) FROM grid_workers WHERE role = 'full_time' GROUP BY area_id"))
    p = Placed()
    p.rt, p.street, p.other = rt, street, other
    p.grids = by_street[street]
    p.busy, p.quiet = p.grids[0], p.grids[1]
    p.worker, p.second = full_time[p.busy.id], full_time[p.quiet.id]
    p.stranger = full_time[by_street[other][0].id]
    p.helper = sql(rt, "SELECT MIN(id) FROM grid_workers WHERE role = 'helper'")[0][0]
    item, category = rt.config.categories[0].items[0].code, rt.config.categories[0].code
    rows, serial = [], iter(range(1, 10_000))

    def case(grid, reported, channel="grid_app", deadline=None, closed=None, rated=None, rating=None):
        n = next(serial)
        rows.append({"id": n, "source": "hand", "source_id": f"c{n}", "channel": channel, "category_code": category,
                     "item_code": item, "urgency": "normal", "description": "x", "lat": grid.lat, "lon": grid.lon,
                     "grid_id": grid.id, "status": ("rated" if rated else "closed") if closed else "dispatched",
                     "department_code": None, "deadline": deadline or at(28, month=12), "reported_at": reported,
                     "closed_at": closed, "rated_at": rated, "rating": rating, "resolved_level": "grid" if closed else None,
                     "photo_urls": [], "version": 1})
        return n

    # the street's grids report 0, 1, 2 ... cases from the grid app in November (the median in between)
    for k, grid in enumerate(p.grids[1:], start=0):
        for _ in range(k):
            case(grid, at(10 + k % 10))
    # the busy grid: the month's edges, other channels, on time / late / open late, ratings
    case(p.busy, at(31, 23, 30, month=10))                       # October, Beijing time: not November's
    case(p.busy, at(1, 0, 0))                                    # the first moment of November
    case(p.busy, at(30, 23, 30))                                 # the last half hour
    case(p.busy, at(5), channel="hotline_12345", deadline=at(6), closed=at(5, 18), rated=at(6, 9), rating=3)
    case(p.busy, at(6), deadline=at(7), closed=at(6, 20), rated=at(7, 9), rating=1)
    late = case(p.busy, at(8), deadline=at(9), closed=at(12), rated=at(12, 12), rating=2)
    case(p.busy, at(20), deadline=at(22))                        # open, late at the end
    case(p.busy, at(28), deadline=at(29), closed=at(2, month=12), rated=at(2, 12, month=12), rating=3)  # closed later
    case(p.busy, at(29), channel="citizen_snap", deadline=at(3, month=12))
    case(p.quiet, at(3), deadline=at(4), closed=at(3, 12), rated=at(4), rating=3)
    with rt.engine.begin() as conn:
        conn.execute(Event.__table__.insert(), rows)
        whistle = conn.execute(Whistle.__table__.insert().values(
            event_id=late, kind="assembly", at=at(9), report_by=at(9, 12), actor="t", role="centre", channel="api")
            .returning(Whistle.__table__.c.id)).scalar_one()
        dept = rt.config.departments[0].code
        call = conn.execute(WhistleCall.__table__.insert().values(whistle_id=whistle, department_code=dept)
                            .returning(WhistleCall.__table__.c.id)).scalar_one()
        conn.execute(SupervisionNotice.__table__.insert(), [{"whistle_call_id": None, **n} for n in [
            {"subject": f"case:{late}", "event_id": late, "level": 1, "target_kind": "department", "target": dept, "at": at(9, 1)},
            {"subject": f"case:{late}", "event_id": late, "level": 2, "target_kind": "street", "target": p.street, "at": at(10, 1)},
            {"subject": f"case:{rows[6]['id']}", "event_id": rows[6]["id"], "level": 1, "target_kind": "department",
             "target": dept, "at": at(1, 1, month=12)},                      # December's
            {"subject": f"call:{call}", "event_id": late, "whistle_call_id": call, "level": 1, "target_kind": "department",
             "target": dept, "at": at(9, 13)},                                # a department's, not the grid's
        ]])
        activities, n = [], iter(range(1, 100_000))

        def work(worker, grid, kind, when):
            activities.append({"kind": kind, "worker_id": worker, "grid_code": grid.code, "at": when, "source": "t",
                               "source_id": f"a{next(n)}", "channel": "grid_app", "created_at": when})

        for day in range(1, 31):
            work(p.worker, p.busy, "check_in", at(day, 8))
            work(p.worker, p.busy, "patrol", at(day, 9))
            for v in range(3):
                work(p.worker, p.busy, "visit", at(day, 14, v))
            for v in range(7):
                work(p.second, p.quiet, "visit", at(day, 15, v))  # more visits than due, no patrols
        work(p.worker, p.busy, "patrol", at(1, 0, 0))             # the first moment
        work(p.worker, p.busy, "patrol", at(1, 0, 10, month=12))  # December's
        work(p.worker, p.busy, "patrol", at(31, 23, 50, month=10))  # October's
        conn.execute(FieldActivity.__table__.insert(), activities)
    return p


def expected(p, weights=None, penalty=None) -> dict[int, dict]:
    """Every worker of the street, from plain SQL and the rules of docs/METRICS.md."""
    rt = p.rt
    cfg = rt.config.city
    weights = weights or cfg.assessment.weights.model_dump()
    penalty = cfg.assessment.supervision_penalty if penalty is None else penalty
    workers = sql(rt, "SELECT w.id, w.area_id FROM grid_workers w, areas a WHERE a.id = w.area_id AND w.role = 'full_time' "
                      "AND a.path LIKE :street", street=f"%/{p.street}/%")
    reports = dict(sql(rt, "SELECT grid_id, COUNT(*) FROM events WHERE channel = 'grid_app' AND reported_at >= :s "
                           "AND reported_at < :e GROUP BY grid_id", s=S, e=E))
    patrols = dict(sql(rt, "SELECT worker_id, COUNT(*) FROM field_activities WHERE kind = 'patrol' AND at >= :s AND at < :e "
                           "GROUP BY worker_id", s=S, e=E))
    visits = dict(sql(rt, "SELECT worker_id, COUNT(*) FROM field_activities WHERE kind = 'visit' AND at >= :s AND at < :e "
                          "GROUP BY worker_id", s=S, e=E))
    cohort = "FROM events WHERE reported_at >= :s AND reported_at < :e AND closed_at IS NOT NULL AND closed_at < :e"
    ontime = dict(sql(rt, f"SELECT grid_id, COUNT(*) {cohort} AND closed_at <= deadline GROUP BY grid_id", s=S, e=E))
    closed = dict(sql(rt, f"SELECT grid_id, COUNT(*) {cohort} GROUP BY grid_id", s=S, e=E))
    late_open = dict(sql(rt, "SELECT grid_id, COUNT(*) FROM events WHERE reported_at >= :s AND reported_at < :e "
                             "AND NOT (closed_at IS NOT NULL AND closed_at < :e) AND deadline < :e GROUP BY grid_id", s=S, e=E))
    rated = dict(sql(rt, f"SELECT grid_id, COUNT(*) {cohort} AND rated_at < :e GROUP BY grid_id", s=S, e=E))
    happy = dict(sql(rt, f"SELECT grid_id, COUNT(*) {cohort} AND rated_at < :e AND rating IN (2, 3) GROUP BY grid_id", s=S, e=E))
    notices = dict(sql(rt, "SELECT e.grid_id, COUNT(*) FROM supervision_notices n JOIN events e ON e.id = n.event_id "
                           "WHERE n.subject LIKE 'case:%' AND n.at >= :s AND n.at < :e GROUP BY e.grid_id", s=S, e=E))
    median = statistics.median(reports.get(grid, 0) for _w, grid in workers)
    days, plan = 30, cfg.workforce
    out = {}
    for worker, grid in workers:
        r = reports.get(grid, 0)
        due_p, due_v = plan.patrols_per_day * days, plan.visits_per_day * days
        judged = closed.get(grid, 0) + late_open.get(grid, 0)
        score = {
            "reports": min(100, 100 * r / median) if median else (100 if r else 0),
            "field_work": 100 * (min(patrols.get(worker, 0), due_p) + min(visits.get(worker, 0), due_v)) / (due_p + due_v),
            "ontime": 100 * round(ontime.get(grid, 0) / judged, 4) if judged else 100,
            "satisfaction": 100 * round(happy.get(grid, 0) / rated[grid], 4) if rated.get(grid) else 100,
            "supervision": max(0, 100 - penalty * notices.get(grid, 0)),
        }
        points = {c: round(round(score[c], 2) * weights[c] / 100, 2) for c in COMPONENTS}
        out[worker] = {"score": score, "points": points, "total": round(sum(points.values()), 2),
                       "raw": {"reports": r, "median": median, "patrols": patrols.get(worker, 0), "visits": visits.get(worker, 0),
                               "notices": notices.get(grid, 0)}}
    return out


def assess(p, area=None, worker=None, period="2026-11"):
    return build_assessment(p.rt, parse_period(period, NOW.date()), area or p.street, NOW, worker)


def test_every_component_and_score_equals_independent_sql(placed):
    p = placed
    a = assess(p)
    want = expected(p)
    assert sorted(w.worker_id for w in a.workers) == sorted(want), "the street's full-time workers, each once"
    assert (a.start, a.end, a.as_of, a.days) == (S, E, E, 30)
    for w in a.workers:
        exp = want[w.worker_id]
        for c in COMPONENTS:
            assert w.components[c].score == pytest.approx(round(exp["score"][c], 2), abs=1e-9), (w.worker_id, c)
            assert w.components[c].points == exp["points"][c], (w.worker_id, c)
        assert w.total == exp["total"]
        assert w.components["reports"].raw["reports"] == exp["raw"]["reports"]
        assert w.components["reports"].raw["street_median"] == exp["raw"]["median"]
        assert (w.components["field_work"].raw["patrols"], w.components["field_work"].raw["visits"]) == \
            (exp["raw"]["patrols"], exp["raw"]["visits"])
        assert w.components["supervision"].raw["notices"] == exp["raw"]["notices"]

    busy = a.worker(p.worker)
    # the busy grid, by hand: Nov 1 00:00, Nov 30 23:30 and three more from the grid app (not October's 23:30,
    # not the hotline's or the snap's); patrols 30 + the first moment; 2 on time of 3 closed by the end + 2 open and late at the end
    # (one of them closed only in December);
    # 2 satisfied of 3 rated by the end; 2 notices in November on its late case (not the whistle call's)
    assert busy.components["reports"].raw["reports"] == 6
    assert busy.components["field_work"].raw == {"patrols": 31, "patrols_due": 60, "visits": 90, "visits_due": 150, "days": 30}
    assert busy.components["field_work"].score == round(100 * (31 + 90) / 210, 2)
    assert busy.components["ontime"].raw == {"ontime": 2, "closed": 3, "overdue": 2, "ontime_rate": 0.4}
    assert busy.components["satisfaction"].raw == {"satisfied": 2, "rated": 3, "satisfaction": 0.6667}
    assert busy.components["supervision"].raw["notices"] == 2 and busy.components["supervision"].score == 60
    second = a.worker(p.second)
    assert second.components["field_work"].score == round(100 * 150 / 210, 2), "extra visits do not make up for patrols"
    assert second.components["supervision"].score == 100 and second.components["ontime"].score == 100
    assert sum(w.components[c].weight for c in COMPONENTS) == 100


def test_workers_are_ranked_within_their_street(placed):
    p = placed
    district = p.busy.chain[1]
    a = assess(p, area=district)
    streets = {w.street_code for w in a.workers}
    assert p.street in streets and len(streets) > 1
    for street in streets:
        members = [w for w in a.workers if w.street_code == street]
        assert {w.of for w in members} == {len(members)}
        totals = [w.total for w in members]
        assert totals == sorted(totals, reverse=True), "listed best first"
        for w in members:
            assert w.rank == 1 + sum(t > w.total for t in totals), "equal totals share a place (1, 2, 2, 4)"
    alone = assess(p)
    assert {w.worker_id: (w.rank, w.of, w.total) for w in alone.workers} == \
        {w.worker_id: (w.rank, w.of, w.total) for w in a.workers if w.street_code == p.street}, \
        "a street's ranking is the same asked for alone or within its district"


def test_the_weights_from_config_change_the_scores(placed, monkeypatch):
    p = placed
    before = assess(p).worker(p.worker)
    weights = {"reports": 10, "field_work": 10, "ontime": 10, "satisfaction": 10, "supervision": 60}
    assessment = p.rt.config.city.assessment.model_copy(update={"weights": AssessmentWeights(**weights), "supervision_penalty": 30})
    monkeypatch.setattr(p.rt.config, "city", p.rt.config.city.model_copy(update={"assessment": assessment}))
    after = assess(p)
    busy = after.worker(p.worker)
    want = expected(p, weights, 30)
    assert busy.components["supervision"].score == 40 and busy.components["supervision"].weight == 60
    assert busy.total == want[p.worker]["total"] != before.total
    assert {w.worker_id: w.total for w in after.workers} == {k: v["total"] for k, v in want.items()}


@pytest.mark.parametrize(("weights", "says"), [
    ({"reports": 120, "field_work": 30, "ontime": 20, "satisfaction": 15, "supervision": 10},
     "assessment.weights.reports: must be a number of points from 0 to 100 (got 120)"),
    ({"reports": 25, "field_work": 30, "ontime": 20, "satisfaction": 15, "supervision": 5},
     "assessment.weights: must add up to exactly 100 (got 95"),
    ({"reports": 25, "field_work": 30, "ontime": 20, "satisfaction": 15, "supervision": 10, "kindness": 0},
     "assessment.weights.kindness: unknown key"),
    ({"reports": 25, "field_work": 30, "ontime": 20, "satisfaction": 25},
     "assessment.weights.supervision: required key is missing"),
    ({"reports": "25", "field_work": 30, "ontime": 20, "satisfaction": 15, "supervision": 10},
     "assessment.weights.reports: must be a number"),
])
def test_weights_that_are_not_a_hundred_points_are_refused_by_name(tmp_path, weights, says):
    config = tmp_path / "config"
    shutil.copytree(REPO_CONFIG_DIR, config)
    city = yaml.safe_load((config / "city.yaml").read_text(encoding="utf-8"))
    city["assessment"]["weights"] = weights
    (config / "city.yaml").write_text(yaml.safe_dump(city, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert f"city.yaml: {says}" in str(info.value)


def test_the_shipped_weights_are_documented_ones():
    city = load_config(REPO_CONFIG_DIR).city
    assert city.assessment.weights.model_dump() == {"reports": 25, "field_work": 30, "ontime": 20, "satisfaction": 15,
                                                    "supervision": 10}
    metrics = (Path(__file__).resolve().parents[2] / "docs" / "METRICS.md").read_text()
    assert "## Grid-worker assessment" in metrics and all(f"`{c}`" in metrics for c in COMPONENTS)


@pytest.mark.parametrize(("area", "worker", "period", "says"), [
    ("999999", None, "2026-11", "unknown area"),
    ("grid", None, "2026-11", "workers are ranked within their street"),
    (None, 99_999_999, "2026-11", "unknown grid worker 99999999"),
    (None, 2**63, "2026-11", f"unknown grid worker {2**63}"),
    (None, "helper", "2026-11", "is a helper"),
    (None, "stranger", "2026-11", "not in area"),
    (None, None, "2024-11", "before the history begins"),
])
@SQLITE_ONLY
def test_an_assessment_that_cannot_be_made_says_why(placed, area, worker, period, says):
    p = placed
    area = p.busy.code if area == "grid" else area
    worker = {"helper": p.helper, "stranger": p.stranger}.get(worker, worker)
    with pytest.raises(ReportError, match=says):
        assess(p, area=area, worker=worker, period=period)


def test_the_cli_writes_the_ranking_and_the_pages(placed, tmp_path, monkeypatch):
    from click.testing import CliRunner
    from openpyxl import load_workbook

    from bigscreen.cli import main

    p = placed
    rt = p.rt
    monkeypatch.setenv("BIGSCREEN_DATA_DIR", str(rt.settings.data_dir))
    monkeypatch.setenv("BIGSCREEN_DATABASE_URL", rt.settings.sqlalchemy_url)
    out = tmp_path / "考核.xlsx"
    done = CliRunner().invoke(main, ["report", "--kind", "workers", "--period", "2026-11", "--area", p.street, "--out", str(out)])
    assert done.exit_code == 0, done.output
    want = assess(p)
    book = load_workbook(out)
    assert book.sheetnames == ["网格员排名", "一人一卷"]
    ranking = book["网格员排名"]
    assert ranking["B2"].value == "2026-11" and ranking["C2"].value.date() == S.date() and ranking["B5"].value == 30
    rows = [r for r in ranking.iter_rows(min_row=8, values_only=True) if r[0]]
    assert [(r[1], r[5], r[6], r[7]) for r in rows] == [(w.worker_id, w.rank, w.of, w.total) for w in want.workers]
    busy = next(r for r in rows if r[1] == p.worker)
    assert list(busy[8:]) == [want.worker(p.worker).components[c].points for c in COMPONENTS]
    assert all(isinstance(v, (int, float)) for v in busy[5:])
    pages = book["一人一卷"]
    titles = [c.value for c in pages["A"] if isinstance(c.value, str) and c.value.startswith("网格员考核 · ")]
    assert len(titles) == len(want.workers) and len(pages.row_breaks.brk) == len(want.workers), "a printed page each"

    one = tmp_path / "一人.xlsx"
    done = CliRunner().invoke(main, ["report", "--kind", "workers", "--period", "2026-11", "--area", p.busy.chain[1],
                                     "--worker", str(p.worker), "--out", str(one)])
    assert done.exit_code == 0, done.output
    page = {}
    for r in load_workbook(one)["一人一卷"].iter_rows(values_only=True):
        page.setdefault(r[0], r[1:])  # the first row so named: a component's score before its raw figures
    mine = want.worker(p.worker)
    assert page["编号"][0] == p.worker and page["总分"][:4] == (mine.total, "排名", mine.rank, mine.of)
    assert page["督办扣分"][:3] == (60, 10, 6), "score, weight, points"
    figures = [r[1:3] for r in load_workbook(one)["一人一卷"].iter_rows(values_only=True) if r[0] == "两巡五访"]
    assert ("巡查次数", 31) in figures and ("应走访户次", 150) in figures


@pytest.mark.parametrize(("args", "says"), [
    (["--period", "2027-01"], "begins after today"),
    (["--period", "2024-11"], "before the history begins"),
    (["--period", "2026-11", "--worker", "99999999"], "unknown grid worker"),
    (["--period", "2026-11", "--worker", "0"], "not in the range"),
    (["--period", "2026-11", "--worker", "x"], "is not a valid integer"),
    (["--period", "2026-11", "--kind", "cases", "--worker", "1"], "only with --kind workers"),
    (["--period", "2026-11", "--worker", "stranger"], "not in area"),
    (["--period", "2026-11", "--area", "grid"], "ranked within their street"),
])
@SQLITE_ONLY
def test_the_cli_refuses_bad_input_and_writes_nothing(placed, tmp_path, monkeypatch, args, says):
    from click.testing import CliRunner

    from bigscreen.cli import main

    p = placed
    monkeypatch.setenv("BIGSCREEN_DATA_DIR", str(p.rt.settings.data_dir))
    monkeypatch.setenv("BIGSCREEN_DATABASE_URL", p.rt.settings.sqlalchemy_url)
    args = [{"stranger": str(p.stranger), "grid": p.busy.code}.get(a, a) for a in args]
    if "--area" not in args:
        args += ["--area", p.street]
    out = tmp_path / "x.xlsx"
    kind = [] if "--kind" in args else ["--kind", "workers"]
    refused = CliRunner().invoke(main, ["report", *kind, *args, "--out", str(out)])
    assert refused.exit_code == 2 and says in refused.output, refused.output
    assert not out.exists() and not list(tmp_path.glob("x.xlsx*"))



# -- the assessment as pages (/reports/workers/...), HTML and PDF through the reports' renderers ---------------------


def _signed_in(rt, username):
    from fastapi.testclient import TestClient

    from bigscreen.app import create_app
    from bigscreen.auth.sessions import CSRF_COOKIE
    from tests_support import login

    web = TestClient(create_app(rt).server, follow_redirects=False)
    assert login(web, username).status_code == 303
    web.headers["X-CSRFToken"] = web.cookies.get(CSRF_COOKIE)
    return web


def _section(page: str, key: str) -> str | None:
    found = re.search(rf'<section [^>]*data-section="{re.escape(key)}".*?</section>', page, re.S)
    return found.group(0) if found else None


def _rows(fragment: str) -> list[list[str]]:
    """A fragment's table rows, each cell's text as shown."""
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", fragment, re.S) if "<td" in row]


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    from tests.integration.test_report_formats import _text

    return "\n".join(_text(PdfReader(BytesIO(data))))


@SQLITE_ONLY
def test_the_page_shows_the_ranking_and_each_workers_components(placed, account):
    from openpyxl import load_workbook

    p = placed
    rt = p.rt
    rt.clock = lambda: NOW
    want = assess(p)
    district = p.busy.chain[1]
    with _signed_in(rt, account("leader", district)) as leader:
        page = leader.get(f"/reports/workers/{p.street}/2026-11.html")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), page.text
        text = page.text
        ranking = _rows(_section(text, "ranking"))
        assert [(int(r[3]), int(r[1]), int(r[2]), float(r[-1])) for r in ranking] == \
            [(w.worker_id, w.rank, w.of, w.total) for w in want.workers], "rank within the street, best first, the totals"
        busy = next(r for r in ranking if int(r[3]) == p.worker)
        assert [float(v) for v in busy[6:11]] == [want.worker(p.worker).components[c].points for c in COMPONENTS]
        assert all(_section(text, f"worker-{w.worker_id}") for w in want.workers), "一人一卷: a page each"

        mine = want.worker(p.worker)
        parts = _rows(_section(text, f"worker-{p.worker}"))
        assert parts[0][:2] == [str(p.worker), mine.name] and float(parts[0][-1]) == mine.total
        shown = {r[0]: r for r in parts[1:]}
        for c in COMPONENTS:
            part = mine.components[c]
            row = shown[STRINGS[f"assess.c.{c}"]["zh"]]
            assert [float(v) for v in row[2:5]] == [part.score, part.weight, part.points], c
            assert row[5] == STRINGS[f"assess.rule.{c}"]["zh"], "the rule it is scored by"
        assert "巡查次数 31；应巡查次数 60；走访户次 90；应走访户次 150；天数 30" in shown["两巡五访"][1]
        assert "按期办结率 40.0%" in shown["按期办结"][1] and "督办次数 2" in shown["督办扣分"][1]
        assert float(shown["合计"][4]) == mine.total

        one = leader.get(f"/reports/workers/{district}/2026-11.html?worker={p.worker}&lang=en")
        assert one.status_code == 200 and "Grid-worker assessment" in one.text
        assert re.findall(r'data-section="([^"]+)"', one.text) == ["ranking", f"worker-{p.worker}"]
        assert "Patrols 31; Patrols due 60" in one.text
        assert f'href="/reports/workers/{district}/2026-11.pdf?worker={p.worker}&amp;lang=en"' in one.text

        wide = leader.get(f"/reports/workers/{district}/2026-11.html")
        streets = {w.street_code for w in assess(p, area=district).workers}
        assert re.findall(r'data-section="([^"]+)"', wide.text) == ["ranking"] and len(streets) > 1, \
            "a district's page: the ranking, no pages"
        assert "一人一卷：打开某个街道或某位网格员的考核" in wide.text

        book = leader.get(f"/reports/workers/{p.street}/2026-11.xlsx?worker={p.worker}")
        assert book.status_code == 200 and "attachment" in book.headers["content-disposition"]
        assert load_workbook(BytesIO(book.content)).sheetnames == ["网格员排名", "一人一卷"], "the CLI's workbook"

        pdf = leader.get(f"/reports/workers/{p.street}/2026-11.pdf?worker={p.worker}")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        printed = _pdf_text(pdf.content)
        assert mine.name in printed and "网格员考核" in printed and "计分规则" in printed and "两巡五访" in printed

        listing = leader.get("/reports").text
        assert 'action="/reports/workers"' in listing and f'<option value="{district}">' in listing
        assert f'<option value="{p.street}">' in listing and f'<option value="{rt.areas.city.code}">' not in listing
        sent = leader.get(f"/reports/workers?area={p.street}&period=2026-11&worker={p.worker}&format=pdf")
        assert sent.status_code == 303 and sent.headers["location"] == f"/reports/workers/{p.street}/2026-11.pdf?worker={p.worker}"


@SQLITE_ONLY
def test_another_districts_assessment_is_refused_and_audited(placed, account, kiosk_token, api_key):
    from fastapi.testclient import TestClient

    from bigscreen.app import create_app
    from tests_support import audit_entries

    p = placed
    rt = p.rt
    rt.clock = lambda: NOW
    mine = p.busy.chain[1]
    other = next(d.code for d in rt.areas.at_level(1) if d.code != mine)
    with _signed_in(rt, account("leader", other)) as leader:
        for fmt in ("html", "pdf", "xlsx"):
            refused = leader.get(f"/reports/workers/{p.street}/2026-11.{fmt}")
            assert refused.status_code == 403 and p.street in refused.json()["detail"], refused.text
        assert leader.get(f"/reports/workers/{rt.areas.city.code}/2026-11.html").status_code == 403
        assert leader.get(f"/reports/workers/{other}/2026-11.html").status_code == 200, "its own district"
    refusals = audit_entries(rt, action="assessment.read", outcome="refused")
    assert len(refusals) == 4 and f"workers/{p.street}/2026-11.pdf" in {r.subject for r in refusals}
    with _signed_in(rt, account("duty")) as duty:
        assert duty.get(f"/reports/workers/{rt.areas.city.code}/2026-11.html").status_code == 200, "duty: every area"
    wall = TestClient(create_app(rt).server, follow_redirects=False)
    assert wall.get(f"/wall?token={kiosk_token}").status_code == 200
    assert wall.get(f"/reports/workers/{p.street}/2026-11.html").status_code == 403
    machine = TestClient(create_app(rt).server, follow_redirects=False)
    keyed = machine.get(f"/reports/workers/{p.street}/2026-11.html", headers={"X-API-Key": api_key})
    assert keyed.status_code in (303, 401, 403) and "一人一卷" not in keyed.text, "an API key reads no pages"


@SQLITE_ONLY
def test_bad_input_to_the_page_is_answered_with_what_is_wrong(placed, account):
    p = placed
    rt = p.rt
    rt.clock = lambda: NOW
    cases = [
        ("/reports/workers/999999/2026-11.html", 404, "unknown area '999999'"),
        ("/reports/workers/{street}/2026-11.docx", 404, "the format 'docx' is not offered: html, pdf, xlsx"),
        ("/reports/workers/{street}/2026-11", 404, "is not offered"),
        ("/reports/workers/{street}/2027-01.html", 422, "begins after today"),
        ("/reports/workers/{street}/2024-11.xlsx", 422, "before the history begins"),
        ("/reports/workers/{street}/2026-13.html", 422, "month"),
        ("/reports/workers/{grid}/2026-11.html", 422, "ranked within their street"),
        ("/reports/workers/{street}/2026-11.html?worker=99999999", 422, "unknown grid worker 99999999"),
        ("/reports/workers/{street}/2026-11.html?worker={stranger}", 422, "not in area"),
        ("/reports/workers/{street}/2026-11.xlsx?worker={helper}", 422, "is a helper"),
        ("/reports/workers/{street}/2026-11.html?worker=x1", 422, "'x1' is not a grid worker's ID"),
        ("/reports/workers?area={street}&period=", 422, "say the area and the period"),
    ]
    with _signed_in(rt, account("leader", p.busy.chain[1])) as leader:
        for path, status, says in cases:
            answer = leader.get(path.format(street=p.street, grid=p.busy.code, stranger=p.stranger, helper=p.helper))
            assert answer.status_code == status and says in answer.json()["detail"], (path, answer.text)


@SQLITE_ONLY
def test_the_cli_writes_the_assessment_as_a_page_and_a_pdf(placed, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from bigscreen.cli import main

    p = placed
    monkeypatch.setenv("BIGSCREEN_DATA_DIR", str(p.rt.settings.data_dir))
    monkeypatch.setenv("BIGSCREEN_DATABASE_URL", p.rt.settings.sqlalchemy_url)
    want = assess(p)
    page = tmp_path / "考核.html"
    done = CliRunner().invoke(main, ["report", "--kind", "workers", "--period", "2026-11", "--area", p.street, "--out", str(page)])
    assert done.exit_code == 0 and "(html)" in done.output, done.output
    text = page.read_text(encoding="utf-8")
    assert re.findall(r'data-section="([^"]+)"', text) == ["ranking", *(f"worker-{w.worker_id}" for w in want.workers)]
    mine = want.worker(p.worker)
    assert [float(r[-1]) for r in _rows(_section(text, "ranking"))] == [w.total for w in want.workers]
    assert f"{mine.components['field_work'].points:.2f}" in _section(text, f"worker-{p.worker}")

    pdf = tmp_path / "一人.pdf"
    done = CliRunner().invoke(main, ["report", "--kind", "workers", "--period", "2026-11", "--area", p.street,
                                     "--worker", str(p.worker), "--format", "pdf", "--out", str(pdf)])
    assert done.exit_code == 0, done.output
    printed = _pdf_text(pdf.read_bytes())
    assert mine.name in printed and "网格员考核" in printed and "巡查次数" in printed
