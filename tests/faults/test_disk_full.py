"""The embedded database's disk fills up under ingest: a clear error (507 with a message and
Retry-After), nothing accepted that was not stored, and writes work again once there is room.

The disk is a real, small tmpfs holding the SQLite database (mounted as root); where mounting is
not allowed, SQLite's `max_page_count` makes the database file full instead (the same SQLITE_FULL
error reaches the app)."""

from __future__ import annotations

import time

import httpx
from fault_support import SOURCE, Filler, Load, PageLimit, served_app, small_disk, stored_ids

FULL_LIMIT_S = 60.0  # a bound for a hung test


def test_a_full_disk_answers_507_and_keeps_nothing_it_did_not_store(tmp_path, redis_url, test_config, city_plan):
    with small_disk(tmp_path / "disk") as disk:
        database = (disk or tmp_path) / "bigscreen.db"
        with served_app(tmp_path, f"sqlite:///{database}", redis_url, test_config, city_plan) as app:
            space = Filler(disk) if disk else PageLimit(app.app_rt)
            space.fill()
            load = Load.for_city(app.reader, app.url, app.api_key, description="磁盘写满测试 " * 20).start()
            try:
                started = time.monotonic()
                while not [a for a in load.answers if a.status == 507]:
                    assert time.monotonic() - started < FULL_LIMIT_S, f"the disk never filled: {load.statuses()}"
                    time.sleep(0.1)
                time.sleep(1.0)  # full for a while
            finally:
                load.stop()
            print(f"\n{'tmpfs' if disk else 'max_page_count'} full: answers {dict(load.statuses())}")

            sent = load.statuses()
            assert not [k for k in sent if k[1] >= 500 and k[1] not in (503, 507)], sent
            full = [a for a in load.answers if a.status == 507]
            assert all(a.retry_after for a in full)
            with httpx.Client(base_url=app.url, headers={"X-API-Key": app.api_key}, timeout=30) as client:
                body = [{"source_id": "full-1", "channel": "grid_app", "item": load.items[0], "description": "x",
                         "grid": load.grids[0]}]
                r = client.post("/api/v1/events", json=body)
                assert r.status_code == 507 and "disk is full" in r.json()["detail"], r.text

                stored = stored_ids(app.reader, SOURCE, load.prefix)
                assert load.accepted() <= stored, "every event answered 2xx is stored"
                for refused in load.refused():
                    assert len(stored & set(refused.ids)) in (0, len(refused.ids)), "a refused batch is stored whole or not at all"

                space.free()
                r = client.post("/api/v1/events", json=body)
                assert r.status_code in (200, 201), f"writes work again once there is room: {r.status_code} {r.text}"
