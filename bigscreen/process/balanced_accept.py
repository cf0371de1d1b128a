"""Spreads the connections of one shared listening socket over `bigscreen serve`'s workers.

uvicorn's workers share the listening socket, and each worker's loop accepts whatever is pending
when it wakes: the worker already awake takes the connections that come together (two opened at
once landed on the same worker in 9 runs of 10, on two idle workers). Long-lived keep-alive
connections (a gateway relaying reports, a batch importer, nginx's upstream keepalive) then load
one worker while the other cores wait.

Here the workers of one `serve` note how many connections each holds (`Holdings`: a slot each in a
small file they all map, in the directory `serve` exports as BIGSCREEN_ACCEPT_DIR). A worker that
holds more than another live worker leaves a pending connection to it, looking again every
STEP_S, and takes it itself only if it is still pending after MAX_WAIT_S (the other busy, or slow
to wake). Workers holding as many as the fewest accept at once: a balanced server adds no wait. A
burst (more than BURST connections pending: a restart's walls reconnecting) is taken at once by
every worker.

Used through uvicorn's `loop` setting (`new_event_loop`); only `serve` with more than one worker uses it.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import mmap
import os
import socket
import struct
import time
from pathlib import Path

import uvloop

log = logging.getLogger(__name__)
ACCEPT_DIR_ENV = "BIGSCREEN_ACCEPT_DIR"
SLOTS = 64  # `serve --workers` is at most this
STEP_S = 0.002  # how often a worker that leaves a connection to another looks whether it was taken
MAX_WAIT_S = 0.1  # after this it takes the connection itself
REFRESH_S = 0.25  # a worker's count is written again this often (also when an HTTP connection closes; a websocket's
# close, after the upgrade has replaced the protocol, only then)
BURST = 2  # more connections pending than this: every worker takes them at once
_COUNT = struct.Struct("i")
_TCP_INFO_UNACKED = struct.Struct("8B24I")  # struct tcp_info's head; for a listener tcpi_unacked is its accept queue


def new_event_loop() -> BalancedLoop:
    """uvicorn's `loop` setting names this (`bigscreen.process.balanced_accept:new_event_loop`)."""
    return BalancedLoop()


def pending(sock: socket.socket) -> int:
    """Connections waiting in this listening socket's accept queue (Linux: TCP_INFO's tcpi_unacked)."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_UNACKED.size)
    except OSError:
        return 0
    return _TCP_INFO_UNACKED.unpack(info)[8 + 4]  # after 8 bytes: rto, ato, snd_mss, rcv_mss, unacked


class Holdings:
    """How many connections each worker of one `serve` holds: a slot per worker in `counts`, which every
    worker maps, claimed with an exclusive lock on the slot's own file (the kernel frees it when the worker
    dies, and a slot whose lock is free is a dead worker's: not counted)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / "counts", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < SLOTS * _COUNT.size:
                os.ftruncate(fd, SLOTS * _COUNT.size)
            self._counts = mmap.mmap(fd, SLOTS * _COUNT.size)
        finally:
            os.close(fd)
        self._locks = [directory / f"{i}.lock" for i in range(SLOTS)]
        self.slot, self._held_lock = self._claim()
        self.set(0)

    def _claim(self) -> tuple[int, int]:
        for i, path in enumerate(self._locks):
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return i, fd  # held (its fd open) for the worker's life
        raise RuntimeError(f"more than {SLOTS} workers share {self._locks[0].parent}")

    def set(self, count: int) -> None:
        _COUNT.pack_into(self._counts, self.slot * _COUNT.size, count)

    def fewest_elsewhere(self) -> int | None:
        """The fewest connections another live worker holds (None: no other worker)."""
        fewest = None
        for i, path in enumerate(self._locks):
            if i == self.slot:
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                break  # slots are claimed lowest first and their files stay: none beyond
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # held: a live worker
                count = _COUNT.unpack_from(self._counts, i * _COUNT.size)[0]
                fewest = count if fewest is None else min(fewest, count)
            else:
                fcntl.flock(fd, fcntl.LOCK_UN)  # free: nobody's
            finally:
                os.close(fd)
        return fewest


class BalancedLoop(uvloop.Loop):
    async def create_server(self, protocol_factory, host=None, port=None, *, sock=None, ssl=None, backlog=100, **kwargs):
        directory = os.environ.get(ACCEPT_DIR_ENV)
        if (sock is None or ssl is not None or sock.family not in (socket.AF_INET, socket.AF_INET6)
                or not directory):
            return await super().create_server(protocol_factory, host, port, sock=sock, ssl=ssl, backlog=backlog, **kwargs)
        sock.listen(backlog)  # as asyncio's create_server does: uvicorn's parent binds the socket, each worker listens
        return BalancedListener(self, sock, protocol_factory, Holdings(Path(directory)))


class BalancedListener:
    """What `create_server` answers for a shared TCP socket: accepts as described above. Holds what
    uvicorn uses of an asyncio Server (`close`, `wait_closed`, `sockets`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, protocol_factory, holdings: Holdings) -> None:
        self._loop, self._sock, self._protocol_factory, self._holdings = loop, sock, protocol_factory, holdings
        sock.setblocking(False)
        self._held: list[asyncio.BaseTransport] = []
        self._task = loop.create_task(self._serve())
        self._refresh = loop.call_later(REFRESH_S, self._count_again)

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return (self._sock,)

    def holding(self) -> int:
        """The connections this worker holds now (its count in `Holdings` written again)."""
        self._held = [t for t in self._held if not t.is_closing()]
        self._holdings.set(len(self._held))
        return len(self._held)

    def _counted_protocol(self):
        """The server's protocol for a new connection, whose close writes this worker's count again at once (a
        stale count only ever reads high, which makes others less ready to leave it a connection)."""
        protocol = self._protocol_factory()
        lost = protocol.connection_lost

        def connection_lost(exc):
            try:
                lost(exc)
            finally:
                self.holding()

        protocol.connection_lost = connection_lost
        return protocol

    def _count_again(self) -> None:
        self.holding()
        self._refresh = self._loop.call_later(REFRESH_S, self._count_again)

    async def _readable(self) -> None:
        ready = self._loop.create_future()
        self._loop.add_reader(self._sock.fileno(), lambda: ready.done() or ready.set_result(None))
        try:
            await ready
        finally:
            self._loop.remove_reader(self._sock.fileno())

    async def _leave_to_fewer(self) -> None:
        """While another live worker holds fewer connections and the pending one is not a burst, leaves it
        to that worker, up to MAX_WAIT_S."""
        until = time.monotonic() + MAX_WAIT_S
        while time.monotonic() < until:
            waiting = pending(self._sock)
            if waiting == 0 or waiting > BURST:
                return
            fewest = self._holdings.fewest_elsewhere()
            if fewest is None or fewest >= self.holding():
                return
            await asyncio.sleep(STEP_S)

    async def _serve(self) -> None:
        while True:
            await self._readable()
            await self._leave_to_fewer()
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue  # another worker took it, or its client gave up
            except OSError as exc:  # out of file descriptors: the pending stay queued until some close
                log.error("accepting a connection failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            try:
                transport, _ = await self._loop.connect_accepted_socket(self._counted_protocol, conn)
            except OSError as exc:
                log.warning("an accepted connection failed at once: %s", exc)
                conn.close()
                continue
            self._held.append(transport)
            self._holdings.set(len(self._held))  # the closed ones leave it at the next look (`holding`)

    def close(self) -> None:
        self._refresh.cancel()
        self._task.cancel()

    async def wait_closed(self) -> None:
        await asyncio.gather(self._task, return_exceptions=True)
