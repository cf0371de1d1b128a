"""The city map: static area geometry loaded by URL, live colours through `hideout`.

A callback changes only `hideout` of the fill layer ({"values": {code: n}, "alerts": ..., "max": n})
and the children of the events layer; the geometry is fetched once and cached. "alerts" is a list
of codes to outline, or {code: "red" | "orange" | "calm"}: the wall outlines the community of an
unacknowledged red or orange alert boldly in its colour and an acknowledged one thinly ("calm");
the markers at alert places are DivMarkers in the events layer (assets/wall.js, styled in wall.css).
"""

from __future__ import annotations

from dataclasses import dataclass

import dash_leaflet as dl
from dash import html

from layouts.ids import MapIds, map_ids

GEO_URL = "/geo/"
AREA_STYLE = {"variable": "bigscreen.map.areaStyle"}  # what dash_extensions' Namespace("bigscreen", "map")("areaStyle") gives
INERT = {"variable": "bigscreen.map.inert"}
OUTLINE_STYLE = {"color": "#4fe3ff", "weight": 2.2, "opacity": 0.95, "fill": False}


@dataclass(frozen=True)
class Legend:
    """Texts from the caller's string catalogue."""

    title: str
    low: str = ""
    high: str = ""
    alert: str = ""


def empty_hideout(top: float = 1) -> dict:
    return {"values": {}, "alerts": [], "max": top}


def level_url(manifest: dict, level: str) -> str:
    return GEO_URL + manifest["levels"][level]["file"]


def city_map(
    map_id: str,
    center: tuple[float, float],
    zoom: float,
    manifest: dict,
    fill_level: str = "community",
    *,
    legend: Legend | None = None,
    outline_level: str = "district",
    hideout: dict | None = None,
    tile_url: str | None = None,
    prefer_canvas: bool = True,
    locked: bool = True,
    fit: bool = False,
) -> html.Div:
    """`center` is (lat, lon); `fit` frames the outline level's extent instead, whatever the screen size;
    `locked` keeps a stray mouse on the wall from moving the map."""
    ids = map_ids(map_id)
    hideout = hideout or empty_hideout()
    layers: list = [dl.TileLayer(url=tile_url, attribution="")] if tile_url else []
    layers += [
        dl.GeoJSON(id=ids.fill, url=level_url(manifest, fill_level), style=AREA_STYLE, hideout=hideout),
        dl.GeoJSON(id=ids.outline, url=level_url(manifest, outline_level), style=OUTLINE_STYLE, onEachFeature=INERT),
        dl.LayerGroup(id=ids.events, children=[]),
    ]
    framing: dict = {"center": list(center), "zoom": zoom}
    if fit and manifest["levels"][outline_level].get("bbox"):
        west, south, east, north = manifest["levels"][outline_level]["bbox"]
        # react-leaflet ignores bounds when a center is given
        framing = {"bounds": [[south, west], [north, east]], "boundsOptions": {"padding": [16, 16]}}
    fixed = {k: False for k in ("dragging", "scrollWheelZoom", "doubleClickZoom", "boxZoom", "keyboard", "touchZoom")}
    leaflet = dl.Map(
        layers, id=ids.map, **framing, zoomSnap=0.1, preferCanvas=prefer_canvas,
        zoomControl=False, attributionControl=False, className="city-map-leaflet",
        style={"width": "100%", "height": "100%"}, **(fixed if locked else {}),
        trackViewport=not (locked or fit),  # its viewport sync assumes a center prop, and a locked map never moves
    )
    parts: list = [leaflet]
    if legend is not None:
        parts.append(map_legend(ids, legend, hideout.get("max", 1)))
    return html.Div(parts, className="city-map")


def map_legend(ids: MapIds, legend: Legend, top: float) -> html.Div:
    rows: list = [
        html.Div(legend.title, className="map-legend-title"),
        html.Div(className="map-legend-bar"),
        html.Div([html.Span("0"), html.Span(_number(top), id=ids.legend_max)], className="map-legend-scale"),
    ]
    if legend.low or legend.high:
        rows.append(html.Div([html.Span(legend.low), html.Span(legend.high)], className="map-legend-ends"))
    if legend.alert:
        rows.append(html.Div([html.Span(className="map-legend-alert-swatch"), html.Span(legend.alert)], className="map-legend-alert"))
    return html.Div(rows, id=ids.legend, className="map-legend")


def event_marker(marker_id: str, lat: float, lon: float, tone: str = "") -> dl.DivMarker:
    """A new event: a dot that pulses and fades out in about 3 s. An HTML marker because canvas
    paths (preferCanvas) have no element for a CSS animation. Give each event its own id so
    a re-render never restarts an old marker's animation."""
    return dl.DivMarker(
        id=marker_id, position=[lat, lon], interactive=False, keyboard=False,
        iconOptions={"className": f"pulse {tone}".strip(), "iconSize": [18, 18], "html": "<span></span>"},
    )


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or value >= 100 else f"{value:.1f}"
