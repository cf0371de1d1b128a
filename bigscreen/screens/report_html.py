"""A report document (bigscreen.reports.document) as an HTML page: Jinja2 templates with autoescape
(every text escaped, citizens' included), figures formatted for reading, charts as plotly figures
drawn in the browser by plotly.js from our own server (`assets()`: the files and the URLs they are
served at). The same page, in print mode, is what Chromium prints to PDF (report_pdf.py).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from functools import cache
from pathlib import Path

import plotly
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from bigscreen.reports.document import Chart, Document, Figures, Kind, Note, Table
from bigscreen.screens.i18n import t

HERE = Path(__file__).resolve().parent
STATIC = HERE / "report_static"
FONT = '"Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif'
COLOURS = ("#1f5fae", "#e07b39", "#2a9d8f", "#8e6cc0")
STATIC_URL = "/reports/static/"


def static_files() -> dict[str, Path]:
    """The files a report page loads, by the name they are served under."""
    return {"report.css": STATIC / "report.css", "report.js": STATIC / "report.js",
            "plotly.min.js": Path(plotly.__file__).parent / "package_data" / "plotly.min.js"}


@cache
def _version(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def web_assets() -> dict[str, str]:
    """The page's asset URLs on our server, each with its content's hash (cached for long, never stale)."""
    files = static_files()
    return {key: f"{STATIC_URL}{name}?v={_version(files[name])}"
            for key, name in (("css", "report.css"), ("js", "report.js"), ("plotly", "plotly.min.js"))}


def file_assets() -> dict[str, str]:
    """The same files as file: URLs, for Chromium printing a page written to disk."""
    files = static_files()
    return {key: files[name].as_uri() for key, name in (("css", "report.css"), ("js", "report.js"), ("plotly", "plotly.min.js"))}


def render_html(doc: Document, assets: dict[str, str], *, print_mode: bool = False, links: dict | None = None) -> str:
    """The page of `doc`. `links` (on screen): `back`, `formats` [(name, href)], `other_lang` (or None)."""
    env = _environment()
    template = env.get_template("report.html.j2")
    return template.render(doc=doc, assets=assets, print=print_mode, links=links or {"back": "/reports", "formats": [], "other_lang": None},
                           t=lambda key: t(key, doc.lang), page_counter=Markup(_page_counter(doc.lang)),
                           footer=Markup(css_string(doc.footer)))  # CSS literals: letters and escapes only


def render_list(rows: list[dict], lang: str, assets: dict[str, str], links: dict, form: dict | None = None) -> str:
    """The reports listed; `form`: the grid-worker assessment's form (`areas` [(code, name)], `period`, `formats`)."""
    return _environment().get_template("report_list.html.j2").render(
        rows=rows, lang=lang, assets=assets, links=links, form=form or {"areas": [], "period": "", "formats": ()},
        t=lambda key: t(key, lang))


@cache
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=False, lstrip_blocks=False)
    env.filters["show"] = show
    env.filters["facts"] = lambda values: "  ".join(show(v, _kind_of(v)) for v in values if v is not None)
    env.filters["trend"] = lambda v: "" if v is None or v == 0 else ("up" if v > 0 else "down")
    env.filters["block_kind"] = _block_kind
    env.filters["plotly"] = plotly_figure
    return env


def show(value, kind: Kind | str) -> str:
    """A value as a page shows it."""
    if value is None:
        return "—"
    kind = Kind(kind)
    if kind is Kind.INT:
        return f"{value:,}"
    if kind is Kind.FLOAT:
        return f"{value:,.2f}"
    if kind is Kind.PERCENT:
        return f"{value * 100:.1f}%"
    if kind is Kind.CHANGE:
        return f"{value * 100:+.1f}%"
    if kind is Kind.POINTS:
        return f"{value * 100:+.1f}pp"
    if kind is Kind.SIGNED:
        return f"{value:+d}" if isinstance(value, int) else f"{value:+.2f}"
    if kind is Kind.DATETIME:
        return f"{value:%Y-%m-%d %H:%M}"
    if kind is Kind.DATE:
        return value.isoformat()
    return str(value)


def _kind_of(value) -> Kind:
    if isinstance(value, datetime):
        return Kind.DATETIME
    if isinstance(value, date):
        return Kind.DATE
    return Kind.TEXT


def _block_kind(block) -> str:
    for cls, name in ((Figures, "figures"), (Table, "table"), (Chart, "chart"), (Note, "note")):
        if isinstance(block, cls):
            return name
    raise TypeError(f"a document block of unknown kind: {type(block).__name__}")


def plotly_figure(chart: Chart, print_mode: bool = False) -> dict:
    """A chart as a plotly figure ({data, layout, config}); drawn as SVG, so it prints as vectors."""
    dates = bool(chart.x) and all(isinstance(x, date) for x in chart.x)
    x = [v.isoformat() if isinstance(v, date) else v for v in chart.x]
    data = []
    for i, s in enumerate(chart.series):
        trace = {"type": "bar" if chart.style == "bar" else "scatter", "name": s.name, "x": x, "y": s.values,
                 "marker": {"color": COLOURS[i % len(COLOURS)]}}
        if chart.style != "bar":
            trace |= {"mode": "lines+markers", "line": {"color": COLOURS[i % len(COLOURS)], "width": 2}}
        data.append(trace)
    layout = {
        "title": {"text": chart.title, "font": {"size": 14}}, "font": {"family": FONT, "size": 12, "color": "#14213d"},
        "margin": {"l": 56, "r": 16, "t": 40, "b": 48}, "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
        "xaxis": {"type": "date", "tickformat": "%m-%d", "gridcolor": "#e3e9f2"} if dates else {"gridcolor": "#e3e9f2"},
        "yaxis": {"title": {"text": chart.y_title}, "rangemode": "tozero", "gridcolor": "#e3e9f2"},
        "legend": {"orientation": "h", "x": 0, "y": 1.12}, "barmode": "group",
    }
    config = {"displayModeBar": False, "staticPlot": print_mode, "responsive": not print_mode}
    return {"data": data, "layout": layout, "config": config}


def css_string(text: str) -> str:
    """`text` as a CSS string literal, every character but letters and digits escaped (it may hold
    an area's name: nothing in it can close the string or the style element)."""
    return '"' + "".join(c if c.isascii() and c.isalnum() else f"\\{ord(c):06x}" for c in text) + '"'


def _page_counter(lang: str) -> str:
    """The footer's page number as CSS content: 第 N 页 / 共 M 页, Page N of M."""
    template = t("report.page", lang)
    before, rest = template.split("{page}")
    middle, after = rest.split("{pages}")
    return " ".join(p for p in (css_string(before) if before else "", "counter(page)", css_string(middle),
                                "counter(pages)", css_string(after) if after else "") if p)
