"""吹哨报到: whistling a case to departments, reporting in, and who is late; bad input writes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from redis.exceptions import RedisError
from sqlalchemy import func, select

from bigscreen.db.models import Alert, EventTransition, Whistle, WhistleCall
from bigscreen.jobs.rebuild import rebuild, snapshot
from bigscreen.simulation.life import ROLE_OF
from tests_support import SQLITE_ONLY

T0 = datetime.now(timezone.utc).replace(microsecond=0)
DEPARTMENTS = ["GAJ", "YJJ", "XFZD"]  # 公安局, 应急管理局, 消防救援支队
CLOSE_STEPS = [("accept", {}), ("start", {}), ("handle", {}), ("verify", {"photo_url": "/media/v.jpg"}),
               ("close", {"resolved_level": "street"})]


@pytest.fixture
def case(client, runtime) -> dict:
    """An open case reported an hour before T0, with the runtime's clock stopped at T0."""
    runtime.clock = lambda: T0
    return _case(client, runtime, "w-1")


def _case(client, runtime, source_id: str) -> dict:
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0]
    r = client.post("/api/v1/events", json={
        "source_id": source_id, "channel": "hotline_12345", "item": runtime.config.categories[0].items[0].code,
        "description": "化工园区附近管道泄漏，气味刺鼻，需多部门联合处置", "grid": grid.code,
        "reported_at": (T0 - timedelta(hours=1)).isoformat()})
    assert r.status_code == 201, r.text
    return r.json()


def _whistle(client, event_id: int, **body):
    return client.post(f"/api/v1/events/{event_id}/whistles",
                       json={"kind": "emergency", "departments": DEPARTMENTS, "role": "centre", **body})


def _report(client, event_id: int, whistle_id: int, **body):
    return client.post(f"/api/v1/events/{event_id}/whistles/{whistle_id}/reports", json={"role": "department", **body})


def _rows(runtime) -> dict:
    with runtime.sessions() as s:
        out = {m.__tablename__: s.scalar(select(func.count()).select_from(m)) for m in (Whistle, WhistleCall, EventTransition, Alert)}
        out["reported"] = s.scalar(select(func.count()).select_from(WhistleCall).where(WhistleCall.reported_at.is_not(None)))
    out["supervise"] = runtime.redis.zcard(runtime.keys.supervise)
    return out


def _states(client, event_id: int) -> tuple[dict, dict]:
    r = client.get(f"/api/v1/events/{event_id}/whistles")
    assert r.status_code == 200, r.text
    (w,) = r.json()["whistles"]
    return {d["code"]: d["state"] for d in w["departments"]}, w["counts"]


@pytest.mark.redis_cluster
def test_whistle_reports_and_who_is_late(client, runtime, case):
    alerts = runtime.redis.pubsub()
    alerts.subscribe(runtime.keys.alerts)
    assert alerts.get_message(timeout=1)["type"] == "subscribe"

    r = _whistle(client, case["id"], actor="值班长", note="请立即到场")
    assert r.status_code == 201, r.text
    w = r.json()
    report_by = T0 + timedelta(minutes=runtime.config.city.whistles["emergency"].report_within_minutes)
    assert w["created"] and w["name"] == "紧急哨" and w["actor"] == "值班长"
    assert datetime.fromisoformat(w["at"]) == T0 and datetime.fromisoformat(w["report_by"]) == report_by
    assert [d["code"] for d in w["departments"]] == DEPARTMENTS and w["departments"][0]["name"] == "市公安局"
    assert w["counts"] == {"reported": 0, "waiting": 3, "late": 0}

    calls = {d["code"]: d["call_id"] for d in w["departments"]}
    for call_id in calls.values():
        assert runtime.redis.zscore(runtime.keys.supervise, f"call:{call_id}") == report_by.timestamp()
    with runtime.sessions() as s:
        alert = s.scalars(select(Alert).where(Alert.source == "whistle")).one()
        log = s.scalars(select(EventTransition).where(EventTransition.action == "whistle")).one()
    street = runtime.areas.by_code[case["grid"]].chain[2]
    assert (alert.colour, alert.subject, alert.event_id, alert.area_code) == ("red", f"whistle:{w['id']}", case["id"], street)
    assert alert.title == f"紧急哨: {case['description'][:40]}"
    assert alerts.get_message(timeout=1)["data"] == str(alert.id).encode()
    alerts.close()
    assert (log.from_status, log.to_status, log.role, log.actor, log.channel) == ("dispatched", "dispatched", "centre", "值班长", "api")
    assert all(code in log.note for code in DEPARTMENTS)

    r = _report(client, case["id"], w["id"], department="GAJ", actor="公安局值班员", note="已到场")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "reported" and r.json()["created"]
    assert runtime.redis.zscore(runtime.keys.supervise, f"call:{calls['GAJ']}") is None
    assert _states(client, case["id"]) == ({"GAJ": "reported", "YJJ": "waiting", "XFZD": "waiting"},
                                           {"reported": 1, "waiting": 2, "late": 0})

    runtime.clock = lambda: report_by + timedelta(minutes=20)
    r = _report(client, case["id"], w["id"], department="YJJ", at=(report_by + timedelta(minutes=15)).isoformat())
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "reported_late" and r.json()["reported_by"] == "test-source"
    states, counts = _states(client, case["id"])
    assert states == {"GAJ": "reported", "YJJ": "reported_late", "XFZD": "late"}
    assert counts == {"reported": 2, "waiting": 0, "late": 1}
    assert runtime.redis.zrange(runtime.keys.supervise, 0, -1) == [f"call:{calls['XFZD']}".encode()]
    now = runtime.clock()
    runtime.live.sweep(now, runtime.areas.chain_of)
    live = snapshot(runtime)
    rebuild(runtime, now)
    assert snapshot(runtime) == live, "the supervise zset holds what a rebuild from SQL gives"
    with runtime.sessions() as s:
        reports = s.scalars(select(EventTransition).where(EventTransition.action == "report_in")
                            .order_by(EventTransition.id)).all()
    assert [(t.department_code, t.role, t.note) for t in reports] == [("GAJ", "department", "已到场"), ("YJJ", "department", None)]


def test_repeated_whistle_and_report_are_idempotent(client, runtime, case):
    first = _whistle(client, case["id"]).json()
    before = _rows(runtime)
    again = _whistle(client, case["id"], departments=list(reversed(DEPARTMENTS)))
    assert again.status_code == 200 and again.json()["id"] == first["id"] and not again.json()["created"]
    assert _rows(runtime) == before

    reported = _report(client, case["id"], first["id"], department="GAJ", actor="first").json()
    before = _rows(runtime)
    r = _report(client, case["id"], first["id"], department="GAJ", actor="second", at=(T0 + timedelta(minutes=1)).isoformat())
    assert r.status_code == 200 and not r.json()["created"]
    assert (r.json()["reported_at"], r.json()["reported_by"]) == (reported["reported_at"], "first")
    assert _rows(runtime) == before

    other_kind = _whistle(client, case["id"], kind="assembly")
    assert other_kind.status_code == 201 and other_kind.json()["id"] != first["id"]
    with runtime.sessions() as s:
        assert s.scalars(select(Alert.colour).where(Alert.subject == f"whistle:{other_kind.json()['id']}")).one() == "orange"
    for code in DEPARTMENTS[1:]:
        assert _report(client, case["id"], first["id"], department=code).status_code == 200
    renewed = _whistle(client, case["id"])
    assert renewed.status_code == 201, "everyone reported to the first whistle: blowing it again is a new whistle"
    assert len(client.get(f"/api/v1/events/{case['id']}/whistles").json()["whistles"]) == 3


@pytest.mark.parametrize(("body", "status", "loc"), [
    ({"role": "department"}, 403, ["body", "role"]),
    ({"role": "mayor"}, 403, ["body", "role"]),
    ({"kind": "party"}, 422, ["body", "kind"]),
    ({"departments": []}, 422, ["body", "departments"]),
    ({"departments": ["GAJ", "CGJ", "HBJ", "ZJJ", "SJJ", "YJJ", "XFZD", "ZFW", "XFJ", "JJZD", "ZHZX"]}, 422, ["body", "departments"]),
    ({"departments": ["GAJ", "NOPE"]}, 422, ["body", "departments", 1]),
    ({"departments": ["GAJ", "YJJ", "GAJ"]}, 422, ["body", "departments", 2]),
    ({"at": (T0 + timedelta(minutes=10)).isoformat()}, 422, ["body", "at"]),
    ({"at": (T0 - timedelta(hours=2)).isoformat()}, 422, ["body", "at"]),
    ({"colour": "red"}, 422, ["body", "colour"]),
])
@SQLITE_ONLY
def test_bad_whistle_is_refused_and_writes_nothing(client, runtime, case, body, status, loc):
    before = _rows(runtime)
    r = _whistle(client, case["id"], **body)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    if status == 403:
        assert detail["loc"] == loc and detail["roles"] == ["centre"] and body["role"] in detail["message"]
    else:
        assert [e["loc"] for e in detail] == [loc]
    assert _rows(runtime) == before


def test_whistle_needs_an_open_case(client, runtime, case):
    before = _rows(runtime)
    assert _whistle(client, 999_999).status_code == 404
    assert _rows(runtime) == before
    for action, extra in CLOSE_STEPS:
        r = client.post(f"/api/v1/events/{case['id']}/transitions", json={"role": ROLE_OF[action], "action": action, **extra})
        assert r.status_code == 200, r.text
    before = _rows(runtime)
    r = _whistle(client, case["id"])
    assert r.status_code == 409 and r.json()["detail"]["status"] == "closed"
    assert client.get("/api/v1/events/999999/whistles").status_code == 404
    assert _rows(runtime) == before


def test_bad_report_is_refused_and_writes_nothing(client, runtime, case):
    w = _whistle(client, case["id"]).json()
    other = _case(client, runtime, "w-2")
    other_whistle = _whistle(client, other["id"], departments=["CGJ"]).json()
    before = _rows(runtime)
    r = _report(client, case["id"], w["id"], department="GAJ", role="centre")
    assert r.status_code == 403 and r.json()["detail"]["roles"] == ["department"] and "centre" in r.json()["detail"]["message"]
    r = _report(client, case["id"], w["id"], department="CGJ")
    assert r.status_code == 422 and [e["loc"] for e in r.json()["detail"]] == [["body", "department"]]
    for at in (T0 + timedelta(minutes=10), T0 - timedelta(minutes=1)):
        r = _report(client, case["id"], w["id"], department="GAJ", at=at.isoformat())
        assert r.status_code == 422 and [e["loc"] for e in r.json()["detail"]] == [["body", "at"]]
    assert _report(client, 999_999, w["id"], department="GAJ").status_code == 404
    assert _report(client, case["id"], 999_999, department="GAJ").status_code == 404
    assert _report(client, case["id"], other_whistle["id"], department="CGJ").status_code == 404
    assert client.post(f"/api/v1/events/{case['id']}/whistles/{w['id']}/reports", json={"department": "GAJ", "role": "department"},
                       headers={"X-API-Key": "wrong"}).status_code == 401
    assert _rows(runtime) == before


def test_redis_failing_after_the_commit_keeps_the_answer(client, runtime, case, monkeypatch):
    def down(*_args, **_kwargs):
        raise RedisError("connection refused")

    monkeypatch.setattr(runtime.redis, "pipeline", down)
    monkeypatch.setattr(runtime.redis, "zrem", down)
    w = _whistle(client, case["id"])
    assert w.status_code == 201, w.text
    assert _report(client, case["id"], w.json()["id"], department="GAJ").status_code == 200
    states, _ = _states(client, case["id"])
    assert states["GAJ"] == "reported"
