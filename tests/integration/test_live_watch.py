"""Watching Redis: a restarted, emptied or rolled-back Redis is noticed and its figures rebuilt
from SQL once, by the leader; a clean stop of the embedded Redis is trusted at the next start;
while Redis is down nothing waits on it; the embedded server is restarted when it dies."""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest
import redis as redis_lib
from sqlalchemy import select

from bigscreen.db.models import Event
from bigscreen.jobs.rebuild import snapshot
from bigscreen.jobs.watch import LiveWatch, figures_distrusted, sync_live
from bigscreen.live.health import FiguresUnavailable
from bigscreen.live.server import EmbeddedRedis
from bigscreen.process.datadir import ensure_redis, release_redis
from bigscreen.process.runtime import Runtime
from tests_support import SQLITE_ONLY


def _post(client, runtime, n: int, prefix: str) -> None:
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0].code
    item = runtime.config.categories[0].items[0].code
    r = client.post("/api/v1/events", json=[{"source_id": f"{prefix}-{i}", "channel": "grid_app", "item": item,
                                             "description": "x", "grid": grid} for i in range(n)])
    assert r.status_code == 200, r.text


def _point_at(rt: Runtime, server: EmbeddedRedis) -> None:
    """Moves a runtime (its client and its settings) to another Redis server."""
    rt.redis.connection_pool.reset()
    rt.redis.connection_pool.connection_kwargs["path"] = str(server.socket)
    rt.settings = rt.settings.model_copy(update={"redis_url": server.url})


@pytest.fixture
def own_redis(tmp_path):
    """A persistent Redis this test may kill, restart and roll back (the shared one is left alone)."""
    servers = [EmbeddedRedis(tmp_path / "own").start()]
    yield servers
    for s in servers:
        s.stop()


@SQLITE_ONLY
def test_a_restarted_or_emptied_redis_is_rebuilt_once_by_the_leader(client, runtime, own_redis):
    server = own_redis[0]
    _point_at(runtime, server)
    assert sync_live(runtime) is False, "an empty start: nothing to rebuild, the figures are verified"
    _post(client, runtime, 30, "a")
    assert figures_distrusted(runtime) is None
    want = snapshot(runtime)
    leader, follower = LiveWatch(runtime, lead=lambda: True), LiveWatch(runtime, lead=lambda: False)

    server.process.kill()  # its AOF has the figures, maybe not the last second of them
    server.process.wait()
    own_redis.append(EmbeddedRedis(server.directory).start())
    runtime.redis.connection_pool.disconnect()
    assert "restarted" in figures_distrusted(runtime)
    assert follower.check() and follower.repairs == 0 and not runtime.health.trusted, "only the leader repairs"
    with pytest.raises(FiguresUnavailable):
        runtime.health.check_figures()
    assert client.get("/api/v1/kpi").status_code == 503, "figures not yet verified are not served"
    leader._distrusted_since = time.monotonic() - 60  # the other watchers have had their time to report
    assert leader.check() and leader.repairs == 1 and runtime.health.trusted
    assert leader.check() and leader.repairs == 1, "once"
    assert snapshot(runtime) == want and figures_distrusted(runtime) is None
    assert client.get("/api/v1/kpi").json()["total"]["reported"] == 30

    runtime.redis.flushall()  # an operator's mistake, or a Redis that came back empty
    assert "no verified figures" in figures_distrusted(runtime)
    leader._distrusted_since = None
    assert leader.check() and leader.repairs == 1, "the leader waits a moment for the others' reports"
    leader._distrusted_since = time.monotonic() - 60
    assert leader.check() and leader.repairs == 2 and snapshot(runtime) == want


@SQLITE_ONLY
def test_an_old_snapshot_is_not_trusted(client, runtime, own_redis):
    server = own_redis[0]
    _point_at(runtime, server)
    sync_live(runtime)
    _post(client, runtime, 10, "old")
    runtime.redis.save()  # a backup of this moment
    with runtime.sessions() as s:
        ids = list(s.scalars(select(Event.id)))
    for event_id in ids[:5]:  # cases move on after the backup: the number of events stays the same
        r = client.post(f"/api/v1/events/{event_id}/transitions", json={"action": "accept", "role": "department"})
        assert r.status_code == 200, r.text
    want = snapshot(runtime)
    server.stop()
    shutil.rmtree(server.directory / "appendonlydir")  # the backup is restored alone
    restored = EmbeddedRedis(server.directory, persist=False).start()  # loads dump.rdb
    own_redis.append(restored)
    runtime.redis.connection_pool.disconnect()
    assert client.get("/api/v1/kpi").json()["total"]["reported"] == 10, "SQL's count agrees with the backup's"
    assert runtime.redis.exists(runtime.keys.live), "the marker came back with the backup"
    assert "restarted" in figures_distrusted(runtime, at_start=True), "but it names another run of Redis"
    assert sync_live(runtime) is True and snapshot(runtime) == want


@SQLITE_ONLY
def test_a_lost_write_is_reported_and_repaired(client, runtime, own_redis):
    server = own_redis[0]
    _point_at(runtime, server)
    sync_live(runtime)
    watch = LiveWatch(runtime, lead=lambda: True)
    _post(client, runtime, 5, "before")
    assert watch.check() and runtime.health.trusted
    runtime.redis.connection_pool.reset()
    runtime.redis.connection_pool.connection_kwargs["path"] = str(server.socket) + ".gone"  # a network blip
    _post(client, runtime, 7, "during")  # stored; its counters are not moved
    assert not runtime.health.trusted, "a failed connection makes the figures suspect at once"
    assert runtime.health.wake.is_set(), "and wakes the watch"
    runtime.redis.connection_pool.reset()
    runtime.redis.connection_pool.connection_kwargs["path"] = str(server.socket)
    assert watch.check()
    assert "lost" in figures_distrusted(runtime), "the same Redis, but writes went missing"
    watch._distrusted_since = time.monotonic() - 60
    assert watch.check() and watch.repairs == 1
    assert client.get("/api/v1/kpi").json()["total"]["reported"] == 12



@SQLITE_ONLY
def test_a_write_refused_by_a_demoted_master_is_reported_and_repaired(client, runtime, own_redis):
    """The server is made a replica (as a failover demotes a master): a move it refuses (READONLY) is a
    lost write, and the watch will neither read nor verify figures on a replica."""
    server = own_redis[0]
    _point_at(runtime, server)
    sync_live(runtime)
    watch = LiveWatch(runtime, lead=lambda: True)
    _post(client, runtime, 5, "before")
    assert watch.check() and runtime.health.trusted
    admin = redis_lib.Redis.from_url(server.url)
    admin.replicaof("127.0.0.1", "1")  # a master that never answers: it keeps its data, read-only
    try:
        _post(client, runtime, 7, "refused")  # stored; its counters are not moved
        assert not runtime.health.trusted, "a refused move makes the figures suspect at once"
        assert not watch.check(), "a replica is not the Redis the figures live in"
    finally:
        admin.replicaof("NO", "ONE")
        admin.close()
    assert watch.check()
    assert "lost" in figures_distrusted(runtime), "the same Redis, but writes went missing"
    watch._distrusted_since = time.monotonic() - 60
    assert watch.check() and watch.repairs == 1
    assert client.get("/api/v1/kpi").json()["total"]["reported"] == 12

def _refused():
    raise redis_lib.ConnectionError("refused by the test")


@SQLITE_ONLY
def test_while_redis_is_down_nothing_waits_for_it(client, runtime, own_redis, monkeypatch):
    import redis.asyncio.connection
    import redis.connection

    server = own_redis[0]
    _point_at(runtime, server)
    sync_live(runtime)
    watch = LiveWatch(runtime)
    server.stop()
    assert not watch.check() and runtime.health.down
    tries: list[object] = []
    for kind in (redis.connection.AbstractConnection, redis.asyncio.connection.AbstractConnection):
        monkeypatch.setattr(kind, "connect_check_health", lambda self, *a, **kw: tries.append(self) or _refused())
    r = client.get("/api/v1/kpi")
    assert r.status_code == 503 and r.headers["retry-after"]
    assert tries == [], "answered at once from what the watch knows: no attempt to reach Redis (and wait for it)"
    monkeypatch.undo()
    with pytest.raises(redis_lib.ConnectionError, match="reconnecting in the background"):
        runtime.redis.get("anything")
    own_redis.append(EmbeddedRedis(server.directory).start())
    assert watch.check() and not runtime.health.down


@SQLITE_ONLY
def test_a_clean_stop_is_trusted_at_the_next_start_and_a_crash_is_not(tmp_path, client, runtime):
    settings = runtime.settings.model_copy(update={"redis_url": None, "data_dir": tmp_path / "owned"})

    def start() -> tuple[Runtime, EmbeddedRedis]:
        owned_settings, owned = ensure_redis(settings)
        os.environ.pop("BIGSCREEN_REDIS_URL", None)  # exported for worker processes; not for the tests after this one
        return Runtime(owned_settings, runtime.config), owned

    rt, owned = start()
    try:
        assert sync_live(rt) is False
        _post(client, runtime, 4, "x")  # into SQL (and the shared Redis of `client`)
        assert sync_live(rt) is True, "Redis counts fewer events than SQL holds"
        rt.close()
        release_redis(owned, settings)  # marks the figures as stopped cleanly, then stops the server
        rt, owned = start()
        assert sync_live(rt) is False, "a clean stop: the AOF holds every write, no rebuild"
        os.kill(owned.process.pid, signal.SIGKILL)  # a crash: the AOF may lack its last second
        deadline = time.monotonic() + 20
        while owned.restarts == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert owned.restarts == 1, "the owner restarts it"
        rt.redis.connection_pool.disconnect()
        assert rt.redis.hget(rt.keys.area(rt.areas.city.code), "st:dispatched"), "the AOF gave the figures back"
        assert sync_live(rt) is True, "but they are rebuilt, though the counts agree"
    finally:
        rt.close()
        release_redis(owned, settings)


def test_the_owner_restarts_a_dead_server_and_sets_a_broken_aof_aside(tmp_path):
    server = EmbeddedRedis(tmp_path).start().keep_alive()
    try:
        client = redis_lib.Redis.from_url(server.url)
        client.set("k", "v")
        client.config_set("appendfsync", "always")
        client.set("k2", "v2")
        first = server.process.pid
        server.process.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 20
        while (server.restarts < 1 or not server._responds()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.process.pid != first and client.get("k2") == b"v2", "same socket, same data"

        for aof in (tmp_path / "appendonlydir").glob("*.incr.aof"):
            aof.write_bytes(b"*2\r\n$3\r\nFOO\r\nthis is not an AOF\r\n" * 3)  # unreadable: not merely truncated
        server.process.send_signal(signal.SIGKILL)
        while (server.restarts < 2 or not server._responds()) and time.monotonic() < deadline + 20:
            time.sleep(0.05)
        assert server.restarts == 2 and client.ping(), "it starts empty rather than not at all"
        assert list(tmp_path.glob("set-aside-*/appendonlydir")), "the broken files are kept aside"
        client.close()
    finally:
        server.stop()
    assert server.process.poll() is not None
