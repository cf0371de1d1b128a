"""Redis moves only with SQL, and `rebuild` from SQL gives exactly what the live path gave."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from bigscreen.jobs.rebuild import rebuild, snapshot
from bigscreen.live.kpi import ints
from bigscreen.simulation.life import ROLE_OF

STEPS = [("accept", {}), ("start", {}), ("handle", {}), ("verify", {"photo_url": "/media/v.jpg"}),
         ("close", {"resolved_level": "grid"}), ("rate", {"rating": 3})]


def _post_history(client, runtime, n=120, seed=7):
    rng = random.Random(seed)
    grids = runtime.areas.at_level(runtime.areas.grid_level)
    items = [i.code for c in runtime.config.categories for i in c.items]
    now = datetime.now(timezone.utc)
    batch = []
    for i in range(n):
        g = rng.choice(grids)
        batch.append({"source_id": f"h-{i}", "channel": rng.choice(["grid_app", "hotline_12345"]), "item": rng.choice(items),
                      "urgency": rng.choice(["normal", "urgent", "critical"]), "description": f"测试事件{i}",
                      "grid": g.code, "reported_at": (now - timedelta(hours=rng.uniform(0, 100))).isoformat()})
    r = client.post("/api/v1/events", json=batch)
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    for e in events:
        steps = rng.randint(0, len(STEPS))
        reported = datetime.fromisoformat(e["reported_at"])
        for k, (action, extra) in enumerate(STEPS[:steps]):
            at = min(now, reported + timedelta(hours=(k + 1) * rng.uniform(0.1, 8)))
            r = client.post(f"/api/v1/events/{e['id']}/transitions", json={"role": ROLE_OF[action], "action": action, "at": at.isoformat(), **extra})
            assert r.status_code == 200, r.text
            reported = at
    return events


@pytest.mark.redis_cluster
def test_rebuild_equals_live_path(client, runtime):
    _post_history(client, runtime)
    now = datetime.now(timezone.utc)
    runtime.live.sweep(now, runtime.areas.chain_of)
    live = snapshot(runtime)
    assert any(k.endswith(":deadlines") for k in live) and sum(v for f, v in live[runtime.keys.area(runtime.areas.city.code)].items() if f.count(":") == 1 and f.startswith("st:")) == 120
    rebuild(runtime, now)
    rebuilt = snapshot(runtime)
    assert rebuilt == live


def _map_open(runtime) -> dict[str, int]:
    return ints(runtime.redis.hgetall(runtime.keys.map_open))  # a count back at zero is removed


def test_the_map_hash_counts_open_cases_per_community(client, runtime):
    from collections import Counter

    from sqlalchemy import select

    from bigscreen.db.models import Event

    _post_history(client, runtime, n=80, seed=5)
    now = datetime.now(timezone.utc)
    runtime.live.sweep(now, runtime.areas.chain_of)
    with runtime.sessions() as s:
        still_open = [e for e in s.scalars(select(Event)) if e.status not in ("closed", "rated")]
    community = {e.id: runtime.areas.by_id[e.grid_id].chain[3] for e in still_open}
    assert len(still_open) > 10, "the history leaves cases open, so the equality below means something"
    assert _map_open(runtime) == Counter(community[e.id] for e in still_open)


def test_kpi_matches_sql(client, runtime):
    from sqlalchemy import select

    from bigscreen.db.models import Event

    _post_history(client, runtime, n=60, seed=3)
    runtime.live.sweep(datetime.now(timezone.utc), runtime.areas.chain_of)
    with runtime.sessions() as s:
        events = s.scalars(select(Event)).all()
    closed = [e for e in events if e.status in ("closed", "rated")]
    now = datetime.now(timezone.utc)
    overdue = [e for e in events if e.status not in ("closed", "rated") and e.deadline <= now]
    kpi = client.get("/api/v1/kpi").json()
    assert kpi["open"] == len(events) - len(closed)
    assert kpi["overdue"] == len(overdue)
    assert kpi["closure_rate"] == round(len(closed) / len(events), 4)
    ontime = [e for e in closed if e.closed_at <= e.deadline]
    assert kpi["ontime_rate"] == round(len(ontime) / (len(closed) + len(overdue)), 4)
    district = runtime.areas.at_level(1)[0].code
    in_district = [e for e in events if runtime.areas.by_id[e.grid_id].chain[1] == district]
    assert client.get(f"/api/v1/kpi?area={district}").json()["total"]["reported"] == len(in_district)
    assert client.get("/api/v1/kpi?area=nowhere").status_code == 404


def _late_case(client, runtime, source_id: str) -> dict:
    """A case reported 20 days ago: past any time limit."""
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0]
    item = runtime.config.categories[0].items[0].code
    long_ago = datetime.now(timezone.utc) - timedelta(days=20)
    return client.post("/api/v1/events", json={"source_id": source_id, "channel": "grid_app", "item": item, "description": "x",
                                               "grid": grid.code, "reported_at": long_ago.isoformat()}).json()


@pytest.mark.redis_cluster
def test_overdue_sweep_counts_once_and_close_uncounts(client, runtime):
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0]
    e = _late_case(client, runtime, "late")
    now = datetime.now(timezone.utc)
    assert runtime.live.sweep(now, runtime.areas.chain_of) == 1
    assert runtime.live.sweep(now, runtime.areas.chain_of) == 0
    assert client.get(f"/api/v1/kpi?area={grid.code}").json()["overdue"] == 1
    assert _map_open(runtime) == {grid.chain[3]: 1}
    for action, extra in STEPS[:5]:
        assert client.post(f"/api/v1/events/{e['id']}/transitions", json={"role": ROLE_OF[action], "action": action, **extra}).status_code == 200
    kpi = client.get(f"/api/v1/kpi?area={grid.code}").json()
    assert kpi["overdue"] == 0 and kpi["total"]["closed"] == 1 and kpi["ontime_rate"] == 0.0
    assert _map_open(runtime) == {}


def test_illegal_transition_is_409_and_changes_nothing(client, runtime):
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0]
    item = runtime.config.categories[0].items[0].code
    e = client.post("/api/v1/events", json={"source_id": "t", "channel": "grid_app", "item": item, "description": "x", "grid": grid.code}).json()
    r = client.post(f"/api/v1/events/{e['id']}/transitions", json={"role": ROLE_OF["close"], "action": "close", "resolved_level": "grid"})
    assert r.status_code == 409 and r.json()["detail"]["status"] == "dispatched" and "accept" in r.json()["detail"]["allowed"]
    assert client.post(f"/api/v1/events/{e['id']}/transitions", json={"role": ROLE_OF["verify"], "action": "verify"}).status_code == 422
    assert client.post("/api/v1/events/999999/transitions", json={"role": ROLE_OF["accept"], "action": "accept"}).status_code == 404
    assert client.get(f"/api/v1/events/{e['id']}").json()["status"] == "dispatched"
    assert client.post(f"/api/v1/events/{e['id']}/transitions", json={"role": ROLE_OF["accept"], "action": "accept"}).status_code == 200
    assert client.post(f"/api/v1/events/{e['id']}/transitions", json={"role": ROLE_OF["accept"], "action": "accept"}).status_code == 200
    assert client.get("/api/v1/kpi").json()["total"]["by_status"]["accepted"] == 1


@pytest.mark.redis_cluster
def test_wiped_redis_is_rebuilt_at_start(client, runtime):
    from bigscreen.jobs.rebuild import wipe
    from bigscreen.jobs.watch import sync_live

    assert sync_live(runtime) is False, "an empty start: nothing to rebuild"
    _post_history(client, runtime, n=30, seed=11)
    runtime.live.sweep(datetime.now(timezone.utc), runtime.areas.chain_of)
    before = client.get("/api/v1/kpi").json()
    assert sync_live(runtime) is False, "counters agree: nothing to do"
    runtime.redis.set(runtime.keys.schema, "0")
    assert sync_live(runtime) is True, "counters of an older schema are rebuilt"
    wipe(runtime)
    assert client.get("/api/v1/kpi").json()["total"]["reported"] == 0
    assert sync_live(runtime) is True
    after = client.get("/api/v1/kpi").json()
    assert {k: after[k] for k in ("total", "open", "closure_rate")} == {k: before[k] for k in ("total", "open", "closure_rate")}


@pytest.mark.redis_cluster
def test_redispatch_moves_an_overdue_case_between_departments(client, runtime):
    e = _late_case(client, runtime, "moved")
    first = e["department"]
    other = next(d.code for d in runtime.config.departments if d.code != first)
    now = datetime.now(timezone.utc)
    assert runtime.live.sweep(now, runtime.areas.chain_of) == 1

    def dept(code):
        return {k.decode(): int(v) for k, v in runtime.redis.hgetall(runtime.keys.department(code)).items()}

    assert dept(first).get("overdue") == 1
    r = client.post(f"/api/v1/events/{e['id']}/transitions", json={"role": ROLE_OF["redispatch"], "action": "redispatch", "department": other})
    assert r.status_code == 200, r.text
    assert dept(first).get("overdue", 0) == 0 and dept(other).get("overdue") == 1
    assert dept(first).get("st:dispatched", 0) == 0 and dept(other).get("st:dispatched") == 1
    live = snapshot(runtime)
    rebuild(runtime, now)
    assert snapshot(runtime) == live


def test_a_redis_that_forgot_the_scripts_still_moves_the_wall(client, runtime):
    """Ingest sends its counter script as EVALSHA without asking first whether Redis knows it: a
    server that lost its scripts (restarted, flushed, failed over) answers NOSCRIPT, and the move
    is made all the same, its ticker entry written once, and the walls told."""
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0]
    item = runtime.config.categories[0].items[0].code
    body = {"channel": "grid_app", "item": item, "description": "楼道堆物", "grid": grid.code}
    assert client.post("/api/v1/events", json={"source_id": "known", **body}).status_code == 201
    runtime.redis.script_flush()
    woken = runtime.redis.pubsub()
    woken.subscribe(runtime.keys.changed)
    assert woken.get_message(timeout=5)["type"] == "subscribe"
    ticker_before = runtime.redis.xlen(runtime.keys.ticker)
    assert client.post("/api/v1/events", json={"source_id": "forgotten", **body}).status_code == 201
    assert client.get("/api/v1/kpi").json()["total"]["reported"] == 2
    assert runtime.redis.xlen(runtime.keys.ticker) == ticker_before + 1
    told = woken.get_message(timeout=5)
    assert told and told["type"] == "message", "the walls were not woken"
    woken.close()


def test_a_full_batch_waits_for_its_deadlines_every_case_of_it(client, runtime):
    """A batch of 1,000 new cases adds them to the deadlines in chunks (apply.lua's ZADD_CHUNK): every
    case waits for its deadline with its own score, exactly as a rebuild from SQL puts it."""
    grids = runtime.areas.at_level(runtime.areas.grid_level)
    items = [i.code for c in runtime.config.categories for i in c.items]
    batch = [{"source_id": f"full-{i}", "channel": "grid_app", "item": items[i % len(items)], "description": "楼道堆物",
              "grid": grids[i % len(grids)].code, "urgency": ("normal", "urgent")[i % 2]} for i in range(1000)]
    r = client.post("/api/v1/events", json=batch)
    assert r.status_code == 200 and r.json()["created"] == 1000, r.text
    waiting = runtime.redis.zrange(runtime.keys.deadlines, 0, -1, withscores=True)
    assert len(waiting) == 1000 and len({score for _, score in waiting}) > 1
    live = snapshot(runtime)
    rebuild(runtime, datetime.now(timezone.utc))
    assert snapshot(runtime) == live


@pytest.mark.redis_cluster
def test_every_dated_hash_expires_with_its_day_also_one_made_again(client, runtime):
    """Day and trend hashes go a fixed time after their day or hour (Contributions.expiry). The counter
    script sets that expiry on a hash that gains a field, not at every change of it: a hash emptied (every
    count back at zero) and made again by a later change gets its expiry again."""
    _post_history(client, runtime, n=40, seed=3)
    contrib, r = runtime.contributions, runtime.redis
    dated = {k.decode(): contrib.expiry(k.decode()) for k in r.scan_iter(match=f"{runtime.keys.prefix}*", count=1000)}
    dated = {k: at for k, at in dated.items() if at is not None}
    assert len(dated) > 40, "the history wrote day and trend hashes of many areas"
    assert {k: r.expiretime(k) for k in dated} == dated

    now = datetime.now(timezone.utc)
    day_key = runtime.keys.day(runtime.areas.city.code, contrib.day(now + timedelta(days=1)))  # a day nothing counted yet

    def move(delta: int) -> None:
        change = runtime.live.change_set()
        change.inc[(day_key, "cat:test")] = delta
        runtime.live.apply(change)

    move(1)
    assert r.expiretime(day_key) == contrib.expiry(day_key)
    move(1)
    assert r.expiretime(day_key) == contrib.expiry(day_key)
    move(-2)
    assert not r.exists(day_key), "a hash whose every count went back to zero is gone"
    move(1)
    assert r.hgetall(day_key) == {b"cat:test": b"1"} and r.expiretime(day_key) == contrib.expiry(day_key)
