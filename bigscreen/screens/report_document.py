"""A report (bigscreen.reports.report) as a document (bigscreen.reports.document), in one language:
a cover (period, area, figures as of, produced at) and one section per part of the report.

`SECTIONS` lists the section builders in the order they appear; a builder takes the report and the
`Context` and gives a Section, or None when its part is absent (a department ranking with no
department). A new part of a report is one builder and one line in SECTIONS; every format draws it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bigscreen.reports.document import Chart, Column, Document, Figure, Figures, Kind, Section, Series, Table
from bigscreen.reports.report import HEADLINE, RATES, Ranked, Report
from bigscreen.screens.i18n import t

RANK_FIGURES = ("reported", "closed", "closure_rate", "ontime_rate", "satisfaction", "avg_handling_hours")
HOURS = ("avg_handling_hours",)


@dataclass(frozen=True)
class Context:
    tz: ZoneInfo
    lang: str

    def local(self, instant: datetime) -> datetime:
        """An instant as the city's wall clock reads it (naive: workbooks hold no zone)."""
        return instant.astimezone(self.tz).replace(tzinfo=None)


def value_kind(name: str) -> Kind:
    return Kind.PERCENT if name in RATES else Kind.FLOAT if name in HOURS else Kind.INT


def change_kind(name: str) -> Kind:
    """Counts change by a fraction of the period before; rates by percentage points; hours by hours."""
    return Kind.POINTS if name in RATES else Kind.SIGNED if name in HOURS else Kind.CHANGE


def figure_name(name: str, lang: str) -> str:
    return t(f"report.fig.{name}", lang)


def headline_section(report: Report, cx: Context) -> Section:
    lang = cx.lang
    figures = tuple(Figure(figure_name(n, lang), c.value, value_kind(n), c.change, change_kind(n), c.change_year,
                           c.previous, c.year_before) for n, c in report.headline.items() if n in HEADLINE)
    labels = {k: t(f"report.col.{k}", lang) for k in ("figure", "value", "previous", "change", "year_before", "change_year")}
    return Section("headline", t("report.sheet.headline", lang), [Figures(t("report.sheet.headline", lang), figures, labels)])


def days_section(report: Report, cx: Context) -> Section:
    lang = cx.lang
    reported, closed = t("report.col.reported", lang), t("report.col.closed", lang)
    chart = Chart(t("report.chart.days", lang), [d for d, _r, _c in report.days],
                  (Series(reported, [r for _d, r, _c in report.days]), Series(closed, [c for _d, _r, c in report.days])),
                  style="line" if len(report.days) > 1 else "bar", y_title=t("report.chart.cases", lang))
    table = Table(t("report.sheet.days", lang), (Column(t("report.col.day", lang), Kind.DATE), Column(reported, Kind.INT),
                                                 Column(closed, Kind.INT)),
                  [(d, r, c) for d, r, c in report.days])
    return Section("days", t("report.sheet.days", lang), [chart, table])


def ranking_table(title: str, ranked: list[Ranked], lang: str) -> Table:
    columns = (Column(t("report.col.rank", lang), Kind.INT), Column(t("report.col.code", lang)), Column(t("report.col.name", lang)),
               *(Column(figure_name(n, lang), value_kind(n)) for n in RANK_FIGURES),
               Column(t("report.col.previous_rank", lang), Kind.INT), Column(t("report.col.rank_change", lang), Kind.SIGNED))
    rows = [(r.rank or None, r.code, r.name, *(r.figures[n] for n in RANK_FIGURES), r.previous_rank, r.rank_change)
            for r in ranked]
    return Table(title, columns, rows)


def areas_section(report: Report, cx: Context) -> Section | None:
    if not report.areas:
        return None  # a community: nothing below it but grids
    title = t("report.sheet.areas", cx.lang)
    return Section("areas", title, [ranking_table(title, report.areas, cx.lang)])


def departments_section(report: Report, cx: Context) -> Section:
    title = t("report.sheet.departments", cx.lang)
    return Section("departments", title, [ranking_table(title, report.departments, cx.lang)])


SectionBuilder = Callable[[Report, Context], Section | None]
SECTIONS: list[SectionBuilder] = [
    headline_section,
    days_section,
    areas_section,
    departments_section,
]


def report_document(report: Report, tz: ZoneInfo, lang: str = "zh") -> Document:
    cx = Context(tz, lang)
    period = report.period
    kind = t(f"report.kind.{period.kind}", lang)
    days = f"{period.first.isoformat()} — {period.last.isoformat()}"
    cover = [
        (t("report.area", lang), (report.area_name, report.area_code)),
        (t("report.period", lang), (period.label, period.first, period.last)),
        (t("report.as_of", lang), (cx.local(report.as_of),)),
        (t("report.produced_at", lang), (cx.local(report.produced_at),)),
    ]
    sections = [s for build in SECTIONS if (s := build(report, cx)) is not None]
    return Document(title=f"{report.area_name} {kind}", subtitle=f"{period.label} · {days}", lang=lang, cover=cover,
                    sections=sections, produced_at=cx.local(report.produced_at),
                    footer=f"{report.area_name} · {kind} · {period.label}")
