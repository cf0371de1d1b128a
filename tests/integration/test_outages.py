"""When a part is down the API says so (503), never a 500, and loses nothing it accepted."""

from __future__ import annotations

from sqlalchemy import func, select

from bigscreen.db.models import Event
from bigscreen.live.server import EmbeddedRedis


def _body(runtime, sid):
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0]
    return {"source_id": sid, "channel": "grid_app", "item": runtime.config.categories[0].items[0].code,
            "description": "x", "grid": grid.code}


def test_redis_down_keeps_the_event_and_rebuild_catches_up(tmp_path, client, runtime, caplog):
    from bigscreen.jobs.watch import sync_live

    standby = EmbeddedRedis(tmp_path / "standby", persist=False).start()
    try:
        runtime.live.client.connection_pool.disconnect()
        runtime.redis.connection_pool.reset()
        runtime.redis.connection_pool.connection_kwargs["path"] = str(standby.socket) + ".gone"
        r = client.post("/api/v1/events", json=_body(runtime, "during-outage"))
        assert r.status_code == 201, "stored in SQL: the answer stands while Redis is away"
        said = [x for x in caplog.records if x.name == "bigscreen.cases.ingest_writer"]
        assert said and not any(x.exc_info for x in said), "an outage is a line in the log, not a traceback a group"
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


class RedisAway:
    """Points the runtime's Redis client at a socket nobody listens on, for the `with` block."""

    def __init__(self, runtime) -> None:
        self.pool = runtime.redis.connection_pool
        self.path = self.pool.connection_kwargs["path"]

    def __enter__(self):
        self.pool.reset()
        self.pool.connection_kwargs["path"] = self.path + ".gone"
        return self

    def __exit__(self, *exc):
        self.pool.reset()
        self.pool.connection_kwargs["path"] = self.path


def test_pages_wait_and_apis_answer_503_while_redis_is_away(web, runtime, kiosk_token, api_key, account):
    from tests_support import login

    duty = account("duty")
    assert login(web, duty, next_path="/duty").status_code == 303  # a session, kept in Redis
    with RedisAway(runtime):
        wall = web.get(f"/wall?token={kiosk_token}")
        assert wall.status_code == 503 and wall.headers["retry-after"], "a wall load while sessions are away: never a 500"
        assert "数据服务暂不可用" in wall.text and 'http-equiv="refresh"' in wall.text, "it says so and tries again by itself"
        assert "Data service unavailable" in web.get(f"/wall?token={kiosk_token}&lang=en").text
        desk = web.get("/duty")
        assert desk.status_code == 503 and "数据服务暂不可用" in desk.text, "a signed-in page waits the same way"
        sign_in = web.get("/login", headers={"Accept": "text/html"})
        assert sign_in.status_code == 503 and "数据服务暂不可用" in sign_in.text, "as does what a browser opens"
        call = web.post("/_dash-update-component", json={}, headers={"X-CSRFToken": "x"})
        assert call.status_code == 503 and call.headers["retry-after"] and "unavailable" in call.json()["detail"]
        source = {"X-API-Key": api_key}
        kpi = web.get("/api/v1/kpi", headers=source)
        assert kpi.status_code == 503 and kpi.headers["retry-after"]
        r = web.post("/api/v1/events", headers=source, json=_body(runtime, "with-a-stray-cookie"))
        assert r.status_code == 201, "a source needs its key only, whatever cookie it carries"
        moved = web.post(f"/api/v1/events/{r.json()['id']}/transitions", headers=source,
                         json={"action": "accept", "role": "department"})
        assert moved.status_code == 200 and moved.json()["status"] == "accepted", \
            "stored in SQL: the answer stands (the counters are repaired from SQL)"
    assert web.get(f"/wall?token={kiosk_token}").status_code == 200
    assert web.get("/duty").status_code == 200, "the session kept in Redis works again"
