"""The demo's simulated duty officer answers rule alerts nobody took, and leaves people's alerts alone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from tests_support import SQLITE_ONLY, Officer

from bigscreen.alerts.desk import announce, raise_alert
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


@SQLITE_ONLY
def test_the_demo_desk_answers_late_rule_alerts_and_leaves_people_the_red_and_the_newest(client, runtime, account):
    duty, person = account("duty"), account("duty")
    case = _case(client, runtime, "c-1")
    now = runtime.clock()
    spike = _raise(runtime, colour="orange", source="spike", subject="spike", at=now - timedelta(hours=3))
    red = _raise(runtime, colour="red", source="emergency", subject="fire", at=now - timedelta(minutes=10), event_id=case)
    newest = [_raise(runtime, colour="blue", source="whistle", subject=f"whistle {i}", at=now - timedelta(minutes=5 - i))
              for i in range(3)]
    by_hand = _raise(runtime, colour="red", source="manual", subject="manual", at=now - timedelta(hours=1))
    taken = _raise(runtime, colour="red", source="emergency", subject="taken", at=now - timedelta(hours=1))
    with runtime.sessions() as s:
        user = s.scalar(select(User).where(User.username == person))
    Officer(runtime, Principal("user", person, Role.DUTY, None, user.id)).acknowledge(taken, "我来")

    clock = [now]
    runtime.clock = lambda: clock[0]
    desk = DutyDeskSimulator(runtime, duty)
    assert desk.tick() == (1, 0)
    state = _state(runtime)
    assert state[spike] == "acknowledged", "an orange alert nobody took for hours"
    assert state[red] == "open", "a red alert waits a quarter of an hour at least for a person"
    assert all(state[a] == "open" for a in newest), "the newest few are left for people"
    assert state[by_hand] == "open" and state[taken] == "acknowledged", "hand-raised and people's alerts are theirs"

    clock[0] = now + timedelta(minutes=40)
    assert desk.tick() == (1, 1)
    state = _state(runtime)
    assert state[red] == "acknowledged", "red after 15–45 minutes"
    assert state[spike] == "resolved", "no case: resolved a quarter of an hour after it was acknowledged"
    assert all(state[a] == "open" for a in newest), "however old, the newest few wait for people"

    for action, extra in CLOSE:
        r = client.post(f"/api/v1/events/{case}/transitions", json={"role": ROLE_OF[action], "action": action, **extra})
        assert r.status_code == 200, r.text
    later = _raise(runtime, colour="yellow", source="supervision", subject="late", at=clock[0])
    assert desk.tick() == (1, 1)
    state = _state(runtime)
    assert state[red] == "resolved", "its case is closed"
    assert state[newest[0]] == "acknowledged", "no longer among the newest three"
    assert state[newest[1]] == state[newest[2]] == state[later] == "open"
    assert state[by_hand] == "open" and state[taken] == "acknowledged"
