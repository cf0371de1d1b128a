"""Every Redis client of a process comes from its settings (bigscreen.process.redis_clients): on a
URL, or on the master a real Sentinel group names, with the master's password and database and the
sentinels' own password."""

from __future__ import annotations

import asyncio

import pytest
import redis
from sentinel_support import MASTER_NAME, SentinelGroup

from bigscreen.live.health import RedisHealth
from bigscreen.process.redis_clients import async_redis_client, redis_client
from bigscreen.process.settings import Settings


@pytest.fixture(scope="module")
def guarded_group(tmp_path_factory):
    group = SentinelGroup(tmp_path_factory.mktemp("sentinel-group"), password="master-secret",
                          sentinel_password="sentinel-secret")
    try:
        yield group.start()
    finally:
        group.stop()


def test_sync_and_async_clients_reach_the_master_by_its_password_and_database(guarded_group):
    settings = Settings(redis_sentinels=guarded_group.sentinels, redis_sentinel_master=MASTER_NAME,
                        redis_sentinel_password="sentinel-secret", redis_password="master-secret", redis_db=3)
    client = redis_client(settings, timeout_s=2, health=RedisHealth())
    try:
        client.set("bs:written-by", "sync")
    finally:
        client.close()

    async def write_async() -> None:
        aclient = async_redis_client(settings)
        try:
            await aclient.set("bs:async", "yes")
        finally:
            await aclient.aclose()

    asyncio.run(write_async())
    with redis.Redis(host="127.0.0.1", port=guarded_group.ports["master"], password="master-secret", db=3) as master:
        assert master.get("bs:written-by") == b"sync" and master.get("bs:async") == b"yes"


def test_a_wrong_sentinel_password_fails_as_a_redis_outage(guarded_group):
    settings = Settings(redis_sentinels=guarded_group.sentinels, redis_sentinel_master=MASTER_NAME,
                        redis_sentinel_password="wrong", redis_password="master-secret")
    client = redis_client(settings, timeout_s=2)
    try:
        with pytest.raises(redis.ConnectionError, match="No master found"):  # answered 503, as Redis away
            client.ping()
    finally:
        client.close()
