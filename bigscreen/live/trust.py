"""Whether the live figures in Redis can be trusted, kept in Redis itself (the hash `{p}live`).

- `run_id`: the Redis server's run id (`INFO server`) the figures were last verified or rebuilt
  against. A restarted Redis has a new run id, whether it came back empty, replayed its AOF
  (which may lack its last second of writes and every write made while it was away) or was
  restored from an old snapshot: all of them fail this check. An empty Redis has no hash at all.
  So does a replica promoted by a Sentinel failover: it holds the hash as replicated from the old
  master, with the old master's run id, and may lack the old master's last acknowledged writes
  (replication is asynchronous).
- `built_at`: when (epoch s) the last rebuild began reading SQL.
- `lost_at`: the latest time a process failed to reach Redis (reported once it answers again).
  Writes it failed to make were committed to SQL before that moment, so a rebuild that began
  later covers them; until one has, the figures are not trusted.
- `clean`: set by the owner of an embedded Redis just before stopping it while the figures were
  trusted, so the next start may trust the AOF as it is (see `bigscreen.jobs.watch.sync_live`).

Who watches the verdict and repairs: bigscreen.jobs.watch.
"""

from __future__ import annotations

import logging

import redis

from bigscreen.live.keys import Keys

log = logging.getLogger(__name__)
CLOCK_MARGIN_S = 1.0  # processes on other hosts compare their clocks: a loss this close to a rebuild is not covered

_LOST = """
local old = tonumber(redis.call('hget', KEYS[1], 'lost_at') or '0')
if tonumber(ARGV[1]) > old then redis.call('hset', KEYS[1], 'lost_at', ARGV[1]) end
return 0
"""



def run_id(client: redis.Redis | redis.RedisCluster, key: str = "") -> str:
    """The run id of the master `client` reaches for `key` (on a cluster, the master of its slot, where every
    key of the app lives: `Settings.key_prefix`). A server that is not master (a demoted master an old
    connection still reaches, after a Sentinel or cluster failover) is no place to read or verify figures:
    its connections are dropped, so the next asks the sentinels (or the cluster) again, and ConnectionError
    is raised."""
    if isinstance(client, redis.RedisCluster):
        info = client.info("server", "replication", target_nodes=client.get_node_from_key(key))
    else:
        info = client.info("server", "replication")
    if info.get("role") != "master":
        if isinstance(client, redis.RedisCluster):
            client.nodes_manager.initialize()
        else:
            client.connection_pool.disconnect(inuse_connections=False)
        raise redis.ConnectionError(f"this Redis is a {info.get('role')} now, not the master (a failover moved it)")
    return str(info["run_id"])


def read_marker(client: redis.Redis, key: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in client.hgetall(key).items()}


def distrust(marker: dict[str, str], current_run_id: str, *, at_start: bool = False) -> str | None:
    """Why the figures of the Redis with `current_run_id` cannot be trusted, or None if they can.
    `at_start`: a clean stop of the embedded Redis also counts (its AOF holds every write)."""
    if not marker.get("run_id"):
        return "Redis holds no verified figures (it came back empty, or was wiped)"
    if marker["run_id"] != current_run_id and not (at_start and marker.get("clean") == marker["run_id"]):
        return "Redis restarted or failed over since its figures were last verified (its data may be old)"
    if float(marker.get("lost_at", 0)) + CLOCK_MARGIN_S >= float(marker.get("built_at", 0)):
        return "live writes were lost while Redis was away"
    return None


def mark_clean_stop(client: redis.Redis, keys: Keys) -> None:
    """Before a clean stop of the embedded Redis: its AOF will hold every write, so the next start
    may trust it as it is, if the figures are trusted now."""
    try:
        current = run_id(client, keys.live)
        if distrust(read_marker(client, keys.live), current) is None:
            client.hset(keys.live, "clean", current)
    except redis.RedisError as exc:
        log.warning("could not mark the live figures as cleanly stopped (%s); the next start rebuilds them", exc)


def report_loss(client: redis.Redis, key: str, at: float) -> None:
    """Writes made by this process before `at` may be missing from Redis."""
    client.eval(_LOST, 1, key, repr(at))
