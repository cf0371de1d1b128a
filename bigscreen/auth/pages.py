"""What opening each path needs. Checked by the security middleware for every request and by
the page router callback (a Dash callback can ask for any page's layout)."""

from __future__ import annotations

from bigscreen.auth.roles import Permission, Principal, Role

PUBLIC_PREFIXES = ("/healthz", "/readyz", "/metrics", "/login", "/logout", "/assets/", "/_dash-component-suites/", "/_favicon.ico", "/favicon.ico")
OWN_AUTH_PREFIXES = ("/api/", "/open311/")  # routes that authenticate themselves (API keys)
SIGNED_IN_PREFIXES = ("/_dash-", "/geo/")   # Dash's plumbing and map geometry: any principal
PAGE_PERMISSIONS = {"/wall": Permission.VIEW_WALL, "/duty": Permission.ACT, "/admin": Permission.ADMIN}
HOME = {Role.DUTY: "/duty", Role.ADMIN: "/duty", Role.LEADER: "/"}  # where each role starts after signing in


def page_permission(path: str) -> Permission | None | str:
    """What opening `path` needs: a permission, "signed-in", or None (public / own auth)."""
    if path.startswith(PUBLIC_PREFIXES) or path.startswith(OWN_AUTH_PREFIXES):
        return None
    if path.startswith(SIGNED_IN_PREFIXES):
        return "signed-in"
    return PAGE_PERMISSIONS.get(path, Permission.VIEW_AREA)  # "/" and the tablets' pages


def shows_city(need: Permission | None | str) -> bool:
    """Whether a page that needs `need` (`page_permission` of its path) draws the city (the wall, the duty
    desk, the tablets), which none can before a city is imported; the admin page can."""
    return isinstance(need, Permission) and need is not Permission.ADMIN


def landing(who: Principal, requested: str) -> str:
    """Where a person goes after signing in: the page asked for (a same-site path, see
    api.login._safe_next) if it is one they may open, else their role's home. "/" counts as not
    asked for: it is where an unsigned visitor of the bare address was sent from."""
    path = requested.split("?", 1)[0].split("#", 1)[0]
    need = page_permission(path) if requested and requested != "/" else None
    if isinstance(need, Permission) and who.can(need):
        return requested
    return HOME.get(who.role, "/")
