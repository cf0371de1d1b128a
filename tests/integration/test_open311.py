"""The Open311 GeoReport v2 facade speaks the same model."""

from __future__ import annotations


def test_services_list_every_sub_item(client, runtime):
    services = client.get("/open311/v2/services.json").json()
    assert len(services) == sum(len(c.items) for c in runtime.config.categories)
    assert {"service_code", "service_name", "group", "metadata", "type"} <= set(services[0])


def test_post_and_read_request(client, runtime):
    grid = runtime.areas.at_level(runtime.areas.grid_level)[3]
    code = runtime.config.categories[2].items[1].code
    form = {"service_code": code, "lat": grid.lat, "long": grid.lon, "description": "路灯不亮", "source_id": "o-1"}
    r = client.post("/open311/v2/requests.json", data=form)
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    again = client.post("/open311/v2/requests.json", data=form)
    assert again.status_code == 200 and again.json()[0]["service_request_id"] == rid
    one = client.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert one["service_code"] == code and one["status"] == "open" and one["agency_responsible"]
    listed = client.get("/open311/v2/requests.json", params={"status": "open"}).json()
    assert [x["service_request_id"] for x in listed] == [rid]


def test_bad_open311_requests(client, runtime):
    r = client.post("/open311/v2/requests.json", data={"service_code": "NOPE", "lat": 1, "long": 2, "description": "x"})
    assert r.status_code == 422
    assert {tuple(d["loc"]) for d in r.json()["detail"]} >= {("body", "service_code")}
    del client.headers["X-API-Key"]
    assert client.post("/open311/v2/requests.json", data={"service_code": "x"}).status_code == 401
    assert client.get("/open311/v2/requests/424242.json").status_code == 404
    assert client.get("/open311/v2/requests.json", params={"status": "maybe"}).status_code == 422
