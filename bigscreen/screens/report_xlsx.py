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


class Rows:
    """Appends rows to a sheet and formats their cells, counting the rows itself (openpyxl's `max_row`
    reads every cell: asked once a row, a city's 6,000 workers took seconds, their pages minutes)."""

    def __init__(self, sheet) -> None:
        self.sheet, self.row = sheet, 0

    def add(self, values: list, formats: dict[int, str] | None = None, bold: bool = False) -> None:
        self.sheet.append(values)
        self.row += 1
        for col, fmt in (formats or {}).items():
            self.sheet.cell(self.row, col).number_format = fmt
        if bold:
            for col in range(1, len(values) + 1):
                self.sheet.cell(self.row, col).font = Font(bold=True)


def render_xlsx(doc: Document) -> bytes:
    book = Workbook()
    _headline(Rows(book.active), doc)
    names = {book.active.title}
    for table in doc.tables():
        _table(Rows(book.create_sheet(_sheet_name(table, names))), table)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _headline(rows: Rows, doc: Document) -> None:
    headline = next((s for s in doc.sections if s.key == "headline"), None)
    rows.sheet.title = _clean(headline.title if headline else doc.title)
    for label, values in doc.cover:
        rows.add([label, *values], {i: FORMATS[Kind.DATETIME] if isinstance(v, datetime) else FORMATS[Kind.DATE]
                                    for i, v in enumerate(values, start=2) if isinstance(v, date)})
    blocks = headline.blocks if headline else []
    for block in blocks:
        if isinstance(block, Figures):
            rows.add([])
            labels = block.labels
            rows.add([labels[k] for k in ("figure", "value", "previous", "change", "year_before", "change_year")], bold=True)
            for f in block.figures:
                rows.add([f.name, f.value, f.previous, f.change, f.year_before, f.change_year],
                         {2: FORMATS[f.kind], 3: FORMATS[f.kind], 5: FORMATS[f.kind],
                          4: FORMATS[f.change_kind], 6: FORMATS[f.change_kind]})
        elif isinstance(block, Note):
            rows.add([])
            rows.add([block.text])
    column_widths(rows.sheet, [22, 16, 14, 12, 14, 12])


def _table(rows: Rows, table: Table) -> None:
    rows.add([c.title for c in table.columns], bold=True)
    formats = {i: FORMATS[c.kind] for i, c in enumerate(table.columns, start=1) if c.kind in FORMATS}
    for values in table.rows:
        rows.add(list(values), formats)
    column_widths(rows.sheet, [max(WIDTHS.get(c.kind, 11), min(30, len(c.title) * 2 + 2)) for c in table.columns])
    rows.sheet.freeze_panes = "A2"


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


def column_widths(sheet, widths: list[int]) -> None:
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
