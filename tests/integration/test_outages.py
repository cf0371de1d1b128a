"""When a part is down the API says so (503), never a 500, and loses nothing it accepted."""

from __future__ import annotations

from sqlalchemy import func, select

from bigscreen.db.models import Event
from bigscreen.live.server import EmbeddedRedis


def _body(runtime, sid):
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0]
    return {"source_id": sid, "channel": "grid_app", "item": runtime.config.categories[0].items[0].code,
            "description": "x", "grid": grid.code}


def test_redis_down_keeps_the_event_and_rebuild_catches_up(tmp_path, client, runtime):
    from bigscreen.setup import sync_live

    standby = EmbeddedRedis(tmp_path / "standby", persist=False).start()
    try:
        runtime.live.client.connection_pool.disconnect()
        runtime.redis.connection_pool.reset()
        runtime.redis.connection_pool.connection_kwargs["path"] = str(standby.socket) + ".gone"
        r = client.post("/api/v1/events", json=_body(runtime, "during-outage"))
        assert r.status_code == 201, "stored in SQL: the answer stands while Redis is away"
        assert client.get("/api/v1/kpi").status_code == 503
        runtime.redis.connection_pool.reset()
        runtime.redis.connection_pool.connection_kwargs["path"] = str(standby.socket)
        assert client.get("/api/v1/kpi").json()["reported_today"] == 0, "a fresh, empty Redis"
        assert sync_live(runtime) is True
        assert client.get("/api/v1/kpi").json()["reported_today"] == 1
    finally:
        standby.stop()
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 1
