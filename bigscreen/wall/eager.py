"""Starting a coroutine in the caller's own stack, as Python 3.12's eager tasks do, on 3.11.

The hub hands each frame to a thousand viewers' connections in one pass. A connection's write
(`websocket.send_text`) finishes without ever waiting while the connection takes data, which is
nearly always: run in place it costs a call, where a task per write and viewer cost a wake-up of
the event loop and a task step each. Only a write that does wait (its connection's buffer is full:
a screen or a network that stopped reading) becomes a task, which carries it on from where it waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any


def start_eagerly(coro: Coroutine[Any, Any, Any]) -> asyncio.Task | None:
    """Runs `coro` now until it finishes (None; its result dropped, its exception raised here) or
    first waits: then a task that finishes it, on the running loop."""
    try:
        waiting = coro.send(None)
    except StopIteration:
        return None
    task = asyncio.ensure_future(_CarriedOn(coro, waiting))
    task.add_done_callback(lambda _: coro.close())  # cancelled before its first step too: closed where it waits
    return task


class _CarriedOn:
    """`coro`, already run to its first wait on `waiting` (the future it awaits), as an awaitable a
    task can finish: the task waits on that future in its stead, then resumes the coroutine."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
        self.coro, self.waiting = coro, waiting

    def __await__(self) -> Generator[Any, None, Any]:
        yield self.waiting  # still marked as awaited (`_asyncio_future_blocking`): the task waits on it
        return (yield from self.coro.__await__())  # resumed where it waited, its future done
