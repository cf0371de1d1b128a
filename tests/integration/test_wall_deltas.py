"""Pushed frames as deltas: built by the real publisher over changing figures, stored beside each
frame in Redis, and handed by the hub to each viewer as a delta or whole."""

from __future__ import annotations

import asyncio
import concurrent.futures

import orjson
import pytest
from sqlalchemy import select
from tests_support import Officer

from bigscreen.db.models import GridWorker
from bigscreen.simulation.life import ROLE_OF
from bigscreen.wall.delta import apply
from bigscreen.wall.frame import scopes
from bigscreen.wall.hub import WHOLE_EVERY_S, FrameHub, Pushed, Viewer, frame_seq
from bigscreen.wall.publisher import FramePublisher
from callbacks.wall import _payload

ONE_COUNTER_BYTES = 400  # a pushed message when one counter moves ("a few hundred bytes", issue 14)


def _stored(runtime, scope):
    frame, delta = runtime.redis.mget([runtime.keys.frame(scope), runtime.keys.delta(scope)])
    return frame, delta


def _sorted(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _officer(runtime, account):
    from bigscreen.auth.roles import Principal, Role
    from bigscreen.db.models import User

    username = account("duty")
    with runtime.sessions() as s:
        user = s.scalar(select(User).where(User.username == username))
    return Officer(runtime, Principal("user", user.username, Role(user.role), user.area_code, user.id))


def _steps(client, runtime, account):
    """Changes of every kind a wall shows, one build apart: events (feed, map, categories, trend),
    transitions (rates, rankings), alerts raised, acknowledged and resolved, field work."""
    grids = runtime.areas.at_level(runtime.areas.grid_level)
    items = [i.code for c in runtime.config.categories for i in c.items]
    red = next(i.code for i in runtime.config.items if runtime.config.alert_level(i.code) == "red")
    desk = _officer(runtime, account)
    with runtime.sessions() as s:
        worker = s.scalars(select(GridWorker.id).where(GridWorker.role == "full_time").limit(1)).one()
    posted = iter(range(10_000))

    def post(n, grid_step=7):
        batch = [{"source_id": f"d-{(i := next(posted))}", "channel": "grid_app", "item": items[i % len(items)],
                  "grid": grids[(i * grid_step) % len(grids)].code, "description": f"第 {i} 件"} for _ in range(n)]
        assert client.post("/api/v1/events", json=batch).status_code == 200

    def move(event_id, *actions):
        for action in actions:
            body = {"role": ROLE_OF[action], "action": action}
            if action == "verify":
                body["photo_url"] = "/v.jpg"
            if action == "close":
                body["resolved_level"] = "street"
            r = client.post(f"/api/v1/events/{event_id}/transitions", json=body)
            assert r.status_code == 200, r.text

    yield lambda: post(30)  # fills the feed
    yield lambda: post(1)  # one in front of the feed, the last one gone
    yield lambda: post(3, grid_step=11)  # communities that had none
    yield lambda: move(1, "accept")
    yield lambda: move(1, "handle", "verify", "close")
    yield lambda: client.post("/api/v1/events", json={"source_id": "red-1", "channel": "hotline_12345", "item": red,
                                                      "grid": grids[3].code, "description": "燃气泄漏"})
    alert = desk.raise_by_hand("orange", "河堤渗水", runtime.areas.at_level(2)[0].code)
    yield lambda: None
    yield lambda: desk.acknowledge(alert["id"])
    yield lambda: desk.resolve(alert["id"])
    yield lambda: client.post("/api/v1/field-activities", json=[{"kind": "patrol", "worker_id": worker, "role": "grid_worker"}])
    yield lambda: None  # nothing moved but the time


def test_deltas_of_real_frames_rebuild_every_frame_exactly(client, runtime, account):
    """(a) Each scope's stored delta, applied to the frame before it (as a wall holds it, from JSON),
    gives the stored frame; the chain runs unbroken over a dozen builds of every kind of change."""
    publisher = FramePublisher(runtime)
    publisher.publish()
    held = {s.code: orjson.loads(_stored(runtime, s.code)[0]) for s in scopes(runtime)}
    assert all(_stored(runtime, code)[1] is None for code in held), "no delta before a second frame"
    splices = sizes = 0
    for step in _steps(client, runtime, account):
        step()
        publisher.alerts_changed()
        publisher.publish()
        for code in held:
            frame, delta = _stored(runtime, code)
            message = orjson.loads(delta)
            assert message["base"] == held[code]["seq"] and message["seq"] == frame_seq(frame) == held[code]["seq"] + 1
            held[code] = apply(held[code], message["ops"])
            assert _sorted(held[code]) == _sorted(orjson.loads(frame)), code
            assert orjson.dumps(held[code]) == frame, "same text, key order too"
            splices += sum(len(op) == 4 for op in message["ops"])
            sizes += len(delta) < len(frame) / 4
    assert splices and sizes >= 6 * 10, "lists changed by splices, and deltas are a fraction of their frames"


def test_one_moving_counter_costs_a_few_hundred_bytes(client, runtime):
    """(c) Bytes of the pushed message (Dash's set_props, as callbacks.wall._push sends it) when a
    patrol is recorded (one counter of the frame moves) and when an event is reported."""
    with runtime.sessions() as s:
        worker = s.scalars(select(GridWorker.id).where(GridWorker.role == "full_time").limit(1)).one()
    grid = runtime.areas.at_level(runtime.areas.grid_level)[5].code
    item = runtime.config.categories[1].items[0].code
    client.post("/api/v1/events", json=[{"source_id": f"c-{i}", "channel": "grid_app", "item": item, "grid": grid,
                                         "description": "路灯不亮"} for i in range(25)])
    publisher = FramePublisher(runtime)
    publisher.publish()
    city = runtime.areas.city.code

    def pushed() -> tuple[int, int, dict]:
        publisher.publish()
        frame, delta = _stored(runtime, city)
        message = lambda body: f'{{"type":"set_props","rendererId":"00000000-0000-0000-0000-000000000000","payload":{_payload(body)}}}'  # noqa: E731
        return len(message(delta.decode()).encode()), len(message(frame.decode()).encode()), orjson.loads(delta)

    r = client.post("/api/v1/field-activities", json={"kind": "patrol", "worker_id": worker, "role": "grid_worker"})
    assert r.status_code == 201, r.text
    patrol, whole, delta = pushed()
    moved = {tuple(op[0]) for op in delta["ops"]}
    assert moved == {("seq",), ("built_at",), ("built_ms",), ("field_work", "patrols_today")}, moved
    print(f"one counter moved: pushed message {patrol} bytes, whole frame {whole} bytes")
    assert patrol < ONE_COUNTER_BYTES < whole / 10

    assert client.post("/api/v1/events", json={"source_id": "c-new", "channel": "grid_app", "item": item, "grid": grid,
                                               "description": "路灯不亮"}).status_code == 201
    event, whole, _delta = pushed()
    print(f"one event reported: pushed message {event} bytes, whole frame {whole} bytes")
    assert event < 1500 < whole / 4


@pytest.mark.redis_cluster
def test_the_hub_hands_each_viewer_a_delta_or_the_whole_frame(client, runtime):
    """A viewer gets the whole frame when it connects, then deltas; one that skipped a frame (its
    queue of one kept only the newest) gets the whole frame again, and every viewer gets one every
    WHOLE_EVERY_S; a frame without its delta goes whole."""
    publisher = FramePublisher(runtime)
    publisher.publish()
    city = runtime.areas.city.code

    async def run():
        hub = FrameHub(runtime.settings, runtime.keys, encode=lambda text: text, health=runtime.health)
        queue = await hub.subscribe(city)
        first = await asyncio.wait_for(queue.get(), 5)
        assert first.delta is None and first.payload(None) == _stored(runtime, city)[0].decode()
        held = first.seq
        sent = []
        for _ in range(3):
            await asyncio.to_thread(publisher.publish)
            pushed = await asyncio.wait_for(queue.get(), 5)
            sent.append(pushed.payload(held))
            held = pushed.seq
        assert all(orjson.loads(p).get("ops") is not None for p in sent), "held the previous frame: deltas"
        for _ in range(2):  # a slow screen: two frames arrive before it takes one
            await asyncio.to_thread(publisher.publish)
            await asyncio.sleep(0.3)
        pushed = await asyncio.wait_for(queue.get(), 5)
        assert pushed.base != held and "ops" not in orjson.loads(pushed.payload(held)), "skipped one: the whole frame"
        hub.unsubscribe(city, queue)
        if hub._task is not None:
            await asyncio.wait_for(hub._task, 5)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a loop of its own (Playwright's may run in this thread)
        pool.submit(asyncio.run, run()).result(60)
    stale = Pushed(7, "whole", 5, "delta")
    assert (stale.payload(5), stale.payload(6), stale.payload(None)) == ("delta", "whole", "whole")
    viewer, frames = Viewer(), [Pushed(n, f"whole {n}", n - 1, f"delta {n}") for n in range(1, 6)]
    sent = [viewer.payload(frames[0], 0.0), viewer.payload(frames[1], 1.0), viewer.payload(frames[3], 2.0),
            viewer.payload(frames[4], WHOLE_EVERY_S - 0.5), viewer.payload(frames[4], WHOLE_EVERY_S + 2.0)]
    assert sent == ["whole 1", "delta 2", "whole 4", "delta 5", "whole 5"], "whole: first, after a skip, and now and then"
    runtime.redis.set(runtime.keys.delta(city), b'{"seq":1,"base":0,"ops":[]}')  # a delta to another frame
    assert FrameHub(runtime.settings, runtime.keys)._pushed(_stored(runtime, city)[0], _stored(runtime, city)[1]).delta is None
