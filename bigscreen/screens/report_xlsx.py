"""A report document (bigscreen.reports.document) as an XLSX workbook (openpyxl): the cover's facts
and the headline figures on the first sheet, then every table a sheet of its own; numbers as numbers
(rates as fractions shown as percentages), days as dates, times as date-times; a chart's numbers are
in the table beside it. Headings come with the document, already in its language."""

from __future__ import annotations

import re
from datetime import date, datetime
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from bigscreen.reports.document import Document, Figures, Kind, Note, Table

FORMATS = {
    Kind.ID: "0", Kind.INT: "0", Kind.FLOAT: "0.00", Kind.PERCENT: "0.0%", Kind.CHANGE: "+0.0%;-0.0%;0.0%",
    Kind.POINTS: "+0.0%;-0.0%;0.0%", Kind.SIGNED: "+0.00;-0.00;0.00", Kind.DATE: "yyyy-mm-dd",
    Kind.DATETIME: "yyyy-mm-dd hh:mm",
}
WIDTHS = {Kind.TEXT: 24, Kind.DATE: 12, Kind.DATETIME: 17}
_NOT_IN_SHEET_NAMES = re.compile(r"[\[\]:*?/\\]")


def render_xlsx(doc: Document) -> bytes:
    book = Workbook()
    _headline(book.active, doc)
    names = {book.active.title}
    for table in doc.tables():
        sheet = book.create_sheet(_sheet_name(table, names))
        _table(sheet, table)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _headline(sheet, doc: Document) -> None:
    headline = next((s for s in doc.sections if s.key == "headline"), None)
    sheet.title = _clean(headline.title if headline else doc.title)
    for label, values in doc.cover:
        sheet.append([label, *values])
        for i, value in enumerate(values, start=2):
            if isinstance(value, datetime):
                sheet.cell(sheet.max_row, i).number_format = FORMATS[Kind.DATETIME]
            elif isinstance(value, date):
                sheet.cell(sheet.max_row, i).number_format = FORMATS[Kind.DATE]
    blocks = headline.blocks if headline else []
    for block in blocks:
        if isinstance(block, Figures):
            sheet.append([])
            labels = block.labels
            _heading(sheet, [labels[k] for k in ("figure", "value", "previous", "change", "year_before", "change_year")])
            for f in block.figures:
                sheet.append([f.name, f.value, f.previous, f.change, f.year_before, f.change_year])
                row = sheet.max_row
                for col in (2, 3, 5):
                    sheet.cell(row, col).number_format = FORMATS[f.kind]
                for col in (4, 6):
                    sheet.cell(row, col).number_format = FORMATS[f.change_kind]
        elif isinstance(block, Note):
            sheet.append([])
            sheet.append([block.text])
    column_widths(sheet, [22, 16, 14, 12, 14, 12])


def _table(sheet, table: Table) -> None:
    _heading(sheet, [c.title for c in table.columns])
    for values in table.rows:
        sheet.append(list(values))
        row = sheet.max_row
        for i, column in enumerate(table.columns, start=1):
            if column.kind in FORMATS:
                sheet.cell(row, i).number_format = FORMATS[column.kind]
    column_widths(sheet, [max(WIDTHS.get(c.kind, 11), min(30, len(c.title) * 2 + 2)) for c in table.columns])
    sheet.freeze_panes = "A2"


def _sheet_name(table: Table, taken: set[str]) -> str:
    base = _clean(table.sheet or table.title)
    name, n = base, 2
    while name in taken:
        suffix = f" ({n})"
        name, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(name)
    return name


def _clean(name: str) -> str:
    return _NOT_IN_SHEET_NAMES.sub(" ", name).strip()[:31] or "-"


def _heading(sheet, titles: list[str]) -> None:
    sheet.append(titles)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)


def column_widths(sheet, widths: list[int]) -> None:
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
