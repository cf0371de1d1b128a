"""One definition of every figure: over a generated month of cases, the live figures read from
Redis equal the report figures counted in SQL, exactly, for every area level and department."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from bigscreen.cases.ingest import IngestEvents
from bigscreen.cases.ingest_writer import IngestWriter
from bigscreen.cases.mediation import MediateDispute, MediationIn
from bigscreen.cases.transition import TransitionEvent
from bigscreen.domain.lifecycle import RESOLUTION_LEVELS
from bigscreen.domain.schemas import EventIn, TransitionIn
from bigscreen.live.kpi import figures, ints, read_kpi
from bigscreen.reports.figures import area_kpi, department_counters
from bigscreen.simulation.life import ROLE_OF

HAPPY = ["accept", "start", "handle", "verify", "close", "rate"]


def _paths(rng: random.Random) -> list[str]:
    """A case's life: stopped anywhere, sent back and redispatched, reopened after a failed check."""
    if rng.random() < 0.04:
        return ["return"]
    path = HAPPY[: rng.choice([0, 1, 2, 3, 4, 5, 5, 6, 6, 6])]
    if path and rng.random() < 0.1:
        path = ["return", "redispatch", *path]
    if "verify" in path and rng.random() < 0.1:
        i = path.index("verify")
        path[i:i] = ["reopen", "handle"]
    return path


def _fields(rng: random.Random, action: str, departments: list[str]) -> dict:
    return {
        "verify": {"photo_url": "/media/v.jpg"},
        "close": {"resolved_level": rng.choice(RESOLUTION_LEVELS[:3] * 3 + RESOLUTION_LEVELS[3:])},
        "rate": {"rating": rng.choice([3, 3, 3, 2, 1])},
        "redispatch": {"department": rng.choice(departments)},
    }.get(action, {})


def _ladder(rng: random.Random) -> list[str]:
    """A dispute's mediation: failures climb the ladder until it is mediated, referred, or still open."""
    climb = ["failed"] * rng.choice([0, 0, 1, 2, 3])
    return climb + [rng.choice(["mediated", "mediated", "mediated", "referred", None])]


def generate_month(rt, now: datetime, n: int = 400, seed: int = 30, source: str = "month") -> list[int]:
    rng = random.Random(seed)
    grids = [g.code for g in rt.areas.at_level(rt.areas.grid_level)]
    items = [i.code for c in rt.config.categories for i in c.items]
    departments = [d.code for d in rt.config.departments]
    bodies = []
    for i in range(n):
        age = timedelta(hours=rng.uniform(0, 6)) if i % 8 == 0 else timedelta(days=rng.uniform(0, 30))
        bodies.append(EventIn(source_id=f"{source}-{i}", channel="grid_app", item=rng.choice(items),
                              urgency=rng.choice(["normal", "normal", "urgent", "critical"]),
                              description=f"生成事件{i}", grid=rng.choice(grids), reported_at=now - age))
    stored = []
    writer = IngestWriter(rt)
    try:
        for start in range(0, n, 200):
            chunk = bodies[start : start + 200]
            stored += [o.event for o in IngestEvents(rt, source, chunk, batch=True).run(writer)]
    finally:
        writer.close()
    disputes = {i.code for c in rt.config.categories if c.dispute for i in c.items}
    for event, body in zip(stored, bodies):
        event_id = event.id
        # the steps follow the automatic dispatch, up to a second after the report (a case reported
        # a moment before `now` once drew a first step between the two, which the case refuses)
        at = event.dispatched_at
        room = (now - at) / 12
        if body.item in disputes:
            for outcome in filter(None, _ladder(rng)):
                at = min(now, at + room * rng.uniform(0.05, 0.5))
                MediateDispute(rt, event_id, MediationIn(outcome=outcome, role="centre", at=at), actor="调解员").run()
        for action in _paths(rng):
            at = min(now, at + room * rng.uniform(0.05, 1.6))  # some steps land past the deadline
            request = TransitionIn(action=action, role=ROLE_OF[action], at=at, **_fields(rng, action, departments))
            TransitionEvent(rt, event_id, request, actor="生成器", role=ROLE_OF[action]).run()
    return [e.id for e in stored]


def test_live_figures_equal_sql_reports_over_a_month(runtime):
    # the clock at 18:00 local yesterday: "today" then holds a working day, whenever the test runs
    # (run just after local midnight, today held a few events and the test's premise failed)
    local = datetime.now(timezone.utc).astimezone(runtime.tz)
    now = (local.replace(hour=18, minute=0, second=0, microsecond=0) - timedelta(days=1)).astimezone(timezone.utc)
    runtime.clock = lambda: now
    generate_month(runtime, now)
    runtime.live.sweep(now, runtime.areas.chain_of)
    day_start = now.astimezone(runtime.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    areas = runtime.areas
    codes = [areas.city.code] + [a.code for level in range(1, areas.grid_level + 1) for a in areas.at_level(level)[:6]]
    with runtime.engine.connect() as conn:
        for code in codes:
            live = read_kpi(runtime.redis, runtime.keys, runtime.contributions, code, now)
            assert area_kpi(conn, areas, code, now, day_start) == live, code
        city = area_kpi(conn, areas, areas.city.code, now, day_start)
        for department in {d.code for d in runtime.config.departments}:
            live = figures(ints(runtime.redis.hgetall(runtime.keys.department(department))))
            assert figures(department_counters(conn, department, now)) == live, department
    # the month really exercises every figure, so the equalities above mean something
    assert city["reported_today"] > 10 and city["closed_today"] > 0 and city["overdue"] > 0
    assert 0 < city["ontime_rate"] < 1 and 0 < city["satisfaction"] < 1 and 0 < city["closure_rate"] < 1
    assert 0 < city["resolved_locally_share"] < 1 and city["avg_handling_hours"] > 0
    assert city["total"]["by_status"]["returned"] > 0
    assert 0 < city["mediation_success"] < 1 and city["total"]["mediation"]["by_rung"]["senior"] > 0
