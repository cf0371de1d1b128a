"""Fixtures of the fault tests: a data dir holding the small test city, and the app served by real
`bigscreen serve` processes on it."""

from __future__ import annotations

import pytest
from fault_support import SOURCE, CityDir, Served

from bigscreen.process.runtime import Runtime
from bigscreen.process.settings import Settings


@pytest.fixture
def city_dir(tmp_path, test_config, city_plan) -> CityDir:
    """A data dir whose SQLite database holds the small test city, a source's API key and a kiosk token."""
    from bigscreen.api.auth import create_api_key
    from bigscreen.auth.kiosk import create_kiosk_token
    from bigscreen.geo.citybuild import store_city
    from bigscreen.process.datadir import prepare_database

    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    rt = Runtime(settings, test_config)
    prepare_database(rt)
    with rt.sessions() as session, session.begin():
        store_city(session, city_plan)
    key, token = create_api_key(rt, SOURCE), create_kiosk_token(rt, "故障测试大屏")
    rt.close()
    return CityDir(data_dir, settings.sqlalchemy_url, key, token)


@pytest.fixture
def serve(tmp_path):
    """serve(city, workers=2, env={...}) starts `bigscreen serve` and waits until it answers."""
    started: list[Served] = []

    def start(city: CityDir, **kw) -> Served:
        s = Served(city, tmp_path / f"serve-{len(started)}.log", **kw)
        started.append(s)
        return s.wait_ready()

    yield start
    for s in started:
        s.stop()
