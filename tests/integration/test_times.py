"""Every time a source sends lies between the city's earliest date (city.yaml: earliest_date) and the
centre's clock (plus a little slack for fast clocks), on every entry point: events (one or a batch),
transitions, mediation, whistles, reporting in, field work. Outside that it is refused with 422
naming the field and the bound, and nothing is stored: year 1 once made a row SQLite could not read
back, and with it every job and the start-up rebuild failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bigscreen.db.models import Event, EventTransition, FieldActivity, GridWorker, MediationStep, Whistle, WhistleCall

NOW = datetime.now(UTC).replace(microsecond=0)
YEAR_ONE = "0001-01-01T00:00:00+00:00"
EPOCH = "1970-01-01T00:00:00Z"
TOMORROW = (NOW + timedelta(days=1)).isoformat()
BAD = [(YEAR_ONE, "must not be before 2000-01-01"), (EPOCH, "must not be before 2000-01-01"),
       (TOMORROW, "must not be in the future")]


@pytest.fixture
def stopped(runtime):
    runtime.clock = lambda: NOW
    return runtime


def _grid(runtime) -> str:
    return runtime.areas.at_level(runtime.areas.grid_level)[0].code


def _event(runtime, source_id: str, item: str = "MD01", **extra) -> dict:
    return {"source_id": source_id, "channel": "grid_app", "item": item, "description": "邻里因噪音发生纠纷",
            "grid": _grid(runtime), **extra}


def _case(client, runtime, source_id: str) -> int:
    r = client.post("/api/v1/events", json=_event(runtime, source_id, reported_at=(NOW - timedelta(hours=1)).isoformat()))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _rows(runtime) -> dict[str, int]:
    with runtime.sessions() as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m))
                for m in (Event, EventTransition, MediationStep, Whistle, WhistleCall, FieldActivity)}


def _refused(r, loc: list, message: str) -> None:
    assert r.status_code == 422, r.text
    errors = {tuple(e["loc"]): e["msg"] for e in r.json()["detail"]}
    assert tuple(loc) in errors, errors
    assert errors[tuple(loc)].startswith(message), errors
    if "before" in message:
        assert "earliest_date" in errors[tuple(loc)], "names where the bound is set"


def test_events_refuse_times_outside_the_city_window(client, stopped):
    runtime = stopped
    for i, (at, message) in enumerate(BAD):
        _refused(client.post("/api/v1/events", json=_event(runtime, f"one-{i}", reported_at=at)),
                 ["body", "reported_at"], message)
        batch = [_event(runtime, f"a-{i}"), _event(runtime, f"b-{i}", reported_at=at)]
        _refused(client.post("/api/v1/events", json=batch), ["body", 1, "reported_at"], message)
    assert _rows(runtime)["events"] == 0, "a refused batch stores none of its events"
    inside = client.post("/api/v1/events", json=_event(runtime, "ok", reported_at="2000-01-01T00:00:00+08:00"))
    assert inside.status_code == 201, "the earliest date itself (local midnight) is accepted"
    assert client.get(f"/api/v1/events/{inside.json()['id']}").json()["reported_at"] == "1999-12-31T16:00:00+00:00"
    slack = client.post("/api/v1/events", json=_event(runtime, "fast-clock", reported_at=(NOW + timedelta(minutes=1)).isoformat()))
    assert slack.status_code == 201, "a source's clock a minute fast is not an error"


def test_case_steps_refuse_times_outside_the_city_window(client, stopped):
    runtime = stopped
    case = _case(client, runtime, "c-1")
    before = _rows(runtime)
    for at, message in BAD:
        _refused(client.post(f"/api/v1/events/{case}/transitions", json={"action": "accept", "role": "department", "at": at}),
                 ["body", "at"], message)
        _refused(client.post(f"/api/v1/events/{case}/mediation", json={"outcome": "failed", "role": "centre", "at": at}),
                 ["body", "at"], message)
        _refused(client.post(f"/api/v1/events/{case}/whistles",
                             json={"kind": "emergency", "departments": ["GAJ"], "role": "centre", "at": at}),
                 ["body", "at"], message)
    whistle = client.post(f"/api/v1/events/{case}/whistles", json={"kind": "emergency", "departments": ["GAJ"], "role": "centre"})
    assert whistle.status_code == 201, whistle.text
    before = _rows(runtime)
    for at, message in BAD:
        _refused(client.post(f"/api/v1/events/{case}/whistles/{whistle.json()['id']}/reports",
                             json={"department": "GAJ", "role": "department", "at": at}), ["body", "at"], message)
    assert _rows(runtime) == before
    assert client.get(f"/api/v1/events/{case}/history").status_code == 200


def test_field_work_refuses_times_outside_the_city_window(client, stopped):
    runtime = stopped
    with runtime.sessions() as s:
        worker = s.scalar(select(GridWorker.id).order_by(GridWorker.id).limit(1))
    for at, message in BAD:
        body = {"kind": "patrol", "worker_id": worker, "role": "grid_worker", "at": at}
        _refused(client.post("/api/v1/field-activities", json=body), ["body", "at"], message)
    assert _rows(runtime)["field_activities"] == 0


def test_the_earliest_date_is_the_citys_setting(client, stopped):
    runtime, city = stopped, stopped.config.city
    runtime.config.city = city.model_copy(update={"earliest_date": datetime(2024, 3, 1).date()})
    try:
        r = client.post("/api/v1/events", json=_event(runtime, "old", reported_at="2024-02-29T23:59:00+08:00"))
        _refused(r, ["body", "reported_at"], "must not be before 2024-03-01")
        assert client.post("/api/v1/events", json=_event(runtime, "new", reported_at="2024-03-01T00:00:00+08:00")).status_code == 201
    finally:
        runtime.config.city = city
