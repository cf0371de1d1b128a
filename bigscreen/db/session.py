"""Engines and sessions. Data-access code never commits by itself: the command does."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

IN_CHUNK = 900  # ids per IN (..): under every database's parameter limit (SQLite's is the lowest)


def padded_chunks(values: Sequence, name: str) -> Iterator[tuple[int, dict]]:
    """`values` in chunks of at most IN_CHUNK, each as plain parameters `{name}0` .. `{name}{size-1}`: (size,
    parameters), the size rounded up to a power of two with the chunk's last value repeated. For a statement
    made once per size (an IN of plain parameters), not one expanding IN, which SQLAlchemy renders again at
    every run: for a small group that cost more than the database's own work."""
    for start in range(0, len(values), IN_CHUNK):
        chunk = values[start : start + IN_CHUNK]
        size, last = 1 << (len(chunk) - 1).bit_length(), len(chunk) - 1
        yield size, {f"{name}{k}": chunk[min(k, last)] for k in range(size)}


def _json(value) -> str:
    return orjson.dumps(value).decode()


SQLITE_BUSY_TIMEOUT_S = 30.0


class WriteTurn:
    """Takes turns, across processes, at writing one SQLite file: an exclusive `flock` on a file
    beside the database, held for a whole write transaction.

    SQLite lets one writer in at a time; a second process that finds the database locked sleeps
    in its busy handler (1, 2, 5, 10 ms ... steps) and tries again, so two workers' group-commit
    writers waited milliseconds for each other per group. A writer blocked on the flock wakes as
    soon as the other lets go, and meanwhile more requests join its group. Without a `path`
    (PostgreSQL, whose writers do not exclude each other; SQLite in memory) a turn holds nothing."""

    def __init__(self, path: str | None) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600) if path else None

    @classmethod
    def of(cls, engine: Engine) -> WriteTurn:
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        keep = database and database != ":memory:" and not database.startswith("file:")
        return cls(f"{database}.write-turn" if keep else None)

    @property
    def locks(self) -> bool:
        return self._fd is not None

    @contextmanager
    def held(self) -> Iterator[None]:
        if self._fd is None:
            yield
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def make_engine(url: str, *, sqlite_busy_timeout_s: float = SQLITE_BUSY_TIMEOUT_S, pool_size: int = 20) -> Engine:
    """`sqlite_busy_timeout_s`: how long a SQLite write waits for a lock another process holds (a
    backup, a maintenance session) before it fails, and its request answers 503. `pool_size`: the
    connections to a server database kept open. Fewer than the threads that use them at once, and
    every request beyond them opens a connection and closes it after (the overflow): a new server
    process per request on PostgreSQL, most of the CPU of a busy centre (issue 14's soak)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": sqlite_busy_timeout_s},
                               pool_size=pool_size, max_overflow=pool_size // 2, json_serializer=_json)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size // 2, json_serializer=_json)
    _ping_when_idle(engine)
    return engine


PING_IDLE_S = 1.0  # a pooled connection back in the pool for longer than this is tried before it is handed out


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pre-ping for connections that waited in the pool: a connection handed back less than
    PING_IDLE_S ago is handed out again without a round trip (under load, nearly every checkout; the ping
    was a tenth of the frame publisher's time in the soak, each a wake-up of a server process). One
    that fails its ping is replaced, as with `pool_pre_ping`; a database lost since the last use,
    within that second, fails that use, and the pool is then renewed (SQLAlchemy's disconnect handling)."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn, record) -> None:
        record.info["returned"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_conn, record, _proxy) -> None:
        returned = record.info.get("returned")
        if returned is None or time.monotonic() - returned < PING_IDLE_S:
            return  # just connected, or in use a moment ago
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"a pooled connection did not answer its ping: {exc}") from exc


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see the database at one moment, until the block ends
    (REPEATABLE READ on PostgreSQL; one read transaction on SQLite, begun by hand because the
    sqlite3 module begins transactions only before writes). Nothing is written through it."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")
        else:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        try:
            conn.exec_driver_sql("SELECT 1 FROM events LIMIT 1").all()  # the snapshot starts at the first read
            yield conn
        finally:
            conn.rollback()
