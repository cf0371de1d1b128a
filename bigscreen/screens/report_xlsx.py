"""A report as an XLSX workbook (openpyxl): every table a sheet, numbers as numbers (rates as
fractions shown as percentages), days as dates, headings from the string catalogue."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from bigscreen.reports.report import HEADLINE, RATES, Ranked, Report
from bigscreen.screens.i18n import t

PERCENT, CHANGE, HOURS, COUNT = "0.0%", "+0.0%;-0.0%;0.0%", "0.00", "0"
RANK_FIGURES = ("reported", "closed", "closure_rate", "ontime_rate", "satisfaction", "avg_handling_hours")


def report_xlsx(report: Report, lang: str = "zh") -> bytes:
    book = Workbook()
    _headline(book.active, report, lang)
    _days(book.create_sheet(t("report.sheet.days", lang)), report, lang)
    _ranking(book.create_sheet(t("report.sheet.areas", lang)), report.areas, lang)
    _ranking(book.create_sheet(t("report.sheet.departments", lang)), report.departments, lang)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _headline(sheet, report: Report, lang: str) -> None:
    sheet.title = t("report.sheet.headline", lang)
    tz = report.start.tzinfo
    sheet.append([t("report.area", lang), report.area_name, report.area_code])
    sheet.append([t("report.period", lang), report.period.label, report.period.first, report.period.last])
    sheet.append([t("report.as_of", lang), report.as_of.astimezone(tz).replace(tzinfo=None)])
    sheet.append([t("report.produced_at", lang), report.produced_at.astimezone(tz).replace(tzinfo=None)])
    sheet.append([])
    _heading(sheet, [t(f"report.col.{c}", lang) for c in ("figure", "value", "previous", "change", "year_before", "change_year")])
    for name in HEADLINE:
        c = report.headline[name]
        sheet.append([_figure_name(name, lang), c.value, c.previous, c.change, c.year_before, c.change_year])
        row = sheet.max_row
        value_format = PERCENT if name in RATES else HOURS if name == "avg_handling_hours" else COUNT
        for col in (2, 3, 5):
            sheet.cell(row, col).number_format = value_format
        for col in (4, 6):
            sheet.cell(row, col).number_format = CHANGE if (name not in RATES and name != "avg_handling_hours") else (
                "+0.0%;-0.0%;0.0%" if name in RATES else "+0.00;-0.00;0.00")
    for cell in (sheet["C2"], sheet["D2"]):
        cell.number_format = "yyyy-mm-dd"
    for cell in (sheet["B3"], sheet["B4"]):
        cell.number_format = "yyyy-mm-dd hh:mm"
    _widths(sheet, [22, 16, 14, 12, 14, 12])


def _days(sheet, report: Report, lang: str) -> None:
    _heading(sheet, [t("report.col.day", lang), t("report.col.reported", lang), t("report.col.closed", lang)])
    for day, reported, closed in report.days:
        sheet.append([day, reported, closed])
        sheet.cell(sheet.max_row, 1).number_format = "yyyy-mm-dd"
    _widths(sheet, [12, 10, 10])


def _ranking(sheet, ranked: list[Ranked], lang: str) -> None:
    _heading(sheet, [t("report.col.rank", lang), t("report.col.code", lang), t("report.col.name", lang),
                     *(_figure_name(n, lang) for n in RANK_FIGURES),
                     t("report.col.previous_rank", lang), t("report.col.rank_change", lang)])
    for r in ranked:
        sheet.append([r.rank or None, r.code, r.name, *(r.figures[n] for n in RANK_FIGURES), r.previous_rank, r.rank_change])
        row = sheet.max_row
        for i, name in enumerate(RANK_FIGURES, start=4):
            sheet.cell(row, i).number_format = PERCENT if name in RATES else HOURS if name == "avg_handling_hours" else COUNT
    _widths(sheet, [6, 14, 24, *([12] * len(RANK_FIGURES)), 10, 10])


def _figure_name(name: str, lang: str) -> str:
    return t(f"report.fig.{name}", lang)


def _heading(sheet, titles: list[str]) -> None:
    sheet.append(titles)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)


def _widths(sheet, widths: list[int]) -> None:
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
