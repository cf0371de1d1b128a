"""One reader of the tables a centre is given (CSV or XLSX), row by row, never the whole file in memory.

    table = open_table(path, FIELDS, mapping={"grid": "网格编码"})
    for row in table.rows():      # Row(number, values: {field: value or None})
        ...

- CSV: UTF-8 with or without a BOM, or GBK (GB18030, its superset), told apart on the first 64 KB
  (`encoding=` to say which); a byte the encoding cannot read later on is refused with its row, and
  so is a line running past MAX_LINE_CHARS (a 2 GB file without line breaks is not read into memory).
- XLSX: openpyxl in read-only mode (streams the sheet); cells keep their types (numbers, dates).
  Merged cells in the header row are refused (a header cell spread over two columns, or a title
  merged across the columns taken for the header): the columns could not be told apart. Title rows
  above the header are passed over with `header_row`.
- Columns: each field is found by its mapped header (`mapping`, from `--columns` or a YAML) or else
  by one of its usual headers (`Field.headers`: the English name and the Chinese ones old systems
  export). A required field without a column, a mapped header missing from the file and a header
  named twice are refused before any row is read.

Rows are numbered as a spreadsheet shows them: the header is row 1 (or `header_row`), the first
record below it row 2. Rows with every cell empty are skipped.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SAMPLE_BYTES = 64 * 1024
MAX_CELL_CHARS = 100_000  # csv's default limit is 131,072; one more-than-a-page cell is no record
MAX_LINE_CHARS = 1_000_000  # read at most this much looking for a line's end: a 2 GB file without one is no table
_UNREAD = re.compile("[\udc80-\udcff]")
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')


class TableError(Exception):
    """What is wrong with a file as a whole (not one row): names the file and, where it can, the column."""


@dataclass(frozen=True)
class Field:
    name: str
    required: bool = False
    headers: tuple[str, ...] = ()  # usual headers besides the name itself, e.g. ("网格编码", "网格代码")


@dataclass
class Row:
    number: int
    values: dict[str, Any]


@dataclass
class Table:
    path: Path
    kind: str  # csv or xlsx
    columns: dict[str, str]  # field → the file's header it is read from
    header_row: int
    encoding: str | None = None
    total: int | None = None  # rows below the header as the file declares them (XLSX), else None
    _source: Any = field(default=None, repr=False)

    def column(self, name: str) -> str:
        """The file's header of a field (what an error names), or the field's own name."""
        return self.columns.get(name, name)

    def rows(self) -> Iterator[Row]:
        return self._source()


def parse_columns(spec: str | None) -> dict[str, str]:
    """`grid=网格编码,name=姓名` → {"grid": "网格编码", "name": "姓名"}."""
    out: dict[str, str] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        name, sep, header = part.partition("=")
        if not sep or not name.strip() or not header.strip():
            raise TableError(f"--columns: '{part.strip()}' is not FIELD=HEADER (e.g. grid=网格编码)")
        out[name.strip()] = header.strip()
    return out


def load_mapping(path: Path | None) -> dict[str, dict[str, str]]:
    """A mapping YAML: `columns:` (field: header), and for cases `categories:` (their value: our
    sub-item code) and `statuses:` (their value: our status). Every key and value is text."""
    if path is None:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8-sig")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TableError(f"{path}: cannot read the mapping: {exc}") from None
    if not isinstance(data, dict):
        raise TableError(f"{path}: a mapping file holds sections (columns:, categories:, statuses:)")
    out: dict[str, dict[str, str]] = {}
    for section, entries in data.items():
        if section not in ("columns", "categories", "statuses"):
            raise TableError(f"{path}: unknown section '{section}' (columns, categories, statuses)")
        if not isinstance(entries, dict):
            raise TableError(f"{path}: {section}: must be a mapping of 'their value: ours'")
        out[section] = {str(k).strip(): str(v).strip() for k, v in entries.items() if v is not None}
    return out


def open_table(path: Path | str, fields: list[Field], mapping: dict[str, str] | None = None, *,
               encoding: str | None = None, header_row: int = 1, sheet: str | None = None) -> Table:
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: no such file")
    mapping = dict(mapping or {})
    unknown = sorted(set(mapping) - {f.name for f in fields})
    if unknown:
        raise TableError(f"{path}: no field {', '.join(unknown)} to map (fields: {', '.join(f.name for f in fields)})")
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK\x03\x04"):
        return _xlsx(path, fields, mapping, header_row, sheet)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raise TableError(f"{path}: not an XLSX file (an XLSX is a zip archive; .xls from old Excel: save it as .xlsx or CSV)")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise TableError(f"{path}: an old Excel .xls file: save it as .xlsx or CSV")
    return _csv(path, fields, mapping, encoding, header_row)


def _columns(path: Path, fields: list[Field], mapping: dict[str, str], headers: list[str]) -> dict[str, int]:
    """field → index in the row; refuses what cannot be read unambiguously."""
    seen: dict[str, int] = {}
    for i, h in enumerate(headers):
        if h and h in seen:
            raise TableError(f"{path}: the header '{h}' appears twice (columns {_letter(seen[h])} and {_letter(i)})")
        if h:
            seen[h] = i
    found: dict[str, int] = {}
    missing: list[str] = []
    for f in fields:
        if f.name in mapping:
            header = mapping[f.name]
            if header not in seen:
                raise TableError(f"{path}: column '{header}' (mapped to {f.name}) is not in the header; "
                                 f"the file has: {', '.join(h for h in headers if h)}")
            found[f.name] = seen[header]
            continue
        hit = next((seen[h] for h in (f.name, *f.headers) if h in seen), None)
        if hit is not None:
            found[f.name] = hit
        elif f.required:
            missing.append(f.name)
    if missing:
        raise TableError(f"{path}: no column for {', '.join(missing)}: map it with --columns {missing[0]}=HEADER "
                         f"(the file has: {', '.join(h for h in headers if h)})")
    taken: dict[int, str] = {}
    for name, index in found.items():
        if index in taken:
            raise TableError(f"{path}: column '{headers[index]}' is mapped to both {taken[index]} and {name}")
        taken[index] = name
    return found


def _letter(index: int) -> str:
    out, n = "", index + 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


# ---- CSV ------------------------------------------------------------------------------------

def _encoding(path: Path, sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise TableError(f"{path}: a UTF-16 file: save it as UTF-8 (CSV UTF-8 in Excel) or GBK")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise TableError(f"{path}: neither UTF-8 nor GBK (byte {exc.start} of the file cannot be read); "
                         "say which with --encoding") from None


def _csv(path: Path, fields: list[Field], mapping: dict[str, str], encoding: str | None, header_row: int) -> Table:
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    if b"\x00" in sample[:4096] and not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise TableError(f"{path}: a binary file, not CSV or XLSX")
    if encoding:
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            raise TableError(f"{path}: unknown encoding '{encoding}'") from None
        if sample.startswith(codecs.BOM_UTF8) and name not in ("utf-8", "utf-8-sig"):
            raise TableError(f"{path}: row 1: the file begins with a UTF-8 byte order mark (BOM), so it is UTF-8, "
                             f"not {encoding}: leave --encoding out")
    enc = encoding or _encoding(path, sample)
    if codecs.lookup(enc).name == "utf-8" and sample.startswith(codecs.BOM_UTF8):
        enc = "utf-8-sig"
    try:
        dialect = csv.Sniffer().sniff(sample.decode(enc, errors="ignore")[:8192], delimiters=",\t;|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    csv.field_size_limit(MAX_CELL_CHARS)

    def records() -> Iterator[tuple[int, list[str]]]:
        # bytes the encoding cannot read become lone surrogates, found in their row and column below
        with path.open(encoding=enc, errors="surrogateescape", newline="") as text:
            reader = csv.reader(_lines(text), delimiter=delimiter)
            number = 0
            try:
                for number, record in enumerate(reader, start=1):
                    if _UNREAD.search("".join(record)):
                        column = next(i for i, c in enumerate(record) if _UNREAD.search(c))
                        raise TableError(f"{path}: row {number}, column {_letter(column)}: bytes that are not {enc}; "
                                         "say the file's encoding with --encoding")
                    yield number, record
            except csv.Error as exc:
                raise TableError(f"{path}: row {number + 1}: {exc}") from None
            except _LongLine:
                raise TableError(f"{path}: row {number + 1}: more than {MAX_LINE_CHARS:,} characters without a line "
                                 "break: not a table of records (is it the right file?)") from None

    source = records()
    headers: list[str] | None = None
    for number, record in source:
        if number == header_row:
            headers = [_text(h) for h in record]
            break
    if headers is None or not any(headers):
        source.close()
        raise TableError(f"{path}: no header row (row {header_row} is missing or empty)")
    columns = _columns(path, fields, mapping, headers)
    width = len(headers)

    names, picked = tuple(columns), tuple(columns.values())

    def rows() -> Iterator[Row]:
        try:
            for number, record in source:
                if len(record) != width:
                    if not any(c.strip() for c in record):
                        continue
                    if len(record) > width and any(c.strip() for c in record[width:]):
                        raise TableError(f"{path}: row {number}: {len(record)} cells under a header of {width} columns")
                    record = record + [""] * (width - len(record))
                values = [record[i].strip() or None for i in picked]
                if values.count(None) == len(values) and not any(c.strip() for c in record):
                    continue
                yield Row(number, dict(zip(names, values)))
        finally:
            source.close()

    return Table(path, "csv", {n: headers[i] for n, i in columns.items()}, header_row, enc, None, rows)


class _LongLine(Exception):
    pass


def _lines(text: Any) -> Iterator[str]:
    """The file's lines, none read beyond MAX_LINE_CHARS: a file with no line breaks (a one-line JSON
    dump, a binary file) is refused with its row instead of read whole into memory."""
    while line := text.readline(MAX_LINE_CHARS + 1):
        if len(line) > MAX_LINE_CHARS:
            raise _LongLine
        yield line


# ---- XLSX -----------------------------------------------------------------------------------

def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _merged_in_header(ws: Any, header_row: int) -> str | None:
    """The first merged range that covers the header row, e.g. 'A1:F1', or None. openpyxl's read-only
    sheets do not expose merged cells: the sheet's XML is scanned as it is decompressed (the ranges
    come after the data), a megabyte at a time."""
    try:
        stream = ws._get_source()
    except Exception:  # noqa: BLE001 - an openpyxl without it: merged titles then show as empty headers
        return None
    tail = b""
    with stream:
        while chunk := stream.read(1 << 20):
            data = tail + chunk
            for m in _MERGE.finditer(data):
                top = int(m.group(2))
                bottom = int(m.group(4)) if m.group(4) else top
                if top <= header_row <= bottom:
                    end = f":{m.group(3).decode()}{m.group(4).decode()}" if m.group(3) else ""
                    return f"{m.group(1).decode()}{top}{end}"
            tail = data[-200:]
    return None


def _xlsx(path: Path, fields: list[Field], mapping: dict[str, str], header_row: int, sheet: str | None) -> Table:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise TableError(f"{path}: not a readable XLSX file ({exc})") from None
    if sheet is not None and sheet not in wb.sheetnames:
        wb.close()
        raise TableError(f"{path}: no sheet '{sheet}' (sheets: {', '.join(wb.sheetnames)})")
    ws = wb[sheet] if sheet is not None else wb.worksheets[0]
    merged = _merged_in_header(ws, header_row)
    if merged:
        wb.close()
        raise TableError(f"{path}: sheet '{ws.title}': merged cells {merged} in the header: unmerge them so that "
                         f"row {header_row} holds one header per column (and remove any title rows above it, or "
                         "name the header row with --header-row)")
    source = ws.iter_rows(min_row=header_row, values_only=True)
    header = next(source, None)
    headers = [_text(h) for h in header] if header else []
    while headers and not headers[-1]:
        headers.pop()
    if not any(headers):
        wb.close()
        raise TableError(f"{path}: sheet '{ws.title}': no header row (row {header_row} is empty)")
    columns = _columns(path, fields, mapping, headers)
    width = len(headers)
    declared = ws.max_row

    def rows() -> Iterator[Row]:
        try:
            for number, record in enumerate(source, start=header_row + 1):
                if all(v is None or (type(v) is str and not v.strip()) for v in record):
                    continue
                if len(record) > width and any(v not in (None, "") for v in record[width:]):
                    raise TableError(f"{path}: row {number}: a value in column {_letter(width)} or right of it, "
                                     "which has no header")
                values = {}
                for name, i in columns.items():
                    v = record[i] if i < len(record) else None
                    if type(v) is str:
                        v = v.strip() or None
                    values[name] = v
                yield Row(number, values)
        finally:
            wb.close()

    total = declared - header_row if declared else None
    return Table(path, "xlsx", {n: headers[i] for n, i in columns.items()}, header_row, None, total, rows)
