"""People, housing and workforce of every area, summed up the tree from its grids."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bigscreen.db.models import Area, GridProfile, GridWorker

PEOPLE = ("population", "households", "buildings", "key_places", "cared_for")
WORKFORCE = ("workers", "helpers")


def area_totals(session: Session) -> dict[str, dict[str, int]]:
    """{area code: {population, households, buildings, key_places, cared_for, workers, helpers}}
    for every area that has grids below it (or is one). Retired grids (bigscreen.imports.remap) count nowhere."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(PEOPLE + WORKFORCE, 0))
    people = session.execute(
        select(Area.path, *(getattr(GridProfile, f) for f in PEOPLE)).join(GridProfile, GridProfile.area_id == Area.id)
        .where(Area.retired_at.is_(None))
    ).all()
    for path, *values in people:
        for code in path.split("/"):
            row = totals[code]
            for f, v in zip(PEOPLE, values):
                row[f] += v
    workforce = session.execute(
        select(Area.path,
               func.sum(case((GridWorker.role == "full_time", 1), else_=0)),
               func.sum(case((GridWorker.role == "helper", 1), else_=0)))
        .join(GridWorker, GridWorker.area_id == Area.id).where(Area.retired_at.is_(None)).group_by(Area.path)
    ).all()
    for path, workers, helpers in workforce:
        for code in path.split("/"):
            totals[code]["workers"] += int(workers or 0)
            totals[code]["helpers"] += int(helpers or 0)
    return dict(totals)
