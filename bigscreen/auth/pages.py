"""What opening each path needs. Checked by the security middleware for every request and by
the page router callback (a Dash callback can ask for any page's layout)."""

from __future__ import annotations

from bigscreen.auth.roles import Permission

PUBLIC_PREFIXES = ("/login", "/logout", "/assets/", "/_dash-component-suites/", "/_favicon.ico", "/favicon.ico")
OWN_AUTH_PREFIXES = ("/api/", "/open311/")  # routes that authenticate themselves (API keys)
SIGNED_IN_PREFIXES = ("/_dash-", "/geo/")   # Dash's plumbing and map geometry: any principal
PAGE_PERMISSIONS = {"/wall": Permission.VIEW_WALL, "/duty": Permission.ACT}


def page_permission(path: str) -> Permission | None | str:
    """What opening `path` needs: a permission, "signed-in", or None (public / own auth)."""
    if path.startswith(PUBLIC_PREFIXES) or path.startswith(OWN_AUTH_PREFIXES):
        return None
    if path.startswith(SIGNED_IN_PREFIXES):
        return "signed-in"
    return PAGE_PERMISSIONS.get(path, Permission.VIEW_AREA)  # "/" and the tablets' pages
