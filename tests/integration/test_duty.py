"""The duty desk on the server: its callbacks act as the caller of the request, so a wall or a
leader calling them gets 403 and changes nothing (and the refusal is recorded); a forged or
missing CSRF token is refused; what the desk shows is the officer's area, with the overdue
cases' supervision levels."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from tests_support import audit_entries, login

from bigscreen.alerts.desk import alert_rows
from bigscreen.auth.context import Caller, Forbidden
from bigscreen.auth.roles import Principal, Role
from bigscreen.auth.sessions import CSRF_COOKIE
from bigscreen.cases.supervision import Supervisor
from bigscreen.db.models import User, Whistle
from bigscreen.screens import duty
from layouts import ids

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _login(web, username):
    assert login(web, username).status_code == 303


def _outputs(*parts: tuple[str, str]) -> dict:
    return {"output": "".join(f"..{i}.{p}.." for i, p in parts).replace("....", "..."),
            "outputs": [{"id": i, "property": p} for i, p in parts]}


def _acknowledge(web, alert_id: int, comment: str = "收到", csrf: str | None = "cookie"):
    """What the desk's page sends when the officer clicks 签收 on one alert (assets/duty.js records the press)."""
    pressed = {"type": ids.DUTY_ACK, "alert": alert_id, "comment": comment, "at": 1}
    body = {**_outputs((ids.DUTY_ALERT_MESSAGE, "children"), (ids.DUTY_ALERT_MESSAGE, "className"), (ids.DUTY_ALERT_DONE, "data")),
            "inputs": [{"id": ids.DUTY_ALERT_PRESSED, "property": "data", "value": pressed}],
            "state": [{"id": ids.DUTY_LANG, "property": "data", "value": "zh"},
                      {"id": ids.DUTY_ALERT_DONE, "property": "data", "value": 0}],
            "changedPropIds": [f"{ids.DUTY_ALERT_PRESSED}.data"]}
    headers = {"X-CSRFToken": web.cookies.get(CSRF_COOKIE) or ""} if csrf == "cookie" else {"X-CSRFToken": csrf} if csrf else {}
    return web.post("/_dash-update-component", json=body, headers=headers)


def _refresh(web):
    parts = [(ids.DUTY_ALERT_LIST, "children"), (ids.DUTY_ALERT_SUMMARY, "children"), (ids.DUTY_OVERDUE_LIST, "children"),
             (ids.DUTY_WHISTLE_LIST, "children"), (ids.DUTY_MINE_LIST, "children"), (ids.DUTY_SIGNATURE, "data"), (ids.DUTY_AS_OF, "children")]
    body = {**_outputs(*parts),
            "inputs": [{"id": ids.DUTY_TICK, "property": "n_intervals", "value": 1},
                       *[{"id": i, "property": "data", "value": 0} for i in (ids.DUTY_ALERT_DONE, ids.DUTY_RAISE_DONE, ids.DUTY_WHISTLE_DONE)]],
            "state": [{"id": ids.DUTY_LANG, "property": "data", "value": "zh"}, {"id": ids.DUTY_SIGNATURE, "property": "data"}],
            "changedPropIds": [f"{ids.DUTY_TICK}.n_intervals"]}
    return web.post("/_dash-update-component", json=body, headers={"X-CSRFToken": web.cookies.get(CSRF_COOKIE) or ""})


def _whistle(web, event_id: int):
    body = {**_outputs((ids.DUTY_WHISTLE_MESSAGE, "children"), (ids.DUTY_WHISTLE_MESSAGE, "className"), (ids.DUTY_WHISTLE_DONE, "data")),
            "inputs": [{"id": ids.DUTY_WHISTLE_SUBMIT, "property": "n_clicks", "value": 1}],
            "state": [{"id": ids.DUTY_WHISTLE_CASE, "property": "value", "value": str(event_id)},
                      {"id": ids.DUTY_WHISTLE_KIND, "property": "value", "value": "assembly"},
                      {"id": ids.DUTY_WHISTLE_DEPARTMENTS, "property": "value", "value": ["GAJ", "YJJ"]},
                      {"id": ids.DUTY_WHISTLE_NOTE, "property": "value", "value": None},
                      {"id": ids.DUTY_LANG, "property": "data", "value": "zh"},
                      {"id": ids.DUTY_WHISTLE_DONE, "property": "data", "value": 0}],
            "changedPropIds": [f"{ids.DUTY_WHISTLE_SUBMIT}.n_clicks"]}
    return web.post("/_dash-update-component", json=body, headers={"X-CSRFToken": web.cookies.get(CSRF_COOKIE) or ""})


def _report(client, runtime, sid, item, grid_index=0, reported_at=None, description="小区地下室燃气味很重"):
    grid = runtime.areas.at_level(runtime.areas.grid_level)[grid_index]
    body = {"source_id": sid, "channel": "hotline_12345", "item": item, "description": description, "grid": grid.code}
    if reported_at:
        body["reported_at"] = reported_at.isoformat()
    r = client.post("/api/v1/events", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _red_alert(client, runtime, grid_index=0) -> dict:
    item = next(i.code for i in runtime.config.items if runtime.config.alert_level(i.code) == "red")
    event = _report(client, runtime, f"red-{grid_index}", item, grid_index)
    return next(a for a in alert_rows(runtime) if a["event_id"] == event["id"])


def _principal(runtime, username) -> Principal:
    with runtime.sessions() as s:
        user = s.scalar(select(User).where(User.username == username))
    return Principal("user", user.username, Role(user.role), user.area_code, user.id)


def test_a_wall_or_a_leader_calling_acknowledge_gets_403_and_nothing_changes(web, client, runtime, account, kiosk_token):
    alert = _red_alert(client, runtime)
    web.get(f"/wall?token={kiosk_token}")  # the wall's own browser session
    assert _acknowledge(web, alert["id"]).status_code == 403
    assert _refresh(web).status_code == 403, "nor may a wall read the desk"
    web.cookies.clear()
    district = runtime.areas.by_code[alert["area"]].chain[1]
    _login(web, account("leader", district))  # the alert's own district: refused for the role, not the area
    assert _acknowledge(web, alert["id"]).status_code == 403
    assert _whistle(web, alert["event_id"]).status_code == 403
    assert _refresh(web).status_code == 403

    (row,) = alert_rows(runtime, ids=[alert["id"]])
    assert row["status"] == "open" and row["owner"] is None and row["version"] == alert["version"]
    with runtime.sessions() as s:
        assert s.scalars(select(Whistle)).all() == []
    refused = [(e.role, e.action, e.subject, e.channel) for e in audit_entries(runtime, outcome="refused")]
    assert refused == [("wall", "alert.acknowledge", str(alert["id"]), "web"), ("wall", "duty.view", None, "web"),
                       ("leader", "alert.acknowledge", str(alert["id"]), "web"),
                       ("leader", "case.whistle", str(alert["event_id"]), "web"), ("leader", "duty.view", None, "web")]
    assert all(e.ip for e in audit_entries(runtime, outcome="refused"))


def test_the_callback_needs_the_sessions_csrf_token(web, client, runtime, account):
    alert = _red_alert(client, runtime)
    officer = account("duty")
    _login(web, officer)
    assert _acknowledge(web, alert["id"], csrf=None).status_code == 403
    assert _acknowledge(web, alert["id"], csrf="forged").status_code == 403
    assert alert_rows(runtime, ids=[alert["id"]])[0]["status"] == "open"
    assert len(audit_entries(runtime, action="csrf", outcome="refused")) == 2

    r = _acknowledge(web, alert["id"], comment="<script>x</script>已派消防")  # the officer's own page
    assert r.status_code == 200, r.text
    said = r.json()["response"][ids.DUTY_ALERT_MESSAGE]
    assert said == {"children": f"已签收预警 #{alert['id']}，由您负责", "className": "duty-message is-ok"}
    (row,) = alert_rows(runtime, ids=[alert["id"]])
    assert row["status"] == "acknowledged" and row["owner"] == officer
    (entry,) = audit_entries(runtime, action="alert.acknowledge")
    assert (entry.username, entry.outcome, entry.channel, entry.detail) == (
        officer, "ok", "web", {"comment": "<script>x</script>已派消防"})

    web.cookies.clear()
    late = account("duty")
    _login(web, late)
    r = _acknowledge(web, alert["id"])
    assert r.status_code == 200
    assert r.json()["response"][ids.DUTY_ALERT_MESSAGE] == {"children": f"预警 #{alert['id']} 已被 {officer} 签收",
                                                        "className": "duty-message is-error"}
    assert audit_entries(runtime, action="alert.acknowledge")[-1].detail == {"why": "already acknowledged", "owner": officer}
    shown = _refresh(web)
    assert shown.status_code == 200
    text = json.dumps(shown.json(), ensure_ascii=False)
    assert f"已签收 · {officer}" in text and "<script>x</script>已派消防" in text
    whistled = _whistle(web, alert["event_id"])
    assert whistled.status_code == 200
    assert whistled.json()["response"][ids.DUTY_WHISTLE_MESSAGE]["children"].startswith(f"已对事件 #{alert['event_id']} 吹响集结哨")
    assert [(e.username, e.channel) for e in audit_entries(runtime, action="case.whistle")] == [(late, "web")]


def test_the_desk_shows_late_cases_with_their_supervision_level(client, runtime, account):
    item = runtime.config.categories[0].items[0].code
    reported = datetime.now(UTC) - timedelta(days=10)
    late = _report(client, runtime, "late", item, reported_at=reported, description="楼道堆放杂物")
    elsewhere = _report(client, runtime, "late-2", item, grid_index=-1, reported_at=reported, description="路灯不亮")
    _report(client, runtime, "fresh", item, description="井盖缺失")  # not late
    deadline = datetime.fromisoformat(late["deadline"])
    first = deadline + timedelta(seconds=1)
    for at in (first, first + timedelta(hours=runtime.config.city.supervision.second_after_hours, seconds=1)):
        runtime.live.sweep(at, runtime.areas.chain_of)
        Supervisor(runtime).run(at)
    now = first + timedelta(days=2)

    officer = _principal(runtime, account("duty"))
    view = duty.desk_view(runtime, officer, now)
    cases = {c["id"]: c for c in view.overdue}
    assert set(cases) == {late["id"], elsewhere["id"]}
    assert cases[late["id"]]["supervision_level"] == 2 and cases[late["id"]]["hours_overdue"] == 48.0
    assert cases[late["id"]]["department"] == late["department"] and cases[late["id"]]["street_name"]
    assert view.overdue[0]["deadline"] <= view.overdue[1]["deadline"], "the longest overdue first"

    c = Caller(officer, "127.0.0.1", "web")
    told = duty.whistle_case(runtime, c, late["id"], "assembly", ["GAJ", "YJJ"], None, "zh")
    assert told.ok, told.text
    again = duty.whistle_case(runtime, c, late["id"], "assembly", ["GAJ", "YJJ"], None, "zh")
    assert again.ok and again.text.startswith(f"事件 #{late['id']} 的集结哨仍在进行")
    bad = duty.whistle_case(runtime, c, late["id"], "trumpet", [], None, "zh")
    assert not bad.ok and bad.text == "填写有误：哨种、召集部门"
    assert duty.whistle_case(runtime, c, 999999, "assembly", ["GAJ"], None, "zh").text == "没有事件 #999999"
    (whistles,) = [c["whistles"] for c in duty.desk_view(runtime, officer).overdue if c["id"] == late["id"]]
    assert [(w["kind"], w["counts"]) for w in whistles] == [("assembly", {"reported": 0, "waiting": 2, "late": 0})]
    assert [e.outcome for e in audit_entries(runtime, action="case.whistle")] == ["ok", "ok", "failed", "failed"]

    # an officer scoped to a district sees that district's alerts and cases only, and whistles only there
    district = runtime.areas.by_code[late["grid"]].chain[1]
    assert district not in runtime.areas.by_code[elsewhere["grid"]].chain
    scoped = _principal(runtime, account("duty", district))
    mine = duty.desk_view(runtime, scoped, now)
    assert [c["id"] for c in mine.overdue] == [late["id"]]
    assert mine.alerts and all(district in a["area_chain"] for a in mine.alerts)
    with pytest.raises(Forbidden):
        duty.whistle_case(runtime, Caller(scoped, None, "web"), elsewhere["id"], "assembly", ["GAJ"], None, "zh")
