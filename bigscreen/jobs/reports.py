"""The reports a centre hands on: every Monday the week before, on the 1st the month before, after
each quarter the quarter, for the city and every district, produced by the leading scheduler and kept
for download (bigscreen.reports.store). The job runs every few minutes and produces what is due and not
yet stored, so a scheduler that was down at 08:00 on Monday catches up when it leads again; a report
already stored is left alone (`bigscreen report` replaces one by hand)."""

from __future__ import annotations

import logging
from datetime import time

from bigscreen.process.runtime import Runtime
from bigscreen.reports import store
from bigscreen.reports.periods import SCHEDULED, due
from bigscreen.reports.report import ReportError, build_report
from bigscreen.screens.report_xlsx import report_xlsx

log = logging.getLogger(__name__)
DUE_AT = time(8, 0)  # local time on the day after a period: Monday 08:00 for a week
AREA_LEVELS = (0, 1)  # the city and its districts


def produce_due_reports(rt: Runtime) -> int:
    """Produces every scheduled report that is due and not stored yet; returns how many."""
    now = rt.clock()
    local = now.astimezone(rt.tz)
    areas = [a.code for level in AREA_LEVELS for a in rt.areas.at_level(level)]
    produced = 0
    for kind in SCHEDULED:
        period = due(kind, local, DUE_AT)
        for code in areas:
            with rt.engine.connect() as conn:
                if store.stored(conn, period, code, "xlsx"):
                    continue
            try:
                report = build_report(rt, period, code, now)
            except ReportError as exc:  # e.g. a period before the history: nothing to report
                log.debug("report %s %s not produced: %s", period.label, code, exc)
                continue
            content = report_xlsx(report)
            with rt.engine.begin() as conn:
                store.save(conn, period, code, "xlsx", content, now)
            produced += 1
            log.info("report %s for %s produced (%d bytes)", period.label, code, len(content))
    return produced
