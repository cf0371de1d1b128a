"""The admin page in real Chromium: an admin revokes a source's key and the API refuses it, rotates
it and sees the new key once, finds both in the audit trail; names typed by anyone stay text; a duty
officer is refused the page; an open wall whose token is revoked stops receiving frames."""

from __future__ import annotations

import time

import httpx
from tests_support import PASSWORD, audit_entries, sign_in

from bigscreen.admin.base import system_caller
from bigscreen.admin.credentials import RevokeKioskToken
from bigscreen.api.auth import create_api_key
from bigscreen.auth.kiosk import create_kiosk_token
from callbacks import wall as wall_callbacks

XSS = '<img src=x onerror="window.__xss=1">'
WAIT_MS = 10000


def _page(browser, server, username: str, path: str):
    page = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    sign_in(page, server.url, username, PASSWORD, path)
    return page


def _told(page, which: str, before: str = "") -> str:
    page.wait_for_function("([id, before]) => { const t = document.getElementById(id).textContent;"
                           " return t !== '' && t !== before; }", arg=[which, before], timeout=WAIT_MS)
    return page.inner_text(f"#{which}")


def _status(server, key: str) -> int:
    return httpx.get(server.url + "/api/v1/areas", headers={"X-API-Key": key}).status_code


def test_an_admin_revokes_a_key_and_the_api_refuses_it(browser, live_server, runtime, api_key, account):
    create_api_key(runtime, XSS)
    assert _status(live_server, api_key) == 200  # the key is in the server's cache now
    admin = account("admin")
    page = _page(browser, live_server, admin, "/admin")
    page.wait_for_selector("table.admin-apikey", timeout=WAIT_MS)
    assert page.locator("table.admin-apikey td.admin-name", has_text=XSS).count() == 1, "a name shows as typed, as text"

    row = page.locator("table.admin-apikey tr", has_text="test-source")
    row.get_by_role("button", name="吊销").click()
    assert _told(page, "admin-message") == "已吊销来源“test-source”的密钥"
    started = time.monotonic()
    while _status(live_server, api_key) != 401:
        assert time.monotonic() - started < 5, "the API still takes the revoked key (its cache keeps keys 30 s)"
        time.sleep(0.1)
    page.wait_for_selector("table.admin-apikey tr:has-text('test-source') td.is-revoked", timeout=WAIT_MS)

    before = page.inner_text("#admin-message")
    row.get_by_role("button", name="轮换").click()
    assert _told(page, "admin-message", before) == "已为来源“test-source”生成新密钥，旧密钥已失效"
    fresh = page.inner_text(".admin-secret-value")
    assert fresh.startswith("bsk_") and _status(live_server, fresh) == 200

    page.fill("#admin-search-action", "apikey.")
    page.click("#admin-search-submit")
    page.wait_for_selector("table.admin-audit tr:has-text('apikey.rotate')", timeout=WAIT_MS)
    first, second = (page.inner_text(f"table.admin-audit tbody tr:nth-child({n})") for n in (1, 2))
    assert "apikey.rotate" in first and admin in first and "127.0.0.1" in first
    assert "apikey.revoke" in second and "test-source" in second
    assert page.evaluate("window.__xss") is None
    assert page.errors == []


def test_a_duty_officer_is_refused_the_admin_page(browser, live_server, runtime, account):
    duty = account("duty")
    page = _page(browser, live_server, duty, None)
    assert page.url.endswith("/duty")
    page.wait_for_selector(".duty-nav a", timeout=WAIT_MS)
    assert page.locator("a[href='/admin']").count() == 0, "no way to the page on a duty officer's desk"
    answer = page.goto(live_server.url + "/admin")
    assert answer.status == 403
    assert [(e.action, e.subject) for e in audit_entries(runtime, outcome="refused", username=duty)] == [("open", "/admin")]


def _report(server, api_key, runtime, sid: str) -> None:
    grid = runtime.areas.at_level(runtime.areas.grid_level)[5]
    r = httpx.post(server.url + "/api/v1/events", headers={"X-API-Key": api_key},
                   json={"source_id": sid, "channel": "citizen_snap", "grid": grid.code, "description": "路灯不亮",
                         "item": runtime.config.categories[1].items[0].code})
    assert r.status_code == 201, r.text


def _reported(page, value: str) -> None:
    page.wait_for_selector(f'[data-kpi="reported_today"][data-value="{value}"]', state="attached", timeout=WAIT_MS)


def test_an_open_wall_stops_when_its_token_is_revoked(browser, live_server, runtime, api_key, publisher, monkeypatch):
    monkeypatch.setattr(wall_callbacks, "SESSION_CHECK_S", 0.5)  # 30 s in service
    token = create_kiosk_token(runtime, "会议室屏")
    wall = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    wall.goto(live_server.url + f"/wall?token={token}")
    _reported(wall, "0")
    wall.wait_for_timeout(1500)  # the push channel takes over
    _report(live_server, api_key, runtime, "open-wall-1")
    _reported(wall, "1")
    RevokeKioskToken(runtime, system_caller(), "会议室屏").run()
    wall.wait_for_timeout(1500)
    _report(live_server, api_key, runtime, "open-wall-2")
    wall.wait_for_timeout(3000)
    assert wall.get_attribute('[data-kpi="reported_today"]', "data-value") == "1", "no frame after the revocation"
