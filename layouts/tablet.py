"""Leaders' tablets at `/?area=CODE`: a responsive page (not the scaled wall) that drills down
city → district → street → community → grid. The page is structure and labels; callbacks/tablet.py
fills the figures, the children and a grid's details every few seconds. Citizens' text is
always a text child, never HTML."""

from __future__ import annotations

from dash import dcc, html

from bigscreen.geo.areas import AreaInfo
from bigscreen.geo.totals import PEOPLE
from bigscreen.live.kpi import KPI_NAMES
from bigscreen.screens.i18n import t
from bigscreen.screens.presentation import display_value
from bigscreen.screens.tablet import AreaFigures, ChildRow, GridDetails, Person
from layouts import ids
from layouts.city_map import Legend, city_map, empty_hideout
from layouts.sign_out import sign_out

REFRESH_MS = 3000        # figures, from Redis
GRID_REFRESH_MS = 6000   # a grid's team and open cases, from SQL
NO_CASE = 1e-6  # a child with no open case still reads as part of the area (map.js paints a missing value as empty)

CHILD_FIGURES = ("open", "overdue", "ontime")


def href(code: str, lang: str) -> str:
    return f"/?area={code}" + ("" if lang == "zh" else f"&lang={lang}")


def build(config, *, area: AreaInfo, crumbs: list[AreaInfo], children: list[AreaInfo], lang: str,
          figures: AreaFigures | None = None, as_of: str = "—", map_component=None) -> html.Div:
    """The page, already showing `figures` (None: Redis is away; the refresh fills them in). The
    children's rows stay put while their figures refresh: a row replaced under a finger loses the tap."""
    child_level = children[0].level_name if children else None
    rows = figures.children if figures else [ChildRow(c.code, c.name, None, None, None) for c in children]
    title = config.city.title if lang == "zh" else config.city.title_en
    other = "en" if lang == "zh" else "zh"
    header = html.Header(
        [
            html.Div([html.H1(title, className="tablet-title"),
                      dcc.Link(t("tablet.other_lang", lang), href=href(area.code, other), className="tablet-lang"),
                      html.A(t("tablet.reports", lang), href="/reports" + ("" if lang == "zh" else f"?lang={lang}"),
                             className="tablet-reports"),  # a page of its own, outside Dash
                      sign_out(lang, "tablet-signout")],
                     className="tablet-brand"),
            html.Nav(html.Ol([_crumb(a, a is crumbs[-1], lang) for a in crumbs]), className="tablet-crumbs",
                     **{"aria-label": t("tablet.crumbs", lang)}),
        ],
        className="tablet-header",
    )
    heading = html.Div(
        [html.H2([_name(area, config, lang),
                  html.Span(t(f"tablet.level.{area.level_name}", lang), className="tablet-level")],
                 className="tablet-area-name"),
         html.Div([t("tablet.as_of", lang), " ", html.Span(as_of, id=ids.TABLET_AS_OF)], className="tablet-asof")],
        className="tablet-heading",
    )
    kpi = figures.kpi if figures else {}
    tiles = html.Section(html.Div([_kpi_tile(n, lang, kpi.get(n)) for n in KPI_NAMES], className="tablet-kpis"),
                         className="tablet-figures")
    map_panel = html.Section(
        [html.H3(t("tablet.map" if child_level else "tablet.map.grid", lang), className="tablet-panel-title"),
         html.Div(map_component or html.Div(className="map-placeholder"), className="tablet-map")],
        className="tablet-map-panel",
    )
    parts: list = [heading, html.Div([tiles, map_panel], className="tablet-top")]
    if child_level:
        parts.append(html.Section(
            [html.H3(t(f"tablet.children.{child_level}", lang), className="tablet-panel-title"),
             html.Ol(children_rows(rows, lang), id=ids.TABLET_CHILDREN, className="tablet-children")],
            className="tablet-children-panel"))
    else:
        parts.append(_grid_sections(lang))
    return html.Div(
        [header, html.Main(parts, className="tablet-main"),
         dcc.Interval(id=ids.TABLET_TICK, interval=REFRESH_MS), dcc.Location(id=ids.TABLET_NAV, refresh="callback-nav")],
        id=ids.TABLET_ROOT, className="tablet", lang="zh-CN" if lang == "zh" else "en",
        **{"data-area": area.code, "data-lang": lang, "data-level": area.level_name},
    )


def _name(area: AreaInfo, config, lang: str) -> str:
    return config.city.name_en if area.level == 0 and lang != "zh" else area.name


def _crumb(area: AreaInfo, current: bool, lang: str) -> html.Li:
    if current:
        entry = html.Span(area.name, className="tablet-crumb", **{"aria-current": "page"})
    else:
        entry = dcc.Link(area.name, href=href(area.code, lang), className="tablet-crumb")
    return html.Li(entry, **{"data-code": area.code})


def _kpi_tile(name: str, lang: str, value) -> html.Div:
    return html.Div(
        [html.Div(t(f"kpi.{name}", lang), className="tablet-kpi-label"),
         html.Div(display_value(name, value), id=ids.tablet_kpi(name), className="tablet-kpi-value",
                  **{"data-kpi": name, "data-value": _raw(value)})],
        className=f"tablet-kpi tablet-kpi-{name}",
    )


def _grid_sections(lang: str) -> html.Div:
    return html.Div(
        [
            html.Section([html.H3(t("tablet.workers", lang), className="tablet-panel-title"),
                          html.Div(id=ids.TABLET_WORKERS, className="tablet-workers")], className="tablet-card"),
            html.Section([html.H3(t("tablet.people", lang), className="tablet-panel-title"),
                          html.Dl(id=ids.TABLET_PEOPLE, className="tablet-people")], className="tablet-card"),
            html.Section([html.H3(t("tablet.cases", lang), className="tablet-panel-title"),
                          html.Div(id=ids.TABLET_CASES)], className="tablet-card tablet-cases-card"),
            dcc.Interval(id=ids.TABLET_GRID_TICK, interval=GRID_REFRESH_MS),
        ],
        className="tablet-grid",
    )


def tablet_map(manifest: dict, area: AreaInfo, fill_level: str, outline_level: str,
               bounds: tuple[float, float, float, float] | None, lang: str, hideout: dict | None = None) -> html.Div:
    """The shared city map, framed to the area; its fill level holds the area's children."""
    legend = Legend(t("cloud.legend.events", lang))
    # fit=True frames by bounds rather than centre and zoom; the area's own bounds replace the level's
    component = city_map(ids.TABLET_MAP, (area.lat, area.lon), 12, manifest, fill_level, legend=legend,
                         outline_level=outline_level, hideout=hideout or empty_hideout(), fit=bounds is not None)
    if bounds is not None:
        south, west, north, east = bounds
        leaflet = next(c for c in component.children if getattr(c, "id", None) == ids.TABLET_MAP)
        leaflet.bounds, leaflet.boundsOptions = [[south, west], [north, east]], {"padding": [10, 10]}
    return component


# -- what the callbacks return ------------------------------------------------------------------

def figure_values(f: AreaFigures, area: AreaInfo, as_of: str, child_ids: list[dict]) -> tuple:
    """Shown text of each KPI, their raw values, the as-of time, the map's hideout, the legend's top,
    and the text and class of each child's figure named in `child_ids`: in the order of
    callbacks/tablet.py's outputs."""
    k = f.kpi
    hideout = map_hideout(f, area, as_of)
    shown = {(r.code, name): _child_figure(r, name) for r in f.children for name in CHILD_FIGURES}
    figures = [shown.get((i["code"], i["figure"]), ("—", "")) for i in child_ids]
    return (*(display_value(n, k[n]) for n in KPI_NAMES), *(_raw(k[n]) for n in KPI_NAMES), as_of,
            hideout, f"{hideout['max']:,}", [text for text, _ in figures], [cls for _, cls in figures])


def map_hideout(f: AreaFigures, area: AreaInfo, as_of: str) -> dict:
    """Open cases per child (for a grid: the grid's own). `at` changes every refresh: dash-leaflet
    drops a hideout that arrives while its geometry is still loading, and restyles only when the
    hideout changes, so the next refresh puts right what a drill-down's first one may have missed."""
    values = {c.code: c.open or NO_CASE for c in f.children} if f.children else {area.code: f.kpi["open"] or NO_CASE}
    return {"values": values, "alerts": [], "max": max(1, *(int(v) for v in values.values())), "at": as_of}


def _raw(value) -> str:
    return "" if value is None else str(value)


def children_rows(rows: list[ChildRow], lang: str) -> list[html.Li]:
    return [
        html.Li(dcc.Link(
            [html.Span(r.name, className="tablet-child-name"),
             html.Span([_figure(r, name, lang) for name in CHILD_FIGURES], className="tablet-child-figures")],
            href=href(r.code, lang), className="tablet-child"), **{"data-code": r.code})
        for r in rows
    ]


def _figure(r: ChildRow, name: str, lang: str) -> html.Span:
    text, cls = _child_figure(r, name)
    return html.Span([html.Span(t(f"tablet.child.{name}", lang), className="tablet-figure-label"),
                      html.B(text, id=ids.tablet_child_figure(r.code, name), className=cls)], className="tablet-figure")


def _child_figure(r: ChildRow, name: str) -> tuple[str, str]:
    if name == "ontime":
        return display_value("ontime_rate", r.ontime_rate), ""
    value = getattr(r, name)
    return display_value(name, value), "tablet-bad" if name == "overdue" and value else ""


def grid_parts(d: GridDetails, lang: str) -> tuple:
    """The team, the people-and-housing figures and the open cases of a grid."""
    team = [html.Div(t("tablet.worker", lang), className="tablet-team-label"),
            _person(d.worker, lang) if d.worker else html.P(t("tablet.none", lang), className="tablet-empty"),
            html.Div(f"{t('tablet.helpers', lang)} ({len(d.helpers)})", className="tablet-team-label"),
            html.Ul([html.Li(_person(p, lang)) for p in d.helpers], className="tablet-helpers")]
    people = [part for name in PEOPLE for part in (
        html.Dt(t(f"people.{name}", lang)),
        html.Dd(f"{d.people[name]:,}" if d.people else "—", **{"data-figure": name}),
    )]
    return team, people, _cases(d, lang)


def _person(p: Person, lang: str) -> html.Div:
    kind = html.Span(t(f"helper.{p.helper_kind}", lang), className="tablet-person-role") if p.helper_kind else None
    phone = html.A(p.phone, href=f"tel:{p.phone}", className="tablet-phone") if p.phone else None
    return html.Div([html.Span(p.name, className="tablet-person-name"), kind, phone],
                    className="tablet-person", **{"data-role": p.role})


def _cases(d: GridDetails, lang: str) -> list:
    if not d.cases:
        return [html.P(t("tablet.cases.none", lang), className="tablet-empty")]
    items = []
    for c in d.cases:
        reporter = " ".join(x for x in (c.reporter_name, c.reporter_phone) if x)
        items.append(html.Li(
            [
                html.Div([html.Span(f"{c.category} · {c.item}", className="tablet-case-category"),
                          html.Span(t(f"status.{c.status}", lang), className="tablet-case-status"),
                          html.Span(t("tablet.case.overdue", lang), className="tablet-case-overdue")
                          if c.overdue else None],
                         className="tablet-case-head"),
                html.P(c.description, className="tablet-case-text"),
                html.Div([
                    html.Span([t("tablet.case.reported", lang), " ", c.reported_at.strftime("%m-%d %H:%M")]),
                    html.Span([t("tablet.case.deadline", lang), " ", c.deadline.strftime("%m-%d %H:%M")],
                              className="tablet-bad" if c.overdue else ""),
                    html.Span([t("tablet.case.reporter", lang), " ", reporter], className="tablet-case-reporter")
                    if reporter else None,
                ], className="tablet-case-meta"),
            ],
            className="tablet-case" + (" tablet-case-late" if c.overdue else ""),
            **{"data-case": str(c.id), "data-overdue": "1" if c.overdue else "0"},
        ))
    more = t("tablet.cases.more", lang).format(n=len(d.cases)) if d.more_cases else None
    return [html.Ol(items, className="tablet-cases"), html.P(more, className="tablet-more") if more else None]


def for_validation() -> html.Div:
    """Every component the tablet's callbacks name, for the app's validation layout."""
    import dash_leaflet as dl

    return html.Div([
        html.Div(id=ids.TABLET_ROOT), dcc.Interval(id=ids.TABLET_TICK), dcc.Interval(id=ids.TABLET_GRID_TICK), dcc.Location(id=ids.TABLET_NAV),
        html.Span(id=ids.TABLET_AS_OF), html.Ol(id=ids.TABLET_CHILDREN), html.Div(id=ids.TABLET_WORKERS), html.Dl(id=ids.TABLET_PEOPLE), html.Div(id=ids.TABLET_CASES),
        *(html.Div(id=ids.tablet_kpi(n)) for n in KPI_NAMES),
        dl.GeoJSON(id=ids.TABLET_MAP_IDS.fill), html.Span(id=ids.TABLET_MAP_IDS.legend_max),
    ])
