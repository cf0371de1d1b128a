"""Every Dash component ID, in one place."""

HOME_TICK = "home-tick"
HOME_AS_OF = "home-as-of"


def kpi(name: str) -> str:
    return f"kpi-{name.replace('_', '-')}"

URL = "url"
PAGE = "page"

WALL_TICK = "wall-tick"
WALL_FRAME = "wall-frame"
WALL_RENDERED = "wall-rendered"
WALL_ROOT = "wall-root"
WALL_MAP = "wall-map"


def wall(part: str) -> str:
    return f"wall-{part}"
