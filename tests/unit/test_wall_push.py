"""A pushed wall whose connection stops taking frames (a frozen screen, a slow network) costs the
server a few frames (one queued, or what its socket's buffers hold), not every frame since; when it
reads again it gets the current picture whole, not the backlog."""

from __future__ import annotations

import asyncio
import concurrent.futures

import janus
import orjson

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


def test_a_connection_that_stops_reading_holds_up_its_own_writes_not_the_servers_memory():
    """Frames written straight to a pushed wall's connection (`_push`, as the wall's callback does) on a
    real uvicorn server: while the wall's socket reads nothing, the writes wait once the connection's
    buffers are full (uvicorn's flow control), so the server holds a few frames for it, not all of them."""
    import base64
    import os
    import socket
    import time

    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from tests_support import LiveServer, free_port

    from callbacks.wall import _connection, _push

    big = "x" * 100_000  # frames of 100 KB: 40 MB in all, far beyond what the sockets' buffers hold
    frames = [Pushed(k, _payload(orjson.dumps({"seq": k, "pad": big}).decode())) for k in range(1, 401)]
    written: list[int] = []

    class Callback:  # what Dash hands the wall's callback: its renderer, its outbound queue (unused here), whether it ended
        _renderer_id, _outbound_queue, is_shutdown = "r", object(), False

    async def wall(websocket):
        await websocket.accept()
        _connection.set(websocket)
        viewer = Viewer()
        for f in frames:
            await _push(Callback(), viewer, f, 0.0)
            written.append(f.seq)

    server = LiveServer(Starlette(routes=[WebSocketRoute("/ws", wall)]), free_port()).start()
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
        held_up = len(written)
        assert 0 < held_up < 100, f"{held_up} of 400 frames of 100 KB written to a socket that read nothing"
        got = 0
        sock.settimeout(5)
        while got < 40_000_000:  # reading again: the rest follows
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
        deadline = time.monotonic() + 5
        while len(written) < 400 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(written) == 400, "the writes went on once the wall read again"
        sock.close()
    finally:
        server.stop()
