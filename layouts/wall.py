"""The wall: a 1920×1080 stage scaled to any screen. Server-side it is structure and labels
only; assets/wall.js fills it from the ready frame (text as text, never as HTML)."""

from __future__ import annotations

import json

from dash import dcc, html

from bigscreen.screens.i18n import catalogue, t
from bigscreen.screens.presentation import display_format
from layouts import ids

FITS = ("contain", "stretch", "width")
COUNTERS = ("reported_today", "closed_today", "open", "overdue")
RATES_LEFT = ("closure_rate", "ontime_rate", "satisfaction", "avg_handling_hours")  # the left column's second block
LOCAL = ("resolved_locally_share", "mediation_success")  # 基层化解: beside the trend, under the map
RATES = RATES_LEFT + LOCAL


def _panel(title: str, body, part: str, extra: str = "") -> html.Section:
    return html.Section([html.H2(title, id=ids.wall(f"{part}-title"), className="panel-title"), body],
                        id=ids.wall(part), className=f"panel {extra}".strip())


def _counter(name: str, lang: str) -> html.Div:
    return html.Div(
        [html.Div(t(f"kpi.{name}", lang), className="counter-label"),
         html.Div("—", id=ids.wall(f"kpi-{name}"), className="counter-value",
                  **{"data-kpi": name, "data-value": "", "data-format": display_format(name)})],
        className=f"counter counter-{name}",
    )


def _gauge(name: str, lang: str) -> html.Div:
    return html.Div(
        [html.Div(html.Div("—", id=ids.wall(f"gauge-{name}-value"), className="gauge-value"),
                  id=ids.wall(f"gauge-{name}"), className="gauge-ring"),
         html.Div(t(f"kpi.{name}", lang), className="gauge-label"),
         html.Div([t("wall.target", lang), " ", html.Span("—", id=ids.wall(f"gauge-{name}-target"))], className="gauge-target")],
        className="gauge",
    )


CLOUDS = ("events", "people", "workforce")  # 三云图: 事件统计, 人房管理, 运行管理
CLOUD_FIGURES = {
    "events": (),
    "people": ("population", "households", "buildings", "key_places", "cared_for"),
    "workforce": ("grids", "workers", "helpers"),
}
DEFAULT_ROTATE_S = 30
# Played for a new red or orange alert when config alerts.sound is on. Browsers refuse sound
# before a user gesture: launch the kiosk's Chromium with --autoplay-policy=no-user-gesture-required
# (wall.js ignores a refused play()).
CHIME_URL = "/assets/chime.wav"
ALERT_STRINGS = ("alerts_none", "alert_open", "alert_acknowledged", "alert_red", "alert_orange", "alert_yellow",
                 "alert_blue", "age_s", "age_min", "age_h", "age_d")


def _cloud_figures(cloud: str, lang: str) -> html.Dl:
    group = "people" if cloud == "people" else "workforce"
    return html.Dl(
        [part for name in CLOUD_FIGURES[cloud] for part in (
            html.Dt(t(f"{group}.{name}", lang)),
            html.Dd("—", id=ids.wall(f"{cloud}-{name}"), **{"data-figure": f"{group}.{name}"}),
        )],
        className=f"cloud-figures cloud-{cloud}", hidden=cloud != "events",
    )


# 网格力量 · 今日: (figure, what it is measured against); values come from the frame's
# "field_work" and "static" parts (assets/wall.js fills [data-figure] and [data-progress])
FIELD_WORK = (("field_work.on_duty", "workforce.workers"), ("workforce.helpers", None),
              ("field_work.patrols_today", "field_work.patrols_target"), ("field_work.visits_today", "field_work.visits_target"))


def _field_work_box(lang: str) -> html.Div:
    """Over the map's lower right corner, on every cloud map: the workforce's day so far."""
    rows = []
    for figure, against in FIELD_WORK:
        value = [html.Span("—", className="fw-value", **{"data-figure": figure})]
        if against:
            value.append(html.Span(["/", html.Span("—", **{"data-figure": against})], className="fw-of"))
        rows.append(html.Div(
            [html.Div(t(figure, lang), className="fw-label"), html.Div(value, className="fw-figure"),
             html.Div(className="bar-track fw-track", **{"data-progress": f"{figure}/{against}"}) if against else html.Div()],
            className="fw-row"))
    return html.Div([html.Div(t("wall.field_work", lang), className="fw-title"), *rows], id=ids.wall("field-work"),
                    className="field-work-box")


def build(config, *, scope: str, scope_name: str, lang: str, fit: str, map_component=None,
          rotate_s: int = DEFAULT_ROTATE_S, map_codes: tuple[str, ...] = (), map_key: str = "") -> html.Div:
    """`map_codes`: the areas the map colours, in the order of the frame's map values (sent once
    here, so that a frame carries only the numbers); `map_key` names that list."""
    title = config.city.title if lang == "zh" else config.city.title_en
    strings = {**catalogue("status.", lang), **{k: t(f"wall.{k}", lang) for k in ("stale", "seconds_ago", "no_data")},
               **{k: t(f"wall.{k}", lang) for k in ALERT_STRINGS},
               **{f"cloud.{k}": v for k, v in catalogue("cloud.", lang).items()},
               "lang": lang, "timezone": config.city.timezone}
    header = html.Header(
        [
            html.Div([html.H1(title, className="wall-title"), html.Div(scope_name, className="wall-scope")], className="wall-heading"),
            html.Div("--:--:--", id=ids.wall("clock"), className="wall-clock"),
            html.Div([t("wall.data_age", lang), " ", html.Span("—", id=ids.wall("age"))], className="wall-age"),
        ],
        className="wall-header",
    )
    left = html.Div(
        [
            html.Div([_counter(n, lang) for n in COUNTERS], className="counters"),
            html.Div([_counter(n, lang) for n in RATES_LEFT], className="counters counters-rates"),
            _panel(t("wall.categories", lang), html.Ol(id=ids.wall("categories"), className="bars"), "categories-panel"),
        ],
        className="wall-left",
    )
    centre = html.Div(
        [_panel(t("cloud.events", lang), html.Div(
            [map_component or html.Div(className="map-placeholder"),
             html.Div([_cloud_figures(c, lang) for c in CLOUDS], className="cloud-box"),
             _field_work_box(lang)],
            className="map-box"), "map-panel", "panel-map"),
         html.Div([
             _panel(t("wall.trend", lang), html.Div([
                 html.Div(id=ids.wall("trend"), className="trend"),
                 html.Div([html.Span(className="swatch swatch-reported"), t("wall.trend_reported", lang),
                           html.Span(className="swatch swatch-closed"), t("wall.trend_closed", lang)], className="trend-legend"),
             ]), "trend-panel"),
             html.Div([_counter(n, lang) for n in LOCAL], className="counters counters-rates counters-local"),
         ], className="centre-bottom")],
        className="wall-centre",
    )
    right = html.Div(
        [
            _panel(t("wall.gauges", lang), html.Div([_gauge(n, lang) for n in ("closure_rate", "ontime_rate", "satisfaction")],
                                                     className="gauges"), "gauges-panel"),
            _panel(t("wall.rank_streets", lang), html.Ol(id=ids.wall("streets"), className="ranking"), "streets-panel"),
            _panel(t("wall.rank_departments", lang), html.Ol(id=ids.wall("departments"), className="ranking"), "departments-panel"),
        ],
        className="wall-right",
    )
    alerts = html.Section(
        [html.Div([html.H2(t("wall.alerts", lang), className="alerts-title"),
                   html.Span("—", id=ids.wall("alerts-total"), className="alerts-total")], className="alerts-heading"),
         html.Ol(id=ids.wall("alerts"), className="alert-ticker"),
         html.Div(t("wall.alerts_none", lang), id=ids.wall("alerts-none"), className="alerts-none", hidden=True),
         html.Div(id=ids.wall("alerts-page"), className="alerts-page")],
        id=ids.wall("alerts-band"), className="wall-alerts",
    )
    feed = html.Footer(
        [html.H2(t("wall.feed", lang), className="feed-title"), html.Ul(id=ids.wall("feed"), className="feed")],
        className="wall-feed",
    )
    stage = html.Div(
        [header, alerts, html.Main([left, centre, right], className="wall-main"), feed,
         html.Div(t("wall.stale", lang), id=ids.wall("stale"), className="wall-stale", hidden=True)],
        id=ids.wall("stage"), className="wall-stage",
    )
    return html.Div(
        [
            html.Div(stage, id=ids.WALL_ROOT, className="wall-viewport",
                     **{"data-fit": fit if fit in FITS else "contain", "data-scope": scope, "data-rotate": str(rotate_s),
                        "data-strings": json.dumps(strings, ensure_ascii=False),
                        "data-sound": "1" if config.city.alerts.sound else "0", "data-chime": CHIME_URL,
                        "data-map-codes": json.dumps(list(map_codes)), "data-map-key": map_key}),
            dcc.Store(id=ids.WALL_FRAME),
            dcc.Store(id=ids.WALL_RENDERED),
            dcc.Interval(id=ids.WALL_TICK, interval=1000),
        ],
        className="wall-page",
    )


