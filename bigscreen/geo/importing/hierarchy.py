"""From the features of the boundary files to the area tree: which attribute is the code, the
name and the parent (`FieldMap`), and who is whose parent, from the codes or a parent field.

12-digit administrative codes (统计用区划代码) nest: county 6 digits, township 9, village or
community 12 (also written as 12 digits padded with zeros: 370502000000, 370502001000); a grid's own
code starts with its community's. A feature's level is its depth under the city: districts first,
then the config's levels in order (`city.yaml: levels`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import yaml

from bigscreen.geo.importing.reading import Layer
from bigscreen.geo.importing.report import ImportReport

MAX_CODE, MAX_NAME = 32, 100  # what the areas table stores


@dataclass(frozen=True)
class FieldMap:
    code: str = "code"
    name: str = "name"
    parent: str | None = None
    kind: str | None = None  # base or special (专属网格); base when absent

    @classmethod
    def parse(cls, text: str | None) -> FieldMap:
        """`code=GRID_CODE,name=NAME,parent=SQ_CODE`."""
        if not text:
            return cls()
        given: dict[str, str] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not value or key not in {f.name for f in fields(cls)}:
                raise ValueError(f"{part.strip()!r}: expected KEY=FIELD with KEY one of code, name, parent, kind")
            given[key] = value
        return cls(**given)

    @classmethod
    def load(cls, path: Path) -> FieldMap:
        """A YAML file: `fields: {code: GRID_CODE, name: NAME, parent: SQ_CODE}` (or the mapping alone)."""
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ValueError(f"{path}: {str(exc).splitlines()[0]}") from None
        data = data.get("fields", data) if isinstance(data, dict) else data
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping such as fields: {{code: GRID_CODE, name: NAME}}")
        try:
            return cls.parse(",".join(f"{k}={v}" for k, v in data.items()))
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None


@dataclass
class Feature:
    source: str
    number: int           # 1-based within its layer
    code: str
    name: str
    parent: str | None    # as the file says (a parent field), else None
    kind: str
    geometry: object      # shapely, WGS84
    code_field: str | None = None    # the file's field names, for the report
    parent_field: str | None = None


def features(layers: list[Layer], mapping: FieldMap, report: ImportReport) -> list[Feature]:
    out: list[Feature] = []
    for layer in layers:
        columns = {}
        for key in ("code", "name", "parent", "kind"):
            wanted = getattr(mapping, key)
            if wanted is None:
                continue
            index = layer.find_field(wanted)
            if index is None:
                report.error("field", f"no field {wanted!r} (for {key}); the fields are {', '.join(layer.fields) or 'none'}"
                             + ("" if key != "code" else "; map them with --fields code=...,name=..."),
                             source=layer.source, field=wanted)
                continue
            columns[key] = (layer.fields[index], layer.columns[index])
        if "code" not in columns or "name" not in columns:
            continue
        for i in range(len(layer)):
            code = _text(columns["code"][1][i])
            name = _text(columns["name"][1][i])
            where = {"source": layer.source, "feature": i + 1}
            if not code:
                report.error("code", "no code", field=columns["code"][0], **where)
                continue
            if len(code) > MAX_CODE:
                report.error("code", f"code {code[:40]!r} is longer than {MAX_CODE} characters", field=columns["code"][0], **where)
                continue
            if not name:
                report.error("name", "no name", field=columns["name"][0], code=code, **where)
                continue
            if len(name) > MAX_NAME:
                report.error("name", f"name is longer than {MAX_NAME} characters", field=columns["name"][0], code=code, **where)
                continue
            parent = _text(columns["parent"][1][i]) if "parent" in columns else None
            kind = _text(columns["kind"][1][i]) if "kind" in columns else "base"
            if kind not in ("base", "special"):
                report.error("kind", f"kind {kind!r} is neither base nor special", field=columns["kind"][0], code=code, **where)
                continue
            out.append(Feature(layer.source, i + 1, code, name, parent or None, kind, layer.geometries[i],
                               columns["code"][0], columns["parent"][0] if "parent" in columns else None))
    return out


def _text(value) -> str:
    """A code or name as text: numbers from a .dbf's N fields lose their '.0'."""
    if value is None:
        return ""
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else str(int(value)) if float(value).is_integer() else str(value)
    return str(value).strip()


def code_parents(code: str) -> list[str]:
    """Where a code's parent may be found, nearest first (numeric codes only)."""
    if not code.isdigit():
        return []
    found = []
    for n in (12, 9, 6):
        if n < len(code):
            found.append(code[:n])
        if n < 12 and n < len(code) and code[:n].ljust(12, "0") != code:
            found.append(code[:n].ljust(12, "0"))
    return list(dict.fromkeys(found))


def is_county(code: str) -> bool:
    return code.isdigit() and (len(code) == 6 or (len(code) == 12 and code.endswith("000000")))


def link(feats: list[Feature], city_code: str, levels: list[str], report: ImportReport) -> dict[str, tuple[str, int]]:
    """Parent code and level of every feature (the city's code for districts); problems into `report`.
    Features with problems are left out of the answer."""
    by_code: dict[str, Feature] = {}
    for f in feats:
        first = by_code.get(f.code)
        if first is not None:
            report.error("duplicate", f"code {f.code} again (first: {first.source}, feature {first.number})",
                         source=f.source, feature=f.number, field=f.code_field, code=f.code)
        else:
            by_code[f.code] = f
    parent_of: dict[str, str] = {}
    for f in by_code.values():
        if f.code == city_code:
            continue
        if f.parent is not None and f.parent != city_code:
            if f.parent not in by_code:
                report.error("orphan", f"parent {f.parent} is in no file", source=f.source, feature=f.number,
                             field=f.parent_field, code=f.code)
                continue
            parent_of[f.code] = f.parent
        elif f.parent == city_code or is_county(f.code):
            parent_of[f.code] = city_code
        else:
            found = next((c for c in code_parents(f.code) if c in by_code and c != city_code), None)
            if found is None:
                tried = ", ".join(code_parents(f.code)) or "none: the code is not numeric, give a parent field"
                report.error("orphan", f"no parent for {f.code} (looked for {tried})", source=f.source, feature=f.number,
                             field=f.code_field, code=f.code)
                continue
            parent_of[f.code] = found
    out: dict[str, tuple[str, int]] = {}
    deepest = len(levels) - 1
    for code in parent_of:
        chain = [code]
        while chain[-1] != city_code and chain[-1] in parent_of:
            nxt = parent_of[chain[-1]]
            if nxt in chain:
                loop = chain[chain.index(nxt):] + [nxt]
                f = by_code[code]
                if code == min(loop):  # report each loop once
                    report.error("loop", "the parents go round in a loop: " + " → ".join(loop),
                                 source=f.source, feature=f.number, field=f.parent_field, code=code)
                break
            chain.append(nxt)
        if chain[-1] != city_code:
            continue  # a loop, or under an orphan (reported there)
        depth = len(chain) - 1
        if depth > deepest:
            f = by_code[code]
            report.error("depth", f"{depth} levels below the city, but city.yaml's levels stop at {levels[-1]} ({deepest})",
                         source=f.source, feature=f.number, code=code)
            continue
        out[code] = (parent_of[code], depth)
    return out
