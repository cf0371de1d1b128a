"""The reports as pages of the app: `/reports` lists those the signed-in person may read (a leader its
own area and the areas below it; duty officers and admins every area), `/reports/{area}/{period}.{format}`
shows one (html) or hands it over (pdf, xlsx): the stored one when the scheduler kept it, else made
on demand from SQL. Another district's report is refused (403) and audited like every refusal; an
unknown area or format, a period that cannot be read, lies in the future or before the history: a
4xx that says which. The security middleware has already asked for a signed-in person who may view
areas (bigscreen.auth.pages); the area is checked here.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, HTMLResponse, Response

from bigscreen.api.reports import visible_areas
from bigscreen.auth.context import require
from bigscreen.auth.roles import Permission
from bigscreen.process.runtime import Runtime
from bigscreen.reports import store
from bigscreen.reports.periods import PeriodError, parse_period
from bigscreen.reports.report import ReportError, build_report
from bigscreen.screens.i18n import pick_lang, t
from bigscreen.screens.report_formats import FORMATS, render_report, report_url
from bigscreen.screens.report_html import STATIC_URL, render_list, static_files, web_assets
from bigscreen.screens.report_pdf import PdfError, PdfPrinter

router = APIRouter(include_in_schema=False)
ACTION = "report.read"


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
    for entry in grouped.values():
        entry["links"] = {fmt: report_url(entry["area_code"], entry["period"], fmt, lang) for fmt in FORMATS}
        listed.append(entry)
    other = "en" if lang == "zh" else "zh"
    links = {"back": "/" + ("" if lang == "zh" else f"?lang={lang}"), "other_lang": f"/reports?lang={other}"}
    return HTMLResponse(render_list(listed, lang, web_assets(), links))


@router.get("/reports/{area_code}/{name}")
async def report_page(request: Request, area_code: str, name: str, lang: str | None = None):
    rt: Runtime = request.app.state.runtime
    label, dot, fmt = name.rpartition(".")
    if not dot or fmt not in FORMATS:
        raise HTTPException(404, f"{name}: the format {fmt if dot else '(none)'!r} is not offered: "
                                 f"{', '.join(FORMATS)} (/reports/AREA/PERIOD.FORMAT)")
    info = rt.areas.by_code.get(area_code)
    if info is None or info.retired:
        raise HTTPException(404, f"unknown area {area_code!r}")
    require(Permission.VIEW_AREA, action=ACTION, area_chain=info.chain, subject=f"{area_code}/{name}")
    lang = pick_lang(lang)
    now = rt.clock()
    try:
        period = parse_period(label, now.astimezone(rt.tz).date())
    except PeriodError as exc:
        raise HTTPException(422, str(exc)) from None

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

    try:
        content = await run_in_threadpool(produce)
    except ReportError as exc:
        raise HTTPException(422, str(exc)) from None
    except PdfError as exc:
        raise HTTPException(503, str(exc)) from None
    if fmt == "html":
        return HTMLResponse(content)
    shown = f"{_area_name(rt, area_code)}-{period.label}.{fmt}"
    disposition = "inline" if fmt == "pdf" else "attachment"
    return Response(content, media_type=store.MEDIA_TYPES[fmt], headers={
        "Content-Disposition": f"{disposition}; filename=\"{area_code}-{period.label}.{fmt}\"; filename*=UTF-8''{quote(shown)}"})


def _area_name(rt: Runtime, code: str) -> str:
    info = rt.areas.by_code.get(code)
    return info.name if info else code

