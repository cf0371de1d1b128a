"""How late a web worker's event loop runs: every request, every frame pushed and every websocket
ping of the worker waits for the loop, so a loop held up (by CPU-bound work in it, or by threads
holding the GIL) is a centre whose walls fall behind and whose connections time out. A timer asks
to wake every `EVERY_S` and the lateness is observed into `bigscreen_event_loop_lag_seconds`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from bigscreen.process import metrics

EVERY_S = 0.25


async def _watch() -> None:
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time() + EVERY_S
        await asyncio.sleep(EVERY_S)
        metrics.loop_lag_seconds.observe(max(0.0, loop.time() - asked))


@contextlib.asynccontextmanager
async def watched_loop() -> AsyncIterator[None]:
    """Observes the running loop's lateness while the block runs (a worker's lifespan)."""
    task = asyncio.create_task(_watch(), name="loop-lag")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
