"""Alerts (预警) in the four warning colours: raising them, counting up repeats."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from bigscreen.db.models import Alert

COLOURS = ("red", "orange", "yellow", "blue")  # most severe first
REPEAT_WINDOW = timedelta(hours=1)


def raise_alert(conn: Connection, *, colour: str, source: str, subject: str, title: str, at: datetime,
                area_code: str | None = None, event_id: int | None = None,
                window: timedelta = REPEAT_WINDOW) -> int:
    """Opens an alert and returns its id; the same source and subject raised again within the
    window counts up the open alert instead of opening a second one. Runs inside the caller's
    transaction, so the alert is stored with what raised it or not at all. Whoever commits
    publishes the id on `keys.alerts`."""
    alerts = Alert.__table__
    open_one = conn.execute(
        select(alerts.c.id).where(alerts.c.source == source, alerts.c.subject == subject,
                                  alerts.c.status != "resolved", alerts.c.raised_at >= at - window)
        .order_by(alerts.c.id.desc()).limit(1)
    ).scalar()
    if open_one is not None:
        conn.execute(update(alerts).where(alerts.c.id == open_one).values(count=alerts.c.count + 1))
        return open_one
    return conn.execute(alerts.insert().values(
        colour=colour, source=source, subject=subject, title=title[:300], area_code=area_code,
        event_id=event_id, count=1, status="open", raised_at=at,
    )).inserted_primary_key[0]
