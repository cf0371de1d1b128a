"""The formats a report is offered in, and the one way to write a report in any of them: the report
as a document (report_document.py), then the format's renderer. The command line, the scheduled job and
the pages all come here."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bigscreen.reports.report import Report
from bigscreen.screens.report_document import report_document
from bigscreen.screens.report_html import render_html, web_assets
from bigscreen.screens.report_pdf import PdfPrinter, render_pdf
from bigscreen.screens.report_xlsx import render_xlsx

FORMATS = ("html", "pdf", "xlsx")
STORED = FORMATS  # what the scheduled job keeps of each report


class FormatError(ValueError):
    """A format not offered; says which are."""


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise FormatError(f"format {fmt!r} is not offered: {', '.join(FORMATS)}")
    return fmt


def report_url(area_code: str, period_label: str, fmt: str, lang: str = "zh") -> str:
    return f"/reports/{area_code}/{period_label}.{fmt}" + ("" if lang == "zh" else f"?lang={lang}")


def page_links(report: Report, lang: str) -> dict:
    other = "en" if lang == "zh" else "zh"
    return {"back": "/reports" + ("" if lang == "zh" else f"?lang={lang}"),
            "formats": [(f, report_url(report.area_code, report.period.label, f, lang)) for f in FORMATS if f != "html"],
            "other_lang": report_url(report.area_code, report.period.label, "html", other)}


def render_report(report: Report, fmt: str, tz: ZoneInfo, lang: str = "zh", *, chromium: str = "/usr/bin/chromium",
                  printer: PdfPrinter | None = None) -> bytes:
    """The report written in `fmt` (FormatError if not offered; PdfError if Chromium cannot print), a PDF
    by `printer` when given (one Chromium for many reports), else by a Chromium of its own."""
    check_format(fmt)
    doc = report_document(report, tz, lang)
    if fmt == "xlsx":
        return render_xlsx(doc)
    if fmt == "pdf":
        return printer.print(doc) if printer else render_pdf(doc, chromium)
    return render_html(doc, web_assets(), links=page_links(report, lang)).encode()
