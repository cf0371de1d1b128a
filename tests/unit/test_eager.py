"""`start_eagerly`: a coroutine run in the caller's stack until it ends or first waits, then carried on
by a task from where it waits (how the wall's hub writes a frame to a thousand connections in one pass)."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from bigscreen.wall.eager import start_eagerly


@pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_a_coroutine_runs_in_place_and_only_what_waits_becomes_a_task(run):
    async def main():
        steps: list[str] = []

        async def quick():
            steps.append("quick")

        assert start_eagerly(quick()) is None and steps == ["quick"], "done in place, before the caller goes on"

        gate = asyncio.Event()

        async def slow():
            steps.append("began")
            await gate.wait()
            steps.append("resumed")
            await asyncio.sleep(0)
            return "written"

        task = start_eagerly(slow())
        assert task is not None and steps[-1] == "began", "ran up to where it waits"
        await asyncio.sleep(0.01)
        assert steps[-1] == "began" and not task.done(), "and waits there"
        gate.set()
        assert await task == "written" and steps == ["quick", "began", "resumed"]

        async def broken():
            raise ConnectionError("gone")

        with pytest.raises(ConnectionError):
            start_eagerly(broken())

        held, closed = asyncio.Event(), []

        async def held_up():
            try:
                await held.wait()
            finally:
                closed.append(True)

        task = start_eagerly(held_up())
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert closed == [True], "cancelled while it waits: the coroutine is closed where it waited"

    run(main())
