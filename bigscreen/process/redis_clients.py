"""Every Redis client of the process is made here, from its settings: on `BIGSCREEN_REDIS_URL`, on
whichever server the sentinels (`BIGSCREEN_REDIS_SENTINELS`) name master, or on a Redis Cluster
(`BIGSCREEN_REDIS_CLUSTER`: redis-py's RedisCluster, sync and asyncio, which follows the slots' owners
by itself; every key then carries one hash tag, `Settings.key_prefix`, so all of them live in one slot).

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
import redis.cluster
from redis.backoff import NoBackoff
from redis.exceptions import ClusterDownError, RedisClusterException
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
        raise RuntimeError("no Redis: set BIGSCREEN_REDIS_URL, BIGSCREEN_REDIS_SENTINELS or BIGSCREEN_REDIS_CLUSTER, "
                           "or start through `bigscreen demo`/`serve`")


CLUSTER_OPTIONS = ("socket_timeout", "socket_connect_timeout", "max_connections", "retry_on_timeout",
                   "decode_responses", "client_name")


def _cluster_options(settings: Settings, options: dict[str, Any]) -> dict[str, Any]:
    """The options a RedisCluster takes from those given for one server (a node's health checks are the
    cluster client's own business)."""
    out = {k: v for k, v in options.items() if k in CLUSTER_OPTIONS}
    if settings.redis_password:
        out["password"] = settings.redis_password.get_secret_value()
    return out


class ClusterPipe(redis.cluster.ClusterPipeline):
    """redis-py's cluster pipeline with the commands it leaves out that the app's pipelines send, each
    routed as the cluster client routes it alone: PUBLISH (a cluster carries a message to every node's
    subscribers), EVAL and EVALSHA (to the slot of their keys), MGET (keys of one slot)."""

    def publish(self, channel, message, **kwargs):
        return self.execute_command("PUBLISH", channel, message, **kwargs)

    def eval(self, script, numkeys, *keys_and_args):
        return self.execute_command("EVAL", script, numkeys, *keys_and_args)

    def evalsha(self, sha, numkeys, *keys_and_args):
        return self.execute_command("EVALSHA", sha, numkeys, *keys_and_args)

    def mget(self, keys, *args):
        return self.execute_command("MGET", *([keys] if isinstance(keys, (str, bytes)) else list(keys)), *args)


class _AsyncCluster(aioredis.RedisCluster):
    """redis-py's asyncio cluster client, which asks the nodes for the slots at its first command: while none
    answers, that is a ConnectionError (an outage, retried as one), not a RedisClusterException."""

    async def initialize(self, *args, **kwargs):
        try:
            return await super().initialize(*args, **kwargs)
        except RedisClusterException as exc:
            raise aioredis.ConnectionError(f"Redis Cluster: {exc}") from exc


class GuardedCluster(redis.RedisCluster):
    """A Redis Cluster client; with `health`, guarded as `Guarded` guards a pool (bigscreen.live.health): it
    refuses at once while Redis is known to be down (a command, or a pipeline at its start), and notes
    every failure to reach a node. The cluster client keeps one pool per node and follows the slots'
    owners itself (MOVED, failovers). Its pipelines are `ClusterPipe`s."""

    def __init__(self, *args, health: RedisHealth | None = None, **kwargs) -> None:
        self.health = health  # first: the constructor already asks the nodes for their slots and commands
        super().__init__(*args, **kwargs)

    def _refuse_if_down(self) -> None:
        if self.health is not None and self.health.down:
            self.health.note_failure()
            raise redis.ConnectionError(f"{self.health.why}; reconnecting in the background")

    def execute_command(self, *args, **kwargs):
        self._refuse_if_down()
        try:
            return super().execute_command(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError, ClusterDownError, OSError):
            if self.health is not None:
                self.health.note_failure()
            raise

    def pipeline(self, transaction=None, shard_hint=None) -> ClusterPipe:
        self._refuse_if_down()
        pipe = super().pipeline(transaction, shard_hint)
        pipe.__class__ = ClusterPipe  # the same object, with the commands above
        return pipe


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
    if settings.redis_cluster:
        nodes = [redis.cluster.ClusterNode(host, port) for host, port in settings.cluster_addresses]
        try:
            return GuardedCluster(startup_nodes=nodes, health=health, **_cluster_options(settings, options))
        except RedisClusterException as exc:  # no node answered: an outage, as a single Redis's first command says
            if health is not None:
                health.note_failure()
            raise redis.ConnectionError(f"Redis Cluster ({settings.redis_cluster}): {exc}") from exc
    sentinels = Sentinel(settings.sentinel_addresses,
                         sentinel_kwargs=_sentinel_options(settings, timeout_s, Retry(NoBackoff(), 0)))
    pool_class = GuardedSentinelPool if health is not None else SentinelConnectionPool
    return sentinels.master_for(settings.redis_sentinel_master, redis_class=_SentinelMaster,
                                connection_pool_class=pool_class, **_master_options(settings), **options)


def cluster_trouble(client: redis.Redis | redis.RedisCluster) -> str | None:
    """On a cluster: why it cannot serve every slot now (a master that does not answer, or one that says
    the cluster is down), or None; elsewhere None. Asks each master on its own connection, past the guard
    (a master away that holds none of the app's keys is no lost write)."""
    if not isinstance(client, redis.RedisCluster):
        return None
    states = {}
    for node in sorted(client.get_primaries(), key=lambda n: n.name):
        try:
            states[node.name] = node.redis_connection.cluster("INFO").get("cluster_state")
        except (redis.RedisError, OSError) as exc:
            return f"cluster master {node.name} does not answer ({type(exc).__name__})"
    return next((f"cluster master {name} says the cluster is {state}" for name, state in states.items() if state != "ok"), None)


def follow_master(client: redis.Redis) -> None:
    """Under Sentinel: asks the sentinels where the master is now, and drops the client's idle
    connections to any other server (those in use are dropped when they come back). A connection
    finds a dead master by itself, but a master demoted alive (`SENTINEL FAILOVER`, a partition) keeps
    answering, and taking writes, until the sentinels reconfigure it, seconds later. Raises
    MasterNotFoundError (a ConnectionError) while they name none. On a URL or a cluster: nothing (a
    cluster client follows the slots' owners by itself, on MOVED and on failed connections)."""
    pool = getattr(client, "connection_pool", None)
    if isinstance(pool, SentinelConnectionPool):
        pool.get_master_address()


async def master_moved(client: aioredis.Redis) -> bool:
    """`follow_master` for an asyncio client: whether the master moved from where the client's
    connections were made (its idle ones are dropped; a subscription must be made anew)."""
    pool = getattr(client, "connection_pool", None)
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
    if settings.redis_cluster:
        from redis.asyncio.cluster import ClusterNode

        return _AsyncCluster(startup_nodes=[ClusterNode(host, port) for host, port in settings.cluster_addresses],
                             **_cluster_options(settings, {}))
    sentinels = async_sentinel.Sentinel(settings.sentinel_addresses,
                                        sentinel_kwargs=_sentinel_options(settings, None, AsyncRetry(NoBackoff(), 0)))
    return sentinels.master_for(settings.redis_sentinel_master, redis_class=_AsyncSentinelMaster,
                                **_master_options(settings))


async def subscriber(client: aioredis.Redis | aioredis.RedisCluster, **options: Any):
    """A pub/sub of an asyncio client. On a cluster, on the master of the channel's slot (a message published
    anywhere in a cluster reaches every node's subscribers), once the client knows the slots: redis-py's
    cluster pub/sub picks its node from them without asking for them first."""
    if isinstance(client, aioredis.RedisCluster):
        await client.initialize()
    return client.pubsub(**options)
