"""The reports a centre hands on: every Monday the week before, on the 1st the month before, after
each quarter the quarter, for every area of the levels in `scheduled_reports` of config/city.yaml (the
city and its districts unless told), produced by the leading scheduler and kept for download
(bigscreen.reports.store). The job runs every few minutes and produces what is due and not
yet stored, so a scheduler that was down at 08:00 on Monday catches up when it leads again; a report
already stored is left alone. Each is kept in every format of `scheduled_reports.formats`
(HTML, PDF and XLSX unless told; a host without Chromium keeps HTML and XLSX), all of them in one transaction: a report is there whole or not at all, and a
rerun of the same period replaces each format, never adds a second."""

from __future__ import annotations

import contextlib
import logging

from bigscreen.process.runtime import Runtime
from bigscreen.reports import store
from bigscreen.reports.periods import SCHEDULED, due
from bigscreen.reports.report import ReportError, build_report
from bigscreen.screens.report_formats import FORMATS, render_report
from bigscreen.screens.report_pdf import PdfError, PdfPrinter

log = logging.getLogger(__name__)
PRINT_NICE = 10  # the PDFs are printed at a lower CPU priority: the live wall shares the cores, and keeps its pace


def produce_due_reports(rt: Runtime) -> int:
    """Produces every scheduled report that is due and not stored yet; returns how many. One Chromium
    prints all the run's PDFs, in the background (`PRINT_NICE`); it starts only when a report is due."""
    now = rt.clock()
    local = now.astimezone(rt.tz)
    plan = rt.config.city.scheduled_reports
    levels = rt.config.city.levels
    areas = [a.code for name in plan.levels for a in rt.areas.at_level(levels.index(name)) if not a.retired]
    wanted = []
    formats = [fmt for fmt in FORMATS if fmt in plan.formats]
    for kind in SCHEDULED:
        period = due(kind, local, plan.due_at)
        with rt.engine.connect() as conn:
            wanted += [(period, code) for code in areas if not all(store.stored(conn, period, code, fmt) for fmt in formats)]
    reports = []
    for period, code in wanted:
        try:
            reports.append(build_report(rt, period, code, now))
        except ReportError as exc:  # e.g. a period before the history: nothing to report
            log.debug("report %s %s not produced: %s", period.label, code, exc)
    if not reports:
        return 0
    produced = 0
    try:
        with PdfPrinter(rt.settings.chromium, nice=PRINT_NICE) if "pdf" in formats else contextlib.nullcontext() as printer:
            for report in reports:
                files = {fmt: render_report(report, fmt, rt.tz, printer=printer) for fmt in formats}
                with rt.engine.begin() as conn:
                    for fmt, content in files.items():
                        store.save(conn, report.period, report.area_code, fmt, content, now)
                produced += 1
                log.info("report %s for %s produced (%s)", report.period.label, report.area_code,
                         ", ".join(f"{fmt} {len(c) // 1024} KB" for fmt, c in files.items()))
    except PdfError as exc:  # nothing stored of the report it failed on: the next run tries again
        log.error("reports not produced: %s", exc)
    return produced
