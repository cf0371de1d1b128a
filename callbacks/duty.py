"""Duty desk callbacks: thin, over bigscreen.screens.duty. Each one acts as the caller of the request
(`caller()`: principal, address, channel "web"); the core checks the permission, writes the
audit entry and raises Forbidden (→ 403) for anyone who may not act. SQL runs in a worker
thread, never on the event loop."""

from __future__ import annotations

import hashlib
import json

from dash import ALL, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from starlette.concurrency import run_in_threadpool

from bigscreen.auth.context import caller
from bigscreen.screens import duty
from bigscreen.screens.i18n import pick_lang
from layouts import duty as desk


def _clicked() -> dict | None:
    """The pattern-matching id of the button actually clicked (a list re-rendered with fresh
    buttons also fires the callback, with no clicks)."""
    for fired in ctx.triggered:
        if fired.get("value"):
            return json.loads(fired["prop_id"].rsplit(".", 1)[0])
    return None


def _told(outcome: duty.Outcome) -> tuple[str, str]:
    return outcome.text, "duty-message " + ("is-ok" if outcome.ok else "is-error")


def _digest(parts) -> str:
    text = json.dumps(parts, default=lambda c: c.to_plotly_json(), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def register(app, rt) -> None:
    lists = (desk.ALERT_LIST, desk.ALERT_SUMMARY, desk.OVERDUE_LIST, desk.WHISTLE_LIST, desk.MINE_LIST)

    @app.callback(*[Output(i, "children") for i in lists], Output(desk.SIGNATURE, "data"), Output(desk.AS_OF, "children"),
                  Input(desk.TICK, "n_intervals"), Input(desk.ALERT_DONE, "data"), Input(desk.RAISE_DONE, "data"),
                  Input(desk.WHISTLE_DONE, "data"), State(desk.LANG, "data"), State(desk.SIGNATURE, "data"))
    async def refresh_duty_desk(_n, _alert_done, _raise_done, _whistle_done, lang, signature):
        view = await run_in_threadpool(duty.desk_view, rt, caller().principal)
        shown = desk.render(view, pick_lang(lang), rt.tz)
        digest = _digest(shown)
        as_of = view.now.astimezone(rt.tz).strftime("%H:%M:%S")
        if digest == signature:  # nothing new: leave the lists (and what is typed in them) alone
            return *(no_update,) * len(lists), no_update, as_of
        return *shown, digest, as_of

    @app.callback(Output(desk.ALERT_MESSAGE, "children"), Output(desk.ALERT_MESSAGE, "className"),
                  Output(desk.ALERT_DONE, "data"),
                  *[Input({"type": kind, "alert": ALL}, "n_clicks") for kind in desk.ALERT_BUTTONS],
                  State({"type": desk.COMMENT, "alert": ALL, "status": ALL}, "value"),
                  State(desk.LANG, "data"), State(desk.ALERT_DONE, "data"), prevent_initial_call=True)
    async def act_on_alert(_acks, _resolves, _escalates, _comments, lang, done):
        hit = _clicked()
        if hit is None:
            raise PreventUpdate
        comment = next((box.get("value") for box in ctx.states_list[0] if box["id"].get("alert") == hit.get("alert")), None)
        outcome = await run_in_threadpool(duty.act_on_alert, rt, caller(), desk.ALERT_BUTTONS[hit["type"]],
                                          hit.get("alert"), comment, pick_lang(lang))
        return *_told(outcome), (done or 0) + 1

    @app.callback(Output(desk.RAISE_MESSAGE, "children"), Output(desk.RAISE_MESSAGE, "className"),
                  Output(desk.RAISE_DONE, "data"), Output(desk.RAISE_TITLE, "value"),
                  Input(desk.RAISE_SUBMIT, "n_clicks"), State(desk.RAISE_COLOUR, "value"), State(desk.RAISE_TITLE, "value"),
                  State(desk.RAISE_AREA, "value"), State(desk.LANG, "data"), State(desk.RAISE_DONE, "data"),
                  prevent_initial_call=True)
    async def raise_alert_by_hand(_n, colour, title, area, lang, done):
        outcome = await run_in_threadpool(duty.raise_by_hand, rt, caller(), colour, title, area, pick_lang(lang))
        return *_told(outcome), (done or 0) + 1, "" if outcome.ok else no_update

    @app.callback(Output(desk.WHISTLE_MESSAGE, "children"), Output(desk.WHISTLE_MESSAGE, "className"),
                  Output(desk.WHISTLE_DONE, "data"),
                  Input(desk.WHISTLE_SUBMIT, "n_clicks"), State(desk.WHISTLE_CASE, "value"), State(desk.WHISTLE_KIND, "value"),
                  State(desk.WHISTLE_DEPARTMENTS, "value"), State(desk.WHISTLE_NOTE, "value"), State(desk.LANG, "data"),
                  State(desk.WHISTLE_DONE, "data"), prevent_initial_call=True)
    async def whistle_case(_n, case, kind, departments, note, lang, done):
        outcome = await run_in_threadpool(duty.whistle_case, rt, caller(), case, kind, departments, note, pick_lang(lang))
        return *_told(outcome), (done or 0) + 1

    @app.callback(Output(desk.WHISTLE_CASE, "value"), Input({"type": desk.PICK, "event": ALL}, "n_clicks"),
                  prevent_initial_call=True)
    def pick_case_to_whistle(_clicks):
        hit = _clicked()
        if hit is None:
            raise PreventUpdate
        return str(hit.get("event", ""))
