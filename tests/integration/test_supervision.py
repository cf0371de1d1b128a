"""Time limits and 三次督办, on an injected clock: the boundary, the three levels, what stops them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from bigscreen.cases.supervision import Supervisor
from bigscreen.db.models import Alert, EventTransition, SupervisionNotice
from bigscreen.jobs.rebuild import rebuild, snapshot
from bigscreen.simulation.life import ROLE_OF

REPORTED = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=10)


def _late_case(client, runtime, source_id="late"):
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0]
    item = runtime.config.categories[0].items[0].code
    r = client.post("/api/v1/events", json={"source_id": source_id, "channel": "grid_app", "item": item,
                                            "description": "楼道堆放杂物", "grid": grid.code,
                                            "reported_at": REPORTED.isoformat()})
    assert r.status_code == 201, r.text
    e = r.json()
    return e, datetime.fromisoformat(e["deadline"])


def _step(client, e, action, at=None, **extra):
    body = {"action": action, "role": ROLE_OF[action], **extra}
    if at is not None:
        body["at"] = at.isoformat()
    r = client.post(f"/api/v1/events/{e['id']}/transitions", json=body)
    assert r.status_code == 200, r.text


def _notices(runtime):
    with runtime.sessions() as s:
        return [(n.level, n.target_kind, n.target) for n in s.scalars(select(SupervisionNotice).order_by(SupervisionNotice.id))]


def _sweep_and_supervise(runtime, now):
    runtime.clock = lambda: now
    runtime.live.sweep(now, runtime.areas.chain_of)
    return Supervisor(runtime).run(now)


def test_a_case_is_late_after_its_deadline_not_at_it(client, runtime):
    e, deadline = _late_case(client, runtime)
    assert runtime.live.sweep(deadline, runtime.areas.chain_of) == 0
    assert client.get("/api/v1/kpi").json()["overdue"] == 0
    assert runtime.live.sweep(deadline + timedelta(seconds=1), runtime.areas.chain_of) == 1
    assert client.get("/api/v1/kpi").json()["overdue"] == 1


def test_closing_exactly_at_the_deadline_is_on_time(client, runtime):
    e, deadline = _late_case(client, runtime)
    for action, extra in [("accept", {}), ("handle", {}), ("verify", {"photo_url": "/v.jpg"})]:
        _step(client, e, action, at=deadline - timedelta(minutes=1), **extra)
    _step(client, e, "close", at=deadline, resolved_level="grid")
    kpi = client.get("/api/v1/kpi").json()
    assert kpi["ontime_rate"] == 1.0 and kpi["overdue"] == 0


@pytest.mark.redis_cluster
def test_three_notices_climb_department_street_city_then_stop(client, runtime):
    e, deadline = _late_case(client, runtime)
    cfg = runtime.config.city.supervision
    grid = runtime.areas.by_code[e["grid"]]
    assert _sweep_and_supervise(runtime, deadline) == 0, "not late at the deadline itself"
    first = deadline + timedelta(seconds=1)
    assert _sweep_and_supervise(runtime, first) == 1
    assert _sweep_and_supervise(runtime, first) == 0, "each level is sent once"
    assert _notices(runtime) == [(1, "department", e["department"])]
    # the levels' timeline is anchored at the deadline: level 2 falls due the interval after level 1 fell due
    second = deadline + timedelta(hours=cfg.first_after_hours + cfg.second_after_hours)
    assert _sweep_and_supervise(runtime, second - timedelta(seconds=1)) == 0, "not before the interval"
    assert _sweep_and_supervise(runtime, second) == 0, "nor at it"
    assert _sweep_and_supervise(runtime, second + timedelta(seconds=1)) == 1
    third = second + timedelta(hours=cfg.third_after_hours)
    assert _sweep_and_supervise(runtime, third + timedelta(seconds=1)) == 1
    assert _sweep_and_supervise(runtime, third + timedelta(days=30)) == 0, "three notices at most"
    street = grid.chain[runtime.areas.level_number(cfg.second_level)]
    assert _notices(runtime) == [(1, "department", e["department"]), (2, cfg.second_level, street),
                                 (3, "city", runtime.areas.city.code)]
    with runtime.sessions() as s:
        colours = s.scalars(select(Alert.colour).where(Alert.source == "supervision").order_by(Alert.id)).all()
        logged = s.scalar(select(func.count()).select_from(EventTransition).where(EventTransition.action == "supervise"))
    assert colours == list(cfg.colours) and logged == 3
    assert runtime.redis.zscore(runtime.keys.supervise, f"case:{e['id']}") is None


def test_closing_a_late_case_stops_its_supervision(client, runtime):
    e, deadline = _late_case(client, runtime)
    late = deadline + timedelta(hours=1)
    assert _sweep_and_supervise(runtime, late) == 1
    for action, extra in [("accept", {}), ("handle", {}), ("verify", {"photo_url": "/v.jpg"}),
                          ("close", {"resolved_level": "community"})]:
        _step(client, e, action, **extra)
    assert runtime.redis.zscore(runtime.keys.supervise, f"case:{e['id']}") is None
    assert _sweep_and_supervise(runtime, late + timedelta(days=5)) == 0
    assert [n[0] for n in _notices(runtime)] == [1]


def test_a_lost_redis_update_neither_repeats_nor_hurries_a_notice(client, runtime):
    e, deadline = _late_case(client, runtime)
    member = f"case:{e['id']}"
    first = deadline + timedelta(minutes=5)
    assert _sweep_and_supervise(runtime, first) == 1
    runtime.redis.zadd(runtime.keys.supervise, {member: first.timestamp()})  # as if the reschedule was lost
    assert _sweep_and_supervise(runtime, first + timedelta(minutes=1)) == 0
    cfg = runtime.config.city.supervision
    expected = deadline + timedelta(hours=cfg.first_after_hours + cfg.second_after_hours)
    assert runtime.redis.zscore(runtime.keys.supervise, member) == expected.timestamp()


def test_rebuild_restores_the_supervision_schedule(client, runtime):
    e, deadline = _late_case(client, runtime)
    _late_case(client, runtime, "late-2")
    now = deadline + timedelta(hours=30)
    _sweep_and_supervise(runtime, now)
    _sweep_and_supervise(runtime, now)
    live = snapshot(runtime)
    rebuild(runtime, now)
    assert snapshot(runtime) == live
    assert len(live[runtime.keys.supervise]) == 2


def test_a_malformed_deadline_member_does_not_stop_the_sweep(client, runtime):
    e, deadline = _late_case(client, runtime)
    runtime.redis.zadd(runtime.keys.deadlines, {"junk": 1.0, "1|MS|NO-SUCH-GRID|0|": 2.0})
    assert runtime.live.sweep(deadline + timedelta(seconds=1), runtime.areas.chain_of) == 1
    assert runtime.redis.zcard(runtime.keys.deadlines) == 0


def test_a_whistled_department_that_does_not_report_in_is_supervised(client, runtime):
    e, _ = _late_case(client, runtime)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    departments = [d.code for d in runtime.config.departments[:2]]
    w = client.post(f"/api/v1/events/{e['id']}/whistles", json={"kind": "emergency", "departments": departments,
                                                                "role": "centre", "at": now.isoformat()}).json()
    report_by = datetime.fromisoformat(w["report_by"])
    r = client.post(f"/api/v1/events/{e['id']}/whistles/{w['id']}/reports", json={"department": departments[0], "role": "department"})
    assert r.status_code == 200, r.text
    runtime.clock = lambda: report_by
    assert Supervisor(runtime).run(report_by) == 0, "not late at the report-by time itself"
    later = report_by + timedelta(seconds=1)
    assert Supervisor(runtime).run(later) == 1
    assert Supervisor(runtime).run(later + timedelta(hours=runtime.config.city.supervision.second_after_hours, seconds=1)) == 1
    with runtime.sessions() as s:
        notices = s.execute(select(SupervisionNotice.level, SupervisionNotice.target, SupervisionNotice.whistle_call_id)).all()
    assert [(n.level, n.target) for n in notices][0] == (1, departments[1]) and all(n.whistle_call_id for n in notices)
    assert [n.level for n in notices] == [1, 2]


def test_the_case_history_shows_every_step_and_the_supervision_level(client, runtime):
    e, deadline = _late_case(client, runtime)
    _step(client, e, "accept", actor="李四")
    _sweep_and_supervise(runtime, datetime.now(timezone.utc))
    h = client.get(f"/api/v1/events/{e['id']}/history").json()
    assert h["supervision_level"] == 3, "ten days late: all three levels fell due"
    assert [(s["action"], s["role"]) for s in h["steps"]] == [
        ("report", "source"), ("dispatch", "system"), ("accept", "department")] + [("supervise", "system")] * 3
    assert h["steps"][2]["actor"] == "李四" and h["steps"][2]["channel"] == "api"
    assert client.get("/api/v1/events/999999/history").status_code == 404


def test_after_a_pause_every_level_that_fell_due_is_sent_in_order(client, runtime):
    """The clock's jobs stopped (a pause, a downtime) while cases went late: when they resume, each case
    gets every level that fell due meanwhile, in order, with one alert; the next level keeps its place on
    the timeline; and the wall's overdue figure agrees with the duty desk's list."""
    from bigscreen.screens.duty import overdue_cases

    cfg = runtime.config.city.supervision
    very_late, _ = _late_case(client, runtime, "very-late")
    late, deadline = _late_case(client, runtime, "late")
    hours = [cfg.first_after_hours, cfg.second_after_hours, cfg.third_after_hours]
    now = deadline + timedelta(hours=hours[0] + hours[1], minutes=30)  # levels 1 and 2 fell due, not 3
    assert client.get("/api/v1/kpi").json()["overdue"] == 0, "nothing swept so far: the jobs were paused"
    assert _sweep_and_supervise(runtime, now) == 4, "levels 1 and 2 of each case"
    assert [n[0] for n in _notices(runtime)] == [1, 2, 1, 2]
    with runtime.sessions() as s:
        alerts = s.execute(select(Alert.colour, Alert.title).where(Alert.source == "supervision").order_by(Alert.id)).all()
    assert [a.colour for a in alerts] == [cfg.colours[1]] * 2, "one alert per case, in the colour of the level reached"
    assert alerts[0].title.startswith("楼道堆放杂物") and "第一、二次督办" in alerts[0].title
    member = f"case:{late['id']}"
    third = deadline + timedelta(hours=sum(hours))
    assert runtime.redis.zscore(runtime.keys.supervise, member) == third.timestamp()
    assert _sweep_and_supervise(runtime, now + timedelta(minutes=5)) == 0, "nothing twice"

    desk = overdue_cases(runtime, None, now)
    assert client.get("/api/v1/kpi").json()["overdue"] == len(desk) == 2
    assert {c["supervision_level"] for c in desk} == {2}
