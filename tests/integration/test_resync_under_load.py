"""A rebuild or a reconcile while cases arrive and move ends with every counter exactly what SQL
says: every figure, every area, the deadline and overdue sets, the supervision schedule."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from bigscreen.live.rebuild import rebuild, snapshot
from bigscreen.live.reconcile import reconcile
from test_metrics import generate_month


def test_rebuild_and_reconcile_under_live_writes_end_equal_to_sql(runtime):
    now = datetime.now(timezone.utc)
    runtime.clock = lambda: now
    generate_month(runtime, now, n=150, seed=1, source="before")
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        try:
            generate_month(runtime, now, n=250, seed=seed, source=f"during{seed}")
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(seed,)) for seed in (2, 3)]
    for w in writers:
        w.start()
    runs = 0
    while any(w.is_alive() for w in writers) or runs < 2:
        if runs % 2 == 0:
            rebuild(runtime, now)
        else:
            reconcile(runtime, now)
        runs += 1
    for w in writers:
        w.join()
    assert not errors, errors
    assert runs >= 3, "the writers finished before a resync could run beside them"

    runtime.live.sweep(now, runtime.areas.chain_of)
    live = snapshot(runtime)
    assert len(reconcile(runtime, now)) == 0, "nothing to repair once the writers are done"
    rebuild(runtime, now)
    assert snapshot(runtime) == live
    city = live[runtime.keys.area(runtime.areas.city.code)]
    assert sum(v for f, v in city.items() if f.startswith("st:")) == 150 + 2 * 250
