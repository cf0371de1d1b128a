"""Redis killed under ingest: nothing accepted is lost, the wall never answers 500, and the live
figures come back equal to SQL by themselves (issue 11, defect 2).

The embedded case runs real `bigscreen serve` processes: the parent owns the redis-server and
restarts it; a worker leads and rebuilds the figures. The external case restarts the Redis
itself (empty) under an app that must reconnect and repair (in this process: two runtimes stand
for two workers)."""

from __future__ import annotations

import os
import signal
import time

import pytest
from fault_support import SOURCE, Load, Looker, redis_server_pid, served_app, stored_ids, wait_until_equal

from bigscreen.live.server import EmbeddedRedis
from bigscreen.process.runtime import Runtime
from bigscreen.process.settings import Settings

LOAD_BEFORE_S = 2.0
LOAD_AFTER_BACK_S = 0.5  # ingest goes on through the kill and the restart, and stops before the repair can start:
# a rebuild racing live writes is issue 11's defect 4, tested on its own (tests/integration/test_rebuild*)
REPAIR_LIMIT_S = 90.0  # a bound for a hung test, not the target: the seconds are printed and benchmarked


def _no_500(looker: Looker, load: Load) -> None:
    looked, sent = looker.statuses(), load.statuses()
    assert not [k for k in looked if k[1] >= 500 and k[1] != 503], f"the wall or the figures answered an error: {looked}"
    assert not [k for k in sent if k[1] >= 500 and k[1] != 503], f"a source got an error: {sent}"
    assert all(retry for _, _, status, retry in looker.seen if status == 503), "every 503 says when to come back"
    assert all(a.retry_after for a in load.answers if a.status == 503 and a.what != "step"), "every 503 says when to come back"


def test_embedded_redis_killed_under_ingest_is_restarted_and_repaired(city_dir, serve, test_config):
    served = serve(city_dir, workers=2)
    socket = city_dir.data_dir / "redis" / "redis.sock"
    rt = Runtime(Settings(data_dir=city_dir.data_dir, redis_url=f"unix://{socket}"), test_config)
    load = Load.for_city(rt, served.url, city_dir.api_key).start()
    looker = Looker(served.url, city_dir.api_key, city_dir.wall_token).start()
    try:
        time.sleep(LOAD_BEFORE_S)
        old = redis_server_pid(socket)
        assert old, "serve runs its own redis-server in the data dir"
        signal_at = time.monotonic()
        os.kill(old, signal.SIGKILL)
        while redis_server_pid(socket) in (None, old) and time.monotonic() - signal_at < REPAIR_LIMIT_S:
            time.sleep(0.05)
        print(f"\nredis-server back {time.monotonic() - signal_at:.2f} s after the kill")
        time.sleep(LOAD_AFTER_BACK_S)
        load.stop()
        seconds = wait_until_equal(rt, signal_at, REPAIR_LIMIT_S)
        print(f"\nembedded Redis killed under ingest: figures equal SQL {seconds:.1f} s after the kill; "
              f"answers {dict(load.statuses())}")
        looker.stop()
        new = redis_server_pid(socket)
        assert new and new != old, "the owner restarted the redis-server on the same socket"
        accepted = load.accepted()
        assert accepted and accepted <= stored_ids(rt, SOURCE, load.prefix), "every event answered 2xx is stored"
        assert [a for a in load.answers if a.at > signal_at and a.status in (200, 201)], "ingest went on through the outage"
        _no_500(looker, load)
        assert any(status == 200 for at, path, status, _ in looker.seen if path == "/wall" and at > signal_at + 1), \
            "the wall loads again after the restart"
        assert served.output().count("live figures rebuilt from SQL") >= 1, served.output()[-3000:]
    finally:
        load.stop()
        looker.stop()
        rt.close()
    assert served.stop() == 0, served.output()[-3000:]
    assert redis_server_pid(socket) is None, "no redis-server left behind"


@pytest.fixture
def external_redis(tmp_path):
    """A Redis the app does not own, on a unix socket of its own (no persistence: it comes back empty)."""
    servers = [EmbeddedRedis(tmp_path / "external", persist=False).start()]
    yield servers
    for s in servers:
        s.stop()


def test_external_redis_lost_and_back_empty_is_repaired_once(tmp_path, external_redis, test_config, city_plan, caplog):
    """Two app processes (here: two runtimes, each with its scheduler, watch and frame publisher, as
    two `serve` workers have) on a Redis that is lost and comes back empty: both keep answering
    without it, and exactly one of them rebuilds the figures when it returns."""
    from bigscreen.jobs import schedule

    redis = external_redis[0]
    with served_app(tmp_path, f"sqlite:///{tmp_path / 'city.db'}", redis.url, test_config, city_plan) as app:
        other = Runtime(app.app_rt.settings, test_config)
        workers = [schedule.start_background(app.app_rt), schedule.start_background(other)]
        load = Load.for_city(app.reader, app.url, app.api_key).start()
        looker = Looker(app.url, app.api_key, app.wall_tokens[0]).start()
        caplog.set_level("WARNING", logger="bigscreen.jobs.watch")
        try:
            time.sleep(LOAD_BEFORE_S)
            redis.process.kill()
            redis.process.wait()
            down_at = time.monotonic()
            time.sleep(3.0)  # away for a while: the app answers without it
            during = [s for at, path, s, _ in looker.seen if at > down_at + 0.5]
            assert 503 in during and 500 not in during, looker.statuses()
            external_redis.append(EmbeddedRedis(redis.directory, persist=False).start())  # same socket, empty
            back_at = time.monotonic()
            time.sleep(LOAD_AFTER_BACK_S)
            load.stop()
            seconds = wait_until_equal(app.reader, back_at, REPAIR_LIMIT_S)
            print(f"\nexternal Redis back empty: figures equal SQL {seconds:.1f} s after it returned")
            looker.stop()
            assert load.accepted() <= stored_ids(app.reader, SOURCE, load.prefix)
            assert [a for a in load.answers if down_at < a.at < back_at and a.status in (200, 201)], \
                "events are accepted (into SQL) while Redis is away"
            _no_500(looker, load)
            time.sleep(2.0)  # time for a second rebuild, were there one
            rebuilds = [r for r in caplog.records if "rebuilt from SQL" in r.getMessage()]
            assert len(rebuilds) == 1, f"one rebuild by the leader, not one per process: {rebuilds}"
        finally:
            load.stop()
            looker.stop()
            for w in workers:
                w.shutdown()
            other.close()
