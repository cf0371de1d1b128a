"""Duty desk callbacks: thin, over bigscreen.screens.duty. Each one acts as the caller of the request
(`caller()`: principal, address, channel "web"); the core checks the permission, writes the
audit entry and raises Forbidden (→ 403) for anyone who may not act. SQL runs in a worker
thread, never on the event loop."""

from __future__ import annotations

import hashlib
import json

from dash import ALL, ClientsideFunction, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from starlette.concurrency import run_in_threadpool

from bigscreen.auth.context import caller
from bigscreen.screens import duty
from bigscreen.screens.i18n import pick_lang
from layouts import duty as desk
from layouts import ids


def clicked() -> dict | None:
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
    lists = (ids.DUTY_ALERT_LIST, ids.DUTY_ALERT_SUMMARY, ids.DUTY_OVERDUE_LIST, ids.DUTY_WHISTLE_LIST, ids.DUTY_MINE_LIST)

    @app.callback(*[Output(i, "children") for i in lists], Output(ids.DUTY_SIGNATURE, "data"), Output(ids.DUTY_AS_OF, "children"),
                  Input(ids.DUTY_TICK, "n_intervals"), Input(ids.DUTY_ALERT_DONE, "data"), Input(ids.DUTY_RAISE_DONE, "data"),
                  Input(ids.DUTY_WHISTLE_DONE, "data"), State(ids.DUTY_LANG, "data"), State(ids.DUTY_SIGNATURE, "data"))
    async def refresh_duty_desk(_n, _alert_done, _raise_done, _whistle_done, lang, signature):
        view = await run_in_threadpool(duty.desk_view, rt, caller().principal)
        shown = desk.render(view, pick_lang(lang), rt.tz)
        digest = _digest(shown)
        as_of = view.now.astimezone(rt.tz).strftime("%H:%M:%S")
        if digest == signature:  # nothing new: leave the lists (and what is typed in them) alone
            return *(no_update,) * len(lists), no_update, as_of
        return *shown, digest, as_of

    # a click becomes one record in a store the refreshes never redraw (assets/duty.js): the renderer keeps only
    # the newest call of a callback, and a redrawn list would call one that listens to the buttons again
    app.clientside_callback(ClientsideFunction(namespace="duty", function_name="pressed"),
                            Output(ids.DUTY_ALERT_PRESSED, "data"),
                            *[Input({"type": kind, "alert": ALL}, "n_clicks") for kind in desk.ALERT_BUTTONS],
                            State({"type": ids.DUTY_COMMENT, "alert": ALL, "status": ALL}, "value"), prevent_initial_call=True)

    @app.callback(Output(ids.DUTY_ALERT_MESSAGE, "children"), Output(ids.DUTY_ALERT_MESSAGE, "className"),
                  Output(ids.DUTY_ALERT_DONE, "data"), Input(ids.DUTY_ALERT_PRESSED, "data"),
                  State(ids.DUTY_LANG, "data"), State(ids.DUTY_ALERT_DONE, "data"), prevent_initial_call=True)
    async def act_on_alert(pressed, lang, done):
        try:
            verb, alert_id = desk.ALERT_BUTTONS[pressed["type"]], int(pressed["alert"])
            comment = pressed.get("comment")
        except (TypeError, KeyError, ValueError):
            raise PreventUpdate from None  # not a press the page makes
        outcome = await run_in_threadpool(duty.act_on_alert, rt, caller(), verb, alert_id,
                                          comment if isinstance(comment, str) else None, pick_lang(lang))
        return *_told(outcome), (done or 0) + 1

    @app.callback(Output(ids.DUTY_RAISE_MESSAGE, "children"), Output(ids.DUTY_RAISE_MESSAGE, "className"),
                  Output(ids.DUTY_RAISE_DONE, "data"), Output(ids.DUTY_RAISE_TITLE, "value"),
                  Input(ids.DUTY_RAISE_SUBMIT, "n_clicks"), State(ids.DUTY_RAISE_COLOUR, "value"), State(ids.DUTY_RAISE_TITLE, "value"),
                  State(ids.DUTY_RAISE_AREA, "value"), State(ids.DUTY_LANG, "data"), State(ids.DUTY_RAISE_DONE, "data"),
                  prevent_initial_call=True)
    async def raise_alert_by_hand(_n, colour, title, area, lang, done):
        outcome = await run_in_threadpool(duty.raise_by_hand, rt, caller(), colour, title, area, pick_lang(lang))
        return *_told(outcome), (done or 0) + 1, "" if outcome.ok else no_update

    @app.callback(Output(ids.DUTY_WHISTLE_MESSAGE, "children"), Output(ids.DUTY_WHISTLE_MESSAGE, "className"),
                  Output(ids.DUTY_WHISTLE_DONE, "data"),
                  Input(ids.DUTY_WHISTLE_SUBMIT, "n_clicks"), State(ids.DUTY_WHISTLE_CASE, "value"), State(ids.DUTY_WHISTLE_KIND, "value"),
                  State(ids.DUTY_WHISTLE_DEPARTMENTS, "value"), State(ids.DUTY_WHISTLE_NOTE, "value"), State(ids.DUTY_LANG, "data"),
                  State(ids.DUTY_WHISTLE_DONE, "data"), prevent_initial_call=True)
    async def whistle_case(_n, case, kind, departments, note, lang, done):
        outcome = await run_in_threadpool(duty.whistle_case, rt, caller(), case, kind, departments, note, pick_lang(lang))
        return *_told(outcome), (done or 0) + 1

    @app.callback(Output(ids.DUTY_WHISTLE_CASE, "value"), Input({"type": ids.DUTY_PICK, "event": ALL}, "n_clicks"),
                  prevent_initial_call=True)
    def pick_case_to_whistle(_clicks):
        hit = clicked()
        if hit is None:
            raise PreventUpdate
        return str(hit.get("event", ""))
