"""Administration in the core: keys, kiosk tokens and accounts listed, revoked and rotated, passwords
reset, and the audit trail searched; on real Redis and SQL, through the running app's caches."""

from __future__ import annotations

import time

import pytest
from tests_support import PASSWORD, SQLITE_ONLY, audit_entries, login

from bigscreen.admin.accounts import DisableAccount, EnableAccount, ResetPassword, list_accounts
from bigscreen.admin.base import system_caller
from bigscreen.admin.credentials import (
    RevokeApiKey,
    RevokeKioskToken,
    RotateApiKey,
    RotateKioskToken,
    list_api_keys,
    list_kiosk_tokens,
)
from bigscreen.admin.trail import AuditFilters, search_audit
from bigscreen.auth.context import Caller, Forbidden
from bigscreen.auth.kiosk import create_kiosk_token
from bigscreen.auth.revocation import CHECK_S
from bigscreen.auth.roles import Principal, Role
from bigscreen.domain.schemas import Problem

AREAS = "/api/v1/areas?level=district"


def _until(check, seconds: float = CHECK_S + 4) -> float:
    """Seconds until `check()` holds (fails the test past `seconds`)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, "not within the bound"
        time.sleep(0.05)
    return time.monotonic() - started


def _admin(runtime, account) -> Caller:
    from bigscreen.auth.users import authenticate

    who = authenticate(runtime, account("admin"), PASSWORD)
    return Caller(who, "10.0.0.7", "web")


@SQLITE_ONLY
def test_a_rotated_api_key_stops_working_within_a_second(client, runtime, api_key):
    assert client.get(AREAS).status_code == 200  # the key is in the app's cache now
    fresh = RotateApiKey(runtime, system_caller(), "test-source", by="ops").run()
    assert fresh.secret.startswith("bsk_") and fresh.secret != api_key
    took = _until(lambda: client.get(AREAS).status_code == 401)
    assert took <= CHECK_S + 2, "the cache (30 s) was not dropped when the revocation was announced"
    assert client.get(AREAS, headers={"X-API-Key": fresh.secret}).status_code == 200
    keys = list_api_keys(runtime)
    assert [(k.name, k.active) for k in keys] == [("test-source", True), ("test-source", False)]
    (entry,) = audit_entries(runtime, action="apikey.rotate")
    assert entry.channel == "system" and entry.detail == {"revoked": 1, "by": "ops"} and entry.username is None

    assert RevokeApiKey(runtime, system_caller(), "test-source").run() == 1
    _until(lambda: client.get(AREAS, headers={"X-API-Key": fresh.secret}).status_code == 401)
    with pytest.raises(Problem) as again:
        RevokeApiKey(runtime, system_caller(), "test-source").run()
    assert again.value.status == 409 and "no API key in force" in again.value.detail["message"]
    with pytest.raises(Problem) as unknown:
        RotateApiKey(runtime, system_caller(), "nobody").run()
    assert unknown.value.status == 404 and "'nobody'" in unknown.value.detail["message"]
    assert [e.outcome for e in audit_entries(runtime, action="apikey.revoke")] == ["ok", "refused"]


@SQLITE_ONLY
def test_revoking_a_kiosk_token_ends_the_walls_it_began(web, runtime):
    token = create_kiosk_token(runtime, "指挥大厅主屏", runtime.areas.at_level(1)[0].code)
    assert web.get(f"/wall?token={token}").status_code == 200
    assert web.get("/wall").status_code == 200, "the wall's session"
    fresh = RotateKioskToken(runtime, system_caller(), "指挥大厅主屏").run()
    assert web.get("/wall").status_code == 303, "the session the old token began ended at once"
    assert web.get(f"/wall?token={token}").status_code == 303, "the old token opens nothing (its cache dropped)"
    scope = runtime.areas.at_level(1)[0].code
    assert fresh.secret.startswith("/wall?token=bsw_") and fresh.secret.endswith(f"&scope={scope}")
    web.cookies.clear()
    assert web.get(fresh.secret).status_code == 200
    assert [(t.name, t.scope, t.active) for t in list_kiosk_tokens(runtime)] == [
        ("指挥大厅主屏", scope, True), ("指挥大厅主屏", scope, False)]
    assert RevokeKioskToken(runtime, system_caller(), "指挥大厅主屏").run() == 1
    assert web.get("/wall").status_code == 303


@SQLITE_ONLY
def test_disabling_an_account_ends_its_sessions_and_keeps_one_admin(web, runtime, account):
    admin = _admin(runtime, account)
    duty = account("duty")
    assert login(web, duty, next_path="/duty").status_code == 303 and web.get("/duty").status_code == 200
    DisableAccount(runtime, admin, duty).run()
    assert web.get("/duty").status_code == 303, "signed out at once"
    assert login(web, duty).status_code == 401
    assert [(a.username, a.active) for a in list_accounts(runtime)][-1] == (duty, False)
    EnableAccount(runtime, admin, duty).run()
    assert login(web, duty).status_code == 303

    with pytest.raises(Problem) as last:
        DisableAccount(runtime, admin, admin.principal.name).run()
    assert last.value.status == 409 and "last enabled admin" in last.value.detail["message"]
    other = account("admin")
    DisableAccount(runtime, admin, other).run()
    with pytest.raises(Problem):
        DisableAccount(runtime, system_caller(), admin.principal.name).run()
    entries = audit_entries(runtime, action="user.disable")
    assert [(e.subject, e.outcome, e.username, e.ip) for e in entries] == [
        (duty, "ok", admin.principal.name, "10.0.0.7"), (admin.principal.name, "refused", admin.principal.name, "10.0.0.7"),
        (other, "ok", admin.principal.name, "10.0.0.7"), (admin.principal.name, "refused", None, None)]


@SQLITE_ONLY
def test_a_reset_password_replaces_the_old_one_and_ends_sessions(web, runtime, account):
    admin = _admin(runtime, account)
    duty = account("duty")
    assert login(web, duty).status_code == 303
    with pytest.raises(Problem) as weak:
        ResetPassword(runtime, admin, duty, "short").run()
    assert weak.value.status == 422 and weak.value.detail[0]["loc"] == ["password"]
    ResetPassword(runtime, admin, duty, "a brand new passphrase").run()
    assert web.get("/duty").status_code == 303
    assert login(web, duty).status_code == 401
    assert login(web, duty, "a brand new passphrase").status_code == 303
    assert "passphrase" not in str([e.detail for e in audit_entries(runtime)])


@SQLITE_ONLY
def test_only_admins_administer(runtime, account):
    from bigscreen.auth.users import authenticate

    duty = Caller(authenticate(runtime, account("duty"), PASSWORD), "10.0.0.8", "web")
    wall = Caller(Principal("kiosk", "wall", Role.WALL), None, "web")
    for caller in (duty, wall, Caller(None, None, "web")):
        with pytest.raises(Forbidden):
            RotateApiKey(runtime, caller, "test-source").run()
        with pytest.raises(Forbidden):
            search_audit(runtime, caller, AuditFilters())
    assert list_api_keys(runtime) == []


def test_the_audit_trail_is_searched_newest_first_a_page_at_a_time(runtime, account):
    admin = _admin(runtime, account)
    users = [account("duty") for _ in range(3)]
    for name in users:
        DisableAccount(runtime, admin, name).run()
    with pytest.raises(Problem):
        DisableAccount(runtime, admin, "ghost").run()
    page = search_audit(runtime, admin, AuditFilters(action="user.disable", limit=2))
    assert [e.subject for e in page.entries] == ["ghost", users[2]] and page.more
    rest = search_audit(runtime, admin, AuditFilters(action="user.", limit="2", before=page.entries[-1].id))
    assert [e.subject for e in rest.entries] == [users[1], users[0]] and not rest.more
    assert [e.subject for e in search_audit(runtime, admin, AuditFilters(outcome="refused")).entries] == ["ghost"]
    mine = search_audit(runtime, admin, AuditFilters(who=admin.principal.name, ip="10.0.0.7")).entries
    assert len(mine) == 4 and all(e.who == admin.principal.name for e in mine)
    assert search_audit(runtime, admin, AuditFilters(ip="10.9.9.9")).entries == []
    today = runtime.clock().astimezone(runtime.tz).date().isoformat()
    assert len(search_audit(runtime, admin, AuditFilters(since=today, until=today)).entries) == 4
    assert search_audit(runtime, admin, AuditFilters(since="2000-01-01", until="2000-01-02")).entries == []
    EnableAccount(runtime, system_caller(), users[0], by="ops").run()
    (cli,) = search_audit(runtime, admin, AuditFilters(action="user.enable")).entries
    assert cli.who == "ops" and cli.channel == "system", "the command line's entries name the operating-system user"
    with pytest.raises(Problem) as bad:
        search_audit(runtime, admin, AuditFilters(since="yesterday", limit=0, outcome="maybe", who="x\x00"))
    assert bad.value.status == 422
    assert sorted(e["loc"][0] for e in bad.value.detail) == ["limit", "outcome", "since", "who"]


def test_two_admins_disabling_each_other_at_once_leave_one(runtime, account):
    import threading

    first, second = _admin(runtime, account), _admin(runtime, account)
    gate, results = threading.Barrier(2), {}

    def disable(me: Caller, other: Caller) -> None:
        gate.wait()
        try:
            DisableAccount(runtime, me, other.principal.name).run()
            results[me.principal.name] = "ok"
        except Problem as exc:
            results[me.principal.name] = exc.detail["reason"]

    threads = [threading.Thread(target=disable, args=pair) for pair in ((first, second), (second, first))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results.values()) == ["last_admin", "ok"]
    assert [a.active for a in list_accounts(runtime) if a.role == "admin"].count(True) == 1


@SQLITE_ONLY
def test_the_demo_gives_its_accounts_fresh_passwords_through_the_same_command(web, runtime):
    from bigscreen.demo import demo_accounts

    first = {username: password for _, username, password, _ in demo_accounts(runtime)}
    again = {username: password for _, username, password, _ in demo_accounts(runtime)}
    assert first.keys() == again.keys() and all(first[u] != again[u] for u in first)
    assert all(login(web, u, again[u]).status_code == 303 for u in again)
    resets = audit_entries(runtime, action="user.reset_password")
    assert sorted(e.subject for e in resets) == sorted(first) and {e.detail["by"] for e in resets} == {"bigscreen demo"}
