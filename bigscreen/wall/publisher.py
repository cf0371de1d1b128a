"""Builds the frames of the scopes being shown when figures move, coalesced, and every scope's at
least once a second.

Frames are stored in Redis (`{p}frame:{scope}`, with a TTL so a dead publisher shows as stale
data, not as fresh) and sent on `{p}frames` (`announce`), so any number of web workers and viewers
share one build. Each frame carries a number (`seq`, first in its JSON); beside it is stored what
changed since this publisher's previous frame of the scope (`{p}delta:{scope}`,
bigscreen.wall.delta), made once here for every viewer: the hub pushes it to the walls that hold
the previous frame, the whole frame to the others. Only the leader's publisher builds (see bigscreen.jobs.schedule): the others wait
without a subscription.

What a change rebuilds is the scopes some web worker shows now, pushed or polled (`{p}watched`,
kept by bigscreen.wall.hub): a command centre watches the city and a district or two, not every
district at once. Every scope is built once a second all the same (a wall or tablet opening any
scope finds a frame at most that old, and `/readyz` the city's): the scopes shown first, the others in a
build of their own after them. Builds for changes are spaced by
the latest worker's push lag (`{p}push_lag`, 0.1 s at least): a worker that cannot write ten frames
a second to its viewers gets fewer, each on time.

Alerts are the one part of a frame that lives in SQL. The publisher keeps the unresolved ones in
memory and reads again only those it is told changed: every alert change publishes the alert's
id on `{p}alerts`, then "alerts" on `{p}changed`, after its commit (bigscreen.alerts.desk.announce,
supervision, whistles), and the publisher reads those alerts by id and merges them into what it
holds (a read of every unresolved alert cost ~50 ms with thousands open, four times a second
while emergencies were reported). It reads them all at its start, when it (re)subscribes (it may
have missed messages), after a rebuild, and once a minute anyway; when an alert it held is
resolved while more than it holds are open, it reads the next ones beyond the last it holds. A frame build itself never reads SQL. An alert change
does not wait out the spacing of builds for ordinary events: it is built as soon as it arrives,
unless a build ran in the last 100 ms (so there are never more than ten builds a second).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable

import orjson
import redis
from sqlalchemy.exc import SQLAlchemyError

from bigscreen.alerts.desk import LIVE_STATUSES, announced_ids
from bigscreen.geo.totals import area_totals
from bigscreen.process import metrics
from bigscreen.process.runtime import Runtime
from bigscreen.wall.delta import diff
from bigscreen.wall.frame import ALERTS_READ, ScopePlan, Ticker, WallAlert, build_frames, plan, scopes, wall_alerts

log = logging.getLogger(__name__)
MIN_INTERVAL_S = 0.1  # at most ten builds a second of the scopes shown, however fast events arrive
MAX_INTERVAL_S = 1.0  # and of every scope one a second at least, for clocks and ages
FRAME_TTL_S = 600
ALERTS_RETRY_S = 5.0  # the database did not answer: keep the last alerts, try again after this
ALERTS_REFRESH_S = 60.0  # and read them again this often anyway, should a message ever be lost
UNTRUSTED_WAIT_S = 0.25  # how often a publisher held back by an outage looks again
ALERTS_READ_ALL = (b"rebuild",)  # `changed` payloads after which every alert is read again
WATCHED_READ_S = 1.0  # how often the scopes shown (`{p}watched`) and the workers' lag (`{p}push_lag`) are read again
LAG_HOLDS_S = 5.0  # a worker's told lag counts this long (a worker that stopped is forgotten after it)


class FramePublisher:
    PLANS_EVERY_S = 60.0  # what each scope shows (areas, people and workforce totals) is read again this often,
    # and at once when the process's area tree is replaced (a new map: bigscreen.jobs.watch)
    def __init__(self, rt: Runtime, is_leader: Callable[[], bool] = lambda: True) -> None:
        self.rt = rt
        self.is_leader = is_leader
        self._plans: list[ScopePlan] | None = None
        self._planned_areas = None  # the area tree the plans were made from
        self.plans_read_at = 0.0
        self._alerts: list[WallAlert] = []
        self._alerts_stale = True  # read them all at the first build
        self._alerts_whole = False  # what is held is every unresolved alert (fewer than ALERTS_READ)
        self._changed_ids: set[int] = set()  # alerts announced as changed since the last read
        self._alerts_next = 0.0  # monotonic time of the next read of all even without a change
        self._alerts_channel = rt.keys.alerts.encode()
        # frames are numbered from a random start, so a wall that holds a frame of another publisher
        # (a leader before a failover) never takes this one's delta for its own
        self._seq = secrets.randbits(40)
        self._last: dict[str, dict] = {}  # the last frame built per scope, which the next delta starts from
        self._watched: set[str] = set()  # the scopes shown now, as last read
        self._ticker = Ticker()  # the feed's recent entries, decoded; read again whole with the alerts
        self._watched_next = 0.0  # monotonic time of the next read of them
        self.spacing = MIN_INTERVAL_S  # between builds for changes: the latest worker's push lag, within the bounds

    def alerts_changed(self, *ids: int) -> None:
        """These alerts (without ids: every alert) are read from SQL again before the next build
        (and only then)."""
        if ids:
            self._changed_ids.update(ids)
        else:
            self._alerts_stale = True
            self._ticker.forget()  # read again whole too: a rebuild, a new subscription

    def _alerts_pending(self) -> bool:
        return self._alerts_stale or bool(self._changed_ids)

    def _refresh_alerts(self) -> None:
        if self._alerts_stale or time.monotonic() >= self._alerts_next:
            self._alerts_stale = False  # a change announced while reading marks them stale again
            self._changed_ids.clear()
            try:
                self._alerts = wall_alerts(self.rt)
                self._alerts_whole = len(self._alerts) < ALERTS_READ
                self._alerts_next = time.monotonic() + ALERTS_REFRESH_S
            except SQLAlchemyError as exc:  # the figures go on; the alerts shown stay as they were
                log.warning("frame publisher: alerts not read (%s); showing the last ones", exc)
                self._alerts_next = time.monotonic() + ALERTS_RETRY_S
            return
        if not self._changed_ids:
            return
        ids, self._changed_ids = self._changed_ids, set()
        held = {a.shown["id"]: a for a in self._alerts}
        # every place taken, and more beyond: an alert not held that ranks after the last held cannot be
        # shown, and is not read (under a storm of emergencies, most new alerts; a third of the publisher's time)
        last = self._alerts[-1].rank if not self._alerts_whole and len(self._alerts) >= ALERTS_READ else None
        try:
            if last is None:
                read = wall_alerts(self.rt, ids=sorted(ids))
            else:
                mine, others = sorted(i for i in ids if i in held), sorted(i for i in ids if i not in held)
                read = ((wall_alerts(self.rt, ids=mine) if mine else [])
                        + (wall_alerts(self.rt, ids=others, before=last) if others else []))
            changed = {a.shown["id"]: a for a in read}
        except SQLAlchemyError as exc:  # read them all once the database answers again
            log.warning("frame publisher: alerts not read (%s); showing the last ones", exc)
            self._alerts_next = time.monotonic() + ALERTS_RETRY_S
            return
        gone = False
        for alert_id in ids:
            alert = changed.get(alert_id)
            if alert is not None and alert.shown["status"] in LIVE_STATUSES:
                held[alert_id] = alert
            elif held.pop(alert_id, None) is not None:
                gone = True
        alerts = sorted(held.values(), key=lambda a: a.rank)
        if gone and not self._alerts_whole and len(alerts) < ALERTS_READ:
            # the next unresolved alerts beyond those held take the places of those that went: read
            # only those (with thousands open, reading them all again at each resolve was a third of the
            # publisher's time in the soak)
            try:
                more = wall_alerts(self.rt, after=alerts[-1].rank if alerts else None, limit=ALERTS_READ - len(alerts))
            except SQLAlchemyError as exc:
                log.warning("frame publisher: alerts not read (%s); showing the last ones", exc)
                self._alerts_next = time.monotonic() + ALERTS_RETRY_S
                more = []
            else:
                self._alerts_whole = len(more) < ALERTS_READ - len(alerts)
            alerts += [a for a in more if a.shown["id"] not in held]
        else:
            self._alerts_whole = self._alerts_whole and len(alerts) < ALERTS_READ
        self._alerts = alerts[:ALERTS_READ]

    def _drain(self, pubsub, message) -> None:
        """Everything that arrived meanwhile is covered by one build; notes which alerts changed."""
        while message is not None:
            if message["channel"] == self._alerts_channel:
                try:
                    self.alerts_changed(*announced_ids(message["data"]))
                except ValueError:
                    self.alerts_changed()
            elif message["data"] in ALERTS_READ_ALL:
                self.alerts_changed()
            message = pubsub.get_message(timeout=0)

    def watched(self) -> set[str]:
        """The scopes some web worker shows now (read at most every WATCHED_READ_S; the expired ones are
        dropped), and with them the spacing of builds for changes: as long as the latest worker's push lag
        (its frames' median age when it got them, `{p}push_lag`), between MIN_INTERVAL_S and MAX_INTERVAL_S.
        Workers with more viewers than their cores can write to (thousands on two cores) get fewer frames,
        each on time, instead of every frame later and later."""
        if time.monotonic() >= self._watched_next:
            now = time.time()
            pipe = self.rt.redis.pipeline(transaction=False)
            pipe.zremrangebyscore(self.rt.keys.watched, "-inf", now)
            pipe.zrangebyscore(self.rt.keys.watched, now, "+inf")
            pipe.hgetall(self.rt.keys.push_lag)
            _, members, told = pipe.execute()
            self._watched = {m.decode() for m in members}
            lags, gone = [], []
            for worker, value in told.items():
                try:
                    lag, at = (float(x) for x in value.split())
                except ValueError:
                    lag, at = 0.0, 0.0
                if now - at <= LAG_HOLDS_S:
                    lags.append(lag)
                else:
                    gone.append(worker)
            if gone:
                self.rt.redis.hdel(self.rt.keys.push_lag, *gone)
            self.spacing = min(MAX_INTERVAL_S, max([MIN_INTERVAL_S, *lags]))
            self._watched_next = time.monotonic() + WATCHED_READ_S
        return self._watched

    def publish(self, only: set[str] | None = None, besides: set[str] = frozenset()) -> dict[str, bytes]:
        """Builds and stores the frames of the scopes named in `only` (default: every scope) but those in
        `besides` now; returns them by scope code."""
        started = time.perf_counter()
        if (self._plans is None or time.monotonic() - self.plans_read_at >= self.PLANS_EVERY_S
                or self.rt.areas is not self._planned_areas):  # a new map (bigscreen.jobs.watch reloaded it)
            with self.rt.sessions() as session:  # people and workforce change with an import: read them again
                totals = area_totals(session)
            self._planned_areas = self.rt.areas
            self._plans = [plan(self.rt, s, totals) for s in scopes(self.rt)]
            self._ticker.forget()  # and the feed's entries whole, once a minute, should they have been replaced
            self._last = {p.scope.code: self._last[p.scope.code] for p in self._plans if p.scope.code in self._last}
            self.plans_read_at = time.monotonic()
        plans = [p for p in self._plans if (only is None or p.scope.code in only) and p.scope.code not in besides]
        if not plans:
            return {}
        self._refresh_alerts()
        now = self.rt.clock()  # the frame's time: just before its figures are read (after the alerts from SQL)
        self._seq += 1
        built = {code: {"seq": self._seq, **frame} for code, frame in build_frames(self.rt, plans, now, self._alerts, self._ticker).items()}
        frames = {code: orjson.dumps(frame) for code, frame in built.items()}
        pipe = self.rt.redis.pipeline(transaction=False)
        announced: list[bytes] = []
        for code, body in frames.items():
            pipe.set(self.rt.keys.frame(code), body, ex=FRAME_TTL_S)
            last, delta = self._last.get(code), b""
            if last is not None:  # what changed since this publisher's last frame of the scope, for every viewer holding it
                delta = orjson.dumps({"seq": self._seq, "base": last["seq"], "ops": diff(last, built[code])})
                pipe.set(self.rt.keys.delta(code), delta, ex=FRAME_TTL_S)
            announced += (code.encode(), body, delta)
        pipe.publish(self.rt.keys.frames, announce(announced))
        pipe.execute()
        self._last.update(built)  # stored: the next delta of each scope starts from it
        metrics.frame_build_seconds.observe(time.perf_counter() - started)
        return frames

    def run(self, stop: threading.Event) -> None:
        """Until `stop`: wait for a change (or a second), build, repeat; survives Redis outages.
        While `is_leader()` is false it builds nothing and checks again every second."""
        pubsub = None
        every = last_change = 0.0  # `every`: when every scope was last built
        while not stop.is_set():
            try:
                if not self.is_leader():
                    if pubsub is not None:
                        pubsub.close()  # a follower's subscription would only pile up unread changes
                        pubsub = None
                    stop.wait(MAX_INTERVAL_S)
                    continue
                if not self.rt.areas.by_code:  # no city yet: its import reloads the areas (bigscreen.jobs.watch)
                    stop.wait(MAX_INTERVAL_S)
                    continue
                if not self.rt.health.trusted:
                    # Redis away, or its figures not yet rebuilt (bigscreen.jobs.watch): walls keep their
                    # last frame and show its age rather than figures that are wrong
                    stop.wait(UNTRUSTED_WAIT_S)
                    continue
                if pubsub is None:
                    pubsub = self.rt.redis.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(self.rt.keys.changed, self.rt.keys.alerts)
                    self.alerts_changed()  # whatever changed while nobody listened
                wait = max(0.0, every + MAX_INTERVAL_S - time.monotonic())
                message = pubsub.get_message(timeout=wait)
                changed = message is not None
                if changed:
                    self._drain(pubsub, message)
                    # only builds for changes are spaced out: the once-a-second one must not
                    # make the next event wait. An alert does not wait out the workers' spacing
                    # (it ends the pause when it arrives), only MIN_INTERVAL_S since the last
                    # build: never more than ten builds a second, whatever arrives.
                    # Until MIN_INTERVAL_S has passed nothing can be built: the thread sleeps, and reads what
                    # came meanwhile after it, at once (woken by every message, under a stream of reports it
                    # took a core's tenth doing little else)
                    while not stop.is_set():
                        gap = MIN_INTERVAL_S if self._alerts_pending() else self.spacing
                        now = time.monotonic()
                        left = last_change + gap - now
                        if left <= 0:
                            break
                        pause = last_change + MIN_INTERVAL_S - now
                        if pause > 0:
                            stop.wait(pause)
                            self._drain(pubsub, pubsub.get_message(timeout=0))
                        else:  # a longer spacing (viewers' lag): an alert ends it as it arrives
                            self._drain(pubsub, pubsub.get_message(timeout=left))
                if time.monotonic() - every >= MAX_INTERVAL_S:
                    every = time.monotonic()
                    if changed:
                        last_change = every
                    # the scopes shown first, as soon as a build for a change would have them; then the others
                    # (for a wall or tablet that opens one, and /readyz), which would have held them back
                    shown = self.watched()
                    self.publish(shown)
                    self.publish(besides=shown)
                elif changed:  # a change within the second: the scopes shown now
                    scopes = self.watched()
                    last_change = time.monotonic()  # spaced from when builds begin, after the scopes are read
                    self.publish(scopes)
                # else: woke before the second was up with nothing changed (a subscription's reply)
            except redis.RedisError as exc:
                log.warning("frame publisher: %s; retrying", exc)
                if pubsub is not None:
                    with contextlib.suppress(redis.RedisError, OSError):
                        pubsub.close()
                pubsub = None
                stop.wait(1.0)
            except Exception:  # a fault of ours must not stop the walls' frames for good: logged, tried again
                log.exception("frame publisher: a build failed; trying again in a second")
                stop.wait(1.0)
        if pubsub is not None:
            pubsub.close()


def announce(parts: list[bytes]) -> bytes:
    """The message on `{p}frames`: scope, frame and delta (empty if none) of each frame built, one after
    the other, newline-separated (JSON as orjson writes it holds no newline): the web workers' hubs
    push them as they come, without reading them back from Redis (bigscreen.wall.hub.announced)."""
    return b"\n".join(parts)


def read_frame(rt: Runtime, scope: str) -> bytes | None:
    return rt.redis.get(rt.keys.frame(scope))
