"""An event as the commands pass it around, and the facts the live counters are computed from."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import Connection, select

from bigscreen.areas import AreaIndex
from bigscreen.db.models import Event
from bigscreen.live.contrib import EventFacts
from bigscreen.privacy import mask_text
from bigscreen.schemas import Problem


class EventRecord(SimpleNamespace):
    """A stored event's columns, as ingest returns them (same attributes as a row of `events`)."""

    accepted_at = started_at = handled_at = verified_at = closed_at = rated_at = None
    verify_photo_url = rating = resolved_level = dispute_rung = dispute_outcome = None


def load_event(conn: Connection, event_id: int, *, for_update: bool = False) -> EventRecord:
    """The case's stored columns; 404 when there is no such case. `for_update` locks the row
    (on PostgreSQL) until the transaction ends."""
    events = Event.__table__
    query = select(events).where(events.c.id == event_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise Problem(404, f"no event {event_id}")
    return EventRecord(**row._mapping)


def facts(event: Event, areas: AreaIndex) -> EventFacts:
    return EventFacts(
        id=event.id,
        category=event.category_code,
        chain=areas.by_id[event.grid_id].chain,
        status=event.status,
        reported_at=event.reported_at,
        deadline=event.deadline,
        closed_at=event.closed_at,
        rating=event.rating,
        resolved_level=event.resolved_level,
        department=event.department_code,
        dispute_rung=event.dispute_rung,
        dispute_outcome=event.dispute_outcome,
    )


def ticker_entry(event: Event, areas: AreaIndex) -> dict[str, str]:
    grid = areas.by_id[event.grid_id]
    return {
        "id": str(event.id),
        "at": event.reported_at.isoformat(),
        "grid": grid.code,
        "grid_name": grid.name,
        "category": event.category_code,
        "item": event.item_code,
        "status": event.status,
        "text": mask_text(event.description)[:120],  # the ticker feeds only walls: masked before it is cut
        "lat": f"{event.lat:.5f}",
        "lon": f"{event.lon:.5f}",
        "urgency": event.urgency,
        "department": event.department_code or "",
    }
