"""The wall's frame: built from Redis alone, its figures equal the KPI API's and SQL's."""

from __future__ import annotations

import orjson
from sqlalchemy import select

from bigscreen.db.models import Event
from bigscreen.simulation.life import ROLE_OF
from bigscreen.wall.frame import build_frame, scopes
from bigscreen.wall.publisher import FramePublisher, read_frame


def _post(client, runtime, n=40):
    grids = runtime.areas.at_level(runtime.areas.grid_level)
    items = [i.code for c in runtime.config.categories for i in c.items]
    batch = [{"source_id": f"f-{i}", "channel": "grid_app", "item": items[i % len(items)], "grid": grids[(i * 7) % len(grids)].code,
              "description": f"<script>alert({i})</script>楼道堆放杂物"} for i in range(n)]
    assert client.post("/api/v1/events", json=batch).status_code == 200
    return client.post("/api/v1/events/1/transitions", json={"role": ROLE_OF["accept"], "action": "accept"})


def test_frame_figures_match_kpi_and_sql(client, runtime):
    _post(client, runtime)
    now = runtime.clock()
    for scope in scopes(runtime):
        frame = build_frame(runtime, scope, now)
        kpi = client.get(f"/api/v1/kpi?area={scope.code}").json()
        assert frame["kpi"] == {k: kpi[k] for k in frame["kpi"]}, scope
    city = build_frame(runtime, scopes(runtime)[0], now)
    with runtime.sessions() as s:
        events = s.scalars(select(Event)).all()
    assert city["kpi"]["reported_today"] == len(events) == 40
    assert sum(c["count"] for c in city["categories"]) <= 40 and city["categories"][0]["count"] >= city["categories"][-1]["count"]
    assert sum(city["trend"]["reported"]) == 40 and len(city["trend"]["hours"]) == 24
    assert sum(city["map"]["open"].values()) == 40
    assert len(city["feed"]) == 20 and city["feed"][0]["text"].startswith("<script>")
    assert any(d["reported"] for d in city["departments"])


def test_district_frame_holds_only_its_district(client, runtime):
    _post(client, runtime)
    district = scopes(runtime)[1]
    frame = build_frame(runtime, district, runtime.clock())
    assert all(code.startswith(district.code) for code in frame["map"]["open"])
    assert frame["areas"] and all(a["code"].startswith(district.code) for a in frame["areas"])
    grids = {a.name for a in runtime.areas.at_level(runtime.areas.grid_level) if a.chain[1] == district.code}
    assert all(item["grid"] in grids for item in frame["feed"])


def test_publisher_stores_every_scope(client, runtime):
    _post(client, runtime, n=5)
    published = FramePublisher(runtime).publish()
    assert set(published) == {s.code for s in scopes(runtime)}
    stored = orjson.loads(read_frame(runtime, runtime.areas.city.code))
    assert stored["kpi"]["reported_today"] == 5
    assert runtime.redis.ttl(runtime.keys.frame(runtime.areas.city.code)) > 0
