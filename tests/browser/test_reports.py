"""A leader's reports in real Chromium, under the app's real Content-Security-Policy: from the tablet's
header to the list of its own area's reports, a report's page with its figures and its chart drawn by
plotly.js from our own server (the browser refuses nothing), and another district's report refused.
Waits use selectors only (the policy forbids the eval that wait_for_function needs)."""

from __future__ import annotations

from tests_support import PASSWORD, sign_in

from bigscreen.reports import store
from bigscreen.reports.periods import parse_period
from bigscreen.reports.report import build_report
from bigscreen.screens.report_formats import render_report
from tests.integration.test_report_figures import NOW, placed  # noqa: F401 - the fixture: cases placed by hand

WAIT_MS = 20000
WEEK = "2026-W48"


def test_a_leader_reads_its_own_report_and_not_another_districts(browser, live_server, placed, account):  # noqa: F811
    rt, districts, _ = placed
    rt.clock = lambda: NOW
    mine, other = districts[0], districts[1]
    period = parse_period(WEEK, NOW.date())
    for area in (mine, other):
        html = render_report(build_report(rt, period, area.code, NOW), "html", rt.tz)
        with rt.engine.begin() as conn:
            store.save(conn, period, area.code, "html", html, NOW)

    context = browser.new_context(viewport={"width": 1024, "height": 768}, bypass_csp=False)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    outside: list[str] = []
    page.on("request", lambda req: not req.url.startswith(live_server.url) and outside.append(req.url))

    sign_in(page, live_server.url, account("leader", mine.code), PASSWORD)
    page.click("a.tablet-reports", timeout=WAIT_MS)
    page.wait_for_selector("table.report-list", timeout=WAIT_MS)
    rows = page.locator("table.report-list tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-area") == mine.code, "only its own area"

    rows.first.locator("td a").first.click()
    page.wait_for_selector('html[data-charts="drawn"]', state="attached", timeout=WAIT_MS)
    page.wait_for_selector("#days-chart-0 svg.main-svg", state="attached", timeout=WAIT_MS)
    figures = page.locator(".report-figure-value").all_inner_texts()
    assert figures[0] == "3", "the district's cases reported in the week"
    assert mine.name in page.locator(".report-facts").inner_text()
    assert page.locator(".report-chart .scatterlayer .trace").count() == 2, "reported and closed, a line each"
    assert page.locator("#categories-chart-0 .barlayer .trace").count() == 2, "categories: this week and the one before"
    assert "网格员APP" in page.locator("section#channels").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "nothing wider than the tablet"
    download = page.locator('a.report-download[data-format="pdf"]').get_attribute("href")
    assert download == f"/reports/{mine.code}/{WEEK}.pdf"
    assert problems == [], "the browser refused nothing (CSP: scripts from our server only)"
    assert outside == [], "nothing loaded from outside our server"

    refused = page.goto(live_server.url + f"/reports/{other.code}/{WEEK}.html")
    assert refused.status == 403 and other.code in page.content()
    context.close()
