"""A grid-worker assessment as an XLSX workbook (openpyxl): the ranking in one sheet, street by street,
and one page per worker (一人一卷) in the next, a printed page each (a page break after every worker).
Numbers as numbers, headings from the string catalogue. With `worker_id`: that worker's street and page."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.pagebreak import Break

from bigscreen.reports.assessment import COMPONENTS, Assessment, WorkerScore
from bigscreen.reports.document import Kind
from bigscreen.screens.i18n import t
from bigscreen.screens.report_xlsx import FORMATS, Rows, column_widths

COUNT, PERCENT = FORMATS[Kind.INT], FORMATS[Kind.PERCENT]

SCORE, DAY, MINUTE = "0.00", "yyyy-mm-dd", "yyyy-mm-dd hh:mm"
RAW_FORMATS = {"ontime_rate": PERCENT, "satisfaction": PERCENT, "street_median": "0.#", "penalty": "0.#"}


def assessment_xlsx(assessment: Assessment, lang: str = "zh", worker_id: int | None = None) -> bytes:
    workers = assessment.workers
    if worker_id is not None:
        street = assessment.worker(worker_id).street_code
        workers = [w for w in workers if w.street_code == street]
    book = Workbook()
    _ranking(Rows(book.active), assessment, workers, lang)
    pages = Rows(book.create_sheet(t("assess.sheet.pages", lang)))
    for w in workers:
        if worker_id is None or w.worker_id == worker_id:
            _page(pages, assessment, w, lang)
    column_widths(pages.sheet, [22, 16, 16, 12, 40])
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _ranking(rows: Rows, a: Assessment, workers: list[WorkerScore], lang: str) -> None:
    rows.sheet.title = t("assess.sheet.ranking", lang)
    tz = a.start.tzinfo
    rows.add([t("report.area", lang), a.area_name, a.area_code])
    rows.add([t("report.period", lang), a.period.label, a.period.first, a.period.last], {3: DAY, 4: DAY})
    rows.add([t("report.as_of", lang), a.as_of.astimezone(tz).replace(tzinfo=None)], {2: MINUTE})
    rows.add([t("report.produced_at", lang), a.produced_at.astimezone(tz).replace(tzinfo=None)], {2: MINUTE})
    rows.add([t("assess.days", lang), a.days])
    rows.add([])
    rows.add([t(f"assess.col.{c}", lang) for c in ("street", "worker_id", "worker", "grid")]
             + [t("report.col.name", lang), t("report.col.rank", lang), t("assess.col.of", lang), t("assess.col.total", lang)]
             + [f"{t(f'assess.c.{c}', lang)} ({a.weights[c]:g})" for c in COMPONENTS], bold=True)
    scores = dict.fromkeys(range(8, 9 + len(COMPONENTS)), SCORE)
    for w in workers:
        rows.add([w.street_name, w.worker_id, w.name, w.grid_code, w.grid_name, w.rank, w.of, w.total,
                  *(w.components[c].points for c in COMPONENTS)], scores)
    column_widths(rows.sheet, [16, 10, 10, 16, 24, 6, 8, 8, *([12] * len(COMPONENTS))])


def _page(rows: Rows, a: Assessment, w: WorkerScore, lang: str) -> None:
    if rows.row:
        rows.add([])
    rows.add([f"{t('assess.title', lang)} · {w.name}"])
    rows.sheet.cell(rows.row, 1).font = Font(bold=True, size=14)
    rows.add([t("assess.col.worker_id", lang), w.worker_id, w.name])
    rows.add([t("assess.col.grid", lang), w.grid_code, w.grid_name])
    rows.add([t("assess.col.street", lang), w.street_code, w.street_name])
    rows.add([t("report.period", lang), a.period.label, a.period.first, a.period.last], {3: DAY, 4: DAY})
    rows.add([t("assess.col.total", lang), w.total, t("report.col.rank", lang), w.rank, w.of], {2: SCORE})
    rows.add([t(f"assess.col.{c}", lang) for c in ("component", "score", "weight", "points", "rule")], bold=True)
    for c in COMPONENTS:
        part = w.components[c]
        rows.add([t(f"assess.c.{c}", lang), part.score, part.weight, part.points, t(f"assess.rule.{c}", lang)],
                 {2: SCORE, 3: "0.#", 4: SCORE})
    rows.add([t("assess.col.sum", lang), None, sum(a.weights.values()), w.total], {3: "0.#", 4: SCORE})
    rows.add([t("assess.col.component", lang), t("report.col.figure", lang), t("report.col.value", lang)], bold=True)
    for c in COMPONENTS:
        for name, value in w.components[c].raw.items():
            rows.add([t(f"assess.c.{c}", lang), t(f"assess.raw.{name}", lang), value], {3: RAW_FORMATS.get(name, COUNT)})
    rows.sheet.row_breaks.append(Break(id=rows.row))
