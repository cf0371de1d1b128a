"""A pushed wall whose connection stops taking frames (a frozen screen, a slow network) costs the
server one queued frame, not every frame since; when it reads again it gets the current picture
whole, not the backlog."""

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
