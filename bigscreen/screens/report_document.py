"""A report (bigscreen.reports.report) as a document (bigscreen.reports.document), in one language:
a cover (period, area, figures as of, produced at) and one section per part of the report.

`SECTIONS` lists the section builders (report_sections.py) in the order they appear; a builder takes
the report and the `Context` and gives a Section, or None when its part is absent (a department ranking
with no department, a period without a whistle). A new part of a report is one builder and one line in
SECTIONS; every format draws it.
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from bigscreen.reports.document import Document, Section
from bigscreen.reports.report import Report
from bigscreen.screens.i18n import t
from bigscreen.screens.report_sections import (
    Context,
    areas_section,
    categories_section,
    channels_section,
    days_section,
    departments_section,
    disputes_section,
    field_work_section,
    headline_section,
    hotspots_section,
    laggards_section,
    supervision_section,
    whistles_section,
)

SectionBuilder = Callable[[Report, Context], Section | None]
SECTIONS: list[SectionBuilder] = [
    headline_section,
    days_section,
    areas_section,
    departments_section,
    categories_section,
    channels_section,
    hotspots_section,
    laggards_section,
    supervision_section,
    whistles_section,
    disputes_section,
    field_work_section,
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
