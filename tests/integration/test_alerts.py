"""Alerts: raised at once by emergency items, counted up when repeated, acknowledged by exactly
one officer, escalated when nobody does, refused to those who may not act, all recorded."""

from __future__ import annotations

import http.server
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests_support import Officer, free_port, login

from bigscreen.alerts.desk import alert_rows, escalate_unacknowledged
from bigscreen.alerts.notifications import Message, WebhookSender
from bigscreen.app import create_app
from bigscreen.auth.roles import Principal, Role
from bigscreen.auth.sessions import CSRF_COOKIE
from bigscreen.db.models import Alert, AuditEntry, Notification, User


def _emergency_item(runtime, colour="red"):
    return next(i.code for i in runtime.config.items if runtime.config.alert_level(i.code) == colour)


def _report(client, runtime, sid, item, grid_index=0, reported_at=None):
    grid = runtime.areas.at_level(runtime.areas.grid_level)[grid_index]
    body = {"source_id": sid, "channel": "hotline_12345", "item": item, "description": "小区地下室燃气味很重", "grid": grid.code}
    if reported_at:
        body["reported_at"] = reported_at.isoformat()
    r = client.post("/api/v1/events", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _alerts(runtime):
    with runtime.sessions() as s:
        return s.scalars(select(Alert).order_by(Alert.id)).all()


def _signed_in(runtime, username):
    web = TestClient(create_app(runtime).server, follow_redirects=False)
    assert login(web, username).status_code == 303
    web.headers["X-CSRFToken"] = web.cookies.get(CSRF_COOKIE)
    return web


def _desk(runtime, username):
    with runtime.sessions() as s:
        user = s.scalar(select(User).where(User.username == username))
    return Officer(runtime, Principal("user", user.username, Role(user.role), user.area_code, user.id))


@pytest.mark.redis_cluster
def test_emergency_reports_alert_at_once_and_repeats_count_up(client, runtime):
    item = _emergency_item(runtime)
    first = _report(client, runtime, "g-1", item)
    _report(client, runtime, "g-2", item)                      # same item, same community: counted up
    _report(client, runtime, "g-3", item, grid_index=-1)       # another community: its own alert
    _report(client, runtime, "g-old", item, reported_at=datetime.now(timezone.utc) - timedelta(days=1))
    _report(client, runtime, "ordinary", runtime.config.categories[0].items[0].code)
    alerts = _alerts(runtime)
    assert [(a.colour, a.source, a.count) for a in alerts] == [("red", "emergency", 2), ("red", "emergency", 1)]
    grid = runtime.areas.by_code[first["grid"]]
    assert alerts[0].area_code == grid.chain[3] and alerts[0].event_id == first["id"]


@pytest.mark.redis_cluster
def test_exactly_one_of_two_officers_acknowledges(runtime, client, account):
    _report(client, runtime, "g-1", _emergency_item(runtime))
    alert_id = _alerts(runtime)[0].id
    desks = [_desk(runtime, account("duty")), _desk(runtime, account("duty"))]
    barrier = threading.Barrier(2)

    def ack(desk):
        barrier.wait()
        try:
            return desk.acknowledge(alert_id, f"{desk.who.name} 已处理")
        except Exception as exc:  # the loser's 409
            return exc

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(ack, desks))
    won = [o for o in outcomes if isinstance(o, dict)]
    lost = [o for o in outcomes if not isinstance(o, dict)]
    assert len(won) == 1 and len(lost) == 1
    assert lost[0].status == 409 and lost[0].detail["owner"] == won[0]["owner"]
    assert f"by {won[0]['owner']}" in lost[0].detail["message"]
    assert alert_rows(runtime)[0]["status"] == "acknowledged"


def test_acknowledging_over_the_api(runtime, client, account, kiosk_token):
    _report(client, runtime, "g-1", _emergency_item(runtime))
    alert_id = _alerts(runtime)[0].id
    officer = account("duty")
    with _signed_in(runtime, officer) as web:
        r = web.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"comment": "<script>x</script>已派消防"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "acknowledged" and r.json()["owner"] == officer
        replay = web.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"comment": "again"})
        assert replay.status_code == 409 and replay.json()["detail"]["owner"] == officer
        assert web.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"comment": "x" * 1001}).status_code == 422
        assert web.post(f"/api/v1/alerts/{alert_id}/resolve", json={}).status_code == 200
        assert web.post(f"/api/v1/alerts/{alert_id}/resolve", json={}).status_code == 409
        assert web.post("/api/v1/alerts/999999/acknowledge", json={}).status_code == 404
    with runtime.sessions() as s:
        entries = s.execute(select(AuditEntry.action, AuditEntry.outcome, AuditEntry.channel)
                            .where(AuditEntry.action.like("alert.%")).order_by(AuditEntry.id)).all()
    assert [tuple(e) for e in entries] == [("alert.acknowledge", "ok", "api"), ("alert.acknowledge", "refused", "api"),
                                           ("alert.resolve", "ok", "api")]


def test_those_who_may_not_act_get_403_and_nothing_changes(runtime, client, account, kiosk_token, api_key):
    _report(client, runtime, "g-1", _emergency_item(runtime))
    alert_id = _alerts(runtime)[0].id
    web = TestClient(create_app(runtime).server, follow_redirects=False)
    assert web.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={}).status_code == 401
    bearer = {"Authorization": f"Bearer {kiosk_token}"}
    assert web.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={}, headers=bearer).status_code == 403
    assert web.get("/api/v1/alerts", headers=bearer).status_code == 200, "a wall may read alerts"
    assert web.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={}, headers={"X-API-Key": api_key}).status_code == 403
    web.get(f"/wall?token={kiosk_token}")  # the wall's own browser session
    r = web.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={}, headers={"X-CSRFToken": web.cookies.get(CSRF_COOKIE)})
    assert r.status_code == 403
    other = runtime.areas.at_level(1)[-1].code
    with _signed_in(runtime, account("leader", other)) as leader:
        assert leader.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={}).status_code == 403
        assert leader.get("/api/v1/alerts").json()["alerts"] == [], "a leader sees only its own area's alerts"
    assert alert_rows(runtime)[0]["status"] == "open"
    with runtime.sessions() as s:
        refused = s.scalars(select(AuditEntry.role).where(AuditEntry.outcome == "refused")).all()
    assert refused == ["wall", "source", "wall", "leader"]


def test_unacknowledged_alerts_escalate_until_someone_acknowledges(runtime, client, account):
    _report(client, runtime, "g-1", _emergency_item(runtime, "red"))
    alert = _alerts(runtime)[0]
    window = timedelta(minutes=runtime.config.city.alerts.ack_minutes["red"])
    assert escalate_unacknowledged(runtime, alert.raised_at + window) == 0, "not at the window's end"
    assert escalate_unacknowledged(runtime, alert.raised_at + window + timedelta(seconds=1)) == 1
    assert escalate_unacknowledged(runtime, alert.raised_at + window + timedelta(seconds=2)) == 0
    second = alert.raised_at + 2 * window + timedelta(seconds=2)
    assert escalate_unacknowledged(runtime, second) == 1
    _desk(runtime, account("duty")).acknowledge(alert.id, "收到")
    assert escalate_unacknowledged(runtime, second + 10 * window) == 0, "acknowledged: escalation stops"
    with runtime.sessions() as s:
        sent = s.execute(select(Notification.level, Notification.target, Notification.sender, Notification.ok)
                         .order_by(Notification.id)).all()
    district = runtime.areas.by_code[alert.area_code].chain[1]
    assert [tuple(n) for n in sent] == [(1, "duty-chief", "log", True), (2, f"leader:{district}", "log", True)]


def test_raising_by_hand_checks_its_fields(runtime, account):
    desk = _desk(runtime, account("duty"))
    with pytest.raises(Exception) as bad:
        desk.raise_by_hand("purple", " ", "nowhere")
    assert bad.value.status == 422
    assert {tuple(e["loc"]) for e in bad.value.detail} == {("body", "colour"), ("body", "title"), ("body", "area")}
    made = desk.raise_by_hand("yellow", "防汛巡查: 河道水位上涨", runtime.areas.at_level(2)[0].code)
    assert made["colour"] == "yellow" and made["source"] == "manual" and made["status"] == "open"


def test_the_webhook_sender_posts_the_message():
    got = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    port = free_port()
    server = http.server.HTTPServer(("127.0.0.1", port), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        note = WebhookSender(f"http://127.0.0.1:{port}/hook").send(Message(7, 2, "leader:370502", "red", "燃气泄漏", "370502"))
    finally:
        server.shutdown()
    assert note == "HTTP 204" and got == [{"alert_id": 7, "level": 2, "target": "leader:370502", "colour": "red",
                                           "title": "燃气泄漏", "area": "370502"}]


def test_a_batch_raises_what_its_reports_one_by_one_would(client, runtime):
    """A group commit raises its emergencies together: reports of one item in one community
    inside a batch count up one alert (an open one from before, else a new one), other
    communities and items get their own, a resolved alert is not counted up, history raises
    nothing, and a retry of the batch changes nothing."""
    red, orange = _emergency_item(runtime, "red"), _emergency_item(runtime, "orange")
    grids = runtime.areas.at_level(runtime.areas.grid_level)
    community = lambda i: grids[i].chain[3]  # noqa: E731
    other = next(i for i in range(len(grids)) if community(i) != community(0))
    earlier = _report(client, runtime, "before-1", red)                          # open: will be counted up
    resolved = _report(client, runtime, "before-2", orange, grid_index=other)
    with runtime.engine.begin() as conn:
        conn.execute(Alert.__table__.update().where(Alert.__table__.c.event_id == resolved["id"]).values(status="resolved"))
    now = datetime.now(timezone.utc)

    def body(sid, item, i, **over):
        return {"source_id": sid, "channel": "hotline_12345", "item": item, "description": "燃气味", "grid": grids[i].code, **over}

    batch = [body("b-1", red, 0), body("b-2", orange, other), body("b-3", red, other), body("b-4", red, 0),
             body("b-5", orange, other), body("b-6", red, 0, reported_at=(now - timedelta(days=1)).isoformat()),
             body("b-7", runtime.config.categories[0].items[0].code, 0)]
    r = client.post("/api/v1/events", json=batch)
    assert r.status_code == 200, r.text
    ids = {e["source_id"]: e["id"] for e in r.json()["events"]}
    got = [(a.subject, a.status, a.count, a.version, a.event_id) for a in _alerts(runtime)]
    assert got == [
        (f"{red}@{community(0)}", "open", 3, 3, earlier["id"]),           # + b-1 and b-4
        (f"{orange}@{community(other)}", "resolved", 1, 1, resolved["id"]),
        (f"{orange}@{community(other)}", "open", 2, 2, ids["b-2"]),       # b-2 opens, b-5 counts up
        (f"{red}@{community(other)}", "open", 1, 1, ids["b-3"]),
    ]
    assert client.post("/api/v1/events", json=batch).json()["created"] == 0
    assert [(a.subject, a.count) for a in _alerts(runtime)] == [(s, c) for s, _, c, _, _ in got]


def test_notifications_leave_the_centre_with_personal_data_masked(runtime, caplog):
    """An escalation reaches a leader's phone or another system: a title quoting a citizen's description
    is masked there as on the wall."""
    from bigscreen.alerts.notifications import deliver

    message = Message(9, 2, "leader:370502", "red", "燃气泄漏 市民王某某 13812345678 反映楼道有异味", "370502")
    with caplog.at_level(logging.WARNING, logger="bigscreen.alerts.notifications"):
        rows = deliver(runtime, message)
    assert rows and all(r["ok"] for r in rows)
    assert "13812345678" not in caplog.text and "138****5678" in caplog.text
