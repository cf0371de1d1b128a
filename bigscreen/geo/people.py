"""People and housing (人房数据) and the 1+N grid workforce of each grid."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from bigscreen.geo.names import person_name, phone

HELPER_KINDS = ("police", "doctor", "cadre", "building_head", "volunteer", "utility")
_URBAN_HELPERS = (1.0, 1.0, 0.8, 2.0, 1.5, 0.8)
_RURAL_HELPERS = (0.8, 1.0, 1.5, 0.3, 1.5, 0.6)


@dataclass
class GridStub:
    code: str
    district_weight: float  # the district's population share
    district: str
    urban: float  # 0 (open country) .. 1 (urban core)
    special: bool


def profiles(grids: list[GridStub], population: int, households_per_grid: float, rng: np.random.Generator) -> dict[str, dict[str, int]]:
    n = len(grids)
    urban = np.array([g.urban for g in grids])
    special = np.array([g.special for g in grids])
    weight = rng.lognormal(0.0, 0.35, n) * (0.7 + 0.6 * urban) * np.where(special, 0.15, 1.0)
    district_total: dict[str, float] = {}
    for g, w in zip(grids, weight, strict=True):
        district_total[g.district] = district_total.get(g.district, 0.0) + w
    share_sum = sum({g.district: g.district_weight for g in grids}.values())
    target = np.array([population * g.district_weight / share_sum * w / district_total[g.district] for g, w in zip(grids, weight, strict=True)])
    people = largest_remainder(target, population)

    per_household = population / max(1.0, n * households_per_grid)
    households = np.maximum(1, np.rint(people / (per_household * rng.lognormal(0.0, 0.08, n)))).astype(int)
    households = np.minimum(households, people)
    per_building = (1.3 + 35.0 * urban) * rng.lognormal(0.0, 0.2, n)
    buildings = np.maximum(1, np.rint(households / per_building)).astype(int)
    key_places = rng.poisson(1.0 + 6.0 * urban) + np.where(special, rng.integers(1, 4, n), 0)
    cared_for = rng.binomial(people, 0.015 + 0.025 * (1.0 - urban))
    return {
        g.code: {
            "population": int(people[i]),
            "households": int(households[i]),
            "buildings": int(buildings[i]),
            "key_places": int(key_places[i]),
            "cared_for": int(cared_for[i]),
        }
        for i, g in enumerate(grids)
    }


def largest_remainder(target: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers close to target that add up to total exactly."""
    base = np.floor(target * total / target.sum()).astype(np.int64)
    short = total - int(base.sum())
    if short:
        frac = target * total / target.sum() - base
        base[np.argsort(-frac, kind="stable")[:short]] += 1
    return base


def workers(grids: list[GridStub], rng: random.Random) -> list[dict]:
    out: list[dict] = []
    for g in grids:
        out.append({"grid_code": g.code, "name": person_name(rng), "role": "full_time", "helper_kind": None, "phone": phone(rng)})
        mix = [u * g.urban + r * (1 - g.urban) for u, r in zip(_URBAN_HELPERS, _RURAL_HELPERS, strict=True)]
        for kind in rng.choices(HELPER_KINDS, mix, k=rng.randint(2, 6)):
            out.append({"grid_code": g.code, "name": person_name(rng), "role": "helper", "helper_kind": kind, "phone": phone(rng)})
    return out
