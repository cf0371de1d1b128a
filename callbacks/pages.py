"""Which view a URL shows: `/` the leaders' tablet (`?area=CODE&lang=en`), `/wall` the wall
(`?scope=CODE&lang=en&fit=stretch`), `/duty` the duty desk, `/admin` the admin page."""

from __future__ import annotations

from urllib.parse import parse_qs

from dash import Input, Output, html
from starlette.concurrency import run_in_threadpool

from bigscreen.auth.context import caller, require
from bigscreen.auth.pages import page_permission
from bigscreen.auth.roles import Permission
from bigscreen.geo.assets import geo_dir, load_manifest
from bigscreen.screens.i18n import pick_lang, t
from bigscreen.wall.frame import map_areas, map_key
from callbacks import tablet as tablet_callbacks
from callbacks import wall as wall_callbacks
from layouts import admin as admin_layout
from layouts import duty as duty_layout
from layouts import ids
from layouts import wall as wall_layout
from layouts.city_map import Legend, city_map


def page_for(rt, manifest: dict | None, pathname: str | None, search: str | None):
    query = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
    lang = pick_lang(query.get("lang"))
    need = page_permission(pathname or "/")
    who = require(need, action="open", subject=pathname) if isinstance(need, Permission) else caller().principal
    if pathname in wall_callbacks.WALL_PATHS:
        scope = rt.areas.by_code.get(query.get("scope", ""), None)
        if who is not None and who.area and (scope is None or not who.covers(scope.chain)):
            scope = rt.areas.by_code[who.area]  # a scoped wall shows its own area, whatever the URL says
        if scope is None or scope.level > 1:
            scope = rt.areas.city
        name = scope.name if lang == "zh" or scope.level else rt.config.city.name_en
        rotate = query.get("rotate", "")
        rotate_s = int(rotate) if rotate.isdigit() and int(rotate) <= 3600 else wall_layout.DEFAULT_ROTATE_S
        shown = map_areas(rt, scope.code)
        return wall_layout.build(rt.config, scope=scope.code, scope_name=name, lang=lang, fit=query.get("fit", "contain"),
                                 map_component=wall_map(rt, manifest, scope, lang), rotate_s=rotate_s,
                                 map_codes=tuple(a.code for a in shown), map_key=map_key(shown))
    if pathname == "/duty":  # exactly: "/duty/" is not what the middleware checked for ACT
        return duty_layout.build(rt.config, rt.areas, officer=who.name, area=who.area, lang=lang,
                                 admin=who.can(Permission.ADMIN))
    if pathname == "/admin":  # exactly, as the middleware checked it for ADMIN
        return admin_layout.build(admin=who.name, lang=lang)
    if pathname in ("/", "", None):
        return tablet_callbacks.page(rt, manifest, query.get("area"), lang)
    return html.Div("404", className="not-found")


def wall_map(rt, manifest: dict | None, scope, lang: str):
    if manifest is None:
        return None
    city = rt.config.city
    framing = {"fit": True} if scope.level == 0 else {"fit": False}
    centre = (city.center.lat, city.center.lon) if scope.level == 0 else (scope.lat, scope.lon)
    zoom = city.zoom if scope.level == 0 else city.zoom + 1
    legend = Legend(t("cloud.legend.events", lang))
    return city_map(ids.WALL_MAP, centre, zoom, manifest, "community", legend=legend, **framing)


def register(app, rt, manifest: dict | None) -> None:
    """`manifest`: the map files' at start; each page asks for the current one (a re-imported map
    writes new files: bigscreen.jobs.watch), and falls back to it."""
    directory = geo_dir(rt.settings)

    @app.callback(Output(ids.PAGE, "children"), Input(ids.URL, "pathname"), Input(ids.URL, "search"))
    async def show_page(pathname, search):
        # a tablet's page reads SQL: off the event loop, which also carries the pushed walls
        return await run_in_threadpool(page_for, rt, load_manifest(directory) or manifest, pathname, search)
