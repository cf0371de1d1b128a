"""The demo's field work plan (一日两巡五访): who is on duty, when they check in, patrol and visit."""

from __future__ import annotations

from collections import Counter
from datetime import date, time
from zoneinfo import ZoneInfo

from bigscreen.configuration.models import Workforce
from bigscreen.simulation.field_work import plan_day, worker_day

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 23)


def test_a_day_of_two_patrols_and_five_visits():
    plan = plan_day(range(1, 2001), DAY, TZ, Workforce(), seed=5)
    kinds = Counter(p.kind for p in plan)
    on_duty = kinds["check_in"]
    assert 0.93 * 2000 < on_duty < 0.97 * 2000, "about 95% check in"
    assert 1.9 * on_duty < kinds["patrol"] <= 2 * on_duty, "two patrols each, now and then one skipped"
    assert 4.8 * on_duty < kinds["visit"] < 5.2 * on_duty, "about five visits each"
    assert [p.at for p in plan] == sorted(p.at for p in plan)
    check_ins = [p.at.astimezone(TZ) for p in plan if p.kind == "check_in"]
    assert sum(time(8) <= t.time() < time(9) for t in check_ins) > 0.95 * on_duty
    assert all(t.date() == DAY for t in check_ins)
    rounds = [p.at.astimezone(TZ).time() for p in plan if p.kind != "check_in"]
    assert all(time(9) <= t <= time(17, 30) for t in rounds), "within the working day"
    assert not any(time(12) <= t < time(13, 30) for t in rounds), "not over lunch"
    assert len({p.source_id for p in plan}) == len(plan)


def test_each_worker_does_his_round_after_checking_in_and_the_plan_is_stable():
    for worker in range(1, 300):
        day = worker_day(worker, DAY, TZ, Workforce(patrols_per_day=3, visits_per_day=8), seed=9)
        assert day == worker_day(worker, DAY, TZ, Workforce(patrols_per_day=3, visits_per_day=8), seed=9)
        if day:
            check_in = next(p.at for p in day if p.kind == "check_in")
            assert all(p.at >= check_in for p in day) and sum(p.kind == "patrol" for p in day) <= 3
    nobody = plan_day(range(1, 100), DAY, TZ, Workforce(on_duty_share=0.01), seed=9)
    assert len({p.worker_id for p in nobody}) <= 5
