"""Fixtures that start the real parts: redis-server, PostgreSQL, the app."""

from __future__ import annotations

import os

import pytest
import redis as redis_lib
from tests_support import PASSWORD, create_database, new_database

from bigscreen.configuration.loading import load_config
from bigscreen.live.server import EmbeddedRedis
from bigscreen.process.runtime import Runtime
from bigscreen.process.settings import REPO_CONFIG_DIR, Settings

TEST_GRIDS = 300


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """Argon2id at argon2-cffi's cheapest parameters in the test processes: the same library, hash and
    verify, without ~0.1-0.2 s of work per login (tests that fail a hundred logins took 15-30 s). The
    processes tests start (CLI, serve, demo) hash at the product's cost; test_security checks one."""
    from argon2 import PasswordHasher, profiles

    from bigscreen.auth import passwords

    real = passwords._hasher, passwords._DUMMY
    passwords._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    passwords._DUMMY = passwords._hasher.hash("not a real password")
    yield
    passwords._hasher, passwords._DUMMY = real


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    with EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False) as server:
        yield server


@pytest.fixture
def redis_url(redis_server):
    client = redis_lib.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


# -- Redis Cluster: tests marked `redis_cluster` that take `runtime` run on one Redis and on a real
# 3-master cluster (tests/cluster_support.py), the cluster with SQLite only (the SQL side is the same) --

@pytest.fixture(scope="session")
def redis_cluster_group(tmp_path_factory):
    from cluster_support import RedisClusterGroup

    group = RedisClusterGroup(tmp_path_factory.mktemp("redis-cluster")).start()
    try:
        yield group
    finally:
        group.stop()


@pytest.fixture
def redis_kind(request) -> str:
    """"redis" (one server) or "cluster"; only tests marked `redis_cluster` get "cluster"."""
    return getattr(request, "param", "redis")


def redis_settings(request, redis_kind: str) -> dict:
    """The Settings fields that reach the Redis of `redis_kind`, emptied first."""
    if redis_kind == "cluster":
        group = request.getfixturevalue("redis_cluster_group")
        group.flush()
        return {"redis_cluster": group.nodes}
    return {"redis_url": request.getfixturevalue("redis_url")}


def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker("redis_cluster") and "redis_kind" in metafunc.fixturenames:
        metafunc.parametrize("redis_kind", ["redis", "cluster"], indirect=True)


def pytest_collection_modifyitems(config, items):
    skipped = [item for item in items if getattr(item, "callspec", None) is not None
               and item.callspec.params.get("redis_kind") == "cluster"
               and item.callspec.params.get("database_url", "sqlite") != "sqlite"]
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = [item for item in items if item not in skipped]


from tests_support import PG_BIN, LiveServer, PostgresCluster  # noqa: E402
from tests_support import free_port as _free_port


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster on a random port, owned by the postgres user when run as root."""
    if not (PG_BIN / "initdb").exists():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries missing in CI: .ci/run must install postgresql")
        pytest.skip("PostgreSQL 15 is not installed")
    cluster = PostgresCluster(PG_BIN).create()
    try:
        yield cluster.url
    finally:
        cluster.destroy()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A new database; empty, or already holding the test city where the test uses `runtime`."""
    return new_database(request, tmp_path)


@pytest.fixture(scope="session")
def test_config():
    cfg = load_config(REPO_CONFIG_DIR)
    demo = cfg.city.demo.model_copy(update={"grids": TEST_GRIDS, "population": 300_000})
    cfg.city = cfg.city.model_copy(update={"demo": demo})
    return cfg


@pytest.fixture(scope="session")
def city_plan(test_config):
    from bigscreen.geo.citybuild import build_city

    return build_city(test_config.city, progress=False)


class CityTemplates:
    """The small test city prepared once per test process (migrated, config mirrored, city stored) and copied
    for each test: a SQLite file copied, a PostgreSQL database created from a template database. The same
    rows as preparing each database afresh (test_city_database_is_what_preparing_it_gives), in a tenth of
    the time."""

    def __init__(self, root, config, plan) -> None:
        self.root, self.config, self.plan = root, config, plan
        self._sqlite = None
        self._postgres: dict[str, str] = {}

    def _prepare(self, url: str) -> None:
        from bigscreen.geo.citybuild import store_city
        from bigscreen.process.datadir import prepare_database

        rt = Runtime(Settings(data_dir=self.root / "data", database_url=url), self.config)
        try:
            prepare_database(rt)
            with rt.sessions() as session, session.begin():
                store_city(session, self.plan)
        finally:
            rt.close()

    def create(self, database_url: str) -> None:
        """Creates the database at database_url (which must not exist) holding the test city."""
        import shutil

        from sqlalchemy.engine import make_url

        url = make_url(database_url)
        if url.get_backend_name() == "sqlite":
            if self._sqlite is None:
                self._sqlite = self.root / "city.db"
                self._prepare(f"sqlite:///{self._sqlite}")  # closed: the WAL checkpointed into the file
            shutil.copyfile(self._sqlite, url.database)
            return
        server, name = database_url.rsplit("/", 1)
        template = self._postgres.get(server)
        if template is None:
            template = f"city_template_{os.getpid()}"
            self._prepare(create_database(server, template))
            self._postgres[server] = template
        create_database(server, name, template=template)


@pytest.fixture(scope="session")
def city_templates(tmp_path_factory, test_config, city_plan) -> CityTemplates:
    return CityTemplates(tmp_path_factory.mktemp("city-template"), test_config, city_plan)


@pytest.fixture
def runtime(request, tmp_path, database_url, redis_kind, test_config):
    """A runtime on a fresh database holding a small city (database_url), and an empty Redis (a cluster, for
    tests marked `redis_cluster`, in their second run)."""
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, report_nice=0,  # a loaded suite would starve them
                        **redis_settings(request, redis_kind))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    rt = Runtime(settings, test_config)
    yield rt
    rt.close()


@pytest.fixture
def api_key(runtime):
    from bigscreen.api.auth import create_api_key

    return create_api_key(runtime, "test-source")


@pytest.fixture
def kiosk_token(runtime):
    from bigscreen.auth.kiosk import create_kiosk_token

    return create_kiosk_token(runtime, "测试大屏")




@pytest.fixture
def account(runtime):
    """Creates accounts: account("duty") -> username, with the password PASSWORD."""
    from bigscreen.auth.users import add_user

    made = iter(range(1, 1000))

    def make(role: str, area: str | None = None) -> str:
        username = f"{role}{next(made)}"
        add_user(runtime, username, PASSWORD, role, area)
        return username

    return make


@pytest.fixture
def client(runtime, api_key):
    from fastapi.testclient import TestClient

    from bigscreen.app import create_app

    with TestClient(create_app(runtime).server) as c:
        c.headers["X-API-Key"] = api_key
        yield c


@pytest.fixture
def web(runtime):
    """A browser-like client of the whole app (pages, login, callbacks), redirects not followed."""
    from fastapi.testclient import TestClient

    from bigscreen.app import create_app

    with TestClient(create_app(runtime).server, follow_redirects=False) as c:
        yield c


@pytest.fixture
def live_server(runtime):
    from bigscreen.app import create_app

    server = LiveServer(create_app(runtime).server, _free_port()).start()
    yield server
    server.stop()


# -- a data dir and `bigscreen serve` in processes of their own (fault and browser tests) -----------------

@pytest.fixture
def city_dir(tmp_path, test_config, city_templates):
    """A data dir whose SQLite database holds the small test city, a source's API key and a kiosk token
    (a fault_support.CityDir)."""
    from fault_support import SOURCE, CityDir

    from bigscreen.api.auth import create_api_key
    from bigscreen.auth.kiosk import create_kiosk_token

    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    data_dir.mkdir(parents=True)
    city_templates.create(settings.sqlalchemy_url)
    rt = Runtime(settings, test_config)
    key, token = create_api_key(rt, SOURCE), create_kiosk_token(rt, "故障测试大屏")
    rt.close()
    return CityDir(data_dir, settings.sqlalchemy_url, key, token)


@pytest.fixture
def serve(tmp_path):
    """serve(city, workers=2, env={...}, ready="/api/v1/kpi") starts `bigscreen serve` and waits until `ready`
    answers 200."""
    from fault_support import Served

    started: list[Served] = []

    def start(city, ready: str = "/api/v1/kpi", **kw) -> Served:
        s = Served(city, tmp_path / f"serve-{len(started)}.log", **kw)
        started.append(s)
        return s.wait_ready(path=ready)

    yield start
    for s in started:
        s.stop()
