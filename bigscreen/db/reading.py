"""Reading rows so that one unreadable row is logged and skipped (or, asked for by id, refused),
never stopping the reader.

A row can hold a value the driver cannot turn back into Python (a timestamp another tool or a hand
edit left malformed on SQLite, 'infinity' on PostgreSQL): the scheduled jobs and rebuilds that read
whole tables must go on without it. Rows are read in pages by primary key; a page that fails is
read again row by row, and each row that fails is logged with its id and skipped."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Column, Connection, Row, Select
from sqlalchemy.exc import DataError, DBAPIError, StatementError

from bigscreen.domain.schemas import Problem

log = logging.getLogger(__name__)
PAGE = 5000
UNREADABLE = (ValueError, OverflowError, TypeError, DataError, StatementError)  # catch these, then ask `unreadable`


def unreadable(exc: Exception) -> bool:
    """Whether an exception caught as UNREADABLE is a value that cannot be read back, rather than
    a database that is away: SQLAlchemy's OperationalError is a StatementError too, and an outage
    must reach the outage handlers (503), not be logged as a bad row and skipped or refused."""
    return not isinstance(exc, DBAPIError) or isinstance(exc, DataError)


def readable_rows(conn: Connection, query: Select, key: Column, *, what: str, page: int = PAGE) -> Iterator[Row]:
    """The rows of `query` in order of `key` (an integer primary key among the query's columns),
    without the ones that cannot be read; `what` names them in the log ("event", ...)."""
    last = None
    while True:
        bounded = (query if last is None else query.where(key > last)).order_by(key).limit(page)
        try:
            rows = conn.execute(bounded).all()
            read, last_seen = len(rows), rows[-1]._mapping[key] if rows else None
        except UNREADABLE as exc:
            if not unreadable(exc):
                raise
            ids = conn.scalars(bounded.with_only_columns(key, maintain_column_froms=True)).all()
            rows = list(_each(conn, query, key, ids, what))
            read, last_seen = len(ids), ids[-1] if ids else None
        yield from rows
        if read < page:
            return
        last = last_seen


def _each(conn: Connection, query: Select, key: Column, ids: list[int], what: str) -> Iterator[Row]:
    for row_id in ids:
        try:
            yield conn.execute(query.where(key == row_id)).one()
        except UNREADABLE as exc:
            if not unreadable(exc):
                raise
            log.error("skipping unreadable %s %s: %s", what, row_id, exc)


@contextmanager
def one_row(what: str, row_id: int) -> Iterator[None]:
    """Around reading one row someone asked for by id: a row that cannot be read is logged and
    refused with 409 saying so (never a 500); the rows beside it read as ever."""
    try:
        yield
    except UNREADABLE as exc:
        if not unreadable(exc):
            raise
        log.error("unreadable %s %s: %s", what, row_id, exc)
        raise Problem(409, {"message": f"{what} {row_id} is stored but cannot be read; "
                                       "the centre has logged it for an administrator"}) from None
