"""What sources may send: the validated shapes of incoming events and transitions."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


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


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("must include a timezone, e.g. 2026-11-22T09:30:00+08:00")
    if value is not None:
        try:
            value.astimezone(UTC)  # 0001-01-01T00:00:00+14:00 has no UTC time: it would fail later, as a 500
        except OverflowError:
            raise ValueError("is out of range") from None
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Text = Annotated[str, Field(min_length=1)]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    source_id: Annotated[str, Field(min_length=1, max_length=128, description="The source's own id; unique per source.")]
    channel: Channel
    item: Annotated[str, Field(min_length=1, max_length=16, description="Sub-item code from config/categories.yaml.")]
    category: Annotated[str | None, Field(max_length=16, description="Optional; must match the item's category.")] = None
    urgency: Urgency = Urgency.NORMAL
    description: Annotated[str, Field(min_length=1, max_length=2000)]
    address: Annotated[str | None, Field(max_length=300)] = None
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    lon: Annotated[float | None, Field(ge=-180, le=180)] = None
    grid: Annotated[str | None, Field(max_length=32, description="Grid code; found from the point when absent.")] = None
    photo_urls: Annotated[list[Annotated[str, Field(min_length=1, max_length=500)]], Field(max_length=9)] = []
    reporter_name: Annotated[str | None, Field(max_length=100)] = None
    reporter_phone: Annotated[str | None, Field(max_length=32, pattern=r"^[0-9+\- ]{3,32}$")] = None
    reported_at: AwareDatetime | None = None


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: Annotated[str, Field(min_length=1, max_length=16)]
    role: Annotated[str, Field(min_length=1, max_length=32, description="centre, department, grid_worker or citizen.")]
    actor: Annotated[str | None, Field(min_length=1, max_length=100, description="Who acts; default: the API key's source.")] = None
    at: AwareDatetime | None = None
    note: Annotated[str | None, Field(max_length=2000)] = None
    department: Annotated[str | None, Field(max_length=32)] = None
    photo_url: Annotated[str | None, Field(max_length=500)] = None
    resolved_level: Annotated[str | None, Field(max_length=16)] = None
    rating: Annotated[int | None, Field(ge=1, le=3)] = None


class Problem(Exception):
    """A request that is well-formed but wrong for our data; carries FastAPI-style details."""

    def __init__(self, status: int, detail) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


def field_error(loc: list, msg: str, kind: str = "value_error") -> dict:
    return {"loc": loc, "msg": msg, "type": kind}
