"""`NewRows` stores what SQLAlchemy's own insert stores, skips rows whose key is stored, and answers
the ids of those it stored, however many rows one insert holds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, select

from bigscreen.db import new_rows
from bigscreen.db.models import Event
from bigscreen.db.new_rows import NewRows

EIGHT_HOURS = timezone(timedelta(hours=8))


def _rows(runtime, source: str, n: int) -> list[dict]:
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0]
    department = runtime.config.dispatch(runtime.config.categories[0].items[0].code, grid.chain[1])
    t = datetime(2026, 12, 7, 9, 30, 15, 123456, tzinfo=timezone.utc)
    return [dict(source=source, source_id=f"r-{k}", channel="grid_app", category_code="SZ", item_code="SZ01",
                 urgency="normal", description=f"井盖破损 {k} 'quoted' \"twice\" ？", address=None if k % 2 else "解放路1号",
                 photo_urls=[] if k % 3 else ["/media/a.jpg", "/media/b.jpg"], reporter_name=None, reporter_phone="13800000000",
                 lat=36.06 + k / 1e6, lon=120.38, grid_id=grid.id, status="dispatched", department_code=department,
                 deadline=(t + timedelta(hours=k)).astimezone(EIGHT_HOURS) if k % 2 else t + timedelta(hours=k),
                 reported_at=t if k % 2 else t.astimezone(EIGHT_HOURS),  # one instant in two zones: converted once, stored alike
                 dispatched_at=t + timedelta(seconds=1), version=1) for k in range(n)]


def _stored(runtime, source: str) -> list[tuple]:
    """The rows as the database holds them (the driver's values, not SQLAlchemy's types), id and source left out."""
    with runtime.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT * FROM events WHERE source = %s ORDER BY source_id" if runtime.engine.dialect.name == "postgresql"
                                    else "SELECT * FROM events WHERE source = ? ORDER BY source_id", (source,)).mappings().all()
    return [tuple(v for k, v in row.items() if k not in ("id", "source")) for row in rows]


def test_new_rows_stores_what_sqlalchemy_stores_and_answers_the_ids(runtime, monkeypatch):
    monkeypatch.setattr(new_rows, "SQLITE_ROWS", 7)  # several statements per insert
    writer = NewRows(runtime.engine.dialect, Event.__table__, unique=("source", "source_id"), returning=("id", "source", "source_id"))
    with runtime.engine.begin() as conn:
        conn.execute(insert(Event), _rows(runtime, "by-sqlalchemy", 20))
        stored = writer.insert(conn, _rows(runtime, "by-hand", 20))
    assert _stored(runtime, "by-hand") == _stored(runtime, "by-sqlalchemy") and len(_stored(runtime, "by-hand")) == 20

    with runtime.engine.connect() as conn:
        ids = {r.source_id: r.id for r in conn.execute(select(Event.source_id, Event.id).where(Event.source == "by-hand"))}
    assert {r.source_id: r.id for r in stored} == ids and {r.source for r in stored} == {"by-hand"}

    with runtime.engine.begin() as conn:  # again, with new rows among them: only the new are stored and answered
        again = writer.insert(conn, _rows(runtime, "by-hand", 25))
    assert sorted(r.source_id for r in again) == [f"r-{k}" for k in range(20, 25)]
    assert len(_stored(runtime, "by-hand")) == 25


def test_new_rows_without_a_unique_key_answers_times_as_sqlalchemy_reads_them(runtime):
    """Rows that never conflict (the alerts a group of raises opens): every one is stored, and a time asked
    back is the aware datetime given, whatever its zone, as SQLAlchemy's own insert answers it."""
    from bigscreen.db.models import Alert

    t = datetime(2026, 12, 7, 9, 30, 15, 123456, tzinfo=timezone.utc)
    rows = [dict(colour="red", source="emergency", subject=f"S{k % 3}@C1", title="火情", area_code=None, event_id=None,
                 count=1, status="open", raised_at=t + timedelta(minutes=k) if k % 2 else (t + timedelta(minutes=k)).astimezone(EIGHT_HOURS),
                 last_raised_at=None, escalation=0, version=1) for k in range(7)]
    opener = NewRows(runtime.engine.dialect, Alert.__table__, unique=None, returning=("id", "subject", "raised_at"))
    with runtime.engine.begin() as conn:
        by_hand = opener.insert(conn, rows)
        by_sqlalchemy = conn.execute(insert(Alert).returning(Alert.id, Alert.subject, Alert.raised_at), rows).all()
    assert len(by_hand) == 7 and len({r.id for r in by_hand}) == 7
    assert sorted((r.subject, r.raised_at) for r in by_hand) == sorted((r.subject, r.raised_at) for r in by_sqlalchemy) \
        == sorted((r["subject"], r["raised_at"]) for r in rows)
    assert all(r.raised_at.tzinfo is not None for r in by_hand)
