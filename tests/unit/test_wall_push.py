"""A pushed wall whose connection stops taking frames (a frozen screen, a slow network) costs the
server a few frames (one queued, or what its socket's buffers hold), not every frame since; when it
reads again it gets the current picture whole, not the backlog."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading

import janus
import orjson
import pytest

from bigscreen.wall.direct import RawSend
from bigscreen.wall.hub import Pushed, Viewer
from callbacks.wall import _payload, offer


def _frames(n: int) -> list[Pushed]:
    whole = lambda k: _payload(orjson.dumps({"seq": k, "kpi": {"open": k}}).decode())  # noqa: E731
    delta = lambda k: _payload(orjson.dumps({"seq": k, "base": k - 1, "ops": [[["kpi", "open"], k]]}).decode())  # noqa: E731
    return [Pushed(k, whole(k), k - 1, delta(k)) for k in range(1, n + 1)]


def _sent(message: str) -> dict:
    return orjson.loads(orjson.loads(message)["payload"]["props"]["data"])


def test_a_connection_behind_holds_one_frame_and_then_gets_the_current_one_whole():
    async def run():
        outbound: janus.Queue[str] = janus.Queue()  # what Dash's connection sends from (dash.backends.ws)
        viewer, frames = Viewer(), _frames(300)
        outbound.async_q.put_nowait("set-up")  # the page's set-up (the polling turned off), not sent yet
        queued = [await offer(outbound.async_q, "r", viewer, f, 0.0) for f in frames[:2]]
        assert queued == [True, False] and outbound.async_q.qsize() == 2, "nothing sent yet: frame 2 waits not behind frame 1"
        for f in frames[2:299]:  # the screen stopped reading for a while
            await offer(outbound.async_q, "r", viewer, f, 0.1)
        assert outbound.async_q.qsize() == 2, "one frame held for it, however many were built"
        assert outbound.async_q.get_nowait() == "set-up" and _sent(outbound.async_q.get_nowait())["seq"] == 1
        assert await offer(outbound.async_q, "r", viewer, frames[299], 0.2)
        latest = _sent(outbound.async_q.get_nowait())
        assert latest == {"seq": 300, "kpi": {"open": 300}}, "reading again: the current frame, whole"
        assert await offer(outbound.async_q, "r", viewer, Pushed(301, "w", 300, _payload('{"seq":301,"base":300,"ops":[]}')), 0.3)
        assert _sent(outbound.async_q.get_nowait())["base"] == 300, "then deltas again"
        outbound.close()
        await outbound.wait_closed()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a loop of its own (Playwright's may run in this thread)
        pool.submit(asyncio.run, run()).result(30)


@pytest.mark.parametrize("straight", [True, False], ids=["to-the-socket", "through-asgi-send"])
def test_a_connection_that_stops_reading_holds_up_its_own_writes_not_the_servers_memory(straight):
    """Frames handed to a pushed wall's `ConnectionWriter` (as the hub hands them, one after the other,
    never waiting) on a real uvicorn server: while the wall's socket reads nothing, its write waits once
    the connection's buffers are full (uvicorn's flow control), and the frames built meanwhile are not
    queued: the newest is kept. When the wall reads again it gets that one, whole (it missed the ones
    between), and later frames go on as they come. The same whether the frames go straight to the socket
    (bigscreen.wall.direct, as under the app) or through the ASGI send."""
    import base64
    import os
    import socket
    import time

    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from tests_support import LiveServer, free_port

    from callbacks.wall import ConnectionWriter

    big = "x" * 100_000  # frames of 100 KB: 40 MB in all, far beyond what the sockets' buffers hold
    frames = [Pushed(k, _payload(orjson.dumps({"seq": k, "pad": big}).decode()), k - 1,
                     _payload(orjson.dumps({"seq": k, "base": k - 1, "ops": [], "pad": big}).decode())) for k in range(1, 402)]
    state: dict = {}
    resume = threading.Event()

    async def wall(websocket):
        await websocket.accept()
        writer = state["writer"] = ConnectionWriter(websocket, "r")
        for f in frames[:400]:
            writer.offer(f)  # as the hub's pass does: returns at once
            state["offered"] = f.seq
            await asyncio.sleep(0.002)
        while not resume.is_set():
            await asyncio.sleep(0.05)
        writer.offer(frames[400])
        with contextlib.suppress(Exception):  # until the wall goes (the test's end), 5 s at most
            await asyncio.wait_for(websocket.receive(), 5)

    def read_until(sock, marker: bytes, received: bytes) -> bytes:
        while marker not in received:
            chunk = sock.recv(1 << 20)
            assert chunk, "the connection closed"
            received += chunk
        return received

    app = Starlette(routes=[WebSocketRoute("/ws", wall)])
    server = LiveServer(RawSend(app) if straight else app, free_port()).start()
    try:
        port = int(server.url.rsplit(":", 1)[1])
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        assert b" 101 " in sock.recv(4096).split(b"\r\n", 1)[0] + b" "
        time.sleep(3)  # the wall reads nothing meanwhile
        writer = state["writer"]
        assert (writer.direct is not None) is straight
        assert state.get("offered") == 400, "the hub's pass waited for the stalled wall"
        assert writer.writing is not None and writer.newest is frames[399], "one write waits; of the rest only the newest is kept"
        sock.settimeout(10)
        received = read_until(sock, b'seq\\":400,', b"")  # reading again: what was being written, then the newest
        assert b'seq\\":400,\\"pad' in received, "the newest came whole: the wall missed its base"
        assert len(received) < 30 * 110_000, f"{len(received)} bytes: the frames built while it was stalled were queued"
        resume.set()
        received = read_until(sock, b'seq\\":401,', received)
        assert b'seq\\":401,\\"base\\":400' in received, "then deltas again"
        sock.close()
    finally:
        server.stop()
