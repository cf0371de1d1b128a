"""Spreads the connections of one shared listening socket over `bigscreen serve`'s workers.

uvicorn's workers share the listening socket, and each worker's loop accepts whatever is pending
when it wakes: the worker already awake takes the connections that come together (two opened at
once landed on the same worker in 9 runs of 10, on two idle workers). Long-lived keep-alive
connections (a gateway relaying reports, a batch importer, nginx's upstream keepalive) then load
one worker while the other cores wait. Here a worker that holds connections waits a moment before
it takes another, the longer the more it holds, so that a worker holding fewer takes it first; if
none does, it takes it after the wait. A burst (more than BURST connections pending: a restart's
walls reconnecting) is taken at once by every worker.

Used through uvicorn's `loop` setting (`new_event_loop`); only `serve` with more than one worker uses it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct

import uvloop

log = logging.getLogger(__name__)
STEP_S = 0.002  # the wait per connection held: long enough for an idle worker's loop to wake and take it
MAX_WAIT_S = 0.02  # at most this added to a new connection's start (and only where every worker holds some)
BURST = 2  # more connections pending than this (a restart's reconnecting walls): every worker takes them at once
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


class BalancedLoop(uvloop.Loop):
    async def create_server(self, protocol_factory, host=None, port=None, *, sock=None, ssl=None, backlog=100, **kwargs):
        if sock is None or ssl is not None or sock.family not in (socket.AF_INET, socket.AF_INET6):
            return await super().create_server(protocol_factory, host, port, sock=sock, ssl=ssl, backlog=backlog, **kwargs)
        sock.listen(backlog)  # as asyncio's create_server does: uvicorn's parent binds the socket, each worker listens
        return BalancedListener(self, sock, protocol_factory)


class BalancedListener:
    """What `create_server` answers for a shared TCP socket: accepts with the wait described above.
    Holds what uvicorn uses of an asyncio Server (`close`, `wait_closed`, `sockets`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, protocol_factory) -> None:
        self._loop, self._sock, self._protocol_factory = loop, sock, protocol_factory
        sock.setblocking(False)
        self._held: list[asyncio.BaseTransport] = []
        self._task = loop.create_task(self._serve())

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return (self._sock,)

    def holding(self) -> int:
        self._held = [t for t in self._held if not t.is_closing()]
        return len(self._held)

    async def _readable(self) -> None:
        ready = self._loop.create_future()
        self._loop.add_reader(self._sock.fileno(), lambda: ready.done() or ready.set_result(None))
        try:
            await ready
        finally:
            self._loop.remove_reader(self._sock.fileno())

    async def _serve(self) -> None:
        while True:
            await self._readable()
            held = self.holding()
            if held and pending(self._sock) <= BURST:
                await asyncio.sleep(min(MAX_WAIT_S, held * STEP_S))
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue  # another worker took it, or its client gave up
            except OSError as exc:  # out of file descriptors: the pending stay queued until some close
                log.error("accepting a connection failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            try:
                transport, _ = await self._loop.connect_accepted_socket(self._protocol_factory, conn)
            except OSError as exc:
                log.warning("an accepted connection failed at once: %s", exc)
                conn.close()
                continue
            self._held.append(transport)

    def close(self) -> None:
        self._task.cancel()

    async def wait_closed(self) -> None:
        await asyncio.gather(self._task, return_exceptions=True)
