"""A web worker never runs more requests' blocking work at once than its database pool can serve
(less its own threads' connections): the requests beyond wait their turn instead of each opening
a connection of its own."""

from __future__ import annotations

import asyncio
import threading
import time

from starlette.concurrency import run_in_threadpool

from bigscreen.process.worker_threads import OWN_CONNECTIONS, lend_threads


def test_requests_beyond_the_pool_wait_their_turn():
    running, most = 0, 0
    lock = threading.Lock()

    def blocking_work() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    async def requests() -> int:
        limit = lend_threads(10)
        await asyncio.gather(*(run_in_threadpool(blocking_work) for _ in range(40)))
        return limit

    assert asyncio.run(requests()) == 10 - OWN_CONNECTIONS
    assert most == 10 - OWN_CONNECTIONS, "as many at once as the pool lends, and no more"
