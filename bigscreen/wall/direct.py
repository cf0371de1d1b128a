"""Pushed frames written straight to a connection's socket, each message one websocket text frame.

The hub hands a frame to hundreds of connections in one pass. Through the ASGI `send`, each write
paid for Starlette's checks, the message encoded to UTF-8 again for every viewer, the websocket
frame built and joined, and a coroutine: more CPU than the socket's write itself, on the event loop
that also answers the API (docs/BENCHMARKS.md). uvicorn's websocket protocol (`websockets-sansio`,
its default) writes whatever it has to send at once, so a whole message written to its transport
between two of its own writes is one more frame, in order.

`RawSend` (outermost, bigscreen.app) notes the server's own `send` in a websocket's scope; `text_writer`
finds uvicorn's protocol behind it and answers a function that writes a message there and then:
`head` (a connection's own start of every message), the payload as made once for every viewer, and
the closing brace. It declines (False) whenever the protocol is not simply open: its writes paused (the
peer stopped reading: the caller's ASGI send then waits, as before), closing or closed; and there is
no such function (None) under another server or implementation, or with compression
(permessage-deflate, `BIGSCREEN_WS_DEFLATE`), where the ASGI send does it all as before.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.protocol import Protocol, State

RAW_SEND = "bigscreen.raw_send"
FIN_TEXT = 0x81  # RFC 6455 5.2: the last (only) frame of a text message; a server's frames are not masked


class RawSend:
    """Keeps the server's `send` of each websocket in its scope (`RAW_SEND`), for `text_writer`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[RAW_SEND] = send
        await self.app(scope, receive, send)


def text_writer(scope: Scope, head: bytes) -> Callable[[bytes | str], bool] | None:
    """A function writing `head + payload + b"}"` to the websocket of `scope` as one text frame, answering
    whether it did; None where that cannot be done beside the server (see the module)."""
    protocol = getattr(scope.get(RAW_SEND), "__self__", None)
    conn, transport, writable = (getattr(protocol, name, None) for name in ("conn", "transport", "writable"))
    if not isinstance(conn, Protocol) or transport is None or writable is None or conn.extensions:
        return None

    def write(payload: bytes | str) -> bool:
        if not writable.is_set() or conn.state is not State.OPEN or protocol.close_sent or transport.is_closing():
            return False
        if type(payload) is str:
            payload = payload.encode()
        transport.writelines((header(len(head) + len(payload) + 1), head, payload, b"}"))
        return True

    return write


def header(size: int) -> bytes:
    """The start of an unmasked text frame of `size` bytes (RFC 6455 5.2: 7 bits, or 16, or 64)."""
    if size < 126:
        return bytes((FIN_TEXT, size))
    if size < 1 << 16:
        return struct.pack("!BBH", FIN_TEXT, 126, size)
    return struct.pack("!BBQ", FIN_TEXT, 127, size)
