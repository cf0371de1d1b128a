"""Builds every scope's frame when figures move, coalesced, and at least once a second.

Frames are stored in Redis (`{p}frame:{scope}`, with a TTL so a dead publisher shows as stale
data, not as fresh) and announced on `{p}frames`, so any number of web workers and viewers
share one build. Only the leader's publisher builds (see bigscreen.jobs): the others wait
without a subscription.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import orjson
import redis

from bigscreen.geo.totals import area_totals
from bigscreen.runtime import Runtime
from bigscreen.wall.frame import ScopePlan, build_frame, plan, scopes

log = logging.getLogger(__name__)
MIN_INTERVAL_S = 0.25  # at most four builds a second, however fast events arrive
MAX_INTERVAL_S = 1.0  # and one a second at least, for clocks and ages
FRAME_TTL_S = 600


class FramePublisher:
    def __init__(self, rt: Runtime, is_leader: Callable[[], bool] = lambda: True) -> None:
        self.rt = rt
        self.is_leader = is_leader
        self._plans: list[ScopePlan] | None = None

    def publish(self) -> dict[str, bytes]:
        """Builds and stores every scope's frame now; returns them by scope code."""
        now = self.rt.clock()
        if self._plans is None:
            with self.rt.sessions() as session:
                totals = area_totals(session)  # once: people and workforce change only with the city
            self._plans = [plan(self.rt, s, totals) for s in scopes(self.rt)]
        frames = {p.scope.code: orjson.dumps(build_frame(self.rt, p, now)) for p in self._plans}
        pipe = self.rt.redis.pipeline(transaction=False)
        for code, body in frames.items():
            pipe.set(self.rt.keys.frame(code), body, ex=FRAME_TTL_S)
        pipe.publish(self.rt.keys.frames, ",".join(frames))
        pipe.execute()
        return frames

    def run(self, stop: threading.Event) -> None:
        """Until `stop`: wait for a change (or a second), build, repeat; survives Redis outages.
        While `is_leader()` is false it builds nothing and checks again every second."""
        pubsub = None
        last = last_change = 0.0
        while not stop.is_set():
            try:
                if not self.is_leader():
                    if pubsub is not None:
                        pubsub.close()  # a follower's subscription would only pile up unread changes
                        pubsub = None
                    stop.wait(MAX_INTERVAL_S)
                    continue
                if pubsub is None:
                    pubsub = self.rt.redis.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(self.rt.keys.changed)
                wait = max(0.0, last + MAX_INTERVAL_S - time.monotonic())
                changed = pubsub.get_message(timeout=wait) is not None
                if changed:
                    while pubsub.get_message(timeout=0) is not None:
                        pass  # everything that arrived meanwhile is covered by one build
                    # only builds for changes are spaced out: the once-a-second one must not
                    # make the next event wait
                    pause = last_change + MIN_INTERVAL_S - time.monotonic()
                    if pause > 0:
                        stop.wait(pause)
                    last_change = time.monotonic()
                last = time.monotonic()
                self.publish()
            except redis.RedisError as exc:
                log.warning("frame publisher: %s; retrying", exc)
                pubsub = None
                stop.wait(1.0)
        if pubsub is not None:
            pubsub.close()


def read_frame(rt: Runtime, scope: str) -> bytes | None:
    return rt.redis.get(rt.keys.frame(scope))
