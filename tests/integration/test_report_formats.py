"""A report in every format, read back as a person's tools read it: the PDF opened with pypdf (pages,
the cover, the headline numbers, Chinese text, page numbers, fonts embedded, the chart as vectors),
the XLSX with openpyxl (numbers as numbers, dates as dates), the HTML as text; hostile text escaped in
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
from tests.integration.test_report_figures import BJ, NOW, placed  # noqa: F401 - the fixture: cases placed by hand

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
    assert book.sheetnames == ["Headline", "Days", "Areas ranked", "Departments ranked"]
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


def test_hostile_text_is_escaped_in_html_and_printed_as_text_in_pdf(runtime):
    doc = _hostile_document()
    html = render_html(doc, file_assets())
    assert "<script>alert" not in html and "<img src=x" not in html and "</style>" not in html.split("<body", 1)[1]
    assert html.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") >= 4
    assert html.split("</style>")[0].count("<style>") == 1, "the footer's text cannot close the style element"
    text = "\n".join(_text(PdfReader(BytesIO(render_pdf(doc, runtime.settings.chromium)))))
    assert '<script>alert("x")</script>' in text and "onerror=alert(1)>&amp;" in text, "shown as typed, not run"


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


def test_every_section_builder_gives_a_section_with_a_title(placed):  # noqa: F811
    rt, _, _ = placed
    report = build_report(rt, parse_period("2026-W48", NOW.date()), None, NOW)
    doc = report_document(report, rt.tz, "en")
    assert [s.key for s in doc.sections] == ["headline", "days", "areas", "departments"]
    assert len(SECTIONS) == len(doc.sections) and all(s.title and s.blocks for s in doc.sections)
    assert doc.title.endswith("Weekly summary")


@pytest.fixture
def cli_env(placed, monkeypatch):  # noqa: F811
    rt, _, _ = placed
    monkeypatch.setenv("BIGSCREEN_DATA_DIR", str(rt.settings.data_dir))
    monkeypatch.setenv("BIGSCREEN_DATABASE_URL", rt.settings.sqlalchemy_url)
    return rt


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
def test_the_cli_refuses_a_format_not_offered_writing_nothing(cli_env, tmp_path, args, says):
    out = tmp_path / "out"
    out.mkdir()
    args = [a if not a.startswith("r") or "-" in a else str(out / a) for a in args]
    done = CliRunner().invoke(main, ["report", "--period", "2026-W48", *args])
    assert done.exit_code == 2 and says in done.output, done.output
    assert list(out.iterdir()) == []


def test_the_cli_says_where_chromium_was_looked_for(cli_env, tmp_path, monkeypatch):
    monkeypatch.setenv("BIGSCREEN_CHROMIUM", str(tmp_path / "no-chromium"))
    done = CliRunner().invoke(main, ["report", "--period", "2026-W48", "--out", str(tmp_path / "r.pdf")])
    assert done.exit_code == 1 and "BIGSCREEN_CHROMIUM" in done.output and "no-chromium" in done.output, done.output
    assert not (tmp_path / "r.pdf").exists()
