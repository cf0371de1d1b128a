"""Privacy: reporters' names and phone numbers never reach the wall."""

from __future__ import annotations

import orjson

from bigscreen.wall.frame import build_frame, scopes


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
