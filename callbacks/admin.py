"""Admin page callbacks: thin, over bigscreen.admin.console. Each acts as the caller of the request
(`caller()`); the core refuses anyone but an admin with Forbidden (→ 403, recorded). SQL, and the
slow password hash, run in a worker thread, never on the event loop."""

from __future__ import annotations

from dash import ALL, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from starlette.concurrency import run_in_threadpool

from bigscreen.admin import console
from bigscreen.admin.trail import AuditFilters
from bigscreen.auth.context import caller
from bigscreen.screens.i18n import pick_lang
from callbacks.duty import clicked
from layouts import admin as page
from layouts import ids


def _told(outcome) -> tuple[str, str]:
    return outcome.text, "duty-message " + ("is-ok" if outcome.ok else "is-error")


def register(app, rt) -> None:
    @app.callback(Output(ids.ADMIN_KEYS, "children"), Output(ids.ADMIN_TOKENS, "children"), Output(ids.ADMIN_ACCOUNTS, "children"),
                  Input(ids.ADMIN_DONE, "data"), State(ids.ADMIN_LANG, "data"))
    async def show_admin_tables(_done, lang):
        view = await run_in_threadpool(console.admin_view, rt, caller())
        return page.tables(view, pick_lang(lang), rt.tz)

    @app.callback(Output(ids.ADMIN_MESSAGE, "children"), Output(ids.ADMIN_MESSAGE, "className"),
                  Output(ids.ADMIN_SECRET, "children"), Output(ids.ADMIN_DONE, "data"),
                  Input({"type": ids.ADMIN_ACT, "action": ALL, "name": ALL}, "n_clicks"),
                  State(ids.ADMIN_LANG, "data"), State(ids.ADMIN_DONE, "data"), prevent_initial_call=True)
    async def act_as_admin(_clicks, lang, done):
        hit = clicked()
        if hit is None:
            raise PreventUpdate
        lang = pick_lang(lang)
        outcome = await run_in_threadpool(console.act, rt, caller(), hit.get("action"), hit.get("name"), lang)
        return *_told(outcome), page.secret(outcome.result, lang), (done or 0) + 1

    @app.callback(Output(ids.ADMIN_RESET_MESSAGE, "children"), Output(ids.ADMIN_RESET_MESSAGE, "className"),
                  Output(ids.ADMIN_RESET_PASSWORD, "value"), Output(ids.ADMIN_RESET_CONFIRMATION, "value"),
                  Input(ids.ADMIN_RESET_SUBMIT, "n_clicks"), State(ids.ADMIN_RESET_USERNAME, "value"),
                  State(ids.ADMIN_RESET_PASSWORD, "value"), State(ids.ADMIN_RESET_CONFIRMATION, "value"),
                  State(ids.ADMIN_LANG, "data"), prevent_initial_call=True)
    async def reset_a_password(_n, username, password, confirmation, lang):
        outcome = await run_in_threadpool(console.reset_password, rt, caller(), username, password, confirmation,
                                          pick_lang(lang))
        return *_told(outcome), "", ""

    @app.callback(Output(ids.ADMIN_AUDIT, "children"), Output(ids.ADMIN_AUDIT_BEFORE, "data"),
                  Output(ids.ADMIN_SEARCH_MORE, "hidden"), Output(ids.ADMIN_AUDIT_MESSAGE, "children"),
                  Output(ids.ADMIN_AUDIT_MESSAGE, "className"),
                  Input(ids.ADMIN_SEARCH_SUBMIT, "n_clicks"), Input(ids.ADMIN_SEARCH_MORE, "n_clicks"),
                  State(ids.ADMIN_SEARCH_WHO, "value"), State(ids.ADMIN_SEARCH_ACTION, "value"),
                  State(ids.ADMIN_SEARCH_OUTCOME, "value"), State(ids.ADMIN_SEARCH_SINCE, "value"),
                  State(ids.ADMIN_SEARCH_UNTIL, "value"), State(ids.ADMIN_SEARCH_IP, "value"),
                  State(ids.ADMIN_AUDIT_BEFORE, "data"), State(ids.ADMIN_LANG, "data"))
    async def search_audit_trail(_search, _more, who, action, outcome, since, until, ip, before, lang):
        lang = pick_lang(lang)
        older = ctx.triggered_id == ids.ADMIN_SEARCH_MORE
        filters = AuditFilters(who=who, action=action, outcome=outcome, since=since, until=until, ip=ip,
                               before=before if older else None)
        found, refused = await run_in_threadpool(console.search, rt, caller(), filters, lang)
        if refused is not None:
            return no_update, no_update, no_update, *_told(refused)
        last = found.entries[-1].id if found.entries else None
        return page.audit_rows(found, lang, rt.tz), last, not found.more, "", "duty-message"
