"""A report document printed to PDF by headless Chromium (driven by Playwright) from its page in print
mode (report_html.py): A4, a cover with the period, the area and when it was produced, page numbers
at the foot (CSS page margin boxes), the charts drawn by plotly.js as SVG and so printed as vectors,
the Chinese text set in Noto Sans CJK (fonts-noto-cjk) with its glyphs embedded in the file.

Chromium is found by `BIGSCREEN_CHROMIUM` (default /usr/bin/chromium; a command name is looked up on
PATH); Playwright's own browser downloads are never used. `PdfPrinter` keeps one Chromium for many
documents (the scheduler's run prints every report with one); `render_pdf` prints one. The pages are
written to a temporary directory, removed after; the page loads nothing but our own files.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bigscreen.reports.document import Document
from bigscreen.screens.report_html import file_assets, render_html

TIMEOUT_MS = 60_000
DRAWN = "document.documentElement.dataset.charts === 'drawn'"  # set by report.js once every chart is drawn


class PdfError(RuntimeError):
    """The PDF could not be made (Chromium missing, failing or too slow); says which and how to fix it."""


def find_chromium(setting: str) -> str:
    path = Path(setting)
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    found = shutil.which(setting)
    if found:
        return found
    raise PdfError(f"Chromium not found at {setting!r} (BIGSCREEN_CHROMIUM): install chromium (apt install chromium) "
                   "or set BIGSCREEN_CHROMIUM to its executable")


class PdfPrinter:
    """One headless Chromium printing documents, until closed: `with PdfPrinter(path) as p: p.print(doc)`.
    Playwright's synchronous API runs an event loop of its own in the thread that starts it, so the
    printer keeps it in a thread of its own: any caller's thread may print (one document at a time),
    also one that runs an event loop or another Playwright."""

    def __init__(self, chromium: str) -> None:
        self.executable = find_chromium(chromium)
        self._playwright = self._browser = self._page = None
        self._thread: ThreadPoolExecutor | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="bigscreen-pdf-")
        self._n = 0

    def __enter__(self) -> PdfPrinter:
        """Starts Chromium and loads plotly.js into its tab in the printer's thread, without waiting:
        the caller counts its report meanwhile; the first `print` waits for it."""
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pdf-printer")
        self._started = self._thread.submit(self._start)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def print(self, doc: Document) -> bytes:
        if self._thread is None:
            raise PdfError("the PDF printer is closed")
        html = render_html(doc, file_assets(), print_mode=True)
        self._started.result()  # PdfError if Chromium did not start
        return self._thread.submit(self._print, html).result()

    def close(self) -> None:
        try:
            if self._thread is not None:
                self._thread.submit(self._stop).result()
                self._thread.shutdown()
        finally:
            self._thread = None
            self._dir.cleanup()

    # -- in the printer's thread ----------------------------------------------------------------

    def _start(self) -> None:
        from playwright.sync_api import Error, sync_playwright

        try:
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=self._kept_low(), args=["--disable-gpu", "--no-first-run", "--disable-extensions",
                                                       "--disable-background-networking", "--disable-sync"])
            self._page = self._browser.new_page()
            # plotly.js compiled and drawing, the fonts loaded, printed once: the reports after are quick
            warm = Path(self._dir.name) / "warm.html"
            warm.write_text(f'<!doctype html><link rel="stylesheet" href="{file_assets()["css"]}"><body class="report">'
                            f'报告<div id="w"></div><script src="{file_assets()["plotly"]}"></script>'
                            "<script>Plotly.newPlot('w', [{x: ['2026-01-01', '2026-01-02'], y: [1, 2]}], {}, "
                            "{staticPlot: true})</script>", encoding="utf-8")
            self._page.goto(warm.as_uri(), wait_until="load", timeout=TIMEOUT_MS)
            self._page.pdf()  # the print path and the CJK font loaded once
        except Error as exc:
            raise PdfError(f"Chromium at {self.executable} did not start: {_first_line(exc)}") from None

    def _kept_low(self) -> str:
        """A launcher that runs Chromium (and so every process it starts) at the caller's CPU priority or lower.
        Chromium sets its processes' priorities itself, higher ones too where it may: started without the
        right to (CAP_SYS_NICE, which root has: `setpriv`), it cannot rise above a scheduler that makes its
        reports niced (bigscreen.jobs.reports).
        Playwright starts it in a session of its own, and where Linux shares the CPU between sessions first
        (autogroup: its default where no cgroup CPU controller is on, as on a plain Debian server) a nice
        counts only inside the session, and a niced Chromium weighed as much as all of the centre's own processes
        together (the soak's first minute, docs/BENCHMARKS.md). So the launcher, leading that session, gives the session its own nice
        (`/proc/self/autogroup`; a session's nice may be lowered by anyone, raised by nobody without the right)."""
        setpriv = shutil.which("setpriv")
        run = shlex.quote(self.executable)
        launcher = Path(self._dir.name) / "chromium"
        launcher.write_text(
            "#!/bin/sh\n"
            'if [ "$(cut -d " " -f 6 /proc/$$/stat 2>/dev/null)" = "$$" ] && [ -w /proc/self/autogroup ]; then\n'
            "  nice > /proc/self/autogroup 2>/dev/null\n"
            "fi\n"
            f'exec {f"{setpriv} --bounding-set -sys_nice " if setpriv else ""}{run} "$@"\n')
        launcher.chmod(0o700)
        return str(launcher)

    def _stop(self) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
            if self._playwright is not None:
                self._playwright.stop()
        finally:
            self._browser = self._playwright = self._page = None

    def _print(self, html: str) -> bytes:
        from playwright.sync_api import Error

        self._n += 1
        page_file = Path(self._dir.name) / f"report-{self._n}.html"
        page_file.write_text(html, encoding="utf-8")
        try:
            # one tab for every document: plotly.js, compiled once, loads in a fraction of the time after the first
            page = self._page = self._page or self._browser.new_page()  # the warm tab
            page.goto(page_file.as_uri(), wait_until="load", timeout=TIMEOUT_MS)
            page.wait_for_function(DRAWN, timeout=TIMEOUT_MS)
            data = page.pdf(prefer_css_page_size=True, print_background=True)
        except Error as exc:
            self._page = None  # a fresh tab for the next document
            raise PdfError(f"Chromium did not print the report: {_first_line(exc)}") from None
        finally:
            page_file.unlink(missing_ok=True)
        if not data.startswith(b"%PDF"):
            raise PdfError("Chromium printed something that is not a PDF")
        return data


def render_pdf(doc: Document, chromium: str) -> bytes:
    with PdfPrinter(chromium) as printer:
        return printer.print(doc)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
