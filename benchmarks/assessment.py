"""A month's grid-worker assessment (网格员考核) of the whole city over a demo-sized history, against the
bare SQL of its components, in the same run.

    .venv/bin/python benchmarks/assessment.py [--days 35] [--per-day 10368] [--grids 6000] [--repeat 3]

Set-up: the demo city (6,000 grids, one full-time worker each plus helpers) in a temporary SQLite
database and the demo's history size written straight into SQL: `--days` local days before today of
`--per-day` cases (the demo's 35 days at its default 0.12 reports a second: 10,368 a day), wall_env's
channel mix (54% from the grid app), 96% closed inside their limit, 2% late, 2% still open, most rated;
a supervision notice a day on each late case (三次督办, up to three); and every full-time worker's
field work of those days as the demo plans it (bigscreen.simulation.field_work.plan_day: 一日两巡五访,
95% on duty). Measured, alternately, `--repeat` times each:

- **assessment**: `build_assessment` of the last complete month for the city (every worker, five
  components, ranked within the streets), then its XLSX (the ranking and 6,000 pages) timed apart;
- **bare SQL**: the components' aggregates for the same month, the rows fetched and nothing else
  done: grid-app reports by grid; patrols and visits by worker; the month's cases by grid (closed by
  the end, on time, late at the end, rated, satisfied); notices on the grid's cases by grid.

Prints medians and the ratio assessment / bare.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select, text  # noqa: E402
from wall_env import CHANNELS, RATINGS, RESOLVED, Env  # noqa: E402

from bigscreen.db.models import Event, FieldActivity, GridWorker, SupervisionNotice  # noqa: E402
from bigscreen.reports.assessment import build_assessment  # noqa: E402
from bigscreen.reports.periods import Period, last_complete  # noqa: E402
from bigscreen.screens.assessment_xlsx import assessment_xlsx  # noqa: E402
from bigscreen.simulation.field_work import plan_day  # noqa: E402

BARE = (
    "SELECT grid_id, COUNT(*) FROM events WHERE channel = 'grid_app' AND reported_at >= :s AND reported_at < :e GROUP BY grid_id",
    ("SELECT worker_id, SUM(CASE WHEN kind = 'patrol' THEN 1 ELSE 0 END), SUM(CASE WHEN kind = 'visit' THEN 1 ELSE 0 END) "
     "FROM field_activities WHERE kind IN ('patrol', 'visit') AND at >= :s AND at < :e GROUP BY worker_id"),
    """SELECT grid_id, COUNT(*),
       SUM(CASE WHEN closed_at IS NOT NULL AND closed_at < :e THEN 1 ELSE 0 END),
       SUM(CASE WHEN closed_at < :e AND closed_at <= deadline THEN 1 ELSE 0 END),
       SUM(CASE WHEN (closed_at IS NULL OR closed_at >= :e) AND deadline < :e THEN 1 ELSE 0 END),
       SUM(CASE WHEN closed_at < :e AND rated_at < :e THEN 1 ELSE 0 END),
       SUM(CASE WHEN closed_at < :e AND rated_at < :e AND rating >= 2 THEN 1 ELSE 0 END)
       FROM events WHERE reported_at >= :s AND reported_at < :e GROUP BY grid_id""",
    ("SELECT e.grid_id, COUNT(*) FROM supervision_notices n JOIN events e ON e.id = n.event_id "
     "WHERE n.whistle_call_id IS NULL AND n.at >= :s AND n.at < :e GROUP BY e.grid_id"),
)


def history(env: Env, days: int, per_day: int, seed: int = 15) -> None:
    rt, rng = env.rt, random.Random(seed)
    now = datetime.now(UTC)
    today = now.astimezone(rt.tz).date()
    chan_k, chan_w = list(CHANNELS), list(CHANNELS.values())
    items = [(i.code, c.code) for c in rt.config.categories for i in c.items]
    weights = [c.weight / len(c.items) for c in rt.config.categories for _ in c.items]
    t0, n = time.perf_counter(), 0
    for back in range(days, 0, -1):
        day = Period("range", today - timedelta(days=back), today - timedelta(days=back))
        start, _end = day.bounds(rt.tz)
        rows, late = [], []
        for _ in range(per_day):
            n += 1
            item, category = rng.choices(items, weights)[0]
            grid = env.grid_areas[rng.randrange(len(env.grid_areas))]
            reported = start + timedelta(seconds=rng.uniform(0, 86400))
            limit = rt.config.time_limit(item, "normal")
            deadline, u = reported + limit, rng.random()
            closed = None if u < 0.02 else reported + (limit + timedelta(hours=rng.uniform(1, 48)) if u < 0.04 else limit * rng.uniform(0.05, 0.95))
            closed = closed if closed is not None and closed <= now else None
            rated = closed + timedelta(hours=rng.uniform(1, 20)) if closed and rng.random() < 0.9 else None
            rated = rated if rated is not None and rated <= now else None
            rows.append(dict(id=n, source="bench", source_id=f"a{n}", channel=rng.choices(chan_k, chan_w)[0], category_code=category,
                             item_code=item, urgency="normal", description="x", photo_urls=[], lat=grid.lat, lon=grid.lon,
                             grid_id=grid.id, status=("rated" if rated else "closed") if closed else "dispatched",
                             deadline=deadline, reported_at=reported, closed_at=closed, rated_at=rated,
                             rating=rng.choices(list(RATINGS), list(RATINGS.values()))[0] if rated else None,
                             resolved_level=rng.choices(list(RESOLVED), list(RESOLVED.values()))[0] if closed else None, version=1))
            if (closed or now) > deadline:
                late += [{"subject": f"case:{n}", "event_id": n, "whistle_call_id": None, "level": k + 1, "target_kind": "department",
                          "target": "X", "at": deadline + timedelta(days=k)} for k in range(3) if deadline + timedelta(days=k) < (closed or now)]
        with rt.engine.begin() as conn:
            conn.execute(insert(Event), rows)
            if late:
                conn.execute(insert(SupervisionNotice), late)
    print(f"history: {n:,} cases over {days} days ({time.perf_counter() - t0:.0f} s)", flush=True)
    t0, count = time.perf_counter(), 0
    with rt.engine.connect() as conn:
        workers = list(conn.scalars(select(GridWorker.id).where(GridWorker.role == "full_time").order_by(GridWorker.id)))
        grid_of = dict(conn.execute(select(GridWorker.id, GridWorker.area_id)).all())
    codes = {a.id: a.code for a in env.grid_areas}
    for back in range(days, 0, -1):
        planned = plan_day(workers, today - timedelta(days=back), rt.tz, rt.config.city.workforce, seed)
        with rt.engine.begin() as conn:
            conn.execute(insert(FieldActivity), [
                {"kind": p.kind, "worker_id": p.worker_id, "grid_code": codes[grid_of[p.worker_id]], "at": p.at, "source": "bench",
                 "source_id": p.source_id, "channel": "grid_app", "created_at": p.at} for p in planned])
        count += len(planned)
    print(f"field work: {count:,} activities of {len(workers):,} workers ({time.perf_counter() - t0:.0f} s)", flush=True)


def bare(rt, period: Period) -> float:
    s, e = (t.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds") for t in period.bounds(rt.tz))
    started = time.perf_counter()
    with rt.engine.connect() as conn:
        for query in BARE:
            conn.execute(text(query), {"s": s, "e": e}).all()
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=35)
    ap.add_argument("--per-day", type=int, default=10_368)
    ap.add_argument("--grids", type=int, default=6000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with Env(args.grids, workers=1) as env:
        history(env, args.days, args.per_day)
        rt = env.rt
        now = datetime.now(UTC)
        month = last_complete("month", now.astimezone(rt.tz).date())
        builds, books, bares = [], [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            assessed = build_assessment(rt, month, None, now)
            builds.append(time.perf_counter() - started)
            started = time.perf_counter()
            size = len(assessment_xlsx(assessed))
            books.append(time.perf_counter() - started)
            bares.append(bare(rt, month))
        a, x, b = (statistics.median(v) for v in (builds, books, bares))
        streets = len({w.street_code for w in assessed.workers})
        print(f"assessment of {month.label} for the city: {len(assessed.workers):,} workers in {streets} streets")
        print(f"assessment (build_assessment): median {a:.2f} s of {', '.join(f'{v:.2f}' for v in builds)}")
        print(f"its XLSX ({size / 1024:.0f} KB): median {x:.2f} s of {', '.join(f'{v:.2f}' for v in books)}")
        print(f"bare SQL ({len(BARE)} aggregates): median {b:.2f} s of {', '.join(f'{v:.2f}' for v in bares)}")
        print(f"ratio assessment / bare: {a / b:.2f}; with the XLSX: {(a + x) / b:.2f}")


if __name__ == "__main__":
    main()
