"""The audit trail, searched by an admin: who, what, when, from where; newest first, a page at a time.

Filters, all optional and combined: `who` (a username, exactly), `action` (exactly, or a family
ending in '.': "user." finds every account change), `outcome` (ok, refused, failed, locked), `ip`
(exactly), `since` and `until` (ISO dates or times; without a zone, the city's local time; a date
alone for `until` means up to the end of that day). Pages go back in time: `before` is the id of
the last entry shown. Bad filters are refused naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from sqlalchemy import select

from bigscreen.admin.base import require_admin
from bigscreen.auth.context import Caller
from bigscreen.db.models import AuditEntry
from bigscreen.domain.schemas import Problem, control_character_error, field_error
from bigscreen.process.runtime import Runtime

PAGE_DEFAULT = 50
PAGE_MAX = 500
TEXT_MAX = 100
OUTCOMES = ("ok", "refused", "failed", "locked")


@dataclass(frozen=True)
class AuditFilters:
    """What an admin asks for, as typed (text): checked by `search_audit`."""

    who: str | None = None
    action: str | None = None
    outcome: str | None = None
    ip: str | None = None
    since: str | None = None
    until: str | None = None
    limit: int | str | None = PAGE_DEFAULT
    before: int | str | None = None


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    who: str | None  # the username, or for the command line the operating-system user ("by")
    role: str | None
    action: str
    subject: str | None
    outcome: str
    channel: str
    ip: str | None
    detail: dict[str, Any] | None


@dataclass(frozen=True)
class AuditPage:
    entries: list[Entry] = field(default_factory=list)
    more: bool = False  # older entries match too: ask again with before=entries[-1].id


def search_audit(rt: Runtime, caller: Caller, filters: AuditFilters) -> AuditPage:
    require_admin(caller, "audit.search")
    where, limit = _conditions(rt, filters)
    log = AuditEntry.__table__
    query = select(log).where(*where).order_by(log.c.id.desc()).limit(limit + 1)
    with rt.engine.connect() as conn:
        rows = conn.execute(query).all()
    entries = [Entry(r.id, r.at, r.username or (r.detail or {}).get("by"), r.role, r.action, r.subject, r.outcome,
                     r.channel, r.ip, r.detail) for r in rows[:limit]]
    return AuditPage(entries, len(rows) > limit)


def _conditions(rt: Runtime, f: AuditFilters) -> tuple[list, int]:
    log = AuditEntry.__table__
    errors: list[dict] = []
    where = []
    texts = {name: _text(getattr(f, name), name, errors) for name in ("who", "action", "outcome", "ip")}
    if texts["who"]:
        where.append(log.c.username == texts["who"])
    if texts["action"]:
        action = texts["action"]
        where.append(log.c.action.startswith(action, autoescape=True) if action.endswith(".") else log.c.action == action)
    if texts["outcome"]:
        if texts["outcome"] not in OUTCOMES:
            errors.append(field_error(["outcome"], f"one of {', '.join(OUTCOMES)}"))
        where.append(log.c.outcome == texts["outcome"])
    if texts["ip"]:
        where.append(log.c.ip == texts["ip"])
    since = _time(rt, f.since, "since", errors, end_of_day=False)
    until = _time(rt, f.until, "until", errors, end_of_day=True)
    if since is not None:
        where.append(log.c.at >= since)
    if until is not None:
        where.append(log.c.at <= until)
    if since is not None and until is not None and since > until:
        errors.append(field_error(["until"], "must not be before since"))
    limit = _number(f.limit, "limit", errors, 1, PAGE_MAX) or PAGE_DEFAULT
    before = _number(f.before, "before", errors, 1, 2**62)
    if before is not None:
        where.append(log.c.id < before)
    if errors:
        raise Problem(422, errors)
    return where, limit


def _text(value: str | None, name: str, errors: list[dict]) -> str | None:
    if value is not None and not isinstance(value, str):
        errors.append(field_error([name], "must be text"))
        return None
    value = (value or "").strip()
    if len(value) > TEXT_MAX:
        errors.append(field_error([name], f"at most {TEXT_MAX} characters"))
    elif problem := control_character_error(value):
        errors.append(field_error([name], problem))
    return value or None


def _number(value: int | str | None, name: str, errors: list[dict], low: int, high: int) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(str(value).strip()) if isinstance(value, (int, str)) and not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        errors.append(field_error([name], f"a whole number from {low} to {high}"))
        return None
    return number


def _time(rt: Runtime, value: str | None, name: str, errors: list[dict], *, end_of_day: bool) -> datetime | None:
    text = _text(value, name, errors)
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        errors.append(field_error([name], "an ISO date or time, e.g. 2026-12-01 or 2026-12-01T08:30"))
        return None
    if end_of_day and len(text) == 10:  # a date alone: through the end of that day
        at = datetime.combine(at.date(), time.max)
    return at if at.tzinfo else at.replace(tzinfo=rt.tz)

