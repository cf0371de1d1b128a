"""A report's cases by category and sub-item, and by channel (渠道), each against the period before
(docs/METRICS.md, "Reports"): one query grouped by category, sub-item and channel over the cases
reported in the period and the one before."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from bigscreen.db.models import Event
from bigscreen.live.kpi import ratio
from bigscreen.reports.figures import count_of
from bigscreen.reports.scope import Scope


@dataclass
class Counted:
    """Cases reported in the period and in the one before, for one category, sub-item or channel."""

    code: str
    name: str | None  # from config/categories.yaml; None for a channel (labelled by the renderer) or a code no longer configured
    reported: int
    previous: int
    share: float | None  # of the area's cases reported in the period

    @property
    def change(self) -> float | None:
        """Against the period before, a fraction of its count (none when it had none)."""
        return ratio(self.reported - self.previous, self.previous)


@dataclass
class CategoryCount(Counted):
    items: list[Counted] = field(default_factory=list)


@dataclass
class Breakdown:
    categories: list[CategoryCount]
    channels: list[Counted]


def breakdown(conn: Connection, scope: Scope) -> Breakdown:
    e = Event.__table__.c
    now = e.reported_at >= scope.start
    query = (select(e.category_code, e.item_code, e.channel, count_of(now), count_of(~now))
             .where(scope.cases, e.reported_at >= scope.previous_start, e.reported_at < scope.end)
             .group_by(e.category_code, e.item_code, e.channel))
    items: dict[tuple[str, str], list[int]] = {}
    channels: dict[str, list[int]] = {}
    for category, item, channel, current, before in conn.execute(query):
        for into in (items.setdefault((category, item), [0, 0]), channels.setdefault(channel, [0, 0])):
            into[0] += int(current)
            into[1] += int(before)
    total = sum(c for c, _ in channels.values())
    config = scope.config
    names = {c.code: c.name for c in config.categories} | {i.code: i.name for c in config.categories for i in c.items}
    by_category: dict[str, CategoryCount] = {}
    for (category, item), (current, before) in items.items():
        cat = by_category.setdefault(category, CategoryCount(category, names.get(category), 0, 0, None))
        cat.reported += current
        cat.previous += before
        cat.items.append(Counted(item, names.get(item), current, before, ratio(current, total)))
    for cat in by_category.values():
        cat.share = ratio(cat.reported, total)
        cat.items.sort(key=_order)
    return Breakdown(sorted(by_category.values(), key=_order),
                     sorted((Counted(code, None, c, b, ratio(c, total)) for code, (c, b) in channels.items()), key=_order))


def _order(c: Counted) -> tuple:
    return (-c.reported, -c.previous, c.code)
