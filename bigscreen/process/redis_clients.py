"""Every Redis client of the process is made here, from its settings: on `BIGSCREEN_REDIS_URL`, or on
whichever server the sentinels (`BIGSCREEN_REDIS_SENTINELS`) name master.

A sentinel-made client asks the sentinels for the master's address whenever it opens a connection,
and drops its connections when the address moved, so after a failover every part (the process's
pool, the watch's probe, the short-lived clients, the wall's async client) talks to the new master.
A connection that finds the old master demoted (READONLY) fails as a ConnectionError, like one that
finds it dead. Whether the new master's figures can be trusted is the watch's question
(bigscreen.jobs.watch, bigscreen.live.trust): its run id is not the one they were verified against.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel as async_sentinel
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from bigscreen.live.health import GuardedPool, GuardedSentinelPool, RedisHealth
from bigscreen.process.settings import Settings

SENTINEL_TIMEOUT_S = 1.0  # a sentinel that does not answer within this is passed over for the next one


class _SentinelMaster(redis.Redis):
    """A client of the sentinels' master that also closes its connections to the sentinels."""

    def close(self) -> None:
        manager = self.connection_pool.sentinel_manager
        try:
            super().close()
        finally:
            manager.close()


class _AsyncSentinelMaster(aioredis.Redis):
    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        manager = self.connection_pool.sentinel_manager
        try:
            await super().aclose(close_connection_pool)
        finally:
            await manager.aclose()


def _sentinel_options(settings: Settings, timeout_s: float | None, retry: Any) -> dict[str, Any]:
    timeout = SENTINEL_TIMEOUT_S if timeout_s is None else min(timeout_s, SENTINEL_TIMEOUT_S)
    options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry": retry}
    if settings.redis_sentinel_password:
        options["password"] = settings.redis_sentinel_password.get_secret_value()
    return options


def _master_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {"db": settings.redis_db}
    if settings.redis_password:
        options["password"] = settings.redis_password.get_secret_value()
    return options


def _require(settings: Settings) -> None:
    if not settings.redis_configured:
        raise RuntimeError("no Redis: set BIGSCREEN_REDIS_URL or BIGSCREEN_REDIS_SENTINELS, "
                           "or start through `bigscreen demo`/`serve`")


def redis_client(settings: Settings, *, timeout_s: float, health: RedisHealth | None = None,
                 **options: Any) -> redis.Redis:
    """A client with its own pool. With `health`, the pool is guarded (bigscreen.live.health): it
    refuses at once while Redis is known to be down, and notes every failed connection."""
    _require(settings)
    options |= {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s}
    if health is not None:
        options["health"] = health
    if settings.redis_url:
        pool = (GuardedPool if health is not None else redis.ConnectionPool).from_url(settings.redis_url, **options)
        return redis.Redis.from_pool(pool)
    sentinels = Sentinel(settings.sentinel_addresses,
                         sentinel_kwargs=_sentinel_options(settings, timeout_s, Retry(NoBackoff(), 0)))
    pool_class = GuardedSentinelPool if health is not None else SentinelConnectionPool
    return sentinels.master_for(settings.redis_sentinel_master, redis_class=_SentinelMaster,
                                connection_pool_class=pool_class, **_master_options(settings), **options)


def follow_master(client: redis.Redis) -> None:
    """Under Sentinel: asks the sentinels where the master is now, and drops the client's idle
    connections to any other server (those in use are dropped when they come back). A connection
    finds a dead master by itself, but a master demoted alive (`SENTINEL FAILOVER`, a partition) keeps
    answering, and taking writes, until the sentinels reconfigure it, seconds later. Raises
    MasterNotFoundError (a ConnectionError) while they name none. On a URL: nothing."""
    pool = client.connection_pool
    if isinstance(pool, SentinelConnectionPool):
        pool.get_master_address()


async def master_moved(client: aioredis.Redis) -> bool:
    """`follow_master` for an asyncio client: whether the master moved from where the client's
    connections were made (its idle ones are dropped; a subscription must be made anew)."""
    pool = client.connection_pool
    if not isinstance(pool, async_sentinel.SentinelConnectionPool):
        return False
    before = pool.master_address
    await pool.get_master_address()
    return before is not None and pool.master_address != before


def async_redis_client(settings: Settings) -> aioredis.Redis:
    """An asyncio client (the wall's push channel: a subscription and reads of ready frames)."""
    from redis.asyncio.retry import Retry as AsyncRetry

    _require(settings)
    if settings.redis_url:
        return aioredis.Redis.from_url(settings.redis_url)
    sentinels = async_sentinel.Sentinel(settings.sentinel_addresses,
                                        sentinel_kwargs=_sentinel_options(settings, None, AsyncRetry(NoBackoff(), 0)))
    return sentinels.master_for(settings.redis_sentinel_master, redis_class=_AsyncSentinelMaster,
                                **_master_options(settings))
