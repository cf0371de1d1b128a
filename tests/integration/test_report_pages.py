"""The reports as pages of the app (/reports, /reports/{area}/{period}.{format}): listed by role and area,
served from the store or made on demand, another district's refused and audited, bad inputs answered
with a 4xx that says what is wrong; on SQLite and PostgreSQL."""

from __future__ import annotations

from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from tests_support import SQLITE_ONLY, audit_entries

from bigscreen.reports import store
from bigscreen.reports.periods import parse_period
from bigscreen.reports.report import build_report
from bigscreen.screens.report_formats import render_report
from tests.integration.test_report_figures import NOW, placed  # noqa: F401 - the fixture: cases placed by hand
from tests.integration.test_report_schedule import _signed_in

BJ = ZoneInfo("Asia/Shanghai")
WEEK = "2026-W48"


def _store(rt, code: str, fmts=("html", "xlsx")) -> dict[str, bytes]:
    period = parse_period(WEEK, NOW.date())
    report = build_report(rt, period, code, NOW)
    files = {fmt: render_report(report, fmt, rt.tz) for fmt in fmts}
    with rt.engine.begin() as conn:
        for fmt, content in files.items():
            store.save(conn, period, code, fmt, content, NOW)
    return files


@pytest.fixture
def pages(placed):  # noqa: F811
    rt, districts, _ = placed
    rt.clock = lambda: NOW
    return rt, districts[0].code, districts[1].code


def test_a_leader_lists_and_opens_the_reports_of_its_own_area(pages, account):
    rt, mine, other = pages
    kept = _store(rt, mine)
    _store(rt, other)
    with _signed_in(rt, account("leader", mine)) as leader:
        listing = leader.get("/reports")
        assert listing.status_code == 200 and listing.headers["content-type"].startswith("text/html")
        assert f'data-area="{mine}"' in listing.text and f'data-area="{other}"' not in listing.text
        assert f'href="/reports/{mine}/{WEEK}.pdf"' in listing.text

        page = leader.get(f"/reports/{mine}/{WEEK}.html")
        assert page.status_code == 200 and page.content == kept["html"], "the stored page"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert rt.areas.by_code[mine].name in page.text and 'data-section="headline"' in page.text
        assert 'data-section="channels"' in page.text and "网格员APP" in page.text, "the sections after the rankings"

        english = leader.get(f"/reports/{mine}/{WEEK}.html?lang=en")
        assert english.status_code == 200 and "Weekly summary" in english.text, "made on demand in English"

        book = leader.get(f"/reports/{mine}/{WEEK}.xlsx")
        assert book.status_code == 200 and "attachment" in book.headers["content-disposition"]
        workbook = load_workbook(BytesIO(book.content))
        assert workbook["概览"]["B7"].value == 3, "the district's three cases of the week"
        assert [c.value for c in workbook["渠道构成"][2][:3]] == ["grid_app", "网格员APP", 3], "numbers as numbers"

        pdf = leader.get(f"/reports/{mine}/{WEEK}.pdf")  # not stored: printed on demand
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.content[:4] == b"%PDF"

        static = leader.get("/reports/static/plotly.min.js")
        assert static.status_code == 200 and "javascript" in static.headers["content-type"]


@SQLITE_ONLY
def test_another_districts_report_is_refused_and_audited(pages, account):
    rt, mine, other = pages
    with _signed_in(rt, account("leader", mine)) as leader:
        for fmt in ("html", "pdf", "xlsx"):
            refused = leader.get(f"/reports/{other}/{WEEK}.{fmt}")
            assert refused.status_code == 403 and other in refused.json()["detail"]
        city = leader.get(f"/reports/{rt.areas.city.code}/{WEEK}.html")
        assert city.status_code == 403, "the city is above a district's leader"
    refusals = audit_entries(rt, action="report.read", outcome="refused")
    assert len(refusals) == 4 and {r.subject for r in refusals} >= {f"{other}/{WEEK}.html", f"{other}/{WEEK}.pdf"}


@SQLITE_ONLY
def test_duty_officers_see_every_area(pages, account):
    rt, mine, other = pages
    _store(rt, mine, ("html",))
    _store(rt, other, ("html",))
    with _signed_in(rt, account("duty")) as duty:
        listing = duty.get("/reports").text
        assert f'data-area="{mine}"' in listing and f'data-area="{other}"' in listing
        assert duty.get(f"/reports/{rt.areas.city.code}/{WEEK}.html").status_code == 200


@pytest.mark.parametrize(("path", "status", "says"), [
    ("/reports/999999/2026-W48.html", 404, "unknown area '999999'"),
    ("/reports/{mine}/2026-W48.docx", 404, "the format 'docx' is not offered: html, pdf, xlsx"),
    ("/reports/{mine}/2026-W48", 404, "is not offered"),
    ("/reports/{mine}/2027-W02.html", 422, "begins after today"),
    ("/reports/{mine}/2024-W48.pdf", 422, "before the history begins"),
    ("/reports/{mine}/2026-W60.html", 422, "2026 has weeks 1 to 53"),
    ("/reports/{mine}/last-week.xlsx", 422, "is not one of 2026-W48"),
])
@SQLITE_ONLY
def test_bad_inputs_are_answered_with_what_is_wrong(pages, account, path, status, says):
    rt, mine, _ = pages
    with _signed_in(rt, account("leader", mine)) as leader:
        answer = leader.get(path.format(mine=mine))
    assert answer.status_code == status and says in answer.json()["detail"], answer.text


@SQLITE_ONLY
def test_walls_and_strangers_may_not_read_reports(pages, kiosk_token):
    from fastapi.testclient import TestClient

    from bigscreen.app import create_app

    rt, mine, _ = pages
    stranger = TestClient(create_app(rt).server, follow_redirects=False)
    answer = stranger.get(f"/reports/{mine}/{WEEK}.html")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    wall = TestClient(create_app(rt).server, follow_redirects=False)
    assert wall.get(f"/wall?token={kiosk_token}").status_code == 200
    assert wall.get("/reports").status_code == 403
