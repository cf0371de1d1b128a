"""Load and validate the admin-editable configuration in config/*.yaml.

    cfg = load_config(Path("config"))

Every problem, in any of the four files, is reported at once as a ConfigError
naming the file, the key path and what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bigscreen.configuration.models import (
    URGENCY_LABELS_ZH,
    CategoriesFile,
    Category,
    City,
    Department,
    DepartmentsFile,
    DispatchFile,
    District,
    Rule,
    SubItem,
    Urgency,
    check_limit_order,
    short,
)

__all__ = [
    "URGENCY_LABELS_ZH", "Category", "City", "Config", "ConfigError", "Department", "District", "Problem", "Rule",
    "SubItem", "Urgency", "load_config",
]

CITY, CATEGORIES, DEPARTMENTS, DISPATCH = "city.yaml", "categories.yaml", "departments.yaml", "dispatch.yaml"
Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    file: str
    key: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        if self.key:
            return f"{self.file}: {self.key}: {self.message}" + (f" (line {self.line})" if self.line else "")
        return f"{self.file}: " + (f"line {self.line}: " if self.line else "") + self.message


class ConfigError(Exception):
    """The configuration is unusable; ``problems`` lists everything found, the first is also ``file/key/message``."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.file, self.key, self.message = problems[0].file, problems[0].key, problems[0].message
        super().__init__(problems)

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        return f"{len(self.problems)} configuration problems:\n" + "\n".join(f"  {p}" for p in self.problems)


def format_loc(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice: PyYAML would silently keep the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                if key in seen:
                    raise yaml.MarkedYAMLError(
                        problem=f"duplicate key {key!r} (first written on line {seen[key]})",
                        problem_mark=key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line + 1
            except TypeError:  # unhashable key: SafeLoader reports it below
                pass
        return super().construct_mapping(node, deep=deep)


class _Source:
    """One YAML file: its data plus the node tree, to find the line of a key path."""

    def __init__(self, directory: Path, name: str, problems: list[Problem]) -> None:
        self.name, self.problems = name, problems
        self.node: yaml.Node | None = None
        self.data: Any = None
        path = directory / name
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.add((), f"file not found (looked for {path})")
            return
        except (OSError, UnicodeDecodeError) as exc:
            self.add((), f"cannot read the file: {exc}")
            return
        loader = _Loader(text)
        try:
            self.node = loader.get_single_node()
            self.data = loader.construct_document(self.node) if self.node is not None else None
        except yaml.YAMLError as exc:
            self.node = None
            mark = getattr(exc, "problem_mark", None)
            what = getattr(exc, "problem", None) or str(exc)
            if context := getattr(exc, "context", None):
                what += f" ({context})"
            column = f", column {mark.column + 1}" if mark else ""
            problems.append(Problem(name, "", f"invalid YAML{column}: {what}", mark.line + 1 if mark else None))
            return
        finally:
            loader.dispose()
        if self.node is None:
            self.add((), "file is empty")

    def line_of(self, loc: Loc) -> int | None:
        node, line = self.node, None
        for part in loc:
            if node is None:
                break
            line = node.start_mark.line + 1
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                node = next((v for k, v in node.value if k.value == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
            else:
                node = None
        return node.start_mark.line + 1 if node is not None else line

    def add(self, loc: Loc, message: str) -> None:
        self.problems.append(Problem(self.name, format_loc(loc), message, self.line_of(loc) if loc else None))

    def parse(self, model: type[M]) -> M | None:
        if self.node is None:
            return None
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = tuple(p for p in err["loc"] if p != "[key]")
                self.add(loc, _describe(err))
            return None


def _describe(err: Any) -> str:
    kind, got = err["type"], short(err.get("input"))
    if kind == "config_invalid":
        return err["msg"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key (remove it or check its spelling)"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be a mapping of 'key: value' lines (got {got})"
    if kind == "list_type":
        return f"must be a list of '- ' entries (got {got})"
    if kind in ("too_short", "too_long"):
        wanted = (err.get("ctx") or {}).get("min_length" if kind == "too_short" else "max_length")
        if kind == "too_short" and wanted in (None, 1):
            return "must not be empty"
        return f"must have {'at least' if kind == 'too_short' else 'at most'} {wanted} entries (got {got})"
    return f"{err['msg'].replace('Input should be', 'must be', 1)} (got {got})"


def _no_duplicates(entries: Iterable[tuple[str, Loc]], what: str, src: _Source) -> None:
    seen: dict[str, Loc] = {}
    for code, loc in entries:
        if code in seen:
            src.add(loc, f"duplicate {what} '{code}' (already used at {format_loc(seen[code])})")
        seen.setdefault(code, loc)


class Config:
    """The validated configuration with look-ups for event classification, time limits and dispatch."""

    def __init__(self, city: City, categories: list[Category], departments: list[Department], routing: DispatchFile):
        self.city = city
        self.categories = categories
        self.departments = departments
        self.default_department = routing.default_department
        self.rules = routing.rules
        self._categories = {c.code: c for c in categories}
        self._items = {i.code: (i, c) for c in categories for i in c.items}
        self._departments = {d.code: d for d in departments}
        self._districts = {d.code: d for d in city.districts}
        self._routes = {(r.target, r.district): r.department for r in routing.rules}
        self._time_limits: dict[tuple[str, str], timedelta] = {}  # found once each: ingest asks per report
        self._dispatched: dict[tuple[str, str | None], str] = {}

    def category(self, code: str) -> Category:
        return self._categories[code]

    def item(self, code: str) -> SubItem:
        return self._items[code][0]

    def item_category(self, item_code: str) -> Category:
        return self._items[item_code][1]

    def department(self, code: str) -> Department:
        return self._departments[code]

    def district(self, code: str) -> District:
        return self._districts[code]

    @property
    def items(self) -> list[SubItem]:
        return [item for item, _ in self._items.values()]

    def time_limit(self, item_code: str, urgency: Urgency | str) -> timedelta:
        found = self._time_limits.get((item_code, urgency))
        if found is None:
            item, category = self._items[item_code]
            level = Urgency(urgency)
            found = self._time_limits[(item_code, urgency)] = timedelta(hours=item.time_limit_hours.get(level, category.time_limit_hours[level]))
        return found

    def alert_level(self, item_code: str) -> str | None:
        item, category = self._items[item_code]
        return item.alert or category.alert

    def dispatch(self, item_code: str, district_code: str | None = None) -> str:
        """Department code for an item; raises KeyError for an unknown item or district."""
        found = self._dispatched.get((item_code, district_code))
        if found is None:
            found = self._dispatched[(item_code, district_code)] = self._route(item_code, district_code)
        return found

    def _route(self, item_code: str, district_code: str | None) -> str:
        _, category = self._items[item_code]
        if district_code is not None and district_code not in self._districts:
            raise KeyError(district_code)
        for target in (("item", item_code), ("category", category.code)):
            for district in (district_code, None):
                if (target, district) in self._routes:
                    return self._routes[(target, district)]
        assert self.default_department is not None, "load_config guarantees every category has a route"
        return self.default_department


def load_config(directory: Path | str) -> Config:
    """Read city.yaml, categories.yaml, departments.yaml and dispatch.yaml from ``directory``."""
    directory = Path(directory).resolve()
    problems: list[Problem] = []
    sources = {name: _Source(directory, name, problems) for name in (CITY, CATEGORIES, DEPARTMENTS, DISPATCH)}
    city = sources[CITY].parse(City)
    cats = sources[CATEGORIES].parse(CategoriesFile)
    depts = sources[DEPARTMENTS].parse(DepartmentsFile)
    routing = sources[DISPATCH].parse(DispatchFile)

    if cats is not None:
        _check_categories(cats, sources[CATEGORIES])
    if depts is not None:
        _check_departments(depts, city, sources[DEPARTMENTS])
    if routing is not None and cats is not None and depts is not None:
        _check_dispatch(routing, cats, depts, city, sources[DISPATCH])
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: list(sources).index(p.file)))
    assert city and cats and depts and routing  # each is None only after a problem was recorded
    return Config(city, cats.categories, depts.departments, routing)


def _check_categories(cats: CategoriesFile, src: _Source) -> None:
    _no_duplicates(((c.code, ("categories", i, "code")) for i, c in enumerate(cats.categories)), "category code", src)
    items = []
    for i, cat in enumerate(cats.categories):
        for j, item in enumerate(cat.items):
            loc: Loc = ("categories", i, "items", j)
            items.append((item.code, (*loc, "code")))
            if not item.code.startswith(cat.code):
                src.add((*loc, "code"), f"item code '{item.code}' must start with its category code '{cat.code}'")
            limits = {**cat.time_limit_hours, **item.time_limit_hours}
            if item.time_limit_hours and (problem := check_limit_order(limits)):
                src.add((*loc, "time_limit_hours"), f"together with the category's limits, {problem}")
    _no_duplicates(items, "item code", src)


def _check_departments(depts: DepartmentsFile, city: City | None, src: _Source) -> None:
    codes = ((d.code, ("departments", i, "code")) for i, d in enumerate(depts.departments))
    _no_duplicates(codes, "department code", src)
    for i, dept in enumerate(depts.departments):
        if dept.level == "district" and dept.district is None:
            src.add(("departments", i), "a district-level department needs 'district' (its 6-digit code)")
        elif dept.level == "city" and dept.district is not None:
            src.add(("departments", i, "district"), "a city-level department cannot belong to a district")
        elif dept.district is not None and city is not None:
            _check_district(dept.district, city, src, ("departments", i, "district"))


def _check_district(code: str, city: City, src: _Source, loc: Loc) -> None:
    if all(d.code != code for d in city.districts):
        known = ", ".join(f"{d.code} {d.name}" for d in city.districts)
        src.add(loc, f"unknown district '{code}' (city.yaml lists: {known})")


def _check_dispatch(
    routing: DispatchFile, cats: CategoriesFile, depts: DepartmentsFile, city: City | None, src: _Source
) -> None:
    known_depts = {d.code: d for d in depts.departments}
    districts = {d.code for d in city.districts} if city is not None else set()
    known: dict[str, set[str]] = {
        "category": {c.code for c in cats.categories},
        "item": {i.code for c in cats.categories for i in c.items},
    }
    if routing.default_department is not None and routing.default_department not in known_depts:
        src.add(("default_department",), f"unknown department '{routing.default_department}'")
    seen: dict[tuple[tuple[str, str], str | None], int] = {}
    for i, rule in enumerate(routing.rules):
        kind, code = rule.target
        if code not in known[kind]:
            src.add(("rules", i, kind), f"unknown {kind} '{code}'")
        if rule.district is not None and city is not None:
            _check_district(rule.district, city, src, ("rules", i, "district"))
        dept = known_depts.get(rule.department)
        if dept is None:
            src.add(("rules", i, "department"), f"unknown department '{rule.department}'")
        elif dept.level == "district" and dept.district in districts and dept.district != rule.district:
            src.add(
                ("rules", i, "department"),
                f"'{dept.code}' ({dept.name}) only serves district {dept.district}; "
                f"use it only in rules with 'district: \"{dept.district}\"'",
            )
        key = (rule.target, rule.district)
        if key in seen:
            where = f" in district {rule.district}" if rule.district else ""
            src.add(("rules", i), f"duplicate rule: rules[{seen[key]}] already routes {kind} '{code}'{where}")
        seen.setdefault(key, i)
    if routing.default_department is None:
        citywide = {rule.target for rule in routing.rules if rule.district is None}
        for cat in cats.categories:
            if ("category", cat.code) not in citywide and any(("item", i.code) not in citywide for i in cat.items):
                src.add(
                    ("rules",),
                    f"category '{cat.code}' ({cat.name}) has no route; add a rule "
                    f"'- {{category: {cat.code}, department: ...}}' or set default_department",
                )
