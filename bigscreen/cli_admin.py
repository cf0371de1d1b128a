"""The `bigscreen` command's administration verbs: keys, kiosk tokens, accounts and the audit trail.

Each verb runs the same command of bigscreen.admin that the admin page runs, as the server's own
caller (channel "system"; the operating-system user is recorded as `by`). A refusal (an unknown
name, the last admin, a weak password, a bad filter) exits with status 2 and names what is wrong.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click

from bigscreen.admin.base import problem_text, system_caller
from bigscreen.domain.schemas import Problem


def _when(at: datetime | None, rt) -> str:
    return at.astimezone(rt.tz).strftime("%Y-%m-%d %H:%M:%S") if at else "-"


@contextmanager
def _admin_runtime(open_runtime: Callable, settings):
    """A runtime with Redis (revocations end sessions and are announced there)."""
    from bigscreen.process.datadir import ensure_redis, prepare_database, release_redis

    settings, owned = ensure_redis(settings)
    try:
        rt = open_runtime(settings)
        try:
            prepare_database(rt)
            yield rt
        finally:
            rt.close()
    finally:
        release_redis(owned, settings)


def _run(make: Callable, hint: str):
    """Runs an admin command; a refusal exits 2 naming the field at fault (else `hint`)."""
    try:
        return make().run()
    except Problem as exc:
        raise _refused(exc, hint) from None


def _refused(exc: Problem, hint: str | None, option: bool = False) -> click.BadParameter:
    """A refusal as click's usage error (exit 2): the fields a list of errors names, else `hint`."""
    if isinstance(exc.detail, list):
        hint = ", ".join(sorted({("--" if option else "") + str(e["loc"][0]) for e in exc.detail}))
    return click.BadParameter(problem_text(exc), param_hint=hint)


def _by() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def register(main: click.Group, apikey: click.Group, kiosk: click.Group, user: click.Group,
             data_dir_option: Callable, settings_of: Callable, open_runtime: Callable) -> None:
    """Adds the verbs to the groups of bigscreen.cli (which passes its own ways to settings and a runtime)."""

    def admin_runtime(data_dir: Path | None):
        return _admin_runtime(open_runtime, settings_of(data_dir))

    from bigscreen.admin.accounts import DisableAccount, EnableAccount, ResetPassword, list_accounts
    from bigscreen.admin.credentials import (
        RevokeApiKey,
        RevokeKioskToken,
        RotateApiKey,
        RotateKioskToken,
        list_api_keys,
        list_kiosk_tokens,
    )

    def list_credentials(rt, items, label: str) -> None:
        if not items:
            click.echo(f"no {label}")
        for c in items:
            state = "in force" if c.active else f"revoked {_when(c.revoked_at, rt)}"
            scope = f"  scope {c.scope}" if c.scope else ""
            click.echo(_printable(f"{c.name}  created {_when(c.created_at, rt)}  {state}{scope}"))

    @apikey.command("list")
    @data_dir_option
    def apikey_list(data_dir: Path | None) -> None:
        """List every source's API keys (in force first; never the keys themselves: only hashes are kept)."""
        with admin_runtime(data_dir) as rt:
            list_credentials(rt, list_api_keys(rt), "API keys")

    @apikey.command("revoke")
    @data_dir_option
    @click.option("--source", required=True, help="The source whose keys stop working.")
    def apikey_revoke(data_dir: Path | None, source: str) -> None:
        """Revoke every key of SOURCE in force: the API refuses them within a second."""
        with admin_runtime(data_dir) as rt:
            count = _run(lambda: RevokeApiKey(rt, system_caller(), source, by=_by()), "--source")
        click.echo(f"{count} API key(s) of '{source}' revoked")

    @apikey.command("rotate")
    @data_dir_option
    @click.option("--source", required=True, help="The source that gets a new key.")
    def apikey_rotate(data_dir: Path | None, source: str) -> None:
        """Give SOURCE a new key and revoke its old ones; print the new key (shown only once)."""
        with admin_runtime(data_dir) as rt:
            made = _run(lambda: RotateApiKey(rt, system_caller(), source, by=_by()), "--source")
        click.echo(made.secret)

    @kiosk.command("list")
    @data_dir_option
    def kiosk_list(data_dir: Path | None) -> None:
        """List the walls' kiosk tokens (in force first; never the tokens themselves)."""
        with admin_runtime(data_dir) as rt:
            list_credentials(rt, list_kiosk_tokens(rt), "kiosk tokens")

    @kiosk.command("revoke")
    @data_dir_option
    @click.option("--name", required=True, help="The wall whose tokens stop working.")
    def kiosk_revoke(data_dir: Path | None, name: str) -> None:
        """Revoke every token of the wall NAME in force and end the sessions the wall began with them."""
        with admin_runtime(data_dir) as rt:
            count = _run(lambda: RevokeKioskToken(rt, system_caller(), name, by=_by()), "--name")
        click.echo(f"{count} kiosk token(s) of '{name}' revoked")

    @kiosk.command("rotate")
    @data_dir_option
    @click.option("--name", required=True, help="The wall that gets a new token (its scope kept).")
    def kiosk_rotate(data_dir: Path | None, name: str) -> None:
        """Give the wall NAME a new token and revoke its old ones; print its URL path (shown only once)."""
        with admin_runtime(data_dir) as rt:
            made = _run(lambda: RotateKioskToken(rt, system_caller(), name, by=_by()), "--name")
        click.echo(made.secret)

    @user.command("list")
    @data_dir_option
    def user_list(data_dir: Path | None) -> None:
        """List the accounts (enabled first)."""
        with admin_runtime(data_dir) as rt:
            accounts = list_accounts(rt)
            for a in accounts:
                shown = f" ({a.display_name})" if a.display_name else ""
                area = f"  area {a.area}" if a.area else ""
                click.echo(_printable(f"{a.username}{shown}  {a.role}{area}  {'enabled' if a.active else 'disabled'}  "
                                      f"created {_when(a.created_at, rt)}"))
        if not accounts:
            click.echo("no accounts")

    @user.command("disable")
    @data_dir_option
    @click.argument("username")
    def user_disable(data_dir: Path | None, username: str) -> None:
        """Disable an account: it cannot sign in, its sessions end now (never the last enabled admin)."""
        with admin_runtime(data_dir) as rt:
            _run(lambda: DisableAccount(rt, system_caller(), username, by=_by()), "username")
        click.echo(f"account '{username}' disabled; its sessions ended")

    @user.command("enable")
    @data_dir_option
    @click.argument("username")
    def user_enable(data_dir: Path | None, username: str) -> None:
        """Enable a disabled account again."""
        with admin_runtime(data_dir) as rt:
            _run(lambda: EnableAccount(rt, system_caller(), username, by=_by()), "username")
        click.echo(f"account '{username}' enabled")

    @user.command("reset-password")
    @data_dir_option
    @click.argument("username")
    @click.option("--password-env", "password_env", default=None, metavar="VAR",
                  help="Take the new password from this environment variable instead of asking.")
    def user_reset_password(data_dir: Path | None, username: str, password_env: str | None) -> None:
        """Set a new password (asked for twice, hidden; never an argument); the account's sessions end."""
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise click.BadParameter(f"the environment variable {password_env} is not set or empty",
                                         param_hint="--password-env")
        else:
            password = click.prompt("new password", hide_input=True, confirmation_prompt=True)
        with admin_runtime(data_dir) as rt:
            _run(lambda: ResetPassword(rt, system_caller(), username, password, by=_by()), "username")
        click.echo(f"password of '{username}' reset; its sessions ended")

    @main.group()
    def audit() -> None:
        """The audit trail: who did or tried what, when, from where."""

    @audit.command("search")
    @data_dir_option
    @click.option("--who", default=None, help="A username (exactly).")
    @click.option("--action", default=None, help="An action, e.g. login, user.disable; or a family ending in '.', e.g. user.")
    @click.option("--outcome", default=None, help="ok, refused, failed or locked.")
    @click.option("--since", default=None, help="From this ISO date or time (the city's local time without a zone).")
    @click.option("--until", default=None, help="Up to this ISO date (through its end) or time.")
    @click.option("--ip", default=None, help="The address the request came from (exactly).")
    @click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500), help="Entries to show.")
    @click.option("--before", default=None, type=click.IntRange(1), help="Only entries older than this entry id (the next page).")
    def audit_search(data_dir: Path | None, **filters) -> None:
        """Search the audit trail, newest first."""
        from bigscreen.admin.trail import AuditFilters, search_audit

        with admin_runtime(data_dir) as rt:
            try:
                page = search_audit(rt, system_caller(), AuditFilters(**filters))
            except Problem as exc:
                raise _refused(exc, None, option=True) from None
            for e in page.entries:
                click.echo(_printable(f"#{e.id}  {_when(e.at, rt)}  {e.who or '-'}"
                           f"{' (' + e.role + ')' if e.role else ''}  {e.action}  {e.subject or '-'}  {e.outcome}  "
                           f"{e.channel}  {e.ip or '-'}{'  ' + _detail(e.detail) if e.detail else ''}"))
        if not page.entries:
            click.echo("no entries")
        elif page.more:
            click.echo(f"… older entries match too: --before {page.entries[-1].id}")


def _printable(text: str) -> str:
    """Text typed by anyone (a path, a username tried at the login) as the terminal should show it:
    control characters escaped, so none can move the cursor or recolour the admin's terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _detail(detail: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in detail.items() if k != "by")
