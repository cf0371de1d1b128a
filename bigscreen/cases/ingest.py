"""Ingest: validate reported events, store them with their dispatch, then move the live counters.

One transaction for the whole batch: either every event of it is stored, or none.
A retry with a (source, source_id) already stored returns that event and creates nothing.
"""

from __future__ import annotations

from concurrent.futures import Future
from datetime import timedelta

from bigscreen.cases.ingest_writer import IngestWriter, Outcome
from bigscreen.commands.base import BatchCommand
from bigscreen.commands.checks import TimeWindow
from bigscreen.domain.lifecycle import Status
from bigscreen.domain.schemas import EventIn, Problem, field_error
from bigscreen.geo.areas import AreaInfo

DISPATCHED = Status.DISPATCHED.value
ONE_SECOND = timedelta(seconds=1)


class IngestEvents(BatchCommand):
    items: list[EventIn]

    def validate(self) -> list[dict]:
        """The rows to store, validated; raises Problem with every field error. Later stages' columns are
        left out (NULL): fewer parameters to process per row."""
        errors: list[dict] = []
        rows: list[dict] = []
        cfg, source = self.rt.config, self.source
        now = self.rt.clock()
        window = None  # made for the first report that names its time (most take the centre's clock)
        seen: dict[str, int] = {}
        for i, item in enumerate(self.items):
            before = len(errors)
            if item.source_id in seen:
                errors.append(field_error(self._loc(i, "source_id"), f"duplicate source_id in this batch (also at index {seen[item.source_id]})"))
            seen.setdefault(item.source_id, i)
            try:
                category = cfg.item_category(item.item)
            except KeyError:
                errors.append(field_error(self._loc(i, "item"), f"unknown sub-item '{item.item}'"))
                category = None
            if category is not None and item.category is not None and item.category != category.code:
                errors.append(field_error(self._loc(i, "category"), f"sub-item '{item.item}' belongs to category '{category.code}', not '{item.category}'"))
            reported_at = item.reported_at
            if reported_at is None:
                reported_at = now
            else:
                window = window or TimeWindow.of(self.rt, now)
                if error := window.error(reported_at, self._loc(i, "reported_at")):
                    errors.append(error)
            grid = self._grid(item, i, errors)
            if len(errors) > before or grid is None or category is None:
                continue
            lat, lon = (item.lat, item.lon) if item.lat is not None and item.lon is not None else (grid.lat, grid.lon)
            urgency = str(item.urgency)  # the enums' plain values: `.value` costs a descriptor call
            rows.append(dict(
                source=source, source_id=item.source_id, channel=str(item.channel), category_code=category.code,
                item_code=item.item, urgency=urgency, description=item.description, address=item.address,
                photo_urls=list(item.photo_urls), reporter_name=item.reporter_name, reporter_phone=item.reporter_phone,
                lat=lat, lon=lon, grid_id=grid.id, status=DISPATCHED,
                department_code=cfg.dispatch(item.item, grid.chain[1] if len(grid.chain) > 1 else None),
                deadline=reported_at + cfg.time_limit(item.item, urgency), reported_at=reported_at,
                dispatched_at=max(reported_at, min(now, reported_at + ONE_SECOND)), version=1,
            ))
        if errors:
            raise Problem(422, errors)
        return rows

    def _grid(self, item: EventIn, i: int, errors: list[dict]) -> AreaInfo | None:
        areas = self.rt.areas
        has_point = item.lat is not None and item.lon is not None
        if (item.lat is None) != (item.lon is None):
            missing = "lon" if item.lon is None else "lat"
            errors.append(field_error(self._loc(i, missing), "lat and lon must be given together"))
            return None
        located = areas.locate(item.lat, item.lon) if has_point else None
        if has_point and located is None:
            errors.append(field_error(self._loc(i, "lat"), f"point ({item.lat}, {item.lon}) is outside the city's grids"))
            return None
        if item.grid is not None:
            grid = areas.grid(item.grid)
            if grid is None:
                errors.append(field_error(self._loc(i, "grid"), f"unknown grid '{item.grid}'"))
            return grid
        if not has_point:
            errors.append(field_error(self._loc(i, "grid"), "give a grid code or a point (lat, lon)"))
        return located

    def submit(self, writer: IngestWriter) -> Future:
        """Validates now (Problem with every field error), then hands the rows to the process's
        group-commit writer, which stores them with other requests' in one transaction and moves Redis
        after the commit; the future holds the outcomes. Ingest's `write` and `publish` are the writer's."""
        return writer.submit(self.source, self.validate())

    def run(self, writer: IngestWriter) -> list[Outcome]:
        return self.submit(writer).result()
