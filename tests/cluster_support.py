"""A real Redis Cluster on loopback: three masters (no replicas), each a redis-server process with
`--cluster-enabled yes` on a random port (and a random bus port), the 16,384 slots split in three
(CLUSTER ADDSLOTSRANGE) and the nodes introduced to each other (CLUSTER MEET) by hand, as
`redis-cli --cluster create` would."""

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

MASTERS = 3
SLOTS = 16384
NODE_TIMEOUT_MS = 2000
READY_TIMEOUT_S = 30.0


class RedisClusterGroup:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}

    # -- starting and stopping ------------------------------------------------------------------------
    def start(self) -> RedisClusterGroup:
        names = [f"node{n}" for n in range(1, MASTERS + 1)]
        buses = {}
        for name in names:
            buses[name] = self._server(name)
        self._wait_answering(names)
        step = SLOTS // MASTERS
        for i, name in enumerate(names):
            last = SLOTS - 1 if i == MASTERS - 1 else (i + 1) * step - 1
            with self.client(name) as node:
                node.execute_command("CLUSTER ADDSLOTSRANGE", i * step, last)
        with self.client(names[0]) as first:
            for name in names[1:]:
                first.execute_command("CLUSTER MEET", "127.0.0.1", self.ports[name], buses[name])
        self._wait_ok(names)
        return self

    def _server(self, name: str) -> int:
        """Starts one node; returns its cluster bus port."""
        port, bus = free_port(), free_port()
        self.ports[name] = port
        where = self.directory / name
        where.mkdir(parents=True)
        log = (self.directory / f"{name}.out").open("wb")
        self.processes[name] = subprocess.Popen(
            [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(where), "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", "--cluster-enabled", "yes",
             "--cluster-config-file", str(where / "nodes.conf"), "--cluster-port", str(bus),
             "--cluster-node-timeout", str(NODE_TIMEOUT_MS)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return bus

    def _wait_answering(self, names: list[str]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        for name in names:
            while True:
                assert self.processes[name].poll() is None, f"{name} exited: {self.output(name)}"
                try:
                    with self.client(name) as node:
                        node.ping()
                    break
                except (redis.RedisError, OSError):
                    if time.monotonic() > deadline:
                        raise AssertionError(f"{name} did not answer within {READY_TIMEOUT_S} s") from None
                    time.sleep(0.05)

    def _wait_ok(self, names: list[str]) -> None:
        """Until every node says the cluster is ok and knows every other node."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = "nothing asked yet"
        while time.monotonic() < deadline:
            try:
                states = []
                for name in names:
                    with self.client(name) as node:
                        info = node.cluster("INFO")
                    states.append((info.get("cluster_state"), int(info.get("cluster_known_nodes", 0))))
                if all(state == "ok" and known == len(names) for state, known in states):
                    return
                last = repr(states)
            except (redis.RedisError, OSError) as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise AssertionError(f"the cluster did not settle within {READY_TIMEOUT_S} s: {last}")

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

    def flush(self) -> None:
        """Empties every master (between tests)."""
        for name in self.processes:
            if self.processes[name].poll() is None:
                with self.client(name) as node:
                    node.flushall()

    # -- what the tests ask ---------------------------------------------------------------------------
    @property
    def nodes(self) -> str:
        """BIGSCREEN_REDIS_CLUSTER for this cluster."""
        return ",".join(f"127.0.0.1:{port}" for port in self.ports.values())

    def client(self, name: str) -> redis.Redis:
        """A plain client of one node, for `with` (one attempt, no retries)."""
        return redis.Redis(host="127.0.0.1", port=self.ports[name], socket_timeout=1, socket_connect_timeout=1,
                           retry=Retry(NoBackoff(), 0))

    def node_of_slot(self, slot: int) -> str:
        return f"node{min(slot // (SLOTS // MASTERS), MASTERS - 1) + 1}"

    def kill(self, name: str) -> None:
        os.kill(self.processes[name].pid, signal.SIGKILL)
        self.processes[name].wait(10)

    def output(self, name: str) -> str:
        path = self.directory / f"{name}.out"
        return path.read_text(errors="replace") if path.exists() else ""
