"""Spike detection on a generated history: a street with three times its usual events in the
last hour raises one alert; a busy but usual street and a quiet one raise none."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from bigscreen.alerts.spikes import SpikeWatch
from bigscreen.cases.ingest import IngestEvents
from bigscreen.cases.ingest_writer import IngestWriter
from bigscreen.db.models import Alert
from bigscreen.domain.schemas import EventIn


def _grids_of(runtime, street):
    return [g.code for g in runtime.areas.at_level(runtime.areas.grid_level) if street in g.chain]


def test_a_spike_raises_one_alert(runtime):
    # half past: the history below is placed in now's clock hour only, and a minute later must be the same hour
    now = datetime.now(timezone.utc).replace(minute=30, second=0, microsecond=0) - timedelta(hours=1)
    runtime.clock = lambda: now
    rng = random.Random(5)
    streets = [s.code for s in runtime.areas.at_level(2)[:3]]
    spiking, busy, quiet = streets
    item = runtime.config.categories[0].items[0].code
    bodies = []

    def report(street, at):
        bodies.append(EventIn(source_id=f"s-{len(bodies)}", channel="grid_app", item=item, description="噪声扰民",
                              grid=rng.choice(_grids_of(runtime, street)), reported_at=at))

    hour = now.replace(minute=0, second=0)
    for day in range(1, 29):  # the usual level: 2 an hour in the spiking street, 8 in the busy one
        for street, n in ((spiking, 2), (busy, 8)):
            for _ in range(n):
                report(street, hour - timedelta(days=day) + timedelta(minutes=rng.uniform(0, 59)))
    for street, n in ((spiking, 7), (busy, 9), (quiet, 4)):  # the last hour
        for _ in range(n):
            report(street, now - timedelta(minutes=rng.uniform(0, 59)))
    writer = IngestWriter(runtime)
    for start in range(0, len(bodies), 500):
        IngestEvents(runtime, "hist", bodies[start:start + 500], batch=True).run(writer)
    writer.close()

    watch = SpikeWatch(runtime)
    assert watch.run(now) == 1
    assert watch.run(now + timedelta(minutes=1)) == 0, "the same spike is one alert, not one a minute"
    with runtime.sessions() as s:
        alerts = s.scalars(select(Alert).where(Alert.source == "spike")).all()
    assert [(a.area_code, a.colour) for a in alerts] == [(spiking, runtime.config.city.alerts.spikes.colour)]
    assert "近一小时7件" in alerts[0].title and "平常约2.0件" in alerts[0].title


def test_a_young_history_is_averaged_over_the_days_it_covers(runtime):
    """One day of history: the usual level is that day's hour, not a 28th of it; before a full day
    there is no usual level, so nothing is called a spike."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    hour = now.replace(minute=0, second=0)
    street = runtime.areas.at_level(2)[0].code
    grids = _grids_of(runtime, street)
    item = runtime.config.categories[0].items[0].code
    bodies = [EventIn(source_id=f"y-{i}", channel="grid_app", item=item, description="噪声扰民", grid=grids[i % len(grids)],
                      reported_at=at)
              for i, at in enumerate([hour - timedelta(days=1, hours=2)]                                     # the first report
                                     + [hour - timedelta(days=1) + timedelta(minutes=m) for m in range(5, 55, 10)]  # 5 in the hour
                                     + [now - timedelta(minutes=m) for m in range(1, 8)])]                          # 7 now
    assert SpikeWatch(runtime).run(now) == 0, "no history at all before the first report: no judgement"
    writer = IngestWriter(runtime)
    IngestEvents(runtime, "young", bodies, batch=True).run(writer)
    writer.close()
    watch = SpikeWatch(runtime)
    assert watch.usual(now) == {street: 5.0}, "one day covered: its hour is the usual level"
    assert watch.run(now) == 0, "7 against a usual 5 is no spike (with a 28-day mean of 0.18 it would be)"
    assert SpikeWatch(runtime).usual(now - timedelta(days=1)) is None, "on the first day nothing is usual yet"
