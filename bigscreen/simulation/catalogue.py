"""The city and the service list as the API shows them, with weighted draws of where and what."""

from __future__ import annotations

import random
import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

from bigscreen.simulation.vocab import (
    ALARM_PROFILES,
    ALARM_WORDS,
    DEFAULT_PROFILE,
    DISPUTE_PROFILES,
    EMERGENCY_WORDS,
    SENSOR_WORDS,
    VIDEO_WORDS,
    Profile,
    profile_for,
    stable_rng,
)

AREA_LEVELS = ("city", "district", "street", "community", "grid")
HOTSPOT_STREET_FACTOR = 3.0      # a hotspot street gets this many times the events of an ordinary one
HOTSPOT_COMMUNITY_FACTOR = 2.5
KIND_FACTORS = {"special": 0.5, "rural": 0.7, "village": 0.7}
FITTING_SHARE = 1.0              # sensors and cameras report only what they can sense or see


@dataclass(frozen=True, slots=True)
class GridSpot:
    code: str
    name: str
    lat: float | None
    lon: float | None
    kind: str
    community: str
    community_code: str
    street: str
    street_code: str
    district: str


@dataclass(frozen=True, slots=True)
class SubItem:
    code: str
    name: str
    category: str
    category_name: str
    profile: Profile
    weight: float

    @property
    def emergency(self) -> bool:
        return any(w in self.name for w in EMERGENCY_WORDS)

    @property
    def dispute(self) -> bool:
        """A dispute, mediated before it is closed (the server refuses mediation of anything else with a 409)."""
        return self.profile.key in DISPUTE_PROFILES

    @property
    def alarming(self) -> bool:
        """Alarming enough that an urgent or critical case may be whistled to several departments."""
        return self.emergency or self.profile.key in ALARM_PROFILES or any(w in self.name for w in ALARM_WORDS)


class CatalogueError(RuntimeError):
    """The server's areas or services are missing or unusable."""


class _Weighted:
    def __init__(self, things: list, weights: list[float]):
        self.things, self.cum = things, list(accumulate(weights))

    def pick(self, rng: random.Random):
        return self.things[bisect_right(self.cum, rng.random() * self.cum[-1])] if self.things else None


def _float(value) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _category_of(service: dict) -> str:
    keywords = str(service.get("keywords") or "").split(",")[0].strip()
    if keywords:
        return keywords
    m = re.match(r"[A-Za-z]+", str(service.get("service_code", "")))
    return m.group(0) if m else ""


class Catalogue:
    """Grids with their community, street and district names, and sub-items with their weights."""

    def __init__(self, grids: list[GridSpot], items: list[SubItem], rng: random.Random):
        if not grids:
            raise CatalogueError("the server lists no grids (GET /api/v1/areas?level=grid)")
        if not items:
            raise CatalogueError("the server lists no services (GET /open311/v2/services.json)")
        self.grids, self.items = grids, items
        streets = sorted({g.street_code for g in grids})
        communities = sorted({g.community_code for g in grids})
        self.hotspot_streets = set(rng.sample(streets, min(len(streets) // 2, max(1, min(5, round(len(streets) * 0.08))))))
        self.hotspot_communities = set(rng.sample(communities, min(len(communities) // 2,
                                                               max(2, min(8, round(len(communities) * 0.05))))))
        self._grids = _Weighted(grids, [self.grid_weight(g) for g in grids])
        self._items = _Weighted(items, [i.weight for i in items])
        self._fitting = {
            channel: _Weighted(fit, [i.weight for i in fit])
            for channel, words in (("sensor", SENSOR_WORDS), ("video", VIDEO_WORDS))
            if (fit := [i for i in items if any(w in i.name for w in words)])
        }

    def grid_weight(self, g: GridSpot) -> float:
        w = next((f for k, f in KIND_FACTORS.items() if k in (g.kind or "").lower()), 1.0)
        if g.street_code in self.hotspot_streets:
            w *= HOTSPOT_STREET_FACTOR
        if g.community_code in self.hotspot_communities:
            w *= HOTSPOT_COMMUNITY_FACTOR
        return w

    def pick_grid(self, rng: random.Random) -> GridSpot:
        return self._grids.pick(rng)

    def pick_item(self, rng: random.Random, channel: str = "grid_app") -> SubItem:
        fitting = self._fitting.get(channel)
        if fitting and rng.random() < FITTING_SHARE:
            return fitting.pick(rng)
        return self._items.pick(rng)

    def emergency_share(self, channel: str) -> float:
        """Expected share of emergency sub-items (gas leaks, fires ...) among reports from `channel`."""
        def share(items: list[SubItem]) -> float:
            return sum(i.weight for i in items if i.emergency) / sum(i.weight for i in items)
        fitting = self._fitting.get(channel)
        everything = share(self.items)
        return everything if fitting is None else FITTING_SHARE * share(fitting.things) + (1 - FITTING_SHARE) * everything

    def category_shares(self) -> dict[str, float]:
        """Expected share of each category code among events from channels other than sensor and video."""
        total = sum(i.weight for i in self.items)
        shares: dict[str, float] = {}
        for i in self.items:
            shares[i.category] = shares.get(i.category, 0.0) + i.weight / total
        return shares

    @classmethod
    def from_api(cls, areas: dict[str, list[dict]], services: list[dict], rng: random.Random) -> Catalogue:
        """Build from `GET /api/v1/areas?level=L` lists (by level) and the Open311 service list."""
        by_code = {str(a["code"]): a for level in areas.values() for a in level if isinstance(a, dict) and "code" in a}

        def up(area: dict, level: str) -> dict | None:
            seen = 0
            node = area
            while node is not None and seen < 10:
                if node.get("level") == level:
                    return node
                node, seen = by_code.get(str(node.get("parent"))), seen + 1
            return None

        grids = []
        for a in areas.get("grid", []):
            parent = by_code.get(str(a.get("parent"))) or {}
            community = up(a, "community") or parent or a
            street = up(a, "street") or by_code.get(str(community.get("parent"))) or community
            district = up(a, "district") or {}
            grids.append(GridSpot(
                code=str(a["code"]), name=str(a.get("name") or a["code"]), lat=_float(a.get("lat")),
                lon=_float(a.get("lon")), kind=str(a.get("kind") or ""),
                community=str(community.get("name") or a.get("name") or ""), community_code=str(community.get("code", a["code"])),
                street=str(street.get("name") or ""), street_code=str(street.get("code", community.get("code", a["code"]))),
                district=str(district.get("name") or "")))

        by_category: dict[str, list[dict]] = {}
        for s in services:
            if isinstance(s, dict) and s.get("service_code"):
                by_category.setdefault(_category_of(s), []).append(s)
        items = []
        for category, members in sorted(by_category.items()):
            profile = profile_for(category, str(members[0].get("group") or ""))
            weight = profile.weight if profile is not DEFAULT_PROFILE else DEFAULT_PROFILE.weight
            jitter = [stable_rng("item", s["service_code"]).lognormvariate(0, 0.35) for s in members]
            scale = weight / sum(jitter)
            items += [SubItem(code=str(s["service_code"]), name=str(s.get("service_name") or s["service_code"]),
                              category=category, category_name=str(s.get("group") or ""), profile=profile,
                              weight=j * scale)
                      for s, j in zip(members, jitter)]
        return cls(grids, items, rng)
