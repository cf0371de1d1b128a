"""The area tree in memory: codes, names, ancestor chains, and the point-to-grid index.

Areas a re-imported map retired (`retired`) stay in `by_code` and `by_id`, so the cases filed on them
still resolve (history, counters); every list of the map as it is now (`at_level`, `grid`, `locate`,
`level_number`) leaves them out. `version` is the map's version this index was loaded at (the Redis
key `map:version`, bigscreen.jobs.watch reloads the index when it moves), None when unknown."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.orm import Session

from bigscreen.db.models import Area


class NoCity(LookupError):
    """The data dir holds no city yet: a centre that runs `serve` before it imports its map. The API answers
    it as an outage (503, bigscreen.api.outages), the pages with a notice that reloads itself, and the wall's
    frames wait for the city (bigscreen.wall.publisher)."""

    def __init__(self) -> None:
        super().__init__("no city yet: import the centre's map (bigscreen city import) or build the demo city (bigscreen city build)")


@dataclass(frozen=True)
class AreaInfo:
    id: int
    code: str
    name: str
    level: int
    level_name: str
    parent_code: str | None
    kind: str
    lat: float
    lon: float
    chain: tuple[str, ...]
    retired: bool = False


class AreaIndex:
    def __init__(self, areas: list[AreaInfo], grid_level: int, session_factory=None, version: str | None = None) -> None:
        self.by_code = {a.code: a for a in areas}
        self.by_id = {a.id: a for a in areas}
        self.grid_level = grid_level
        self.version = version
        self._session_factory = session_factory

    @classmethod
    def load(cls, session: Session, levels: list[str], session_factory=None, version: str | None = None) -> AreaIndex:
        rows = session.execute(
            select(Area.id, Area.code, Area.name, Area.level, Area.level_name, Area.parent_id, Area.kind, Area.lat, Area.lon, Area.path,
                   Area.retired_at)
        ).all()
        code_of = {r.id: r.code for r in rows}
        areas = [
            AreaInfo(r.id, r.code, r.name, r.level, r.level_name, code_of.get(r.parent_id), r.kind, r.lat, r.lon, tuple(r.path.split("/")),
                     r.retired_at is not None)
            for r in rows
        ]
        return cls(areas, levels.index("grid"), session_factory, version)

    @property
    def city(self) -> AreaInfo:
        """The whole city, the root of the tree; NoCity before one is imported or built."""
        for a in self.by_code.values():
            if a.level == 0 and not a.retired:
                return a
        raise NoCity()

    def level_number(self, name: str) -> int | None:
        for a in self.by_code.values():
            if a.level_name == name and not a.retired:
                return a.level
        return None

    def at_level(self, level: int) -> list[AreaInfo]:
        return sorted((a for a in self.by_code.values() if a.level == level and not a.retired), key=lambda a: a.code)

    def chain_of(self, code: str) -> tuple[str, ...]:
        return self.by_code[code].chain

    def grid(self, code: str) -> AreaInfo | None:
        area = self.by_code.get(code)
        return area if area is not None and area.level == self.grid_level and not area.retired else None

    @cached_property
    def locator(self):
        from bigscreen.geo.locate import GridLocator

        with self._session_factory() as session:
            rows = session.execute(select(Area.id, Area.geometry).where(Area.level == self.grid_level,
                                                                   Area.retired_at.is_(None))).all()
        return GridLocator.from_rows([(r.id, r.geometry) for r in rows])

    def locate(self, lat: float, lon: float) -> AreaInfo | None:
        grid_id = self.locator.locate(lat, lon)
        return None if grid_id is None else self.by_id[grid_id]
