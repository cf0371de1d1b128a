"""What a careless or hostile source sends to /api/v1 is refused with a 4xx naming the field, and
stores nothing: control characters in text, booleans for numbers, bodies that are not JSON text;
paths the API does not define are 404 JSON, not the app's page; every answer carries the security
headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bigscreen.db.models import Event, EventTransition, FieldActivity, GridWorker

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _event(runtime, source_id: str = "h-1", **over) -> dict:
    grid = runtime.areas.at_level(runtime.areas.grid_level)[5]
    return {"source_id": source_id, "channel": "grid_app", "item": runtime.config.categories[0].items[0].code,
            "description": "路灯不亮", "lat": grid.lat, "lon": grid.lon, **over}


def _rows(runtime) -> tuple[int, int, int]:
    with runtime.sessions() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Event, EventTransition, FieldActivity))


def _refused(r, loc: list, words: str, status: int = 422) -> None:
    assert r.status_code == status, r.text
    errors = {tuple(e["loc"]): e["msg"] for e in r.json()["detail"]}
    assert tuple(loc) in errors and words in errors[tuple(loc)], errors


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_control_characters_in_text_are_refused(client, runtime):
    """PostgreSQL cannot store a NUL at all, SQLite stores it and cuts the text short when read by C
    code; other control characters garble the wall. Line breaks and tabs are text."""
    for text in ("a\x00b", "a\x07b", "a\x1bb", "a\x7fb", "a\x85b"):
        _refused(client.post("/api/v1/events", json=_event(runtime, description=text)), ["body", "description"],
                 "control character")
    _refused(client.post("/api/v1/events", json=_event(runtime, address="x\x00")), ["body", "address"], "control character")
    _refused(client.post("/api/v1/events", json=_event(runtime, photo_urls=["/a.jpg", "/b\x00.jpg"])),
             ["body", "photo_urls"], "control character")
    _refused(client.post("/api/v1/events", json=[_event(runtime, "ok"), _event(runtime, "bad", reporter_name="王\x00")]),
             ["body", 1, "reporter_name"], "U+0000")
    assert _rows(runtime) == (0, 0, 0)
    multiline = client.post("/api/v1/events", json=_event(runtime, description="第一行\r\n第二行\t完"))
    assert multiline.status_code == 201 and multiline.json()["description"] == "第一行\r\n第二行\t完"
    case, stored = multiline.json()["id"], _rows(runtime)
    _refused(client.post(f"/api/v1/events/{case}/transitions", json={"action": "accept", "role": "department",
                                                                    "note": "\x00"}), ["body", "note"], "control character")
    _refused(client.post(f"/api/v1/events/{case}/whistles", json={"kind": "emergency", "departments": ["GAJ\x00"],
                                                                 "role": "centre"}), ["body", "departments"], "control")
    assert _rows(runtime) == stored


@SQLITE
def test_booleans_are_not_numbers(client, runtime):
    _refused(client.post("/api/v1/events", json=_event(runtime, lat=True, lon=True)), ["body", "lat"], "valid number")
    case = client.post("/api/v1/events", json=_event(runtime)).json()["id"]
    events, steps, _ = _rows(runtime)
    for action, extra in (("accept", {}), ("handle", {}), ("verify", {"photo_url": "/v.jpg"}),
                          ("close", {"resolved_level": "street"})):
        role = "grid_worker" if action == "verify" else "centre" if action == "close" else "department"
        assert client.post(f"/api/v1/events/{case}/transitions", json={"action": action, "role": role, **extra}).status_code == 200
    _refused(client.post(f"/api/v1/events/{case}/transitions", json={"action": "rate", "role": "citizen", "rating": True}),
             ["body", "rating"], "valid integer")
    with runtime.sessions() as s:
        worker = s.scalar(select(GridWorker.id).limit(1))
    _refused(client.post("/api/v1/field-activities", json={"kind": "patrol", "worker_id": True, "role": "grid_worker"}),
             ["body", "worker_id"], "valid integer")
    assert client.post("/api/v1/field-activities", json={"kind": "patrol", "worker_id": worker, "role": "grid_worker"}).status_code == 201
    assert _rows(runtime) == (events, steps + 4, 1), "the refused ones stored nothing"


@SQLITE
def test_numbers_are_not_times(client, runtime):
    """Found by the fuzzer: pydantic reads a number as Unix seconds; a time is ISO 8601 text."""
    recent = int(datetime.now(UTC).timestamp()) - 60
    for value in (recent, str(recent), 1.5):
        _refused(client.post("/api/v1/events", json=_event(runtime, reported_at=value)), ["body", "reported_at"],
                 "must be an ISO 8601 date and time")
    r = client.get("/open311/v2/requests.json", params={"start_date": "0.0"})
    assert r.status_code == 400 and r.json()[0]["description"].startswith("start_date: must be an ISO 8601")
    assert _rows(runtime)[0] == 0


@SQLITE
def test_bodies_that_are_not_json_text(client, runtime):
    """Invalid UTF-8 and deep nesting are refused like any other malformed JSON, on the routes that
    read a batch by hand and on the ones FastAPI reads."""
    case = client.post("/api/v1/events", json=_event(runtime)).json()["id"]
    stored = _rows(runtime)
    for body in (b'{"description": "\xff\xfe"}', b"[" * 100_000 + b"]" * 100_000, b"{bad"):
        for path in ("/api/v1/events", f"/api/v1/events/{case}/transitions", "/api/v1/field-activities"):
            r = client.post(path, content=body, headers={"content-type": "application/json"})
            assert r.status_code == 422, (path, body[:20], r.text)
            assert r.json()["detail"][0]["loc"][0] == "body" and r.json()["detail"][0]["type"] == "json_invalid"
    assert _rows(runtime) == stored


@SQLITE
def test_control_characters_in_the_query(client, runtime):
    _refused(client.get("/api/v1/kpi", params={"area": "37\x00"}), ["query", "area"], "control character")
    r = client.get("/open311/v2/requests.json", params={"service_code": "JT\x00"})
    assert r.status_code == 400 and "service_code: " in r.json()[0]["description"]


@SQLITE
def test_paths_the_api_does_not_define_are_404_json(client, web):
    for path in ("/api/v1/nope", "/api/v2/events", "/api/v1/events/1/nope", "/api/"):
        r = client.get(path)
        assert r.status_code == 404 and r.headers["content-type"] == "application/json", (path, r.text[:80])
        assert "detail" in r.json()
    for method, path, allowed in (("GET", "/api/v1/events", {"POST"}), ("DELETE", "/api/v1/kpi", {"GET"}),
                                  ("PUT", "/api/v1/events/1", {"GET"})):
        r = client.request(method, path)
        assert r.status_code == 405 and r.headers["content-type"] == "application/json", (method, path, r.text[:80])
        assert set(r.headers["allow"].split(", ")) == allowed
    assert web.get("/").status_code == 303, "the pages are as they were: sign in first"


@SQLITE
def test_every_answer_carries_the_security_headers(client, web, kiosk_token):
    answers = [client.get("/api/v1/kpi"), client.get("/api/v1/nope"), web.get("/login"), web.get("/"),
               web.get(f"/wall?token={kiosk_token}"), web.get("/assets/wall.css"), client.post("/api/v1/events", json=[])]
    for r in answers:
        csp = r.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, r.url
        assert "'unsafe-eval'" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
    wall = answers[4]
    assert wall.status_code == 200 and "script-src 'self' 'sha256-" in wall.headers["content-security-policy"], \
        "Dash's one inline script (the renderer's start) is allowed by its hash, no other"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_nul_in_the_login_form(web, runtime, account):
    """PostgreSQL cannot even compare text holding a NUL: the sign-in form refuses it first."""
    from tests_support import login

    user = account("duty")
    r = login(web, user + "\x00", "x")
    assert r.status_code == 400 and "login-message" in r.text
    assert login(web, user).status_code == 303
