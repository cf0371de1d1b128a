"""The embedded database's disk fills up under ingest: a clear error (507 with a message and
Retry-After), nothing accepted that was not stored, and writes work again once there is room.

The disk is a real, small tmpfs holding the SQLite database (mounted as root); where mounting is
not allowed, SQLite's `max_page_count` makes the database file full instead (the same SQLITE_FULL
error reaches the app)."""

from __future__ import annotations

import os
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fault_support import SOURCE, Load, served_app, stored_ids
from sqlalchemy import event

DISK_MB = 48
ROOM_LEFT_BYTES = 256 * 1024  # what the filler leaves free: a few hundred events' worth
FULL_LIMIT_S = 60.0  # a bound for a hung test


@contextmanager
def small_disk(where: Path):
    """A tmpfs of DISK_MB mounted at `where`, or None where mounting is not allowed."""
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(where)],
                             capture_output=True).returncode == 0
    try:
        yield where if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


class Filler:
    """Takes the disk's free space but ROOM_LEFT_BYTES (`fill`), and gives it back (`free`)."""

    def __init__(self, disk: Path) -> None:
        self.path = disk / "filler"

    def fill(self) -> None:
        st = os.statvfs(self.path.parent)
        with self.path.open("wb") as f:
            f.truncate(0)
            f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - ROOM_LEFT_BYTES))

    def free(self) -> None:
        self.path.unlink()


class PageLimit:
    """Without a small disk: the database file may not grow beyond its size now plus ROOM_LEFT_BYTES."""

    def __init__(self, rt) -> None:
        self.rt = rt
        self.pages: int | None = None

        @event.listens_for(rt.engine, "connect")
        def _limit(dbapi_conn, _record) -> None:
            if self.pages is not None:
                dbapi_conn.execute(f"PRAGMA max_page_count = {self.pages}")

    def fill(self) -> None:
        with self.rt.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            count, size = conn.exec_driver_sql("PRAGMA page_count").scalar(), conn.exec_driver_sql("PRAGMA page_size").scalar()
        self.pages = count + ROOM_LEFT_BYTES // size
        self.rt.engine.dispose()  # every new connection takes the limit

    def free(self) -> None:
        self.pages = None
        self.rt.engine.dispose()


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
