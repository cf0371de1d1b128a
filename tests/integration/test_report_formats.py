"""A report in every format, read back as a person's tools read it: the PDF opened with pypdf (pages,
the cover, the headline numbers, Chinese text, page numbers, fonts embedded, the chart as vectors),
the XLSX with openpyxl (numbers as numbers, dates as dates), the HTML as text; the sections after the
rankings (categories to field work) in all three, their numbers the Report's; hostile text escaped in
HTML and PDF; the command line choosing the format and refusing one not offered, writing nothing."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from io import BytesIO

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from pypdf import PdfReader

from bigscreen.cli import main
from bigscreen.reports.document import Column, Document, Kind, Note, Section, Table
from bigscreen.reports.periods import parse_period
from bigscreen.reports.report import build_report
from bigscreen.screens.report_document import SECTIONS, report_document
from bigscreen.screens.report_formats import render_report
from bigscreen.screens.report_html import file_assets, render_html
from bigscreen.screens.report_pdf import PdfError, PdfPrinter, render_pdf
from bigscreen.screens.report_sections import LISTED
from tests.integration import test_report_sections as sections
from tests.integration.test_report_figures import BJ, NOW, placed  # noqa: F401 - the fixture: cases placed by hand
from tests.integration.test_report_sections import history  # noqa: F401 - the fixture: a week with every section
from tests_support import SQLITE_ONLY

RADICALS = str.maketrans("⻚⻓⻔⻛⻜⻅⻉⻋⻘⻝⻢", "页长门风飞见贝车青食马")
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>&amp;"\'</style>'


def _text(pdf: PdfReader) -> list[str]:
    # Noto CJK maps a few characters to their radical forms in the PDF's text (日 ⽇, 页 ⻚): NFKC folds the
    # Kangxi radicals back, the table the supplement's few that reports use
    return [unicodedata.normalize("NFKC", page.extract_text()).translate(RADICALS) for page in pdf.pages]


def _fonts(pdf: PdfReader) -> list[dict]:
    seen = {}
    for page in pdf.pages:
        for ref in page["/Resources"].get("/Font", {}).values():
            seen[ref.idnum if hasattr(ref, "idnum") else id(ref)] = ref.get_object()
    return list(seen.values())


def _embedded(font) -> bool:
    """A font's glyphs are in the file: a Type 3 font draws them itself, others carry a font file."""
    if font["/Subtype"] == "/Type3":
        return bool(font["/CharProcs"])
    descriptor = (font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font)["/FontDescriptor"]
    return any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))


def _family(font) -> str:
    descriptor = (font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font).get("/FontDescriptor")
    descriptor = descriptor.get_object() if descriptor is not None else {}
    return str(descriptor.get("/FontFamily", descriptor.get("/FontName", font.get("/BaseFont", ""))))


@SQLITE_ONLY
def test_the_pdf_reads_back_with_cover_figures_chinese_page_numbers_and_embedded_fonts(placed):  # noqa: F811
    rt, districts, _ = placed
    report = build_report(rt, parse_period("2026-W48", NOW.date()), None, NOW)
    data = render_report(report, "pdf", rt.tz, chromium=rt.settings.chromium)
    pdf = PdfReader(BytesIO(data))
    pages = _text(pdf)
    assert len(pdf.pages) >= 2, "a cover, then the figures, the days and the rankings"
    width, height = (float(v) for v in pdf.pages[0].mediabox.upper_right)
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (210, 297), "A4"

    cover = pages[0]
    assert "2026-W48" in cover and "2026-11-23" in cover and "2026-11-29" in cover, cover
    assert rt.areas.city.name in cover and "周小结" in cover
    assert "生成时间" in cover and f"{report.produced_at.astimezone(BJ):%Y-%m-%d %H:%M}" in cover
    assert "第 1 页" not in cover, "no page number on the cover"

    body = "\n".join(pages[1:])
    for name, shown in (("受理量", "5"), ("办结率", "60.0%"), ("按期办结率", "50.0%"), ("平均办理时长(小时)", "40.00")):
        assert name in body, name
        assert shown in body, (name, shown)
    assert "+150.0%" in body, "reported: 5 against 2 the week before"
    for district in districts:
        assert district.name in body and district.code in body
    assert f"第 2 页 / 共 {len(pdf.pages)} 页" in pages[1], pages[1][:80]
    assert f"共 {len(pdf.pages)}" in pages[-1]

    fonts = _fonts(pdf)
    assert fonts and all(_embedded(f) for f in fonts), "every font's glyphs are in the file"
    assert any("Noto Sans CJK" in _family(f) for f in fonts)

    days_page = next(p for p, text in zip(pdf.pages, pages) if "每日受理与办结" in text)
    assert "11-23" in days_page.extract_text(), "the chart's axis is text: drawn as vectors"
    assert not list(days_page.images), "no picture of the chart"


def test_the_xlsx_holds_numbers_and_dates_in_english_too(placed):  # noqa: F811
    rt, _, _ = placed
    report = build_report(rt, parse_period("2026-W48", NOW.date()), None, NOW)
    book = load_workbook(BytesIO(render_report(report, "xlsx", rt.tz, "en")))
    assert book.sheetnames[:4] == ["Headline", "Days", "Areas ranked", "Departments ranked"]
    assert "Channels" in book.sheetnames and "Whistles" not in book.sheetnames, "no whistle in the week: no sheet"
    head = book["Headline"]
    assert head["A1"].value == "Area" and isinstance(head["C2"].value, datetime) and head["C2"].value.date() == date(2026, 11, 23)
    assert head["B3"].is_date and head["B4"].is_date
    rows = {r[0]: r[1:] for r in head.iter_rows(min_row=7, values_only=True)}
    assert rows["Reported"][:3] == (5, 2, 1.5) and rows["Closure rate"][0] == 0.6
    assert head["D7"].number_format == "+0.0%;-0.0%;0.0%"
    days = book["Days"]
    assert days["A2"].is_date and days["A2"].value.date() == date(2026, 11, 23) and isinstance(days["B2"].value, int)
    ranked = list(book["Areas ranked"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[5], r[6]) for r in ranked[:2]] == [(1, 0.6667, 1), (2, 0.5, 0)], "numbers, not texts"


@SQLITE_ONLY
def test_the_page_escapes_what_it_shows_and_loads_only_our_files(placed):  # noqa: F811
    rt, _, _ = placed
    report = build_report(rt, parse_period("2026-W48", NOW.date()), None, NOW)
    html = render_report(report, "html", rt.tz).decode()
    assert "<script>" not in html.replace('<script type="application/json"', "").replace("<script src=", "")
    assert re.findall(r'<script src="([^"]+)"', html) == [
        u for u in re.findall(r'src="(/reports/static/[^"]+)"', html)], "scripts only from our server"
    assert "http://" not in html and "https://" not in html, "nothing from outside"
    assert 'data-section="headline"' in html and "60.0%" in html


def _hostile_document() -> Document:
    table = Table("诉求摘录", (Column("描述"), Column("日期", Kind.DATE)), [(HOSTILE, date(2026, 11, 24))])
    return Document(title=f"测试 {HOSTILE}", subtitle="2026-W48", lang="zh", cover=[("区域", (HOSTILE, "370502"))],
                    sections=[Section("cases", f"案件 {HOSTILE}", [Note(HOSTILE), table])],
                    produced_at=datetime(2026, 12, 1, 8, 0), footer=HOSTILE)


@SQLITE_ONLY
def test_hostile_text_is_escaped_in_html_and_printed_as_text_in_pdf(runtime):
    doc = _hostile_document()
    html = render_html(doc, file_assets())
    assert "<script>alert" not in html and "<img src=x" not in html and "</style>" not in html.split("<body", 1)[1]
    assert html.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") >= 4
    assert html.split("</style>")[0].count("<style>") == 1, "the footer's text cannot close the style element"
    text = "\n".join(_text(PdfReader(BytesIO(render_pdf(doc, runtime.settings.chromium)))))
    assert '<script>alert("x")</script>' in text and "onerror=alert(1)>&amp;" in text, "shown as typed, not run"


@SQLITE_ONLY
def test_a_printer_prints_many_and_a_missing_chromium_says_so(placed, tmp_path):  # noqa: F811
    rt, districts, _ = placed
    week = parse_period("2026-W48", NOW.date())
    from playwright.sync_api import sync_playwright

    with sync_playwright(), PdfPrinter(rt.settings.chromium) as printer:  # beside another Playwright (a browser test's)
        printed = [PdfReader(BytesIO(printer.print(report_document(build_report(rt, week, d.code, NOW), rt.tz))))
                   for d in districts[:2]]
    assert [d.name in _text(p)[0] for p, d in zip(printed, districts)] == [True, True]
    with pytest.raises(PdfError, match="BIGSCREEN_CHROMIUM"):
        render_pdf(_hostile_document(), str(tmp_path / "no-chromium"))


ALL_SECTIONS = ["headline", "days", "areas", "departments", "categories", "channels", "hotspots", "laggards",
                "supervision", "whistles", "disputes", "field_work"]


@SQLITE_ONLY
def test_every_section_builder_gives_a_section_with_a_title(placed):  # noqa: F811
    rt, _, _ = placed
    report = build_report(rt, parse_period("2026-W48", NOW.date()), None, NOW)
    doc = report_document(report, rt.tz, "en")
    assert [s.key for s in doc.sections] == [k for k in ALL_SECTIONS if k != "whistles"], "no whistle blown: no section"
    assert len(SECTIONS) == len(ALL_SECTIONS) and all(s.title and s.blocks for s in doc.sections)
    assert doc.title.endswith("Weekly summary")


def test_the_sections_after_the_rankings_in_every_format(history):  # noqa: F811
    """The hand-placed week of test_report_sections: the workbook holds each section's numbers as numbers,
    equal to the Report's, its times as the city's local date-times, its codes labelled in Chinese, and no
    citizen's text; the page and the PDF show every section's title."""
    h = history
    r = sections.report(h)
    assert [s.key for s in report_document(r, h.rt.tz).sections] == ALL_SECTIONS
    book = load_workbook(BytesIO(render_report(r, "xlsx", h.rt.tz)))
    assert book.sheetnames[4:] == [
        "分类受理", "子项受理", "渠道构成", "高发网格", "高发社区", "重复发生合计", "重复发生", "未达标下级区域", "未达标部门",
        "超期与督办", "分级督办", "部门督办", "重点督办事件", "吹哨报到", "哨种", "部门报到", "吹哨明细", "矛盾纠纷调解",
        "递进式调解", "一日两巡五访", "下级区域巡访", "网格员巡访"]

    def rows(sheet: str) -> list[tuple]:
        return list(book[sheet].iter_rows(min_row=2, values_only=True))

    assert rows("分类受理") == [(c.code, c.name, c.reported, c.previous, c.change, c.share) for c in r.categories]
    assert rows("渠道构成") == [(c.code, label, c.reported, c.previous, c.change, c.share)
                            for c, label in zip(r.channels, ("网格员APP", "12345热线", "随手拍"))]
    assert rows("渠道构成")[0][2:] == (4, 3, 0.3333, 0.5) and book["渠道构成"]["E2"].number_format == "+0.0%;-0.0%;0.0%"
    assert rows("高发网格") == [(n, g.code, g.name, g.parent_name, g.reported, g.share, g.top_item_name, g.top_item_cases)
                            for n, g in enumerate(r.hotspots.grids, start=1)]
    assert rows("重复发生合计") == [(r.hotspots.repeat_places, r.hotspots.repeat_cases)] == [(2, 5)]
    d0, d1 = h.districts[0], h.districts[1]
    assert book["未达标下级区域"]["F1"].value == "办结率（目标 98.0%）"
    assert rows("未达标下级区域") == [(2, d0.code, d0.name, 5, 2, 0.6, 0.5), (1, d1.code, d1.name, 3, 1, 0.6667, None)]

    sup = r.supervision
    assert rows("超期与督办") == [(sup.went_late, sup.late_still_open, sup.supervised, sup.supervised_closed)] == [(3, 1, 3, 2)]
    assert rows("分级督办") == [("第一次督办", 3, 1, 1), ("第二次督办", 2, 0, 1), ("第三次督办", 1, 0, 1)]
    third = rows("重点督办事件")[0]
    grid_b, item = h.grids["B"], h.rt.config.item("MS02")
    assert third == (h.ids["b1-third"], grid_b.name, sup.cases[0].department_name, item.name, datetime(2026, 11, 24, 10),
                     datetime(2026, 11, 25, 10), None, "第三次督办"), "local wall-clock times"
    assert book["重点督办事件"]["E2"].is_date and isinstance(third[0], int)

    wh = r.whistles
    assert rows("吹哨报到") == [(wh.whistles, wh.calls.calls, wh.calls.on_time, wh.calls.late, wh.calls.missing,
                             wh.calls.on_time_rate, wh.calls.avg_report_in_minutes)] == [(2, 4, 1, 1, 2, 0.25, 120.0)]
    assert rows("哨种") == [("集结哨", 1), ("民生哨", 0), ("紧急哨", 1)]
    assert rows("吹哨明细")[0] == (h.ids["b2-whistled"], "集结哨", datetime(2026, 11, 26, 11), datetime(2026, 11, 26, 13), 3, 1, 1, 1)
    assert [(x[0], x[2:6]) for x in rows("部门报到")] == [(d.code, (d.calls, d.on_time, d.late, d.missing)) for d in wh.departments]

    d = r.disputes
    assert rows("矛盾纠纷调解") == [(d.reported, d.mediated, d.referred, d.unsettled_closed, d.unsettled_open, d.mediation_success,
                                d.settled_in_period, d.mediated_in_period)] == [(3, 1, 0, 1, 1, 1.0, 2, 2)]
    assert rows("递进式调解") == [("社区调解员", 2, 0, 2, 0), ("金牌调解员", 1, 1, 0, 0), ("律师", 0, 0, 0, 0), ("司法途径", 0, 0, 0, 0)]

    fw = r.field_work
    t = fw.total
    assert rows("一日两巡五访") == [(7, t.duty_days, t.patrols, t.expected_patrols, t.patrol_rate, t.visits, t.expected_visits,
                                t.visit_rate, t.days_met, t.met_rate, fw.never_on_duty)]
    assert rows("一日两巡五访")[0][:10] == (7, 4, 8, 8, 1.0, 16, 20, 0.8, 2, 0.5)
    workers = rows("网格员巡访")
    assert len(fw.workers) > LISTED and len(workers) == len(fw.workers), "a workbook holds every worker, the lowest first"
    assert [(w[0], w[4], w[5]) for w in workers] == [(x.worker_id, x.duty_days, x.patrols) for x in fw.workers]
    cells = [v for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for v in row]
    assert not any(isinstance(v, str) and ("13812345678" in v or "王秀英" in v) for v in cells), "no citizen's text"
    english = load_workbook(BytesIO(render_report(r, "xlsx", h.rt.tz, "en"))).sheetnames
    assert len(set(english)) == len(english) == len(book.sheetnames) and max(map(len, english)) <= 31

    titles = ["分类受理", "渠道构成", "高发区域", "后进", "超期与督办", "吹哨报到", "矛盾纠纷调解", "一日两巡五访"]
    html = render_report(r, "html", h.rt.tz).decode()
    assert all(f'data-section="{k}"' in html for k in ALL_SECTIONS)
    assert all(f"<h2>{title}</h2>" in html for title in titles)
    assert all(label in html for label in ("12345热线", "集结哨", "第三次督办", "社区调解员")) and "13812345678" not in html
    listed = html.split("<caption>网格员巡访</caption>")[1].split("</table>")[0]
    assert listed.count("<tr>") == 1 + LISTED and f"仅列出前 {LISTED} 条（共 {len(fw.workers)} 条）" in html, "a page lists the first"
    body = "\n".join(_text(PdfReader(BytesIO(render_report(r, "pdf", h.rt.tz, chromium=h.rt.settings.chromium))))[1:])
    assert all(title in body for title in titles), [title for title in titles if title not in body]
    assert "12345热线" in body and "第三次督办" in body


@pytest.fixture
def cli_env(placed, monkeypatch):  # noqa: F811
    rt, _, _ = placed
    monkeypatch.setenv("BIGSCREEN_DATA_DIR", str(rt.settings.data_dir))
    monkeypatch.setenv("BIGSCREEN_DATABASE_URL", rt.settings.sqlalchemy_url)
    return rt


@SQLITE_ONLY
def test_the_cli_writes_the_format_asked_for_or_the_suffix_says(cli_env, tmp_path):
    rt = cli_env
    district = rt.areas.at_level(1)[0].code
    out = tmp_path / "周报.pdf"
    done = CliRunner().invoke(main, ["report", "--period", "2026-W48", "--area", district, "--format", "pdf",
                                     "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert out.read_bytes().startswith(b"%PDF") and rt.areas.by_code[district].name in _text(PdfReader(out))[0]
    page = tmp_path / "week.html"
    assert CliRunner().invoke(main, ["report", "--period", "2026-W48", "--out", str(page)]).exit_code == 0
    assert page.read_text().startswith("<!doctype html>")


@pytest.mark.parametrize(("args", "says"), [
    (["--format", "docx", "--out", "r.docx"], "format 'docx' is not offered: html, pdf, xlsx"),
    (["--out", "r.txt"], "say --format (html, pdf, xlsx)"),
    (["--out", "r"], "say --format"),
    (["--format", "pdf", "--area", "999999", "--out", "r.pdf"], "unknown area"),
])
@SQLITE_ONLY
def test_the_cli_refuses_a_format_not_offered_writing_nothing(cli_env, tmp_path, args, says):
    out = tmp_path / "out"
    out.mkdir()
    args = [a if not a.startswith("r") or "-" in a else str(out / a) for a in args]
    done = CliRunner().invoke(main, ["report", "--period", "2026-W48", *args])
    assert done.exit_code == 2 and says in done.output, done.output
    assert list(out.iterdir()) == []


@SQLITE_ONLY
def test_the_cli_says_where_chromium_was_looked_for(cli_env, tmp_path, monkeypatch):
    monkeypatch.setenv("BIGSCREEN_CHROMIUM", str(tmp_path / "no-chromium"))
    done = CliRunner().invoke(main, ["report", "--period", "2026-W48", "--out", str(tmp_path / "r.pdf")])
    assert done.exit_code == 1 and "BIGSCREEN_CHROMIUM" in done.output and "no-chromium" in done.output, done.output
    assert not (tmp_path / "r.pdf").exists()
