"""Pushed frames written straight to the socket (bigscreen.wall.direct) under the real uvicorn `serve` runs:
a websocket client reads each as the text message the ASGI send would have made, whatever its length
(the three ways a frame states it), among the server's own messages; with compression on, nothing is
written beside the server."""

from __future__ import annotations

import asyncio

import pytest
from tests_support import SQLITE_ONLY, LiveServer, free_port
from websockets.sync.client import connect

from bigscreen.wall.direct import RawSend, text_writer

HEAD = b'{"type":"set_props","rendererId":"\xe5\xa2\x99","payload":'  # a connection's own start of every message
PAYLOADS = [b'"a"', ('"' + "网格" * 30 + '"').encode(), ('"' + "事件" * 12_000 + '"').encode()]  # < 126, < 64 KiB, more


def _app(used: list):
    async def app(scope, receive, send):
        assert scope["type"] == "websocket"
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        write = text_writer(scope, HEAD)
        used.append(write is not None)
        await send({"type": "websocket.send", "text": "through the ASGI send"})
        for payload in PAYLOADS:
            if write is None or not write(payload):
                await send({"type": "websocket.send", "text": (HEAD + payload + b"}").decode()})
        await send({"type": "websocket.send", "text": "through the ASGI send again"})
        while (await receive())["type"] != "websocket.disconnect":
            await asyncio.sleep(0)

    return RawSend(app)


@pytest.mark.parametrize("deflate", [False, True], ids=["plain", "deflated"])
def test_messages_written_straight_to_the_socket_read_as_the_asgi_send_would_have_sent_them(deflate):
    used: list[bool] = []
    port = free_port()
    server = LiveServer(_app(used), port, ws_deflate=deflate).start()
    try:
        with connect(f"ws://127.0.0.1:{port}/", max_size=None) as ws:
            got = [ws.recv(timeout=10) for _ in range(len(PAYLOADS) + 2)]
    finally:
        server.stop()
    assert used == [not deflate], "straight to the socket unless the messages are compressed"
    assert got == ["through the ASGI send", *[(HEAD + p + b"}").decode() for p in PAYLOADS], "through the ASGI send again"]


@SQLITE_ONLY
def test_the_app_keeps_the_servers_send_outermost(runtime):
    """Under the app, the `send` noted is the server's own, outside every middleware (none may wrap it)."""
    from bigscreen.app import create_app

    assert create_app(runtime).server.user_middleware[0].cls is RawSend
