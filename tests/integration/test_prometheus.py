"""Prometheus /metrics: refused without a token from elsewhere than the allowed addresses; with
it, the ingest figures move by the events posted and the scrape-time figures equal SQL."""

from __future__ import annotations

from pydantic import SecretStr

from bigscreen.jobs.leader import LeaderLock
from bigscreen.wall.publisher import FramePublisher


def _value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the scrape")


def _events(runtime, n: int, prefix: str) -> list[dict]:
    grid = runtime.areas.at_level(runtime.areas.grid_level)[0]
    item = runtime.config.categories[0].items[0].code
    return [{"source_id": f"{prefix}-{i}", "channel": "grid_app", "item": item, "description": "x", "grid": grid.code}
            for i in range(n)]


def test_metrics_refused_without_token_then_counts_the_events_posted(client, web, runtime):
    # a test client's address is no IP ("testclient"): not loopback, so not allowed by default
    assert web.get("/metrics").status_code == 403, "no token configured and not an allowed address"
    runtime.settings.metrics_token = SecretStr("scrape-secret")
    refused = web.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert "bigscreen_" not in refused.text
    bearer = {"Authorization": "Bearer scrape-secret"}
    before = web.get("/metrics", headers=bearer)
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
    events_before = _value(before.text, "bigscreen_ingest_events_total")
    groups_before = _value(before.text, "bigscreen_ingest_group_seconds_count")

    assert client.post("/api/v1/events", json=_events(runtime, 5, "m")).status_code in (200, 201, 207)
    assert client.post("/api/v1/events", json=_events(runtime, 1, "one")[0]).status_code == 201
    LeaderLock(runtime.redis, runtime.keys.leader).try_lead()
    FramePublisher(runtime).publish()

    after = web.get("/metrics", headers=bearer).text
    assert _value(after, "bigscreen_ingest_events_total") - events_before == 6
    assert _value(after, "bigscreen_ingest_group_seconds_count") - groups_before >= 1
    assert _value(after, "bigscreen_frame_build_seconds_count") >= 1
    assert _value(after, "bigscreen_leader_held") == 1
    assert 0 <= _value(after, "bigscreen_frame_age_seconds") < 30
    for colour in ("red", "orange", "yellow", "blue"):
        assert f'bigscreen_open_alerts{{colour="{colour}"}}' in after


def test_metrics_from_an_allowed_address_need_no_token(runtime):
    from fastapi.testclient import TestClient

    from bigscreen.app import create_app

    runtime.settings.metrics_allow = "10.1.2.0/24"
    with TestClient(create_app(runtime).server, client=("10.1.2.7", 5000)) as near, \
            TestClient(create_app(runtime).server, client=("10.1.3.7", 5000)) as far:
        assert near.get("/metrics").status_code == 200
        assert far.get("/metrics").status_code == 403


def test_every_worker_of_serve_reports_its_event_loop_lag(city_dir, serve):
    """`bigscreen serve` with two workers: the workers watch their loops from their start, and a scrape
    sums what they saw (an operator reads one figure for the server)."""
    import time

    import httpx

    served = serve(city_dir, workers=2)
    time.sleep(1.5)  # a few of each worker's timers
    text = httpx.get(served.url + "/metrics", timeout=10).text
    count = _value(text, "bigscreen_event_loop_lag_seconds_count")
    assert count >= 6, "the workers' timers, four a second each"
    assert _value(text, "bigscreen_event_loop_lag_seconds_sum") < 0.5 * count, "an idle server's loops run on time"


def test_two_serves_on_one_data_dir_keep_their_own_figures(city_dir, serve):
    """Scale-out on one host: a second `serve` on the same data dir (another port) used to empty the first's
    metrics directory as it started, and the first's scrapes lost every figure its workers had counted."""
    import httpx

    from bigscreen.configuration.loading import load_config
    from bigscreen.process.settings import REPO_CONFIG_DIR

    first = serve(city_dir, workers=2)
    key = {"X-API-Key": city_dir.api_key}
    grid = httpx.get(first.url + "/api/v1/areas", params={"level": "grid"}, headers=key).json()[0]["code"]
    item = load_config(REPO_CONFIG_DIR).categories[0].items[0].code
    body = [{"source_id": f"two-serves-{i}", "channel": "grid_app", "item": item, "description": "x", "grid": grid}
            for i in range(3)]
    assert httpx.post(first.url + "/api/v1/events", json=body, headers=key).status_code == 200
    assert _value(httpx.get(first.url + "/metrics").text, "bigscreen_ingest_events_total") == 3
    serve(city_dir, workers=2)
    assert _value(httpx.get(first.url + "/metrics").text, "bigscreen_ingest_events_total") == 3, \
        "the second serve's start left the first's figures alone"
