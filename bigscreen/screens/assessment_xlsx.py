"""A grid-worker assessment as an XLSX workbook (openpyxl): the ranking in one sheet, street by street,
and one page per worker (一人一卷) in the next, a printed page each (a page break after every worker).
Numbers as numbers, headings from the string catalogue. With `worker_id`: that worker's street and page."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.pagebreak import Break

from bigscreen.reports.assessment import COMPONENTS, Assessment, WorkerScore
from bigscreen.screens.i18n import t
from bigscreen.screens.report_xlsx import COUNT, PERCENT, _heading, _widths

SCORE = "0.00"
RAW_FORMATS = {"ontime_rate": PERCENT, "satisfaction": PERCENT, "street_median": "0.#", "penalty": "0.#"}


def assessment_xlsx(assessment: Assessment, lang: str = "zh", worker_id: int | None = None) -> bytes:
    workers = assessment.workers
    if worker_id is not None:
        street = assessment.worker(worker_id).street_code
        workers = [w for w in workers if w.street_code == street]
    book = Workbook()
    _ranking(book.active, assessment, workers, lang)
    pages = book.create_sheet(t("assess.sheet.pages", lang))
    for w in workers:
        if worker_id is None or w.worker_id == worker_id:
            _page(pages, assessment, w, lang)
    _widths(pages, [22, 16, 16, 12, 40])
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _ranking(sheet, a: Assessment, workers: list[WorkerScore], lang: str) -> None:
    sheet.title = t("assess.sheet.ranking", lang)
    tz = a.start.tzinfo
    sheet.append([t("report.area", lang), a.area_name, a.area_code])
    sheet.append([t("report.period", lang), a.period.label, a.period.first, a.period.last])
    sheet.append([t("report.as_of", lang), a.as_of.astimezone(tz).replace(tzinfo=None)])
    sheet.append([t("report.produced_at", lang), a.produced_at.astimezone(tz).replace(tzinfo=None)])
    sheet.append([t("assess.days", lang), a.days])
    for cell in (sheet["C2"], sheet["D2"]):
        cell.number_format = "yyyy-mm-dd"
    for cell in (sheet["B3"], sheet["B4"]):
        cell.number_format = "yyyy-mm-dd hh:mm"
    sheet.append([])
    _heading(sheet, [t(f"assess.col.{c}", lang) for c in ("street", "worker_id", "worker", "grid")]
             + [t("report.col.name", lang), t("report.col.rank", lang), t("assess.col.of", lang), t("assess.col.total", lang)]
             + [f"{t(f'assess.c.{c}', lang)} ({a.weights[c]:g})" for c in COMPONENTS])
    for w in workers:
        sheet.append([w.street_name, w.worker_id, w.name, w.grid_code, w.grid_name, w.rank, w.of, w.total,
                      *(w.components[c].points for c in COMPONENTS)])
        for col in range(8, 9 + len(COMPONENTS)):
            sheet.cell(sheet.max_row, col).number_format = SCORE
    _widths(sheet, [16, 10, 10, 16, 24, 6, 8, 8, *([12] * len(COMPONENTS))])


def _page(sheet, a: Assessment, w: WorkerScore, lang: str) -> None:
    title = sheet.cell(sheet.max_row + (2 if sheet.max_row > 1 else 0), 1, f"{t('assess.title', lang)} · {w.name}")
    title.font = Font(bold=True, size=14)
    sheet.append([t("assess.col.worker_id", lang), w.worker_id, w.name])
    sheet.append([t("assess.col.grid", lang), w.grid_code, w.grid_name])
    sheet.append([t("assess.col.street", lang), w.street_code, w.street_name])
    sheet.append([t("report.period", lang), a.period.label, a.period.first, a.period.last])
    for col in (3, 4):
        sheet.cell(sheet.max_row, col).number_format = "yyyy-mm-dd"
    sheet.append([t("assess.col.total", lang), w.total, t("report.col.rank", lang), w.rank, w.of])
    sheet.cell(sheet.max_row, 2).number_format = SCORE
    _heading(sheet, [t(f"assess.col.{c}", lang) for c in ("component", "score", "weight", "points", "rule")])
    for c in COMPONENTS:
        part = w.components[c]
        sheet.append([t(f"assess.c.{c}", lang), part.score, part.weight, part.points, t(f"assess.rule.{c}", lang)])
        for col, fmt in ((2, SCORE), (3, "0.#"), (4, SCORE)):
            sheet.cell(sheet.max_row, col).number_format = fmt
    sheet.append([t("assess.col.sum", lang), None, sum(a.weights.values()), w.total])
    sheet.cell(sheet.max_row, 4).number_format = SCORE
    _heading(sheet, [t("assess.col.component", lang), t("report.col.figure", lang), t("report.col.value", lang)])
    for c in COMPONENTS:
        for name, value in w.components[c].raw.items():
            sheet.append([t(f"assess.c.{c}", lang), t(f"assess.raw.{name}", lang), value])
            sheet.cell(sheet.max_row, 3).number_format = RAW_FORMATS.get(name, COUNT)
    sheet.row_breaks.append(Break(id=sheet.max_row))
