"""The formats a report is offered in, and the one way to write a report in any of them: the report
as a document (report_document.py), then the format's renderer. The command line, the scheduled job and
the pages all come here; so does the grid-worker assessment (`render_assessment`: its document,
assessment_document.py, drawn by the same renderers; its workbook by assessment_xlsx.py)."""

from __future__ import annotations

from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from bigscreen.reports.assessment import Assessment
from bigscreen.reports.report import Report
from bigscreen.screens.assessment_document import assessment_document
from bigscreen.screens.report_document import report_document
from bigscreen.screens.report_html import render_html, web_assets
from bigscreen.screens.report_pdf import PdfPrinter, render_pdf

FORMATS = ("html", "pdf", "xlsx")
# The XLSX writers are imported where a workbook is made: openpyxl is a third of a second of every process's
# start (serve's workers, schedulers, commands), most of which never write one.


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
        from bigscreen.screens.report_xlsx import render_xlsx  # openpyxl, imported when a workbook is wanted (XLSX)

        return render_xlsx(doc)
    if fmt == "pdf":
        return printer.print(doc) if printer else render_pdf(doc, chromium)
    return render_html(doc, web_assets(), links=page_links(report, lang)).encode()


def assessment_url(area_code: str, period_label: str, fmt: str, lang: str = "zh", worker_id: int | None = None) -> str:
    query = {k: v for k, v in (("worker", worker_id), ("lang", None if lang == "zh" else lang)) if v is not None}
    return f"/reports/workers/{area_code}/{period_label}.{fmt}" + (f"?{urlencode(query)}" if query else "")


def assessment_links(assessment: Assessment, lang: str, worker_id: int | None = None) -> dict:
    other = "en" if lang == "zh" else "zh"
    code, label = assessment.area_code, assessment.period.label
    return {"back": "/reports" + ("" if lang == "zh" else f"?lang={lang}"),
            "formats": [(f, assessment_url(code, label, f, lang, worker_id)) for f in FORMATS if f != "html"],
            "other_lang": assessment_url(code, label, "html", other, worker_id)}


def render_assessment(assessment: Assessment, fmt: str, tz: ZoneInfo, lang: str = "zh", worker_id: int | None = None, *,
                      chromium: str = "/usr/bin/chromium", printer: PdfPrinter | None = None) -> bytes:
    """The grid-worker assessment written in `fmt` (with `worker_id`: their street's ranking and their page):
    HTML and PDF from its document by the reports' renderers, XLSX by assessment_xlsx (the workbook the
    command line has always written)."""
    check_format(fmt)
    if fmt == "xlsx":
        from bigscreen.screens.assessment_xlsx import assessment_xlsx  # openpyxl (XLSX)

        return assessment_xlsx(assessment, lang, worker_id)
    doc = assessment_document(assessment, tz, lang, worker_id)
    if fmt == "pdf":
        return printer.print(doc) if printer else render_pdf(doc, chromium)
    return render_html(doc, web_assets(), links=assessment_links(assessment, lang, worker_id)).encode()
