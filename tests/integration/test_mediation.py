"""Disputes climb the mediation ladder: steps, event state, live figures equal to a rebuild, and
every bad request refused with nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bigscreen.cases import mediation as mediation_command
from bigscreen.db.models import Event, EventTransition, MediationStep
from bigscreen.domain.lifecycle import MEDIATION_RUNGS
from bigscreen.jobs.rebuild import rebuild, snapshot
from bigscreen.simulation.life import ROLE_OF

CLOSE = [("accept", {}), ("start", {}), ("handle", {}), ("verify", {"photo_url": "/media/v.jpg"}),
         ("close", {"resolved_level": "community"})]


def _grid(runtime, n: int = 0) -> str:
    return runtime.areas.at_level(runtime.areas.grid_level)[n].code


def _case(client, runtime, source_id: str, item: str = "MD01", grid: int = 0) -> dict:
    r = client.post("/api/v1/events", json={"source_id": source_id, "channel": "grid_app", "item": item,
                                            "description": "邻里因噪音发生纠纷", "grid": _grid(runtime, grid)})
    assert r.status_code == 201, r.text
    return r.json()


def _mediate(client, event_id: int, outcome: str, **extra):
    return client.post(f"/api/v1/events/{event_id}/mediation", json={"outcome": outcome, "role": "centre", **extra})


def _ok(client, event_id: int, outcome: str, **extra) -> dict:
    r = _mediate(client, event_id, outcome, **extra)
    assert r.status_code == 200, r.text
    return r.json()


def _stored(runtime, event_id: int) -> tuple:
    """Everything a refused request must leave as it was: the case, the steps, the log, the counters."""
    with runtime.sessions() as s:
        e = s.get(Event, event_id)
        return ((e.status, e.dispute_rung, e.dispute_outcome, e.version),
                s.scalar(select(func.count()).select_from(MediationStep)),
                s.scalar(select(func.count()).select_from(EventTransition)),
                snapshot(runtime))


def _mediation_kpi(client, area: str | None = None) -> tuple[float | None, dict]:
    kpi = client.get("/api/v1/kpi", params={"area": area} if area else {}).json()
    return kpi["mediation_success"], kpi["total"]["mediation"]


def test_disputes_climb_the_ladder_and_the_figures_follow(client, runtime):
    first = _case(client, runtime, "d1", grid=0)
    assert client.get(f"/api/v1/events/{first['id']}/mediation").json() == {
        "event_id": first["id"], "dispute": True, "rung": "community", "outcome": None, "steps": [],
        "rungs": list(MEDIATION_RUNGS)}

    assert _ok(client, first["id"], "failed", rung="community", actor="社区调解员", note="双方各执一词")["rung"] == "senior"
    assert _ok(client, first["id"], "failed", rung="senior", role="grid_worker")["rung"] == "lawyer"
    settled = _ok(client, first["id"], "mediated", note="签订调解协议")
    assert (settled["rung"], settled["outcome"]) == ("lawyer", "mediated")

    got = client.get(f"/api/v1/events/{first['id']}/mediation").json()
    assert got == settled
    assert [(s["rung"], s["outcome"], s["role"]) for s in got["steps"]] == [
        ("community", "failed", "centre"), ("senior", "failed", "grid_worker"), ("lawyer", "mediated", "centre")]
    assert got["steps"][0]["actor"] == "社区调解员" and got["steps"][0]["note"] == "双方各执一词"
    assert got["steps"][1]["actor"] == "test-source", "the actor defaults to the API key's source"
    with runtime.sessions() as s:
        event = s.get(Event, first["id"])
        assert (event.dispute_rung, event.dispute_outcome, event.version) == ("lawyer", "mediated", 4)
        log = s.scalars(select(EventTransition).where(EventTransition.event_id == first["id"],
                                                      EventTransition.action == "mediate").order_by(EventTransition.id)).all()
    assert [t.note for t in log] == ["community: failed", "senior: failed", "lawyer: mediated"]
    assert all(t.from_status == t.to_status == first["status"] for t in log)

    grid = first["grid"]
    for area in (None, grid):
        success, mediation = _mediation_kpi(client, area)
        assert success == 1.0
        assert mediation == {"mediated": 1, "referred": 0, "by_rung": {"community": 0, "senior": 0, "lawyer": 1, "judicial": 0}}

    second = _case(client, runtime, "d2", grid=1)
    assert _ok(client, second["id"], "referred", rung="community")["outcome"] == "referred"
    assert _mediation_kpi(client)[0] == 0.5
    assert _mediation_kpi(client, second["grid"]) == (0.0, {"mediated": 0, "referred": 1, "by_rung": dict.fromkeys(MEDIATION_RUNGS, 0)})
    assert _mediation_kpi(client, grid)[0] == 1.0

    third = _case(client, runtime, "d3", grid=2)
    _ok(client, third["id"], "mediated")
    success, mediation = _mediation_kpi(client)
    assert success == round(2 / 3, 4)
    assert mediation["by_rung"] == {"community": 1, "senior": 0, "lawyer": 1, "judicial": 0}

    now = datetime.now(UTC)
    live = snapshot(runtime)
    rebuild(runtime, now)
    assert snapshot(runtime) == live


def test_bad_requests_are_refused_and_change_nothing(client, runtime):
    dispute = _case(client, runtime, "d")
    _ok(client, dispute["id"], "failed", rung="community")
    other = _case(client, runtime, "not-a-dispute", item=runtime.config.categories[0].items[0].code)
    assert not runtime.config.category(other["category"]).dispute
    later = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    before = _stored(runtime, dispute["id"])

    def refused(status: int, body: dict, event_id: int = dispute["id"]) -> dict:
        r = client.post(f"/api/v1/events/{event_id}/mediation", json=body)
        assert r.status_code == status, r.text
        assert _stored(runtime, dispute["id"]) == before
        return r.json()["detail"]

    detail = refused(403, {"outcome": "mediated", "role": "department"})
    assert detail["loc"] == ["body", "role"] and detail["roles"] == ["centre", "grid_worker"]
    assert refused(422, {"outcome": "won", "role": "centre"})[0]["loc"] == ["body", "outcome"]
    assert refused(422, {"outcome": "mediated", "rung": "supreme", "role": "centre"})[0]["loc"] == ["body", "rung"]
    assert refused(422, {"role": "centre"})[0]["loc"] == ["body", "outcome"]
    assert refused(422, {"outcome": "mediated", "role": "centre", "colour": "red"})[0]["loc"] == ["body", "colour"]
    assert refused(422, {"outcome": "mediated", "role": "centre", "at": later})[0]["loc"] == ["body", "at"]
    assert refused(422, {"outcome": "mediated", "role": "centre", "at": earlier})[0]["loc"] == ["body", "at"]
    assert refused(422, {"outcome": "mediated", "role": "centre", "at": "2026-01-01T09:00:00"})[0]["loc"] == ["body", "at"]
    assert refused(404, {"outcome": "mediated", "role": "centre"}, event_id=999_999) == "no event 999999"
    assert refused(409, {"outcome": "mediated", "role": "centre"}, event_id=other["id"]) == (
        f"case {other['id']} is not a dispute: category {other['category']}")
    stale = refused(409, {"outcome": "mediated", "rung": "community", "role": "centre"})
    assert stale["rung"] == "senior"

    replay = _ok(client, dispute["id"], "failed", rung="community")
    assert (replay["rung"], len(replay["steps"])) == ("senior", 1)
    assert _stored(runtime, dispute["id"]) == before

    assert client.get(f"/api/v1/events/{other['id']}/mediation").json() == {
        "event_id": other["id"], "dispute": False, "rung": None, "outcome": None, "steps": [], "rungs": list(MEDIATION_RUNGS)}
    assert client.get("/api/v1/events/999999/mediation").status_code == 404


def test_no_failure_at_the_judicial_route_and_no_step_once_settled(client, runtime):
    e = _case(client, runtime, "top")
    for rung in MEDIATION_RUNGS[:-1]:
        _ok(client, e["id"], "failed", rung=rung)
    before = _stored(runtime, e["id"])
    r = _mediate(client, e["id"], "failed")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "outcome"]
    assert "mediated or referred to court" in r.json()["detail"][0]["msg"]
    assert _stored(runtime, e["id"]) == before

    assert _ok(client, e["id"], "referred", rung="judicial")["outcome"] == "referred"
    settled = _stored(runtime, e["id"])
    r = _mediate(client, e["id"], "mediated")
    assert r.status_code == 409 and (r.json()["detail"]["outcome"], r.json()["detail"]["rung"]) == ("referred", "judicial")
    assert _ok(client, e["id"], "referred", rung="judicial")["outcome"] == "referred", "a replay still answers 200"
    assert _stored(runtime, e["id"]) == settled


def test_a_closed_case_is_not_mediated(client, runtime):
    e = _case(client, runtime, "closed")
    for action, extra in CLOSE:
        r = client.post(f"/api/v1/events/{e['id']}/transitions", json={"role": ROLE_OF[action], "action": action, **extra})
        assert r.status_code == 200, r.text
    before = _stored(runtime, e["id"])
    r = _mediate(client, e["id"], "mediated")
    assert r.status_code == 409 and r.json()["detail"]["status"] == "closed"
    assert _stored(runtime, e["id"]) == before


def test_a_case_changed_meanwhile_is_409(client, runtime, monkeypatch):
    e = _case(client, runtime, "raced")
    before = _stored(runtime, e["id"])
    load = mediation_command.load_event

    def load_then_someone_else_writes(conn, event_id, **kw):
        record = load(conn, event_id, **kw)
        with runtime.engine.begin() as other:
            other.execute(Event.__table__.update().where(Event.__table__.c.id == e["id"]).values(version=Event.__table__.c.version + 1))
        return record

    monkeypatch.setattr(mediation_command, "load_event", load_then_someone_else_writes)
    r = _mediate(client, e["id"], "mediated")
    assert r.status_code == 409 and "changed meanwhile" in r.json()["detail"]["message"]
    _status, rung, outcome, version = _stored(runtime, e["id"])[0]
    assert (rung, outcome, version) == (None, None, before[0][3] + 1), "only the other writer's change is stored"
    assert _stored(runtime, e["id"])[1:] == before[1:]

