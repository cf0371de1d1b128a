"""Wall callbacks: the server hands over the ready frame as it is; assets/wall.js draws it."""

from __future__ import annotations

from dash import ClientsideFunction, Input, Output, State, no_update
from redis.exceptions import RedisError

from bigscreen import ids
from bigscreen.wall.publisher import read_frame
from layouts.city_map import map_ids


def register(app, rt) -> None:
    @app.callback(Output(ids.WALL_FRAME, "data"), Input(ids.WALL_TICK, "n_intervals"), State(ids.WALL_ROOT, "data-scope"))
    def fetch_wall_frame(_n, scope):
        try:
            frame = read_frame(rt, scope or rt.areas.city.code)
        except RedisError:
            frame = None
        return frame.decode() if frame else no_update  # no frame: keep the last picture

    app.clientside_callback(
        ClientsideFunction(namespace="wall", function_name="render"),
        Output(ids.WALL_RENDERED, "data"),
        Output(map_ids(ids.WALL_MAP).fill, "hideout"),
        Input(ids.WALL_FRAME, "data"),
    )
