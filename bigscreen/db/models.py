"""The source of truth. Redis holds only what can be rebuilt from these tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bigscreen.db.types import UTCDateTime


class Base(DeclarativeBase):
    pass


class Area(Base):
    """A node of the grid tree: city (level 0) down to grid and, where configured, below."""

    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[int] = mapped_column(Integer, index=True)
    level_name: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    path: Mapped[str] = mapped_column(String(400), doc="Codes from the city down to this area, joined by '/'.")
    kind: Mapped[str] = mapped_column(String(16), default="base", doc="base or special (school, hospital, park).")
    geometry: Mapped[dict] = mapped_column(JSON, doc="GeoJSON geometry in WGS84.")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    retired_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, doc="When a re-imported map left this code out: kept for the cases filed on it, shown nowhere.")

    parent: Mapped[Area | None] = relationship(remote_side=[id])


class GridProfile(Base):
    """People and housing (人房数据) of one grid."""

    __tablename__ = "grid_profiles"

    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), primary_key=True)
    population: Mapped[int] = mapped_column(Integer)
    households: Mapped[int] = mapped_column(Integer)
    buildings: Mapped[int] = mapped_column(Integer)
    key_places: Mapped[int] = mapped_column(Integer)
    cared_for: Mapped[int] = mapped_column(Integer, doc="Key groups to care for: elderly living alone etc.")


class GridWorker(Base):
    """One full-time worker per grid plus N helpers (1+N)."""

    __tablename__ = "grid_workers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(16), doc="full_time or helper.")
    helper_kind: Mapped[str | None] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(32))


class FieldActivity(Base):
    """One piece of a grid worker's field work (一日两巡五访): a check-in at the start of duty
    (签到上岗), a patrol of the grid (巡查) or a visit to a household (走访)."""

    __tablename__ = "field_activities"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_field_activities_source_id"),
        # the day's counts, the rebuild of kept days, and a report's field work read from the index alone
        Index("ix_field_activities_kind_at_worker", "kind", "at", "worker_id", "grid_code"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), doc="check_in (签到上岗), patrol (巡查) or visit (走访).")
    worker_id: Mapped[int] = mapped_column(ForeignKey("grid_workers.id"), index=True)
    grid_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), doc="The worker's grid when it happened.")
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(64), doc="The API key's source that recorded it.")
    source_id: Mapped[str | None] = mapped_column(String(128), doc="The source's own id; a retry with it stores nothing.")
    channel: Mapped[str] = mapped_column(String(16), doc="grid_app, web or import.")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Department(Base):
    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    district: Mapped[str | None] = mapped_column(String(32))


class Category(Base):
    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))


class SubItem(Base):
    __tablename__ = "sub_items"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))


class ApiKey(Base):
    """Only a hash of each key is kept; the key itself is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_events_source_id"),
        Index("ix_events_status_deadline", "status", "deadline"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(32))
    category_code: Mapped[str] = mapped_column(String(16), index=True)
    item_code: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300))
    photo_urls: Mapped[list] = mapped_column(JSON, default=list)
    reporter_name: Mapped[str | None] = mapped_column(String(100))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    grid_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verify_photo_url: Mapped[str | None] = mapped_column(String(500))
    rating: Mapped[int | None] = mapped_column(Integer, doc="3 satisfied, 2 basically satisfied, 1 dissatisfied.")
    resolved_level: Mapped[str | None] = mapped_column(String(16))
    dispute_rung: Mapped[str | None] = mapped_column(String(16), doc="A dispute's current rung of the mediation ladder.")
    dispute_outcome: Mapped[str | None] = mapped_column(String(16), doc="mediated or referred (to court), once settled.")
    version: Mapped[int] = mapped_column(Integer, default=1)


class EventTransition(Base):
    """Append-only log of every change of an event's status."""

    __tablename__ = "event_transitions"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16), doc="api, web or system.")
    note: Mapped[str | None] = mapped_column(Text)
    department_code: Mapped[str | None] = mapped_column(String(32))


class SupervisionNotice(Base):
    """One supervision notice (督办): level 1 to the department, 2 to the street or district
    leader, 3 to the city. Its subject is a late case ("case:{id}") or a whistled department
    that did not report in ("call:{id}"); each level is sent once."""

    __tablename__ = "supervision_notices"
    __table_args__ = (UniqueConstraint("subject", "level", name="uq_supervision_subject_level"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    whistle_call_id: Mapped[int | None] = mapped_column(ForeignKey("whistle_calls.id"))
    level: Mapped[int] = mapped_column(Integer)
    target_kind: Mapped[str] = mapped_column(String(16), doc="department, street, district or city.")
    target: Mapped[str] = mapped_column(String(32), doc="A department or area code.")
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))


class Whistle(Base):
    """The centre whistles a case (吹哨) to several departments, which must report in (报到)."""

    __tablename__ = "whistles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), doc="assembly (集结哨), livelihood (民生哨) or emergency (紧急哨).")
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    report_by: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)


class WhistleCall(Base):
    """One summoned department of a whistle, and when it reported in."""

    __tablename__ = "whistle_calls"
    __table_args__ = (UniqueConstraint("whistle_id", "department_code", name="uq_whistle_call_department"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    whistle_id: Mapped[int] = mapped_column(ForeignKey("whistles.id"), index=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reported_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)


class MediationStep(Base):
    """One rung tried on a dispute's mediation ladder and how it ended there."""

    __tablename__ = "mediation_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    rung: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16), doc="mediated, failed (climbs a rung) or referred (to court).")
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)


class Alert(Base):
    """预警: raised by a rule (emergency category, supervision, spike, whistle) or by hand. The
    same source and subject raised again within a window counts up `count` instead."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_status_colour", "status", "colour"), Index("ix_alerts_source_subject", "source", "subject"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    colour: Mapped[str] = mapped_column(String(8), doc="red, orange, yellow or blue.")
    source: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    area_code: Mapped[str | None] = mapped_column(String(32))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    title: Mapped[str] = mapped_column(String(300))
    count: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="open", doc="open, acknowledged or resolved.")
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_raised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, doc="The latest repeat (counted up).")
    escalation: Mapped[int] = mapped_column(Integer, default=0, doc="Times escalated for want of an acknowledgement.")
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)


class Acknowledgement(Base):
    __tablename__ = "acknowledgements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    comment: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), doc="wall, leader, duty or admin.")
    area_code: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    display_name: Mapped[str | None] = mapped_column(String(100))


class KioskToken(Base):
    """A wall's token (in its URL): read-only, no personal data. Only its hash is kept."""

    __tablename__ = "kiosk_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str | None] = mapped_column(String(32), doc="An area code the wall is limited to; none: the city.")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Who did (or tried) what, when, from where: every action on the duty desk and the API's
    state-changing calls, refusals included. Append-only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    username: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(48))
    subject: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(16), doc="ok, refused or failed.")
    channel: Mapped[str] = mapped_column(String(16), doc="web, api or system.")
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict | None] = mapped_column(JSON)


class Notification(Base):
    """One message sent about an alert (to the duty desk, a leader, the city), and how it went."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    target: Mapped[str] = mapped_column(String(100))
    sender: Mapped[str] = mapped_column(String(16), doc="log or webhook.")
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column()
    detail: Mapped[str | None] = mapped_column(Text)


class ReportFile(Base):
    """A produced report (bigscreen.jobs.reports, `bigscreen report`): one per period, area and
    format; producing it again replaces it."""

    __tablename__ = "report_files"
    __table_args__ = (UniqueConstraint("period", "area_code", "format", name="uq_report_files_period_area_format"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(32), doc="2026-W48, 2026-11, 2026-Q4, 2026 or a range of days.")
    kind: Mapped[str] = mapped_column(String(8), doc="week, month, quarter, year or range.")
    area_code: Mapped[str] = mapped_column(String(32), index=True)
    format: Mapped[str] = mapped_column(String(8))
    produced_at: Mapped[datetime] = mapped_column(UTCDateTime)
    content: Mapped[bytes] = mapped_column(LargeBinary)
