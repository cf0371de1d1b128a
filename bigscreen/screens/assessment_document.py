"""A grid-worker assessment (bigscreen.reports.assessment) as a document (bigscreen.reports.document), in
one language, drawn by the reports' own renderers (report_html.py, report_pdf.py): a cover (area, period,
figures as of, produced at, the days the field-work norm counts, the weights), the ranking within each
street (every component's points and the total), then one section per worker (一人一卷): each component
with the figures it comes from, the rule that scores it, its score, weight and points, so a worker can
see why the total is what it is. Every word from the string catalogue.

Size: the ranking is always there (a city's is one row per full-time worker); the workers' pages only
when the assessment covers one street (a street's are a few dozen) or one worker is asked for (then the
ranking is their street's, as in the workbook); a district's or the city's says how to open them.
The workbook (assessment_xlsx.py) keeps every page whatever the area: a file, not a page to scroll.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bigscreen.reports.assessment import COMPONENTS, Assessment, Component, WorkerScore
from bigscreen.reports.document import Column, Document, Kind, Note, Section, Table
from bigscreen.screens.i18n import t
from bigscreen.screens.report_sections import Context

PERCENTS = ("ontime_rate", "satisfaction")  # raw figures that are fractions


def assessment_document(assessment: Assessment, tz: ZoneInfo, lang: str = "zh", worker_id: int | None = None) -> Document:
    """The assessment as a document; with `worker_id` (one of its workers), their street's ranking and their page."""
    a, cx = assessment, Context(tz, lang)
    workers = a.workers
    if worker_id is not None:
        street = a.worker(worker_id).street_code
        workers = [w for w in workers if w.street_code == street]
    pages = worker_id is not None or all(w.street_code == a.area_code for w in a.workers)
    period = a.period
    title = cx.t("assess.title")
    cover = [
        (cx.t("report.area"), (a.area_name, a.area_code)),
        (cx.t("report.period"), (period.label, period.first, period.last)),
        (cx.t("report.as_of"), (cx.local(a.as_of),)),
        (cx.t("report.produced_at"), (cx.local(a.produced_at),)),
        (cx.t("assess.days"), (str(a.days),)),
        (cx.t("assess.workers"), (str(len(workers)),)),
        (cx.t("assess.col.weight"), tuple(f"{cx.t(f'assess.c.{c}')} {a.weights[c]:g}" for c in COMPONENTS)),
    ]
    sections = [ranking_section(a, workers, cx, pages)]
    if pages:
        sections += [worker_section(a, w, cx) for w in workers if worker_id is None or w.worker_id == worker_id]
    chosen = f" · {a.worker(worker_id).name}" if worker_id is not None else ""
    return Document(title=f"{a.area_name} {title}{chosen}", subtitle=f"{period.label} · {period.first.isoformat()} — "
                    f"{period.last.isoformat()}", lang=lang, cover=cover, sections=sections,
                    produced_at=cx.local(a.produced_at), footer=f"{a.area_name} · {title} · {period.label}{chosen}")


def ranking_section(a: Assessment, workers: list[WorkerScore], cx: Context, pages: bool) -> Section:
    """Street by street, best first: rank, of, worker, grid, each component's points, the total."""
    title = cx.t("assess.sheet.ranking")
    columns = (cx.column("assess.col.street"), cx.column("report.col.rank", Kind.INT), cx.column("assess.col.of", Kind.INT),
               cx.column("assess.col.worker_id", Kind.ID), cx.column("assess.col.worker"), cx.column("assess.col.grid"),
               *(Column(f"{cx.t(f'assess.c.{c}')} ({a.weights[c]:g})", Kind.FLOAT) for c in COMPONENTS),
               cx.column("assess.col.total", Kind.FLOAT))
    rows = [(w.street_name, w.rank, w.of, w.worker_id, w.name, w.grid_name, *(w.components[c].points for c in COMPONENTS),
             w.total) for w in workers]
    blocks: list = [Table(title, columns, rows)]
    if not pages and workers:
        blocks.append(Note(cx.t("assess.note.pages")))
    return Section("ranking", title, blocks)


def worker_section(a: Assessment, w: WorkerScore, cx: Context) -> Section:
    """One worker's page: who and where, rank and total; each component: figures, rule, score, weight, points."""
    title = f"{w.name} · {w.grid_name}"
    who = Table(title, (cx.column("assess.col.worker_id", Kind.ID), cx.column("assess.col.worker"),
                        cx.column("assess.col.grid"), cx.column("report.col.code"), cx.column("assess.col.street"),
                        cx.column("report.col.rank", Kind.INT), cx.column("assess.col.of", Kind.INT),
                        cx.column("assess.col.total", Kind.FLOAT)),
                [(w.worker_id, w.name, w.grid_name, w.grid_code, w.street_name, w.rank, w.of, w.total)])
    parts = Table(cx.t("assess.col.component"), (
        cx.column("assess.col.component"), cx.column("assess.col.figures"), cx.column("assess.col.score", Kind.FLOAT),
        cx.column("assess.col.weight", Kind.FLOAT), cx.column("assess.col.points", Kind.FLOAT), cx.column("assess.col.rule")),
        [(cx.t(f"assess.c.{c}"), raw_figures(w.components[c], cx), w.components[c].score, w.components[c].weight,
          w.components[c].points, cx.t(f"assess.rule.{c}")) for c in COMPONENTS]
        + [(cx.t("assess.col.sum"), None, None, sum(a.weights.values()), w.total, None)])
    return Section(f"worker-{w.worker_id}", title, [who, parts])


def raw_figures(part: Component, cx: Context) -> str:
    """A component's raw figures as one line a person reads: 巡查次数 31；应巡查次数 60 …"""
    sep = "；" if cx.lang == "zh" else "; "
    return sep.join(f"{cx.t(f'assess.raw.{name}')} {_figure(name, value)}" for name, value in part.raw.items())


def _figure(name: str, value) -> str:
    if value is None:
        return "—"
    if name in PERCENTS:
        return f"{value * 100:.1f}%"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:g}"
