"""Backup and restore of the embedded deployment (SQLite in the data dir).

`backup` takes a consistent copy of the database while the app keeps writing (sqlite3's online
backup API: the copy is one read snapshot, whatever commits meanwhile), adds the configuration
directory, and packs both with a manifest into one .tar.gz. `restore` refuses a data dir whose
embedded Redis answers (something is running on it), puts the database in place, the
configuration under `<data dir>/config`, and empties the embedded Redis's files: its figures are
then rebuilt from SQL (the CLI runs bigscreen.jobs.watch.repair) and sessions start anew.

PostgreSQL is backed up with its own tools (pg_dump / pg_restore, docs/DEPLOY.md).
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bigscreen.live.server import EmbeddedRedis
from bigscreen.process.settings import Settings

DB_NAME = "bigscreen.db"
MANIFEST = "manifest.json"


class BackupError(Exception):
    """What the operator must change before a backup or restore can run (said in one line)."""


@dataclass
class Manifest:
    created_at: str
    database: str
    config_files: list[str]


def _sqlite_path(settings: Settings) -> Path:
    url = settings.sqlalchemy_url
    if not url.startswith("sqlite:///"):
        raise BackupError("the database is not the embedded SQLite one: back PostgreSQL up with pg_dump "
                          "(docs/DEPLOY.md, 'Backup')")
    return Path(url.removeprefix("sqlite:///"))


def backup(settings: Settings, out: Path) -> Manifest:
    """Writes the archive `out`: a consistent snapshot of the database, the config, a manifest."""
    db = _sqlite_path(settings)
    if not db.exists():
        raise BackupError(f"no database at {db}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        copy = Path(tmp) / DB_NAME
        src = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=settings.sqlite_busy_timeout_s)
        dst = sqlite3.connect(copy)
        try:
            src.backup(dst)  # all pages in one step: one read snapshot of the live database
        finally:
            dst.close()
            src.close()
        configs = sorted(p for p in settings.config_dir.rglob("*") if p.is_file())
        manifest = Manifest(datetime.now(timezone.utc).isoformat(), DB_NAME,
                            [str(p.relative_to(settings.config_dir)) for p in configs])
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            body = json.dumps(manifest.__dict__, ensure_ascii=False, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
            tar.add(copy, DB_NAME)
            for p in configs:
                tar.add(p, f"config/{p.relative_to(settings.config_dir)}")
        partial.replace(out)  # never a half-written archive under the asked name
    return manifest


def running(settings: Settings) -> bool:
    """Whether the data dir's embedded Redis answers: a serve, scheduler or demo uses the dir."""
    redis = EmbeddedRedis(settings.data_dir / "redis")
    return redis.socket.exists() and redis._responds()


def restore(settings: Settings, archive: Path, *, replace: bool = False) -> Manifest:
    """Puts the archive's database and config into the data dir; Redis's files are removed for a
    rebuild from SQL. Refuses a running data dir, and an existing database unless `replace`."""
    db = _sqlite_path(settings)
    if not settings.redis_configured and running(settings):
        raise BackupError(f"{settings.data_dir} is in use (its Redis answers): stop serve, scheduler and demo first")
    if db.exists() and not replace:
        raise BackupError(f"{db} exists: pass --replace to overwrite it (stop everything using it first)")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            manifest = Manifest(**json.loads(tar.extractfile(MANIFEST).read()))
            with tempfile.TemporaryDirectory(dir=db.parent if db.parent.exists() else None) as tmp:
                tar.extractall(tmp, filter="data")
                staged = Path(tmp) / manifest.database
                check = sqlite3.connect(staged)
                try:
                    if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                        raise BackupError(f"{archive}: the database in it is damaged")
                finally:
                    check.close()
                db.parent.mkdir(parents=True, exist_ok=True)
                for stale in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
                    stale.unlink(missing_ok=True)
                shutil.move(staged, db)
                config = settings.data_dir / "config"
                shutil.rmtree(config, ignore_errors=True)
                if (Path(tmp) / "config").exists():
                    shutil.move(Path(tmp) / "config", config)
    except (tarfile.TarError, KeyError, OSError, ValueError, TypeError) as exc:
        raise BackupError(f"{archive}: not a bigscreen backup ({exc})") from exc
    if not settings.redis_configured:
        shutil.rmtree(settings.data_dir / "redis", ignore_errors=True)  # rebuilt from SQL
    return manifest
