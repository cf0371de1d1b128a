"""Wall callbacks: the server hands over the ready frame as it is; assets/wall.js draws it."""

from __future__ import annotations

import asyncio

from dash import ClientsideFunction, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from redis.exceptions import RedisError

from bigscreen import ids
from bigscreen.auth.context import require
from bigscreen.auth.roles import Permission
from bigscreen.wall.hub import FrameHub
from bigscreen.wall.publisher import read_frame
from layouts.city_map import map_ids


def register(app, rt) -> None:
    @app.callback(Output(ids.WALL_FRAME, "data"), Input(ids.WALL_TICK, "n_intervals"), State(ids.WALL_ROOT, "data-scope"))
    def fetch_wall_frame(_n, scope):
        scope = scope or rt.areas.city.code
        require(Permission.VIEW_WALL, action="view wall", area_chain=rt.areas.chain_of(scope), subject=scope)
        try:
            frame = read_frame(rt, scope)
        except RedisError:
            frame = None
        return frame.decode() if frame else no_update  # no frame: keep the last picture

    app.clientside_callback(
        ClientsideFunction(namespace="wall", function_name="render"),
        Output(ids.WALL_RENDERED, "data"),
        Output(map_ids(ids.WALL_MAP).fill, "hideout"),
        Output(map_ids(ids.WALL_MAP).events, "children"),
        Input(ids.WALL_FRAME, "data"),
    )


PUSH_WAIT_S = 5.0  # how long a page has to show a wall before the push gives up on it


def register_push(app, rt) -> None:
    """Frames pushed over Dash's websocket as they are built; polling stays as the fallback
    (the browser turns it back on when pushed frames stop, see assets/wall.js)."""
    hubs: dict[int, FrameHub] = {}

    @app.callback(persistent=True, websocket=True)
    async def push_wall_frames():
        ws = ctx.websocket
        if ws is None:
            raise PreventUpdate
        scope = await _wall_scope(ws)
        if scope is None or scope not in rt.areas.by_code:
            raise PreventUpdate  # this page shows no wall
        require(Permission.VIEW_WALL, action="view wall", area_chain=rt.areas.chain_of(scope), subject=scope)
        hub = hubs.setdefault(id(asyncio.get_running_loop()), FrameHub(rt.settings.redis_url, rt.keys))
        queue = await hub.subscribe(scope)
        ws.set_prop_sync(ids.WALL_TICK, "disabled", True)
        try:
            while not ws.is_shutdown:
                try:
                    frame = await asyncio.wait_for(queue.get(), timeout=1.0)
                except TimeoutError:
                    continue
                ws.set_prop_sync(ids.WALL_FRAME, "data", frame)
        finally:
            hub.unsubscribe(scope, queue)
        raise PreventUpdate


async def _wall_scope(ws) -> str | None:
    """The scope of the wall on this page, once the page has rendered one."""
    deadline = asyncio.get_running_loop().time() + PUSH_WAIT_S
    while not ws.is_shutdown and asyncio.get_running_loop().time() < deadline:
        try:
            scope = await ws.get_prop(ids.WALL_ROOT, "data-scope", timeout=1.0)
        except Exception:  # the component is not there yet, or the socket went away
            scope = None
        if scope:
            return scope
        await asyncio.sleep(0.25)
    return None
