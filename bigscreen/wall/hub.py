"""One Redis subscription per web worker, fanned out to every wall connected to that worker.

Each viewer is handed each frame in one pass over the scope's viewers (`attach`: something with
an `offer(pushed)` that takes it at once, such as the wall's connection writer, callbacks/wall.py),
or gets a queue of length one (`subscribe`). Either way a slow screen skips to the newest frame
instead of falling behind, and the server never holds more than one frame per viewer. What a viewer gets is
a `Pushed`: the frame whole, and what changed since the previous one (bigscreen.wall.delta) when
the publisher made that; `Pushed.payload` picks the delta for a viewer that holds the previous
frame, the whole frame for any other (one that just connected, or skipped a frame). `encode`
turns either into what the transport sends, once per frame for all the worker's viewers of a scope.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson
import redis.asyncio as aioredis

from bigscreen.live.health import FiguresUnavailable, RedisHealth
from bigscreen.live.keys import Keys
from bigscreen.process import metrics
from bigscreen.process.redis_clients import async_redis_client, master_moved, subscriber
from bigscreen.process.settings import Settings

log = logging.getLogger(__name__)


RETRY_MIN_S = 0.5
RETRY_MAX_S = 5.0
FOLLOW_EVERY_S = 1.0  # under Sentinel: how often the hub asks where the master is
WHOLE_EVERY_S = 15.0  # a pushed viewer gets a whole frame at least this often, deltas in between
WATCHED_EVERY_S = 5.0  # how often a worker tells the publisher again which scopes it shows ...
WATCHED_FOR_S = 15.0  # ... and for how long each telling holds (a worker that stops is forgotten after it)
LAG_EVERY_S = 1.0  # how often a worker tells the publisher how late the frames reach it (`{p}push_lag`)


class Pushed:
    """One frame as the worker pushes it: `whole` to anyone, `delta` (or None) to a viewer holding frame `base`."""

    __slots__ = ("seq", "base", "whole", "delta")

    def __init__(self, seq: int | None, whole: Any, base: int | None = None, delta: Any = None) -> None:
        self.seq, self.whole, self.base, self.delta = seq, whole, base, delta

    def payload(self, held: int | None) -> Any:
        """What to send to a viewer that holds frame number `held` (None: no frame yet)."""
        return self.delta if self.delta is not None and held is not None and held == self.base else self.whole


class Viewer:
    """What one pushed viewer holds, as far as the server knows: the number of the last frame sent
    to it, and when it last got a whole frame. A page may still miss a message (dash-renderer runs
    the wall's callback once for two values set in a row), so besides asking for a whole frame
    when it sees a gap (assets/wall.js polls once), it gets one every `WHOLE_EVERY_S` anyway: a
    wall whose session went with Redis cannot poll, and would otherwise wait for its reload."""

    __slots__ = ("held", "whole_at")

    def __init__(self) -> None:
        self.held: int | None = None
        self.whole_at = float("-inf")

    def payload(self, pushed: Pushed, now: float) -> Any:
        """What to send it now (`now`: a monotonic clock in seconds)."""
        due = now - self.whole_at >= WHOLE_EVERY_S
        out = pushed.whole if due else pushed.payload(self.held)
        if out is pushed.whole:
            self.whole_at = now
        self.held = pushed.seq
        return out

    def skipped(self) -> None:
        """A frame was not sent to it (its connection had not sent the one before yet): the next one
        it gets is whole, since a delta would start from a frame it does not hold."""
        self.held = None


def frame_seq(body: bytes) -> int | None:
    """The number a stored frame or delta opens with (`{"seq":N,...`, see bigscreen.wall.publisher)."""
    if not body.startswith(b'{"seq":'):
        return None
    end = body.find(b",", 7)
    try:
        return int(body[7:end])
    except ValueError:
        return None


class FrameHub:
    def __init__(self, settings: Settings, keys: Keys, encode: Callable[[str], Any] = lambda text: text,
                 health: RedisHealth | None = None) -> None:
        self.settings = settings
        self.keys = keys
        self.encode = encode
        self.health = health or RedisHealth()  # the process's view (bigscreen.live.health): no waiting on a dead Redis
        self._viewers: dict[str, dict[object, Callable[[Pushed], None]]] = {}  # scope -> viewer -> its offer
        self._task: asyncio.Task | None = None
        self._client: aioredis.Redis | None = None
        self._followed_at = float("-inf")
        self._moved = False
        self._watched_at: dict[str, float] = {}  # scope -> when this worker last told the publisher it shows it
        self._lags: list[float] = []  # how late the frames reached this worker since it last told
        self._lag_told = 0.0
        self._name = f"{socket.gethostname()}:{os.getpid()}"

    def viewers(self) -> int:
        return sum(len(q) for q in self._viewers.values())

    async def subscribe(self, scope: str) -> asyncio.Queue:
        """A queue of length one that gets the scope's frames, the current one first."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=1)
        await self.attach(scope, queue, lambda pushed: _offer(queue, pushed))
        return queue

    async def attach(self, scope: str, viewer: object, offer: Callable[[Pushed], None]) -> None:
        """From now on `offer(pushed)` is called with each of the scope's frames, the current one first,
        in the hub's pass over the scope's viewers: it must take it at once (keep the newest, or start
        writing it), never wait. `unsubscribe(scope, viewer)` ends it."""
        self._viewers.setdefault(scope, {})[viewer] = offer
        metrics.viewers.labels(scope).inc()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen())
        try:
            frame = await self.read(scope)
        except (aioredis.RedisError, OSError):
            frame = None  # Redis away: the first frame comes with the subscription, once it answers
        if frame is not None and self._viewers.get(scope, {}).get(viewer) is offer:
            offer(Pushed(frame_seq(frame.encode()), self.encode(frame)))

    async def read(self, scope: str) -> str | None:
        """The scope's frame as stored now (a polling viewer's refresh); raises a RedisError while
        Redis is known to be down."""
        if self.health.down:
            raise FiguresUnavailable(self.health.why)
        await self._follow()
        await self._watching(scope)
        frame = await self._redis().get(self.keys.frame(scope))
        return None if frame is None else frame.decode()

    def unsubscribe(self, scope: str, viewer: object) -> None:
        """Ends `subscribe` (given its queue) or `attach` (given its viewer)."""
        viewers = self._viewers.get(scope)
        if viewers is not None and viewer in viewers:
            del viewers[viewer]
            metrics.viewers.labels(scope).dec()
            if not viewers:
                del self._viewers[scope]

    def _redis(self) -> aioredis.Redis:
        if self._client is None:
            self._client = async_redis_client(self.settings)
        return self._client

    async def _watching(self, *scopes: str) -> None:
        """Tells the publisher these scopes are shown here (`{p}watched`), each at most every
        WATCHED_EVERY_S: it builds them at every change, the scopes nobody shows once a second."""
        now = time.monotonic()
        due = [s for s in scopes if now - self._watched_at.get(s, float("-inf")) >= WATCHED_EVERY_S]
        if not due:
            return
        until = time.time() + WATCHED_FOR_S
        await self._redis().zadd(self.keys.watched, {s: until for s in due})
        for s in due:
            self._watched_at[s] = now

    async def _tell_lag(self) -> None:
        """Every LAG_EVERY_S, the median lag of the frames handed over since (`{p}push_lag`: the publisher
        spaces its builds by the latest worker, so that a worker with more viewers than cores to write to
        them gets fewer frames rather than ever later ones)."""
        now = time.monotonic()
        if now - self._lag_told < LAG_EVERY_S or not self._lags:
            return
        self._lag_told, lag = now, statistics.median(self._lags)
        self._lags.clear()
        await self._redis().hset(self.keys.push_lag, self._name, f"{lag:.3f} {time.time():.0f}")

    async def _follow(self) -> None:
        """Under Sentinel, at most every FOLLOW_EVERY_S: notes when the master moved (a master demoted
        alive still answers, but frames are no longer built there); the subscription moves after it."""
        if time.monotonic() - self._followed_at < FOLLOW_EVERY_S:
            return
        self._followed_at = time.monotonic()
        if await master_moved(self._redis()):
            self._moved = True

    async def _listen(self) -> None:
        """Until the last viewer leaves: one subscription, fanned out; resubscribes with back-off
        while Redis is away (and each viewer keeps its last frame meanwhile)."""
        backoff = 0.0
        while self._viewers:
            if self.health.down:
                await asyncio.sleep(RETRY_MIN_S)
                continue
            pubsub = None
            try:
                pubsub = await subscriber(self._redis(), ignore_subscribe_messages=True)
                self._moved = False  # subscribed where the master is now
                await pubsub.subscribe(self.keys.frames)
                backoff = 0.0
                while self._viewers:
                    await self._follow()
                    await self._watching(*self._viewers)
                    await self._tell_lag()
                    if self._moved:
                        raise aioredis.ConnectionError("the sentinels name another master")
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    for scope, frame, delta in announced(message["data"]):
                        if scope not in self._viewers:
                            continue
                        if (lag := _observe_lag(frame)) is not None:
                            self._lags.append(lag)
                        ready = self._pushed(frame, delta)
                        for offer in list(self._viewers.get(scope, {}).values()):
                            try:
                                offer(ready)
                            except Exception:  # one viewer's fault must not stop the others' frames
                                log.exception("frame hub: a viewer did not take its frame")
            except (aioredis.RedisError, OSError) as exc:
                backoff = min(RETRY_MAX_S, max(RETRY_MIN_S, backoff * 2))
                log.warning("frame hub: %s; resubscribing in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(aioredis.RedisError, OSError):
                        await pubsub.aclose()

    def _pushed(self, frame: bytes, delta: bytes | None) -> Pushed:
        """The frame and, if it is the delta to this frame, the delta (a stale delta, as a read of the
        two keys between their writes would see, goes unused)."""
        seq = frame_seq(frame)
        if delta is None or seq is None or frame_seq(delta) != seq:
            return Pushed(seq, self.encode(frame.decode()))
        base = orjson.loads(delta)["base"]
        return Pushed(seq, self.encode(frame.decode()), base, self.encode(delta.decode()))


def announced(message: bytes) -> list[tuple[str, bytes, bytes | None]]:
    """The (scope, frame, delta or None) of each frame a `{p}frames` message brings (bigscreen.wall.publisher.announce)."""
    parts = message.split(b"\n")
    return [(parts[i].decode(), parts[i + 1], parts[i + 2] or None) for i in range(0, len(parts) - 2, 3)]


def _observe_lag(frame: bytes) -> float | None:
    """The frame's age as the worker hands it over (its `built_ms`, found without parsing the frame)."""
    at = frame.find(b'"built_ms":')
    if at < 0:
        return None
    end = frame.find(b",", at)
    try:
        lag = max(0.0, time.time() - int(frame[at + 11:end]) / 1000)
    except ValueError:
        return None
    metrics.push_lag_seconds.observe(lag)
    return lag


def _offer(queue: asyncio.Queue, frame: Any) -> None:
    """Newest frame wins: drop the one still waiting, if any."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(frame)
