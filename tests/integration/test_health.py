"""What a load balancer asks: /healthz and /readyz, answered without a session."""

from __future__ import annotations

from bigscreen.jobs.leader import LeaderLock
from bigscreen.live.server import EmbeddedRedis
from bigscreen.wall.publisher import FramePublisher


def test_health_answers_without_a_session_and_ready_needs_a_leader_and_a_fresh_frame(web, runtime):
    alive = web.get("/healthz")
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}, "no redirect to the login page"
    waiting = web.get("/readyz")
    assert waiting.status_code == 503
    assert set(waiting.json()["failed"]) == {"leader", "frame"}, "nobody leads yet, so no frame was built"
    lock = LeaderLock(runtime.redis, runtime.keys.leader)
    assert lock.try_lead()
    FramePublisher(runtime, is_leader=lambda: True).publish()
    ready = web.get("/readyz")
    assert ready.status_code == 200, ready.json()
    assert ready.json()["failed"] == [] and ready.json()["checks"]["frame"]["age_s"] < 30


def test_readyz_fails_and_says_redis_when_redis_stops(tmp_path, web, runtime):
    standby = EmbeddedRedis(tmp_path / "standby", persist=False).start()
    pool = runtime.redis.connection_pool
    path = pool.connection_kwargs["path"]
    try:
        pool.reset()
        pool.connection_kwargs["path"] = str(standby.socket)
        assert LeaderLock(runtime.redis, runtime.keys.leader).try_lead()
        FramePublisher(runtime, is_leader=lambda: True).publish()
        assert web.get("/readyz").status_code == 200
        standby.stop()
        down = web.get("/readyz")
        assert down.status_code == 503
        assert "redis" in down.json()["failed"] and down.json()["checks"]["database"]["ok"] is True
        assert web.get("/healthz").status_code == 200, "the process itself still answers"
    finally:
        pool.reset()
        pool.connection_kwargs["path"] = path
        standby.stop()
