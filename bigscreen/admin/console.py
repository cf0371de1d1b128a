"""The admin page (`/admin`): what it shows and what an admin does there, in words. No Dash here.

Every function checks the caller first (`require_admin`: Forbidden, which the app answers with
403 and records), then runs the same commands as the command line. A refusal of the core becomes
an `Outcome` the admin reads, Chinese first; a new key or token is handed back once, in
`Outcome.result`, and stored nowhere but as its hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from bigscreen.admin.accounts import Account, DisableAccount, EnableAccount, ResetPassword, list_accounts
from bigscreen.admin.base import Secret, require_admin
from bigscreen.admin.credentials import (
    Credential,
    RevokeApiKey,
    RevokeKioskToken,
    RotateApiKey,
    RotateKioskToken,
    list_api_keys,
    list_kiosk_tokens,
)
from bigscreen.admin.trail import AuditFilters, AuditPage, search_audit
from bigscreen.auth.context import Caller
from bigscreen.domain.schemas import Problem
from bigscreen.process.runtime import Runtime
from bigscreen.screens.duty import Outcome
from bigscreen.screens.i18n import t

ACTIONS = {
    "apikey.revoke": RevokeApiKey, "apikey.rotate": RotateApiKey,
    "kiosk.revoke": RevokeKioskToken, "kiosk.rotate": RotateKioskToken,
    "user.disable": DisableAccount, "user.enable": EnableAccount,
}
NAME_MAX = 100


@dataclass(frozen=True)
class AdminView:
    api_keys: list[Credential]
    kiosk_tokens: list[Credential]
    accounts: list[Account]


def admin_view(rt: Runtime, caller: Caller) -> AdminView:
    require_admin(caller, "admin.view")
    return AdminView(list_api_keys(rt), list_kiosk_tokens(rt), list_accounts(rt))


def act(rt: Runtime, caller: Caller, action: str, name, lang: str) -> Outcome:
    """Revoke or rotate a source's key or a wall's token, disable or enable an account."""
    command = ACTIONS.get(action)
    name = name if isinstance(name, str) else ""
    require_admin(caller, action if command else "admin.act", name[:NAME_MAX] or None)
    if command is None:
        return Outcome(False, t("admin.err.action", lang))
    try:
        answer = command(rt, caller, name[:NAME_MAX]).run()
    except Problem as problem:
        return Outcome(False, explain(problem, name, lang))
    if isinstance(answer, Secret):
        return Outcome(True, t(f"admin.done.{action}", lang).format(name=name), answer.secret)
    return Outcome(True, t(f"admin.done.{action}", lang).format(name=name))


def reset_password(rt: Runtime, caller: Caller, username, password, confirmation, lang: str) -> Outcome:
    username = (username if isinstance(username, str) else "").strip()[:NAME_MAX]
    require_admin(caller, "user.reset_password", username or None)
    if not username:
        return Outcome(False, t("admin.err.no_username", lang))
    if password != confirmation:
        return Outcome(False, t("admin.err.mismatch", lang))
    try:
        ResetPassword(rt, caller, username, password if isinstance(password, str) else "").run()
    except Problem as problem:
        return Outcome(False, explain(problem, username, lang))
    return Outcome(True, t("admin.done.user.reset_password", lang).format(name=username))


def search(rt: Runtime, caller: Caller, filters: AuditFilters, lang: str) -> tuple[AuditPage | None, Outcome | None]:
    """A page of the audit trail, or why the filters were refused."""
    try:
        return search_audit(rt, caller, filters), None
    except Problem as problem:
        return None, Outcome(False, explain(problem, "", lang))


def explain(problem: Problem, name: str, lang: str) -> str:
    """A refusal of the core in words for the admin (the core's details are in English)."""
    detail = problem.detail
    if isinstance(detail, dict) and detail.get("reason") in ("unknown", "none_in_force", "already", "last_admin"):
        return t(f"admin.err.{detail['reason']}", lang).format(name=name)
    if isinstance(detail, list):
        fields = []
        for error in detail:
            field = str((error.get("loc") or ["?"])[0])
            label = t(f"admin.field.{field}", lang) if f"admin.field.{field}" in _FIELDS else field
            part = label if lang == "zh" else f"{label}: {error.get('msg', '')}"
            if part not in fields:
                fields.append(part)
        return t("admin.err.invalid", lang) + ("、" if lang == "zh" else "; ").join(fields)
    return t("admin.err.other", lang).format(detail=detail.get("message") if isinstance(detail, dict) else detail)


_FIELDS = {f"admin.field.{f}" for f in ("password", "who", "action", "outcome", "ip", "since", "until", "limit", "before")}
