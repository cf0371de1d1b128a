"""One scheduler among many processes: the leader lock on a real Redis, and two real
`bigscreen scheduler` processes of which exactly one runs the jobs until it dies."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import pytest
import redis as redis_lib
from apscheduler.schedulers.background import BackgroundScheduler

from bigscreen.jobs import schedule
from bigscreen.jobs.leader import LeaderLock
from bigscreen.live.keys import Keys
from bigscreen.process.runtime import Runtime
from bigscreen.process.settings import Settings

KEY = Keys().leader
LEADER_TTL_S = 6  # the setting, shorter than its default: a takeover in seconds
TAKEOVER_LIMIT_S = 2 * LEADER_TTL_S


@pytest.fixture
def redis_client(redis_url):
    c = redis_lib.Redis.from_url(redis_url)
    yield c
    c.close()


def test_one_of_two_locks_leads_and_the_other_cannot_touch_its_key(redis_client):
    a, b = LeaderLock(redis_client, KEY, ttl_s=10), LeaderLock(redis_client, KEY, ttl_s=60)
    assert a.token != b.token and str(os.getpid()) in a.token
    assert a.try_lead() and a.is_leader
    assert not b.try_lead() and not b.is_leader
    assert redis_client.get(KEY).decode() == a.token
    assert redis_client.pttl(KEY) <= 10_000, "b's try must not extend a's lock to b's TTL"
    assert not b.release() and redis_client.get(KEY).decode() == a.token
    assert a.try_lead(), "the holder renews"
    assert a.release() and not a.is_leader and redis_client.get(KEY) is None
    assert b.try_lead() and b.is_leader and redis_client.get(KEY).decode() == b.token
    assert not a.try_lead()


def test_an_expired_lock_passes_on_and_the_old_holder_stops_by_itself(redis_client):
    a, b = LeaderLock(redis_client, KEY, ttl_s=1), LeaderLock(redis_client, KEY, ttl_s=1)
    assert a.try_lead() and not b.try_lead()
    time.sleep(1.1)  # a stops renewing, as a dead or cut-off process would
    assert not a.is_leader, "no call needed: a's own clock says its lease ran out"
    assert b.try_lead() and redis_client.get(KEY).decode() == b.token
    assert not a.try_lead() and not a.is_leader


def test_a_failing_job_is_recorded_and_does_not_stop_the_others(redis_client, redis_url, test_config, monkeypatch):
    def boom(_rt):
        raise ValueError("broken job")

    monkeypatch.setattr(schedule, "JOBS", [schedule.JobSpec("boom", boom, 60), schedule.JobSpec("fine", lambda _rt: 7, 60)])
    rt = Runtime(Settings(redis_url=redis_url), test_config)  # these jobs touch Redis only
    leader, follower = LeaderLock(rt.redis, rt.keys.leader), LeaderLock(rt.redis, rt.keys.leader)
    try:
        for lock in (leader, follower):  # register() takes the lock if it is free: the first one leads
            scheduler = schedule.register(BackgroundScheduler(timezone="UTC"), rt, lock)
            for job in scheduler.get_jobs():
                if job.id != "leader":
                    job.func(*job.args)  # what the scheduler calls, without waiting for its clock
        runs = [fields for _id, fields in redis_client.xrange(rt.keys.jobs)]
        assert [(f[b"job"], f[b"owner"].decode(), f[b"result"]) for f in runs] == [
            (b"boom", leader.token, b"error"), (b"fine", leader.token, b"7")]
        assert all(datetime.fromisoformat(f[b"at"].decode()).tzinfo for f in runs)
    finally:
        leader.release()
        rt.close()


# -- two real processes ----------------------------------------------------------------


@pytest.fixture
def city_database(tmp_path, redis_url, test_config, city_plan) -> str:
    """A SQLite database holding the small test city, for processes of their own."""
    from bigscreen.geo.citybuild import store_city
    from bigscreen.process.datadir import prepare_database

    url = f"sqlite:///{tmp_path / 'city.db'}"
    rt = Runtime(Settings(data_dir=tmp_path / "data", database_url=url, redis_url=redis_url), test_config)
    prepare_database(rt)
    with rt.sessions() as session, session.begin():
        store_city(session, city_plan)
    rt.close()
    return url


def _scheduler(files: ExitStack, log: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bigscreen.cli", "scheduler"], env={**os.environ, **env},
                            stdout=files.enter_context(log.open("w")), stderr=subprocess.STDOUT)


def _pid(token: bytes | None) -> int | None:
    return int(token.decode().split(":")[1]) if token else None


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _runs(client: redis_lib.Redis, since: str = "-") -> list[tuple[int, str]]:
    """(stream time in ms, owner) of every sweep run recorded after `since`."""
    return [(int(entry_id.split(b"-")[0]), fields[b"owner"].decode())
            for entry_id, fields in client.xrange(Keys().jobs, min=since)
            if fields[b"job"] == b"sweep_deadlines"]


def test_two_scheduler_processes_run_each_job_once_and_fail_over(tmp_path, redis_client, redis_url, city_database):
    env = {"BIGSCREEN_REDIS_URL": redis_url, "BIGSCREEN_DATABASE_URL": city_database,
           "BIGSCREEN_DATA_DIR": str(tmp_path / "data"), "BIGSCREEN_LEADER_TTL_S": str(LEADER_TTL_S)}
    files, log_paths = ExitStack(), [tmp_path / "one.log", tmp_path / "two.log"]
    procs = {p.pid: p for p in (_scheduler(files, log, env) for log in log_paths)}

    def logs() -> str:
        return "".join(log.read_text() for log in log_paths)

    try:
        _wait_for(lambda: _runs(redis_client), 60, "the first sweep")
        held = redis_client.get(KEY)
        token, leader = held.decode(), _pid(held)
        assert leader in procs, token
        (follower,) = set(procs) - {leader}

        seconds, micros = redis_client.time()
        started = f"{seconds * 1000 + micros // 1000}-0"  # stream ids count Redis's milliseconds
        with redis_client.pubsub(ignore_subscribe_messages=True) as frames:
            frames.subscribe(Keys().frames)
            watch_until, builds = time.monotonic() + 12, 0
            while (left := watch_until - time.monotonic()) > 0:
                builds += frames.get_message(timeout=left) is not None
        assert all(p.poll() is None for p in procs.values()), logs()
        assert 8 <= builds <= 15, f"one publisher builds the frames about once a second, not two: {builds} in 12 s"
        runs = _runs(redis_client, started)
        assert {owner for _, owner in runs} == {token}, "only the leader runs the jobs"
        assert 2 <= len(runs) <= 3, runs
        gaps = [b - a for (a, _), (b, _) in itertools.pairwise(runs)]
        assert all(4_000 <= gap <= 6_000 for gap in gaps), f"one sweep per 5 s, not two: {gaps}"

        procs[leader].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        procs[leader].wait(10)
        _wait_for(lambda: _pid(redis_client.get(KEY)) == follower, TAKEOVER_LIMIT_S + 5, "the follower to take the lock")
        takeover = time.monotonic() - killed
        print(f"takeover after SIGKILL of the leader: {takeover:.1f} s")
        assert takeover < TAKEOVER_LIMIT_S
        new_token = redis_client.get(KEY).decode()
        _wait_for(lambda: any(owner == new_token for _, owner in _runs(redis_client)), 10, "a sweep by the new leader")

        procs[follower].send_signal(signal.SIGTERM)
        assert procs[follower].wait(20) == 0, logs()
        assert redis_client.get(KEY) is None, "a clean stop hands the lock over at once"
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(10)
        files.close()
