"""Tablet callbacks: each checks that the caller may see the area, then hands bigscreen.screens.tablet's
answer to layouts/tablet.py. A leader asking for another area is refused (403, audited)."""

from __future__ import annotations

from dash import ALL, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

from bigscreen.auth.context import caller, require
from bigscreen.auth.roles import Permission
from bigscreen.geo.areas import AreaInfo
from bigscreen.live.kpi import KPI_NAMES
from bigscreen.screens.tablet import (
    area_bounds,
    area_figures,
    breadcrumb,
    children_of,
    drill_target,
    grid_details,
    is_grid,
    map_view,
    pick_area,
)
from layouts import ids
from layouts import tablet as layout


def open_area(rt, requested: str | None) -> AreaInfo:
    """The area to show (asked for, else the account's own, else the city), if the caller may see it."""
    who = caller().principal
    area = pick_area(rt.areas, requested, who.area if who else None)
    require(Permission.VIEW_AREA, action="view area", area_chain=area.chain, subject=area.code)
    return area


def page(rt, manifest: dict | None, requested: str | None, lang: str):
    """The tablet page of an area (callbacks/pages.py routes `/` here)."""
    area = open_area(rt, requested)
    home = caller().principal.area
    kids = [] if is_grid(rt.areas, area) else children_of(rt.areas, area.code)
    now = rt.clock()
    as_of = _clock(rt, now)
    try:
        figures = area_figures(rt, area, now)
    except RedisError:
        figures = None  # the page still opens; the refresh fills the figures in
    map_component = None
    if manifest is not None:
        fill, outline, framed = map_view(rt.areas, area)
        hideout = layout.map_hideout(figures, area, as_of) if figures else None
        map_component = layout.tablet_map(manifest, area, fill, outline, area_bounds(rt, framed), lang, hideout)
    return layout.build(rt.config, area=area, crumbs=breadcrumb(rt.areas, area, home), children=kids,
                        lang=lang, figures=figures, as_of=as_of if figures else "—", map_component=map_component)


def register(app, rt) -> None:
    outputs = [Output(ids.tablet_kpi(n), "children") for n in KPI_NAMES]
    outputs += [Output(ids.tablet_kpi(n), "data-value") for n in KPI_NAMES]
    outputs += [Output(ids.TABLET_AS_OF, "children"), Output(ids.TABLET_MAP_IDS.fill, "hideout"),
                Output(ids.TABLET_MAP_IDS.legend_max, "children"),
                Output(ids.tablet_child_figure(ALL, ALL), "children"),
                Output(ids.tablet_child_figure(ALL, ALL), "className")]
    where = [State(ids.TABLET_ROOT, "data-area"), State(ids.TABLET_ROOT, "data-lang")]

    @app.callback(*outputs, Input(ids.TABLET_TICK, "n_intervals"), State(ids.TABLET_ROOT, "data-area"))
    def refresh_tablet_figures(_n, code):
        area = open_area(rt, code)
        now = rt.clock()
        try:
            figures = area_figures(rt, area, now)
        except RedisError:
            return (no_update,) * len(outputs)  # keep the last picture
        return layout.figure_values(figures, area, _clock(rt, now), [o["id"] for o in ctx.outputs_list[-1]])

    @app.callback(Output(ids.TABLET_WORKERS, "children"), Output(ids.TABLET_PEOPLE, "children"),
                  Output(ids.TABLET_CASES, "children"),
                  Input(ids.TABLET_GRID_TICK, "n_intervals"), *where)
    async def refresh_tablet_grid(_n, code, lang):
        area = open_area(rt, code)
        if not is_grid(rt.areas, area):
            raise PreventUpdate
        # SQL: off the event loop, which Dash runs callbacks on and which carries the pushed walls
        details = await run_in_threadpool(grid_details, rt, area, caller().principal, lang, rt.clock())
        return layout.grid_parts(details, lang)

    @app.callback(Output(ids.TABLET_NAV, "href"), Input(ids.TABLET_MAP_IDS.fill, "clickData"), *where,
                  prevent_initial_call=True)
    def drill_from_map(feature, code, lang):
        child = drill_target(rt.areas, open_area(rt, code).code, ((feature or {}).get("properties") or {}).get("code"))
        if child is None:
            raise PreventUpdate
        return layout.href(child.code, lang)


def _clock(rt, now) -> str:
    return now.astimezone(rt.tz).strftime("%H:%M:%S")
