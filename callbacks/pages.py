"""Which view a URL shows: `/` the overview, `/wall` the wall (`?scope=CODE&lang=en&fit=stretch`)."""

from __future__ import annotations

from urllib.parse import parse_qs

from dash import Input, Output, html

from bigscreen import ids
from bigscreen.i18n import pick_lang
from layouts import home as home_layout
from layouts import wall as wall_layout


def page_for(rt, pathname: str | None, search: str | None):
    query = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
    lang = pick_lang(query.get("lang"))
    if pathname in ("/wall", "/wall/"):
        scope = rt.areas.by_code.get(query.get("scope", ""), None)
        if scope is None or scope.level > 1:
            scope = rt.areas.city
        return wall_layout.build(rt.config, scope=scope.code, scope_name=scope.name, lang=lang, fit=query.get("fit", "contain"))
    if pathname in ("/", "", None):
        return home_layout.build(rt.config, lang)
    return html.Div("404", className="not-found")


def register(app, rt) -> None:
    @app.callback(Output(ids.PAGE, "children"), Input(ids.URL, "pathname"), Input(ids.URL, "search"))
    def show_page(pathname, search):
        return page_for(rt, pathname, search)
