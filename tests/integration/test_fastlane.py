"""The fast lane (bigscreen.api.fastlane) answers as the route it stands for would."""

from __future__ import annotations

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from bigscreen.api import events
from bigscreen.app import create_app
from tests.integration.test_ingest_api import event


def dependency_calls(dependant) -> set:
    calls = set()
    for sub in dependant.dependencies:
        calls.add(sub.call)
        calls |= dependency_calls(sub)
    return calls


def test_each_lane_calls_what_its_route_depends_on(runtime):
    """A dependency added to the route but not to its lane would be skipped for every post."""
    api = create_app(runtime).server
    routes = {(method, r.path): r for r in iter_route_contexts(api.routes) for method in r.methods or ()}
    for key, lane in events.LANES.items():
        route = routes[key]
        wanted = dependency_calls(route.dependant)
        called = {getattr(events, name) for name in lane.__code__.co_names
                  if callable(getattr(events, name, None)) and getattr(events, name) is not route.endpoint}
        assert route.endpoint in {getattr(events, name, None) for name in lane.__code__.co_names}
        assert wanted == called, f"{key}: the route depends on {wanted}, its lane calls {called}"


def test_the_lane_answers_what_the_route_answers(runtime, api_key, monkeypatch):
    """The same requests, once through the lane and once through FastAPI's route: the same status,
    content type and body (but for the ids and times of what was stored)."""
    laned = create_app(runtime).server
    monkeypatch.setattr(events, "LANES", {})
    routed = create_app(runtime).server
    requests = [
        ("one", {"json": event(runtime, "{app}-1")}),
        ("retry", {"json": event(runtime, "{app}-1")}),
        ("batch", {"json": [event(runtime, "{app}-2"), event(runtime, "{app}-3")]}),
        ("fields", {"json": event(runtime, "{app}-4", lat=True, urgency="soon")}),
        ("not json", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
        ("wrong key", {"json": event(runtime, "{app}-5"), "headers": {"X-API-Key": "bsk_wrong"}}),
        ("no key", {"json": event(runtime, "{app}-6"), "headers": {"X-API-Key": ""}}),
        ("bad query", {"json": event(runtime, "{app}-7"), "params": {"x": "\x00"}}),
    ]
    answers = {}
    for name, app in (("laned", laned), ("routed", routed)):
        with TestClient(app) as c:
            c.headers["X-API-Key"] = api_key
            for what, kwargs in requests:
                if "json" in kwargs:
                    kwargs = {**kwargs, "json": _named(kwargs["json"], name)}
                r = c.post("/api/v1/events", **kwargs)
                answers[name, what] = (r.status_code, r.headers.get("content-type"), _shape(r))
    for what, _ in requests:
        assert answers["laned", what] == answers["routed", what], what
    assert [answers["laned", w][0] for w, _ in requests] == [201, 200, 200, 422, 422, 401, 401, 422]


def _named(body, app):
    if isinstance(body, list):
        return [_named(b, app) for b in body]
    return {**body, "source_id": body["source_id"].format(app=app)}


def _shape(r):
    body = r.json()
    stored = ("id", "source_id", "reported_at", "deadline")
    if isinstance(body, dict) and "events" in body:
        return {**body, "events": [{k: v for k, v in e.items() if k not in stored} for e in body["events"]]}
    return {k: v for k, v in body.items() if k not in stored} if isinstance(body, dict) else body
