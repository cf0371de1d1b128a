"""Reconcile finds what drifted in Redis, repairs it from SQL, says what it repaired, and
leaves a healthy Redis alone."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest
from test_metrics import generate_month

from bigscreen.jobs.rebuild import rebuild, snapshot
from bigscreen.jobs.reconcile import reconcile

pytestmark = pytest.mark.redis_cluster


def test_drift_is_repaired_and_logged(runtime, caplog):
    now = datetime.now(timezone.utc)
    runtime.clock = lambda: now
    generate_month(runtime, now, n=120)
    assert len(reconcile(runtime, now)) == 0, "the live path left nothing to repair"
    healthy = snapshot(runtime)

    city, keys, r = runtime.areas.city.code, runtime.keys, runtime.redis
    r.hincrby(keys.area(city), "st:closed", 5)                      # a counter off by five
    r.hdel(keys.area(city), "ontime")                              # a field lost
    district = runtime.areas.at_level(1)[0].code
    r.delete(max(k for k in healthy if k.startswith(keys.day(district, ""))))  # a day's hash of a district lost
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0].code
    ghost = f"999999|MS|{grid}|0|"
    r.zadd(keys.deadlines, {ghost: 4e9})                           # a case SQL does not have
    lost = sorted(healthy[keys.overdue])[0]
    r.srem(keys.overdue, lost)                                     # an overdue case forgotten
    r.zrem(keys.supervise, f"case:{lost.split('|')[0]}")           # and its supervision

    with caplog.at_level(logging.WARNING, logger="bigscreen.jobs.reconcile"):
        repairs = reconcile(runtime, now)
    assert snapshot(runtime) == healthy
    assert len(repairs) >= 6
    assert f"{keys.area(city)} st:closed: " in repairs.lines[0] or f"{keys.area(city)} st:closed: " in repairs.lines[1]
    assert f"{keys.deadlines} {ghost}: removed" in repairs.lines
    assert f"reconcile: {len(repairs)} repair(s) from SQL" in caplog.text and repairs.lines[0] in caplog.text
    assert len(reconcile(runtime, now)) == 0
    rebuild(runtime, now)
    assert snapshot(runtime) == healthy, "what reconcile restored is what a full rebuild gives"


def test_reconcile_leaves_the_walls_sessions_alone_so_revoking_a_token_still_ends_them(runtime):
    """A reconcile (every 10 minutes) and a rebuild own the counters only. The index of the sessions a
    kiosk token began, and the revocation counter every process's caches watch, are not counters:
    found by the soak benchmark, where each reconcile 'repaired' the index away, so a token revoked
    after it left its walls signed in."""
    from bigscreen.auth.kiosk import KioskTokens, create_kiosk_token, token_digest
    from bigscreen.auth.sessions import Sessions

    token = create_kiosk_token(runtime, "指挥大厅主屏")
    sessions = Sessions(runtime.redis, runtime.keys)
    sid, _ = sessions.create(KioskTokens(runtime).principal(token), "10.0.0.9", kiosk_digest=token_digest(token))
    runtime.redis.incr(runtime.keys.revocations)

    assert len(reconcile(runtime)) == 0, "nothing of the wall's is a counter to repair"
    assert runtime.redis.get(runtime.keys.revocations) == b"1"
    assert sessions.load(sid) is not None
    sessions.destroy_kiosk(token_digest(token))  # what revoking or rotating the token does
    assert sessions.load(sid) is None, "the wall's session ended with its token"
