"""Many rows inserted in one go, skipping those whose unique key is stored already, answering the
columns asked for of each row stored (its id): `NewRows`.

On PostgreSQL this is SQLAlchemy's INSERT .. ON CONFLICT DO NOTHING .. RETURNING as it is. On SQLite
SQLAlchemy spent more than the database on such an insert: it builds a dictionary of every row's
parameters, runs each through its type, and renders multi-row statements page by page, about 15 µs a
row beside SQLite's own 10 (a batch of 1,000 reports: 25 ms in all, against 11 ms by hand;
docs/BENCHMARKS.md). Here the statement's text is made once per number of rows, the values go
straight from each row's dictionary into one flat tuple, and only the columns whose type converts a
value (times, JSON) are converted, by that same type's own bind processor: what is stored is what
SQLAlchemy would have stored.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Sequence
from contextlib import closing
from datetime import date, datetime
from functools import lru_cache
from operator import itemgetter

from sqlalchemy import Connection, Dialect, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator

_NOT_YET = object()
SQLITE_ROWS = 500  # rows per statement at most (fewer where SQLite allows fewer variables)


class NewRows:
    def __init__(self, dialect: Dialect, table: Table, unique: Sequence[str] | None, returning: Sequence[str]) -> None:
        """For the database of this dialect (an engine's, a connection's). `unique`: the unique key a row may
        conflict on (None: rows never conflict); `returning`: the columns answered of each row stored. The
        rows of one insert hold the same keys, each a column."""
        self.table, self.dialect = table, dialect
        self._sqlite = dialect.name == "sqlite"
        if not self._sqlite:
            statement = postgresql.insert(table)
            if unique:
                statement = statement.on_conflict_do_nothing(index_elements=list(unique))
            self._statement = statement.returning(*(table.c[name] for name in returning))
            return
        quote = dialect.identifier_preparer.quote
        self._quote = quote
        self._tail = ((f" ON CONFLICT ({', '.join(quote(c) for c in unique)}) DO NOTHING" if unique else "")
                      + f" RETURNING {', '.join(quote(c) for c in returning)}")
        # what the driver answers, as SQLAlchemy would read it (stored times back to aware datetimes)
        self._readers = [table.c[name].type.dialect_impl(dialect).result_processor(dialect, None) for name in returning]
        self._answer = namedtuple("Returned", returning)
        with closing(sqlite3.connect(":memory:")) as probe:
            self._variables = probe.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)

    def insert(self, conn: Connection, rows: Sequence[dict]) -> list:
        """Inserts `rows` (inside the caller's transaction); answers the `returning` columns of those
        stored (rows whose columns are attributes), in no particular order."""
        if not rows:
            return []
        if not self._sqlite:
            return list(conn.execute(self._statement, list(rows)))
        plan = self._plan(tuple(rows[0]))
        out: list = []
        for start in range(0, len(rows), plan.per_statement):
            chunk = rows[start : start + plan.per_statement]
            out += conn.exec_driver_sql(plan.text(len(chunk)), plan.values(chunk)).all()
        return self._as_read(out)

    def _as_read(self, rows: list) -> list:
        """The driver's rows as SQLAlchemy reads them: a stored time back to an aware datetime."""
        readers = self._readers
        if not any(readers):
            return rows
        answer = self._answer
        return [answer(*(value if read is None else read(value) for value, read in zip(row, readers))) for row in rows]

    @lru_cache(maxsize=8)  # noqa: B019 -- one per writer, which lives as long as its process
    def _plan(self, columns: tuple[str, ...]) -> _Plan:
        quote, dialect = self._quote, self.dialect
        converted = tuple((i, processor, _repeats(self.table.c[name].type)) for i, name in enumerate(columns)
                          if (processor := self.table.c[name].type.dialect_impl(dialect).bind_processor(dialect)))
        head = f"INSERT INTO {quote(self.table.name)} ({', '.join(quote(c) for c in columns)}) VALUES "
        return _Plan(columns, converted, head, self._tail, max(1, min(SQLITE_ROWS, self._variables // len(columns))))


def _repeats(column_type) -> bool:
    """Whether a column's values are converted once per distinct value of an insert: its times. A group's
    reports mostly share them (the clock's now, and deadlines a few time limits from it), and converting
    one costs a microsecond."""
    if isinstance(column_type, TypeDecorator):  # whose python_type is `object`: its stored type's
        column_type = column_type.impl_instance
    try:
        return issubclass(column_type.python_type, (datetime, date))
    except NotImplementedError:
        return False


def _getter(columns: tuple[str, ...]):
    """A row's values in the columns' order, as a tuple, in one call."""
    if len(columns) == 1:
        (column,) = columns
        return lambda row: (row[column],)
    return itemgetter(*columns)


class _Plan:
    """The SQLite insert of rows holding these columns: the statement's text per number of rows, and
    the conversion of their values."""

    def __init__(self, columns: tuple[str, ...], converted: tuple, head: str, tail: str, per_statement: int) -> None:
        self.columns, self.converted, self.per_statement = columns, converted, per_statement
        self._head, self._tail = head, tail
        self._one = "(" + ", ".join("?" * len(columns)) + ")"
        self._get = _getter(columns)

    def values(self, rows: Sequence[dict]) -> tuple:
        """The rows' values in one flat tuple, converted; a repeated value of a column whose values
        can repeat is converted once (`_repeats`: equal values convert to the same stored text)."""
        get, flat = self._get, []
        converted = [(i, processor, {} if repeats else None) for i, processor, repeats in self.converted]
        for row in rows:
            values = list(get(row))
            for i, processor, done in converted:
                value = values[i]
                if done is None:
                    values[i] = processor(value)
                elif (out := done.get(value, _NOT_YET)) is not _NOT_YET:
                    values[i] = out
                else:
                    values[i] = done[value] = processor(value)
            flat += values
        return tuple(flat)

    @lru_cache(maxsize=SQLITE_ROWS)  # noqa: B019 -- a plan lives as long as its writer
    def text(self, count: int) -> str:
        return self._head + ", ".join([self._one] * count) + self._tail
