"""Roles, what each may do, and the principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    WALL = "wall"      # a kiosk: read-only, no personal data
    LEADER = "leader"  # reads its own area
    DUTY = "duty"      # duty officer: acknowledges, dispatches, whistles, moves cases
    ADMIN = "admin"    # users, keys, configuration; and everything above
    SOURCE = "source"  # an API key of a reporting system (ingest, transitions in a named role)


class Permission(StrEnum):
    VIEW_WALL = "view_wall"
    VIEW_AREA = "view_area"          # tablets: drill down, open cases
    VIEW_PERSONAL = "view_personal"  # reporters' names and phone numbers
    ACT = "act"                      # acknowledge, resolve, escalate, whistle, dispatch
    ADMIN = "admin"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.WALL: frozenset({Permission.VIEW_WALL}),
    Role.LEADER: frozenset({Permission.VIEW_WALL, Permission.VIEW_AREA}),
    Role.DUTY: frozenset({Permission.VIEW_WALL, Permission.VIEW_AREA, Permission.VIEW_PERSONAL, Permission.ACT}),
    Role.ADMIN: frozenset(Permission),
    Role.SOURCE: frozenset(),
}
USER_ROLES = (Role.LEADER, Role.DUTY, Role.ADMIN)  # roles a person logs in with


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a person (session), a wall (kiosk token) or a source (API key)."""

    kind: str  # user, kiosk or source
    name: str
    role: Role
    area: str | None = None  # a leader's or a scoped wall's area; None: the whole city
    user_id: int | None = None

    def can(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]

    def covers(self, chain: tuple[str, ...]) -> bool:
        """Whether an area (given by its chain of codes from the city down) is within reach."""
        return self.area is None or self.area in chain


ANONYMOUS = None
