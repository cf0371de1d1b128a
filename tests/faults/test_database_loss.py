"""The database away for 10 s under ingest: 503 with Retry-After (never a 500), nothing half-written,
recovery by itself. PostgreSQL is really stopped (a crash: `pg_ctl stop -m immediate`) and started
again; SQLite is locked by another process (`BEGIN EXCLUSIVE`, as a maintenance session or a
backup tool would), and its writers give up after their busy timeout."""

from __future__ import annotations

import time

import httpx
import pytest
from fault_support import SOURCE, Load, Looker, postgres_outage, served_app, sqlite_locked, stored_ids
from sqlalchemy import text
from tests_support import PG_BIN, PostgresCluster

OUTAGE_S = 10.0
BUSY_TIMEOUT_S = 2.0  # SQLite: a write gives up on the lock after this (BIGSCREEN_SQLITE_BUSY_TIMEOUT_S)
RECOVERY_LIMIT_S = 60.0  # a bound for a hung test; the seconds are printed


@pytest.fixture(params=["postgresql", "sqlite"])
def outage(request, tmp_path):
    """(database URL, a context manager that makes that database unavailable while it runs)."""
    if request.param == "sqlite":
        path = tmp_path / "faults.db"
        yield f"sqlite:///{path}", lambda: sqlite_locked(path)
        return
    if not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL 15 is not installed")
    cluster = PostgresCluster(PG_BIN).create()
    try:
        yield cluster.create_database("faults"), lambda: postgres_outage(cluster)
    finally:
        cluster.destroy()


def test_database_away_for_10_s_answers_503_and_recovers_by_itself(tmp_path, outage, redis_url, test_config, city_plan):
    database_url, make_unavailable = outage
    with served_app(tmp_path, database_url, redis_url, test_config, city_plan, sqlite_busy_timeout_s=BUSY_TIMEOUT_S) as app:
        url, key, (token, unseen), rt = app.url, app.api_key, app.wall_tokens, app.reader
        load = Load.for_city(rt, url, key).start()
        looker = Looker(url, key, token).start()
        try:
            time.sleep(1.5)
            with make_unavailable():
                down_at = time.monotonic()
                time.sleep(OUTAGE_S / 2)
                # a wall whose token this server has not seen yet (not cached): its check needs the database
                first_load = httpx.get(f"{url}/wall?token={unseen}", timeout=30)
                time.sleep(OUTAGE_S / 2)
                restoring_at = time.monotonic()
            back_at = time.monotonic()
            while not [a for a in load.answers if a.at > back_at and a.what != "step" and a.status in (200, 201)]:
                assert time.monotonic() - back_at < RECOVERY_LIMIT_S, load.statuses()
                time.sleep(0.1)
            recovered = min(a.at for a in load.answers if a.at > back_at and a.what != "step" and a.status in (200, 201))
            print(f"\n{database_url.split(':')[0]} away {OUTAGE_S:.0f} s: ingest answered again {recovered - back_at:.1f} s "
                  f"after it returned; answers {dict(load.statuses())}")
            time.sleep(1.0)
        finally:
            load.stop()
            looker.stop()

        if database_url.startswith("postgresql"):  # SQLite's readers are not locked out: that wall simply loads
            assert first_load.status_code == 503 and first_load.headers.get("retry-after"), first_load.status_code
            assert "数据服务暂不可用" in first_load.text and 'http-equiv="refresh"' in first_load.text, \
                "a wall that cannot load yet says so, and tries again by itself"
        assert first_load.status_code in (200, 503)
        sent, looked = load.statuses(), looker.statuses()
        assert not [k for k in {**sent, **looked} if k[1] == 500 or k[1] == 0], (sent, looked)
        during = [a for a in load.answers if down_at + BUSY_TIMEOUT_S + 1 < a.at < restoring_at and a.what != "step"]
        assert during and all(a.status == 503 and a.retry_after for a in during), \
            f"while the database is away every write is refused with 503 and Retry-After: {[a.status for a in during]}"

        stored = stored_ids(rt, SOURCE, load.prefix)
        assert load.accepted() <= stored, "every event answered 2xx is stored"
        for refused in load.refused():
            assert len(stored & set(refused.ids)) in (0, len(refused.ids)), "a refused batch is stored whole or not at all"
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) as client:
            for refused in load.refused():  # what a source does with a 503: the same request again
                bodies = [{"source_id": i, "channel": "grid_app", "item": load.items[0], "description": "重发 retried",
                           "grid": load.grids[0]} for i in refused.ids]
                assert client.post("/api/v1/events", json=bodies).status_code in (200, 201)
        assert stored_ids(rt, SOURCE, load.prefix) == load.accepted() | {i for a in load.refused() for i in a.ids}
        with rt.engine.connect() as conn:  # every case's status is where its last step took it
            torn = conn.execute(text(
                "SELECT e.id FROM events e JOIN event_transitions t ON t.event_id = e.id "
                "WHERE t.id = (SELECT max(id) FROM event_transitions WHERE event_id = e.id) AND t.to_status <> e.status"
            )).all()
        assert not torn, f"cases whose status and last step disagree: {torn[:5]}"
