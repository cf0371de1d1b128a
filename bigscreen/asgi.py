"""Entry for uvicorn workers: `uvicorn --factory bigscreen.asgi:app` with BIGSCREEN_* set.

Unless BIGSCREEN_RUN_JOBS is false, every worker also runs the leader-locked scheduler and the
wall's frame publisher for as long as it serves (its ASGI lifespan); one process among all
workers and any `bigscreen scheduler` leads, the others stand by to take over.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import Lifespan

from bigscreen import jobs
from bigscreen.app import create_app
from bigscreen.runtime import Runtime
from bigscreen.settings import Settings


def app() -> FastAPI:
    rt = Runtime.open(Settings())
    server = create_app(rt).server
    if rt.settings.run_jobs:
        server.router.lifespan_context = _with_jobs(server.router.lifespan_context, rt)
    return server


def _with_jobs(inner: Lifespan[Any], rt: Runtime) -> Lifespan[Any]:
    """The app's own lifespan, with this process's scheduler around it."""

    @asynccontextmanager
    async def lifespan(server: Any) -> AsyncIterator[Any]:
        background = await asyncio.to_thread(jobs.start_background, rt)
        try:
            async with inner(server) as state:
                yield state
        finally:
            await asyncio.to_thread(background.shutdown)

    return lifespan
