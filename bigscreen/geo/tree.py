"""One district cut into streets, communities and grids (and, if asked, committees and buildings).

Grid seeds are drawn once per district, denser near the district seats, and relaxed;
streets and communities are k-means clusters of those seeds, so every level is denser
in town and each street or community holds at least one grid.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import shapely

from bigscreen.geo import names
from bigscreen.geo.outlines import DistrictOutline
from bigscreen.geo.subdivide import Frame, cluster, polygonal, relax, round_coverage, sample_points, split

REAL_GRIDS = 6098  # Dongying's published grid count, for which the real community list is sized
MAX_GRIDS_PER_COMMUNITY = 12


@dataclass
class Node:
    level: str
    name: str
    geometry: object
    suffix: str | None = None  # real code suffix under the natural parent
    kind: str = "base"
    urban: float = 0.0
    district: str = ""
    children: list[Node] = field(default_factory=list)


@dataclass
class Builder:
    frame: Frame
    rng: np.random.Generator
    pyrng: random.Random
    used: set[str]
    grid_scale: float
    below_grid: tuple[str, ...] = ()
    tick: Callable[[int], None] = lambda n: None
    _district: str = field(default="", init=False)

    def district(self, outline: DistrictOutline, n_grids: int) -> Node:
        node = Node("district", outline.name, outline.geometry, suffix=outline.code, district=outline.code)
        self._district = outline.code
        seats = self.frame.to_plane(np.array([[s.lon, s.lat] for s in outline.seats]))
        radii = np.array([s.radius for s in outline.seats])

        def urban(pts: np.ndarray) -> np.ndarray:
            d2 = ((pts[:, None, :] - seats[None, :, :]) ** 2).sum(2)
            return np.exp(-d2 / radii[None, :] ** 2).max(1)

        seeds = sample_points(outline.geometry, n_grids, self.frame, self.rng, lambda p: outline.rural + (1 - outline.rural) * urban(p))
        seeds = relax(seeds, outline.geometry, self.frame)
        u = urban(seeds)
        real = names.streets(outline.code)
        n_streets = min(n_grids, len(real) or max(3, round(n_grids / 110)))
        medoids, labels = cluster(seeds, n_streets, self.rng)
        order = np.argsort(-u[medoids], kind="stable")
        street_names = self._street_names(real, u[medoids][order])
        geoms = split(outline.geometry, seeds[medoids], self.frame)
        grids: list[tuple[Node, Node]] = []
        for rank, j in enumerate(order):
            name, suffix = street_names[rank]
            street = Node("street", name, geoms[j], suffix=suffix)
            mine = labels == j
            if street.geometry is None:
                self.tick(int(mine.sum()))
                continue
            node.children.append(street)
            self._street(street, seeds[mine], u[mine], outline.code + (suffix or ""), grids)
        self._specials(grids, n_grids)
        return node

    def _street_names(self, real: list[names.Division], urbanness: np.ndarray) -> list[tuple[str, str | None]]:
        picked = self.pyrng.sample(real, min(len(real), len(urbanness)))
        self.pyrng.shuffle(picked)
        picked.sort(key=lambda d: names.street_rank(d.name))
        out: list[tuple[str, str | None]] = [(d.name, d.suffix) for d in picked]
        for u in urbanness[len(out) :]:
            stem = names.derived_community(True, len(out) + 1, self.used, self.pyrng).removesuffix("社区")
            out.append((stem + ("街道" if u > 0.3 else "镇"), None))
        return out

    def _street(self, street: Node, seeds: np.ndarray, u: np.ndarray, code: str, grids: list[tuple[Node, Node]]) -> None:
        real = names.communities(code) if street.suffix else []
        n = len(seeds)
        wanted = round(len(real) * self.grid_scale) if real else round(n / 3)
        k = min(n, max(1, wanted, math.ceil(n / MAX_GRIDS_PER_COMMUNITY)))
        medoids, labels = cluster(seeds, k, self.rng)
        order = np.argsort(-u[medoids], kind="stable")
        urban_street = names.street_rank(street.name) == 0
        picked = self.pyrng.sample(real, min(len(real), k))
        self.pyrng.shuffle(picked)
        picked.sort(key=lambda d: not d.name.endswith("社区"))
        geoms = split(street.geometry, seeds[medoids], self.frame)
        for rank, j in enumerate(order):
            mine = np.flatnonzero(labels == j)
            if rank < len(picked):
                name, suffix = picked[rank].name, picked[rank].suffix
                self.used.add(name)
            else:
                name = names.derived_community(urban_street or u[medoids[j]] > 0.3, rank + 1, self.used, self.pyrng)
                suffix = None
            if geoms[j] is None:
                self.tick(len(mine))
                continue
            community = Node("community", name, geoms[j], suffix=suffix)
            street.children.append(community)
            self._community(community, street, seeds[mine], u[mine], grids)

    def _community(self, community: Node, street: Node, seeds: np.ndarray, u: np.ndarray, grids: list[tuple[Node, Node]]) -> None:
        order = np.lexsort((seeds[:, 0], -seeds[:, 1]))  # north to south, then west to east
        seeds, u = seeds[order], u[order]
        for i, geom in enumerate(split(community.geometry, seeds, self.frame)):
            if geom is None:
                continue
            grid = Node("grid", names.grid_name(community.name, i + 1), geom, urban=float(u[i]), district=self._district)
            community.children.append(grid)
            grids.append((grid, street))
            if self.below_grid:
                self._below(grid, 0)
        self.tick(len(seeds))

    def _below(self, parent: Node, depth: int) -> None:
        level = self.below_grid[depth]
        count = self.pyrng.randint(1, 3) if level == "committee" else self.pyrng.randint(2, 5)
        pts = sample_points(parent.geometry, count, self.frame, self.rng)
        for i, geom in enumerate(split(parent.geometry, pts, self.frame)):
            if geom is None:
                continue
            name = names.committee_name(i + 1, self.pyrng) if level == "committee" else names.building_name(i + 1, parent.urban > 0.3)
            child = Node(level, name, geom, urban=parent.urban)
            parent.children.append(child)
            if depth + 1 < len(self.below_grid):
                self._below(child, depth + 1)

    def _specials(self, grids: list[tuple[Node, Node]], n_grids: int) -> None:
        """专属网格: schools and hospitals in town, industrial parks further out."""
        if len(grids) < 10:
            return
        count = max(3, round(0.015 * n_grids))
        by_urban = sorted(range(len(grids)), key=lambda i: -grids[i][0].urban)
        town, country = by_urban[: len(grids) // 2], by_urban[len(grids) // 2 :]
        taken: set[int] = set()
        for n in range(count):
            kind = ("school", "hospital", "park")[n % 3]
            pool = [i for i in (country if kind == "park" else town) if i not in taken]
            if not pool:
                break
            i = self.pyrng.choice(pool)
            taken.add(i)
            grid, street = grids[i]
            grid.kind = "special"
            grid.name = names.special_name(kind, street.name, self.used, self.pyrng)


def settle(root: Node) -> None:
    """Round all leaves together onto the grid, then make every parent the union of its children."""
    leaves = [n for n in _walk(root) if not n.children]
    for leaf, geom in zip(leaves, round_coverage([leaf.geometry for leaf in leaves]), strict=True):
        leaf.geometry = geom
    _unite(root)


def _unite(node: Node) -> None:
    if not node.children:
        return
    for child in node.children:
        _unite(child)
    node.children = [c for c in node.children if c.geometry is not None]
    parts = [c.geometry for c in node.children]
    node.geometry = None if not parts else parts[0] if len(parts) == 1 else polygonal(shapely.union_all(parts))


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _walk(child)
