"""What sources may send: the validated shapes of incoming events and transitions, and the rules
every incoming body keeps (`Incoming`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

# C0 controls but tab, line feed and carriage return (text from a form's textarea ends lines with
# CR LF), DEL and the C1 controls: never part of what a person writes, and PostgreSQL cannot even
# store a NUL.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character_error(text: str) -> str | None:
    """Why `text` is refused (naming the first control character), or None."""
    found = CONTROL_CHARACTERS.search(text)
    return None if found is None else f"must not contain control characters (found U+{ord(found.group()):04X})"


class Incoming(BaseModel):
    """Every body a source or a person sends: unknown keys are refused, text is trimmed and holds no
    control characters (refused with the field's name rather than stripped: a source learns its
    data is garbled instead of having it silently changed)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        texts = (value,) if type(value) is str else value if type(value) is list else ()
        for text in texts:
            if type(text) is str and (problem := control_character_error(text)):
                raise PydanticCustomError("control_character", problem)
        return value


class Channel(StrEnum):
    GRID_APP = "grid_app"            # 网格员APP巡查上报
    HOTLINE_12345 = "hotline_12345"  # 12345热线
    CITIZEN_SNAP = "citizen_snap"    # 随手拍
    WECHAT_GROUP = "wechat_group"    # 微信网格群
    CITY_PLATFORM = "city_platform"  # 城市管理平台
    VIDEO = "video"                  # 雪亮工程
    SENSOR = "sensor"                # 物联感知


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"
    CRITICAL = "critical"


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso(value: Any) -> Any:
    """Only an ISO 8601 text (or a datetime): pydantic would read 0, 1.5 or "1733000000" as Unix
    seconds, which the document does not promise and no source means."""
    if value is None or isinstance(value, datetime) or (isinstance(value, str) and ISO_DATE.match(value.strip())):
        return value
    raise PydanticCustomError("datetime_type", "must be an ISO 8601 date and time with a timezone, "
                                               "e.g. 2026-11-22T09:30:00+08:00")


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise PydanticCustomError("timezone_aware", "must include a timezone, e.g. 2026-11-22T09:30:00+08:00")
    if value is not None:
        try:
            value.astimezone(UTC)  # 0001-01-01T00:00:00+14:00 has no UTC time: it would fail later, as a 500
        except OverflowError:
            raise PydanticCustomError("datetime_range", "is out of range (no such time in UTC)") from None
    return value


MAX_ID = 2**63 - 1  # the largest row id either database stores; a larger number is no row of ours
RowId = Annotated[int, Field(ge=1, le=MAX_ID, strict=True)]
AwareDatetime = Annotated[datetime, BeforeValidator(_iso), AfterValidator(_aware)]
Text = Annotated[str, Field(min_length=1)]


class EventIn(Incoming):
    source_id: Annotated[str, Field(min_length=1, max_length=128, description="The source's own id; unique per source.")]
    channel: Channel
    item: Annotated[str, Field(min_length=1, max_length=16, description="Sub-item code from config/categories.yaml.")]
    category: Annotated[str | None, Field(max_length=16, description="Optional; must match the item's category.")] = None
    urgency: Urgency = Urgency.NORMAL
    description: Annotated[str, Field(min_length=1, max_length=2000)]
    address: Annotated[str | None, Field(max_length=300)] = None
    lat: Annotated[float | None, Field(ge=-90, le=90, strict=True)] = None  # strict: true is not 1.0
    lon: Annotated[float | None, Field(ge=-180, le=180, strict=True)] = None
    grid: Annotated[str | None, Field(max_length=32, description="Grid code; found from the point when absent.")] = None
    photo_urls: Annotated[list[Annotated[str, Field(min_length=1, max_length=500)]],
                          Field(max_length=9, default_factory=list)]  # a factory: a default [] is deep-copied per event
    reporter_name: Annotated[str | None, Field(max_length=100)] = None
    reporter_phone: Annotated[str | None, Field(max_length=32, pattern=r"^[0-9+\- ]{3,32}$")] = None
    reported_at: AwareDatetime | None = None


class TransitionIn(Incoming):
    action: Annotated[str, Field(min_length=1, max_length=16)]
    role: Annotated[str, Field(min_length=1, max_length=32, description="centre, department, grid_worker or citizen.")]
    actor: Annotated[str | None, Field(min_length=1, max_length=100, description="Who acts; default: the API key's source.")] = None
    at: AwareDatetime | None = None
    note: Annotated[str | None, Field(max_length=2000)] = None
    department: Annotated[str | None, Field(max_length=32)] = None
    photo_url: Annotated[str | None, Field(max_length=500)] = None
    resolved_level: Annotated[str | None, Field(max_length=16)] = None
    rating: Annotated[int | None, Field(ge=1, le=3, strict=True)] = None


class Problem(Exception):
    """A request that is well-formed but wrong for our data; carries FastAPI-style details."""

    def __init__(self, status: int, detail) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


def field_error(loc: list, msg: str, kind: str = "value_error") -> dict:
    return {"loc": loc, "msg": msg, "type": kind}


def validation_errors(exc: ValidationError) -> list[dict]:
    """A model's validation errors as field errors of the body (what a 422 lists)."""
    return [
        {"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
