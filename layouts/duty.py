"""The duty desk (`/duty`): a working screen for one officer at a 1920×1080 or 1366×768 monitor
(responsive, not scaled like the wall). `build` is the page's structure; the `*_items`
functions turn `bigscreen.screens.duty.DeskView` into lists. Every text is a child string, which Dash
renders as text: citizens' descriptions and officers' comments are never HTML."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dash import dcc, html

from bigscreen.alerts.desk import COLOURS
from bigscreen.domain.lifecycle import WHISTLE_KINDS
from bigscreen.screens.duty import kind_name
from bigscreen.screens.i18n import STRINGS, catalogue, t
from layouts import ids
from layouts.sign_out import sign_out

ALERT_BUTTONS = {ids.DUTY_ACK: "acknowledge", ids.DUTY_RESOLVE: "resolve", ids.DUTY_ESCALATE: "escalate"}
REFRESH_MS = 2500


def _message(id_: str) -> html.Div:
    return html.Div(id=id_, className="duty-message", role="status", **{"aria-live": "polite"})


def _panel(title: str, body, id_: str, extra=None) -> html.Section:
    head = html.Div([html.H2(title, className="duty-panel-title"), *(extra or [])], className="duty-panel-head")
    return html.Section([head, body], id=ids.panel(id_), className="duty-panel")


def area_options(areas, within: str | None, lang: str) -> list[dict]:
    """Districts and streets an officer may raise an alert in (the city first, if within reach)."""
    options = [] if within else [{"label": t("duty.area.all", lang), "value": ""}]
    for level in (1, 2):
        for a in areas.at_level(level):
            if within is None or within in a.chain:
                parent = areas.by_code.get(a.parent_code) if level == 2 else None
                options.append({"label": f"{parent.name} / {a.name}" if parent else a.name, "value": a.code})
    return options


def build(config, areas, *, officer: str, area: str | None, lang: str, admin: bool = False) -> html.Div:
    title = config.city.title if lang == "zh" else config.city.title_en
    suffix = "?lang=en" if lang == "en" else ""
    header = html.Header([
        html.Div([html.H1(t("duty.title", lang), className="duty-title"), html.Span(title, className="duty-city")],
                 className="duty-heading"),
        html.Nav([html.A(t("duty.nav.home", lang), href="/" + suffix), html.A(t("duty.nav.wall", lang), href="/wall" + suffix),
                  *([html.A(t("admin.title", lang), href="/admin" + suffix)] if admin else [])], className="duty-nav"),
        html.Div([t("duty.officer", lang), " ", html.Strong(officer, className="duty-officer")], className="duty-who"),
        html.Div([t("duty.as_of", lang), " ", html.Span("—", id=ids.DUTY_AS_OF)], className="duty-asof"),
        sign_out(lang, "duty-signout"),
    ], className="duty-header")

    alerts = _panel(t("duty.alerts", lang), html.Div([_message(ids.DUTY_ALERT_MESSAGE), html.Ol(id=ids.DUTY_ALERT_LIST, className="duty-alerts")]),
                    ids.DUTY_ALERT_LIST, [html.Div(id=ids.DUTY_ALERT_SUMMARY, className="duty-summary")])
    lists = html.Div([
        _panel(t("duty.overdue", lang), html.Ol(id=ids.DUTY_OVERDUE_LIST, className="duty-cases"), ids.DUTY_OVERDUE_LIST),
        _panel(t("duty.whistles", lang), html.Ol(id=ids.DUTY_WHISTLE_LIST, className="duty-whistles"), ids.DUTY_WHISTLE_LIST),
    ], className="duty-lists")

    raise_form = _panel(t("duty.raise", lang), html.Div([
        html.Label(t("duty.raise.colour", lang), htmlFor=ids.DUTY_RAISE_COLOUR, className="duty-label"),
        dcc.RadioItems(id=ids.DUTY_RAISE_COLOUR, className="duty-colours", inline=True,
                       options=[{"label": t(f"duty.colour.{c}", lang), "value": c} for c in COLOURS]),
        html.Label(t("duty.raise.title", lang), htmlFor=ids.DUTY_RAISE_TITLE, className="duty-label"),
        dcc.Input(id=ids.DUTY_RAISE_TITLE, type="text", maxLength=300, className="duty-input", debounce=False),
        html.Label(t("duty.raise.area", lang), htmlFor=ids.DUTY_RAISE_AREA, className="duty-label"),
        dcc.Dropdown(id=ids.DUTY_RAISE_AREA, options=area_options(areas, area, lang), value=area or "", clearable=False,
                     className="duty-select", labels=catalogue("duty.dropdown.", lang)),
        html.Button(t("duty.raise.submit", lang), id=ids.DUTY_RAISE_SUBMIT, type="button", className="duty-button duty-primary"),
        _message(ids.DUTY_RAISE_MESSAGE),
    ], className="duty-form"), ids.duty("raise"))

    kinds = [k for k in WHISTLE_KINDS if k in config.city.whistles]
    whistle_form = _panel(t("duty.whistle", lang), html.Div([
        html.Label(t("duty.whistle.case", lang), htmlFor=ids.DUTY_WHISTLE_CASE, className="duty-label"),
        dcc.Input(id=ids.DUTY_WHISTLE_CASE, type="text", inputMode="numeric", maxLength=12, className="duty-input"),
        html.Label(t("duty.whistle.kind", lang), htmlFor=ids.DUTY_WHISTLE_KIND, className="duty-label"),
        dcc.RadioItems(id=ids.DUTY_WHISTLE_KIND, className="duty-kinds", inline=True,
                       options=[{"label": t(f"duty.kind.{k}", lang), "value": k} for k in kinds]),
        html.Label(t("duty.whistle.departments", lang), htmlFor=ids.DUTY_WHISTLE_DEPARTMENTS, className="duty-label"),
        dcc.Dropdown(id=ids.DUTY_WHISTLE_DEPARTMENTS, multi=True, className="duty-select", labels=catalogue("duty.dropdown.", lang),
                     options=[{"label": d.name if lang == "zh" else d.name_en, "value": d.code} for d in config.departments]),
        html.Label(t("duty.whistle.note", lang), htmlFor=ids.DUTY_WHISTLE_NOTE, className="duty-label"),
        dcc.Input(id=ids.DUTY_WHISTLE_NOTE, type="text", maxLength=2000, className="duty-input"),
        html.Button(t("duty.whistle.submit", lang), id=ids.DUTY_WHISTLE_SUBMIT, type="button", className="duty-button duty-primary"),
        _message(ids.DUTY_WHISTLE_MESSAGE),
    ], className="duty-form"), ids.duty("whistle"))

    mine = _panel(t("duty.mine", lang), html.Ol(id=ids.DUTY_MINE_LIST, className="duty-mine"), ids.DUTY_MINE_LIST)
    return html.Div([
        header,
        html.Main([alerts, lists, html.Div([raise_form, whistle_form, mine], className="duty-forms")], className="duty-main"),
        dcc.Interval(id=ids.DUTY_TICK, interval=REFRESH_MS),
        dcc.Store(id=ids.DUTY_LANG, data=lang),
        dcc.Store(id=ids.DUTY_SIGNATURE),
        dcc.Store(id=ids.DUTY_ALERT_PRESSED), dcc.Store(id=ids.DUTY_ALERT_DONE, data=0), dcc.Store(id=ids.DUTY_RAISE_DONE, data=0), dcc.Store(id=ids.DUTY_WHISTLE_DONE, data=0),
    ], id=ids.DUTY_ROOT, className="duty-page", lang="zh-CN" if lang == "zh" else "en")


# --- the lists -------------------------------------------------------------------------------


def _local(iso: str | None, tz: ZoneInfo, fmt: str = "%m-%d %H:%M") -> str:
    return datetime.fromisoformat(iso).astimezone(tz).strftime(fmt) if iso else "—"


def age_text(seconds: int, lang: str) -> str:
    if seconds < 60:
        return t("duty.just_now", lang)
    minutes = seconds // 60
    if minutes < 60:
        span = t("duty.minutes", lang).format(m=minutes)
    elif minutes < 24 * 60:
        span = t("duty.hours", lang).format(h=minutes // 60, m=minutes % 60)
    else:
        span = t("duty.days", lang).format(d=minutes // 1440, h=minutes % 1440 // 60)
    return t("duty.ago", lang).format(age=span)


def _hours(hours: float) -> str:
    return f"{hours:.1f}" if hours < 10 else f"{hours:,.0f}"


def _label(prefix: str, value: str, lang: str) -> str:
    return t(f"{prefix}.{value}", lang) if f"{prefix}.{value}" in STRINGS else value


def alert_items(rows: list[dict], lang: str) -> list:
    if not rows:
        return [html.Li(t("duty.alerts.empty", lang), className="duty-empty")]
    return [alert_item(r, lang) for r in rows]


def alert_item(r: dict, lang: str) -> html.Li:
    status = r["status"]
    status_text = t(f"duty.status.{status}", lang) + (f" · {r['owner']}" if r["owner"] else "")
    meta = [html.Span(_label("duty.source", r["source"], lang), className="duty-source"),
            html.Span(r["area_name"] or t("duty.area.all", lang), className="duty-area"),
            html.Span(age_text(r["age_s"], lang), className="duty-age", title=r["raised_at"])]
    if r["escalation"]:
        meta.append(html.Span(t("duty.escalation", lang).format(n=r["escalation"]), className="duty-escalated"))
    head = [html.Span(t(f"duty.colour.{r['colour']}", lang), className="duty-colour"),
            html.Span(f"#{r['id']}", className="duty-id"),
            html.Span(r["title"], className="duty-alert-title"),
            html.Span(f"×{r['count']}", className="duty-count", title=str(r["count"]))]
    body = [html.Div(head, className="duty-alert-head"),
            html.Div([*meta, html.Span(status_text, className=f"duty-status status-{status}")], className="duty-alert-meta")]
    if r.get("ack") and r["ack"]["comment"]:
        body.append(html.Div([html.Span(t("duty.ack_comment", lang) + ": ", className="duty-note-label"),
                              html.Span(r["ack"]["comment"], className="duty-ack-comment")], className="duty-note"))
    buttons = [html.Button(t("duty.ack", lang), id={"type": ids.DUTY_ACK, "alert": r["id"]}, type="button",
                           className="duty-button duty-ack")] if status == "open" else []
    buttons += [html.Button(t("duty.escalate", lang), id={"type": ids.DUTY_ESCALATE, "alert": r["id"]}, type="button",
                            className="duty-button duty-escalate", disabled=r["escalation"] >= 3),
                html.Button(t("duty.resolve", lang), id={"type": ids.DUTY_RESOLVE, "alert": r["id"]}, type="button",
                            className="duty-button duty-resolve")]
    # a new status gives a new, empty box; within one status, typing survives the refreshes
    comment = dcc.Input(id={"type": ids.DUTY_COMMENT, "alert": r["id"], "status": status}, type="text", maxLength=1000,
                        placeholder=t("duty.comment", lang), className="duty-input duty-comment",
                        persistence=True, persistence_type="memory")
    body.append(html.Div([comment, *buttons], className="duty-alert-actions"))
    return html.Li(body, className=f"duty-alert colour-{r['colour']} status-{status}",
                   **{"data-alert": str(r["id"]), "data-status": status})


def summary(rows: list[dict], capped: bool, lang: str) -> list:
    counts = {c: 0 for c in COLOURS}
    for r in rows:
        counts[r["colour"]] = counts.get(r["colour"], 0) + 1
    chips = [html.Span(f"{t(f'duty.colour.{c}', lang)} {n}", className=f"duty-chip colour-{c}") for c, n in counts.items()]
    if capped:
        chips.append(html.Span(t("duty.capped", lang).format(n=len(rows)), className="duty-capped"))
    return chips


def _whistle_line(w: dict, lang: str, tz: ZoneInfo) -> html.Div:
    total = len(w["departments"])
    calls = [html.Span(f"{d['name'] if lang == 'zh' else d['name_en']} · " + t("duty.call." + d["state"], lang),
                       className=f"duty-call call-{d['state']}") for d in w["departments"]]
    return html.Div([
        html.Span(kind_name(w["kind"], lang), className=f"duty-kind kind-{w['kind']}"),
        html.Span(t("duty.call.counts", lang).format(reported=w["counts"]["reported"], total=total), className="duty-calls-count"),
        html.Span(t("duty.report_by", lang).format(at=_local(w["report_by"], tz)), className="duty-report-by"),
        html.Div(calls, className="duty-calls"),
    ], className="duty-whistle-line", **{"data-whistle": str(w["id"])})


def overdue_items(rows: list[dict], capped: bool, lang: str, tz: ZoneInfo) -> list:
    if not rows:
        return [html.Li(t("duty.overdue.empty", lang), className="duty-empty")]
    items = []
    for r in rows:
        level = r["supervision_level"]
        place = " / ".join(n for n in (r["street_name"], r["grid_name"]) if n)
        department = r["department_name"] if lang == "zh" else r["department_name_en"]
        items.append(html.Li([
            html.Div([html.Span(f"#{r['id']}", className="duty-id"), html.Span(r["description"], className="duty-case-text"),
                      html.Span(t(f"duty.level.{level}", lang), className=f"duty-level level-{level}",
                                **{"data-level": str(level)})], className="duty-case-head"),
            html.Div([html.Span(place, className="duty-place"),
                      html.Span(f"{t('duty.department', lang)}: {department or '—'}", className="duty-dept"),
                      html.Span(f"{t('duty.deadline', lang)} {_local(r['deadline'], tz)}", className="duty-deadline"),
                      html.Span(t("duty.hours_overdue", lang).format(h=_hours(r["hours_overdue"])), className="duty-late"),
                      html.Button(t("duty.pick", lang), id={"type": ids.DUTY_PICK, "event": r["id"]}, type="button",
                                  className="duty-button duty-pick")], className="duty-case-meta"),
            *[_whistle_line(w, lang, tz) for w in r["whistles"]],
        ], className=f"duty-case level-{level}", **{"data-case": str(r["id"]), "data-level": str(level)}))
    if capped:
        items.append(html.Li(t("duty.capped", lang).format(n=len(rows)), className="duty-capped"))
    return items


def whistle_items(rows: list[dict], lang: str, tz: ZoneInfo) -> list:
    if not rows:
        return [html.Li(t("duty.whistles.empty", lang), className="duty-empty")]
    return [html.Li([
        html.Div([html.Span(f"#{w['event_id']}", className="duty-id"), html.Span(w["description"], className="duty-case-text"),
                  html.Span(" / ".join(n for n in (w["street_name"], w["grid_name"]) if n), className="duty-place")],
                 className="duty-case-head"),
        _whistle_line(w, lang, tz),
    ], className="duty-whistle", **{"data-case": str(w["event_id"])}) for w in rows]


def mine_items(rows: list[dict], lang: str, tz: ZoneInfo) -> list:
    if not rows:
        return [html.Li(t("duty.mine.empty", lang), className="duty-empty")]
    return [html.Li([
        html.Span(_local(e["at"], tz, "%H:%M:%S"), className="duty-time"),
        html.Span(_label("duty.action", e["action"], lang), className="duty-action"),
        html.Span(f"#{e['subject']}" if e["subject"] and e["subject"].isdigit() else (e["subject"] or ""), className="duty-id"),
        html.Span(_label("duty.outcome", e["outcome"], lang), className=f"duty-outcome outcome-{e['outcome']}"),
        html.Span(_label("duty.channel", e["channel"], lang), className="duty-channel"),
        html.Span(e["comment"] or "", className="duty-mine-comment"),
    ], className="duty-entry") for e in rows]


def render(view, lang: str, tz: ZoneInfo) -> tuple:
    """The lists of a DeskView: alerts, their summary, overdue cases, whistles, my actions."""
    return (alert_items(view.alerts, lang), summary(view.alerts, view.alerts_capped, lang),
            overdue_items(view.overdue, view.overdue_capped, lang, tz), whistle_items(view.whistles, lang, tz),
            mine_items(view.mine, lang, tz))
