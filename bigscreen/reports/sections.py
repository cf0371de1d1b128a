"""The sections of a report after its headline and rankings (docs/METRICS.md, "Reports"), each from its
own module, read on one connection: categories and channels, hotspots, laggards, late and supervised
cases, whistles, disputes and field work."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from bigscreen.reports.breakdown import breakdown
from bigscreen.reports.disputes import disputes
from bigscreen.reports.field_work import field_work
from bigscreen.reports.hotspots import hotspots
from bigscreen.reports.scope import Scope
from bigscreen.reports.supervised import supervision
from bigscreen.reports.whistled import whistles


def build_sections(engine: Engine, scope: Scope) -> dict[str, Any]:
    """The Report fields of the sections read from SQL, by name (the laggards come from the rankings:
    `bigscreen.reports.report`)."""
    with engine.connect() as conn:
        mix = breakdown(conn, scope)
        return {
            "categories": mix.categories,
            "channels": mix.channels,
            "hotspots": hotspots(conn, scope),
            "supervision": supervision(conn, scope),
            "whistles": whistles(conn, scope),
            "disputes": disputes(conn, scope),
            "field_work": field_work(conn, scope),
        }
