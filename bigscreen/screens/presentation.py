"""How a figure reads on screen. The tablets format in Python (display_value); the wall
formats in the browser (assets/wall.js) by the `data-format` its layout takes from
display_format, so both read a figure the same way."""

from __future__ import annotations

RATES = {"closure_rate", "ontime_rate", "satisfaction", "resolved_locally_share", "mediation_success"}
DECIMALS = {"avg_handling_hours"}


def display_format(name: str) -> str:
    """"percent" (0.873 → 87.3%), "decimal" (one place) or "integer" (thousands separated)."""
    return "percent" if name in RATES else "decimal" if name in DECIMALS else "integer"


def display_value(name: str, value: float | int | None) -> str:
    if value is None:
        return "—"
    if name in RATES:
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return f"{value:,}"
