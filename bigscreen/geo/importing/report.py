"""What an import found, before it writes anything: errors refuse the import whole, warnings do not.

    report.error("duplicate", "code 370502001001 twice", source="a.shp", feature=3, field="CODE", code="370502001001")
    print(report.text()); Path("r.json").write_bytes(report.json())
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import orjson

SHOWN_PER_CHECK = 10


@dataclass
class Problem:
    check: str
    message: str
    source: str | None = None
    feature: int | None = None       # 1-based, in its file or layer
    field: str | None = None
    code: str | None = None

    def line(self) -> str:
        where = ", ".join(p for p in (self.source, f"feature {self.feature}" if self.feature else None,
                                       f"field {self.field}" if self.field else None) if p)
        return f"{where}: {self.message}" if where else self.message


@dataclass
class ImportReport:
    files: list[dict] = field(default_factory=list)      # source, features, crs, encoding
    levels: dict[str, int] = field(default_factory=dict)  # areas per level, as they would be stored
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, check: str, message: str, **where) -> None:
        self.errors.append(Problem(check, message, **where))

    def warn(self, check: str, message: str, **where) -> None:
        self.warnings.append(Problem(check, message, **where))

    def json(self) -> bytes:
        return orjson.dumps({"ok": self.ok, "files": self.files, "levels": self.levels,
                             "errors": [asdict(p) for p in self.errors],
                             "warnings": [asdict(p) for p in self.warnings]}, option=orjson.OPT_INDENT_2)

    def text(self) -> str:
        lines = [f"{f['source']}: {f['features']} features, {f['crs']}" + (f", text in {f['encoding']}" if f.get("encoding") else "")
                 for f in self.files]
        if self.levels:
            lines.append("areas: " + ", ".join(f"{n} {level}" for level, n in self.levels.items()))
        for title, problems in (("errors", self.errors), ("warnings", self.warnings)):
            if not problems:
                continue
            counts = Counter(p.check for p in problems)
            lines.append(f"{len(problems)} {title if len(problems) != 1 else title[:-1]}: "
                         + ", ".join(f"{n} {check}" for check, n in counts.items()))
            for check in counts:
                of_check = [p for p in problems if p.check == check]
                lines += [f"  [{check}] {p.line()}" for p in of_check[:SHOWN_PER_CHECK]]
                if len(of_check) > SHOWN_PER_CHECK:
                    lines.append(f"  [{check}] ... and {len(of_check) - SHOWN_PER_CHECK} more (all of them in --report)")
        lines.append("no errors" if self.ok else "import refused: nothing was written")
        return "\n".join(lines)
