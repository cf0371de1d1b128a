"""Event bodies for `POST /api/v1/events`, and when they happen: the day-night rhythm of a city."""

from __future__ import annotations

import random
from bisect import bisect_right
from datetime import datetime, timedelta, timezone
from itertools import accumulate

from bigscreen.simulation import vocab
from bigscreen.simulation.catalogue import Catalogue

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving in China
CHANNEL_WEIGHTS = {"grid_app": 54, "hotline_12345": 20, "citizen_snap": 15, "sensor": 3.5, "video": 3.5,
                   "wechat_group": 3, "city_platform": 1}
URGENCY_TARGET = {"normal": 0.85, "urgent": 0.13, "critical": 0.02}       # over all reports
EMERGENCY_URGENCY = {"normal": 0.45, "urgent": 0.42, "critical": 0.13}   # gas leaks, fires, collapses ...
# Relative event intensity per local hour (mean 1): quiet nights, busy 8-20 h.
HOURLY = (0.22, 0.15, 0.12, 0.10, 0.11, 0.18, 0.38, 0.75, 1.25, 1.55, 1.60, 1.45, 1.15, 1.10, 1.40, 1.55, 1.55,
          1.45, 1.30, 1.15, 0.95, 0.72, 0.48, 0.32)
HOURLY_MEAN = sum(HOURLY) / 24
PHOTO_DIR = "/media/demo/"
PHOTO_KINDS = 6                  # photos named <category>-01.jpg ... <category>-06.jpg
JITTER_DEG = 0.00015             # about 15 m: a point very close to the grid's own point
PHOTO_COUNTS = {"grid_app": (0.85, 1, 3), "citizen_snap": (1.0, 1, 4), "video": (1.0, 1, 1), "wechat_group": (0.5, 1, 2),
                "city_platform": (0.6, 1, 2)}
REPORTER_CHANNELS = ("hotline_12345", "citizen_snap")


def rhythm(at: float | datetime) -> float:
    """How busy the city is at this moment, relative to the daily mean."""
    dt = at if isinstance(at, datetime) else datetime.fromtimestamp(at, SHANGHAI)
    return HOURLY[dt.astimezone(SHANGHAI).hour] / HOURLY_MEAN


def iso(at: float | datetime) -> str:
    """ISO 8601 in China time, whole seconds, rounded down (so never later than the moment itself)."""
    dt = at if isinstance(at, datetime) else datetime.fromtimestamp(at, SHANGHAI)
    return dt.astimezone(SHANGHAI).replace(microsecond=0).isoformat()


def sample_times(rng: random.Random, start: float, end: float, n: int) -> list[float]:
    """`n` sorted epoch times in [start, end], denser in the daytime, by hour slots weighted by `rhythm`."""
    if n <= 0 or end <= start:
        return []
    edges = [start]
    t = (start // 3600 + 1) * 3600
    while t < end:
        edges.append(t)
        t += 3600
    edges.append(end)
    slots = list(zip(edges, edges[1:]))
    cum = list(accumulate((b - a) * rhythm(a) for a, b in slots))
    out = []
    for _ in range(n):
        a, b = slots[min(len(slots) - 1, bisect_right(cum, rng.random() * cum[-1]))]
        out.append(rng.uniform(a, b))
    out.sort()
    return out


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def ordinary_urgency(emergency_share: float) -> dict[str, float]:
    """Urgency of ordinary reports such that, with the emergencies, the mix meets URGENCY_TARGET."""
    e = min(emergency_share, 0.5)
    mix = {u: max(0.002, (URGENCY_TARGET[u] - e * EMERGENCY_URGENCY[u]) / (1 - e)) for u in URGENCY_TARGET}
    return {u: w / sum(mix.values()) for u, w in mix.items()}


class EventFactory:
    """Makes one believable event body at a time."""

    def __init__(self, catalogue: Catalogue, rng: random.Random, source_prefix: str):
        self.catalogue, self.rng, self.prefix = catalogue, rng, source_prefix
        self.serial = 0
        self.urgency = {c: ordinary_urgency(catalogue.emergency_share(c)) for c in CHANNEL_WEIGHTS}

    def make(self, reported_at: float) -> dict:
        rng = self.rng
        self.serial += 1
        channel = _weighted(rng, CHANNEL_WEIGHTS)
        item = self.catalogue.pick_item(rng, channel)
        grid = self.catalogue.pick_grid(rng)
        urgency = _weighted(rng, EMERGENCY_URGENCY if item.emergency else self.urgency[channel])
        kind = vocab.place_kind(item.name, item.profile, rng)
        spot = vocab.place(kind, grid.community, grid.community_code, rng, item.name)
        body: dict = {
            "source_id": f"{self.prefix}-{self.serial:07d}",
            "channel": channel,
            "item": item.code,
            "urgency": urgency,
            "description": vocab.describe(channel, urgency, spot, item.name, item.profile, rng)[:2000],
            "grid": grid.code,
            "reported_at": iso(reported_at),
        }
        where = spot if spot.startswith(grid.community) else grid.community + spot
        body["address"] = f"{grid.district}{grid.street if grid.street != grid.community else ''}{where}"[:300]
        if grid.lat is not None and grid.lon is not None:
            body["lat"] = round(grid.lat + rng.uniform(-JITTER_DEG, JITTER_DEG), 6)
            body["lon"] = round(grid.lon + rng.uniform(-JITTER_DEG, JITTER_DEG), 6)
        share, low, high = PHOTO_COUNTS.get(channel, (0.0, 0, 0))
        if rng.random() < share:
            body["photo_urls"] = [f"{PHOTO_DIR}{item.category.lower()}-{k:02d}.jpg"
                                  for k in sorted(rng.sample(range(1, PHOTO_KINDS + 1), rng.randint(low, high)))]
        if channel in REPORTER_CHANNELS and (channel == "hotline_12345" or rng.random() < 0.9):
            body["reporter_name"] = vocab.person_name(rng, polite=channel == "hotline_12345" and rng.random() < 0.5)
            body["reporter_phone"] = vocab.phone(rng)
        return body
