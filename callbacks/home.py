"""Home page callbacks: thin, over bigscreen.live.kpi."""

from __future__ import annotations

from dash import Input, Output, no_update
from redis.exceptions import RedisError

from bigscreen import ids
from bigscreen.auth.context import require
from bigscreen.auth.roles import Permission
from bigscreen.live.kpi import KPI_NAMES, read_kpi
from bigscreen.presentation import display_value


def register(app, rt) -> None:
    outputs = [Output(ids.kpi(n), "children") for n in KPI_NAMES]
    outputs += [Output(ids.kpi(n), "data-value") for n in KPI_NAMES]
    outputs.append(Output(ids.HOME_AS_OF, "children"))

    @app.callback(*outputs, Input(ids.HOME_TICK, "n_intervals"))
    def update_home_kpis(_n):
        require(Permission.VIEW_AREA, action="view figures")
        try:
            k = read_kpi(rt.redis, rt.keys, rt.contributions, rt.areas.city.code, rt.clock())
        except RedisError:
            return (no_update,) * len(outputs)  # keep the last picture; the page never breaks

        shown = [display_value(n, k[n]) for n in KPI_NAMES]
        raw = ["" if k[n] is None else str(k[n]) for n in KPI_NAMES]
        return *shown, *raw, rt.clock().astimezone(rt.tz).strftime("%H:%M:%S")
