"""The sign-out button: a plain form carrying the session's CSRF token (see /logout)."""

from __future__ import annotations

from dash import dcc, html

from bigscreen.auth.context import caller
from bigscreen.screens.i18n import t


def sign_out(lang: str, class_name: str) -> html.Form | None:
    csrf = caller().csrf
    if csrf is None:
        return None
    return html.Form([dcc.Input(type="hidden", name="csrf", value=csrf),
                      html.Button(t("login.logout", lang), type="submit")],
                     method="post", action="/logout", className=class_name)
