"""The plain home page: live totals of the whole city. The wall is its own view."""

from __future__ import annotations

from dash import dcc, html

from bigscreen import ids
from bigscreen.i18n import t
from bigscreen.live.kpi import KPI_NAMES


def kpi_tile(name: str, lang: str) -> html.Div:
    return html.Div(
        [html.Div(t(f"kpi.{name}", lang), className="kpi-label"),
         html.Div("—", id=ids.kpi(name), className="kpi-value", **{"data-kpi": name, "data-value": ""})],
        className="kpi-tile",
    )


def build(config, lang: str = "zh") -> html.Div:
    return html.Div(
        [
            html.H1(config.city.title, className="home-title"),
            html.Div(t("home.title", lang), className="home-subtitle"),
            html.Div([kpi_tile(n, lang) for n in KPI_NAMES], className="kpi-grid"),
            html.Div([html.Span(t("home.as_of", lang) + " "), html.Span("—", id=ids.HOME_AS_OF)], className="home-asof"),
            dcc.Interval(id=ids.HOME_TICK, interval=1000),
        ],
        className="home",
    )
