"""A month's city report over a large history, against the bare SQL aggregation of its figures.

    .venv/bin/python benchmarks/report.py [--events 1000000] [--grids 6000] [--repeat 3] [--quarters]

Set-up: the demo city (6,000 grids) in a temporary SQLite database and a year of history written
straight into `events` (benchmarks/wall_env.py's history: the city's hourly rhythm, weighted
categories, 96% closed inside their limit). Measured, alternately, `--repeat` times each:

- **report**: `build_report` of the last complete month for the city (the month, the month before,
  the year before where the history reaches; its days; districts and departments ranked), then the
  report written as HTML, as XLSX and as PDF (a Chromium started for it, as `bigscreen report` and a
  page asking for an unstored report do; and by a printer already running, as the scheduler's run
  prints all but its first), each timed;
- **bare SQL**: for the same periods, one aggregate query over the month's cases counting the headline
  figures' counters (cases, closed by the end, on time, late at the end, handling seconds, rated,
  satisfied), and the same grouped by grid and by department, the rows fetched and nothing else done.

Prints medians and the ratio report / bare for the report as HTML (build + HTML) and as PDF (build + PDF,
Chromium started for it): issue 15's target is within 5x, and under 10 s. `--quarters`: then the last
quarter's reports of every district, each in HTML, PDF and XLSX with one Chromium, as one scheduler run
makes them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402
from wall_env import Env  # noqa: E402

from bigscreen.reports.periods import last_complete  # noqa: E402
from bigscreen.reports.report import build_report  # noqa: E402
from bigscreen.screens.report_formats import render_report  # noqa: E402
from bigscreen.screens.report_pdf import PdfPrinter  # noqa: E402

BARE = """
SELECT {key} COUNT(*),
       SUM(CASE WHEN closed_at IS NOT NULL AND closed_at < :e THEN 1 ELSE 0 END),
       SUM(CASE WHEN closed_at < :e AND closed_at <= deadline THEN 1 ELSE 0 END),
       SUM(CASE WHEN (closed_at IS NULL OR closed_at >= :e) AND deadline < :e THEN 1 ELSE 0 END),
       SUM(CASE WHEN closed_at < :e THEN strftime('%s', closed_at) - strftime('%s', reported_at) ELSE 0 END),
       SUM(CASE WHEN rated_at < :e THEN 1 ELSE 0 END),
       SUM(CASE WHEN rated_at < :e AND rating >= 2 THEN 1 ELSE 0 END)
FROM events WHERE reported_at >= :s AND reported_at < :e {group}
"""


def bare(rt, periods) -> float:
    started = time.perf_counter()
    with rt.engine.connect() as conn:
        for period in periods:
            s, e = (t.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds") for t in period.bounds(rt.tz))
            for key, group in (("", ""), ("grid_id,", "GROUP BY grid_id"), ("department_code,", "GROUP BY department_code")):
                conn.execute(text(BARE.format(key=key, group=group)), {"s": s, "e": e}).all()
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000, help="events of history (fewer for a quick run)")
    ap.add_argument("--grids", type=int, default=6000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quarters", action="store_true", help="also the last quarter's reports of every district")
    args = ap.parse_args()
    with Env(args.grids, workers=1) as env:
        insert_s, rebuild_s = env.grow_history(args.events)
        rt = env.rt
        chromium = rt.settings.chromium
        now = datetime.now(UTC)
        month = last_complete("month", now.astimezone(rt.tz).date())
        print(f"history: {args.events:,} events (insert {insert_s:.0f} s); report of {month.label} for the city")
        times: dict[str, list[float]] = {k: [] for k in ("build", "html", "pdf", "xlsx", "pdf_warm", "bare")}
        sizes: dict[str, int] = {}
        for _ in range(args.repeat):
            started = time.perf_counter()  # as a page asks for HTML: count, then write
            report = build_report(rt, month, None, now)
            times["build"].append(time.perf_counter() - started)
            sizes["html"] = len(render_report(report, "html", rt.tz))
            times["html"].append(time.perf_counter() - started)
            started = time.perf_counter()  # as `bigscreen report --format pdf` does: Chromium starts while SQL counts
            with PdfPrinter(chromium) as printer:
                report = build_report(rt, month, None, now)
                sizes["pdf"] = len(render_report(report, "pdf", rt.tz, printer=printer))
                times["pdf"].append(time.perf_counter() - started)
                started = time.perf_counter()  # the same printer again, as a scheduler run prints all but its first
                render_report(report, "pdf", rt.tz, printer=printer)
                times["pdf_warm"].append(time.perf_counter() - started)
            started = time.perf_counter()
            sizes["xlsx"] = len(render_report(report, "xlsx", rt.tz))
            times["xlsx"].append(time.perf_counter() - started)
            periods = [month, month.previous()] + ([month.year_before()] if report.headline["reported"].year_before is not None else [])
            times["bare"].append(bare(rt, periods))
        m = {k: statistics.median(v) for k, v in times.items()}
        show = lambda k: f"median {m[k]:.2f} s of {', '.join(f'{x:.2f}' for x in times[k])}"  # noqa: E731
        print(f"build_report alone ({report.headline['reported'].value:,} cases in the month): {show('build')}")
        print(f"report as HTML ({sizes['html'] / 1024:.0f} KB; build + page): {show('html')}")
        print(f"report as PDF ({sizes['pdf'] / 1024:.0f} KB; Chromium started with the build, build + print): {show('pdf')}")
        print(f"  a PDF again on the running printer: {show('pdf_warm')}; XLSX from the report ({sizes['xlsx'] / 1024:.0f} KB): "
              f"{show('xlsx')}")
        print(f"bare SQL ({len(periods)} periods x 3 aggregates): {show('bare')}")
        for name in ("html", "pdf"):
            print(f"ratio report as {name.upper()} / bare: {m[name] / m['bare']:.2f}  (target <= 5, and under 10 s)")
        if args.quarters:
            quarter = last_complete("quarter", now.astimezone(rt.tz).date())
            districts = rt.areas.at_level(1)
            started = time.perf_counter()
            with PdfPrinter(chromium) as printer:
                for d in districts:
                    r = build_report(rt, quarter, d.code, now)
                    for fmt in ("html", "pdf", "xlsx"):
                        render_report(r, fmt, rt.tz, printer=printer)
            print(f"{quarter.label}: {len(districts)} districts' reports (html, pdf, xlsx; one Chromium): "
                  f"{time.perf_counter() - started:.1f} s")
        print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
