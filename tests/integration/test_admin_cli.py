"""The `bigscreen` command's administration verbs, on the runtime's database and Redis."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from tests_support import PASSWORD, audit_entries, login

from bigscreen.admin.credentials import list_api_keys
from bigscreen.cli import main

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def cli(runtime):
    env = {"BIGSCREEN_DATA_DIR": str(runtime.settings.data_dir), "BIGSCREEN_DATABASE_URL": runtime.settings.database_url,
           "BIGSCREEN_REDIS_URL": runtime.settings.redis_url}

    def run(*args: str, input: str | None = None, extra_env: dict | None = None):
        return CliRunner().invoke(main, list(args), input=input, env={**env, **(extra_env or {})}, catch_exceptions=False)

    return run


def test_keys_and_tokens_on_the_command_line(cli, runtime, client, api_key, kiosk_token):
    listed = cli("apikey", "list")
    assert listed.exit_code == 0 and "test-source" in listed.output and "in force" in listed.output
    assert api_key not in listed.output
    rotated = cli("apikey", "rotate", "--source", "test-source")
    assert rotated.exit_code == 0 and rotated.output.strip().startswith("bsk_")
    new_key = rotated.output.strip()
    assert client.get("/api/v1/areas", headers={"X-API-Key": new_key}).status_code == 200
    assert [k.active for k in list_api_keys(runtime)] == [True, False]
    revoked = cli("apikey", "revoke", "--source", "test-source")
    assert revoked.exit_code == 0 and "1 API key(s)" in revoked.output

    unknown = cli("apikey", "revoke", "--source", "no-such-source")
    assert unknown.exit_code == 2 and "--source" in unknown.output and "'no-such-source'" in unknown.output
    again = cli("apikey", "revoke", "--source", "test-source")
    assert again.exit_code == 2 and "no API key in force" in again.output

    assert "测试大屏" in cli("kiosk", "list").output
    wall = cli("kiosk", "rotate", "--name", "测试大屏")
    assert wall.exit_code == 0 and wall.output.startswith("/wall?token=bsw_")
    assert cli("kiosk", "revoke", "--name", "测试大屏").exit_code == 0
    missing = cli("kiosk", "rotate", "--name", "走廊屏")
    assert missing.exit_code == 2 and "'走廊屏'" in missing.output
    entries = audit_entries(runtime, channel="system")
    assert [(e.action, e.outcome) for e in entries] == [
        ("apikey.rotate", "ok"), ("apikey.revoke", "ok"), ("apikey.revoke", "refused"), ("apikey.revoke", "refused"),
        ("kiosk.rotate", "ok"), ("kiosk.revoke", "ok"), ("kiosk.rotate", "refused")]
    assert all(e.detail.get("by") for e in entries), "the operating-system user is recorded"


def test_accounts_on_the_command_line(cli, runtime, web, account):
    duty, admin = account("duty"), account("admin")
    listed = cli("user", "list")
    assert duty in listed.output and "enabled" in listed.output
    assert cli("user", "disable", duty).exit_code == 0
    assert login(web, duty).status_code == 401
    assert cli("user", "enable", duty).exit_code == 0
    last = cli("user", "disable", admin)
    assert last.exit_code == 2 and "last enabled admin" in last.output
    nobody = cli("user", "disable", "nobody")
    assert nobody.exit_code == 2 and "no account 'nobody'" in nobody.output

    typo = cli("user", "reset-password", duty, input="a brand new passphrase\nanother one entirely\n"
                                                  "a brand new passphrase\na brand new passphrase\n")
    assert typo.exit_code == 0 and "do not match" in typo.output.lower()
    assert "a brand new passphrase" not in typo.output, "the prompt hides what is typed"
    assert login(web, duty, PASSWORD).status_code == 401
    assert login(web, duty, "a brand new passphrase").status_code == 303
    from_env = cli("user", "reset-password", duty, "--password-env", "NEW_PW", extra_env={"NEW_PW": "from the environment"})
    assert from_env.exit_code == 0 and login(web, duty, "from the environment").status_code == 303
    unset = cli("user", "reset-password", duty, "--password-env", "NOT_SET_ANYWHERE")
    assert unset.exit_code == 2 and "NOT_SET_ANYWHERE" in unset.output
    weak = cli("user", "reset-password", duty, input="short\nshort\n")
    assert weak.exit_code == 2 and "password" in weak.output and "at least 10" in weak.output
    assert "Traceback" not in last.output + nobody.output + weak.output + unset.output


def test_the_audit_trail_on_the_command_line(cli, runtime, account):
    duty = account("duty")
    cli("user", "disable", duty)
    cli("user", "disable", "ghost")
    found = cli("audit", "search", "--action", "user.disable")
    lines = found.output.strip().splitlines()
    assert found.exit_code == 0 and "ghost" in lines[0] and "refused" in lines[0] and duty in lines[1]
    assert len(cli("audit", "search", "--action", "user.", "--limit", "1").output.strip().splitlines()) == 2, "an entry and the next page's hint"
    assert "--before" in cli("audit", "search", "--limit", "1").output
    assert cli("audit", "search", "--ip", "192.0.2.1").output.strip() == "no entries"
    from bigscreen.auth.audit import record

    record(runtime, None, "open", subject="/\x1b[2Jgone", outcome="refused", ip="192.0.2.9")
    shown = cli("audit", "search", "--ip", "192.0.2.9").output
    assert "\x1b" not in shown and "/\\x1b[2Jgone" in shown, "a control character in a path is shown escaped"
    bad = cli("audit", "search", "--since", "last tuesday", "--outcome", "perhaps")
    assert bad.exit_code == 2 and "--outcome" in bad.output and "--since" in bad.output and "ISO date" in bad.output
