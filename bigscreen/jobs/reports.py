"""The reports a centre hands on: every Monday the week before, on the 1st the month before, after
each quarter the quarter, for every area of the levels in `scheduled_reports` of config/city.yaml (the
city and its districts unless told), produced by the leading scheduler and kept for download
(bigscreen.reports.store). The job runs every few minutes and produces what is due and not
yet stored, so a scheduler that was down at 08:00 on Monday catches up when it leads again; a report
already stored is left alone. Each is kept in every format of `scheduled_reports.formats`
(HTML, PDF and XLSX unless told; a host without Chromium keeps HTML and XLSX), all of them in one transaction: a report is there whole or not at all, and a
rerun of the same period replaces each format, never adds a second.

The leader only finds what is due; a process of its own, at a lower CPU priority (BIGSCREEN_REPORT_NICE), counts,
renders and stores it: eighteen reports at a scheduler's first start take a core for most of a minute,
and in the leader's Python they would hold up the wall's frames, which that process builds."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import traceback
from datetime import datetime

from bigscreen.configuration.loading import Config
from bigscreen.process.runtime import Runtime
from bigscreen.process.settings import Settings
from bigscreen.reports import store
from bigscreen.reports.periods import SCHEDULED, Period, due
from bigscreen.reports.report import ReportError, build_report
from bigscreen.screens.report_formats import FORMATS, render_report
from bigscreen.screens.report_pdf import PdfError, PdfPrinter

log = logging.getLogger(__name__)
STOP_CHECK_S = 0.2  # how often a run looks whether its process is stopping
STOP_WAIT_S = 30.0  # how long a stopped reports' process may take to close Chromium and the database
RESIGNAL_S = 0.05  # a SIGTERM that came inside a destructor comes again after this
PR_SET_PDEATHSIG = 1  # prctl(2): a signal to this process when its parent dies


def produce_due_reports(rt: Runtime) -> int:
    """Produces every scheduled report that is due and not stored yet, in a process of its own; returns how
    many. Nothing starts when nothing is due; a run ends at once when the process stops (`rt.stopping`): each
    report is stored in one transaction, so what was not finished is made by the next scheduler to lead."""
    now = rt.clock()
    wanted = due_reports(rt, now)
    if not wanted or rt.stopping.is_set():
        return 0
    child = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             process_group=0)  # a group of its own: a terminal's Ctrl-C is for its leader, which ends it
    work: bytes | None = pickle.dumps((os.getpid(), rt.settings, rt.config, wanted, now))
    while True:
        try:
            answer, _ = child.communicate(work, timeout=STOP_CHECK_S)
            break
        except subprocess.TimeoutExpired:
            work = None  # sent, or on its way: a retry goes on with it
            if rt.stopping.is_set():
                child.terminate()  # SIGTERM: the child closes its Chromium and its database on the way out
                try:
                    child.communicate(timeout=STOP_WAIT_S)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.communicate()
                log.info("reports: stopped with the process while %d were being made; nothing half-made is kept", len(wanted))
                return 0
    if not answer:
        raise RuntimeError(f"the process making the reports ended without an answer (exit code {child.returncode})")
    kind, outcome = pickle.loads(answer)
    if kind == "error":
        raise RuntimeError(f"the process making the reports failed:\n{outcome}")
    produced, lines = outcome
    for level, line in lines:  # logged here, where the process's logging is set up
        log.log(level, "%s", line)
    return produced


def _make_apart() -> None:
    """The reports' process (`python -m bigscreen.jobs.reports`, the work pickled on stdin, the answer on stdout):
    lower CPU priority, a SIGTERM that unwinds (closing Chromium), also when the scheduler that started it dies
    (a leader killed with kill -9: the next one makes the reports)."""
    answer_to = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what else writes to stdout (Chromium) goes to stderr, not into the answer
    signal.signal(signal.SIGTERM, _unwind_quietly)
    parent, settings, config, wanted, now = pickle.load(sys.stdin.buffer)
    os.nice(settings.report_nice)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        return  # it died before the line above
    try:
        answer = ("ok", produce_reports(settings, config, wanted, now))
    except Exception:
        answer = ("error", traceback.format_exc())
    with answer_to:
        pickle.dump(answer, answer_to)


def _unwind_quietly(_signum=None, frame=None) -> None:
    """SIGTERM in the reports' process: unwind (closing Chromium and the database) and say nothing. The exit
    lands wherever the process was, e.g. inside a fetch, and what a library logs about being cut off there
    ("Error closing cursor" and its traceback) is not news; the leader logs the stop. Inside a destructor
    (a Redis parser's `__del__`, run by the garbage collector) an exit would be swallowed, printed as
    "Exception ignored", and the process would go on: the signal comes again a moment later instead."""
    logging.disable(logging.CRITICAL)
    if frame is not None and frame.f_code.co_name == "__del__":
        threading.Timer(RESIGNAL_S, os.kill, (os.getpid(), signal.SIGTERM)).start()
        return
    sys.exit(1)


def due_reports(rt: Runtime, now: datetime) -> list[tuple[Period, str]]:
    """(period, area code) of every scheduled report due at `now` and not stored whole."""
    local = now.astimezone(rt.tz)
    plan = rt.config.city.scheduled_reports
    levels = rt.config.city.levels
    areas = [a.code for name in plan.levels for a in rt.areas.at_level(levels.index(name)) if not a.retired]
    formats = [fmt for fmt in FORMATS if fmt in plan.formats]
    wanted = []
    for kind in SCHEDULED:
        period = due(kind, local, plan.due_at)
        with rt.engine.connect() as conn:
            wanted += [(period, code) for code in areas if not all(store.stored(conn, period, code, fmt) for fmt in formats)]
    return wanted


def produce_reports(settings: Settings, config: Config, wanted: list[tuple[Period, str]],
                    now: datetime) -> tuple[int, list[tuple[int, str]]]:
    """Counts, renders and stores the reports `wanted`, each whole or not at all; returns how many were
    stored and what to log. One Chromium prints all their PDFs; it starts only when a report has figures."""
    rt = Runtime(settings, config, clock=lambda: now)
    lines: list[tuple[int, str]] = []
    formats = [fmt for fmt in FORMATS if fmt in config.city.scheduled_reports.formats]
    try:
        reports = []
        for period, code in wanted:
            try:
                reports.append(build_report(rt, period, code, now))
            except ReportError as exc:  # e.g. a period before the history: nothing to report
                lines.append((logging.DEBUG, f"report {period.label} {code} not produced: {exc}"))
        produced = 0
        if reports:
            try:
                with PdfPrinter(settings.chromium) if "pdf" in formats else contextlib.nullcontext() as printer:
                    for report in reports:
                        files = {fmt: render_report(report, fmt, rt.tz, printer=printer) for fmt in formats}
                        with rt.engine.begin() as conn:
                            for fmt, content in files.items():
                                store.save(conn, report.period, report.area_code, fmt, content, now)
                        produced += 1
                        lines.append((logging.INFO, f"report {report.period.label} for {report.area_code} produced (" +
                                      ", ".join(f"{fmt} {len(c) // 1024} KB" for fmt, c in files.items()) + ")"))
            except PdfError as exc:  # nothing stored of the report it failed on: the next run tries again
                lines.append((logging.ERROR, f"reports not produced: {exc}"))
        return produced, lines
    finally:
        rt.close()


if __name__ == "__main__":
    _make_apart()
