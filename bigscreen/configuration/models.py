"""Shapes of the four admin-editable YAML files (config/*.yaml).

These models check each file on its own: keys, types, ranges and code formats.
Checks that span several entries or files (duplicates, references) live in
``bigscreen.configuration.loading``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError


class Urgency(StrEnum):
    normal = "normal"
    urgent = "urgent"
    critical = "critical"

    @property
    def label_zh(self) -> str:
        return URGENCY_LABELS_ZH[self]

    @classmethod
    def _missing_(cls, value: object) -> Urgency | None:
        # Lets admins and callers use the Chinese labels: Urgency("紧急") is Urgency.urgent.
        return next((u for u, label in URGENCY_LABELS_ZH.items() if label == value), None)


URGENCY_LABELS_ZH: dict[Urgency, str] = {
    Urgency.normal: "一般",
    Urgency.urgent: "紧急",
    Urgency.critical: "特急",
}

LEVEL_ORDER: tuple[str, ...] = ("city", "district", "street", "community", "grid", "committee", "building")
DEFAULT_LEVELS: tuple[str, ...] = LEVEL_ORDER[:5]
MIN_DEPTH, MAX_DEPTH = 4, 6

AlertLevel = Literal["red", "orange", "yellow", "blue"]
Level = Literal["city", "district", "street", "community", "grid", "committee", "building"]


def short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fail(message: str, **context: Any) -> PydanticCustomError:
    # Errors of type "config_invalid" carry a finished, admin-readable message; the loader shows it as is.
    return PydanticCustomError("config_invalid", message, {k: short(v) for k, v in context.items()})


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail("must be non-empty text (got {got})", got=value)
    return value.strip()


def _code(pattern: str, what: str, allow_int: bool = False) -> BeforeValidator:
    regex = re.compile(pattern)

    def check(value: Any) -> str:
        # YAML reads an unquoted 370502 as a number; accept it for administrative codes.
        if allow_int and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not regex.fullmatch(value):
            raise _fail("must be " + what + " (got {got})", got=value)
        return value

    return BeforeValidator(check)


def _numeric(what: str, ok: Callable[[float], bool], whole: bool = False) -> BeforeValidator:
    def check(value: Any) -> float | int:
        kinds = int if whole else int | float
        if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or not ok(value):
            raise _fail("must be " + what + " (got {got})", got=value)
        return value if whole else float(value)

    return BeforeValidator(check)


Text = Annotated[str, BeforeValidator(_text)]
CategoryCode = Annotated[str, _code(r"[A-Z]{2,4}", "2 to 4 uppercase letters, e.g. 'MS'")]
ItemCode = Annotated[str, _code(r"[A-Z]{2,4}[0-9]{2}", "the category code plus 2 digits, e.g. 'MS01'")]
DepartmentCode = Annotated[
    str, _code(r"[A-Z][A-Z0-9_]{1,19}", "uppercase letters, digits or '_' (2 to 20 characters), e.g. 'CGJ'")
]
AdCode = Annotated[str, _code(r"[0-9]{6}", "a 6-digit administrative code, e.g. '370502'", allow_int=True)]
Hours = Annotated[float, _numeric("a positive number of hours", lambda x: x > 0)]
Rate = Annotated[float, _numeric("a rate above 0 and at most 1, e.g. 0.98", lambda x: 0 < x <= 1)]
Positive = Annotated[float, _numeric("a positive number", lambda x: x > 0)]
Latitude = Annotated[float, _numeric("a latitude between -90 and 90", lambda x: -90 <= x <= 90)]
Longitude = Annotated[float, _numeric("a longitude between -180 and 180", lambda x: -180 <= x <= 180)]
Zoom = Annotated[int, _numeric("a whole number from 1 to 18", lambda x: 1 <= x <= 18, whole=True)]
Count = Annotated[int, _numeric("a positive whole number", lambda x: x > 0, whole=True)]
Seed = Annotated[int, _numeric("a whole number", lambda x: True, whole=True)]

def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail("must be an IANA time zone such as 'Asia/Shanghai' (got {got})", got=value) from None
    return value


EARLIEST_POSSIBLE = date(1990, 1, 1)  # no city ran grid-based governance before; earlier is a typo


def _plausible_start(value: date) -> date:
    if not EARLIEST_POSSIBLE <= value <= date.today():
        raise _fail(f"must be a date from {EARLIEST_POSSIBLE.isoformat()} to today (got {{got}})", got=value.isoformat())
    return value


def _levels(levels: list[str]) -> list[str]:
    ranks = [LEVEL_ORDER.index(level) for level in levels]
    if not levels or levels[0] != "city":
        raise _fail("must start with 'city' (got {got})", got=levels)
    if "grid" not in levels:
        raise _fail("must include 'grid', the base grid (got {got})", got=levels)
    if any(a >= b for a, b in zip(ranks, ranks[1:])):
        raise _fail("must follow the order " + " > ".join(LEVEL_ORDER) + " without repeats (got {got})", got=levels)
    if not MIN_DEPTH <= len(levels) - 1 <= MAX_DEPTH:
        raise _fail(f"must have {MIN_DEPTH} to {MAX_DEPTH} levels below 'city' (got {{got}})", got=levels)
    return levels


def _all_urgencies(limits: dict[Urgency, float]) -> dict[Urgency, float]:
    missing = [u.value for u in Urgency if u not in limits]
    if missing:
        raise PydanticCustomError("config_invalid", "needs normal, urgent and critical; missing " + ", ".join(missing))
    return limits


def check_limit_order(limits: dict[Urgency, float]) -> str | None:
    """Why these limits are inconsistent, or None: more urgent cases never get more time."""
    ordered = list(Urgency)
    for slower, faster in zip(ordered, ordered[1:]):
        if slower in limits and faster in limits and limits[faster] > limits[slower]:
            return (
                f"{faster.value} ({limits[faster]:g} h) must not be longer than "
                f"{slower.value} ({limits[slower]:g} h)"
            )
    return None


def _ordered_limits(limits: dict[Urgency, float]) -> dict[Urgency, float]:
    if problem := check_limit_order(limits):
        raise PydanticCustomError("config_invalid", problem)
    return limits


TimeLimits = Annotated[dict[Urgency, Hours], AfterValidator(_all_urgencies), AfterValidator(_ordered_limits)]
TimeLimitOverride = Annotated[dict[Urgency, Hours], AfterValidator(_ordered_limits)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Center(_Model):
    lat: Latitude
    lon: Longitude


class District(_Model):
    code: AdCode
    name: Text
    name_en: Text


class Targets(_Model):
    """考核目标: the wall's gauges and the laggards a report marks (docs/METRICS.md, "Reports")."""

    closure_rate: Rate = 0.98
    ontime_rate: Rate = 0.98
    satisfaction: Rate = 0.95
    avg_handling_hours: Hours = 24.0
    resolved_locally_share: Rate = 0.95  # 小事不出网格, 大事不出社区 (Dongying: 95%)
    mediation_success: Rate = 0.98  # 调解成功率 (Kongtong: 98.68%)


class Demo(_Model):
    seed: Seed = 370500
    grids: Count = 6000
    population: Count = 2_200_000
    households_per_grid: Count = 300


class Workforce(_Model):
    """一日两巡五访: what each grid worker is expected to do a day (the wall's targets), and the
    share of workers the demo brings on duty."""

    patrols_per_day: Count = 2      # 每日巡查 / patrols of the grid
    visits_per_day: Count = 5       # 每日走访 / household visits
    on_duty_share: Rate = 0.95      # 演示: 每日签到上岗比例 / demo: share of workers who check in


Weight = Annotated[float, _numeric("a number of points from 0 to 100", lambda x: 0 <= x <= 100)]


class AssessmentWeights(_Model):
    """网格员考核: the points each component of a worker's score is worth; together exactly 100."""

    reports: Weight        # 事件上报 / cases reported from the grid app
    field_work: Weight     # 两巡五访 / patrols and visits against the daily norm
    ontime: Weight         # 按期办结 / the grid's cases closed on time
    satisfaction: Weight   # 群众满意 / the grid's satisfied ratings
    supervision: Weight    # 督办扣分 / supervision notices against the grid's cases

    @model_validator(mode="after")
    def _hundred(self) -> AssessmentWeights:
        total = sum(getattr(self, name) for name in type(self).model_fields)
        if not math.isclose(total, 100.0, abs_tol=1e-9):
            parts = " + ".join(f"{name} {getattr(self, name):g}" for name in type(self).model_fields)
            raise PydanticCustomError("config_invalid", f"must add up to exactly 100 (got {total:g}: {parts})")
        return self


class Assessment(_Model):
    """网格员考核 (docs/METRICS.md, "Grid-worker assessment"): the weights, and the points a
    supervision notice against the worker's grid takes off that component's 100."""

    weights: AssessmentWeights = Field(default_factory=lambda: AssessmentWeights(
        reports=25, field_work=30, ontime=20, satisfaction=15, supervision=10))
    supervision_penalty: Annotated[float, _numeric("a number of points above 0 and at most 100",
                                                   lambda x: 0 < x <= 100)] = 20.0


Minutes = Annotated[float, _numeric("a positive number of minutes", lambda x: x > 0)]


class Supervision(_Model):
    """三次督办: when an overdue case (or a whistled department that has not reported in) gets
    its notices, and the warning colour of the alert each one raises."""

    first_after_hours: Annotated[float, _numeric("a number of hours, 0 or more", lambda x: x >= 0)] = 0.0
    second_after_hours: Hours = 24.0
    third_after_hours: Hours = 24.0
    second_level: Literal["street", "district"] = "street"
    colours: Annotated[list[AlertLevel], Field(min_length=3, max_length=3)] = Field(
        default_factory=lambda: ["yellow", "orange", "red"])

    def delays(self) -> tuple[float, float, float]:
        """Hours from the deadline to the first notice, then between notices."""
        return (self.first_after_hours, self.second_after_hours, self.third_after_hours)


class WhistleKind(_Model):
    report_within_minutes: Minutes
    colour: AlertLevel


def _default_whistles() -> dict[str, WhistleKind]:
    return {
        "emergency": WhistleKind(report_within_minutes=30, colour="red"),
        "assembly": WhistleKind(report_within_minutes=120, colour="orange"),
        "livelihood": WhistleKind(report_within_minutes=1440, colour="yellow"),
    }


def _default_ack_windows() -> dict[str, float]:
    return {"red": 5, "orange": 15, "yellow": 60, "blue": 240}


class Spikes(_Model):
    """An area's events in the last hour at least `factor` times its usual level for that hour."""

    factor: Positive = 3.0
    min_events: Count = 5           # fewer than this in the hour is never a spike
    history_days: Count = 28        # the usual level: the same hour of day over these days
    level: Literal["district", "street", "community"] = "street"
    colour: AlertLevel = "orange"


class Alerts(_Model):
    ack_minutes: dict[AlertLevel, Minutes] = Field(default_factory=_default_ack_windows)
    repeat_window_minutes: Minutes = 60   # the same source and subject within this counts up
    emergency_colours: list[AlertLevel] = Field(default_factory=lambda: ["red", "orange"])
    sound: bool = False
    webhook_url: str | None = None
    spikes: Spikes = Field(default_factory=Spikes)


class ScheduledReports(_Model):
    """定期报告: the reports the leading scheduler produces and keeps (周小结 every Monday, 月分析 on the
    1st, 季排名 after each quarter), for every area of these levels, at `due_at` local time on the day
    after the period."""

    levels: list[Level] = Field(default_factory=lambda: ["city", "district"])
    due_at: time = time(8, 0)
    # kept of each report: all three unless told (a scheduler's host without Chromium: html and xlsx)
    formats: list[Literal["html", "pdf", "xlsx"]] = Field(default_factory=lambda: ["html", "pdf", "xlsx"], min_length=1)


class City(_Model):
    name: Text
    name_en: Text
    code: AdCode
    title: Text
    title_en: Text
    center: Center
    zoom: Zoom = 9
    timezone: Annotated[Text, AfterValidator(_timezone)] = "Asia/Shanghai"
    levels: Annotated[list[Level], AfterValidator(_levels)] = Field(default_factory=lambda: list(DEFAULT_LEVELS))
    districts: list[District] = Field(min_length=1)
    targets: Targets = Field(default_factory=Targets)
    demo: Demo = Field(default_factory=Demo)
    supervision: Supervision = Field(default_factory=Supervision)
    whistles: dict[Literal["assembly", "livelihood", "emergency"], WhistleKind] = Field(default_factory=_default_whistles)
    alerts: Alerts = Field(default_factory=Alerts)
    workforce: Workforce = Field(default_factory=Workforce)
    assessment: Assessment = Field(default_factory=Assessment)
    scheduled_reports: ScheduledReports = Field(default_factory=ScheduledReports)
    # Times that sources send (reports, steps of a case, field work) must not be earlier than this
    # day: the go-live of the city's system, or earlier to import older records.
    earliest_date: Annotated[date, AfterValidator(_plausible_start)] = date(2000, 1, 1)

    @model_validator(mode="after")
    def _report_levels(self) -> City:
        for level in self.scheduled_reports.levels:
            if level not in self.levels or level == "grid":
                raise _fail("scheduled_reports.levels: {got} is not a level of this city above its grids ("
                            + ", ".join(lv for lv in self.levels if lv != "grid") + ")", got=level)
        return self

    def earliest_time(self) -> datetime:
        """The first moment a source's time may name: `earliest_date` at midnight, the city's time."""
        return datetime.combine(self.earliest_date, time(), ZoneInfo(self.timezone))


class SubItem(_Model):
    code: ItemCode
    name: Text
    name_en: Text
    time_limit_hours: TimeLimitOverride = Field(default_factory=dict)
    alert: AlertLevel | None = None


class Category(_Model):
    code: CategoryCode
    name: Text
    name_en: Text
    weight: Positive
    alert: AlertLevel | None = None
    dispute: bool = False
    time_limit_hours: TimeLimits
    items: list[SubItem] = Field(min_length=1)


class CategoriesFile(_Model):
    categories: list[Category] = Field(min_length=1)


class Department(_Model):
    code: DepartmentCode
    name: Text
    name_en: Text
    level: Literal["city", "district", "enterprise"]
    district: AdCode | None = None


class DepartmentsFile(_Model):
    departments: list[Department] = Field(min_length=1)


class Rule(_Model):
    category: CategoryCode | None = None
    item: ItemCode | None = None
    department: DepartmentCode
    district: AdCode | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Rule:
        if (self.category is None) == (self.item is None):
            raise PydanticCustomError("config_invalid", "give exactly one of 'category' or 'item'")
        return self

    @property
    def target(self) -> tuple[str, str]:
        return ("item", self.item) if self.item else ("category", self.category or "")


class DispatchFile(_Model):
    default_department: DepartmentCode | None = None
    rules: list[Rule] = Field(default_factory=list)
