"""Every action from every status: legal ones move the case and log who did it; illegal ones
answer 409 with the status and what is allowed; a role that may not act answers 403. Nothing
changes on a refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bigscreen.db.models import EventTransition
from bigscreen.domain.lifecycle import ACTIONS, Role, Status, allowed_actions
from bigscreen.simulation.life import ROLE_OF

FIELDS = {"verify": {"photo_url": "/media/v.jpg"}, "close": {"resolved_level": "community"}, "rate": {"rating": 2}}
# how a freshly dispatched case reaches each status
REACH = {
    Status.DISPATCHED: [],
    Status.RETURNED: ["return"],
    Status.ACCEPTED: ["accept"],
    Status.IN_PROGRESS: ["accept", "start"],
    Status.HANDLED: ["accept", "handle"],
    Status.VERIFIED: ["accept", "handle", "verify"],
    Status.CLOSED: ["accept", "handle", "verify", "close"],
    Status.RATED: ["accept", "handle", "verify", "close", "rate"],
}
CASES = [(status, action) for status in REACH for action in ACTIONS]


def _body(action: str, role: str, department: str) -> dict:
    extra = {"department": department} if action in ("redispatch", "dispatch") else {}
    return {"action": action, "role": role, "actor": "张三", **FIELDS.get(action, {}), **extra}


def _post(client, event_id, body):
    return client.post(f"/api/v1/events/{event_id}/transitions", json=body)


@pytest.fixture
def cases(client, runtime):
    """One case per (status, action), brought to that status."""
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0]
    item = runtime.config.categories[0].items[0].code
    batch = [{"source_id": f"{s}-{a}", "channel": "hotline_12345", "item": item, "description": "路灯不亮",
              "grid": grid.code} for s, a in CASES]
    events = client.post("/api/v1/events", json=batch).json()["events"]
    other = next(d.code for d in runtime.config.departments if d.code != events[0]["department"])
    out = {}
    for (status, action), e in zip(CASES, events):
        for step in REACH[status]:
            assert _post(client, e["id"], _body(step, ROLE_OF[step], other)).status_code == 200
        out[(status, action)] = e["id"]
    return out, other


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_action_from_every_status(client, runtime, cases):
    ids, department = cases
    for (status, action), event_id in ids.items():
        spec = ACTIONS[action]
        before = client.get(f"/api/v1/events/{event_id}").json()
        assert before["status"] == status
        forbidden = next(r for r in Role if r not in spec.roles and r != Role.SYSTEM)
        r = _post(client, event_id, _body(action, forbidden.value, department))
        assert r.status_code == 403, (status, action, r.text)
        assert r.json()["detail"]["loc"] == ["body", "role"]
        role = next(iter(sorted(spec.roles - {Role.SYSTEM})))
        r = _post(client, event_id, _body(action, role, department))
        legal = status in spec.sources
        if legal:
            assert r.status_code == 200, (status, action, r.text)
            assert r.json()["status"] == spec.target
        elif status == spec.target and spec.target != Status.DISPATCHED:
            assert r.status_code == 200 and r.json()["status"] == status, "the same step again is a no-op"
        else:
            assert r.status_code == 409, (status, action, r.text)
            assert r.json()["detail"] == {"message": r.json()["detail"]["message"], "status": status,
                                          "allowed": allowed_actions(status)}
            assert client.get(f"/api/v1/events/{event_id}").json() == before
    with runtime.sessions() as s:
        logged = s.execute(select(EventTransition.action, EventTransition.actor, EventTransition.role,
                                  EventTransition.channel).where(EventTransition.actor == "张三")).all()
    legal = sum(1 for s, a in CASES if s in ACTIONS[a].sources)
    steps = sum(len(REACH[s]) for s, _ in CASES)
    assert len(logged) == legal + steps and {row.channel for row in logged} == {"api"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bad_transition_requests_name_the_field(client, runtime):
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0]
    item = runtime.config.categories[0].items[0].code
    e = client.post("/api/v1/events", json={"source_id": "x", "channel": "grid_app", "item": item,
                                            "description": "x", "grid": grid.code}).json()
    for body, loc in [
        ({"action": "accept"}, ["body", "role"]),
        ({"action": "fly", "role": "centre"}, ["body", "action"]),
        ({"action": "accept", "role": "mayor"}, ["body", "role"]),
        ({"action": "redispatch", "role": "centre"}, ["body", "department"]),
        ({"action": "redispatch", "role": "centre", "department": "NOPE"}, ["body", "department"]),
        ({"action": "accept", "role": "department", "at": "2099-01-01T00:00:00+08:00"}, ["body", "at"]),
    ]:
        r = _post(client, e["id"], body)
        assert r.status_code == 422 and loc in [d["loc"] for d in r.json()["detail"]], (body, r.text)
    assert client.get(f"/api/v1/events/{e['id']}").json()["status"] == "dispatched"
