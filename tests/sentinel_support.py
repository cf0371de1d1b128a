"""A real Redis Sentinel deployment on loopback: a master, a replica and three sentinels, each a
redis-server process on a random port, quick to notice a dead master (down after 1 s)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from tests_support import free_port

from bigscreen.live.server import redis_binary

MASTER_NAME = "bigscreen"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 4000
READY_TIMEOUT_S = 30.0


class SentinelGroup:
    def __init__(self, directory: Path, *, password: str | None = None, sentinel_password: str | None = None) -> None:
        """`password`: the master's and replica's `requirepass`; `sentinel_password`: the sentinels'."""
        self.directory = directory
        self.password = password
        self.sentinel_password = sentinel_password
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}

    # -- starting and stopping ------------------------------------------------------------------------
    def start(self) -> SentinelGroup:
        master = self._server("master")
        self._server("replica", "--replicaof", "127.0.0.1", str(master))
        for n in (1, 2, 3):
            self._sentinel(f"sentinel{n}", master)
        self._wait_ready()
        return self

    def _spawn(self, name: str, args: list[str]) -> None:
        log = (self.directory / f"{name}.out").open("wb")
        self.processes[name] = subprocess.Popen([redis_binary(), *args], stdin=subprocess.DEVNULL, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def _server(self, name: str, *extra: str) -> int:
        port = self.ports[name] = free_port()
        where = self.directory / name
        where.mkdir(parents=True)
        auth = ["--requirepass", self.password, "--masterauth", self.password] if self.password else []
        self._spawn(name, ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(where), "--save", "",
                           "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", *auth, *extra])
        return port

    def _sentinel(self, name: str, master_port: int) -> None:
        port = self.ports[name] = free_port()
        where = self.directory / name
        where.mkdir(parents=True)
        conf = where / "sentinel.conf"  # a sentinel rewrites its file: one each
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir \"{where}\"\nloglevel notice\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
            + (f"sentinel auth-pass {MASTER_NAME} {self.password}\n" if self.password else "")
            + (f"requirepass {self.sentinel_password}\nsentinel sentinel-pass {self.sentinel_password}\n"
               if self.sentinel_password else ""))
        self._spawn(name, [str(conf), "--sentinel"])

    def _wait_ready(self) -> None:
        """Until the replica follows the master and every sentinel knows the replica and the two others."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = "nothing asked yet"
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                assert process.poll() is None, f"{name} exited: {self.output(name)}"
            try:
                with self.client("replica") as replica:
                    link = replica.info("replication").get("master_link_status")
                states = []
                for n in (1, 2, 3):
                    with self.client(f"sentinel{n}") as sentinel:
                        states.append(sentinel.sentinel_master(MASTER_NAME))
                if link == "up" and all(s["num-slaves"] >= 1 and s["num-other-sentinels"] == 2 for s in states):
                    return
                last = f"replica link {link}; sentinels {[(s['num-slaves'], s['num-other-sentinels']) for s in states]}"
            except (redis.RedisError, OSError) as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise AssertionError(f"the sentinel group did not settle within {READY_TIMEOUT_S} s: {last}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    # -- what the tests ask ---------------------------------------------------------------------------
    @property
    def sentinels(self) -> str:
        """BIGSCREEN_REDIS_SENTINELS for this group."""
        return ",".join(f"127.0.0.1:{self.ports[f'sentinel{n}']}" for n in (1, 2, 3))

    def client(self, name: str) -> redis.Redis:
        """A plain client of one member, for `with` (one attempt, no retries)."""
        password = self.sentinel_password if name.startswith("sentinel") else self.password
        return redis.Redis(host="127.0.0.1", port=self.ports[name], password=password, socket_timeout=1,
                           socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))

    def master_port(self) -> int | None:
        """The master's port as a majority of the sentinels name it now (None: no majority)."""
        named = []
        for n in (1, 2, 3):
            try:
                with self.client(f"sentinel{n}") as sentinel:
                    address = sentinel.sentinel_get_master_addr_by_name(MASTER_NAME)
                named.append(int(address[1]) if address else None)
            except (redis.RedisError, OSError):
                named.append(None)
        best = max(set(named), key=named.count)
        return best if named.count(best) >= 2 else None

    def name_of(self, port: int) -> str:
        return next(name for name, p in self.ports.items() if p == port)

    def kill(self, name: str) -> None:
        os.kill(self.processes[name].pid, signal.SIGKILL)
        self.processes[name].wait(10)

    def wait_failover(self, old_port: int, limit_s: float) -> int:
        """The new master's port once a majority of sentinels name another server and it says it is master."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            port = self.master_port()
            if port not in (None, old_port):
                try:
                    with self.client(self.name_of(port)) as server:
                        if server.info("replication")["role"] == "master":
                            return port
                except (redis.RedisError, OSError):
                    pass
            time.sleep(0.05)
        logs = "\n".join(self.output(f"sentinel{n}")[-1500:] for n in (1, 2, 3))
        raise AssertionError(f"no failover within {limit_s} s:\n{logs}")

    def wait_role(self, name: str, role: str, limit_s: float) -> None:
        """Until member `name` says it is a `role` ("master", "slave")."""
        deadline = time.monotonic() + limit_s
        seen = None
        while time.monotonic() < deadline:
            try:
                with self.client(name) as server:
                    seen = server.info("replication")["role"]
            except (redis.RedisError, OSError) as exc:
                seen = repr(exc)
            if seen == role:
                return
            time.sleep(0.1)
        raise AssertionError(f"{name} is still {seen}, not {role}, {limit_s} s on")

    def output(self, name: str) -> str:
        path = self.directory / f"{name}.out"
        return path.read_text(errors="replace") if path.exists() else ""
