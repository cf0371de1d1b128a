"""Who may open what, signing in and out, CSRF, rate limits and the audit trail, on the server."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import select
from tests_support import PASSWORD, audit_entries, dash_callback, login

from bigscreen.auth.sessions import CSRF_COOKIE, SESSION_COOKIE
from bigscreen.db.models import User

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_pages_need_the_right_principal(web, runtime, kiosk_token, account):
    assert web.get("/wall").status_code == 303 and web.get("/wall").headers["location"] == "/login?next=%2Fwall"
    assert web.get("/wall?token=bsw_forged").status_code == 303
    r = web.get(f"/wall?token={kiosk_token}")
    assert r.status_code == 200 and SESSION_COOKIE in r.cookies
    assert web.get("/wall").status_code == 200, "the kiosk's session carries on without the token"
    assert web.get("/").status_code == 403 and web.get("/duty").status_code == 403, "a wall is read-only"
    assert [e.subject for e in audit_entries(runtime, outcome="refused", role="wall")] == ["/", "/duty"]

    web.cookies.clear()
    assert login(web, account("leader", runtime.areas.at_level(1)[0].code)).status_code == 303
    assert web.get("/").status_code == 200 and web.get("/wall").status_code == 200
    assert web.get("/duty").status_code == 403
    web.cookies.clear()
    assert login(web, account("duty"), next_path="/duty").headers["location"] == "/duty"
    assert web.get("/duty").status_code == 200


def test_signing_in(web, runtime, account):
    user = account("duty")
    assert login(web, user, "wrong password").status_code == 401
    assert audit_entries(runtime, action="login", outcome="refused")[0].detail == {"why": "wrong username or password"}
    r = web.post("/login", data={"username": user, "password": PASSWORD, "csrf": "forged", "next": "/"})
    assert r.status_code == 403, "a login form without its own token is refused"
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "/\n/evil.example"):
        web.cookies.clear()
        assert login(web, user, next_path=target).headers["location"] == "/duty", "never redirects off the site"
    with runtime.sessions() as s:
        assert s.scalar(select(User.password_hash).where(User.username == user)).startswith("$argon2id$")
    assert len(audit_entries(runtime, action="login", outcome="ok")) == 5


def test_login_attempts_are_rate_limited(web, runtime, account):
    user = account("duty")
    codes = [login(web, user, "wrong password").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    assert login(web, user).status_code == 429, "even the right password waits out the window"
    assert audit_entries(runtime, action="login")[-1].detail["why"] == "rate limited"


def test_state_changes_need_the_session_csrf_token(web, runtime, account):
    from layouts import ids

    login(web, account("duty"))
    csrf = web.cookies.get(CSRF_COOKIE)
    body = {"output": "x.children", "outputs": {"id": "x", "property": "children"}, "inputs": [], "changedPropIds": []}
    r = web.post("/_dash-update-component", json=body)
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = web.post("/_dash-update-component", json=body, headers={"X-CSRFToken": "forged"})
    assert r.status_code == 403
    assert len(audit_entries(runtime, action="csrf", outcome="refused")) == 2
    page = _callback(web, (ids.PAGE, "children"), [(ids.URL, "pathname", "/"), (ids.URL, "search", "")])
    assert f'"value":"{csrf}"' in page.text.replace(" ", ""), "the tablet page renders a sign-out form with the token"
    r = web.post("/open311/v2/requests.json", data={"service_code": "x", "description": "y"})
    assert r.status_code == 403, "a signed-in browser's post without the token, under Open311 too"
    assert r.json() == [{"code": 403, "description": "CSRF token missing or wrong; reload the page"}], "in Open311's own format"
    r = web.post("/_dash-update-component", json=body, headers={"X-CSRFToken": csrf})
    assert r.status_code != 403, "Dash's renderer echoes the cookie's token: the request goes through"
    assert web.post("/logout").status_code == 403, "a forged sign-out is refused too"
    assert web.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert web.post("/logout", data={"csrf": csrf}).status_code == 303, "the sign-out form carries the token"
    assert web.get("/").status_code == 303, "signed out: back to the login page"


def test_an_expired_session_signs_out(web, runtime, account):
    login(web, account("duty"))
    assert web.get("/").status_code == 200
    for key in runtime.redis.scan_iter(match=f"{runtime.keys.prefix}session:*"):
        runtime.redis.delete(key)
    assert web.get("/").status_code == 303


def test_a_session_slides_with_use_and_ends_at_its_absolute_limit(web, runtime, account, kiosk_token):
    from bigscreen.auth.sessions import ABSOLUTE_S, IDLE_S, KIOSK_IDLE_S

    login(web, account("duty"))
    (key,) = runtime.redis.scan_iter(match=f"{runtime.keys.prefix}session:*")
    runtime.redis.expire(key, 60)
    assert web.get("/").status_code == 200 and IDLE_S - 5 <= runtime.redis.ttl(key) <= IDLE_S, "use slides it to the idle limit"
    ends = int(runtime.redis.hget(key, "ends"))
    runtime.redis.hset(key, "ends", ends - ABSOLUTE_S + 600)  # as if signed in 11 h 50 min ago
    assert web.get("/").status_code == 200 and 590 <= runtime.redis.ttl(key) <= 600, "never past the absolute end"
    runtime.redis.hset(key, "ends", ends - ABSOLUTE_S)  # 12 hours ago
    assert web.get("/").status_code == 303 and not runtime.redis.exists(key), "an ended session is gone"

    web.cookies.clear()
    assert web.get(f"/wall?token={kiosk_token}").status_code == 200
    (wall,) = runtime.redis.scan_iter(match=f"{runtime.keys.prefix}session:*")
    assert web.get("/wall").status_code == 200 and KIOSK_IDLE_S - 5 <= runtime.redis.ttl(wall) <= KIOSK_IDLE_S


def test_user_add_on_the_command_line(runtime, tmp_path):
    env = {"BIGSCREEN_DATA_DIR": str(runtime.settings.data_dir), "BIGSCREEN_DATABASE_URL": runtime.settings.database_url,
           "BIGSCREEN_REDIS_URL": runtime.settings.redis_url}

    def run(*args, password="a long enough password"):
        import os
        return subprocess.run([sys.executable, "-m", "bigscreen.cli", "user", "add", *args, "--password-stdin"],
                              input=password + "\n", capture_output=True, text=True, env={**os.environ, **env}, timeout=60)

    ok = run("zhangwei", "--role", "duty", "--name", "张伟")
    assert ok.returncode == 0, ok.stderr
    with runtime.sessions() as s:  # the product's own cost (this test process hashes cheaply: tests/conftest.py)
        assert s.scalar(select(User.password_hash).where(User.username == "zhangwei")).startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    bad = run("lisi", "--role", "leader")
    assert bad.returncode == 2 and "area" in bad.stderr and "scoped to an area" in bad.stderr
    short = run("wangwu", "--role", "duty", password="short")
    assert short.returncode == 2 and "password" in short.stderr and "at least 10" in short.stderr
    again = run("zhangwei", "--role", "duty")
    assert again.returncode == 2 and "exists already" in again.stderr
    assert "Traceback" not in bad.stderr + short.stderr + again.stderr


def _callback(web, output: tuple[str, str], inputs: list[tuple[str, str, object]], state=()):
    return dash_callback(web, [output], inputs, state)


def test_callbacks_check_the_principal_too(web, runtime, account):
    from bigscreen.auth.kiosk import create_kiosk_token
    from layouts import ids

    district, other = (a.code for a in runtime.areas.at_level(1)[:2])
    web.get(f"/wall?token={create_kiosk_token(runtime, 'district wall', district)}")
    page = (ids.PAGE, "children")
    assert _callback(web, page, [(ids.URL, "pathname", "/duty"), (ids.URL, "search", "")]).status_code == 403
    assert _callback(web, page, [(ids.URL, "pathname", "/"), (ids.URL, "search", "")]).status_code == 403
    r = _callback(web, page, [(ids.URL, "pathname", "/wall"), (ids.URL, "search", f"?scope={other}")])
    assert r.status_code == 200 and f'"data-scope":"{district}"' in r.text.replace(" ", ""), "a scoped wall shows its own area"
    frame = (ids.WALL_FRAME, "data")
    tick = [(ids.WALL_TICK, "n_intervals", 1)]
    assert _callback(web, frame, tick, [(ids.WALL_ROOT, "data-scope", other)]).status_code == 403
    assert _callback(web, frame, tick, [(ids.WALL_ROOT, "data-scope", runtime.areas.city.code)]).status_code == 403
    assert _callback(web, frame, tick, [(ids.WALL_ROOT, "data-scope", district)]).status_code in (200, 204)
    refused = [e.action for e in audit_entries(runtime, outcome="refused", role="wall")]
    assert refused == ["open", "open", "view wall", "view wall"]


def test_each_role_lands_on_its_own_page_after_signing_in(web, runtime, account):
    leader = account("leader", runtime.areas.at_level(1)[0].code)
    cases = [("duty", None, "/duty"), ("duty", "/", "/duty"), ("admin", None, "/duty"), (leader, None, "/"),
             (leader, "/", "/"), ("duty", "/wall", "/wall"), ("duty", "/?area=370502", "/?area=370502"),
             (leader, "/duty", "/"), ("admin", "/login", "/duty"), ("duty", "/api/v1/kpi", "/duty")]
    for who, asked, lands_on in cases:
        web.cookies.clear()
        username = account(who) if who in ("duty", "admin") else who
        form = web.get("/login" + (f"?next={asked}" if asked else ""))
        token = form.text.split('name="csrf" value="')[1].split('"')[0]
        data = {"username": username, "password": PASSWORD, "csrf": token}
        if asked:
            assert f'name="next" value="{asked}"' in form.text
            data["next"] = asked
        r = web.post("/login", data=data)
        assert (r.status_code, r.headers["location"]) == (303, lands_on), (who, asked)
