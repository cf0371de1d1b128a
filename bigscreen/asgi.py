"""Entry for uvicorn workers: `uvicorn --factory bigscreen.asgi:app` with BIGSCREEN_* set.

Unless BIGSCREEN_RUN_JOBS is false, every worker also runs the leader-locked scheduler and the
wall's frame publisher for as long as it serves (its ASGI lifespan); one process among all
workers and any `bigscreen scheduler` leads, the others stand by to take over. Every worker
watches Redis either way (bigscreen.jobs.watch).
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import Lifespan

from bigscreen.app import create_app
from bigscreen.jobs import schedule
from bigscreen.jobs.watch import start_watch
from bigscreen.process import metrics
from bigscreen.process.loop_lag import watched_loop
from bigscreen.process.runtime import Runtime
from bigscreen.process.settings import Settings
from bigscreen.process.worker_threads import lend_threads

GC_YOUNG_THRESHOLD = 20_000  # allocations between collections of the youngest generation (Python's default: 700)


def app() -> FastAPI:
    rt = Runtime.open(Settings())
    server = create_app(rt).server
    wrap = _with_jobs if rt.settings.run_jobs else _with_watch
    server.router.lifespan_context = wrap(server.router.lifespan_context, rt)
    settle_heap()
    return server


def settle_heap() -> None:
    """What the worker built to serve (the Dash app, routes, the city's areas: ~200,000 objects)
    lives as long as the process: frozen out of the cyclic garbage collector, which walked all of
    it at every full collection, each ~0.1 s of CPU, several a minute under ingest load; and the
    youngest generation is collected every 20,000 allocations instead of 700, since a batch of
    1,000 events allocates that many many times over (most of it freed by reference counting)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def worker_lifespan(inner: Lifespan[Any], rt: Runtime) -> Lifespan[Any]:
    """The app's own lifespan as every web worker runs it (`serve`'s and the demo's): no more threads
    lent to requests than its database pool serves (bigscreen.process.worker_threads), and its event
    loop's lateness observed (bigscreen.process.loop_lag)."""

    @asynccontextmanager
    async def lifespan(server: Any) -> AsyncIterator[Any]:
        lend_threads(rt.settings.db_pool_size)
        async with inner(server) as state, watched_loop():
            yield state

    return lifespan


def _with_jobs(inner: Lifespan[Any], rt: Runtime) -> Lifespan[Any]:
    """The app's own lifespan, with this process's scheduler around it."""

    inner = worker_lifespan(inner, rt)

    @asynccontextmanager
    async def lifespan(server: Any) -> AsyncIterator[Any]:
        background = await asyncio.to_thread(schedule.start_background, rt)
        try:
            async with inner(server) as state:
                yield state
        finally:
            await asyncio.to_thread(background.shutdown)
            metrics.process_ended()

    return lifespan


def _with_watch(inner: Lifespan[Any], rt: Runtime) -> Lifespan[Any]:
    """Without jobs, a worker still watches Redis (bigscreen.jobs.watch): it fails fast while Redis
    is away and reports the live writes it lost, for the leader elsewhere to repair."""

    inner = worker_lifespan(inner, rt)

    @asynccontextmanager
    async def lifespan(server: Any) -> AsyncIterator[Any]:
        stop = threading.Event()
        thread = start_watch(rt, stop)
        try:
            async with inner(server) as state:
                yield state
        finally:
            stop.set()
            await asyncio.to_thread(thread.join, 5)
            metrics.process_ended()

    return lifespan
