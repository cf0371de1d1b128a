"""Privacy: reporters' names and phone numbers never reach the wall."""

from __future__ import annotations

import orjson

from bigscreen.wall.frame import build_frame, scopes
from tests_support import SQLITE_ONLY


@SQLITE_ONLY
def test_the_wall_frame_carries_no_reporter_details(client, runtime):
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0]
    item = runtime.config.categories[0].items[0].code
    r = client.post("/api/v1/events", json={"source_id": "p-1", "channel": "hotline_12345", "item": item, "grid": grid.code,
                                            "description": "楼道堆放杂物", "reporter_name": "王秀英",
                                            "reporter_phone": "13812345678"})
    assert r.status_code == 201
    now = runtime.clock()
    for scope in scopes(runtime):
        raw = orjson.dumps(build_frame(runtime, scope, now)).decode()
        assert "楼道堆放杂物" in raw or scope.level > 0
        assert "王秀英" not in raw and "13812345678" not in raw
    stream = runtime.redis.xrange(runtime.keys.ticker)
    assert stream and all(b"13812345678" not in v and "王秀英".encode() not in v for _, e in stream for v in e.values())


HOSTILE = ("市民王秀英 13812345678 反映：身份证37050219900101123X，车牌鲁E·12345，座机0546-8321234，"
           "邮箱 wangxy@163.com，工资卡6222021234567894；案件编号20261204000123，2026-12-04 08:30，欠款1200元")
SECRETS = ("王秀英", "13812345678", "37050219900101123X", "鲁E·12345", "8321234", "wangxy@163.com", "6222021234567894")


@SQLITE_ONLY
def test_personal_data_in_a_description_reaches_walls_and_leaders_masked(client, web, runtime, kiosk_token, account):
    """A citizen's own description, posted through the API, is masked on the wall's frame (feed and
    alert titles), in the ticker, in the alerts a wall or a leader reads and in public Open311
    reads; a duty officer reads it as typed."""
    from tests_support import login

    from bigscreen.wall.frame import wall_alerts

    item = next(i.code for i in runtime.config.items if runtime.config.alert_level(i.code) == "red")
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0]
    r = client.post("/api/v1/events", json={"source_id": "pii-1", "channel": "hotline_12345", "item": item,
                                            "grid": grid.code, "description": HOSTILE})
    assert r.status_code == 201, r.text
    event_id = r.json()["id"]

    now, alerts = runtime.clock(), wall_alerts(runtime)
    city = build_frame(runtime, scopes(runtime)[0], now, alerts)
    (shown,) = [f for f in city["feed"] if f["id"] == str(event_id)]
    assert shown["text"].startswith("市民王** 138****5678 反映：身份证370502********123X，车牌鲁E·***45，座机0546-****234，"
                                    "邮箱 w***@163.com，工资卡6222********7894；案件编号")
    (alert,) = city["alerts"]
    assert alert["title"].endswith(": 市民王** 138****5678 反映：身份证370502********123X，车牌鲁E·***45，座机…"), "cut before the number, not in it"
    for scope in scopes(runtime):
        raw = orjson.dumps(build_frame(runtime, scope, now, alerts)).decode()
        assert not [s for s in SECRETS if s in raw], scope
    ticker = b"".join(v for _, e in runtime.redis.xrange(runtime.keys.ticker) for v in e.values()).decode()
    assert "138****5678" in ticker and not [s for s in SECRETS if s in ticker]

    listed = client.get("/open311/v2/requests.json").json()
    assert listed[0]["description"].startswith("市民王** 138****5678") and not [s for s in SECRETS if s in str(listed)]

    wall = client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {kiosk_token}", "X-API-Key": ""})
    assert wall.status_code == 200 and "138****5678" in wall.text and not [s for s in SECRETS if s in wall.text]
    assert login(web, account("leader", grid.chain[1])).status_code == 303
    leader = web.get("/api/v1/alerts")
    assert leader.status_code == 200 and "138****5678" in leader.text and "13812345678" not in leader.text
    web.cookies.clear()
    assert login(web, account("duty")).status_code == 303
    duty = web.get("/api/v1/alerts")
    assert duty.status_code == 200 and "市民王秀英 13812345678" in duty.text, "a duty officer reads it as typed"
    assert client.get(f"/api/v1/events/{event_id}").json()["description"] == HOSTILE, "stored as typed"
