"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (SQLite keeps no zone); always read back aware in UTC.

    On SQLite the conversion to and from text is done here in one step instead of two
    (this decorator, then SQLAlchemy's DATETIME), in the same storage format: ingest
    binds several timestamps per event."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)

    def bind_processor(self, dialect):
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        to_naive = self.process_bind_param

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is timezone.utc:  # most times (the clock's, and times made from them): one step
                return value.isoformat(" ", "microseconds")[:-6]  # less its "+00:00"
            # isoformat, not strftime: strftime writes year 1 as "1-01-01", which cannot be read back
            return to_naive(value, dialect).isoformat(" ", "microseconds")

        return process

    def result_processor(self, dialect, coltype):
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            try:
                return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
            except ValueError:
                # a year below 1000 as strftime wrote it before ("1-01-01 ..."); anything else stays unreadable
                year, sep, rest = value.partition("-")
                if not (sep and year.isdigit() and len(year) < 4):
                    raise
                return datetime.fromisoformat(f"{int(year):04d}-{rest}").replace(tzinfo=timezone.utc)

        return process
