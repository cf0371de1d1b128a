"""A row the database holds but cannot give back (a timestamp another tool or a hand edit left
malformed) is logged and skipped by the scheduled jobs, the rebuild at start and the Open311 list;
it never stops them, and every other case is still counted, supervised and listed."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from bigscreen.alerts.spikes import detect_spikes
from bigscreen.cases.supervision import Supervisor
from bigscreen.jobs.rebuild import rebuild, wipe
from bigscreen.jobs.reconcile import reconcile
from bigscreen.jobs.watch import sync_live
from bigscreen.live.kpi import read_kpi

REPORTED = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=10)


def _late_cases(client, runtime, n=3):
    grids = runtime.areas.at_level(runtime.areas.grid_level)
    item = runtime.config.categories[0].items[0].code
    ids = []
    for i in range(n):
        r = client.post("/api/v1/events", json={"source_id": f"late-{i}", "channel": "grid_app", "item": item,
                                                "description": "楼道堆放杂物", "grid": grids[i].code,
                                                "reported_at": REPORTED.isoformat()})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


def _poison(runtime, event_id: int) -> None:
    """What only another tool could store: SQLite keeps any text, PostgreSQL takes 'infinity'."""
    bad = "'not a time'" if runtime.engine.dialect.name == "sqlite" else "'infinity'"
    with runtime.engine.begin() as conn:
        conn.execute(text(f"UPDATE events SET deadline = {bad}, reported_at = {bad} WHERE id = :id"), {"id": event_id})


def test_one_unreadable_case_is_logged_and_skipped_by_every_job(client, runtime, caplog):
    ids = _late_cases(client, runtime)
    runtime.live.sweep(datetime.now(timezone.utc), runtime.areas.chain_of)  # all three late, all awaiting supervision
    bad = ids[1]
    _poison(runtime, bad)
    city = runtime.areas.city.code

    with caplog.at_level(logging.ERROR):
        assert rebuild(runtime) == 2, "the two readable cases are counted"
        assert f"unreadable event {bad}" in caplog.text
        assert len(reconcile(runtime)) == 0
        assert Supervisor(runtime).run() == 6, "the readable late cases get their three levels"
        detect_spikes(runtime)
        listed = client.get("/open311/v2/requests.json")
        assert listed.status_code == 200
        assert {int(r["service_request_id"]) for r in listed.json()} == {ids[0], ids[2]}

        wipe(runtime)  # Redis lost: the start-up rebuild must still bring the figures back
        assert sync_live(runtime)
    kpi = read_kpi(runtime.redis, runtime.keys, runtime.contributions, city, datetime.now(timezone.utc))
    assert kpi["total"]["reported"] == 2


def test_years_before_1000_are_stored_so_they_read_back(runtime):
    """The poisoned timestamp of the first report: year 1 was written "1-01-01" on SQLite and could not be
    read back; entry points refuse such times now, and what was stored before reads back as it was meant."""
    from sqlalchemy import Column, Integer, MetaData, Table, select

    from bigscreen.db.types import UTCDateTime

    table = Table("t_times", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime))
    table.create(runtime.engine)
    early = datetime(1, 1, 1, tzinfo=timezone.utc)
    with runtime.engine.begin() as conn:
        conn.execute(table.insert().values(id=1, at=early))
        if runtime.engine.dialect.name == "sqlite":  # as the old code wrote it
            conn.execute(text("INSERT INTO t_times (id, at) VALUES (2, '1-01-01 00:00:00.000000')"))
    with runtime.engine.connect() as conn:
        assert set(conn.scalars(select(table.c.at))) == {early}


def test_one_unreadable_case_is_answered_409_and_logged_never_500(client, runtime, caplog):
    """Reads and steps of the one case the database cannot give back are refused with a message that
    says so (and logged for an administrator); the server never answers 500, and its neighbours read."""
    from fastapi.testclient import TestClient

    ids = _late_cases(client, runtime)
    bad = ids[1]
    _poison(runtime, bad)
    plain = TestClient(client.app, raise_server_exceptions=False)
    plain.headers.update(client.headers)
    with caplog.at_level(logging.ERROR):
        for method, path, body in [("GET", f"/api/v1/events/{bad}", None),
                                   ("GET", f"/api/v1/events/{bad}/history", None),
                                   ("GET", f"/open311/v2/requests/{bad}.json", None),
                                   ("POST", f"/api/v1/events/{bad}/transitions", {"action": "accept", "role": "department"})]:
            r = plain.request(method, path, json=body)
            assert r.status_code == 409, (path, r.status_code, r.text)
            assert "cannot be read" in r.text
    assert f"unreadable event {bad}" in caplog.text
    assert plain.get(f"/api/v1/events/{ids[0]}").status_code == 200
    assert plain.get(f"/open311/v2/requests/{ids[2]}.json").status_code == 200


def test_a_database_away_is_not_taken_for_an_unreadable_row(client, runtime, monkeypatch):
    """SQLAlchemy's OperationalError is a StatementError, as some unreadable values are: a case
    asked for while the database is away answers 503 with Retry-After (try again), not 409 (this
    row is broken), and nothing is logged as an unreadable row."""
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    event_id = _late_cases(client, runtime, n=1)[0]

    def away(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("the database system is not yet accepting connections"))

    monkeypatch.setattr(Session, "get", away)
    for path in (f"/api/v1/events/{event_id}", f"/api/v1/events/{event_id}/history",
                 f"/open311/v2/requests/{event_id}.json"):
        r = client.get(path)
        assert r.status_code == 503 and r.headers.get("retry-after"), (path, r.status_code, r.text)
