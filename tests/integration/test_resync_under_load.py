"""A rebuild or a reconcile while cases arrive and move ends with every counter exactly what SQL
says: every figure, every area, the deadline and overdue sets, the supervision schedule."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
from test_metrics import generate_month

from bigscreen.jobs import resync
from bigscreen.jobs.rebuild import rebuild, snapshot
from bigscreen.jobs.reconcile import reconcile

pytestmark = pytest.mark.redis_cluster


def test_rebuild_and_reconcile_under_live_writes_end_equal_to_sql(runtime, monkeypatch):
    monkeypatch.setattr(resync, "JOURNAL_PAGE", 3)  # what the writers record meanwhile is read in many pages
    now = datetime.now(timezone.utc)
    runtime.clock = lambda: now
    generate_month(runtime, now, n=150, seed=1, source="before")
    errors: list[BaseException] = []
    written = [0, 0]
    stop = threading.Event()

    def write(k: int) -> None:
        try:
            while not stop.is_set():  # rounds of cases with their steps, until the resyncs are done
                generate_month(runtime, now, n=40, seed=100 * k + written[k], source=f"during{k}-{written[k]}")
                written[k] += 40
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(k,)) for k in (0, 1)]
    for w in writers:
        w.start()
    overlapped = 0
    try:
        for run in range(2):  # a rebuild, then a reconcile
            before = list(written)
            if run % 2 == 0:
                rebuild(runtime, now)
            else:
                reconcile(runtime, now)
            overlapped += written != before
    finally:  # never left writing into the next test's Redis
        stop.set()
        for w in writers:
            w.join()
    assert not errors, errors
    assert overlapped, "the writers wrote while a resync ran"

    runtime.live.sweep(now, runtime.areas.chain_of)
    live = snapshot(runtime)
    assert len(reconcile(runtime, now)) == 0, "nothing to repair once the writers are done"
    rebuild(runtime, now)
    assert snapshot(runtime) == live
    city = live[runtime.keys.area(runtime.areas.city.code)]
    assert sum(v for f, v in city.items() if f.startswith("st:")) == 150 + sum(written)
