"""Produced reports kept for download (`report_files`): one per period, area and format; storing one
again replaces it in the same transaction, so a rerun never leaves two."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from bigscreen.db.models import ReportFile
from bigscreen.reports.periods import Period

MEDIA_TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
LISTED = (ReportFile.id, ReportFile.period, ReportFile.kind, ReportFile.area_code, ReportFile.format, ReportFile.produced_at)


def save(conn: Connection, period: Period, area_code: str, fmt: str, content: bytes, produced_at: datetime) -> int:
    t = ReportFile.__table__
    conn.execute(delete(t).where(t.c.period == period.label, t.c.area_code == area_code, t.c.format == fmt))
    return conn.execute(insert(t).values(period=period.label, kind=period.kind, area_code=area_code, format=fmt,
                                         produced_at=produced_at, content=content).returning(t.c.id)).scalar_one()


def stored(conn: Connection, period: Period, area_code: str, fmt: str) -> bool:
    return conn.scalar(select(ReportFile.id).where(ReportFile.period == period.label, ReportFile.area_code == area_code,
                                                   ReportFile.format == fmt)) is not None


def listed(conn: Connection, area_codes: set[str] | None) -> list[dict]:
    """Every stored report (without its content), newest first; only those of `area_codes` unless None."""
    query = select(*LISTED).order_by(ReportFile.produced_at.desc(), ReportFile.id.desc())
    if area_codes is not None:
        query = query.where(ReportFile.area_code.in_(sorted(area_codes)))
    return [dict(r._mapping) for r in conn.execute(query)]


def stored_content(conn: Connection, period: Period, area_code: str, fmt: str) -> bytes | None:
    return conn.scalar(select(ReportFile.content).where(ReportFile.period == period.label, ReportFile.area_code == area_code,
                                                        ReportFile.format == fmt))


def content(conn: Connection, report_id: int) -> tuple[dict, bytes] | None:
    row = conn.execute(select(*LISTED, ReportFile.content).where(ReportFile.id == report_id)).one_or_none()
    if row is None:
        return None
    meta = dict(row._mapping)
    return meta, meta.pop("content")
