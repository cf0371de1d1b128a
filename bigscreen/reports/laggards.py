"""The laggards (后进) of a report: the areas one level down and the departments that missed a target of
`targets` in config/city.yaml in the period (docs/METRICS.md, "Reports"). Read from the rankings' figures,
which come from SQL; no query of its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bigscreen.configuration.models import Targets

LOWER_IS_BETTER = frozenset({"avg_handling_hours"})


@dataclass
class Miss:
    figure: str  # a name of docs/METRICS.md: closure_rate, ontime_rate ...
    value: float
    target: float


@dataclass
class Laggard:
    kind: str  # area or department
    code: str
    name: str
    rank: int  # in the ranking of the period (1 is best)
    reported: int
    misses: list[Miss]


def laggards(ranked_areas: list, ranked_departments: list, targets: Targets) -> list[Laggard]:
    """Every ranked area, then department, that missed a target; most targets missed first, then by
    rank. One with no case reported in the period is not ranked and not marked."""
    goals = targets.model_dump()
    out = []
    for kind, ranked in (("area", ranked_areas), ("department", ranked_departments)):
        for r in ranked:
            if not r.rank:
                continue
            misses = [m for name, goal in goals.items() if (m := _miss(name, r.figures.get(name), goal))]
            if misses:
                out.append(Laggard(kind, r.code, r.name, r.rank, r.figures["reported"], misses))
    return sorted(out, key=lambda g: (g.kind != "area", -len(g.misses), g.rank, g.code))


def _miss(name: str, value: Any, goal: float) -> Miss | None:
    if value is None:
        return None  # nothing counted (no case closed, rated ...): not a miss
    missed = value > goal if name in LOWER_IS_BETTER else value < goal
    return Miss(name, value, goal) if missed else None
