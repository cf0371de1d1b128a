"""The app on a real Redis Cluster (tests/cluster_support.py): every key it writes lands in the one slot of
its hash tag, on one master (the others hold none of them), and /readyz says which master is away."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient
from redis.cluster import key_slot
from test_live_counters import _post_history
from tests_support import login

from bigscreen.jobs.leader import LeaderLock
from bigscreen.jobs.reconcile import reconcile
from bigscreen.jobs.watch import mark_verified
from bigscreen.process.runtime import Runtime
from bigscreen.process.settings import Settings
from bigscreen.wall.publisher import FramePublisher


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("redis_kind", ["cluster"], indirect=True)
def test_every_key_the_app_writes_lands_in_the_slot_of_its_tag(client, web, runtime, account, redis_cluster_group):
    _post_history(client, runtime, n=30)
    reconcile(runtime, datetime.now(timezone.utc))
    assert LeaderLock(runtime.redis, runtime.keys.leader).try_lead()
    publisher = FramePublisher(runtime, is_leader=lambda: True)
    publisher.publish()
    publisher.publish()  # a frame and its delta from the one before
    mark_verified(runtime)
    duty = account("duty")
    assert login(web, duty, "not the password").status_code == 401, "refused: a failure counted in the limits"
    assert login(web, duty).status_code == 303, "signed in: a session"

    slot = key_slot(runtime.keys.live.encode())
    held = {}
    for name in redis_cluster_group.processes:
        with redis_cluster_group.client(name) as node:
            held[name] = [k.decode() for k in node.scan_iter(count=1000)]
    home = redis_cluster_group.node_of_slot(slot)
    assert all(not keys for name, keys in held.items() if name != home), "the other masters hold none of the app's keys"
    assert {key_slot(k.encode()) for k in held[home]} == {slot}
    keys = runtime.keys
    for expected in (keys.area(runtime.areas.city.code), keys.map_open, keys.deadlines, keys.ticker, keys.schema,
                     keys.live, keys.leader, keys.frame(runtime.areas.city.code), keys.delta(runtime.areas.city.code)):
        assert expected in held[home], expected
    assert any(k.startswith(keys.limits) for k in held[home]), "the login limits' windows"
    assert any(k.startswith(keys.session("")) for k in held[home]), "the session"
    assert any(k.startswith(keys.retired("")) for k in held[home]) is False, "the reconcile's retired keys deleted"


def test_readyz_names_a_cluster_master_that_is_away(tmp_path, test_config, city_plan):
    from cluster_support import RedisClusterGroup

    from bigscreen.app import create_app
    from bigscreen.geo.citybuild import store_city
    from bigscreen.process.datadir import prepare_database

    group = RedisClusterGroup(tmp_path / "cluster").start()
    rt = Runtime(Settings(data_dir=tmp_path / "data", redis_cluster=group.nodes), test_config)
    try:
        prepare_database(rt)
        with rt.sessions() as session, session.begin():
            store_city(session, city_plan)
        with TestClient(create_app(rt).server, follow_redirects=False) as web:
            assert LeaderLock(rt.redis, rt.keys.leader).try_lead()
            FramePublisher(rt, is_leader=lambda: True).publish()
            ready = web.get("/readyz")
            assert ready.status_code == 200, ready.json()
            home = group.node_of_slot(key_slot(rt.keys.live.encode()))
            other = next(name for name in group.processes if name != home)
            group.kill(other)
            down = web.get("/readyz")
            assert down.status_code == 503
            assert down.json()["failed"] == ["redis"], "the app's own keys are on a master that answers"
            error = down.json()["checks"]["redis"]["error"]
            assert f"127.0.0.1:{group.ports[other]}" in error and "does not answer" in error, error
            assert web.get("/healthz").status_code == 200, "the process itself still answers"
    finally:
        rt.close()
        group.stop()
