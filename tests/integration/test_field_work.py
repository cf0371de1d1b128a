"""Field work (一日两巡五访) through the API: check-ins, patrols and visits are counted per day and area in
Redis exactly as SQL counts them (on duty: distinct workers), bad input writes nothing, a role that may not
is refused, and a wiped or drifted Redis comes back exact."""

from __future__ import annotations

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bigscreen.cases.field_work import FieldActivityIn, record_field_activity
from bigscreen.db.models import Area, FieldActivity, GridWorker
from bigscreen.jobs.rebuild import rebuild, snapshot, wipe
from bigscreen.jobs.reconcile import reconcile
from bigscreen.live.field_work import WORKFORCE_FIELDS
from bigscreen.reports.figures import field_work, field_work_counters
from bigscreen.simulation.field_work import FieldWorkSimulator, plan_day


@pytest.fixture
def now(runtime) -> datetime:
    """15:00 today in the city, with the runtime's clock stopped there."""
    tz = ZoneInfo(runtime.config.city.timezone)
    at = datetime.combine(datetime.now(tz).date(), time(15, 0), tzinfo=tz)
    runtime.clock = lambda: at
    return at


def _workers(runtime) -> list[tuple[int, str, str]]:
    """(id, grid code, role) of every grid worker."""
    with runtime.sessions() as s:
        return [tuple(r) for r in s.execute(select(GridWorker.id, Area.code, GridWorker.role)
                                            .join(Area, Area.id == GridWorker.area_id).order_by(GridWorker.id))]


def _rows(runtime) -> int:
    with runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(FieldActivity))


def _day_start(runtime, moment: datetime) -> datetime:
    tz = ZoneInfo(runtime.config.city.timezone)
    return datetime.combine(moment.astimezone(tz).date(), time(0), tzinfo=tz)


def _live(runtime, code: str, moment: datetime) -> dict[str, int]:
    values = runtime.redis.hmget(runtime.keys.day(code, runtime.contributions.day(moment)), WORKFORCE_FIELDS)
    return {f: int(v or 0) for f, v in zip(WORKFORCE_FIELDS, values)}


def _assert_live_equals_sql(runtime, moment: datetime) -> int:
    """Every area's day-hash fields of `moment`'s day equal the SQL counts; returns how many areas counted."""
    counted = 0
    with runtime.engine.connect() as conn:
        for code in runtime.areas.by_code:
            want = field_work_counters(conn, runtime.areas, code, _day_start(runtime, moment))
            assert _live(runtime, code, moment) == want, code
            counted += any(want.values())
    return counted


def _post(client, **body):
    return client.post("/api/v1/field-activities", json={"role": "grid_worker", **body})


def test_posts_are_counted_per_area_as_sql_counts_them(client, runtime, now):
    rng = random.Random(7)
    workers = _workers(runtime)
    chosen = rng.sample(workers, 40)
    yesterday, long_ago = now - timedelta(days=1), now - timedelta(days=12)
    expected_city = {"wf:duty": 0, "wf:patrol": 0, "wf:visit": 0}
    for n, (worker, grid, _role) in enumerate(chosen):
        grid_field = {"grid": grid} if n % 2 else {}  # the grid is taken from the worker when left out
        r = _post(client, kind="check_in", worker_id=worker, at=(now - timedelta(hours=6, minutes=n)).isoformat(), **grid_field)
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["created"] and out["grid"] == grid and out["kind_name"] == "签到上岗" and out["area_path"][-1] == grid
        patrols, visits = rng.randint(0, 2), rng.randint(2, 6)
        batch = [{"kind": "patrol", "worker_id": worker, "role": "grid_worker", "at": (now - timedelta(hours=5 - i)).isoformat()}
                 for i in range(patrols)]
        batch += [{"kind": "visit", "worker_id": worker, "role": "grid_worker", "channel": "grid_app",
                   "at": (now - timedelta(minutes=30 + 7 * i)).isoformat(), "source_id": f"v-{worker}-{i}"}
                  for i in range(visits)]
        r = client.post("/api/v1/field-activities", json=batch)
        assert r.status_code == 201, r.text
        assert r.json()["created"] == len(batch) and [a["kind"] for a in r.json()["activities"]] == [b["kind"] for b in batch]
        expected_city = {"wf:duty": expected_city["wf:duty"] + 1, "wf:patrol": expected_city["wf:patrol"] + patrols,
                         "wf:visit": expected_city["wf:visit"] + visits}
        if n % 4 == 0:  # some field work yesterday (a kept day) and long ago (SQL only)
            for moment in (yesterday, long_ago):
                assert _post(client, kind="check_in", worker_id=worker, at=moment.isoformat()).status_code == 201
                assert _post(client, kind="patrol", worker_id=worker, at=moment.isoformat()).status_code == 201
    r = _post(client, kind="check_in", worker_id=chosen[0][0])  # already on duty: stored, not counted again
    assert r.status_code == 201 and datetime.fromisoformat(r.json()["at"]) == now

    city = runtime.areas.city.code
    assert _live(runtime, city, now) == expected_city
    assert _assert_live_equals_sql(runtime, now) > 40
    assert _assert_live_equals_sql(runtime, yesterday) > 10
    assert not runtime.redis.exists(runtime.keys.day(city, runtime.contributions.day(long_ago)))
    with runtime.engine.connect() as conn:
        assert field_work(conn, runtime.areas, city, _day_start(runtime, long_ago)) == {
            "on_duty": 10, "patrols_today": 10, "visits_today": 0}
    assert runtime.redis.scard(runtime.keys.duty(city, runtime.contributions.day(now))) == 40

    r = client.get("/api/v1/field-work")
    assert r.status_code == 200 and r.json()["on_duty"] == 40 and r.json()["patrols_per_day"] == 2
    assert r.json()["visits_today"] == expected_city["wf:visit"]

    healthy = snapshot(runtime)
    assert len(reconcile(runtime, now)) == 0, "the live path left nothing to repair"
    wipe(runtime)
    assert _live(runtime, city, now) == {"wf:duty": 0, "wf:patrol": 0, "wf:visit": 0}
    rebuild(runtime, now)
    assert snapshot(runtime) == healthy, "a wiped Redis comes back exact"
    day_key = runtime.keys.day(city, runtime.contributions.day(now))
    assert runtime.redis.ttl(day_key) > 8 * 86400 and runtime.redis.ttl(runtime.keys.duty(city, runtime.contributions.day(now))) > 8 * 86400


@pytest.mark.redis_cluster
def test_a_worker_on_duty_counts_once(client, runtime, now):
    worker, grid, _ = _workers(runtime)[3]
    chain = runtime.areas.by_code[grid].chain
    assert _post(client, kind="check_in", worker_id=worker, at=(now - timedelta(hours=7)).isoformat()).status_code == 201
    assert _post(client, kind="check_in", worker_id=worker, grid=grid).status_code == 201
    same = [{"kind": "check_in", "worker_id": worker, "role": "grid_worker", "source_id": f"c-{i}"} for i in range(3)]
    assert client.post("/api/v1/field-activities", json=same).status_code == 201
    for code in chain:
        assert _live(runtime, code, now)["wf:duty"] == 1, code
    assert _rows(runtime) == 5

    # a retry of a stored upload (same source ids) stores and counts nothing, and says so
    again = client.post("/api/v1/field-activities", json=same)
    assert again.status_code == 200, again.text
    assert again.json()["created"] == 0 and again.json()["existing"] == 3
    visit = {"kind": "visit", "worker_id": worker, "source_id": "v-1"}
    assert _post(client, **visit).status_code == 201
    retry = _post(client, **visit)
    assert retry.status_code == 200 and retry.json()["created"] is False
    assert _rows(runtime) == 6 and _live(runtime, chain[0], now) == {"wf:duty": 1, "wf:patrol": 0, "wf:visit": 1}
    assert _assert_live_equals_sql(runtime, now) == len(chain)

    # another worker of the same grid checks in from eight phones at once: on duty goes up by one, exactly
    second = next(w for w, g, _ in _workers(runtime) if g == grid and w != worker)
    body = FieldActivityIn(kind="check_in", worker_id=second, role="grid_worker")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: record_field_activity(runtime, "app", body), range(8)))
    assert all(r.created for r in results) and _rows(runtime) == 14
    for code in chain:
        assert _live(runtime, code, now)["wf:duty"] == 2, code


def test_bad_input_names_the_field_and_writes_nothing(client, runtime, now):
    workers = _workers(runtime)
    worker, grid, _ = workers[0]
    other_grid = next(g for _, g, _ in workers if g != grid)
    good = {"kind": "patrol", "worker_id": worker, "role": "grid_worker"}
    cases = [
        ({**good, "worker_id": 99_999_999}, ["body", "worker_id"], "unknown grid worker 99999999"),
        ({**good, "grid": other_grid}, ["body", "grid"], f"works in grid '{grid}', not '{other_grid}'"),
        ({**good, "grid": "nowhere"}, ["body", "grid"], "unknown grid 'nowhere'"),
        ({**good, "at": (now + timedelta(hours=1)).isoformat()}, ["body", "at"], "must not be in the future"),
        ({**good, "at": "2026-11-22T09:30:00"}, ["body", "at"], "must include a timezone"),
        ({**good, "at": "0001-01-01T00:00:00+14:00"}, ["body", "at"], "is out of range"),  # no UTC time at all
        ({**good, "at": "1999-12-31T23:00:00+08:00"}, ["body", "at"], "must not be before 2000-01-01"),
        ({**good, "worker_id": 2**40}, ["body", "worker_id"], "less than or equal to"),
        ({**good, "source_id": "a\x00b"}, ["body", "source_id"], "must not contain control characters (found U+0000)"),
        ({**good, "kind": "nap"}, ["body", "kind"], "unknown kind 'nap'; one of check_in (签到上岗)"),
        ({k: v for k, v in good.items() if k != "worker_id"}, ["body", "worker_id"], "Field required"),
        ({k: v for k, v in good.items() if k != "kind"}, ["body", "kind"], "Field required"),
        ({**good, "channel": "pigeon"}, ["body", "channel"], "Input should be"),
        ({**good, "worker": worker}, ["body", "worker"], "Extra inputs are not permitted"),
        ([good, {**good, "worker_id": 99_999_999}], ["body", 1, "worker_id"], "unknown grid worker"),
        ([good, {**good, "kind": "nap"}], ["body", 1, "kind"], "unknown kind"),
        ([good, {**good, "at": (now + timedelta(days=1)).isoformat()}], ["body", 1, "at"], "must not be in the future"),
        ([{**good, "source_id": "x"}, {**good, "source_id": "x"}], ["body", 1, "source_id"], "duplicate source_id"),
        ([good, {**good, "role": None}], ["body", 1, "role"], "Input should be a valid string"),
        ([], ["body"], "empty batch"),
    ]
    for body, loc, message in cases:
        r = client.post("/api/v1/field-activities", json=body)
        assert r.status_code == 422, (body, r.text)
        errors = r.json()["detail"]
        assert any(e["loc"] == loc and message in e["msg"] for e in errors), (loc, message, errors)
    r = client.post("/api/v1/field-activities", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body"]
    assert _rows(runtime) == 0
    assert snapshot(runtime) == {}, "nothing counted"


def test_a_role_that_may_not_is_refused(client, runtime, now):
    worker = _workers(runtime)[0][0]
    for role in ("department", "citizen", "janitor"):
        r = client.post("/api/v1/field-activities", json={"kind": "visit", "worker_id": worker, "role": role})
        assert r.status_code == 403, r.text
        assert r.json()["detail"]["loc"] == ["body", "role"] and r.json()["detail"]["roles"] == ["centre", "grid_worker"]
    batch = [{"kind": "visit", "worker_id": worker, "role": "centre"}, {"kind": "visit", "worker_id": worker, "role": "citizen"}]
    assert client.post("/api/v1/field-activities", json=batch).status_code == 403
    no_key = client.post("/api/v1/field-activities", json={"kind": "visit", "worker_id": worker, "role": "grid_worker"},
                         headers={"X-API-Key": ""})
    assert no_key.status_code == 401
    assert _rows(runtime) == 0 and snapshot(runtime) == {}
    assert client.post("/api/v1/field-activities", json=batch[:1]).status_code == 201, "the centre may record for a worker"


def test_reconcile_repairs_drifted_field_work(client, runtime, now, caplog):
    workers = _workers(runtime)[:12]
    for worker, _, _ in workers:
        for kind in ("check_in", "patrol", "visit", "visit"):
            assert _post(client, kind=kind, worker_id=worker, at=(now - timedelta(hours=2)).isoformat()).status_code == 201
    healthy = snapshot(runtime)
    day = runtime.contributions.day(now)
    city, grid = runtime.areas.city.code, workers[0][1]
    district = runtime.areas.by_code[grid].chain[1]
    community = runtime.areas.by_code[grid].chain[3]
    r, keys = runtime.redis, runtime.keys
    r.hincrby(keys.day(city, day), "wf:patrol", 3)              # a counter off by three
    r.hdel(keys.day(district, day), "wf:duty")                  # a field lost
    r.srem(keys.duty(grid, day), str(workers[0][0]))            # a worker forgotten by a duty set
    r.delete(keys.duty(community, day))                         # a whole duty set lost
    r.sadd(keys.duty(city, day), "99999999")                    # a worker SQL never saw

    with caplog.at_level(logging.WARNING, logger="bigscreen.jobs.reconcile"):
        repairs = reconcile(runtime, now)
    assert snapshot(runtime) == healthy
    assert f"{keys.day(city, day)} wf:patrol: 15 -> 12" in repairs.lines
    assert f"{keys.duty(city, day)} 99999999: removed" in repairs.lines
    assert f"{keys.duty(grid, day)} {workers[0][0]}: added" in repairs.lines
    assert runtime.redis.ttl(keys.duty(community, day)) > 8 * 86400, "a restored set expires with its day"
    assert len(reconcile(runtime, now)) == 0


def test_demo_backfills_the_day_so_far_then_follows_the_clock(runtime, now):
    sim = FieldWorkSimulator(runtime, "demo-simulator", seed=1)
    full_time = [w for w, _, role in _workers(runtime) if role == "full_time"]
    plan = plan_day(full_time, now.astimezone(runtime.tz).date(), runtime.tz, runtime.config.city.workforce, 1)
    due = [p for p in plan if p.at <= now]
    assert sim.backfill(now) == len(due) > 0
    on_duty = {p.worker_id for p in plan if p.kind == "check_in"}
    assert 0.9 * len(full_time) <= len(on_duty) < len(full_time), "about 95% check in"
    city = runtime.areas.city.code
    assert _live(runtime, city, now)["wf:duty"] == len(on_duty)
    assert _assert_live_equals_sql(runtime, now) > 0

    # started again at 15:00 (the same plan): nothing is stored or counted twice
    again = FieldWorkSimulator(runtime, "demo-simulator", seed=1)
    assert again.backfill(now) == 0 and _rows(runtime) == len(due)
    later = now + timedelta(hours=1)
    runtime.clock = lambda: later
    sent = again.tick(later)
    assert sent == sum(1 for p in plan if now < p.at <= later) > 0
    assert _rows(runtime) == len(due) + sent
    assert _assert_live_equals_sql(runtime, later) > 0
    patrols = _live(runtime, city, later)["wf:patrol"]
    assert 2 * len(on_duty) * 0.5 < patrols < 2 * len(on_duty), "about two patrols a worker by 16:00"
