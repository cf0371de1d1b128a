"""The shipped config/*.yaml and the validation of what an admin may break in it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bigscreen.configuration.loading import URGENCY_LABELS_ZH, Config, ConfigError, Urgency, load_config

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
DONGYING_DISTRICTS = {"370502", "370503", "370505", "370522", "370523"}


@pytest.fixture(scope="module")
def cfg() -> Config:
    return load_config(CONFIG_DIR)


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    return target


def edit(directory: Path, name: str, change: Callable[[Any], object]) -> None:
    path = directory / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def config_error(directory: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(directory)
    return info.value


def index_of(entries: list[dict[str, Any]], code: str) -> int:
    return next(i for i, entry in enumerate(entries) if entry["code"] == code)


# --- the shipped configuration ------------------------------------------------------------


def test_city(cfg: Config) -> None:
    city = cfg.city
    assert (city.name, city.code, city.timezone, city.zoom) == ("东营市", "370500", "Asia/Shanghai", 9)
    assert city.title == "东营市社会治理综合指挥中心" and city.title_en
    assert city.center.lat == pytest.approx(37.46, abs=0.1) and city.center.lon == pytest.approx(118.67, abs=0.1)
    assert city.levels == ["city", "district", "street", "community", "grid"]
    assert {d.code for d in city.districts} == DONGYING_DISTRICTS
    assert (city.targets.closure_rate, city.targets.ontime_rate, city.targets.satisfaction) == (0.98, 0.98, 0.95)
    assert city.targets.avg_handling_hours == 24
    assert (city.targets.resolved_locally_share, city.targets.mediation_success) == (0.95, 0.98)
    assert city.earliest_date.isoformat() == "2000-01-01"
    assert city.earliest_time().isoformat() == "2000-01-01T00:00:00+08:00", "midnight, the city's time"
    assert (city.workforce.patrols_per_day, city.workforce.visits_per_day, city.workforce.on_duty_share) == (2, 5, 0.95)
    assert (city.demo.seed, city.demo.grids, city.demo.population, city.demo.households_per_grid) == (
        370500, 6000, 2_200_000, 140,
    )


def test_categories(cfg: Config) -> None:
    assert len(cfg.categories) == 15
    assert len({c.code for c in cfg.categories}) == 15
    assert len(cfg.items) >= 100
    assert len({i.code for i in cfg.items}) == len(cfg.items)
    weights = {c.name: c.weight for c in cfg.categories}
    assert weights["市容环卫"] > weights["安全隐患"] > weights["消防安全"] > weights["应急防汛"]
    for category in cfg.categories:
        assert 5 <= len(category.items) <= 12, category.code
        limits = category.time_limit_hours
        assert 24 <= limits[Urgency.normal] <= 168, category.code
        assert 4 <= limits[Urgency.urgent] <= 24, category.code
        assert 0.5 <= limits[Urgency.critical] <= 2, category.code
        assert all(item.code.startswith(category.code) for item in category.items)


def test_departments(cfg: Config) -> None:
    assert len(cfg.departments) >= 30
    names = {d.name for d in cfg.departments}
    assert {"市城市管理局", "市公安局", "市消防救援支队", "国网东营供电公司"} <= names
    assert "东营区综合行政执法局" in names
    for dept in cfg.departments:
        assert (dept.district is not None) == (dept.level == "district"), dept.code
        assert dept.district is None or dept.district in DONGYING_DISTRICTS


def test_every_item_is_dispatchable_everywhere(cfg: Config) -> None:
    for item in cfg.items:
        for district in [None, *DONGYING_DISTRICTS]:
            dept = cfg.department(cfg.dispatch(item.code, district))
            assert dept.district in (None, district), (item.code, district, dept.code)


def test_shipped_overrides(cfg: Config) -> None:
    assert cfg.dispatch("SR02", None) == "CGJ"
    assert cfg.dispatch("SR02", "370502") == "DYQ_ZFJ"  # category + district
    assert cfg.dispatch("SR02", "370523") == "GRX_ZFJ"
    assert cfg.dispatch("SR01", "370502") == "ZJJ"  # item beats category + district
    assert cfg.dispatch("CJ01", "370502") == "DYQ_ZFJ"  # item + district
    assert cfg.dispatch("CJ01", "370505") == "CGJ"
    assert cfg.dispatch("CJ03", "370502") == "ZJJ"
    assert cfg.dispatch("MS02") == "GDGS"
    assert cfg.dispatch("AQ01", "370503") == "RQGS"


def test_dispatch_precedence(config_copy: Path) -> None:
    def rules(data: dict[str, Any]) -> None:
        data["rules"] = [r for r in data["rules"] if not r.get("category", r.get("item")).startswith("LD")]
        data["rules"] += [
            {"category": "LD", "department": "RSJ"},
            {"category": "LD", "district": "370502", "department": "DYQ_ZFJ"},
            {"item": "LD01", "department": "SFJ"},
            {"item": "LD01", "district": "370502", "department": "DYQ_GA"},
        ]

    edit(config_copy, "dispatch.yaml", rules)
    cfg = load_config(config_copy)
    assert cfg.dispatch("LD01", "370502") == "DYQ_GA"
    assert cfg.dispatch("LD01", "370503") == "SFJ"
    assert cfg.dispatch("LD02", "370502") == "DYQ_ZFJ"
    assert cfg.dispatch("LD02", "370503") == "RSJ"
    assert cfg.dispatch("LD02", None) == "RSJ"

    edit(config_copy, "dispatch.yaml", lambda d: d.update(rules=[r for r in d["rules"] if r.get("category") != "LD"]))
    cfg = load_config(str(config_copy))
    assert cfg.dispatch("LD02", "370502") == cfg.default_department == "ZHZX"
    assert cfg.dispatch("LD01", None) == "SFJ"


def test_time_limits(cfg: Config) -> None:
    assert cfg.time_limit("SS01", Urgency.urgent) == timedelta(hours=2)  # item override
    assert cfg.time_limit("SS02", "urgent") == timedelta(hours=24)  # category
    assert cfg.time_limit("XF01", "critical") == timedelta(minutes=30)
    with pytest.raises(ValueError):
        cfg.time_limit("SS02", "soon")


def test_alert_levels(cfg: Config) -> None:
    assert cfg.alert_level("AQ01") == "red"  # item
    assert cfg.alert_level("YJ01") == "orange"  # category
    assert cfg.alert_level("YJ02") == "red"
    assert cfg.alert_level("MS01") is None


def test_lookups(cfg: Config) -> None:
    assert cfg.category("SR").name == "市容环卫"
    assert cfg.item("SR01").name == "楼道堆放杂物"
    assert cfg.item_category("SR01").code == "SR"
    for call in (
        lambda: cfg.category("QQ"),
        lambda: cfg.item("QQ01"),
        lambda: cfg.item_category("QQ01"),
        lambda: cfg.time_limit("QQ01", "normal"),
        lambda: cfg.alert_level("QQ01"),
        lambda: cfg.dispatch("QQ01", None),
        lambda: cfg.dispatch("SR01", "110101"),
        lambda: cfg.department("QQ"),
    ):
        with pytest.raises(KeyError):
            call()


def test_urgency() -> None:
    assert [u.value for u in Urgency] == ["normal", "urgent", "critical"]
    assert Urgency("urgent") == "urgent"
    assert [u.label_zh for u in Urgency] == ["一般", "紧急", "特急"]
    assert URGENCY_LABELS_ZH[Urgency.critical] == "特急"
    assert Urgency("紧急") is Urgency.urgent
    with pytest.raises(ValueError):
        Urgency("soon")


def test_chinese_urgency_labels(config_copy: Path) -> None:
    edit(config_copy, "categories.yaml", _set("categories.0.time_limit_hours", {"一般": 48, "紧急": 12, "特急": 1}))
    cfg = load_config(config_copy)
    assert cfg.time_limit("MS05", "紧急") == cfg.time_limit("MS05", Urgency.urgent) == timedelta(hours=12)


@pytest.mark.parametrize(
    "levels",
    [
        None,
        ["city", "district", "street", "community", "grid", "committee"],
        ["city", "district", "street", "community", "grid", "committee", "building"],
        ["city", "district", "street", "community", "grid", "building"],
    ],
)
def test_valid_levels(config_copy: Path, levels: list[str] | None) -> None:
    edit(config_copy, "city.yaml", lambda d: d.update(levels=levels) if levels else d.pop("levels"))
    assert load_config(config_copy).city.levels == (levels or ["city", "district", "street", "community", "grid"])


def test_unquoted_codes_are_accepted(config_copy: Path) -> None:
    text = (config_copy / "dispatch.yaml").read_text(encoding="utf-8").replace('"370502"', "370502")
    (config_copy / "dispatch.yaml").write_text(text, encoding="utf-8")
    assert load_config(config_copy).dispatch("SR02", "370502") == "DYQ_ZFJ"


# --- what an admin may break ----------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[Any], None]:
    """A change that sets data[a][b]... from 'a.b.c' (digits index lists)."""

    def change(data: Any) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        for part in parents:
            data = data[part]
        data[last] = value

    return change


def _delete(path: str) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        for part in parents:
            data = data[part]
        del data[last]

    return change


def _add_rule(**rule: Any) -> Callable[[Any], None]:
    return lambda data: data["rules"].append(rule)


def _district_department(data: Any, code: str = "DYQ_ZFJ") -> dict[str, Any]:
    return data["departments"][index_of(data["departments"], code)]


BAD_INPUTS = {
    # unknown keys
    "unknown top-level key": ("city.yaml", _set("colour", "red"), "city.yaml: colour: unknown key"),
    "unknown nested key": (
        "categories.yaml",
        _set("categories.3.items.2.priority", 1),
        "categories.yaml: categories[3].items[2].priority: unknown key",
    ),
    "unknown rule key": ("dispatch.yaml", _set("rules.0.dept", "CGJ"), "dispatch.yaml: rules[0].dept: unknown key"),
    # wrong types and ranges
    "text latitude": ("city.yaml", _set("center.lat", "north"), "city.yaml: center.lat: must be a latitude"),
    "swapped lat/lon": (
        "city.yaml",
        _set("center", {"lat": 118.67, "lon": 37.46}),
        "city.yaml: center.lat: must be a latitude",
    ),
    "text zoom": ("city.yaml", _set("zoom", "9"), "city.yaml: zoom: must be a whole number from 1 to 18 (got '9')"),
    "percent as rate": (
        "city.yaml",
        _set("targets.closure_rate", 98),
        "city.yaml: targets.closure_rate: must be a rate above 0 and at most 1",
    ),
    "mediation target above 1": (
        "city.yaml",
        _set("targets.mediation_success", 1.5),
        "city.yaml: targets.mediation_success: must be a rate above 0 and at most 1",
    ),
    "zero grids": ("city.yaml", _set("demo.grids", 0), "city.yaml: demo.grids: must be a positive whole number"),
    "bad timezone": ("city.yaml", _set("timezone", "Beijing"), "city.yaml: timezone: must be an IANA time zone"),
    "missing required key": ("city.yaml", _delete("title"), "city.yaml: title: required key is missing"),
    "bad city code": ("city.yaml", _set("code", "3705"), "city.yaml: code: must be a 6-digit administrative code"),
    "boolean weight": ("categories.yaml", _set("categories.0.weight", True), "categories[0].weight: must be a positive"),
    "items not a list": ("categories.yaml", _set("categories.1.items", "MS01"), "categories[1].items: must be a list"),
    "empty items": ("categories.yaml", _set("categories.1.items", []), "categories[1].items: must not be empty"),
    "lowercase category code": (
        "categories.yaml",
        _set("categories.0.code", "ms"),
        "categories[0].code: must be 2 to 4 uppercase letters",
    ),
    "unknown alert colour": ("categories.yaml", _set("categories.0.alert", "purple"), "categories[0].alert:"),
    "unknown level": ("city.yaml", _set("levels", ["city", "district", "town", "grid"]), "city.yaml: levels[2]:"),
    "levels out of order": (
        "city.yaml",
        _set("levels", ["city", "street", "district", "community", "grid"]),
        "city.yaml: levels: must follow the order",
    ),
    "levels too shallow": (
        "city.yaml",
        _set("levels", ["city", "district", "community", "grid"]),
        "city.yaml: levels: must have 4 to 6 levels below 'city'",
    ),
    "levels without city": (
        "city.yaml",
        _set("levels", ["district", "street", "community", "grid", "committee"]),
        "city.yaml: levels: must start with 'city'",
    ),
    "levels without grid": (
        "city.yaml",
        _set("levels", ["city", "district", "street", "community", "committee"]),
        "city.yaml: levels: must include 'grid'",
    ),
    # time limits
    "negative time limit": (
        "categories.yaml",
        _set("categories.3.items.2.time_limit_hours", {"urgent": -4}),
        "categories.yaml: categories[3].items[2].time_limit_hours.urgent: must be a positive number of hours (got -4)",
    ),
    "zero time limit": (
        "categories.yaml",
        _set("categories.0.time_limit_hours.critical", 0),
        "categories[0].time_limit_hours.critical: must be a positive number of hours (got 0)",
    ),
    "text time limit": (
        "categories.yaml",
        _set("categories.0.time_limit_hours.normal", "3 days"),
        "categories[0].time_limit_hours.normal: must be a positive number of hours (got '3 days')",
    ),
    "missing urgency": (
        "categories.yaml",
        _delete("categories.0.time_limit_hours.critical"),
        "categories[0].time_limit_hours: needs normal, urgent and critical; missing critical",
    ),
    "unknown urgency": (
        "categories.yaml",
        _set("categories.0.time_limit_hours.soon", 4),
        "categories[0].time_limit_hours.soon:",
    ),
    "critical slower than urgent": (
        "categories.yaml",
        _set("categories.0.time_limit_hours.critical", 48),
        "categories[0].time_limit_hours: critical (48 h) must not be longer than urgent (24 h)",
    ),
    "item override slower than category": (
        "categories.yaml",
        _set("categories.0.items.0.time_limit_hours", {"urgent": 100}),
        "categories[0].items[0].time_limit_hours: together with the category's limits, urgent (100 h)",
    ),
    # codes
    "duplicate category code": (
        "categories.yaml",
        _set("categories.1.code", "MS"),
        "categories.yaml: categories[1].code: duplicate category code 'MS' (already used at categories[0].code)",
    ),
    "duplicate item code": (
        "categories.yaml",
        _set("categories.0.items.1.code", "MS01"),
        "categories.yaml: categories[0].items[1].code: duplicate item code 'MS01'",
    ),
    "item code of another category": (
        "categories.yaml",
        _set("categories.0.items.0.code", "HB99"),
        "categories.yaml: categories[0].items[0].code: item code 'HB99' must start with its category code 'MS'",
    ),
    "duplicate department code": (
        "departments.yaml",
        _set("departments.5.code", "CGJ"),
        "departments.yaml: departments[5].code: duplicate department code 'CGJ'",
    ),
    "bad department level": ("departments.yaml", _set("departments.0.level", "province"), "departments[0].level:"),
    "district department without district": (
        "departments.yaml",
        lambda d: _district_department(d).pop("district"),
        "needs 'district'",
    ),
    "department in unknown district": (
        "departments.yaml",
        lambda d: _district_department(d).update(district="370599"),
        "district: unknown district '370599'",
    ),
    "city department with a district": (
        "departments.yaml",
        _set("departments.3.district", "370502"),
        "departments[3].district: a city-level department cannot belong to a district",
    ),
    # dispatch rules
    "rule to unknown department": (
        "dispatch.yaml",
        _set("rules.5.department", "XYZ"),
        "dispatch.yaml: rules[5].department: unknown department 'XYZ'",
    ),
    "rule for unknown category": (
        "dispatch.yaml",
        _set("rules.0.category", "ZZ"),
        "dispatch.yaml: rules[0].category: unknown category 'ZZ'",
    ),
    "rule for unknown item": (
        "dispatch.yaml",
        _set("rules.1.item", "MS99"),
        "dispatch.yaml: rules[1].item: unknown item 'MS99'",
    ),
    "rule with category and item": (
        "dispatch.yaml",
        _set("rules.1.category", "MS"),
        "dispatch.yaml: rules[1]: give exactly one of 'category' or 'item'",
    ),
    "rule with neither category nor item": (
        "dispatch.yaml",
        _add_rule(department="CGJ"),
        "give exactly one of 'category' or 'item'",
    ),
    "rule in unknown district": (
        "dispatch.yaml",
        _add_rule(category="MS", district="370599", department="CGJ"),
        "district: unknown district '370599'",
    ),
    "district department for the whole city": (
        "dispatch.yaml",
        _add_rule(item="MS05", department="DYQ_ZFJ"),
        "department: 'DYQ_ZFJ' (东营区综合行政执法局) only serves district 370502",
    ),
    "district department in another district": (
        "dispatch.yaml",
        _add_rule(item="MS05", district="370503", department="DYQ_ZFJ"),
        "only serves district 370502",
    ),
    "duplicate rule": (
        "dispatch.yaml",
        lambda d: d["rules"].append(dict(d["rules"][0])),
        "duplicate rule: rules[0] already routes category 'MS'",
    ),
    "unknown default department": (
        "dispatch.yaml",
        _set("default_department", "NOBODY"),
        "dispatch.yaml: default_department: unknown department 'NOBODY'",
    ),
    "supervision interval not a number": (
        "city.yaml", _set("supervision.second_after_hours", "一天"),
        "city.yaml: supervision.second_after_hours: must be a positive number of hours",
    ),
    "supervision colour unknown": (
        "city.yaml", _set("supervision.colours", ["yellow", "orange", "purple"]),
        "city.yaml: supervision.colours[2]: must be 'red', 'orange', 'yellow' or 'blue' (got 'purple')",
    ),
    "supervision needs three colours": (
        "city.yaml", _set("supervision.colours", ["red"]), "city.yaml: supervision.colours: must have at least 3 entries (got ['red'])",
    ),
    "unknown whistle kind": (
        "city.yaml", _set("whistles.party", {"report_within_minutes": 5, "colour": "red"}), "city.yaml: whistles.party",
    ),
    "whistle report time negative": (
        "city.yaml", _set("whistles.emergency.report_within_minutes", -5),
        "city.yaml: whistles.emergency.report_within_minutes: must be a positive number of minutes",
    ),
    "patrols a day not a whole number": (
        "city.yaml", _set("workforce.patrols_per_day", 1.5),
        "city.yaml: workforce.patrols_per_day: must be a positive whole number (got 1.5)",
    ),
    "no visits a day": (
        "city.yaml", _set("workforce.visits_per_day", 0), "city.yaml: workforce.visits_per_day: must be a positive whole number",
    ),
    "on-duty share as a percentage": (
        "city.yaml", _set("workforce.on_duty_share", 95),
        "city.yaml: workforce.on_duty_share: must be a rate above 0 and at most 1, e.g. 0.98 (got 95)",
    ),
    "earliest date not a date": (
        "city.yaml", _set("earliest_date", "去年"), "city.yaml: earliest_date: must be a valid date",
    ),
    "earliest date in the future": (
        "city.yaml", _set("earliest_date", "2999-01-01"),
        "city.yaml: earliest_date: must be a date from 1990-01-01 to today (got '2999-01-01')",
    ),
    "earliest date before grid governance": (
        "city.yaml", _set("earliest_date", "1970-01-01"), "city.yaml: earliest_date: must be a date from 1990-01-01",
    ),
    "scheduled reports for grids": (
        "city.yaml", _set("scheduled_reports", {"levels": ["city", "grid"]}),
        "city.yaml: scheduled_reports.levels: 'grid' is not a level of this city above its grids (city, district, street, community)",
    ),
    "scheduled reports due at no time": (
        "city.yaml", _set("scheduled_reports", {"due_at": "八点"}), "city.yaml: scheduled_reports.due_at:",
    ),
    "unknown workforce key": ("city.yaml", _set("workforce.naps_per_day", 1), "city.yaml: workforce.naps_per_day: unknown key"),
    "dispute flag not a boolean": ("categories.yaml", _set("categories.3.dispute", "maybe"), "categories.yaml: categories[3].dispute"),
    "category without a route": (
        "dispatch.yaml",
        lambda d: d.update(default_department=None, rules=[r for r in d["rules"] if r.get("category") != "XF"]),
        "dispatch.yaml: rules: category 'XF' (消防安全) has no route",
    ),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input(config_copy: Path, name: str) -> None:
    file, change, expected = BAD_INPUTS[name]
    edit(config_copy, file, change)
    error = config_error(config_copy)
    assert expected in str(error)
    assert error.file == file
    assert "pydantic" not in str(error) and "Traceback" not in str(error)


def test_error_attributes_and_line(config_copy: Path) -> None:
    path = config_copy / "dispatch.yaml"
    text = path.read_text(encoding="utf-8")
    rule = "{item: MS02, department: GDGS}"
    line = text.splitlines().index(f"  - {rule}") + 1
    path.write_text(text.replace(rule, "{item: MS02, department: XYZ}"), encoding="utf-8")
    error = config_error(config_copy)
    assert error.file == "dispatch.yaml"
    assert (error.key, error.message) == ("rules[2].department", "unknown department 'XYZ'")
    assert str(error) == f"dispatch.yaml: rules[2].department: unknown department 'XYZ' (line {line})"
    assert error.problems[0].line == line


def test_several_problems_are_reported_together(config_copy: Path) -> None:
    edit(config_copy, "city.yaml", _set("zoom", 40))
    edit(config_copy, "dispatch.yaml", _set("rules.5.department", "XYZ"))
    error = config_error(config_copy)
    assert [p.file for p in error.problems] == ["city.yaml", "dispatch.yaml"]
    assert str(error).startswith("2 configuration problems:")
    assert "city.yaml: zoom:" in str(error) and "dispatch.yaml: rules[5].department:" in str(error)


def test_top_level_not_a_mapping(config_copy: Path) -> None:
    (config_copy / "dispatch.yaml").write_text("- {category: MS, department: CGJ}\n", encoding="utf-8")
    assert str(config_error(config_copy)).startswith("dispatch.yaml: must be a mapping of 'key: value' lines")


def test_missing_file(config_copy: Path) -> None:
    (config_copy / "departments.yaml").unlink()
    error = config_error(config_copy)
    assert str(error).startswith("departments.yaml: file not found")


def test_missing_directory(tmp_path: Path) -> None:
    error = config_error(tmp_path / "nowhere")
    assert {p.file for p in error.problems} == {"city.yaml", "categories.yaml", "departments.yaml", "dispatch.yaml"}


def test_empty_file(config_copy: Path) -> None:
    (config_copy / "categories.yaml").write_text("# nothing yet\n", encoding="utf-8")
    assert str(config_error(config_copy)) == "categories.yaml: file is empty"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("categories:\n  - code: MS\n    name: [民生问题\n", 4),
        ("categories:\n  - code: MS\n\tname: 民生问题\n", 3),
        ("categories:\n  - {code: MS name: 民生问题}\n", 2),
    ],
)
def test_yaml_syntax_error(config_copy: Path, text: str, line: int) -> None:
    (config_copy / "categories.yaml").write_text(text, encoding="utf-8")
    error = config_error(config_copy)
    assert str(error).startswith(f"categories.yaml: line {line}")
    assert "invalid YAML" in str(error)
    assert error.problems[0].line == line


def test_yaml_duplicate_key(config_copy: Path) -> None:
    path = config_copy / "city.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "zoom: 12\n", encoding="utf-8")
    error = config_error(config_copy)
    line = len(path.read_text(encoding="utf-8").splitlines())
    assert str(error).startswith(f"city.yaml: line {line}")
    assert "duplicate key 'zoom'" in str(error)
