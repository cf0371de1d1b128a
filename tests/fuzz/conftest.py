"""One app for the whole fuzzing module, on the real parts: a redis-server, a SQLite file and the
test city; an API key for a source and a signed-in duty officer."""

from __future__ import annotations

import pytest
import redis as redis_lib
from tests_support import login

from bigscreen.process.settings import Settings


@pytest.fixture(scope="module")
def fuzz_runtime(tmp_path_factory, redis_server, test_config, city_plan):
    from bigscreen.geo.citybuild import store_city
    from bigscreen.process.datadir import prepare_database
    from bigscreen.process.runtime import Runtime

    client = redis_lib.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    data = tmp_path_factory.mktemp("fuzz")
    rt = Runtime(Settings(data_dir=data / "data", database_url=f"sqlite:///{data / 'fuzz.db'}",
                          redis_url=redis_server.url), test_config)
    prepare_database(rt)
    with rt.sessions() as session, session.begin():
        store_city(session, city_plan)
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def fuzz_app(fuzz_runtime):
    from bigscreen.app import create_app

    return create_app(fuzz_runtime).server


@pytest.fixture(scope="module")
def credentials(fuzz_runtime, fuzz_app):
    """Headers per caller: nobody, a source (API key), a duty officer (session cookie and its CSRF token)."""
    from fastapi.testclient import TestClient

    from bigscreen.api.auth import create_api_key
    from bigscreen.auth.sessions import CSRF_COOKIE, SESSION_COOKIE
    from bigscreen.auth.users import add_user

    add_user(fuzz_runtime, "fuzz-duty", "correct horse battery", "duty", None)
    with TestClient(fuzz_app, follow_redirects=False) as web:
        assert login(web, "fuzz-duty").status_code == 303
        session, csrf = web.cookies.get(SESSION_COOKIE), web.cookies.get(CSRF_COOKIE)
    return {
        "nobody": {},
        "source": {"X-API-Key": create_api_key(fuzz_runtime, "fuzz-source")},
        "duty": {"Cookie": f"{SESSION_COOKIE}={session}; {CSRF_COOKIE}={csrf}", "X-CSRFToken": csrf},
    }


@pytest.fixture(scope="module")
def real_values(fuzz_runtime, credentials, fuzz_app) -> dict[str, list]:
    """Values that name real things (items, grids, workers, departments, cases, alerts, whistles,
    and the fixed codes of the lifecycle), so part of the generated cases go past the first
    lookup into the commands. A few cases, an alert and a whistle are made for them to act on."""
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from bigscreen.db.models import Alert, GridWorker
    from bigscreen.domain.lifecycle import (
        ACTIONS,
        MEDIATION_OUTCOMES,
        MEDIATION_RUNGS,
        RESOLUTION_LEVELS,
        WHISTLE_KINDS,
        Role,
    )
    from bigscreen.live.field_work import FIELD_KINDS

    rt = fuzz_runtime
    grids = [a.code for a in rt.areas.at_level(rt.areas.grid_level)]
    red = next(i.code for i in rt.config.items if rt.config.alert_level(i.code) == "red")
    items = sorted({red, "MD01", *(c.items[0].code for c in rt.config.categories)})
    events = []
    with TestClient(fuzz_app) as client:
        client.headers.update(credentials["source"])
        for n, item in enumerate(items):
            r = client.post("/api/v1/events", json={"source_id": f"seed-{n}", "channel": "grid_app", "item": item,
                                                    "description": "种子事件", "grid": grids[n]})
            assert r.status_code == 201, r.text
            events.append(r.json()["id"])
        r = client.post(f"/api/v1/events/{events[0]}/whistles", json={"kind": "emergency", "role": "centre",
                                                                      "departments": ["GAJ", "YJJ"]})
        assert r.status_code == 201, r.text
        whistle = r.json()["id"]
    with rt.sessions() as s:
        workers = list(s.scalars(select(GridWorker.id).limit(20)))
        alerts = list(s.scalars(select(Alert.id)))
    return {
        "event_id": events, "request_id": events, "alert_id": alerts, "whistle_id": [whistle],
        "item": items, "service_code": items, "grid": grids[:20], "worker_id": workers,
        "department": ["GAJ", "YJJ", "XFZD"], "departments": [["GAJ"], ["YJJ", "XFZD"]],
        "action": list(ACTIONS), "role": [r.value for r in Role], "outcome": list(MEDIATION_OUTCOMES),
        "rung": list(MEDIATION_RUNGS), "resolved_level": list(RESOLUTION_LEVELS),
        "kind": list(FIELD_KINDS), "whistle_kind": list(WHISTLE_KINDS), "colour": ["red", "orange", "yellow", "blue"],
        "area": [rt.areas.city.code, *(a.code for a in rt.areas.at_level(1))],
        "point": [(a.code, a.lat, a.lon) for a in rt.areas.at_level(rt.areas.grid_level)[:20]],
    }
