"""The Open311 GeoReport v2 facade speaks the same model, answers its errors in Open311's own format
(a list of {code, description}) and never a 500, whatever the body."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import func, select

from bigscreen.db.models import Event

POST = "/open311/v2/requests.json"


def _count(runtime) -> int:
    with runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(Event))


def _form(runtime, **over) -> dict:
    grid = runtime.areas.at_level(runtime.areas.grid_level)[3]
    code = runtime.config.categories[2].items[1].code
    return {"service_code": code, "lat": grid.lat, "long": grid.lon, "description": "路灯不亮", **over}


def _open311_error(r, status: int, *words: str) -> str:
    """The answer is `status` in Open311's format; returns its descriptions, each checked for `words`."""
    assert r.status_code == status, r.text
    body = r.json()
    assert isinstance(body, list) and body, body
    assert all(set(e) == {"code", "description"} and e["code"] == status for e in body), body
    text = " | ".join(e["description"] for e in body)
    for word in words:
        assert word in text, (word, text)
    return text


def test_services_list_every_sub_item(client, runtime):
    services = client.get("/open311/v2/services.json").json()
    assert len(services) == sum(len(c.items) for c in runtime.config.categories)
    assert {"service_code", "service_name", "group", "metadata", "type"} <= set(services[0])


def test_post_and_read_request(client, runtime):
    form = _form(runtime, source_id="o-1")
    r = client.post(POST, data=form)
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    again = client.post(POST, data=form)
    assert again.status_code == 200 and again.json()[0]["service_request_id"] == rid
    one = client.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert one["service_code"] == form["service_code"] and one["status"] == "open" and one["agency_responsible"]
    listed = client.get("/open311/v2/requests.json", params={"status": "open"}).json()
    assert [x["service_request_id"] for x in listed] == [rid]
    as_json = client.post(POST, json=_form(runtime, source_id="o-2", first_name="三", last_name="张"))
    assert as_json.status_code == 201, as_json.text
    assert client.get(f"/api/v1/events/{as_json.json()[0]['service_request_id']}").json()["description"] == "路灯不亮"


def test_bad_open311_requests(client, runtime):
    r = client.post(POST, data={"service_code": "NOPE", "lat": 1, "long": 2, "description": "x"})
    _open311_error(r, 400, "service_code: unknown sub-item 'NOPE'", "lat: point (1.0, 2.0) is outside")
    _open311_error(client.post(POST, data=_form(runtime, long="east")), 400, "long: must be a number")
    _open311_error(client.post(POST, data=_form(runtime, description="")), 400, "description:")
    _open311_error(client.get("/open311/v2/requests/424242.json"), 404, "no service request 424242")
    _open311_error(client.get("/open311/v2/requests.json", params={"status": "maybe"}), 400, "status:")
    _open311_error(client.get("/open311/v2/requests.json", params={"start_date": "2026-01-01T00:00:00"}), 400,
                   "start_date: must include a timezone")
    _open311_error(client.get("/open311/v2/requests.json", params={"end_date": "0001-01-01T00:00:00+14:00"}), 400,
                   "end_date: is out of range")
    assert client.get("/open311/v2/requests.json", params={"start_date": "2026-01-01T00:00:00+08:00"}).status_code == 200
    del client.headers["X-API-Key"]
    _open311_error(client.post(POST, data=_form(runtime)), 401, "API key")
    assert _count(runtime) == 0


MALFORMED = {
    "array": (b"[]", "application/json", "a JSON object"),
    "string": (b'"x"', "application/json", "a JSON object"),
    "null": (b"null", "application/json", "a JSON object"),
    "number as a name": (b'{"first_name": 5, "service_code": "JT02"}', "application/json", "first_name: must be text"),
    "nested value": (b'{"description": {"a": 1}}', "application/json", "description: must be text"),
    "boolean latitude": (b'{"lat": true}', "application/json", "lat: must be a number"),
    "not JSON": (b"{bad", "application/json", "not valid JSON"),
    "invalid UTF-8 in JSON": (b'{"description": "\xff\xfe"}', "application/json", "not valid JSON"),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, "application/json", "not valid JSON"),
    "invalid UTF-8 in a form": (b"service_code=JT02&description=\xff\xfe", "application/x-www-form-urlencoded", "UTF-8"),
    "escaped invalid UTF-8": (b"service_code=JT02&description=%FF%FE", "application/x-www-form-urlencoded", "UTF-8"),
}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_bodies_are_400_in_open311_format(client, runtime, name):
    body, content_type, words = MALFORMED[name]
    _open311_error(client.post(POST, content=body, headers={"content-type": content_type}), 400, words)
    assert _count(runtime) == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_other_body_types_are_refused(client, runtime):
    r = client.post(POST, content=b"service_code=JT02", headers={"content-type": "text/plain"})
    _open311_error(r, 415, "application/x-www-form-urlencoded", "application/json")
    r = client.post(POST, files={"media": ("a.jpg", b"\xff\xd8", "image/jpeg")}, data={"service_code": "JT02"})
    _open311_error(r, 415)
    assert _count(runtime) == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_api_key_among_the_fields(client, runtime, api_key):
    """GeoReport v2 sends `api_key` as a field of the POST: it authenticates as the header does."""
    del client.headers["X-API-Key"]
    r = client.post(POST, data=_form(runtime, api_key=api_key, source_id="k-1"))
    assert r.status_code == 201, r.text
    r = client.post(POST, content=orjson.dumps(_form(runtime, api_key=api_key, source_id="k-2")),
                    headers={"content-type": "application/json"})
    assert r.status_code == 201, r.text
    with runtime.sessions() as s:
        assert set(s.scalars(select(Event.source))) == {"test-source"}, "the key's source, as with the header"
    _open311_error(client.post(POST, data=_form(runtime, api_key="bsk_forged")), 401, "API key")
    _open311_error(client.post(POST, data=_form(runtime, api_key="")), 401)
    assert _count(runtime) == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_unknown_open311_paths_are_404_in_open311_format(client):
    _open311_error(client.get("/open311/v2/nope.json"), 404)
    _open311_error(client.get("/open311/anything"), 404)
    r = client.delete("/open311/v2/requests.json")
    _open311_error(r, 405)
    assert set(r.headers["allow"].split(", ")) == {"GET", "POST"}
