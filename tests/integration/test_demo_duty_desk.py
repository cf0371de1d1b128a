"""The demo's simulated duty officer answers rule alerts nobody took, and leaves people's alerts alone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bigscreen.alerts import AlertDesk, announce, raise_alert
from bigscreen.auth.roles import Principal, Role
from bigscreen.db.models import Alert, User
from bigscreen.simulation.duty_desk import DutyDeskSimulator
from bigscreen.simulation.life import ROLE_OF

CLOSE = [("accept", {}), ("start", {}), ("handle", {}), ("verify", {"photo_url": "/media/v.jpg"}), ("close", {"resolved_level": "grid"})]


def _raise(runtime, *, colour, source, subject, at, event_id=None):
    with runtime.engine.begin() as conn:
        alert_id = raise_alert(conn, colour=colour, source=source, subject=subject, title=subject, at=at, event_id=event_id)
    announce(runtime, alert_id)
    return alert_id


def _state(runtime):
    with runtime.sessions() as s:
        return {a.id: a.status for a in s.scalars(select(Alert))}


def _case(client, runtime, sid):
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0]
    item = runtime.config.categories[0].items[0].code
    r = client.post("/api/v1/events", json={"source_id": sid, "channel": "grid_app", "item": item, "description": "x", "grid": grid.code})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_the_demo_desk_acknowledges_late_rule_alerts_and_resolves_them_when_done(client, runtime, account):
    duty, person = account("duty"), account("duty")
    case = _case(client, runtime, "c-1")
    now = runtime.clock()
    fresh = _raise(runtime, colour="red", source="emergency", subject="fresh", at=now)
    old_red = _raise(runtime, colour="red", source="emergency", subject="old", at=now - timedelta(minutes=2), event_id=case)
    old_yellow = _raise(runtime, colour="yellow", source="supervision", subject="late", at=now - timedelta(minutes=2))
    spike = _raise(runtime, colour="orange", source="spike", subject="spike", at=now - timedelta(hours=1))
    by_hand = _raise(runtime, colour="red", source="manual", subject="manual", at=now - timedelta(hours=1))
    taken = _raise(runtime, colour="red", source="emergency", subject="taken", at=now - timedelta(hours=1))
    with runtime.sessions() as s:
        user = s.scalar(select(User).where(User.username == person))
    AlertDesk(runtime, Principal("user", person, Role.DUTY, None, user.id)).acknowledge(taken, "我来")

    clock = [now]
    runtime.clock = lambda: clock[0]
    desk = DutyDeskSimulator(runtime, duty)
    assert desk.tick() == (2, 0)
    state = _state(runtime)
    assert state[old_red] == "acknowledged" and state[spike] == "acknowledged", "red after 30–90 s, orange after 60–180 s"
    assert state[fresh] == "open" and state[old_yellow] == "open", "a fresh alert, and yellow before 150 s, wait for people"
    assert state[by_hand] == "open" and state[taken] == "acknowledged", "hand-raised and people's alerts are theirs"

    for action, extra in CLOSE:
        r = client.post(f"/api/v1/events/{case}/transitions", json={"role": ROLE_OF[action], "action": action, **extra})
        assert r.status_code == 200, r.text
    clock[0] = now + timedelta(minutes=10)
    assert desk.tick() == (2, 1)
    state = _state(runtime)
    assert state[old_red] == "resolved", "its case is closed"
    assert state[spike] == state[fresh] == state[old_yellow] == "acknowledged"
    clock[0] = now + timedelta(minutes=20)
    assert desk.tick() == (0, 1)
    assert _state(runtime)[spike] == "resolved", "no case: resolved a quarter of an hour after it was acknowledged"
    clock[0] = now + timedelta(minutes=30)
    assert desk.tick() == (0, 2)
    state = _state(runtime)
    assert state[fresh] == state[old_yellow] == "resolved"
    assert state[by_hand] == "open" and state[taken] == "acknowledged"
