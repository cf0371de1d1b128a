"""Every Dash component ID, in one place, and one convention for all of them: `{page}-{part}`.

A page's IDs are made by its function (`wall`, `duty`, `tablet`, `admin`); those a layout, a callback or a
test names are constants here, `PAGE_PART`. A map's IDs derive from the map's own (`map_ids`).
Pattern-matching IDs are dicts whose "type" is one of these constants (`DUTY_PICK`, `TABLET_CHILD`)."""

from __future__ import annotations

from typing import NamedTuple

URL = "url"
PAGE = "page"


def wall(part: str) -> str:
    return f"wall-{part}"


def duty(part: str) -> str:
    return f"duty-{part}"


def tablet(part: str) -> str:
    return f"tablet-{part}"


def panel(content_id: str) -> str:
    """A panel's ID, from the ID of what it holds."""
    return f"{content_id}-panel"


class MapIds(NamedTuple):
    map: str
    outline: str
    fill: str
    events: str
    legend: str
    legend_max: str


def map_ids(map_id: str) -> MapIds:
    return MapIds(map_id, f"{map_id}-outline", f"{map_id}-fill", f"{map_id}-events", f"{map_id}-legend", f"{map_id}-legend-max")


WALL_ROOT = wall("root")
WALL_TICK = wall("tick")
WALL_FRAME = wall("frame")
WALL_RENDERED = wall("rendered")
WALL_MAP = wall("map")
WALL_MAP_IDS = map_ids(WALL_MAP)

DUTY_ROOT = "duty"
DUTY_TICK = duty("tick")
DUTY_LANG = duty("lang")
DUTY_SIGNATURE = duty("signature")
DUTY_AS_OF = duty("as-of")
DUTY_ALERT_LIST = duty("alerts")
DUTY_ALERT_SUMMARY = duty("alert-summary")
DUTY_ALERT_MESSAGE = duty("alert-message")
DUTY_ALERT_DONE = duty("alert-done")
DUTY_ALERT_PRESSED = duty("alert-pressed")
DUTY_OVERDUE_LIST = duty("overdue")
DUTY_WHISTLE_LIST = duty("whistles")
DUTY_MINE_LIST = duty("mine")
DUTY_RAISE_COLOUR = duty("raise-colour")
DUTY_RAISE_TITLE = duty("raise-title")
DUTY_RAISE_AREA = duty("raise-area")
DUTY_RAISE_SUBMIT = duty("raise-submit")
DUTY_RAISE_MESSAGE = duty("raise-message")
DUTY_RAISE_DONE = duty("raise-done")
DUTY_WHISTLE_CASE = duty("whistle-case")
DUTY_WHISTLE_KIND = duty("whistle-kind")
DUTY_WHISTLE_DEPARTMENTS = duty("whistle-departments")
DUTY_WHISTLE_NOTE = duty("whistle-note")
DUTY_WHISTLE_SUBMIT = duty("whistle-submit")
DUTY_WHISTLE_MESSAGE = duty("whistle-message")
DUTY_WHISTLE_DONE = duty("whistle-done")
DUTY_ACK = duty("ack")
DUTY_RESOLVE = duty("resolve")
DUTY_ESCALATE = duty("escalate")
DUTY_COMMENT = duty("comment")
DUTY_PICK = duty("pick")

TABLET_ROOT = "tablet"
TABLET_TICK = tablet("tick")
TABLET_GRID_TICK = tablet("grid-tick")
TABLET_NAV = tablet("nav")
TABLET_MAP = tablet("map")
TABLET_AS_OF = tablet("as-of")
TABLET_CHILDREN = tablet("children")
TABLET_WORKERS = tablet("workers")
TABLET_PEOPLE = tablet("people")
TABLET_CASES = tablet("cases")
TABLET_CHILD = tablet("child")
TABLET_MAP_IDS = map_ids(TABLET_MAP)


def tablet_kpi(name: str) -> str:
    """A headline figure's ID on the tablet."""
    return tablet(f"kpi-{name.replace('_', '-')}")


def tablet_child_figure(code: str, figure: str) -> dict:
    """A child area's figure (pattern-matching): figure is one of layouts.tablet.CHILD_FIGURES."""
    return {"type": TABLET_CHILD, "code": code, "figure": figure}


def admin(part: str) -> str:
    return f"admin-{part}"


ADMIN_ROOT = "admin"
ADMIN_LANG = admin("lang")
ADMIN_DONE = admin("done")
ADMIN_MESSAGE = admin("message")
ADMIN_SECRET = admin("secret")
ADMIN_KEYS = admin("keys")
ADMIN_TOKENS = admin("tokens")
ADMIN_ACCOUNTS = admin("accounts")
ADMIN_ACT = admin("act")  # pattern-matching: {"type": ADMIN_ACT, "action": "apikey.revoke", "name": source}
ADMIN_RESET_USERNAME = admin("reset-username")
ADMIN_RESET_PASSWORD = admin("reset-password")
ADMIN_RESET_CONFIRMATION = admin("reset-confirmation")
ADMIN_RESET_SUBMIT = admin("reset-submit")
ADMIN_RESET_MESSAGE = admin("reset-message")
ADMIN_SEARCH_WHO = admin("search-who")
ADMIN_SEARCH_ACTION = admin("search-action")
ADMIN_SEARCH_OUTCOME = admin("search-outcome")
ADMIN_SEARCH_SINCE = admin("search-since")
ADMIN_SEARCH_UNTIL = admin("search-until")
ADMIN_SEARCH_IP = admin("search-ip")
ADMIN_SEARCH_SUBMIT = admin("search-submit")
ADMIN_SEARCH_MORE = admin("search-more")
ADMIN_AUDIT = admin("audit")
ADMIN_AUDIT_MESSAGE = admin("audit-message")
ADMIN_AUDIT_BEFORE = admin("audit-before")


def admin_act(action: str, name: str) -> dict:
    """An action button on one row of the admin page's tables (pattern-matching)."""
    return {"type": ADMIN_ACT, "action": action, "name": name}
