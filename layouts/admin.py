"""The admin page (`/admin`): API keys, kiosk tokens and accounts with their actions, a password
reset, and the audit trail searched. `build` is the page's structure; `tables`, `secret` and
`audit_rows` turn what bigscreen.admin.console answers into components. Every text is a child
string, which Dash renders as text: names and audit details typed by anyone stay text."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dash import dcc, html

from bigscreen.admin.console import AdminView
from bigscreen.admin.trail import OUTCOMES, AuditPage
from bigscreen.screens.i18n import STRINGS, t
from layouts import ids
from layouts.sign_out import sign_out


def _when(at: datetime | None, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if at else "—"


def _message(id_: str) -> html.Div:
    return html.Div(id=id_, className="duty-message", role="status", **{"aria-live": "polite"})


def _panel(title: str, body, id_: str) -> html.Section:
    return html.Section([html.Div(html.H2(title, className="duty-panel-title"), className="duty-panel-head"), body],
                        id=ids.panel(id_), className="duty-panel admin-panel")


def _field(label: str, component) -> html.Label:
    return html.Label([html.Span(label, className="duty-label"), component], className="admin-field")


def build(*, admin: str, lang: str) -> html.Div:
    suffix = "?lang=en" if lang == "en" else ""
    header = html.Header([
        html.Div(html.H1(t("admin.title", lang), className="duty-title"), className="duty-heading"),
        html.Nav([html.A(t("admin.nav.duty", lang), href="/duty" + suffix)], className="duty-nav"),
        html.Div([t("admin.who", lang), " ", html.Strong(admin, className="duty-officer")], className="duty-who"),
        sign_out(lang, "duty-signout"),
    ], className="duty-header")

    told = html.Div([_message(ids.ADMIN_MESSAGE), html.Div(id=ids.ADMIN_SECRET, className="admin-secret")])
    reset = _panel(t("admin.reset", lang), html.Div([
        _field(t("admin.reset.username", lang), dcc.Input(id=ids.ADMIN_RESET_USERNAME, type="text", maxLength=64,
                                                          className="duty-input", autoComplete="off")),
        _field(t("admin.reset.password", lang), dcc.Input(id=ids.ADMIN_RESET_PASSWORD, type="password", maxLength=200,
                                                          className="duty-input", autoComplete="new-password")),
        _field(t("admin.reset.confirmation", lang), dcc.Input(id=ids.ADMIN_RESET_CONFIRMATION, type="password",
                                                              maxLength=200, className="duty-input",
                                                              autoComplete="new-password")),
        html.Button(t("admin.reset.submit", lang), id=ids.ADMIN_RESET_SUBMIT, type="button", className="duty-button duty-primary"),
        _message(ids.ADMIN_RESET_MESSAGE),
    ], className="admin-form"), ids.admin("reset"))

    outcomes = [{"label": t("admin.search.any", lang), "value": ""}] + [
        {"label": t(f"admin.outcome.{o}", lang), "value": o} for o in OUTCOMES]
    search = _panel(t("admin.audit", lang), html.Div([
        html.Div([
            _field(t("admin.search.who", lang), dcc.Input(id=ids.ADMIN_SEARCH_WHO, type="text", maxLength=100, className="duty-input")),
            _field(t("admin.search.action", lang), dcc.Input(id=ids.ADMIN_SEARCH_ACTION, type="text", maxLength=100, className="duty-input")),
            _field(t("admin.search.outcome", lang), dcc.Dropdown(id=ids.ADMIN_SEARCH_OUTCOME, options=outcomes, value="",
                                                                 clearable=False, searchable=False, className="duty-select")),
            _field(t("admin.search.since", lang), dcc.Input(id=ids.ADMIN_SEARCH_SINCE, type="text", maxLength=32, className="duty-input")),
            _field(t("admin.search.until", lang), dcc.Input(id=ids.ADMIN_SEARCH_UNTIL, type="text", maxLength=32, className="duty-input")),
            _field(t("admin.search.ip", lang), dcc.Input(id=ids.ADMIN_SEARCH_IP, type="text", maxLength=64, className="duty-input")),
            html.Button(t("admin.search.submit", lang), id=ids.ADMIN_SEARCH_SUBMIT, type="button", className="duty-button duty-primary"),
        ], className="admin-filters"),
        _message(ids.ADMIN_AUDIT_MESSAGE),
        html.Div(id=ids.ADMIN_AUDIT, className="admin-table-wrap"),
        html.Button(t("admin.search.more", lang), id=ids.ADMIN_SEARCH_MORE, type="button", className="duty-button", hidden=True),
    ]), ids.ADMIN_AUDIT)

    return html.Div([
        header,
        html.Main([
            told,
            html.Div([
                _panel(t("admin.api_keys", lang), html.Div(id=ids.ADMIN_KEYS, className="admin-table-wrap"), ids.ADMIN_KEYS),
                _panel(t("admin.kiosk_tokens", lang), html.Div(id=ids.ADMIN_TOKENS, className="admin-table-wrap"), ids.ADMIN_TOKENS),
            ], className="admin-row"),
            html.Div([
                _panel(t("admin.accounts", lang), html.Div(id=ids.ADMIN_ACCOUNTS, className="admin-table-wrap"), ids.ADMIN_ACCOUNTS),
                reset,
            ], className="admin-row"),
            search,
        ], className="admin-main"),
        dcc.Store(id=ids.ADMIN_LANG, data=lang),
        dcc.Store(id=ids.ADMIN_DONE, data=0),
        dcc.Store(id=ids.ADMIN_AUDIT_BEFORE),
    ], id=ids.ADMIN_ROOT, className="duty-page admin-page", lang="zh-CN" if lang == "zh" else "en")


# --- what the callbacks fill in ---------------------------------------------------------------


def _table(head: list[str], rows: list[list], lang: str, class_name: str) -> html.Table | html.P:
    if not rows:
        return html.P(t("admin.empty", lang), className="duty-empty")
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody([html.Tr(r) for r in rows])],
                      className=f"admin-table {class_name}")


def _button(label: str, action: str, name: str, danger: bool = False) -> html.Button:
    return html.Button(label, id=ids.admin_act(action, name), type="button",
                       className="duty-button" + (" admin-danger" if danger else ""))


def _credentials(items, kind: str, lang: str, tz: ZoneInfo) -> html.Table | html.P:
    rows, acted = [], set()
    for c in items:
        state = t("admin.state.active", lang) if c.active else t("admin.state.revoked", lang).format(at=_when(c.revoked_at, tz))
        actions = []
        if c.name not in acted:  # the actions work on a name: on its newest row only
            acted.add(c.name)
            if c.active:
                actions.append(_button(t("admin.revoke", lang), f"{kind}.revoke", c.name, danger=True))
            actions.append(_button(t("admin.rotate", lang), f"{kind}.rotate", c.name))
        cells = [html.Td(c.name, className="admin-name")]
        if kind == "kiosk":
            cells.append(html.Td(c.scope or t("admin.city", lang)))
        cells += [html.Td(_when(c.created_at, tz)), html.Td(state, className="is-active" if c.active else "is-revoked"),
                  html.Td(actions, className="admin-actions")]
        rows.append(cells)
    head = [t("admin.col.source" if kind == "apikey" else "admin.col.wall", lang)]
    head += [t("admin.col.scope", lang)] if kind == "kiosk" else []
    head += [t("admin.col.created", lang), t("admin.col.state", lang), t("admin.col.actions", lang)]
    return _table(head, rows, lang, f"admin-{kind}")


def _accounts(view: AdminView, lang: str, tz: ZoneInfo) -> html.Table | html.P:
    rows = []
    for a in view.accounts:
        button = (_button(t("admin.disable", lang), "user.disable", a.username, danger=True) if a.active
                  else _button(t("admin.enable", lang), "user.enable", a.username))
        rows.append([html.Td(a.username, className="admin-name"), html.Td(a.display_name or "—"),
                     html.Td(t(f"admin.role.{a.role}", lang) if f"admin.role.{a.role}" in STRINGS else a.role),
                     html.Td(a.area or t("admin.city", lang)),
                     html.Td(t("admin.state.enabled" if a.active else "admin.state.disabled", lang),
                             className="is-active" if a.active else "is-revoked"),
                     html.Td(button, className="admin-actions")])
    head = [t(f"admin.col.{c}", lang) for c in ("username", "name", "role", "area", "state", "actions")]
    return _table(head, rows, lang, "admin-users")


def tables(view: AdminView, lang: str, tz: ZoneInfo) -> tuple:
    return (_credentials(view.api_keys, "apikey", lang, tz), _credentials(view.kiosk_tokens, "kiosk", lang, tz),
            _accounts(view, lang, tz))


def secret(value: str | None, lang: str) -> list | None:
    """A new key or token, shown this once."""
    if not value:
        return None
    return [html.Span(t("admin.secret", lang)), html.Code(value, className="admin-secret-value")]


def _detail(detail: dict | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (detail or {}).items())


def audit_rows(page: AuditPage, lang: str, tz: ZoneInfo) -> html.Table | html.P:
    if not page.entries:
        return html.P(t("admin.search.none", lang), className="duty-empty")
    rows = [[html.Td(_when(e.at, tz)), html.Td(e.who or "—"), html.Td(e.role or "—"), html.Td(e.action),
             html.Td(e.subject or "—"), html.Td(t(f"admin.outcome.{e.outcome}", lang) if e.outcome in OUTCOMES else e.outcome,
                                               className=f"is-{e.outcome}"),
             html.Td(e.channel), html.Td(e.ip or "—"), html.Td(_detail(e.detail), className="admin-detail")]
            for e in page.entries]
    head = [t(f"admin.col.{c}", lang) for c in ("at", "who", "role", "action", "subject", "outcome", "channel", "ip")] + [""]
    return _table(head, rows, lang, "admin-audit")
