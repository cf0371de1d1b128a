"""The ingest API on the real parts: every bad-input class, idempotent retries, dispatch."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from bigscreen.db.models import Event, EventTransition


def _grid(runtime):
    return runtime.areas.at_level(runtime.areas.grid_level)[7]


def event(runtime, source_id="e-1", **over):
    grid = _grid(runtime)
    body = {"source_id": source_id, "channel": "grid_app", "item": runtime.config.categories[0].items[0].code,
            "urgency": "normal", "description": "解放中路社区3号楼楼道堆放杂物", "lat": grid.lat, "lon": grid.lon}
    body.update(over)
    return body


def count_events(runtime) -> int:
    with runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(Event))


def test_single_event_is_stored_located_and_dispatched(client, runtime):
    body = event(runtime)
    body.pop("lat"), body.pop("lon")
    grid = _grid(runtime)
    r = client.post("/api/v1/events", json={**body, "lat": grid.lat, "lon": grid.lon})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["created"] is True and out["status"] == "dispatched" and out["grid"] == grid.code
    item = body["item"]
    assert out["department"] == runtime.config.dispatch(item, grid.chain[1])
    got = client.get(f"/api/v1/events/{out['id']}").json()
    assert got["description"] == body["description"]
    with runtime.sessions() as s:
        actions = s.scalars(select(EventTransition.action).where(EventTransition.event_id == out["id"]).order_by(EventTransition.id)).all()
    assert actions == ["report", "dispatch"]


def test_retry_with_same_source_id_returns_same_event(client, runtime):
    first = client.post("/api/v1/events", json=event(runtime))
    again = client.post("/api/v1/events", json=event(runtime))
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["created"] is False
    assert count_events(runtime) == 1
    kpi = client.get("/api/v1/kpi").json()
    assert kpi["reported_today"] == 1


def test_batch_is_all_or_nothing(client, runtime):
    batch = [event(runtime, f"b-{i}") for i in range(20)]
    batch[13]["item"] = "NOPE99"
    r = client.post("/api/v1/events", json=batch)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", 13, "item"]
    assert count_events(runtime) == 0
    batch[13]["item"] = batch[0]["item"]
    r = client.post("/api/v1/events", json=batch)
    assert r.status_code == 200 and r.json()["created"] == 20
    retry = client.post("/api/v1/events", json=batch[:5] + [event(runtime, "b-new")])
    assert retry.json()["created"] == 1 and retry.json()["existing"] == 5
    assert count_events(runtime) == 21


def test_field_level_errors(client, runtime):
    cases = [
        ({"description": ""}, ["body", "description"]),
        ({"channel": "fax"}, ["body", "channel"]),
        ({"urgency": "whenever"}, ["body", "urgency"]),
        ({"lat": 12.0, "lon": 20.0}, ["body", "lat"]),
        ({"grid": "999999999999999", "lat": None, "lon": None}, ["body", "grid"]),
        ({"lat": None, "lon": None}, ["body", "grid"]),
        ({"lon": None}, ["body", "lon"]),
        ({"reported_at": (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()}, ["body", "reported_at"]),
        ({"reported_at": "2026-11-01T08:00:00"}, ["body", "reported_at"]),
        ({"category": "ZZ"}, ["body", "category"]),
        ({"surprise": 1}, ["body", "surprise"]),
    ]
    for over, loc in cases:
        body = {k: v for k, v in event(runtime, **over).items() if v is not None}
        r = client.post("/api/v1/events", json=body)
        assert r.status_code == 422, (over, r.text)
        assert loc in [d["loc"] for d in r.json()["detail"]], (over, r.json())
    assert count_events(runtime) == 0


def test_malformed_and_oversized_bodies(client, runtime):
    r = client.post("/api/v1/events", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.post("/api/v1/events", json=[event(runtime, f"x-{i}") for i in range(1001)])
    assert r.status_code == 413
    r = client.post("/api/v1/events", content=b"[" + b" " * 3_000_000 + b"]", headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert count_events(runtime) == 0


def test_wrong_or_missing_key_is_401(client, runtime):
    r = client.post("/api/v1/events", json=event(runtime), headers={"X-API-Key": "bsk_wrong"})
    assert r.status_code == 401
    del client.headers["X-API-Key"]
    assert client.post("/api/v1/events", json=event(runtime)).status_code == 401
    assert count_events(runtime) == 0


def test_grid_code_without_point(client, runtime):
    grid = _grid(runtime)
    r = client.post("/api/v1/events", json=event(runtime, grid=grid.code, lat=None, lon=None) | {"lat": None, "lon": None})
    assert r.status_code == 201 and r.json()["grid"] == grid.code


def test_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/events" in doc["paths"] and "EventIn" in doc["components"]["schemas"]
    assert client.get("/docs").status_code in (200, 404)  # never the CDN-backed Swagger page
    assert "swagger" not in client.get("/docs").text.lower()


def test_concurrent_retries_store_one_event(live_server, runtime, api_key):
    """Ten clients send the same report at the same moment: one event, every answer names it."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    body = event(runtime, "same-moment")
    with httpx.Client(base_url=live_server.url, headers={"X-API-Key": api_key}) as c, ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: c.post("/api/v1/events", json=body), range(10)))
        others = list(pool.map(lambda i: c.post("/api/v1/events", json=event(runtime, f"other-{i}")), range(20)))
    assert {a.json()["id"] for a in answers} == {answers[0].json()["id"]}
    assert sum(a.json()["created"] for a in answers) == 1
    assert sorted(a.status_code for a in answers) == [200] * 9 + [201]
    assert all(o.status_code == 201 for o in others)
    assert count_events(runtime) == 21
    kpi = httpx.get(live_server.url + "/api/v1/kpi", headers={"X-API-Key": api_key}).json()
    assert kpi["reported_today"] == 21


def test_a_batch_costs_the_same_sql_statements_whatever_its_size(client, runtime):
    """Group commit: the writer's round trips to the database do not grow with the events of a
    group, emergencies (which raise or count up alerts) and retries included."""
    from sqlalchemy import event as sa_event

    grids = runtime.areas.at_level(runtime.areas.grid_level)
    items = [i.code for i in runtime.config.items]
    emergencies = [i for i in items if runtime.config.alert_level(i) in runtime.config.city.alerts.emergency_colours]

    def batch(prefix, n):
        return [event(runtime, f"{prefix}-{k}", item=(emergencies if k % 3 == 0 else items)[k % 7],
                      lat=grids[k * 5 % len(grids)].lat, lon=grids[k * 5 % len(grids)].lon) for k in range(n)]

    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731 -- (conn, cursor, statement, ...)
    assert client.post("/api/v1/events", json=batch("warm", 3)).status_code == 200
    counts = []
    for prefix, n in (("small", 10), ("large", 300), ("retry", 10)):
        statements.clear()
        sa_event.listen(runtime.engine, "before_cursor_execute", listener)
        try:
            body = batch(prefix, n) if prefix != "retry" else batch("small", n) + batch("new", 2)
            r = client.post("/api/v1/events", json=body)
        finally:
            sa_event.remove(runtime.engine, "before_cursor_execute", listener)
        assert r.status_code == 200, r.text
        counts.append(len(statements))
    assert counts[0] == counts[1], (counts, statements)
    assert counts[2] <= counts[0] + 1, counts  # a retry adds one read of the events already stored


def test_a_request_given_up_while_it_waits_leaves_its_group_answered(runtime):
    """A request whose client went away while it waited for the group commit (its future cancelled)
    is left out of the group; the requests beside it are stored and answered, and the writer goes on."""
    import time

    import pytest

    from bigscreen.cases.ingest import IngestEvents
    from bigscreen.cases.ingest_writer import IngestWriter
    from bigscreen.db.session import WriteTurn
    from bigscreen.domain.schemas import EventIn

    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("the writer is held back by taking SQLite's write turn")

    def rows(source_id):
        return IngestEvents(runtime, "test", [EventIn.model_validate(event(runtime, source_id))], batch=False).validate()

    writer, turn = IngestWriter(runtime), WriteTurn.of(runtime.engine)
    try:
        with turn.held():  # the writer takes the first request, then waits for the turn
            first = writer.submit("test", rows("first"))
            time.sleep(0.2)
            waiting = [writer.submit("test", rows(f"w-{k}")) for k in range(3)]
            assert waiting[0].cancel()
        assert first.result(10)[0].created
        assert [f.result(10)[0].created for f in waiting[1:]] == [True, True]
        assert writer.store("test", rows("after"))[0].created, "the writer stopped"
        assert count_events(runtime) == 4
    finally:
        writer.close()
        turn.close()


def test_the_transition_log_of_new_events_with_and_without_gaps_between_their_ids(client, runtime):
    """The report and dispatch steps are logged for exactly the new events, in id order: ids that follow
    each other are bound as a range, others one by one; an event between two others is not logged with them."""
    from bigscreen.cases.ingest_writer import IngestWriter

    r = client.post("/api/v1/events", json=[event(runtime, f"g-{k}") for k in range(5)])
    ids = [e["id"] for e in r.json()["events"]]

    def logged() -> list[tuple[int, str]]:
        with runtime.sessions() as s:
            return [tuple(row) for row in s.execute(select(EventTransition.event_id, EventTransition.action)
                                                    .where(EventTransition.event_id.in_(ids)).order_by(EventTransition.id))]

    assert logged() == [(i, "report") for i in ids] + [(i, "dispatch") for i in ids]
    with runtime.engine.begin() as conn:
        conn.execute(EventTransition.__table__.delete().where(EventTransition.event_id.in_(ids)))
        IngestWriter._log_transitions(conn, [ids[0], ids[2], ids[4]])  # gaps: not a range
        IngestWriter._log_transitions(conn, ids[1:2])  # one id: a range of one
    assert logged() == [(ids[0], "report"), (ids[2], "report"), (ids[4], "report"), (ids[0], "dispatch"),
                        (ids[2], "dispatch"), (ids[4], "dispatch"), (ids[1], "report"), (ids[1], "dispatch")]
