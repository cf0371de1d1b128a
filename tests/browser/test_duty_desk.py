"""Duty officers at the desk (real Chromium): an emergency alert arrives, two officers acknowledge
it at the same moment (one wins, the other is told who), comments stay text, resolve, escalate,
raise by hand, whistle a late case and see its supervision level."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from tests_support import PASSWORD, sign_in

from bigscreen.alerts.desk import alert_rows
from bigscreen.cases.supervision import Supervisor

XSS = '<img src=x onerror="window.__xss=1">已派消防<script>window.__xss=2</script>'
WAIT_MS = 10000


def _post(server, api_key, runtime, sid, item, description, reported_at=None, grid_index=5):
    grid = runtime.areas.at_level(runtime.areas.grid_level)[grid_index]
    body = {"source_id": sid, "channel": "hotline_12345", "item": item, "grid": grid.code, "description": description}
    if reported_at:
        body["reported_at"] = reported_at.isoformat()
    r = httpx.post(server.url + "/api/v1/events", headers={"X-API-Key": api_key}, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _desk(browser, server, username, width=1920, height=1080, lang=""):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.errors = []
    page.hosts = set()
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("request", lambda req: page.hosts.add(req.url.split("/")[2]))
    sign_in(page, server.url, username, PASSWORD, "/duty" + lang)
    page.wait_for_selector("#duty-alerts li", timeout=15000)
    return page


def _alert(page, alert_id):
    return page.locator(f'li.duty-alert[data-alert="{alert_id}"]')


def _message(page, which="alert", before=""):
    """The message of a form once it says something other than `before`."""
    page.wait_for_function("([id, before]) => { const t = document.getElementById(id).textContent;"
                           " return t !== '' && t !== before; }", arg=[f"duty-{which}-message", before], timeout=WAIT_MS)
    return page.inner_text(f"#duty-{which}-message")


def _act(page, which, click):
    """Clicks, and returns what the officer is told about it."""
    before = page.text_content(f"#duty-{which}-message")
    click()
    return _message(page, which, before)


@pytest.fixture
def late_case(live_server, runtime, api_key):
    """A case reported ten days ago, past its deadline, after the sweep and the first 督办."""
    item = runtime.config.categories[0].items[0].code
    case = _post(live_server, api_key, runtime, "late-1", item, "楼道堆放杂物<b>堵塞</b>消防通道",
                 reported_at=datetime.now(UTC) - timedelta(days=10), grid_index=7)
    now = datetime.now(UTC)
    runtime.live.sweep(now, runtime.areas.chain_of)
    # the supervision job ran an hour after the deadline (later runs would have sent the next levels too)
    assert Supervisor(runtime).run(datetime.fromisoformat(case["deadline"]) + timedelta(hours=1)) == 1
    return case


def test_the_duty_desk(browser, live_server, runtime, api_key, account, late_case):
    red = next(i.code for i in runtime.config.items if runtime.config.alert_level(i.code) == "red")
    gas = _post(live_server, api_key, runtime, "gas-1", red, "小区地下室燃气味很重<b>速来</b>")
    (alert,) = [a for a in alert_rows(runtime) if a["event_id"] == gas["id"] and a["source"] == "emergency"]
    assert alert["colour"] == "red"
    first, second = account("duty"), account("duty")
    a, b = _desk(browser, live_server, first), _desk(browser, live_server, second)

    # what the desk shows: the red alert first, as text, with its source, area, age and status
    for page in (a, b):
        _alert(page, alert["id"]).wait_for(timeout=WAIT_MS)
        assert page.locator("li.duty-alert").first.get_attribute("data-alert") == str(alert["id"]), "red comes first"
        row = _alert(page, alert["id"]).inner_text()
        assert "<b>速来</b>" in row and "红色" in row and "紧急事项" in row and "待签收" in row and "×1" in row
        assert alert["area_name"] in row and "刚刚" in row

    # two officers acknowledge at the same moment: exactly one wins, the other is told who
    for page, name in ((a, first), (b, second)):
        _alert(page, alert["id"]).locator("input.dash-input-element, input").first.fill(f"{XSS} {name}")
    click = f'document.querySelector(\'li[data-alert="{alert["id"]}"] .duty-ack\').click()'
    a.evaluate(click)
    b.evaluate(click)
    told = {first: _message(a), second: _message(b)}
    (row,) = [r for r in alert_rows(runtime) if r["id"] == alert["id"]]
    winner = row["owner"]
    loser = second if winner == first else first
    assert row["status"] == "acknowledged" and winner in (first, second)
    assert told[winner] == f"已签收预警 #{alert['id']}，由您负责", told
    assert told[loser] == f"预警 #{alert['id']} 已被 {winner} 签收", told
    for page in (a, b):
        status = _alert(page, alert["id"]).locator(".duty-status")
        page.wait_for_function(f"document.querySelector('li[data-alert=\"{alert['id']}\"] .duty-status')"
                               f"?.textContent === '已签收 · {winner}'", timeout=WAIT_MS)
        assert status.inner_text() == f"已签收 · {winner}"
        comment = _alert(page, alert["id"]).locator(".duty-ack-comment").inner_text()
        assert comment == f"{XSS} {winner}", "the comment is shown as it was typed, as text"
        assert _alert(page, alert["id"]).locator(".duty-ack").count() == 0, "acknowledged: no second 签收"
        assert page.evaluate("window.__xss") is None and page.locator("#duty-alerts img, #duty-alerts script").count() == 0
    owner, other = (a, b) if winner == first else (b, a)

    # what an officer types survives the refreshes, even when the list changes under it
    supervision = next(r for r in alert_rows(runtime) if r["source"] == "supervision")
    typing = _alert(other, supervision["id"]).locator("input").first
    typing.fill("正在联系街道")
    _post(live_server, api_key, runtime, "gas-2", red, "另一处燃气泄漏", grid_index=-1)
    other.wait_for_function("document.querySelectorAll('li.duty-alert.colour-red').length === 2", timeout=WAIT_MS)
    other.wait_for_timeout(3000)
    assert typing.input_value() == "正在联系街道"

    # escalate by hand (the supervision alert), then resolve the red one
    told = _act(other, "alert", _alert(other, supervision["id"]).locator(".duty-escalate").click)
    assert told == f"预警 #{supervision['id']} 已升级至第 1 级"
    for page in (other, owner):  # the owner's desk shows it too (its refresh re-renders the list) before it acts
        page.wait_for_function(f"document.querySelector('li[data-alert=\"{supervision['id']}\"] .duty-escalated')"
                               "?.textContent === '已升级 1 级'", timeout=WAIT_MS)
    told = _act(owner, "alert", _alert(owner, alert["id"]).locator(".duty-resolve").click)
    assert told == f"已解除预警 #{alert['id']}"
    _alert(owner, alert["id"]).wait_for(state="detached", timeout=WAIT_MS)
    _alert(other, alert["id"]).wait_for(state="detached", timeout=WAIT_MS)

    # raise by hand: refused without a colour, then raised
    owner.fill("#duty-raise-title", "防汛巡查: 河道水位上涨<i>快</i>")
    assert _act(owner, "raise", lambda: owner.click("#duty-raise-submit")) == "填写有误：预警颜色"
    owner.locator("#duty-raise-colour label", has_text="橙色").click()
    told = _act(owner, "raise", lambda: owner.click("#duty-raise-submit"))
    raised = max(r["id"] for r in alert_rows(runtime) if r["source"] == "manual")
    assert told == f"已发布预警 #{raised}"
    for page in (owner, other):
        _alert(page, raised).wait_for(timeout=WAIT_MS)
        assert "防汛巡查: 河道水位上涨<i>快</i>" in _alert(page, raised).inner_text()
        assert "colour-orange" in _alert(page, raised).get_attribute("class")
    assert owner.input_value("#duty-raise-title") == "", "the form is cleared after it went through"

    # the overdue list: the late case with its supervision level, then whistled from the desk
    case = owner.locator(f'li.duty-case[data-case="{late_case["id"]}"]')
    case.wait_for(timeout=WAIT_MS)
    assert case.get_attribute("data-level") == "1"
    text = case.inner_text()
    assert "楼道堆放杂物<b>堵塞</b>消防通道" in text and "第一次督办" in text and "超期" in text
    department = runtime.config.department(late_case["department"]).name
    assert department in text
    case.locator(".duty-pick").click()
    owner.wait_for_function(f"document.getElementById('duty-whistle-case').value === '{late_case['id']}'", timeout=WAIT_MS)
    owner.locator("#duty-whistle-kind label", has_text="集结哨").click()
    for search, name in (("公安", "市公安局"), ("应急", "市应急管理局")):
        owner.click("#duty-whistle-departments")
        owner.fill(".dash-dropdown-search", search)
        owner.locator(".dash-dropdown-option", has_text=name).first.click()
        owner.keyboard.press("Escape")
    owner.fill("#duty-whistle-note", "<b>请速到现场</b>")
    told = _act(owner, "whistle", lambda: owner.click("#duty-whistle-submit"))
    assert told.startswith(f"已对事件 #{late_case['id']} 吹响集结哨，召集 2 个部门"), told
    owner.wait_for_selector(f'li.duty-case[data-case="{late_case["id"]}"] .duty-whistle-line', timeout=WAIT_MS)
    line = case.locator(".duty-whistle-line").inner_text()
    assert "集结哨" in line and "报到 0/2" in line and "市公安局 · 待报到" in line and "市应急管理局 · 待报到" in line
    owner.wait_for_selector(f'#duty-whistles li[data-case="{late_case["id"]}"]', timeout=WAIT_MS)

    # the officer's own trail: who did what, from where
    owner.wait_for_function("document.getElementById('duty-mine').textContent.includes('吹哨')", timeout=WAIT_MS)
    mine = owner.inner_text("#duty-mine")
    assert "签收预警" in mine and "解除预警" in mine and "人工预警" in mine and "网页" in mine

    # every size the desk is used at: nothing runs off the side
    owner.screenshot(path="/tmp/bigscreen-duty.png")
    for width, height in ((1366, 768), (1920, 1080)):
        owner.set_viewport_size({"width": width, "height": height})
        owner.wait_for_timeout(300)
        scroll = owner.evaluate("[document.documentElement.scrollWidth, innerWidth]")
        assert scroll[0] <= scroll[1], (width, height, scroll)
        owner.screenshot(path=f"/tmp/bigscreen-duty-{width}x{height}.png")
    for page in (owner, other):
        assert not page.errors, page.errors
        assert page.hosts == {live_server.url.split("/")[2]}, page.hosts


def test_the_desk_in_english(browser, live_server, runtime, api_key, account):
    red = next(i.code for i in runtime.config.items if runtime.config.alert_level(i.code) == "red")
    _post(live_server, api_key, runtime, "gas-en", red, "gas smell")
    page = _desk(browser, live_server, account("duty"), 1366, 768, lang="?lang=en")
    assert page.inner_text(".duty-title") == "Duty desk"
    row = page.locator("li.duty-alert").first
    assert "Emergency item" in row.inner_text() and "Open" in row.inner_text()
    assert _act(page, "alert", row.locator(".duty-ack").click).endswith("acknowledged: it is yours")
    assert _act(page, "whistle", lambda: page.click("#duty-whistle-submit")).startswith("Please check: case no.")
    assert not page.errors, page.errors


def test_an_answer_on_its_way_survives_the_list_being_redrawn(browser, live_server, runtime, api_key, account):
    """An officer resolves an alert just as the desk's refresh redraws the list (another alert arrived): the
    officer is still told it was resolved. (The renderer keeps only the newest call of a callback; a list
    redrawn under a click used to call the buttons' callback again and drop the click's answer.)"""
    red = next(i.code for i in runtime.config.items if runtime.config.alert_level(i.code) == "red")
    gas = _post(live_server, api_key, runtime, "gas-1", red, "小区地下室燃气味很重")
    (alert,) = [a for a in alert_rows(runtime) if a["event_id"] == gas["id"]]
    page = _desk(browser, live_server, account("duty"))
    _alert(page, alert["id"]).wait_for(timeout=WAIT_MS)
    refresh, answers, released = [], [], []

    def hold(route):
        body = route.request.post_data or ""
        if released:
            route.continue_()
        elif "alert-message" in body:
            answers.append(route)  # the click's answer, held until the list was redrawn under it
        elif "duty-alerts.children" in body and not refresh:
            refresh.append(route)  # the next refresh, held until the click is on its way
        else:
            route.continue_()

    page.route("**/_dash-update-component*", hold)
    _post(live_server, api_key, runtime, "gas-2", red, "另一处燃气泄漏", grid_index=-1)
    page.wait_for_function("() => true")
    deadline = time.monotonic() + WAIT_MS / 1000
    while not refresh and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # the desk's next tick asks for the lists, now with two red alerts
    before = page.text_content("#duty-alert-message")
    _alert(page, alert["id"]).locator(".duty-resolve").click()
    while not answers and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert refresh and answers, "a refresh and the click both on their way"
    refresh[0].continue_()
    page.wait_for_function("document.querySelectorAll('li.duty-alert.colour-red').length === 2", timeout=WAIT_MS)
    page.wait_for_timeout(300)  # whatever the redraw sets off is sent
    released.append(True)
    for route in answers:
        route.continue_()
    assert _message(page, "alert", before) == f"已解除预警 #{alert['id']}"
