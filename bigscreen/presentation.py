"""How a figure reads on screen."""

from __future__ import annotations

RATES = {"closure_rate", "ontime_rate", "satisfaction", "resolved_locally_share", "mediation_success"}


def display_value(name: str, value: float | int | None) -> str:
    if value is None:
        return "—"
    if name in RATES:
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return f"{value:,}"
