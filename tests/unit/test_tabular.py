"""The one reader of CSV and XLSX tables, on files written by the real writers (csv, openpyxl)."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from bigscreen.imports.tabular import Field, TableError, load_mapping, open_table, parse_columns

FIELDS = [Field("grid", True, ("网格编码",)), Field("name", True, ("姓名",)), Field("phone", headers=("电话",))]


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def read(path: Path, mapping: dict | None = None, **kw) -> list[tuple[int, dict]]:
    return [(r.number, r.values) for r in open_table(path, FIELDS, mapping, **kw).rows()]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_utf8_with_or_without_bom_and_in_gbk_reads_the_same(tmp_path, encoding):
    path = write_csv(tmp_path / "t.csv", [["网格编码", "姓名", "电话"], ["370502001001", "张三", ""], [], ["370502001002", " 李四 ", "139"]],
                     encoding)
    assert read(path) == [(2, {"grid": "370502001001", "name": "张三", "phone": None}),
                          (4, {"grid": "370502001002", "name": "李四", "phone": "139"})]


def test_a_bom_says_utf8_whatever_encoding_is_given(tmp_path):
    path = write_csv(tmp_path / "t.csv", [["网格编码", "姓名"], ["370502001001", "张三"]], "utf-8-sig")
    assert read(path, encoding="utf-8") == read(path, encoding="UTF-8") == read(path, encoding="UTF8") == [(2, {"grid": "370502001001", "name": "张三"})]
    with pytest.raises(TableError, match=r"t\.csv: row 1: the file begins with a UTF-8 byte order mark \(BOM\), "
                                         r"so it is UTF-8, not gbk: leave --encoding out"):
        read(path, encoding="gbk")


def test_a_gbk_byte_beyond_the_sample_is_named_with_its_row(tmp_path):
    rows = [["grid", "name"]] + [["1", "a" * 100]] * 1000 + [["2", "张三"]]
    path = tmp_path / "t.csv"
    path.write_bytes(b"".join(",".join(r).encode("gbk") + b"\r\n" for r in rows))
    with pytest.raises(TableError, match=r"t\.csv: row 1002, column B: bytes that are not utf-8"):
        read(path)
    assert read(path, encoding="gbk")[-1] == (1002, {"grid": "2", "name": "张三"})


def test_columns_are_mapped_and_what_cannot_be_read_is_refused_by_name(tmp_path):
    path = write_csv(tmp_path / "t.csv", [["CODE", "NM", "NM2"], ["1", "张三", "x"]])
    assert read(path, {"grid": "CODE", "name": "NM"}) == [(2, {"grid": "1", "name": "张三"})]
    with pytest.raises(TableError, match=r"t\.csv: no column for grid, name: map it with --columns grid=HEADER"):
        read(path)
    with pytest.raises(TableError, match="column 'CODX' \\(mapped to grid\\) is not in the header"):
        read(path, {"grid": "CODX", "name": "NM"})
    with pytest.raises(TableError, match="no field age to map"):
        read(path, {"age": "NM"})
    with pytest.raises(TableError, match="mapped to both grid and name"):
        read(path, {"grid": "CODE", "name": "CODE"})
    twice = write_csv(tmp_path / "twice.csv", [["grid", "name", "name"], ["1", "a", "b"]])
    with pytest.raises(TableError, match="the header 'name' appears twice \\(columns B and C\\)"):
        read(twice)
    assert parse_columns("grid=网格编码, name = 姓名") == {"grid": "网格编码", "name": "姓名"}
    with pytest.raises(TableError, match="'grid' is not FIELD=HEADER"):
        parse_columns("grid")


def test_a_cell_beyond_the_header_and_files_that_are_no_table_are_refused(tmp_path):
    path = write_csv(tmp_path / "t.csv", [["grid", "name"], ["1", "a", "stray"]])
    with pytest.raises(TableError, match="row 2: 3 cells under a header of 2 columns"):
        read(path)
    binary = tmp_path / "t.csv"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(TableError, match="a binary file"):
        read(binary)
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    with pytest.raises(TableError, match="old Excel .xls file"):
        read(xls)
    with pytest.raises(TableError, match="no such file"):
        read(tmp_path / "missing.csv")


def test_xlsx_keeps_cell_types_and_refuses_merged_header_cells(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["网格编码", "姓名", "电话"])
    ws.append([370502001001, "张三", datetime(2024, 3, 5, 14, 22)])
    ws.append([None, None, None])
    ws.append(["x", "李四", None])
    wb.save(tmp_path / "t.xlsx")
    table = open_table(tmp_path / "t.xlsx", FIELDS)
    assert table.kind == "xlsx" and table.total == 3
    assert [(r.number, r.values) for r in table.rows()] == [
        (2, {"grid": 370502001001, "name": "张三", "phone": datetime(2024, 3, 5, 14, 22)}),
        (4, {"grid": "x", "name": "李四", "phone": None})]
    ws.merge_cells("B1:C1")
    wb.save(tmp_path / "merged.xlsx")
    with pytest.raises(TableError, match=r"merged\.xlsx: sheet 'Sheet': merged cells B1:C1 in the header"):
        open_table(tmp_path / "merged.xlsx", FIELDS)
    with pytest.raises(TableError, match="no sheet 'Other'"):
        open_table(tmp_path / "t.xlsx", FIELDS, sheet="Other")


def test_a_mapping_file_holds_columns_categories_and_statuses(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("columns: {grid: 网格编码}\ncategories: {占道经营: SR01, 12: MS01}\nstatuses: {结案: closed}\n")
    assert load_mapping(path) == {"columns": {"grid": "网格编码"}, "categories": {"占道经营": "SR01", "12": "MS01"},
                                  "statuses": {"结案": "closed"}}
    path.write_text("fields: {grid: x}\n")
    with pytest.raises(TableError, match="unknown section 'fields'"):
        load_mapping(path)
