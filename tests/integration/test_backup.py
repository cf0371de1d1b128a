"""Backup while sources keep sending, then restore: the same events, and live figures rebuilt
from SQL equal to SQL. SQLite through `bigscreen backup` / `restore`; PostgreSQL through pg_dump
and pg_restore, as docs/DEPLOY.md says."""

from __future__ import annotations

import subprocess
import threading

import psycopg
import pytest
from fault_support import figures_differ
from sqlalchemy import select
from tests_support import PG_BIN

from bigscreen.db.models import Event
from bigscreen.jobs.watch import repair
from bigscreen.live.server import EmbeddedRedis
from bigscreen.process.backup import BackupError, backup, restore
from bigscreen.process.runtime import Runtime
from bigscreen.process.settings import Settings


def _events(runtime, start: int, n: int) -> list[dict]:
    grids = runtime.areas.at_level(runtime.areas.grid_level)
    items = [i.code for c in runtime.config.categories for i in c.items]
    return [{"source_id": f"b-{k}", "channel": "grid_app", "item": items[k % len(items)], "description": "x",
             "grid": grids[k % len(grids)].code} for k in range(start, start + n)]


def _ids(rt) -> list[str]:
    with rt.sessions() as s:
        return list(s.scalars(select(Event.source_id).order_by(Event.id)))


def _pg(database_url: str) -> tuple[str, str]:
    """libpq's URL of the server and the database's name."""
    plain = database_url.replace("+psycopg", "")
    return plain.rsplit("/", 1)[0], plain.rsplit("/", 1)[1]


def test_backup_while_ingesting_then_restore_gives_the_same_events_and_figures(tmp_path, client, runtime, database_url,
                                                                                 redis_url, test_config):
    client.post("/api/v1/events", json=_events(runtime, 0, 200))
    stop, sent = threading.Event(), [200]

    def send() -> None:
        while not stop.is_set():
            assert client.post("/api/v1/events", json=_events(runtime, sent[0], 20)).status_code in (200, 201, 207)
            sent[0] += 20

    sender = threading.Thread(target=send)
    sender.start()
    try:
        if database_url.startswith("sqlite"):
            archive = tmp_path / "backup.tar.gz"
            backup(runtime.settings, archive)
            restored = Settings(data_dir=tmp_path / "restored", redis_url=redis_url, redis_prefix="restored:")
        else:
            server, name = _pg(database_url)
            dump = tmp_path / "bigscreen.dump"
            subprocess.run([PG_BIN / "pg_dump", "--format=custom", f"--file={dump}", f"{server}/{name}"], check=True)
            with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}_r"')
            restored = Settings(data_dir=tmp_path / "restored", database_url=f"{database_url}_r", redis_url=redis_url,
                                redis_prefix="restored:")
    finally:
        stop.set()
        sender.join()
    original = _ids(runtime)
    assert len(original) > 200 and len(original) == sent[0]

    if database_url.startswith("sqlite"):
        restore(restored, archive)
        with pytest.raises(BackupError, match="--replace"):
            restore(restored, archive)
    else:
        subprocess.run([PG_BIN / "pg_restore", "--no-owner", f"--dbname={server}/{name}_r", dump], check=True)
    rt = Runtime(restored, test_config)
    try:
        events = _ids(rt)
        assert len(events) >= 200 and events == original[: len(events)], "a snapshot: every event up to a point, none after"
        assert repair(rt) == len(events)
        assert figures_differ(rt) == [], "live figures rebuilt from the restored SQL equal SQL"
    finally:
        rt.close()


def test_restore_refuses_a_data_dir_in_use(tmp_path, test_config):
    data = tmp_path / "data"
    busy = EmbeddedRedis(data / "redis", persist=False).start()
    try:
        with pytest.raises(BackupError, match="in use"):
            restore(Settings(data_dir=data), tmp_path / "any.tar.gz")
    finally:
        busy.stop()
    assert not (data / "bigscreen.db").exists()
    with pytest.raises(BackupError, match="pg_dump"):
        backup(Settings(data_dir=data, database_url="postgresql+psycopg://x/y"), tmp_path / "b.tar.gz")
