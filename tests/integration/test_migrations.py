"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bigscreen.db.migrate import upgrade
from bigscreen.db.models import Base
from bigscreen.db.session import make_engine


def test_migrations_match_models(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)  # a second run is a no-op
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_city_database_is_what_preparing_it_gives(database_url, tmp_path, test_config, city_plan, city_templates):
    """The suite's databases are copies of one prepared per test process (tests/conftest.py CityTemplates): a
    copy holds the schema, the mirrored config and the city row for row, as preparing it afresh does."""
    from sqlalchemy import MetaData, select

    from bigscreen.geo.citybuild import store_city
    from bigscreen.process.datadir import prepare_database
    from bigscreen.process.runtime import Runtime
    from bigscreen.process.settings import Settings

    def rows(url: str) -> dict[str, list]:
        engine = make_engine(url)
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            found = {name: sorted(map(tuple, conn.execute(select(table))), key=repr) for name, table in meta.tables.items()}
        engine.dispose()
        return found

    copy_url = f"sqlite:///{tmp_path / 'copy.db'}" if database_url.startswith("sqlite") else database_url + "_copy"
    city_templates.create(copy_url)
    copied = rows(copy_url)
    fresh_url = database_url  # empty: this test does not use `runtime`
    rt = Runtime(Settings(data_dir=tmp_path / "data", database_url=fresh_url), test_config)
    prepare_database(rt)
    with rt.sessions() as session, session.begin():
        store_city(session, city_plan)
    rt.close()
    fresh = rows(fresh_url)
    assert fresh.keys() == copied.keys() and "areas" in fresh and len(fresh["areas"]) > 300
    for table in fresh:
        assert copied[table] == fresh[table], table
