"""A web worker's event loop held up shows in `bigscreen_event_loop_lag_seconds`, which an operator
reads to tell a slow wall from a slow network."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import REGISTRY

from bigscreen.process.loop_lag import EVERY_S, watched_loop

NAME = "bigscreen_event_loop_lag_seconds"


def _seen() -> tuple[float, float]:
    return REGISTRY.get_sample_value(f"{NAME}_count") or 0.0, REGISTRY.get_sample_value(f"{NAME}_sum") or 0.0


def test_a_loop_held_up_shows_as_lag_and_a_free_one_does_not():
    async def run(hold_s: float) -> None:
        async with watched_loop():
            await asyncio.sleep(EVERY_S / 2)
            time.sleep(hold_s)  # the loop held: no timer runs meanwhile
            await asyncio.sleep(2.5 * EVERY_S)

    count0, sum0 = _seen()
    asyncio.run(run(0.0))
    count1, sum1 = _seen()
    assert count1 - count0 >= 2
    assert sum1 - sum0 < 0.1 * (count1 - count0), "a free loop runs its timers on time"
    asyncio.run(run(1.0))
    count2, sum2 = _seen()
    assert sum2 - sum1 >= 1.0 - EVERY_S, "the second held up is seen"
