"""A report's sections (bigscreen.reports: breakdown, hotspots, laggards, supervised, whistled, disputes,
field_work) equal the same figures counted by independent SQL, on SQLite and PostgreSQL, over a week of
history placed by hand around its edges in Beijing time: a case reported at 23:30 on the Sunday (in that
week), a case reported in the week and closed in the next, a case reported the week before whose deadline
passed in this one, supervision notices of three levels, two whistles, disputes on the ladder, and field
work at local hours whose UTC date is the day before."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import bindparam, select, text

from bigscreen.db.models import Event, FieldActivity, GridWorker, MediationStep, SupervisionNotice, Whistle, WhistleCall
from bigscreen.db.types import UTCDateTime
from bigscreen.reports.periods import parse_period
from bigscreen.reports.report import build_report

BJ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=BJ)
W48 = (datetime(2026, 11, 23, tzinfo=BJ), datetime(2026, 11, 30, tzinfo=BJ))
W47 = (datetime(2026, 11, 16, tzinfo=BJ), W48[0])


def at(day: int, hour: int = 10, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BJ)


# name: (reported, deadline, closed, grid, item, channel, department)
CASES = {
    "a1": (at(23), at(24), at(23, 12), "A", "MS01", "grid_app", "D1"),
    "a2-late": (at(25), at(26), at(27, 10), "A", "MS01", "hotline_12345", "D1"),
    "a3-sun-2330": (at(29, 23, 30), at(1, month=12), at(1, 9, month=12), "A", "MS01", "citizen_snap", None),
    "b1-third": (at(24), at(25), None, "B", "MS02", "grid_app", "D1"),
    "b2-whistled": (at(26), at(28), at(26, 16), "B", "HB01", "hotline_12345", "D2"),
    "d1-mediated": (at(27), at(30), at(27, 16), "C", "MD01", "grid_app", None),
    "d2-referred-later": (at(28), at(3, month=12), at(2, month=12), "C", "MD01", "hotline_12345", None),
    "d3-closed-unsettled": (at(24), at(26), at(25), "C", "MD03", "grid_app", None),
    "prev-late": (at(18), at(23, 2), at(23, 8), "B", "MS02", "grid_app", "D2"),
    "prev-dispute": (at(20), at(27), at(24), "C", "MD02", "grid_app", None),
    "prev-1": (at(17), at(18), at(17, 12), "A", "MS01", "hotline_12345", None),
    "prev-2": (at(19), at(20), at(19, 12), "C", "HB01", "grid_app", None),
    "old-late": (at(10), at(16, 11), None, "C", "MS01", "grid_app", "D2"),
    "next-week": (at(30, 0, 10), at(3, month=12), None, "A", "MS01", "grid_app", None),
}
# (case, level, at, whistle call: the department of a call that did not report in)
NOTICES = [
    ("a2-late", 1, at(26, 11), None), ("a2-late", 2, at(27, 9), None),
    ("b1-third", 1, at(25, 12), None), ("b1-third", 2, at(26, 12), None), ("b1-third", 3, at(27, 12), None),
    ("prev-late", 1, at(23, 3), None),
    ("old-late", 1, at(16, 12), None), ("old-late", 2, at(17, 12), None), ("old-late", 3, at(18, 12), None),
    ("b2-whistled", 1, at(26, 14), "D3"),
]
# case, kind, at, report_by, {department: reported in at}
WHISTLES = [
    ("b2-whistled", "assembly", at(26, 11), at(26, 13), {"D1": at(26, 12), "D2": at(26, 14), "D3": None}),
    ("d1-mediated", "emergency", at(27, 12), at(27, 12, 30), {"D1": at(1, 10, month=12)}),
    ("prev-2", "livelihood", at(19, 13), at(20, 13), {"D2": at(19, 14)}),
]
# case, rung, outcome, at
STEPS = [
    ("d1-mediated", "community", "failed", at(27, 11)), ("d1-mediated", "senior", "mediated", at(27, 14)),
    ("d2-referred-later", "community", "failed", at(28, 12)), ("d2-referred-later", "senior", "referred", at(1, 9, month=12)),
    ("prev-dispute", "community", "mediated", at(24, 9)),
]


def _field_work(w) -> list[tuple[int, str, datetime]]:
    """(worker, kind, at). Monday 07:30 in Beijing is Sunday 23:30 UTC: a day by UTC would split Monday."""
    rows = [(w.a, "check_in", at(23, 7, 30)), (w.a, "check_in", at(23, 12)),  # checked in twice: one day on duty
            (w.a, "patrol", at(23, 7, 45)), (w.a, "patrol", at(23, 15))]
    rows += [(w.a, "visit", at(23, 7, 50 + n)) for n in range(5)]  # Monday: the norm met
    rows += [(w.a, "check_in", at(24, 8)), (w.a, "patrol", at(24, 9))]
    rows += [(w.a, "visit", at(24, 10 + n)) for n in range(5)]  # Tuesday: one patrol short
    rows += [(w.a, "check_in", at(29, 23, 10)), (w.a, "patrol", at(29, 23, 30))]  # Sunday night, in the week
    rows += [(w.a, "patrol", at(22, 23, 50)), (w.a, "check_in", at(30, 0, 5))]  # the weeks before and after
    rows += [(w.helper, "patrol", at(25, 9)), (w.helper, "patrol", at(25, 14))]  # a helper, never checked in
    rows += [(w.c, "check_in", at(26, 8)), (w.c, "patrol", at(26, 9)), (w.c, "patrol", at(26, 10))]
    rows += [(w.c, "visit", at(26, 11 + n)) for n in range(6)]  # district 1's worker: met, one visit more
    return rows


@pytest.fixture
def history(runtime):
    rt = runtime
    areas = rt.areas
    community = areas.level_number("community")
    districts = areas.at_level(1)
    by_community = defaultdict(list)
    for g in areas.at_level(areas.grid_level):
        by_community[g.chain[community]].append(g)
    pair = next(gs for gs in by_community.values() if len(gs) >= 2 and gs[0].chain[1] == districts[0].code)
    other = next(g for g in areas.at_level(areas.grid_level) if g.chain[1] == districts[1].code)
    grids = {"A": pair[0], "B": pair[1], "C": other}
    depts = [d.code for d in rt.config.departments[:3]]
    dept = dict(zip(("D1", "D2", "D3"), depts))
    category = {i.code: c.code for c in rt.config.categories for i in c.items}
    ids = {name: 2000 + n for n, name in enumerate(CASES)}
    rows = []
    for name, (reported, deadline, closed, grid, item, channel, d) in CASES.items():
        g = grids[grid]
        rows.append({"id": ids[name], "source": "hand", "source_id": name, "channel": channel, "category_code": category[item],
                     "item_code": item, "urgency": "normal", "description": f"{name} 市民王秀英 13812345678", "lat": g.lat,
                     "lon": g.lon, "grid_id": g.id, "status": "closed" if closed else "dispatched",
                     "department_code": dept.get(d), "deadline": deadline, "reported_at": reported, "closed_at": closed,
                     "resolved_level": "grid" if closed else None, "photo_urls": [], "version": 1})
    with rt.engine.begin() as conn:
        conn.execute(Event.__table__.insert(), rows)
        calls = {}
        for n, (case, kind, when, by, called) in enumerate(WHISTLES, start=1):
            conn.execute(Whistle.__table__.insert().values(id=n, event_id=ids[case], kind=kind, at=when, report_by=by,
                                                           actor="t", role="centre", channel="api"))
            for d, reported in called.items():
                calls[(case, d)] = conn.execute(WhistleCall.__table__.insert().values(
                    whistle_id=n, department_code=dept[d], reported_at=reported).returning(WhistleCall.id)).scalar_one()
        conn.execute(SupervisionNotice.__table__.insert(), [
            {"subject": f"call:{calls[(case, call)]}" if call else f"case:{ids[case]}", "event_id": ids[case],
             "whistle_call_id": calls[(case, call)] if call else None, "level": level, "target_kind": "department",
             "target": "x", "at": when} for case, level, when, call in NOTICES])
        conn.execute(MediationStep.__table__.insert(), [
            {"event_id": ids[case], "rung": rung, "outcome": outcome, "at": when, "actor": "t", "role": "centre",
             "channel": "api"} for case, rung, outcome, when in STEPS])
        workers = {}
        for key, g in (("a", grids["A"]), ("b", grids["B"]), ("c", grids["C"])):
            workers[key] = conn.scalar(select(GridWorker.id).where(GridWorker.area_id == g.id, GridWorker.role == "full_time")
                                       .order_by(GridWorker.id).limit(1))
        workers["helper"] = conn.scalar(select(GridWorker.id).where(GridWorker.area_id == grids["C"].id,
                                                                    GridWorker.role == "helper").order_by(GridWorker.id).limit(1))
        w = SimpleNamespace(**workers)
        conn.execute(FieldActivity.__table__.insert(), [
            {"kind": kind, "worker_id": worker, "grid_code": next(g.code for g in grids.values() if _works_in(conn, worker, g)),
             "at": when, "source": "t", "source_id": f"f{n}", "channel": "grid_app", "created_at": when}
            for n, (worker, kind, when) in enumerate(_field_work(w))])
    return SimpleNamespace(rt=rt, grids=grids, districts=districts, dept=dept, ids=ids, workers=w, calls=calls)


def _works_in(conn, worker: int, grid) -> bool:
    return conn.scalar(select(GridWorker.area_id).where(GridWorker.id == worker)) == grid.id


def rows(rt, query: str, **params) -> list[tuple]:
    """An independent count: plain SQL text, the times bound as the column type stores them."""
    times = [bindparam(k, type_=UTCDateTime) for k, v in params.items() if isinstance(v, datetime)]
    with rt.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(query).bindparams(*times), params)]


def one(rt, query: str, **params):
    return rows(rt, query, **params)[0][0]


def report(h, period: str = "2026-W48", area: str | None = None):
    return build_report(h.rt, parse_period(period, NOW.date()), area or h.rt.areas.city.code, NOW)


def test_categories_sub_items_and_channels_against_the_week_before(history):
    h = history
    r = report(h)
    s, e = W48
    ps = W47[0]
    now = dict(rows(h.rt, "SELECT item_code, COUNT(*) FROM events WHERE reported_at >= :s AND reported_at < :e GROUP BY item_code",
                    s=s, e=e))
    before = dict(rows(h.rt, "SELECT item_code, COUNT(*) FROM events WHERE reported_at >= :s AND reported_at < :e "
                             "GROUP BY item_code", s=ps, e=s))
    assert now == {"MS01": 3, "MS02": 1, "HB01": 1, "MD01": 2, "MD03": 1}, "the Sunday 23:30 case is in its week"
    items = {i.code: i for c in r.categories for i in c.items}
    assert {code: i.reported for code, i in items.items()} == {code: now.get(code, 0) for code in items}
    assert {code: i.previous for code, i in items.items()} == {code: before.get(code, 0) for code in items}
    assert set(items) == set(now) | set(before)
    assert items["MS01"].change == round((3 - 1) / 1, 4) and items["MD03"].change is None
    total = sum(now.values())
    assert items["MS01"].share == round(3 / total, 4)
    by_category = dict(rows(h.rt, "SELECT category_code, COUNT(*) FROM events WHERE reported_at >= :s AND reported_at < :e "
                                  "GROUP BY category_code", s=s, e=e))
    assert {c.code: c.reported for c in r.categories if c.reported} == by_category
    assert [c.reported for c in r.categories] == sorted((c.reported for c in r.categories), reverse=True)
    assert all(c.name for c in r.categories) and items["MS01"].name == h.rt.config.item("MS01").name

    channels = dict(rows(h.rt, "SELECT channel, COUNT(*) FROM events WHERE reported_at >= :s AND reported_at < :e "
                               "GROUP BY channel", s=s, e=e))
    channels_before = dict(rows(h.rt, "SELECT channel, COUNT(*) FROM events WHERE reported_at >= :s AND reported_at < :e "
                                      "GROUP BY channel", s=ps, e=s))
    assert channels == {"grid_app": 4, "hotline_12345": 3, "citizen_snap": 1}
    assert {c.code: (c.reported, c.previous) for c in r.channels} == {
        k: (channels.get(k, 0), channels_before.get(k, 0)) for k in set(channels) | set(channels_before)}
    assert sum(c.share for c in r.channels) == pytest.approx(1.0, abs=1e-3)

    district = report(h, area=h.districts[1].code)
    only = dict(rows(h.rt, "SELECT e.item_code, COUNT(*) FROM events e JOIN areas a ON a.id = e.grid_id "
                           "WHERE a.path LIKE :p AND e.reported_at >= :s AND e.reported_at < :e GROUP BY e.item_code",
                     p=f"%/{h.districts[1].code}/%", s=s, e=e))
    assert {i.code: i.reported for c in district.categories for i in c.items if i.reported} == only == {"MD01": 2, "MD03": 1}


def test_hotspot_grids_communities_and_repeats(history):
    h = history
    r = report(h)
    s, e = W48
    grids = rows(h.rt, "SELECT a.code, COUNT(*) FROM events e JOIN areas a ON a.id = e.grid_id "
                       "WHERE e.reported_at >= :s AND e.reported_at < :e GROUP BY a.code ORDER BY COUNT(*) DESC, a.code",
                 s=s, e=e)
    assert [(g.code, g.reported) for g in r.hotspots.grids] == grids
    assert grids[0][1] == 3 and dict(grids)[h.grids["A"].code] == 3
    a = next(g for g in r.hotspots.grids if g.code == h.grids["A"].code)
    assert (a.top_item, a.top_item_cases, a.share) == ("MS01", 3, round(3 / 8, 4))
    community = h.grids["A"].chain[h.rt.areas.level_number("community")]
    in_community = one(h.rt, "SELECT COUNT(*) FROM events e JOIN areas a ON a.id = e.grid_id "
                             "WHERE a.path LIKE :p AND e.reported_at >= :s AND e.reported_at < :e",
                       p=f"%/{community}/%", s=s, e=e)
    assert in_community == 5, "grids A and B share a community"
    assert (r.hotspots.communities[0].code, r.hotspots.communities[0].reported) == (community, in_community)
    repeats = rows(h.rt, "SELECT a.code, e.item_code, COUNT(*) FROM events e JOIN areas a ON a.id = e.grid_id "
                         "WHERE e.reported_at >= :s AND e.reported_at < :e GROUP BY a.code, e.item_code HAVING COUNT(*) >= 2 "
                         "ORDER BY COUNT(*) DESC, a.code", s=s, e=e)
    assert [(x.grid_code, x.item_code, x.cases) for x in r.hotspots.repeats] == repeats
    assert (r.hotspots.repeat_places, r.hotspots.repeat_cases) == (2, 5) == (len(repeats), sum(n for *_, n in repeats))
    # the next week: only the 00:10 Monday case, no repeat
    assert [(g.code, g.reported) for g in report(h, "2026-W49").hotspots.grids] == [(h.grids["A"].code, 1)]
    assert report(h, "2026-W49").hotspots.repeat_places == 0


def test_late_and_supervised_cases(history):
    h = history
    sup = report(h).supervision
    s, e = W48
    went_late = one(h.rt, "SELECT COUNT(*) FROM events WHERE deadline >= :s AND deadline < :e "
                          "AND (closed_at IS NULL OR closed_at > deadline)", s=s, e=e)
    still = one(h.rt, "SELECT COUNT(*) FROM events WHERE deadline >= :s AND deadline < :e AND closed_at IS NULL", s=s, e=e)
    assert (sup.went_late, sup.late_still_open) == (went_late, still) == (3, 1), \
        "a2 closed late, b1 still open, and the case of the week before whose deadline fell in this one"
    by_level = dict(rows(h.rt, "SELECT level, COUNT(*) FROM supervision_notices WHERE at >= :s AND at < :e "
                               "AND whistle_call_id IS NULL GROUP BY level", s=s, e=e))
    calls = dict(rows(h.rt, "SELECT level, COUNT(*) FROM supervision_notices WHERE at >= :s AND at < :e "
                            "AND whistle_call_id IS NOT NULL GROUP BY level", s=s, e=e))
    assert sup.notices == {1: by_level.get(1, 0), 2: by_level.get(2, 0), 3: by_level.get(3, 0)} == {1: 3, 2: 2, 3: 1}
    assert sup.call_notices == {1: calls.get(1, 0), 2: 0, 3: 0} == {1: 1, 2: 0, 3: 0}
    top = rows(h.rt, "SELECT n.event_id, MAX(n.level) FROM supervision_notices n WHERE n.whistle_call_id IS NULL AND n.at < :e "
                     "AND n.event_id IN (SELECT event_id FROM supervision_notices WHERE whistle_call_id IS NULL "
                     "AND at >= :s AND at < :e) GROUP BY n.event_id", s=s, e=e)
    assert sup.supervised == len(top) == 3, "the case noticed only the weeks before is not supervised in this one"
    assert sup.by_level == {k: sum(1 for _, lv in top if lv == k) for k in (1, 2, 3)} == {1: 1, 2: 1, 3: 1}
    closed = one(h.rt, "SELECT COUNT(*) FROM events WHERE closed_at < :e AND id IN (SELECT event_id FROM supervision_notices "
                       "WHERE whistle_call_id IS NULL AND at >= :s AND at < :e)", s=s, e=e)
    assert sup.supervised_closed == closed == 2
    d1, d2 = h.dept["D1"], h.dept["D2"]
    assert [(d.code, d.cases, d.third, d.closed) for d in sup.departments] == [(d1, 2, 1, 1), (d2, 1, 0, 1)]
    assert [c.event_id for c in sup.cases] == [h.ids["b1-third"], h.ids["a2-late"], h.ids["prev-late"]]
    third = sup.cases[0]
    assert (third.level, third.closed_at, third.grid_code) == (3, None, h.grids["B"].code)
    assert sup.cases[1].closed_at == at(27, 10)

    # the week before: the old case's three notices, nothing of this week's
    before = report(h, "2026-W47").supervision
    assert (before.notices, before.supervised, before.by_level) == ({1: 1, 2: 1, 3: 1}, 1, {1: 0, 2: 0, 3: 1})
    assert before.went_late == one(h.rt, "SELECT COUNT(*) FROM events WHERE deadline >= :s AND deadline < :e "
                                         "AND (closed_at IS NULL OR closed_at > deadline)", s=W47[0], e=W47[1]) == 1


def test_whistles_and_report_ins_by_the_end_of_the_period(history):
    h = history
    wh = report(h).whistles
    s, e = W48
    calls = rows(h.rt, "SELECT w.kind, c.department_code, CASE WHEN c.reported_at IS NULL OR c.reported_at >= :e THEN 'missing' "
                       "WHEN c.reported_at <= w.report_by THEN 'on_time' ELSE 'late' END "
                       "FROM whistle_calls c JOIN whistles w ON w.id = c.whistle_id WHERE w.at >= :s AND w.at < :e", s=s, e=e)
    outcome = Counter(o for _, _, o in calls)
    assert wh.whistles == one(h.rt, "SELECT COUNT(*) FROM whistles WHERE at >= :s AND at < :e", s=s, e=e) == 2
    assert wh.by_kind == {"assembly": 1, "livelihood": 0, "emergency": 1}
    assert (wh.calls.calls, wh.calls.on_time, wh.calls.late, wh.calls.missing) == (
        len(calls), outcome["on_time"], outcome["late"], outcome["missing"]) == (4, 1, 1, 2), \
        "the emergency call reported in only after the week: missing in it"
    assert wh.calls.on_time_rate == 0.25 and wh.calls.avg_report_in_minutes == 120.0  # 60 and 180 minutes
    per_dept = Counter((d, o) for _, d, o in calls)
    for d in wh.departments:
        assert (d.calls, d.on_time, d.late, d.missing) == (
            sum(n for (c, _), n in per_dept.items() if c == d.code), per_dept[(d.code, "on_time")],
            per_dept[(d.code, "late")], per_dept[(d.code, "missing")])
    assert [d.code for d in wh.departments] == [h.dept["D1"], h.dept["D3"], h.dept["D2"]], "most called, then most missing"
    assert [(line.event_id, line.kind, line.calls.calls) for line in wh.lines] == [
        (h.ids["b2-whistled"], "assembly", 3), (h.ids["d1-mediated"], "emergency", 1)]
    # a district's report: only the whistles on its cases
    district = report(h, area=h.districts[1].code).whistles
    assert (district.whistles, district.calls.missing) == (1, 1)


def test_disputes_and_how_they_ended(history):
    h = history
    r = report(h)
    d = r.disputes
    s, e = W48
    disputes = "SELECT id FROM events WHERE category_code = 'MD' AND reported_at >= :s AND reported_at < :e"
    assert h.rt.config.category("MD").dispute
    settled = dict(rows(h.rt, f"SELECT outcome, COUNT(DISTINCT event_id) FROM mediation_steps WHERE at < :e "
                              f"AND outcome IN ('mediated', 'referred') AND event_id IN ({disputes}) GROUP BY outcome", s=s, e=e))
    unsettled_closed = one(h.rt, f"SELECT COUNT(*) FROM events WHERE id IN ({disputes}) AND closed_at < :e AND id NOT IN "
                                 "(SELECT event_id FROM mediation_steps WHERE at < :e AND outcome IN ('mediated', 'referred'))",
                           s=s, e=e)
    assert (d.reported, d.mediated, d.referred, d.unsettled_closed, d.unsettled_open) == (
        len(rows(h.rt, disputes, s=s, e=e)), settled.get("mediated", 0), settled.get("referred", 0), unsettled_closed,
        3 - settled.get("mediated", 0) - settled.get("referred", 0) - unsettled_closed) == (3, 1, 0, 1, 1), \
        "the dispute referred after the week is still open in it"
    assert d.mediation_success == r.headline["mediation_success"].value == 1.0
    steps = rows(h.rt, f"SELECT rung, outcome, COUNT(DISTINCT event_id) FROM mediation_steps WHERE at < :e "
                       f"AND event_id IN ({disputes}) GROUP BY rung, outcome", s=s, e=e)
    rungs = {x.rung: x for x in d.rungs}
    assert [x.rung for x in d.rungs] == ["community", "senior", "lawyer", "judicial"]
    assert {(x.rung, o): getattr(x, o) for x in d.rungs for o in ("mediated", "failed", "referred") if getattr(x, o)} == {
        (rung, outcome): n for rung, outcome, n in steps} == {("community", "failed"): 2, ("senior", "mediated"): 1}
    assert (rungs["community"].reached, rungs["senior"].reached, rungs["lawyer"].reached) == (2, 1, 0)
    flow = rows(h.rt, "SELECT outcome FROM mediation_steps WHERE at >= :s AND at < :e AND outcome IN ('mediated', 'referred')",
                s=s, e=e)
    assert (d.settled_in_period, d.mediated_in_period) == (len(flow), sum(1 for (o,) in flow if o == "mediated")) == (2, 2), \
        "the dispute of the week before, settled in this one, counts in this one's flow"
    # the next week (so far): the referral counts in its flow, not in its disputes
    nxt = report(h, "2026-W49").disputes
    assert (nxt.reported, nxt.settled_in_period, nxt.mediated_in_period) == (0, 1, 0)


def test_field_work_per_worker_and_area_against_the_norm(history):
    h = history
    rt, w = h.rt, h.workers
    fw = report(h).field_work
    s, e = W48
    day = "date(at, '+8 hours')" if rt.engine.dialect.name == "sqlite" else "CAST(at + INTERVAL '8 hours' AS DATE)"
    per_day = rows(rt, f"SELECT worker_id, {day} AS d, SUM(CASE WHEN kind = 'check_in' THEN 1 ELSE 0 END), "
                       "SUM(CASE WHEN kind = 'patrol' THEN 1 ELSE 0 END), SUM(CASE WHEN kind = 'visit' THEN 1 ELSE 0 END) "
                       f"FROM field_activities WHERE at >= :s AND at < :e GROUP BY worker_id, {day}", s=s, e=e)
    expect = defaultdict(lambda: [0, 0, 0, 0])
    for worker, _d, checks, patrols, visits in per_day:
        x = expect[worker]
        x[0] += checks > 0
        x[1] += patrols
        x[2] += visits
        x[3] += checks > 0 and patrols >= 2 and visits >= 5
    assert expect[w.a] == [3, 4, 10, 1], "Monday (its 07:30 is Sunday in UTC) met; Tuesday a patrol short; Sunday night"
    by_worker = {x.worker_id: x for x in fw.workers}
    for worker, (duty, patrols, visits, met) in expect.items():
        got = by_worker[worker]
        assert (got.duty_days, got.patrols, got.visits, got.days_met) == (duty, patrols, visits, met)
    a = by_worker[w.a]
    assert (a.expected_patrols, a.expected_visits, a.patrol_rate, a.visit_rate, a.met_rate) == (6, 15, 0.6667, 0.6667, 0.3333)
    helper = by_worker[w.helper]
    assert (helper.role, helper.duty_days, helper.patrols, helper.patrol_rate) == ("helper", 0, 2, None)
    full_time = rows(rt, "SELECT id FROM grid_workers WHERE role = 'full_time'")
    assert {x.worker_id for x in fw.workers} == {i for (i,) in full_time} | {w.helper}, \
        "every full-time worker is listed, also with nothing done; a helper only with work done"
    assert fw.never_on_duty == len(full_time) - 2 and by_worker[w.b].duty_days == 0
    assert fw.workers[0].duty_days == 0 and fw.workers[-1].worker_id == w.c, "lowest share of days met first"
    total = rows(rt, f"SELECT COUNT(DISTINCT worker_id || '/' || {day}) FROM field_activities WHERE kind = 'check_in' "
                     "AND at >= :s AND at < :e", s=s, e=e)[0][0] if rt.engine.dialect.name == "sqlite" else \
        one(rt, f"SELECT COUNT(*) FROM (SELECT DISTINCT worker_id, {day} FROM field_activities WHERE kind = 'check_in' "
                "AND at >= :s AND at < :e) x", s=s, e=e)
    assert (fw.total.duty_days, fw.total.patrols, fw.total.visits, fw.total.days_met) == (total, 8, 16, 2) == (4, 8, 16, 2)
    assert fw.days == 7
    areas = {x.code: x for x in fw.areas}
    d0, d1 = h.districts[0].code, h.districts[1].code
    in_district = rows(rt, "SELECT SUM(CASE WHEN f.kind = 'patrol' THEN 1 ELSE 0 END), SUM(CASE WHEN f.kind = 'visit' THEN 1 ELSE 0 END) "
                           "FROM field_activities f JOIN areas a ON a.code = f.grid_code WHERE a.path LIKE :p AND f.at >= :s "
                           "AND f.at < :e", p=f"%/{d1}/%", s=s, e=e)[0]
    assert (areas[d1].patrols, areas[d1].visits) == tuple(int(v) for v in in_district) == (4, 6)
    assert (areas[d0].duty_days, areas[d0].patrols, areas[d0].days_met) == (3, 4, 1)
    workers = dict(rows(rt, "SELECT substr(a.path, 1, :n), COUNT(*) FROM grid_workers w JOIN areas a ON a.id = w.area_id "
                            "WHERE w.role = 'full_time' GROUP BY substr(a.path, 1, :n)", n=len(f"{h.rt.areas.city.code}/{d0}")))
    assert {x.code: x.workers for x in fw.areas} == {k.split("/")[1]: n for k, n in workers.items()}
    # a district's report: its workers only; the next week so far: Monday 00:05's check-in
    district = report(h, area=d1).field_work
    assert {x.worker_id for x in district.workers if x.duty_days or x.patrols} == {w.c, w.helper}
    nxt = report(h, "2026-W49").field_work
    assert (nxt.total.duty_days, nxt.days) == (1, 6), "Monday 30 November to Saturday 5 December, now"


def test_laggards_are_the_areas_and_departments_that_missed_a_target(history):
    h = history
    r = report(h)
    s, e = W48
    targets = h.rt.config.city.targets
    assert (targets.resolved_locally_share, targets.mediation_success) == (0.95, 0.98)
    marked = {(g.kind, g.code): {m.figure: (m.value, m.target) for m in g.misses} for g in r.laggards}
    for district in h.districts:
        cohort = ("FROM events e JOIN areas a ON a.id = e.grid_id WHERE a.path LIKE :p AND e.reported_at >= :s "
                  "AND e.reported_at < :e")
        n, closed, ontime, overdue = rows(h.rt, "SELECT COUNT(*), SUM(CASE WHEN e.closed_at < :e THEN 1 ELSE 0 END), "
                                                "SUM(CASE WHEN e.closed_at < :e AND e.closed_at <= e.deadline THEN 1 ELSE 0 END), "
                                                "SUM(CASE WHEN (e.closed_at IS NULL OR e.closed_at >= :e) AND e.deadline < :e "
                                                f"THEN 1 ELSE 0 END) {cohort}", p=f"%/{district.code}/%", s=s, e=e)[0]
        if not n:
            assert ("area", district.code) not in marked
            continue
        expect = {}
        if round(closed / n, 4) < targets.closure_rate:
            expect["closure_rate"] = (round(closed / n, 4), targets.closure_rate)
        if closed + overdue and round(ontime / (closed + overdue), 4) < targets.ontime_rate:
            expect["ontime_rate"] = (round(ontime / (closed + overdue), 4), targets.ontime_rate)
        assert marked.get(("area", district.code), {}) == expect
    assert marked[("area", h.districts[0].code)] == {"closure_rate": (0.6, 0.98), "ontime_rate": (0.5, 0.98)}
    assert marked[("area", h.districts[1].code)] == {"closure_rate": (0.6667, 0.98)}, "no rating: satisfaction is not missed"
    assert [g.kind for g in r.laggards] == sorted((g.kind for g in r.laggards), key=lambda k: k != "area")
    assert r.laggards[0].code == h.districts[0].code, "most targets missed first"
    assert ("department", h.dept["D1"]) in marked and ("department", h.dept["D2"]) not in marked
    hours = {a.code: a.figures["avg_handling_hours"] for a in r.areas}
    assert (hours[h.districts[0].code], hours[h.districts[1].code]) == (18.67, 15.0), "under the 24 h target: not missed"


def test_the_local_day_in_sql_follows_a_zone_that_changes_its_offset(runtime):
    """Field work's days come from `local_day`: around both summer-time changes of Berlin, each instant
    falls on the local date Python gives it, on both databases."""
    from sqlalchemy import literal

    from bigscreen.reports.periods import Period
    from bigscreen.reports.scope import local_day

    berlin = ZoneInfo("Europe/Berlin")
    start, end = Period("range", datetime(2026, 3, 1).date(), datetime(2026, 10, 31).date()).bounds(berlin)
    utc = ZoneInfo("UTC")
    moments = [datetime(2026, 3, 28, 22, 59, 59, tzinfo=utc), datetime(2026, 3, 28, 23, 0, tzinfo=utc),
               datetime(2026, 3, 29, 0, 59, 59, tzinfo=utc), datetime(2026, 3, 29, 1, 0, tzinfo=utc),
               datetime(2026, 3, 29, 21, 59, 59, tzinfo=utc), datetime(2026, 3, 29, 22, 0, tzinfo=utc),
               datetime(2026, 10, 24, 21, 59, 59, tzinfo=utc), datetime(2026, 10, 24, 22, 0, tzinfo=utc),
               datetime(2026, 10, 25, 22, 59, 59, tzinfo=utc), datetime(2026, 10, 25, 23, 0, tzinfo=utc)]
    with runtime.engine.connect() as conn:
        got = [conn.scalar(select(local_day(literal(m, UTCDateTime()), berlin, start, end, conn.dialect.name)))
               for m in moments]
    assert [str(d) for d in got] == [m.astimezone(berlin).date().isoformat() for m in moments]
    assert [str(d) for d in got][4:6] == ["2026-03-29", "2026-03-30"], "a day of 23 hours"
