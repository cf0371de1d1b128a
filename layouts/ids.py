"""Every Dash component ID, in one place."""

URL = "url"
PAGE = "page"

WALL_TICK = "wall-tick"
WALL_FRAME = "wall-frame"
WALL_RENDERED = "wall-rendered"
WALL_ROOT = "wall-root"
WALL_MAP = "wall-map"


def wall(part: str) -> str:
    return f"wall-{part}"
