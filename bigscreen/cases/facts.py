"""An event as the commands pass it around, and the facts the live counters are computed from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import Connection, bindparam, func, select

from bigscreen.auth.privacy import mask_text
from bigscreen.db.models import Event, EventTransition
from bigscreen.db.reading import UNREADABLE, one_row, unreadable
from bigscreen.db.session import IN_CHUNK
from bigscreen.domain.schemas import Problem
from bigscreen.geo.areas import AreaIndex
from bigscreen.live.contrib import EventFacts


class EventRecord(SimpleNamespace):
    """A stored event's columns, as ingest returns them (same attributes as a row of `events`)."""

    accepted_at = started_at = handled_at = verified_at = closed_at = rated_at = None
    verify_photo_url = rating = resolved_level = dispute_rung = dispute_outcome = None


# Built once: a statement made per call costs more in SQLAlchemy than the database's own work.
_events, _log = Event.__table__, EventTransition.__table__
_EVENT = select(_events).where(_events.c.id == bindparam("event_id"))
_EVENT_FOR_UPDATE = _EVENT.with_for_update()
_EVENTS = select(_events).where(_events.c.id.in_(bindparam("ids", expanding=True)))
_LAST_STEP = select(_log.c.at).where(_log.c.event_id == bindparam("event_id")).order_by(_log.c.id.desc()).limit(1)
_LAST_STEPS = select(_log.c.event_id, _log.c.at).where(_log.c.id.in_(
    select(func.max(_log.c.id)).where(_log.c.event_id.in_(bindparam("ids", expanding=True))).group_by(_log.c.event_id)))


def load_event(conn: Connection, event_id: int, *, for_update: bool = False) -> EventRecord:
    """The case's stored columns; 404 when there is no such case. `for_update` locks the row
    (on PostgreSQL) until the transaction ends."""
    with one_row("event", event_id):
        row = conn.execute(_EVENT_FOR_UPDATE if for_update else _EVENT, {"event_id": event_id}).first()
    if row is None:
        raise Problem(404, f"no event {event_id}")
    return EventRecord(**row._mapping)


def load_events(conn: Connection, event_ids: Sequence[int]) -> dict[int, EventRecord | Problem]:
    """The stored columns of these cases, by id (cases not found are left out; a case that cannot be
    read gets the Problem that says so, logged, in its place)."""
    out: dict[int, EventRecord | Problem] = {}
    for start in range(0, len(event_ids), IN_CHUNK):
        chunk = list(event_ids[start:start + IN_CHUNK])
        try:
            out.update((row.id, EventRecord(**row._mapping)) for row in conn.execute(_EVENTS, {"ids": chunk}))
        except UNREADABLE as exc:  # one bad row: read them one by one, so that only it is refused
            if not unreadable(exc):
                raise
            for event_id in chunk:
                try:
                    out[event_id] = load_event(conn, event_id)
                except Problem as problem:
                    if problem.status != 404:
                        out[event_id] = problem
    return out


def last_step_at(conn: Connection, event_id: int) -> datetime | None:
    """When the case's latest logged step happened (its report at least, for a stored case)."""
    return conn.scalar(_LAST_STEP, {"event_id": event_id})


def last_steps_at(conn: Connection, event_ids: Sequence[int]) -> dict[int, datetime]:
    """`last_step_at` of each of these cases, by id."""
    out: dict[int, datetime] = {}
    for start in range(0, len(event_ids), IN_CHUNK):
        out.update(conn.execute(_LAST_STEPS, {"ids": list(event_ids[start:start + IN_CHUNK])}).all())
    return out


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
