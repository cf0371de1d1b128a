"""The reports as pages of the app: `/reports` lists those the signed-in person may read (a leader its
own area and the areas below it; duty officers and admins every area), `/reports/{area}/{period}.{format}`
shows one (html) or hands it over (pdf, xlsx): the stored one when the scheduler kept it, else made
on demand from SQL. `/reports/workers/{area}/{period}.{format}[?worker=ID]` is the grid-worker assessment
(网格员考核) of a street, a district or the city, made on demand: the ranking, and one page per worker
for a street or the one worker asked for (bigscreen/screens/assessment_document.py); `/reports/workers`
takes the list page's form there. Another district's report or assessment is refused (403) and audited
like every refusal; an unknown area or format, a period that cannot be read, lies in the future or before
the history, a worker not of the area: a 4xx that says which. The security middleware has already asked
for a signed-in person who may view areas (bigscreen.auth.pages); the area is checked here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from bigscreen.api.reports import visible_areas
from bigscreen.auth.context import require
from bigscreen.auth.roles import Permission
from bigscreen.process.runtime import Runtime
from bigscreen.reports import store
from bigscreen.reports.assessment import build_assessment
from bigscreen.reports.periods import Period, PeriodError, parse_period
from bigscreen.reports.report import ReportError, build_report
from bigscreen.screens.i18n import pick_lang, t
from bigscreen.screens.report_formats import FORMATS, assessment_url, render_assessment, render_report, report_url
from bigscreen.screens.report_html import STATIC_URL, render_list, static_files, web_assets
from bigscreen.screens.report_pdf import PdfError, PdfPrinter

router = APIRouter(include_in_schema=False)
ACTION = "report.read"
ASSESS_ACTION = "assessment.read"


@router.get(STATIC_URL + "{name}")
async def report_static(name: str):
    path = static_files().get(name)
    if path is None:
        raise HTTPException(404, f"no such file: {name}")
    media = "text/css" if name.endswith(".css") else "text/javascript"
    return FileResponse(path, media_type=media, headers={"Cache-Control": "public, max-age=86400"})


@router.get("/reports")
async def list_page(request: Request, lang: str | None = None):
    who = require(Permission.VIEW_AREA, action=ACTION, subject="/reports")
    rt: Runtime = request.app.state.runtime
    lang = pick_lang(lang)

    def rows() -> list[dict]:
        with rt.engine.connect() as conn:
            return store.listed(conn, visible_areas(rt, who))

    grouped: dict[tuple[str, str], dict] = {}
    for row in await run_in_threadpool(rows):
        entry = grouped.setdefault((row["area_code"], row["period"]), {
            "area_code": row["area_code"], "period": row["period"], "kind": t(f"report.kind.{row['kind']}", lang),
            "area_name": _area_name(rt, row["area_code"]), "formats": set(),
            "produced_at": f"{row['produced_at'].astimezone(rt.tz):%Y-%m-%d %H:%M}"})
        entry["formats"].add(row["format"])
    listed = []
    assessed = set(_assessed_areas(rt, who))
    for entry in grouped.values():
        entry["links"] = {fmt: report_url(entry["area_code"], entry["period"], fmt, lang) for fmt in FORMATS}
        entry["workers"] = assessment_url(entry["area_code"], entry["period"], "html", lang) \
            if entry["area_code"] in assessed else None
        listed.append(entry)
    other = "en" if lang == "zh" else "zh"
    links = {"back": "/" + ("" if lang == "zh" else f"?lang={lang}"), "other_lang": f"/reports?lang={other}"}
    last_month = (rt.clock().astimezone(rt.tz).date().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    form = {"areas": [(code, _area_name(rt, code)) for code in _assessed_areas(rt, who)], "period": last_month,
            "formats": FORMATS}
    return HTMLResponse(render_list(listed, lang, web_assets(), links, form))


@router.get("/reports/workers")
async def assessment_form(request: Request, area: str = "", period: str = "", worker: str = "",
                          fmt: str = Query("html", alias="format"), lang: str | None = None):
    """The list page's form (a GET: nothing changes) sent on to the assessment's own address, where it is checked."""
    require(Permission.VIEW_AREA, action=ASSESS_ACTION, subject="/reports/workers")
    if not area.strip() or not period.strip():
        raise HTTPException(422, "say the area and the period (e.g. 2026-11) of the grid-worker assessment")
    worker_id = _worker_id(worker.strip() or None)
    url = assessment_url(quote(area.strip(), safe=""), quote(period.strip(), safe=""), quote(fmt.strip(), safe=""),
                         pick_lang(lang), worker_id)
    return RedirectResponse(url, status_code=303)


@router.get("/reports/workers/{area_code}/{name}")
async def assessment_page(request: Request, area_code: str, name: str, lang: str | None = None, worker: str | None = None):
    """The grid-worker assessment of an area and a period, made on demand; `?worker=ID`: that worker's page
    (and their street's ranking)."""
    rt: Runtime = request.app.state.runtime
    label, fmt = _format_of(name, "/reports/workers/AREA/PERIOD.FORMAT")
    info = _known_area(rt, area_code)
    subject = f"workers/{area_code}/{name}" + (f"?worker={worker}" if worker else "")
    require(Permission.VIEW_AREA, action=ASSESS_ACTION, area_chain=info.chain, subject=subject)
    worker_id = _worker_id(worker)
    lang = pick_lang(lang)
    now = rt.clock()
    period = _period_of(rt, label, now)

    def produce() -> bytes:
        if fmt != "pdf":
            return render_assessment(build_assessment(rt, period, area_code, now, worker_id), fmt, rt.tz, lang, worker_id)
        with PdfPrinter(rt.settings.chromium) as printer:  # Chromium starts while the scores are counted
            return render_assessment(build_assessment(rt, period, area_code, now, worker_id), fmt, rt.tz, lang, worker_id,
                                     printer=printer)

    content = await _produced(produce)
    whose = f"-{worker_id}" if worker_id is not None else ""
    return _answer(content, fmt, f"{area_code}-{period.label}-workers{whose}.{fmt}",
                   f"{_area_name(rt, area_code)}-{t('assess.title', lang)}-{period.label}{whose}.{fmt}")


@router.get("/reports/{area_code}/{name}")
async def report_page(request: Request, area_code: str, name: str, lang: str | None = None):
    rt: Runtime = request.app.state.runtime
    label, fmt = _format_of(name, "/reports/AREA/PERIOD.FORMAT")
    info = _known_area(rt, area_code)
    require(Permission.VIEW_AREA, action=ACTION, area_chain=info.chain, subject=f"{area_code}/{name}")
    lang = pick_lang(lang)
    now = rt.clock()
    period = _period_of(rt, label, now)

    def produce() -> bytes:
        if lang == "zh":  # the stored reports are in Chinese
            with rt.engine.connect() as conn:
                kept = store.stored_content(conn, period, area_code, fmt)
            if kept is not None:
                return kept
        if fmt != "pdf":
            return render_report(build_report(rt, period, area_code, now), fmt, rt.tz, lang)
        with PdfPrinter(rt.settings.chromium) as printer:  # Chromium starts while the figures are counted
            return render_report(build_report(rt, period, area_code, now), fmt, rt.tz, lang, printer=printer)

    content = await _produced(produce)
    return _answer(content, fmt, f"{area_code}-{period.label}.{fmt}", f"{_area_name(rt, area_code)}-{period.label}.{fmt}")


def _format_of(name: str, usage: str) -> tuple[str, str]:
    """PERIOD.FORMAT split, the format one offered (404 otherwise)."""
    label, dot, fmt = name.rpartition(".")
    if not dot or fmt not in FORMATS:
        raise HTTPException(404, f"{name}: the format {fmt if dot else '(none)'!r} is not offered: "
                                 f"{', '.join(FORMATS)} ({usage})")
    return label, fmt


def _known_area(rt: Runtime, code: str):
    info = rt.areas.by_code.get(code)
    if info is None or info.retired:
        raise HTTPException(404, f"unknown area {code!r}")
    return info


def _period_of(rt: Runtime, label: str, now) -> Period:
    try:
        return parse_period(label, now.astimezone(rt.tz).date())
    except PeriodError as exc:
        raise HTTPException(422, str(exc)) from None


async def _produced(produce: Callable[[], bytes]) -> bytes:
    """A document made off the event loop; what cannot be made is a 422 (the figures) or a 503 (Chromium)."""
    try:
        return await run_in_threadpool(produce)
    except ReportError as exc:
        raise HTTPException(422, str(exc)) from None
    except PdfError as exc:
        raise HTTPException(503, str(exc)) from None


def _answer(content: bytes, fmt: str, filename: str, shown: str) -> Response:
    """A page as a page; a PDF shown in the browser, a workbook downloaded, under an ASCII name and its own."""
    if fmt == "html":
        return HTMLResponse(content)
    disposition = "inline" if fmt == "pdf" else "attachment"
    return Response(content, media_type=store.MEDIA_TYPES[fmt], headers={
        "Content-Disposition": f"{disposition}; filename=\"{filename}\"; filename*=UTF-8''{quote(shown)}"})


def _area_name(rt: Runtime, code: str) -> str:
    info = rt.areas.by_code.get(code)
    return info.name if info else code



def _worker_id(worker: str | None) -> int | None:
    if not worker:
        return None
    if not worker.isascii() or not worker.isdigit():
        raise HTTPException(422, f"worker {worker!r} is not a grid worker's ID (a whole number)")
    return int(worker)


def _assessed_areas(rt: Runtime, who) -> list[str]:
    """The areas whose assessment `who` may open, city first: the city, districts and streets they reach
    (workers are ranked within their street: nothing below a street is assessed)."""
    street = rt.areas.level_number("street")
    if street is None:
        return []
    seen = visible_areas(rt, who)
    chosen = [info for code, info in rt.areas.by_code.items()
              if not info.retired and info.level <= street and (seen is None or code in seen)]
    return [info.code for info in sorted(chosen, key=lambda i: (i.level, i.code))]
