"""The duty desk (值班台): what an officer sees, and what the officer does there. No Dash here.

What it shows (`desk_view`): the alerts not yet resolved (most severe, then oldest, first), the
cases past their deadline with the supervision level they reached and their whistles, the
whistles still being answered, and the officer's own last entries of the audit trail. Each
list is capped (`DESK_LIMIT`) and says so when it is.

What the officer does goes through the core with the caller's principal, channel and address:
alerts through the commands of bigscreen.alerts.commands (which check Permission.ACT and the area,
and write the audit entry in the same transaction), a whistle through `whistle_case` (the same checks around
`WhistleCase`, the duty officer acting for the centre). A refusal raises Forbidden (the app
answers 403 and records it); a conflict or a bad field becomes an `Outcome` whose text the
officer reads, in Chinese or English.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import literal, select

from bigscreen.alerts.commands import (
    MAX_COMMENT,
    AcknowledgeAlert,
    AlertNote,
    EscalateAlert,
    NewAlert,
    RaiseAlert,
    ResolveAlert,
)
from bigscreen.alerts.desk import alert_rows
from bigscreen.auth.audit import record
from bigscreen.auth.context import Caller, Forbidden
from bigscreen.auth.roles import Permission, Principal, Role
from bigscreen.cases.whistle import (
    KIND_NAMES,
    MAX_DEPARTMENTS,
    CallRecord,
    WhistleCase,
    WhistleIn,
    call_state,
)
from bigscreen.db.models import (
    Acknowledgement,
    Area,
    AuditEntry,
    Event,
    SupervisionNotice,
    User,
    Whistle,
    WhistleCall,
)
from bigscreen.domain.lifecycle import CLOSED_STATUSES, WHISTLE_KINDS
from bigscreen.domain.lifecycle import Role as CaseRole
from bigscreen.domain.schemas import Problem, field_error, validation_errors
from bigscreen.process.runtime import Runtime
from bigscreen.screens.i18n import t

DESK_LIMIT = 100       # rows per list: a desk is for acting, the reports are for counting
WHISTLE_LIMIT = 30
AUDIT_LIMIT = 8

# People act on cases in the name of a lifecycle role: duty officers (and admins) for the centre.
CASE_ROLE: dict[Role, CaseRole] = {Role.DUTY: CaseRole.CENTRE, Role.ADMIN: CaseRole.CENTRE}


def case_role(who: Principal | None) -> CaseRole | None:
    return CASE_ROLE.get(who.role) if who is not None and who.can(Permission.ACT) else None


def _officer(who: Principal | None, action: str, subject: str | None = None) -> Principal:
    if who is None or not who.can(Permission.ACT) or who.user_id is None:
        raise Forbidden(f"the role '{who.role if who else 'anonymous'}' may not use the duty desk",
                        action=action, subject=subject, who=who)
    return who


@dataclass(frozen=True)
class DeskView:
    now: datetime
    alerts: list[dict]
    alerts_capped: bool
    overdue: list[dict]
    overdue_capped: bool
    whistles: list[dict]
    mine: list[dict]


def desk_view(rt: Runtime, who: Principal | None, now: datetime | None = None, limit: int = DESK_LIMIT) -> DeskView:
    """Everything the desk shows, within the officer's area."""
    who = _officer(who, "duty.view")
    now = now or rt.clock()
    alerts = open_alerts(rt, who.area, now, limit + 1)
    overdue = overdue_cases(rt, who.area, now, limit + 1)
    return DeskView(now, alerts[:limit], len(alerts) > limit, overdue[:limit], len(overdue) > limit,
                    open_whistles(rt, who.area, now), recent_actions(rt, who))


def open_alerts(rt: Runtime, within: str | None, now: datetime, limit: int = DESK_LIMIT) -> list[dict]:
    """Open and acknowledged alerts with their age and the acknowledgement's comment."""
    # alert_rows filters the area after its limit: an area's officer reads further down the list
    rows = alert_rows(rt, within=within, limit=limit if within is None else max(limit, 2000))[:limit]
    acks, users = Acknowledgement.__table__, User.__table__
    acked = [r["id"] for r in rows if r["status"] == "acknowledged"]
    comments: dict[int, dict] = {}
    if acked:
        with rt.engine.connect() as conn:
            for a in conn.execute(select(acks.c.alert_id, acks.c.comment, acks.c.at, acks.c.channel,
                                         users.c.username, users.c.display_name)
                                  .join(users, users.c.id == acks.c.user_id)
                                  .where(acks.c.alert_id.in_(acked)).order_by(acks.c.id)):
                comments[a.alert_id] = {"comment": a.comment, "by": a.display_name or a.username,
                                        "at": a.at.isoformat(), "channel": a.channel}
    for r in rows:
        r["age_s"] = max(0, int((now - datetime.fromisoformat(r["raised_at"])).total_seconds()))
        r["ack"] = comments.get(r["id"])
    return rows


def _within(query, within: str | None):
    """Cases whose grid lies in `within` (a code anywhere on the grid's chain)."""
    if within is None:
        return query
    areas = Area.__table__
    path = literal("/") + areas.c.path + literal("/")
    return query.join(areas, areas.c.id == Event.__table__.c.grid_id).where(path.contains(f"/{within}/", autoescape=True))


def _place(rt: Runtime, grid_id: int) -> dict:
    grid = rt.areas.by_id.get(grid_id)
    if grid is None:
        return {"grid": None, "grid_name": None, "street_name": None}
    depth = rt.areas.level_number("street")
    street = rt.areas.by_code.get(grid.chain[depth]) if depth is not None and len(grid.chain) > depth else None
    return {"grid": grid.code, "grid_name": grid.name, "street_name": street.name if street else None}


def _department(rt: Runtime, code: str | None) -> dict:
    if code is None:
        return {"department": None, "department_name": None, "department_name_en": None}
    try:
        d = rt.config.department(code)
    except KeyError:
        return {"department": code, "department_name": code, "department_name_en": code}
    return {"department": code, "department_name": d.name, "department_name_en": d.name_en}


def overdue_cases(rt: Runtime, within: str | None, now: datetime, limit: int = DESK_LIMIT) -> list[dict]:
    """Open cases past their deadline, the longest overdue first, each with the highest
    supervision level it reached (0: none yet) and its whistles."""
    events, notices = Event.__table__, SupervisionNotice.__table__
    q = (select(events.c.id, events.c.description, events.c.grid_id, events.c.department_code, events.c.deadline,
                events.c.reported_at, events.c.status)
         .where(events.c.status.notin_([s.value for s in CLOSED_STATUSES]), events.c.deadline < now)
         .order_by(events.c.deadline, events.c.id).limit(limit))
    with rt.engine.connect() as conn:
        rows = conn.execute(_within(q, within)).all()
        ids = [r.id for r in rows]
        levels: dict[int, int] = {}
        if ids:
            subjects = [f"case:{i}" for i in ids]
            for subject, level in conn.execute(select(notices.c.subject, notices.c.level)
                                               .where(notices.c.event_id.in_(ids), notices.c.subject.in_(subjects))):
                event_id = int(subject[5:])
                levels[event_id] = max(level, levels.get(event_id, 0))
        whistles = _whistles_of(rt, conn, ids, now)
    return [{"id": r.id, "description": r.description, "status": r.status, **_place(rt, r.grid_id),
             **_department(rt, r.department_code), "deadline": r.deadline.isoformat(),
             "reported_at": r.reported_at.isoformat(), "hours_overdue": round((now - r.deadline).total_seconds() / 3600, 1),
             "supervision_level": levels.get(r.id, 0), "whistles": whistles.get(r.id, [])}
            for r in rows]


def _whistles_of(rt: Runtime, conn, event_ids: list[int], now: datetime, whistle_ids: list[int] | None = None) -> dict[int, list[dict]]:
    """Whistles per case, oldest first, each with its departments' states."""
    if not event_ids and not whistle_ids:
        return {}
    whistles, calls = Whistle.__table__, WhistleCall.__table__
    q = select(whistles).order_by(whistles.c.id)
    q = q.where(whistles.c.id.in_(whistle_ids)) if whistle_ids is not None else q.where(whistles.c.event_id.in_(event_ids))
    rows = conn.execute(q).all()
    by_whistle: dict[int, list] = {w.id: [] for w in rows}
    if by_whistle:
        for c in conn.execute(select(calls).where(calls.c.whistle_id.in_(list(by_whistle))).order_by(calls.c.id)):
            by_whistle[c.whistle_id].append(c)
    out: dict[int, list[dict]] = {}
    for w in rows:
        departments = []
        counts = {"reported": 0, "waiting": 0, "late": 0}
        for c in by_whistle[w.id]:
            state = call_state(CallRecord(c.id, c.department_code, c.reported_at, c.reported_by, c.note), w.report_by, now)
            counts["reported" if state.startswith("reported") else state] += 1
            d = _department(rt, c.department_code)
            departments.append({"code": c.department_code, "name": d["department_name"],
                                "name_en": d["department_name_en"], "state": state})
        out.setdefault(w.event_id, []).append({
            "id": w.id, "event_id": w.event_id, "kind": w.kind, "at": w.at.isoformat(),
            "report_by": w.report_by.isoformat(), "actor": w.actor, "departments": departments, "counts": counts})
    return out


def open_whistles(rt: Runtime, within: str | None, now: datetime, limit: int = WHISTLE_LIMIT) -> list[dict]:
    """Whistles on open cases, newest first, with the case they are about."""
    events, whistles = Event.__table__, Whistle.__table__
    q = (select(whistles.c.id, events.c.id.label("event_id"), events.c.description, events.c.grid_id)
         .join(events, events.c.id == whistles.c.event_id)
         .where(events.c.status.notin_([s.value for s in CLOSED_STATUSES]))
         .order_by(whistles.c.id.desc()).limit(limit))
    with rt.engine.connect() as conn:
        rows = conn.execute(_within(q, within)).all()
        details = _whistles_of(rt, conn, [], now, whistle_ids=[r.id for r in rows])
    found = {w["id"]: w for ws in details.values() for w in ws}
    return [{**found[r.id], "description": r.description, **_place(rt, r.grid_id)} for r in rows if r.id in found]


def recent_actions(rt: Runtime, who: Principal, limit: int = AUDIT_LIMIT) -> list[dict]:
    """The officer's own last entries of the audit trail, refusals included."""
    audit = AuditEntry.__table__
    with rt.engine.connect() as conn:
        rows = conn.execute(select(audit).where(audit.c.username == who.name, audit.c.action.notin_(("csrf", "open")))
                            .order_by(audit.c.id.desc()).limit(limit)).all()
    return [{"at": r.at.isoformat(), "action": r.action, "subject": r.subject, "outcome": r.outcome,
             "channel": r.channel, "ip": r.ip, "comment": (r.detail or {}).get("comment")} for r in rows]


# --- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What the officer is told after an action."""

    ok: bool
    text: str
    result: Any = None


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _comment(comment: str | None) -> str | None:
    text = _text(comment).strip()
    if len(text) > MAX_COMMENT:
        raise Problem(422, [field_error(["body", "comment"], f"at most {MAX_COMMENT} characters")])
    return text or None


ALERT_STEPS = {"acknowledge": AcknowledgeAlert, "resolve": ResolveAlert, "escalate": EscalateAlert}


def act_on_alert(rt: Runtime, c: Caller, action: str, alert_id, comment: str | None, lang: str) -> Outcome:
    """Acknowledge, resolve or escalate one alert as the caller. Forbidden propagates."""
    step = ALERT_STEPS[action]
    try:
        number = _number(alert_id, 404, f"no alert {alert_id}")
        note = AlertNote(comment=_comment(comment))
        row = step(rt, c.principal, number, note, channel=c.channel, ip=c.ip).run()
    except Problem as problem:
        return Outcome(False, explain(problem, lang, alert_id=alert_id))
    text = t(f"duty.done.{action}", lang).format(id=row["id"], level=row["escalation"])
    return Outcome(True, text, row)


def raise_by_hand(rt: Runtime, c: Caller, colour: str | None, title: str | None, area: str | None, lang: str) -> Outcome:
    try:
        try:
            request = NewAlert(colour=_text(colour), title=_text(title), area=_text(area) or None)
        except ValidationError as invalid:
            raise Problem(422, validation_errors(invalid)) from None
        row = RaiseAlert(rt, c.principal, request, channel=c.channel, ip=c.ip).run()
    except Problem as problem:
        return Outcome(False, explain(problem, lang))
    return Outcome(True, t("duty.done.raise", lang).format(id=row["id"], count=row["count"]), row)


def whistle_case(rt: Runtime, c: Caller, event_id: float | str | None, kind: str | None,
                 departments: list[str] | None, note: str | None, lang: str) -> Outcome:
    """Whistles a case as the centre (吹哨). Checks the officer and the case's area first, then
    runs `WhistleCase`, and records the attempt in the audit trail."""
    subject = str(event_id)[:32] if event_id is not None else None
    who = _officer(c.principal, "case.whistle", subject)
    role = case_role(who)
    if role is None:
        raise Forbidden(f"the role '{who.role}' acts for no one on cases", action="case.whistle", subject=subject, who=who)
    departments = [d for d in (departments or []) if isinstance(d, str) and d]
    try:
        number = _number(event_id, 422, [field_error(["path", "event_id"], "a case number")])
        errors = []
        if kind not in WHISTLE_KINDS:
            errors.append(field_error(["body", "kind"], f"one of {', '.join(WHISTLE_KINDS)}"))
        if not departments or len(departments) > MAX_DEPARTMENTS:
            errors.append(field_error(["body", "departments"], f"1 to {MAX_DEPARTMENTS} departments"))
        if errors:
            raise Problem(422, errors)
        _may_reach_case(rt, who, number)
        try:
            request = WhistleIn(kind=kind, departments=departments, role=role.value, actor=who.name[:100],
                                note=_text(note).strip()[:2000] or None)
        except ValidationError as invalid:
            raise Problem(422, [field_error(["body", *e["loc"]], e["msg"]) for e in invalid.errors()]) from None
        whistle, created = WhistleCase(rt, number, request, actor=who.name, channel=c.channel).run()
    except Problem as problem:
        record(rt, who, "case.whistle", subject=subject, outcome="failed", channel=c.channel, ip=c.ip,
               detail={"why": str(problem.detail)[:500], "kind": kind, "departments": departments})
        return Outcome(False, explain(problem, lang, event_id=event_id))
    record(rt, who, "case.whistle", subject=str(number), channel=c.channel, ip=c.ip,
           detail={"whistle": whistle.id, "kind": whistle.kind, "departments": departments, "created": created,
                   "comment": request.note})
    key = "duty.done.whistle" if created else "duty.done.whistle_again"
    report_by = whistle.report_by.astimezone(rt.tz).strftime("%H:%M")
    return Outcome(True, t(key, lang).format(id=number, kind=kind_name(whistle.kind, lang), n=len(whistle.calls),
                                             report_by=report_by), whistle)


def _number(value, status: int, detail) -> int:
    """A row id typed or sent by the page (a forged one too), else Problem(status, detail)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = 0.0
    if not number.is_integer() or not 0 < number < 2**31:
        raise Problem(status, detail)
    return int(number)


def _may_reach_case(rt: Runtime, who: Principal, event_id: int) -> None:
    with rt.engine.connect() as conn:
        grid_id = conn.scalar(select(Event.__table__.c.grid_id).where(Event.__table__.c.id == event_id))
    if grid_id is None:
        raise Problem(404, f"no event {event_id}")
    grid = rt.areas.by_id.get(grid_id)
    if grid is not None and not who.covers(grid.chain):
        raise Forbidden(f"case {event_id} is outside this account's area", action="case.whistle",
                        subject=str(event_id), who=who)


def kind_name(kind: str, lang: str) -> str:
    return KIND_NAMES.get(kind, kind) if lang == "zh" else t(f"duty.kind.{kind}", lang)


FIELD_KEYS = {"colour", "title", "area", "kind", "departments", "event_id", "comment", "at"}


def explain(problem: Problem, lang: str, *, alert_id: int | None = None, event_id: Any = None) -> str:
    """A refusal of the core in words for the officer (the core's details are for the API)."""
    detail = problem.detail
    subject = alert_id if alert_id is not None else event_id
    if isinstance(detail, dict):
        owner = detail.get("owner")
        if detail.get("status") == "acknowledged":
            return t("duty.err.taken", lang).format(id=subject, owner=owner or "—")
        if detail.get("status") == "resolved":
            return t("duty.err.resolved_by" if owner else "duty.err.resolved", lang).format(id=subject, owner=owner)
        if "escalation" in detail:
            return t("duty.err.top", lang).format(id=subject)
        if detail.get("status") in {s.value for s in CLOSED_STATUSES}:
            return t("duty.err.case_closed", lang).format(id=subject)
    if problem.status == 404:
        return t("duty.err.no_alert" if alert_id is not None else "duty.err.no_case", lang).format(id=subject)
    if problem.status == 422 and isinstance(detail, list):
        parts = []
        for error in detail:
            field = next((p for p in reversed(error.get("loc") or []) if isinstance(p, str)), "?")
            label = t(f"duty.field.{field}", lang) if field in FIELD_KEYS else field
            # the core's reasons are in English: the Chinese desk names the fields only
            part = label if lang == "zh" else f"{label}: {error.get('msg', '')}"
            if part not in parts:
                parts.append(part)
        return t("duty.err.invalid", lang) + ("、" if lang == "zh" else "; ").join(parts)
    return t("duty.err.other", lang).format(detail=detail.get("message") if isinstance(detail, dict) else detail)

