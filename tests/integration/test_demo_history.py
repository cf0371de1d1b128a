"""The demo's history (bigscreen.simulation.history): sent in process through the commands, the live figures
equal to SQL after it, and a history cut short by a crash picked up where it stopped at the next start."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from bigscreen.db.models import Event, EventTransition, MediationStep, Whistle, WhistleCall
from bigscreen.geo.citybuild import store_city
from bigscreen.live.kpi import read_kpi
from bigscreen.process.datadir import prepare_database
from bigscreen.process.runtime import Runtime
from bigscreen.process.settings import Settings
from bigscreen.reports.figures import area_kpi
from bigscreen.simulation import sidesteps
from bigscreen.simulation.history import HistoryPlan, plan_history, send_history
from bigscreen.simulation.local import LocalCity
from bigscreen.simulation.simulator import Simulator

SOURCE = "demo-simulator"
PER_DAY = 300


class Crash(RuntimeError):
    """The process dies half-way (after some rounds of steps are committed, before the rest)."""


def _simulator(rt: Runtime, plan: HistoryPlan) -> Simulator:
    return Simulator(api=LocalCity(rt, SOURCE), seed=plan.seed, rate=0.2, workers=1)


def _send(rt: Runtime, plan: HistoryPlan, stop=None) -> Simulator:
    sim = _simulator(rt, plan)
    assert send_history(rt, sim, plan, stop or threading.Event())
    return sim


def _plan(rt: Runtime) -> HistoryPlan:
    rt.settings.data_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_history(rt, days=1, per_day=PER_DAY, new_city=True)
    assert plan is not None and not plan.done
    return plan


def _figures_equal_sql(rt: Runtime) -> dict:
    now = datetime.now(timezone.utc)
    day_start = now.astimezone(rt.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    areas = rt.areas
    codes = [areas.city.code] + [a.code for level in range(1, areas.grid_level + 1) for a in areas.at_level(level)[:4]]
    with rt.engine.connect() as conn:
        for code in codes:
            assert read_kpi(rt.redis, rt.keys, rt.contributions, code, now) == area_kpi(conn, areas, code, now, day_start), code
        return area_kpi(conn, areas, areas.city.code, now, day_start)


def _stored(rt: Runtime) -> dict:
    """What the history left in SQL, by report (source id): the case, its log, whistles and mediation."""
    events, steps = Event.__table__.c, EventTransition.__table__.c
    whistles, calls = Whistle.__table__.c, WhistleCall.__table__.c
    with rt.engine.connect() as conn:
        by_id = {r.id: r.source_id for r in conn.execute(select(events.id, events.source_id))}
        cases = {by_id[r.id]: (r.status, r.department_code, r.closed_at, r.rating, r.dispute_rung, r.dispute_outcome)
                 for r in conn.execute(select(Event.__table__))}
        log: dict[str, list] = {}
        for r in conn.execute(select(EventTransition.__table__).order_by(steps.id)):
            log.setdefault(by_id[r.event_id], []).append((r.action, r.at, r.actor, r.role, r.note, r.department_code))
        whistled = sorted((by_id[r.event_id], r.kind, r.at, r.department_code, r.reported_at)
                          for r in conn.execute(select(whistles.event_id, whistles.kind, whistles.at, calls.department_code,
                                                       calls.reported_at).join_from(Whistle, WhistleCall)))
        mediated = sorted((by_id[r.event_id], r.rung, r.outcome, r.at) for r in conn.execute(select(MediationStep.__table__)))
    return {"cases": cases, "log": log, "whistled": whistled, "mediated": mediated}


def test_the_history_goes_in_process_through_the_commands_and_the_figures_equal_sql(runtime):
    plan = _plan(runtime)
    sim = _send(runtime, plan)

    stored = _stored(runtime)
    assert len(stored["cases"]) == PER_DAY and all(s.startswith(plan.source_prefix) for s in stored["cases"])
    taken = sum(n for k, n in sim.stats.items() if k.startswith("step_"))
    logged = sum(len([s for s in steps if s[0] not in ("report", "dispatch")]) for steps in stored["log"].values())
    assert taken == logged > 4 * PER_DAY, "every step the simulator took is one in the case's log, as its command writes it"
    assert all([s[1] for s in steps] == sorted(s[1] for s in steps) for steps in stored["log"].values())
    assert stored["mediated"], "disputes are mediated through their command"
    assert sim.stats["backfill_ok"] == PER_DAY and not any(k.startswith("complaints") for k in sim.stats), dict(sim.stats)
    city = _figures_equal_sql(runtime)  # Redis was rebuilt from SQL once at the end
    assert city["total"]["reported"] == PER_DAY and 0 < city["closure_rate"] < 1
    assert HistoryPlan.load(runtime.settings.data_dir).done
    assert plan_history(runtime, days=1, per_day=PER_DAY, new_city=False) is None, "sent in full: not again"


@pytest.fixture
def whistling(monkeypatch):
    """Every case that may be whistled is, so that a crash falls among whistles and report-ins."""
    monkeypatch.setattr(sidesteps, "WHISTLE_SHARE", dict.fromkeys(sidesteps.WHISTLE_SHARE, 1.0))


@pytest.fixture
def reference(tmp_path, runtime, city_plan):
    """Another data dir with the same city (SQLite, its own Redis prefix), for the same history sent without a crash."""
    settings = Settings(data_dir=tmp_path / "reference", database_url=f"sqlite:///{tmp_path / 'reference.db'}",
                        redis_url=runtime.settings.redis_url, redis_prefix="ref:")
    rt = Runtime(settings, runtime.config)
    prepare_database(rt)
    with rt.sessions() as session, session.begin():
        store_city(session, city_plan)
    yield rt
    rt.close()


@pytest.mark.parametrize("crash_at_round", [1, 6])
def test_a_history_cut_short_is_picked_up_at_the_next_start_and_nothing_is_sent_twice(
        runtime, reference, whistling, monkeypatch, crash_at_round):
    plan = _plan(runtime)
    calls = {"n": 0}
    steps = LocalCity.steps

    def crashing(self, *args, **kw):
        calls["n"] += 1
        if calls["n"] == crash_at_round:
            raise Crash("killed")
        return steps(self, *args, **kw)

    monkeypatch.setattr(LocalCity, "steps", crashing)
    first = _simulator(runtime, plan)
    with pytest.raises(Crash):
        send_history(runtime, first, plan, threading.Event())
    monkeypatch.setattr(LocalCity, "steps", steps)
    assert not HistoryPlan.load(runtime.settings.data_dir).done
    cut = _stored(runtime)
    assert len(cut["cases"]) == PER_DAY, "the reports were in before the crash"

    again = plan_history(runtime, days=1, per_day=PER_DAY, new_city=False)
    assert again == plan, "the next start sends the same history"
    second = _send(runtime, again)  # a new simulator, as after a restart
    assert second.stats["events_created"] == 0 and second.stats["backfill_resumed"] == PER_DAY

    _send(reference, HistoryPlan(plan.seed, plan.until, plan.days, plan.per_day))
    resumed, whole = _stored(runtime), _stored(reference)
    assert resumed["cases"] == whole["cases"]
    assert resumed["log"] == whole["log"], "each step once, in order, as if there had been no crash"
    assert resumed["whistled"] == whole["whistled"] and resumed["mediated"] == whole["mediated"]
    assert any(r[4] is not None for r in whole["whistled"]) and whole["mediated"]
    assert sum(len(v) for v in resumed["log"].values()) > sum(len(v) for v in cut["log"].values()), "the hole is filled"
    _figures_equal_sql(runtime)
    assert HistoryPlan.load(runtime.settings.data_dir).done


def test_the_earlier_weeks_go_in_sql_alone_with_their_field_work_and_hand_their_open_cases_to_the_live_city(runtime):
    from bigscreen.db.models import FieldActivity
    from bigscreen.simulation.history import send_earlier

    FEW = 120
    runtime.settings.data_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_history(runtime, days=2, per_day=FEW, new_city=True)
    assert (plan.days, plan.earlier_days) == (1, 1)
    live = _send(runtime, plan)  # the last day first, as the demo does before the live city starts
    ticker_before = runtime.redis.xrevrange(runtime.keys.ticker, count=1)
    assert ticker_before, "the last day's reports are on the ticker"
    assert not plan_history(runtime, days=2, per_day=FEW, new_city=False).finished, "the earlier weeks are due"

    assert send_earlier(runtime, plan, threading.Event(), live, rate=0.2, source=SOURCE)

    e = Event.__table__.c
    with runtime.engine.connect() as conn:
        earlier = conn.execute(select(e.reported_at).where(e.source_id.like(plan.earlier_prefix + "-%"))).scalars().all()
        days_worked = {at.astimezone(runtime.tz).date()
                       for at in conn.execute(select(FieldActivity.__table__.c.at)).scalars()}
    assert len(earlier) == FEW
    assert max(earlier).timestamp() <= plan.until - 86400 and min(earlier).timestamp() >= plan.until - 2 * 86400
    assert runtime.redis.xrevrange(runtime.keys.ticker, count=1) == ticker_before, "weeks-old reports never reach the wall's ticker"
    assert len(days_worked) == 2, "the grid workers' field work of the earlier days is in"
    city = _figures_equal_sql(runtime)  # rebuilt from SQL once at the end
    assert city["total"]["reported"] == 2 * FEW
    adopted = live._adopted.get_nowait()
    assert adopted and all(c.index < len(c.steps) for c in adopted), "the earlier cases still going go on live"
    assert HistoryPlan.load(runtime.settings.data_dir).finished
    assert plan_history(runtime, days=2, per_day=FEW, new_city=False) is None
