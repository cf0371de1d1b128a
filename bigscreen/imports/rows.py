"""What the three imports share: a row checked by a pydantic model, its errors named by row and
column (as the API names a body's fields), times as old systems write them, and the errors file.

An error is a field error of the API's shape with the row in its `loc`:
`{"loc": ["row", 12, "网格编码"], "field": "grid", "msg": "unknown grid '3705…'", "type": "value_error"}`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError

from bigscreen.domain.schemas import CONTROL_CHARACTERS, Problem, control_character_error
from bigscreen.imports.tabular import Table

SHOWN = 20  # errors shown on the terminal; all of them go to the errors file
_TIME = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?)?\s*"
                   r"(Z|[+-]\d{2}:?\d{2})?$")


class RowIn(BaseModel):
    """A row of an import (text trimmed by the reader); unknown fields refused. Control characters are
    looked for once per row (`control_errors`), not once per field: a million rows feel the difference."""

    model_config = ConfigDict(extra="forbid")


def control_errors(values: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, problem) for each text value holding a control character (tabs and line breaks are text)."""
    texts = [v for v in values.values() if type(v) is str]
    if not CONTROL_CHARACTERS.search("".join(texts)):
        return []
    return [(name, control_character_error(v)) for name, v in values.items()
            if type(v) is str and CONTROL_CHARACTERS.search(v)]


def local_time(value: Any, info: ValidationInfo) -> datetime | None:
    """A time as old systems export it, read in the city's timezone (`info.context["tz"]`) unless it
    names its own offset: `2024-03-05 14:22[:10[.123]]`, `2024/3/5 14:22`, `2024年3月5日 14:22`,
    `2024-03-05T14:22:10+08:00`, or an Excel date cell. A date alone (or a time alone) is refused: a
    case's times are moments."""
    if value is None:
        return None
    tz: ZoneInfo = info.context["tz"]
    if type(value) is str:
        if len(value) > 10:
            try:
                at = datetime.fromisoformat(value)  # the usual export, at C speed
            except ValueError:
                at = _written_time(value)
        else:
            at = _written_time(value)
        return at if at.tzinfo is not None else at.replace(tzinfo=tz)
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if isinstance(value, date):
        raise PydanticCustomError("datetime_type", "is a date without a time of day")
    if isinstance(value, time):
        raise PydanticCustomError("datetime_type", "is a time of day without a date")
    raise PydanticCustomError("datetime_type", "must be a date and time, e.g. 2024-03-05 14:22:10")


def _written_time(value: str) -> datetime:
    m = _TIME.match(value.strip())
    if m is None:
        raise PydanticCustomError("datetime_type", "must be a date and time, e.g. 2024-03-05 14:22:10 "
                                                   "(the city's time) or 2024-03-05T14:22:10+08:00")
    y, mo, d, hh, mm, ss, frac, offset = m.groups()
    if hh is None:
        raise PydanticCustomError("datetime_type", "is a date without a time of day")
    try:
        at = datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss or 0), int((frac or "0").ljust(6, "0")))
    except ValueError as exc:
        raise PydanticCustomError("datetime_parsing", f"is no such time ({exc})") from None
    if offset is None:
        return at
    offset = "+00:00" if offset == "Z" else offset if ":" in offset else f"{offset[:3]}:{offset[3:]}"
    return datetime.fromisoformat(at.isoformat() + offset)


@dataclass
class RowErrors:
    """Every error of an import: the first SHOWN kept to show, all of them written to `path` (CSV,
    UTF-8 with a BOM so that Excel opens it) as they come, so a million bad rows take no memory."""

    table: Table
    path: Path | None = None
    count: int = 0
    rows: int = 0  # rows with at least one error
    shown: list[dict] = field(default_factory=list)
    _writer: Any = None
    _file: Any = None
    _last_row: int | None = None

    def __post_init__(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)  # an earlier run's errors would read as this one's

    def add(self, number: int | None, name: str | None, msg: str, kind: str = "value_error") -> None:
        column = self.table.column(name) if name else None
        loc: list = ["row", number] if number is not None else ["file"]
        if column is not None:
            loc.append(column)
        error = {"loc": loc, "field": name, "msg": msg, "type": kind}
        self.count += 1
        if number is not None and number != self._last_row:
            self.rows += 1
            self._last_row = number
        if len(self.shown) < SHOWN:
            self.shown.append(error)
        if self.path is not None:
            if self._writer is None:
                self._file = self.path.open("w", encoding="utf-8-sig", newline="")
                self._writer = csv.writer(self._file)
                self._writer.writerow(["file", "row", "column", "field", "problem", "type"])
            self._writer.writerow([str(self.table.path), "" if number is None else number, column or "", name or "", msg, kind])

    def add_validation(self, number: int, exc: ValidationError) -> None:
        for err in exc.errors(include_url=False, include_context=False, include_input=False):
            name = str(err["loc"][0]) if err["loc"] else None
            self.add(number, name, err["msg"], err["type"])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None

    def refuse(self, what: str) -> None:
        """Raises Problem(422) naming the file, how many errors in how many rows, the first ones and the
        errors file; does nothing when there were none."""
        self.close()
        if not self.count:
            return
        raise Problem(422, {
            "message": f"{self.table.path}: {what} refused, nothing stored: {self.count} error(s) in {self.rows} row(s)"
                       + (f"; all of them in {self.path}" if self.path is not None else ""),
            "file": str(self.table.path), "count": self.count, "errors": self.shown,
            "errors_file": str(self.path) if self.path is not None else None,
        })


def describe(error: dict) -> str:
    """One error as a line: `row 12, column 网格编码 (grid): unknown grid '…'`."""
    loc = error["loc"]
    where = "file" if loc[0] == "file" else f"row {loc[1]}"
    if len(loc) > 2:
        where += f", column {loc[2]}" + (f" ({error['field']})" if error.get("field") and error["field"] != loc[2] else "")
    return f"{where}: {error['msg']}"
