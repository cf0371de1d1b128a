"""A report as a document, whatever it is written as: a title, the facts of its cover, and sections of
blocks (headline figures, tables, charts, notes), every word already in the reader's language.
The renderers (bigscreen/screens/report_xlsx.py, report_html.py, report_pdf.py) know documents, not
reports: a new part of a report is a new section builder (bigscreen/screens/report_document.py), drawn
by every format at once.

Values stay values: numbers as numbers (rates as fractions), days as `date`, times as naive local
`datetime`; each table column says what its values are (`Kind`), so a workbook writes numbers and
dates as such and a page formats them for reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"
    ID = "id"              # a number that names something (a case, a worker): a number, shown without separators
    INT = "int"
    FLOAT = "float"        # two decimals (hours)
    PERCENT = "percent"    # a fraction shown as a percentage
    CHANGE = "change"      # a signed fraction (+12.5%)
    POINTS = "points"      # a signed difference of two fractions (+3.1 percentage points)
    SIGNED = "signed"      # a signed number (+2 places, +1.25 hours)
    DATE = "date"
    DATETIME = "datetime"


Value = str | int | float | date | datetime | None


@dataclass(frozen=True)
class Column:
    title: str
    kind: Kind = Kind.TEXT


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[Column, ...]
    rows: list[tuple[Value, ...]]
    sheet: str | None = None  # the workbook sheet's name (at most 31 characters); the title's otherwise
    shown: int | None = None  # a page (HTML, PDF) lists the first `shown` rows, a note saying so; a workbook holds every row

    @property
    def page_rows(self) -> list[tuple[Value, ...]]:
        return self.rows if self.shown is None else self.rows[: self.shown]


@dataclass(frozen=True)
class Figure:
    """One headline figure: its value, the change against the period before and against a year before."""

    name: str
    value: int | float | None
    kind: Kind                # how the value reads: INT, FLOAT or PERCENT
    change: float | None
    change_kind: Kind         # CHANGE (counts: a fraction) or POINTS / SIGNED (rates, hours: a difference)
    change_year: float | None
    previous: int | float | None = None
    year_before: int | float | None = None


@dataclass(frozen=True)
class Figures:
    title: str
    figures: tuple[Figure, ...]
    labels: dict[str, str]  # the words around the figures: value, change, change_year, previous, year_before


@dataclass(frozen=True)
class Series:
    name: str
    values: list[int | float | None]


@dataclass(frozen=True)
class Chart:
    """A chart over days (or any categories): a line or bar per series; drawn by plotly.js on a page
    and in the PDF (as SVG, so printed as vectors); a workbook keeps its numbers in a table instead."""

    title: str
    x: list[date | str]
    series: tuple[Series, ...]
    style: str = "line"  # line or bar
    y_title: str = ""


@dataclass(frozen=True)
class Note:
    text: str


Block = Figures | Table | Chart | Note


@dataclass
class Section:
    key: str  # stable, for anchors and tests: headline, days, areas, departments ...
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    title: str
    subtitle: str
    lang: str
    cover: list[tuple[str, tuple[Value, ...]]]  # (label, values): area, period, figures as of, produced at
    sections: list[Section]
    produced_at: datetime  # local, naive
    footer: str = ""

    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]
